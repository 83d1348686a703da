r"""``os.path.expanduser`` inside the simulation, as Windows' ``ntpath.expanduser`` answers.

pyfakefs' Windows ``expanduser`` turns every ``/`` of its argument into ``\``, also when
the path has no ``~`` to expand. Windows leaves such a path as it was given, and replaces
only a leading ``~`` or ``~user`` with the home folder, keeping the rest of the path as
spelled. Code that expands every configured path (cookiecutter's ``_expand_path`` over its
config values, replay and template folders) then handed back ``\home\example\templates``
for ``/home/example/templates``, or ``\tmp\...\replay`` for a session fixture's
``/tmp/.../replay``, and its tests, which compare with the value they gave, failed where
Windows passes them.

While a simulation runs, ``expanduser`` is ``ntpath.expanduser``'s rule: a path that does
not start with ``~`` comes back unchanged; ``~`` and ``~user`` become the home folder
(``USERPROFILE`` when the test sets it, as Windows reads it first; otherwise pyfakefs'
``C:\Users\<user>``) followed by the rest of the path as given. ``Path.expanduser()`` and
``Path.home()`` take the same home folder: pyfakefs' ``pathlib`` ignored ``USERPROFILE``,
and cookiecutter's test (which sets it, for Windows) compared the two.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import types
from typing import Any

from pyfakefs.fake_path import FakePathModule
from pyfakefs.fake_pathlib import FakePath

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["install"]

#: The real ``os``, where pyfakefs does not look: the environment is not faked, and the
#: host's home folder names the simulated user, as pyfakefs names it.
_REAL = types.SimpleNamespace(environ=os.environ, expanduser=os.path.expanduser)


def install(patches: ClassPatches) -> None:
    """Give the fake ``os.path`` and ``pathlib`` Windows' rule until ``patches`` are undone."""
    patches.set(FakePathModule, "expanduser", _expanduser)
    patches.set(FakePath, "_expand_user", classmethod(_expand_user))


def _expand_user(cls: type, path: Any) -> str:
    """``FakePath``'s helper for ``expanduser()`` and ``home()``."""
    return _expand(os.fspath(path))


def _expanduser(self: FakePathModule, path: Any) -> Any:
    value = os.fspath(path)
    if isinstance(value, bytes):
        return os.fsencode(_expand(os.fsdecode(value)))
    return _expand(value)


def _home() -> str:
    r"""``USERPROFILE``, or ``C:\Users\<user>`` for the host's user, as pyfakefs names it."""
    profile: str | None = _REAL.environ.get("USERPROFILE")
    if profile:
        return profile
    host_home: str = _REAL.expanduser("~")
    return "C:\\Users\\" + posixpath.basename(host_home.rstrip("/"))


def _expand(path: str) -> str:
    if not path.startswith("~"):
        return path
    end, length = 1, len(path)
    while end < length and path[end] not in "\\/":
        end += 1
    home = _home()
    if end != 1:  # ~user: a sibling of the current user's home, as ntpath guesses it
        user = path[1:end]
        if user != ntpath.basename(home):
            home = ntpath.join(ntpath.dirname(home), user)
    return home + path[end:]
