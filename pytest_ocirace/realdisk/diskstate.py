"""What the real disk cannot tell us: which participant holds which name open.

Linux lets anybody replace or delete an open file; Windows does not. So the coordinator
keeps the handles its participants opened (by pid and descriptor) and asks the disk for the
rest (exists, directory, read-only). A handle whose close we missed (closed by C code, or by
a process that died) is checked against ``/proc/<pid>/fd/<fd>`` before it refuses anything,
so a stale entry never produces a Windows error that Windows would not raise.

A rename in flight in another process is not part of the state here: whether two
processes' renames overlap in time is luck, and the race model decides that case the same
way in every run (an unordered pair), as it does for threads.
"""

from __future__ import annotations

import os
import stat
import types
from collections.abc import Callable
from dataclasses import dataclass

from pytest_ocirace.winrules.decisions import ABSENT, NameState

__all__ = ["DiskState", "Handle"]

_PROC = os.path.isdir("/proc/self/fd")

#: The real functions the coordinator asks the disk with, taken at import. It runs as a
#: thread of the test's own process, where the test may patch ``os`` itself
#: (``mock.patch("os.stat", fake)``: flufl.lock's ``test_unexpected_st_nlink``); a lookup
#: at call time got the test's fake, and the coordinator failed on its answer.
_REAL = types.SimpleNamespace(stat=os.stat, lstat=os.lstat, scandir=os.scandir)
#: The state of an existing name nobody holds open, per (is_dir, read_only, has_entries):
#: a NamedTuple is immutable, and building one per ``lstat`` was a tenth of the table's cost.
_UNHELD: dict[tuple[bool, bool, bool], NameState] = {}


@dataclass
class Handle:
    """One open descriptor of one participant, on one name."""

    number: int
    pid: int
    fd: int
    path: str
    share_delete: bool = False
    device: int = 0
    inode: int = 0

    def alive(self) -> bool:
        """Whether the process still has this very file open at that descriptor."""
        if not _PROC:
            return True
        try:
            info = _REAL.stat(f"/proc/{self.pid}/fd/{self.fd}")
        except OSError:
            return False
        return not self.inode or (info.st_dev, info.st_ino) == (self.device, self.inode)


class DiskState:
    """Open handles by name and by (pid, fd); everything else is read from the disk.

    ``gone`` is told of every handle found closed without its close being reported (its
    process closed it and the report has not come yet, or it died, or the descriptor now
    names another file): the race model holds the same handle, and must end it too.
    """

    def __init__(self, gone: Callable[[Handle], None] | None = None) -> None:
        self._gone = gone
        self._numbers = 0
        self.by_fd: dict[tuple[int, int], Handle] = {}
        self.by_path: dict[str, dict[int, Handle]] = {}

    def reserve(self) -> int:
        """A new handle number (given at the announcement, used once the open succeeded)."""
        self._numbers += 1
        return self._numbers

    def opened(
        self, pid: int, fd: int, path: str, *, number: int | None = None, share_delete: bool = False
    ) -> Handle:
        stale = self.by_fd.get((pid, fd))
        if stale is not None:
            self._lost(stale)
        handle = Handle(self.reserve() if number is None else number, pid, fd, path, share_delete)
        try:
            info = _REAL.stat(path)
            handle.device, handle.inode = info.st_dev, info.st_ino
        except OSError:
            pass
        self.by_fd[(pid, fd)] = handle
        self.by_path.setdefault(path, {})[handle.number] = handle
        return handle

    def closed(self, pid: int, fd: int) -> Handle | None:
        handle = self.by_fd.pop((pid, fd), None)
        if handle is not None:
            names = self.by_path.get(handle.path)
            if names is not None:
                names.pop(handle.number, None)
                if not names:
                    del self.by_path[handle.path]
        return handle

    def of_process(self, pid: int) -> list[Handle]:
        return [h for (p, _fd), h in self.by_fd.items() if p == pid]

    def moved(self, source: str, target: str) -> None:
        """Handles follow their file through a rename (as Windows handles do)."""
        moving = self.by_path.pop(source, None)
        if moving:
            for handle in moving.values():
                handle.path = target
            self.by_path.setdefault(target, {}).update(moving)

    def _live(self, path: str) -> list[Handle]:
        handles = list(self.by_path.get(path, {}).values())
        live = []
        for handle in handles:
            if handle.alive():
                live.append(handle)
            else:
                self._lost(handle)
        return live

    def _lost(self, handle: Handle) -> None:
        """``handle`` is closed although nobody said so: forget it, and tell ``gone``.

        A close is reported with the process's next message (``Client.defer``), so between
        the real close and its report another process's operation on the name finds the
        descriptor closed here. Forgotten only here, the handle stayed open in the race
        model for ever (the late report found nothing to close), and the next holder of a
        lock file was refused its release with 32: a false ``remove-open-file``.
        """
        self.closed(handle.pid, handle.fd)
        if self._gone is not None:
            self._gone(handle)

    def state(self, path: str) -> NameState:
        try:
            info = _REAL.lstat(path)
        except OSError:
            return ABSENT
        is_dir = stat.S_ISDIR(info.st_mode)
        has_entries = False
        if is_dir:
            try:
                with _REAL.scandir(path) as entries:
                    has_entries = any(True for _ in entries)
            except OSError:
                pass
        read_only = not is_dir and not info.st_mode & stat.S_IWUSR
        if path not in self.by_path:  # nobody holds it (the common case): nothing to count
            key = (is_dir, read_only, has_entries)
            unheld = _UNHELD.get(key)
            if unheld is None:
                unheld = _UNHELD[key] = NameState(
                    exists=True, is_dir=is_dir, read_only=read_only, has_entries=has_entries
                )
            return unheld
        handles = self._live(path)
        return NameState(
            exists=True,
            is_dir=is_dir,
            read_only=read_only,
            open_handles=sum(not h.share_delete for h in handles),
            shared_handles=sum(h.share_delete for h in handles),
            has_entries=has_entries,
        )
