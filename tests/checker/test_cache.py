"""The result cache and the index's facts: keyed by content, invalidated by what they used.

Real files, real rules, the engine in this process (one job), as a user's runs would go.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from ocirace_checker import demand
from ocirace_checker.codes import RULES
from ocirace_checker.engine import RunOptions, RunResult, run
from tests.checker.two_module_project import (
    ALIASED_STORE,
    GUARDED_CALLER,
    RENAME_ALIAS,
    STORE,
    UNGUARDED_CALLER,
)

ALL = frozenset(RULES)

# The caller guards the publish; the same file without its guard (same size, so that only
# the content can tell them apart).
GUARDED = GUARDED_CALLER
UNGUARDED = UNGUARDED_CALLER + "#" * (len(GUARDED) - len(UNGUARDED_CALLER) - 1) + "\n"
assert len(UNGUARDED) == len(GUARDED)
UTIL = RENAME_ALIAS
DB = ALIASED_STORE


#: An ``os.rename`` onto a shared target: unguarded (ORC001), and it fails when the target
#: exists on Windows (ORC003).
DB_FOUND = [("db.py", 7, "ORC001"), ("db.py", 7, "ORC003")]


def tree(root: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for name, text in {"__init__.py": "", **files}.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        paths.append(path)
    # A file read within a timestamp tick of its last change is compared by content on the
    # next run (it could still change in that tick): let the files age past that, so that
    # these tests see the signature at work.
    time.sleep(0.15)
    return paths


def check(paths: list[Path], root: Path, jobs: int = 1) -> RunResult:
    return run(paths, RunOptions(root, ALL, jobs=jobs, cache_dir=root / ".cache"))


def found(result: RunResult) -> list[tuple[str, int, str]]:
    return sorted((r.path.name, f.line, f.code) for r in result.files for f in r.findings)


def test_a_file_touched_without_change_stays_a_hit(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"store.py": STORE})
    cold = check(paths, tmp_path)
    assert found(cold) == [("store.py", 6, "ORC001")]
    later = time.time_ns() + 5_000_000_000
    for path in paths:
        os.utime(path, ns=(later, later))
    warm = check(paths, tmp_path)
    assert (warm.cached, warm.linted) == (len(paths), 0)
    assert found(warm) == found(cold)


def test_a_file_changed_with_the_same_size_and_mtime_is_a_miss(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"store.py": STORE, "cli.py": GUARDED})
    store = paths[1]
    assert found(check(paths, tmp_path)) == []
    stored = json.loads((tmp_path / ".cache" / "results.json").read_text(encoding="utf-8"))
    assert stored["files"][str(paths[2])][0]  # the signature is trusted: the test means it
    before = os.stat(paths[2])
    paths[2].write_text(UNGUARDED, encoding="utf-8")
    os.utime(paths[2], ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(paths[2])
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    warm = check(paths, tmp_path)
    assert found(warm) == [("store.py", 6, "ORC001")]
    # Read again: the changed caller, and the file whose finding rested on it.
    assert warm.cached == len(paths) - 2
    assert store.name == "store.py"


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_guard_removed_in_another_module_brings_the_finding_back(
    tmp_path: Path, jobs: int
) -> None:
    # With two jobs the cold run's four files are linted in worker processes: what each
    # result rested on comes back from there.
    paths = tree(
        tmp_path, {"store.py": STORE, "cli.py": GUARDED, "other.py": "def g():\n    pass\n"}
    )
    assert found(check(paths, tmp_path, jobs)) == []
    assert check(paths, tmp_path).cached == len(paths)
    paths[2].write_text(UNGUARDED + "\n", encoding="utf-8")
    warm = check(paths, tmp_path)
    assert found(warm) == [("store.py", 6, "ORC001")]
    # Only the changed module and the one whose answer rested on it were checked again.
    assert warm.cached == len(paths) - 2
    again = check(paths, tmp_path)
    assert found(again) == [("store.py", 6, "ORC001")]
    assert again.cached == len(paths)


def test_an_alias_changed_in_another_module_is_seen(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"util.py": UTIL, "db.py": DB})
    assert found(check(paths, tmp_path)) == DB_FOUND
    paths[1].write_text("import os\nrename = print\n", encoding="utf-8")
    assert found(check(paths, tmp_path)) == []


def test_a_module_added_later_is_seen_by_the_files_that_named_it(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"db.py": DB})
    assert found(check(paths, tmp_path)) == []  # pkg.util is not in the tree: unknown
    util = tmp_path / "pkg" / "util.py"
    util.write_text(UTIL, encoding="utf-8")
    assert found(check([*paths, util], tmp_path)) == DB_FOUND


def test_a_new_caller_elsewhere_invalidates_the_callee(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"store.py": STORE, "cli.py": GUARDED})
    assert found(check(paths, tmp_path)) == []
    extra = tmp_path / "pkg" / "batch.py"
    extra.write_text(UNGUARDED, encoding="utf-8")
    assert found(check([*paths, extra], tmp_path)) == [("store.py", 6, "ORC001")]


def test_a_warm_run_reads_no_unchanged_module_for_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = tree(tmp_path, {"util.py": UTIL, "db.py": DB, "store.py": STORE, "cli.py": GUARDED})
    check(paths, tmp_path)
    exported: list[str] = []
    real = demand.exports

    def counting(text: str, path: str, *rest: Any) -> object:
        exported.append(Path(path).name)
        return real(text, path, *rest)

    monkeypatch.setattr(demand, "exports", counting)
    paths[2].write_text(DB + "\n", encoding="utf-8")  # db.py changes, util.py does not
    result = check(paths, tmp_path)
    assert found(result) == DB_FOUND
    assert "util.py" not in exported  # its aliases came from index.json, unparsed
    assert result.linted == 1


def test_results_of_a_subset_run_do_not_stand_for_the_whole_tree(tmp_path: Path) -> None:
    # pre-commit checks the changed files only: the guard in cli.py is not in that tree.
    paths = tree(tmp_path, {"store.py": STORE, "cli.py": GUARDED})
    assert found(check(paths[:2], tmp_path)) == [("store.py", 6, "ORC001")]
    assert found(check(paths, tmp_path)) == []
    assert found(check(paths[:2], tmp_path)) == [("store.py", 6, "ORC001")]
