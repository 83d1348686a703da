"""``os.py``'s Python functions captured before the simulation run on the fake disk inside it."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from pytest_ocirace.fakefs.filesystem import simulate

#: Taken at import, as a library takes them: none of these is a module attribute that
#: pyfakefs would swap.
CAPTURED = {
    "makedirs": functools.partial(os.makedirs, exist_ok=True),
    "removedirs": os.removedirs,
    "renames": os.renames,
    "walk": os.walk,
}
REAL_CODE = {name: getattr(os, name).__code__ for name in ("makedirs", "removedirs", "renames")}


def test_captured_os_functions_reach_the_fake_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the simulated working directory is this one, Windows-spelled
    with simulate():
        CAPTURED["makedirs"]("C:\\data\\a\\b")
        CAPTURED["makedirs"]("C:\\data\\a\\b")  # exist_ok, as the partial says
        with open("C:\\data\\a\\b\\f.txt", "w", encoding="utf-8") as handle:
            handle.write("x")
        CAPTURED["renames"]("C:\\data\\a\\b\\f.txt", "C:\\data\\moved\\f.txt")
        assert not os.path.exists("C:\\data\\a")  # emptied, so removed
        found = [(top, files) for top, _dirs, files in CAPTURED["walk"]("C:\\data")]
        assert found == [("C:\\data", []), ("C:\\data\\moved", ["f.txt"])]
        os.remove("C:\\data\\moved\\f.txt")
        CAPTURED["removedirs"]("C:\\data\\moved")
        assert not os.path.exists("C:\\data")
    assert list(tmp_path.iterdir()) == []  # nothing on the real disk


def test_the_machinery_keeps_the_real_functions_and_the_code_is_put_back(
    tmp_path: Path,
) -> None:
    # pyfakefs' own os.walk of a real directory (add_real_directory) must stay real.
    namespace = {"__name__": "pyfakefs.probe", "makedirs": CAPTURED["makedirs"]}
    exec("def make(path):\n    makedirs(path)\n", namespace)  # a module stand-in
    with simulate():
        namespace["make"](str(tmp_path / "real" / "dir"))  # type: ignore[operator]
    assert (tmp_path / "real" / "dir").is_dir()
    assert {name: getattr(os, name).__code__ for name in REAL_CODE} == REAL_CODE
    assert "_ocirace_os_function" not in vars(os)
