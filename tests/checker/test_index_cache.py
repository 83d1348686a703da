"""``index.json``: the project index's facts about each file, kept across runs."""

from __future__ import annotations

import json
from pathlib import Path

from ocirace_checker.index_cache import IndexCache


def test_facts_round_trip_and_forget_deleted_files(tmp_path: Path) -> None:
    kept, gone = tmp_path / "kept.py", tmp_path / "gone.py"
    kept.write_text("", encoding="utf-8")
    gone.write_text("", encoding="utf-8")
    cache = IndexCache(tmp_path / "c")
    cache.update({str(kept): ["d1", None, {"f": True}], str(gone): ["d2", None, {}]})
    gone.unlink()
    cache.save([])  # neither was checked by this run: only the deleted one is forgotten
    again = IndexCache(tmp_path / "c")
    assert again.facts == {str(kept): ["d1", None, {"f": True}]}


def test_nothing_is_written_when_nothing_was_learnt(tmp_path: Path) -> None:
    IndexCache(tmp_path / "c").save([])
    assert not (tmp_path / "c").exists()


def test_a_corrupt_or_foreign_file_is_ignored(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    directory.mkdir()
    (directory / "index.json").write_text("{not json", encoding="utf-8")
    assert IndexCache(directory).facts == {}
    # Another version of the checker (or build_index's own format) is not read as facts.
    (directory / "index.json").write_text(
        json.dumps({"key": "other", "facts": {"a.py": ["d", None, {}]}}), encoding="utf-8"
    )
    assert IndexCache(directory).facts == {}


def test_an_unwritable_directory_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory should be", encoding="utf-8")
    cache = IndexCache(blocker / "c")
    cache.update({"a.py": ["d", None, {}]})
    cache.save(["a.py"])  # the results cache reports the directory once
