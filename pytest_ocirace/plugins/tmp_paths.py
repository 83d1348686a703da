r"""``tmp_path`` inside the simulation is a Windows path, as pytest gives it on Windows.

pytest makes ``tmp_path`` on the real disk before the simulation starts (it numbers and
cleans it up there), so the value was the host's ``PosixPath('/tmp/pytest-of-u/.../t0')``.
Inside the simulation the same directory is ``C:\tmp\pytest-of-u\...\t0``: everything the
code under test computes from it (``os.getcwd()`` after ``chdir``, ``os.path.abspath``,
``find_dotenv``, a lock's path in a log line) is spelled that way, and a test comparing it
with ``str(tmp_path / ".env")`` failed where on Windows both sides would be Windows
spellings (python-dotenv's ``find_dotenv`` tests, filelock's log messages).

So once the simulation has started, the ``tmp_path`` fixture's value becomes the Windows
path of the same directory, made by the simulation's ``pathlib`` (a ``WindowsPath``): for
the test and for every fixture set up after it. pytest still creates, keeps and removes
the real directory as before (its own teardown holds the real path). ``tmpdir`` (a
``py.path.local``, POSIX by nature) keeps the real spelling. The fixture's value is swapped
through :class:`pytest.FixtureDef`'s ``cached_result``, the one place pytest reads it from.
"""

from __future__ import annotations

import ntpath
import os
import sys
from typing import Any

import pytest

__all__ = [
    "RESPELLED",
    "remember",
    "remember_wider_folder",
    "respell",
    "wider_folders",
    "windows_spelling",
]

#: The fixtures whose value is respelled inside the simulation.
RESPELLED = ("tmp_path",)
#: Fixtures computed from them that keep the real spelling (set up before the swap).
KEPT_REAL = ("tmpdir",)

_DEFS = pytest.StashKey[list[Any]]()
_WIDER = pytest.StashKey[dict[str, None]]()


def remember(fixturedef: Any, request: pytest.FixtureRequest) -> None:
    """Note a set-up ``tmp_path`` fixture of the test (from ``pytest_fixture_setup``)."""
    if fixturedef.argname in RESPELLED:
        request.node.stash.setdefault(_DEFS, []).append(fixturedef)


def windows_spelling(path: str | os.PathLike[str], drive: str) -> str:
    r"""``/tmp/x`` as Windows names the same fake directory: ``C:\tmp\x``."""
    text = os.fspath(path)
    if ntpath.splitdrive(text)[0]:
        return text
    return drive + text.replace("/", "\\")


def respell(item: pytest.Item, drive: str) -> None:
    """Make the test's ``tmp_path`` the Windows path of its directory (simulation running).

    ``pathlib`` in ``sys.modules`` is the simulation's while it runs, so its ``Path`` makes
    the same ``WindowsPath`` a test's own ``Path(...)`` would.
    """
    path_class = sys.modules["pathlib"].Path
    for fixturedef in item.stash.get(_DEFS, []):
        cached = fixturedef.cached_result
        if cached is None or cached[2] is not None:
            continue
        value = cached[0]
        if not isinstance(value, os.PathLike):
            continue
        windows = path_class(windows_spelling(value, drive))
        fixturedef.cached_result = (windows, cached[1], None)
        funcargs = getattr(item, "funcargs", None)
        if isinstance(funcargs, dict) and funcargs.get(fixturedef.argname) is value:
            funcargs[fixturedef.argname] = windows


def remember_wider_folder(fixturedef: Any, request: pytest.FixtureRequest) -> None:
    """Note a real folder a fixture of a wider scope returned (from ``pytest_fixture_setup``).

    A session or module fixture makes its folder on the real disk before any simulated
    test that uses it starts (cookiecutter's ``user_dir``: ``tmp_path_factory.mktemp``).
    The plugin shows such folders as real trees (``plugins/fakefs._real_trees``). Showing
    their parents whole (the host's temp directory, ``--basetemp``) was measured and taken
    back: they hold every ``tmp_path`` of the session, a cost per test that grew with it.
    """
    if fixturedef.scope == "function":
        return
    cached = fixturedef.cached_result
    if cached is None or cached[2] is not None:
        return
    value = cached[0]
    if not isinstance(value, str | os.PathLike):
        return
    text = os.fspath(value)
    if isinstance(text, str) and os.path.isabs(text) and os.path.isdir(text):
        request.config.stash.setdefault(_WIDER, {})[text] = None


def wider_folders(config: pytest.Config) -> list[str]:
    """The real folders fixtures of a wider scope returned, in the order they were made."""
    found: dict[str, None] = config.stash.get(_WIDER, {})
    return list(found)
