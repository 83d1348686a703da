"""The handle table: who holds which file open, with which access and sharing.

pyfakefs knows only that a file is "open". Windows decides renames and deletes by share
modes: CPython's ``open()``/``os.open`` share READ|WRITE but never DELETE, while
``O_TEMPORARY`` asks for DELETE access, shares DELETE and deletes the file when the handle
closes. Handles are keyed by the file *object*, not its name, because on Windows a handle
follows the file through a rename. The table only counts; what the counts mean (which open,
rename or delete they refuse) is the one decision table's, ``winrules/decisions.py``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = ["Handle", "HandleTable"]

_NONE = (0, 0, 0)


@dataclass
class Handle:
    """One open handle (a file descriptor of the fake filesystem)."""

    id: int
    fd: int
    file: object
    key: str
    display: str
    access: frozenset[str]
    share_delete: bool = False
    delete_on_close: bool = False
    #: Opened by ``open()`` (a file object): CPython closes it once nothing refers to it.
    reapable: bool = False

    @property
    def has_delete_access(self) -> bool:
        return "delete" in self.access


class HandleTable:
    """Open handles by descriptor and by file object; ids are never reused."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._by_fd: dict[int, Handle] = {}
        self._by_file: dict[int, list[Handle]] = {}

    def new_id(self) -> int:
        return next(self._ids)

    def add(self, handle: Handle) -> None:
        self.remove(handle.fd)
        self._by_fd[handle.fd] = handle
        self._by_file.setdefault(id(handle.file), []).append(handle)

    def remove(self, fd: int) -> Handle | None:
        handle = self._by_fd.pop(fd, None)
        if handle is not None:
            holders = self._by_file.get(id(handle.file), [])
            holders.remove(handle)
            if not holders:
                del self._by_file[id(handle.file)]
        return handle

    def get(self, fd: int) -> Handle | None:
        return self._by_fd.get(fd)

    def on(self, file: object) -> list[Handle]:
        """Every handle currently open on ``file``."""
        return list(self._by_file.get(id(file), ()))

    def blocking_delete(self, file: object) -> Handle | None:
        """A handle on ``file`` that does not share DELETE (pyfakefs' ``has_open_file`` asks)."""
        for handle in self._by_file.get(id(file), ()):
            if not handle.share_delete:
                return handle
        return None

    def counts(self, file: object) -> tuple[int, int, int]:
        """Handles on ``file``: not sharing DELETE, sharing DELETE, holding DELETE access.

        What the decision table (``winrules/decisions.py``) needs of this table: it decides
        renames, deletes and opens from these counts alone.
        """
        holders = self._by_file.get(id(file))
        if not holders:
            return _NONE
        shared = sum(1 for handle in holders if handle.share_delete)
        delete = sum(1 for handle in holders if handle.has_delete_access)
        return len(holders) - shared, shared, delete

    def __len__(self) -> int:
        return len(self._by_fd)
