"""The one simulation in force in this process, as the stand-ins beside pyfakefs ask it.

pyfakefs runs one patcher at a time, so one holder per process is exact. The process-start
and C-library guards (``boundaries.py``) and the ``io.FileIO`` stand-in (``fileio.py``) are
built once per process, because building them costs more than the rest of a test's setup;
they ask this holder at call time instead of closing over one simulation. ``simulate()``
fills it when a simulation starts and the patches undo it when it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["IN_FORCE", "InForce", "enter"]


def _never(*args: object) -> bool:
    return False


class InForce:
    """The fake filesystem in force, and the two questions the stand-ins ask of it."""

    def __init__(self) -> None:
        self.fs: Any = None
        #: Whether the fake filesystem is in force right now: pyfakefs pauses it while
        #: pytest writes reports, and nothing the plugin machinery does then is stopped.
        self.is_active: Callable[[], bool] = _never
        #: Whether a descriptor number belongs to the fake filesystem.
        self.owns_fd: Callable[[int], bool] = _never

    def is_active_now(self) -> bool:
        return self.is_active()

    def owns_fd_now(self, fd: int) -> bool:
        return self.owns_fd(fd)


IN_FORCE = InForce()


def enter(
    patches: ClassPatches, fs: Any, is_active: Callable[[], bool], owns_fd: Callable[[int], bool]
) -> None:
    """Make ``fs`` the simulation in force until ``patches`` are undone."""
    patches.set(IN_FORCE, "fs", fs)
    patches.set(IN_FORCE, "is_active", is_active)
    patches.set(IN_FORCE, "owns_fd", owns_fd)
