"""The Windows decision table as a pure function of the operation and the names' state.

It knows nothing about where files are stored: a backend (the real disk here; the fake
filesystem's ``fakefs/filesystem.py`` still has its own copy, to be moved onto this one)
describes each name as a :class:`NameState` and asks :func:`verdict` what Windows would do
before it performs the operation. The answer is a Win32 error code or None ("proceed").
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_ocirace.winrules.errors import (
    ERROR_ACCESS_DENIED,
    ERROR_ALREADY_EXISTS,
    ERROR_DIR_NOT_EMPTY,
    ERROR_SHARING_VIOLATION,
)

__all__ = ["ABSENT", "NameState", "verdict"]


@dataclass(frozen=True)
class NameState:
    """What Windows' answer depends on for one name."""

    exists: bool = False
    is_dir: bool = False
    read_only: bool = False
    #: Open handles on the name that do not share DELETE (CPython's ``open`` never does).
    open_handles: int = 0
    #: Open handles that share DELETE (``O_TEMPORARY``): renames and deletes are allowed.
    shared_handles: int = 0
    #: Deleted while still open (classic delete semantics): the name refuses new opens.
    delete_pending: bool = False
    #: Another rename onto or away from this name has been announced and not finished.
    rename_in_flight: bool = False
    #: For directories: whether they have entries.
    has_entries: bool = False


ABSENT = NameState()


def verdict(kind: str, target: NameState, source: NameState = ABSENT) -> int | None:
    """The Win32 error ``kind`` meets on Windows, or None if Windows lets it run.

    ``target`` is the name the operation acts on: the destination of ``rename``, ``replace``
    and ``link``, the name itself for ``remove``, ``rmdir`` and ``open``. ``source`` is the
    name moved away by ``rename``/``replace`` (ignored otherwise). Errors the host raises
    the same way (a missing source, a missing parent) are left to the host.
    """
    if kind in ("rename", "replace"):
        if source.open_handles:
            return ERROR_SHARING_VIOLATION  # MoveFileEx opens the source with DELETE access
        if target.delete_pending:
            return ERROR_ACCESS_DENIED
        if target.exists and kind == "rename":
            return ERROR_ALREADY_EXISTS  # no MOVEFILE_REPLACE_EXISTING: Linux overwrites
        if target.exists and (target.is_dir or target.read_only or target.open_handles):
            return ERROR_ACCESS_DENIED
        if target.rename_in_flight:
            return ERROR_ACCESS_DENIED
        return None
    if kind == "link":
        return ERROR_ALREADY_EXISTS if target.exists else None
    if kind == "remove":
        if not target.exists:
            return None
        if target.is_dir or target.read_only or target.delete_pending:
            return ERROR_ACCESS_DENIED
        if target.open_handles or target.rename_in_flight:
            return ERROR_SHARING_VIOLATION
        return None
    if kind == "rmdir":
        if not target.exists or not target.is_dir:
            return None
        if target.has_entries:
            return ERROR_DIR_NOT_EMPTY
        if target.open_handles:
            return ERROR_SHARING_VIOLATION
        return None
    if kind == "open":
        if target.delete_pending:
            return ERROR_ACCESS_DENIED
        if target.rename_in_flight:
            return ERROR_SHARING_VIOLATION
        return None
    return None
