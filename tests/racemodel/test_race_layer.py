"""The race model on the real Windows filesystem layer, with the go-containerregistry port.

The other tests drive the model through a small stand-in layer; this one installs it on the
simulation the plugin uses (the ``winfs`` fixture) and runs ``examples/oci_layout.py``: the
port of ``layout.WriteImage`` fails with WinError 5 in every run, the fixed writer never.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pytest_ocirace.racemodel.model import RaceModel
from pytest_ocirace.racemodel.sync import install

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "oci_layout.py")


@pytest.fixture(scope="module")
def oci_layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ocirace_example_oci_layout", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model(winfs: Any) -> Iterator[RaceModel]:
    if isinstance(winfs.observer, RaceModel):  # the plugin already wired the model in
        yield winfs.observer
        return
    instrumentation = install()
    race_model = RaceModel(instrumentation.tracker)
    winfs.observer = race_model
    try:
        yield race_model
    finally:
        winfs.observer = None
        instrumentation.uninstall()


# Races on purpose: declared, so that the suite's summary does not count them as alarms.
@pytest.mark.ocirace(expect_races=True)
def test_write_image_fails_in_every_run(oci_layout: ModuleType, model: RaceModel) -> None:
    for run in range(5):
        with pytest.raises(PermissionError) as caught:
            oci_layout.write_image(f"C:\\layouts\\{run}", oci_layout.example_image())
        assert caught.value.winerror == 5
        assert model.note_escaped(caught.value)
    rules = {r.rule for r in model.races}
    assert "concurrent-publish" in rules
    assert all(r.identical for r in model.races if r.rule == "concurrent-publish")


def test_fixed_writer_passes_in_every_run(oci_layout: ModuleType, model: RaceModel) -> None:
    for run in range(5):
        root = f"C:\\layouts\\{run}"
        oci_layout.write_image_fixed(root, oci_layout.example_image())
        blobs = os.listdir(os.path.join(root, "blobs", "sha256"))
        assert len(blobs) == 5  # 3 distinct layers + config + manifest, no temp left
    assert model.unhandled == []


def _pathlib_publish(target: str, data: bytes, index: int) -> None:
    temp = Path(f"{target}.{index}.tmp")
    temp.write_bytes(data)
    temp.replace(target)


@pytest.mark.ocirace(expect_races=["concurrent-publish"])
@pytest.mark.parametrize("switch_interval", [None, 1e-6])
def test_pathlib_writers_fail_and_reference_writer_passes_in_every_run(
    model: RaceModel, switch_interval: float | None
) -> None:
    from pytest_ocirace import write_blob

    old = sys.getswitchinterval()
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    try:
        outcomes = []
        for run in range(10):
            os.makedirs(f"C:\\runs\\{run}", exist_ok=True)
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = [
                    pool.submit(_pathlib_publish, f"C:\\runs\\{run}\\blob", b"x", i)
                    for i in range(2)
                ]
            errors = [f.exception() for f in futures]
            outcomes.append(sorted(getattr(e, "winerror", None) or 0 for e in errors))
            digest = "sha256:" + hashlib.sha256(b"x").hexdigest()
            with ThreadPoolExecutor(max_workers=2) as pool:
                for f in [pool.submit(write_blob, f"C:\\runs\\{run}", digest, b"x")] * 2:
                    f.result()
    finally:
        sys.setswitchinterval(old)
    assert outcomes == [[0, 5]] * 10
    assert sum(1 for r in model.races if r.winerror == 5) == 10


def test_report_frames_are_filtered_while_the_simulation_is_active(winfs: Any) -> None:
    # Regression: the filter used os.path, which pyfakefs patches inside a simulated test
    # (Windows separators, the fake working directory): plugin frames leaked into reports.
    import threading

    from pytest_ocirace.racemodel import report

    frames = [
        (threading.__file__, 1, "run"),
        (report.__file__, 1, "format_race"),
        (__file__, 10, "test"),
    ]
    assert report.user_frames(frames) == [(__file__, 10, "test")]
