"""The Windows decision table as a pure function of the operation and the names' state.

It knows nothing about where files are stored. Each backend (the fake filesystem,
``fakefs/filesystem.py``, and the real disk, ``realdisk/judge.py``) describes the operation
as a :class:`Request` and each name it touches as a :class:`NameState`, and asks
:func:`verdict` what Windows would do *before* it performs the operation. The answer is a
Win32 error code or None ("proceed"); the backend builds the exception in the shape of the
call (``errors.windows_error`` for Win32 calls, ``errors.crt_error`` of the code's errno for
``open()``/``os.open``), so one row gives the same exception in both backends.

The order of the checks is the table's, not a detail: a rename whose source is missing and
whose target exists fails as "not found", never as "already exists". Name rules
(``names.py``: MAX_PATH, invalid characters, reserved names, streams) are computed by the
backend that has Windows names (the fake filesystem) and passed in as flags, so that they
take their place in that order; the real disk keeps the host's names and passes none.

A few rows are options (``options.py``, the unverified rows): the table reads them from the
:class:`~pytest_ocirace.winrules.options.SimulationOptions` it is given, so an option
changes both backends alike.
"""

from __future__ import annotations

from typing import NamedTuple

from pytest_ocirace.winrules.errors import (
    ERROR_ACCESS_DENIED,
    ERROR_ALREADY_EXISTS,
    ERROR_DIR_NOT_EMPTY,
    ERROR_FILE_EXISTS,
    ERROR_FILE_NOT_FOUND,
    ERROR_FILENAME_EXCED_RANGE,
    ERROR_INVALID_NAME,
    ERROR_NOT_SAME_DEVICE,
    ERROR_PATH_NOT_FOUND,
    ERROR_SHARING_VIOLATION,
)
from pytest_ocirace.winrules.options import SimulationOptions

__all__ = ["ABSENT", "DEFAULT_OPTIONS", "KINDS", "NameState", "Request", "name_lingers", "verdict"]

#: The operations the table answers for.
KINDS = ("rename", "replace", "link", "remove", "rmdir", "mkdir", "open")

#: The options the table assumes when a backend passes none (every default).
DEFAULT_OPTIONS = SimulationOptions()


class NameState(NamedTuple):
    """What Windows' answer depends on for one name.

    A NamedTuple rather than a dataclass: the fake filesystem builds one or two per file
    operation, and a tuple is the cheapest immutable record to build.
    """

    exists: bool = False
    is_dir: bool = False
    read_only: bool = False
    #: Open handles on the name that do not share DELETE (CPython's ``open`` never does).
    open_handles: int = 0
    #: Open handles that share DELETE (``O_TEMPORARY``): renames and deletes of the name are
    #: allowed, replacing onto it is not (it is still open).
    shared_handles: int = 0
    #: Open handles that hold DELETE access (``O_TEMPORARY``): a new open that does not
    #: share DELETE is a sharing violation.
    delete_handles: int = 0
    #: Deleted while still open (classic delete semantics): the name lingers (it exists)
    #: and refuses new opens, deletes and replaces.
    delete_pending: bool = False
    #: Another rename onto or away from this name has been announced and not finished.
    rename_in_flight: bool = False
    #: For directories: whether they have entries.
    has_entries: bool = False
    #: For a name that does not exist: whether its parent directory is missing too
    #: (ERROR_PATH_NOT_FOUND rather than ERROR_FILE_NOT_FOUND).
    parent_missing: bool = False


ABSENT = NameState()


class Request(NamedTuple):
    """The operation, as far as the table cares: its kind and how it was asked."""

    kind: str
    #: ``open``: for writing (a read-only file refuses it).
    writing: bool = False
    #: ``open``: ``O_CREAT|O_EXCL`` / mode ``"x"`` (an existing name refuses it).
    exclusive: bool = False
    #: ``open``: ``O_TEMPORARY`` (asks for DELETE access and shares DELETE).
    temporary: bool = False
    #: A path is over MAX_PATH (names.exceeds_max_path, option ``max_path``).
    too_long: bool = False
    #: A name Windows refuses (invalid characters, ``:`` outside ``open``, reserved device
    #: names under option ``reserved_names=error``).
    invalid_name: bool = False
    #: ``rename``/``replace``/``link``: source and target are on different volumes.
    other_volume: bool = False
    #: ``rename``/``replace``: the target name is the source itself (a case-only rename).
    same_file: bool = False


def verdict(
    request: Request | str,
    target: NameState,
    source: NameState = ABSENT,
    options: SimulationOptions = DEFAULT_OPTIONS,
) -> int | None:
    """The Win32 error ``request`` meets on Windows, or None if Windows lets it run.

    ``target`` is the name the operation acts on: the destination of ``rename``, ``replace``
    and ``link``, the name itself for ``remove``, ``rmdir``, ``mkdir`` and ``open``.
    ``source`` is the name moved or linked away (ignored otherwise). A missing parent of a
    *target* and the existence of a ``mkdir`` target are left to the host, which answers
    the same (ERROR_PATH_NOT_FOUND, ERROR_ALREADY_EXISTS) once the operation runs.
    """
    if isinstance(request, str):
        request = Request(request)
    kind = request.kind
    if kind == "open":
        return _open(request, target)
    if request.too_long:
        return ERROR_FILENAME_EXCED_RANGE
    if kind in ("rename", "replace"):
        return _move(request, target, source, options)
    if kind == "link":
        if not source.exists:
            return _missing(source)
        if request.invalid_name:
            return ERROR_INVALID_NAME
        if target.exists or target.delete_pending:
            return ERROR_ALREADY_EXISTS
        if source.is_dir:
            return ERROR_ACCESS_DENIED
        if request.other_volume:
            return ERROR_NOT_SAME_DEVICE
        return None
    if kind == "remove":
        if not (target.exists or target.delete_pending):
            return _missing(target)
        if target.is_dir or target.read_only or target.delete_pending:
            return ERROR_ACCESS_DENIED
        if target.open_handles or target.rename_in_flight:
            return ERROR_SHARING_VIOLATION
        return None
    if kind == "rmdir":
        if not target.exists or not target.is_dir:
            return None  # the host: not found, or not a directory (ERROR_DIRECTORY)
        if target.has_entries:
            return ERROR_DIR_NOT_EMPTY
        if target.open_handles:
            return ERROR_SHARING_VIOLATION
        return None
    if kind == "mkdir":
        return ERROR_INVALID_NAME if request.invalid_name else None
    return None


def _missing(name: NameState) -> int:
    return ERROR_PATH_NOT_FOUND if name.parent_missing else ERROR_FILE_NOT_FOUND


def _move(
    request: Request, target: NameState, source: NameState, options: SimulationOptions
) -> int | None:
    if not (source.exists or source.delete_pending):
        return _missing(source)
    if request.invalid_name:
        return ERROR_INVALID_NAME
    if source.delete_pending:
        return ERROR_ACCESS_DENIED
    if source.open_handles:
        return ERROR_SHARING_VIOLATION  # MoveFileEx opens the source with DELETE access
    if request.other_volume:
        return ERROR_NOT_SAME_DEVICE
    if request.same_file:
        return None
    if target.exists or target.delete_pending:
        if request.kind == "rename":
            return ERROR_ALREADY_EXISTS  # no MOVEFILE_REPLACE_EXISTING: Linux overwrites
        if target.is_dir:
            return ERROR_ACCESS_DENIED
        if source.is_dir and options.directory_onto_file == "deny":
            return ERROR_ACCESS_DENIED
        if (
            target.delete_pending
            or target.open_handles
            or target.shared_handles
            or target.read_only
        ):
            return ERROR_ACCESS_DENIED  # any open handle, even one sharing DELETE
    if target.rename_in_flight:
        return ERROR_ACCESS_DENIED
    return None


def _open(request: Request, target: NameState) -> int | None:
    """``open()``/``os.open``; the backend raises the code's errno (the C runtime's shape)."""
    if request.too_long:
        return ERROR_FILENAME_EXCED_RANGE
    if request.invalid_name:
        return ERROR_INVALID_NAME
    if not (target.exists or target.delete_pending):
        return None
    # A delete-pending name refuses every open, an exclusive create included: the file
    # system checks the pending delete on the file it found before it looks at the
    # disposition (FastFAT's FatCommonCreate: STATUS_DELETE_PENDING ahead of
    # FILE_CREATE's collision), and Win32 maps that to ERROR_ACCESS_DENIED: the CRT's
    # EACCES, which filelock's SoftFileLock expects on win32.
    if target.delete_pending:
        return ERROR_ACCESS_DENIED
    if request.exclusive:
        return ERROR_FILE_EXISTS
    if target.is_dir:
        return ERROR_ACCESS_DENIED
    if request.writing and target.read_only:
        return ERROR_ACCESS_DENIED
    # Every handle shares READ|WRITE, so only DELETE matters: a new open that does not share
    # DELETE fails while a handle holds DELETE access, and one asking for DELETE fails while
    # a handle does not share it.
    if target.delete_handles and not request.temporary:
        return ERROR_SHARING_VIOLATION
    if request.temporary and target.open_handles:
        return ERROR_SHARING_VIOLATION
    if target.rename_in_flight:
        return ERROR_SHARING_VIOLATION
    return None


def name_lingers(target: NameState, options: SimulationOptions = DEFAULT_OPTIONS) -> bool:
    """Whether a delete that the table allowed leaves the name delete-pending.

    Classic delete semantics keep the name until the last handle (one that shares DELETE,
    or the table would have refused) closes; POSIX delete semantics remove it at once.
    """
    return options.delete_semantics == "classic" and bool(
        target.open_handles + target.shared_handles
    )
