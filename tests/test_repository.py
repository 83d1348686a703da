"""The repository's own text: what a merge can leave behind and nothing else catches.

Conflict markers inside a docstring or a Markdown table break nothing that runs: three
landed on main (a module docstring, docs/architecture.md, docs/processes.md) and every
check passed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_MARKER = re.compile(rb"^(<{7}|>{7})( |$)|^={7}$", re.M)
_TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yaml", ".yml", ".json", ""}


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
    ).stdout
    return [ROOT / name.decode() for name in listed.split(b"\0") if name]


def test_no_merge_conflict_markers_in_tracked_files() -> None:
    found = []
    for path in _tracked_files():
        if path.suffix not in _TEXT_SUFFIXES or not path.is_file():
            continue
        data = path.read_bytes()
        for match in _MARKER.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(ROOT)}:{line}")
    assert not found, "merge conflict markers left in: " + ", ".join(found)
