"""The heuristic that finds modules which chose their platform at import."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ocirace.fakefs.platform_scan import import_time_choice

CHOOSES = {
    "branch": ("import sys\nif sys.platform == 'win32':\n    X = 1\n", 2),
    "alias": ("import os\nLock = 'W' if os.name == 'nt' else 'U'\n", 2),
    "guarded_import": ("try:\n    import fcntl\nexcept ImportError:\n    fcntl = None\n", 2),
    "ctypes": (
        "import sys\ntry:\n    from ctypes import windll\nexcept ImportError:\n    pass\n",
        3,
    ),
    "platform_call": ("import platform\nWIN = platform.system() == 'Windows'\n", 2),
    "class_body": ("import sys\nclass A:\n    win = sys.platform == 'win32'\n", 3),
    "decorator": (
        "import sys, functools\n@functools.lru_cache(maxsize=sys.platform == 'x')\n"
        "def f():\n    pass\n",
        2,
    ),
    "read_beats_import": (
        "try:\n    import fcntl\nexcept ImportError:\n    pass\nimport sys\n"
        "if sys.platform != 'win32':\n    pass\n",
        6,
    ),
}

DOES_NOT = {
    "call_time": "import sys\ndef f():\n    return sys.platform == 'win32'\n",
    "plain_import": "import fcntl\n",
    "unrelated": "import os\nX = os.sep\n",
    "method": "import os\nclass A:\n    def f(self):\n        return os.name\n",
}


@pytest.mark.parametrize("name", sorted(CHOOSES))
def test_choices_made_at_import_are_found(tmp_path: Path, name: str) -> None:
    source, line = CHOOSES[name]
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    choice = import_time_choice(str(path))
    assert choice is not None
    assert choice.line == line
    assert choice.describe().startswith(f"{name}.py:{line}: ")


@pytest.mark.parametrize("name", sorted(DOES_NOT))
def test_call_time_checks_are_not_choices(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.py"
    path.write_text(DOES_NOT[name])
    assert import_time_choice(str(path)) is None


def test_missing_and_non_python_files_are_none(tmp_path: Path) -> None:
    assert import_time_choice(None) is None
    assert import_time_choice(str(tmp_path / "gone.py")) is None
    assert import_time_choice("<frozen os>") is None
