"""What the fake ``os`` says it can do, as Windows' ``os`` says it.

Code asks before it passes a keyword, the way ``os``'s documentation shows:
``os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)`` (pid
3.0.4, in every ``PidFile``). pyfakefs answers these questions with the host's sets (on
Linux ``access`` supports effective ids), while its Windows-mode ``access`` raises
``NotImplementedError`` for any ``effective_ids``, even ``False``, which real Windows
accepts: 36 of pid's 41 tests failed with "access: effective_ids unavailable on this
platform". On Windows ``supports_effective_ids`` and ``supports_dir_fd`` are empty,
``supports_follow_symlinks`` holds ``stat``, and ``supports_fd`` holds ``stat`` and
``truncate`` (from 3.13 ``chmod`` joins both, as Windows gained ``fchmod``/``lchmod``);
``access`` refuses only ``effective_ids=True``, ``follow_symlinks=False`` and ``dir_fd``,
and answers as ``nt.access`` does: the name exists (any failure to read its attributes is
False), and for ``W_OK`` a file has no read-only attribute (a folder's is ignored); ``R_OK``
and ``X_OK`` ask nothing more (Windows has no execute bit). pyfakefs checked the POSIX
bits, except for root, who could write read-only files and execute nothing:
``os.access(program, os.X_OK)``, ``shutil.which``'s test, was False for every file.
"""

from __future__ import annotations

import os
import stat as _stat
import sys
from collections.abc import Callable
from typing import Any

from pyfakefs.fake_os import FakeOsModule

__all__ = ["plan"]

_CHMOD_TOO = sys.version_info >= (3, 13)
_W_OK = os.W_OK


def _supports_fd(self: Any) -> set[Callable[..., Any]]:
    return {self.stat, self.truncate, *((self.chmod,) if _CHMOD_TOO else ())}


def _supports_follow_symlinks(self: Any) -> set[Callable[..., Any]]:
    return {self.stat, *((self.chmod,) if _CHMOD_TOO else ())}


def _empty(self: Any) -> set[Callable[..., Any]]:
    return set()


def _windows_access(
    self: Any,
    path: Any,
    mode: int,
    *,
    dir_fd: int | None = None,
    effective_ids: bool = False,
    follow_symlinks: bool = True,
) -> bool:
    """``os.access`` as ``nt.access`` answers it: from the file's attributes (its ``stat``)."""
    # CPython's Windows build refuses what it cannot do, and only that.
    for name, refused in (
        ("dir_fd", dir_fd is not None),
        ("effective_ids", bool(effective_ids)),
        ("follow_symlinks", not follow_symlinks),
    ):
        if refused:
            raise NotImplementedError(f"access: {name} unavailable on this platform")
    try:
        found = self.stat(path)  # the fake os' stat, locked like every other of its calls
    except OSError:
        return False
    if mode & _W_OK and not _stat.S_ISDIR(found.st_mode):
        return bool(found.st_mode & _stat.S_IWRITE)
    return True


_windows_access.__name__ = "access"


def plan() -> list[tuple[object, str, object]]:
    """The class patches."""
    return [
        (FakeOsModule, "supports_effective_ids", property(_empty)),
        (FakeOsModule, "supports_dir_fd", property(_empty)),
        (FakeOsModule, "supports_follow_symlinks", property(_supports_follow_symlinks)),
        (FakeOsModule, "supports_fd", property(_supports_fd)),
        (FakeOsModule, "access", _windows_access),
    ]
