"""Race records rendered for people (report section, summary) and for CI (JSON + schema)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

from pytest_ocirace.racemodel import report
from pytest_ocirace.racemodel.model import Race, RaceGroup

from .race_driver import Driver, simulated

HERE = os.path.abspath(__file__)
DRIVER = os.path.join(os.path.dirname(HERE), "race_driver.py")


def write_layer(d: Driver, data: bytes) -> None:
    d.publish("blobs/sha256/abc", data)


def racy_layers(*contents: bytes) -> tuple[list[Race], list[BaseException]]:
    errors: list[BaseException] = []
    with simulated() as (d, model):
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(write_layer, d, c) for c in contents]
        for f in futures:
            if f.exception() is not None:
                errors.append(f.exception())  # type: ignore[arg-type]
                model.note_escaped(f.exception())  # type: ignore[arg-type]
        return model.races, errors


def test_text_names_target_both_operations_user_frames_error_and_fix() -> None:
    races, errors = racy_layers(b"same", b"same")
    assert len(errors) == 1
    text = report.format_races(races, exclude=[DRIVER])
    assert "race on blobs/sha256/abc (concurrent-publish)" in text
    # The temp names are shown without the directory they share with the raced name.
    assert text.count("replace '.../abc.") == 2
    assert text.count(" -> '.../abc' in thread ") == 2
    assert "(work item " in text
    assert f"{HERE}:" in text
    assert "in write_layer" in text
    assert 'd.publish("blobs/sha256/abc", data)' in text
    assert "threading.py" not in text
    assert "pytest_ocirace" not in text.split("fix")[0]
    assert "identical (sha256 " in text
    assert "[WinError 5] Access is denied, raised in the second operation and NOT handled" in text
    assert "write_blob" in text
    assert "docs/races.md" in text


def test_different_bytes_are_reported_as_a_lost_update() -> None:
    races, _ = racy_layers(b"one", b"two")
    text = report.format_race(races[0])
    assert "DIFFERENT" in text
    assert "lost update on every OS" in text


def racy_groups(*contents: bytes) -> list[RaceGroup]:
    with simulated() as (d, model):
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(write_layer, d, c) for c in contents]
        for f in futures:
            if f.exception() is not None:
                model.note_escaped(f.exception())  # type: ignore[arg-type]
        return list(model.groups.values())


def test_json_document_validates_against_the_published_schema(tmp_path: Path) -> None:
    groups = racy_groups(b"one", b"two")
    entries = [report.group_to_dict(g, "tests/test_x.py::test_a", exclude=[DRIVER]) for g in groups]
    doc = report.build_document(entries)
    jsonschema.validate(doc, report.JSON_SCHEMA)
    assert doc["summary"] == {
        "races": 1,
        "groups": 1,
        "unhandled": 1,
        "lost_updates": 1,
        "expected": 0,
        "tests_affected": 1,
        "tests": ["tests/test_x.py::test_a"],
    }
    frames = doc["groups"][0]["sample"]["second"]["frames"]
    assert frames
    assert all(f["file"] == HERE for f in frames)
    path = tmp_path / "sub" / "races.json"
    report.write_json(path, doc)
    assert json.loads(path.read_text()) == doc
    assert list(path.parent.iterdir()) == [path]


def test_worker_documents_merge_on_the_controller() -> None:
    (group,) = racy_groups(b"a", b"a")
    one = report.build_document([report.group_to_dict(group, "t.py::a")])
    two = report.build_document([report.group_to_dict(group, "t.py::b")])
    again = report.build_document([report.group_to_dict(group, "t.py::b", sample=False)])
    merged = report.merge_documents([one, two, again, report.build_document([])])
    jsonschema.validate(merged, report.JSON_SCHEMA)
    assert merged["summary"]["races"] == 3
    assert merged["summary"]["groups"] == 2  # t.py::b's two entries are one group
    assert merged["summary"]["tests"] == ["t.py::a", "t.py::b"]
    lines = report.summary_lines(merged)
    assert lines[0].startswith("3 race(s) in 2 test(s)")
    assert any("t.py::b: 2 race(s) in 1 group(s) (concurrent-publish)" in line for line in lines)
    assert report.summary_lines(report.build_document([])) == ["no races found"]


def test_an_old_report_version_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="version 1; this version reads version 2"):
        report.merge_documents([{"schema": report.SCHEMA_ID, "version": 1, "races": []}])


def test_merging_a_foreign_document_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a pytest-ocirace race report"):
        report.merge_documents([{"schema": "something-else"}])


def test_user_frames_drop_stdlib_plugin_and_pytest_frames() -> None:
    frames = [
        (threading.__file__, 1, "run"),
        (report.__file__, 1, "format_race"),
        (pytest.__file__, 1, "main"),
        ("<frozen runpy>", 1, "_run"),
        (HERE, 10, "test"),
        (jsonschema.__file__, 5, "validate"),
    ]
    assert report.user_frames(frames) == [(HERE, 10, "test"), (jsonschema.__file__, 5, "validate")]


def _flood(items: int) -> tuple[int, int, int, int]:
    """``items`` work items publishing onto one name: a race each; (races, kept, groups, bytes)."""
    with simulated() as (d, model):

        def item(_index: int) -> None:
            with contextlib.suppress(OSError):  # injected: the point is the report's size
                d.publish("blob", b"x")

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(item, range(items)))
        groups = list(model.groups.values())
        text = report.format_groups(groups)
        doc = report.build_document([report.group_to_dict(g, "t.py::flood") for g in groups])
        jsonschema.validate(doc, report.JSON_SCHEMA)
        return model.total, len(model.races), len(groups), len(text) + len(json.dumps(doc))


def test_a_flood_of_races_costs_a_bounded_report_and_bounded_memory() -> None:
    small = _flood(50)
    large = _flood(5000)
    assert small[0] == 49
    assert large[0] == 4999  # every race counted...
    assert large[1] == 1000  # ...but only MAX_KEPT records kept
    assert small[2] == large[2] == 1  # one pair of code sites
    # The same report, whatever the number of races (only the digits of counts grow).
    assert large[3] < small[3] + 64
    assert large[3] < 6000


def test_the_schema_and_the_marker_accept_exactly_the_model_rules() -> None:
    """One list of rule names: the JSON schema's enum, ``expect_races`` and the model's."""
    from pytest_ocirace.racemodel import RULES, model

    group = report.JSON_SCHEMA["properties"]["groups"]["items"]
    assert group["properties"]["rules"]["items"]["enum"] == list(RULES)
    assert set(model._EXPLAIN) == set(RULES)
