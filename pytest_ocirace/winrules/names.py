"""Windows name rules: how Win32 turns what the user typed into the name NTFS stores.

The race model and the handle table compare paths, and two spellings of one Windows file
(``Blob.``, ``BLOB``, ``c:/x/blob``) must compare equal or a real conflict is missed. The
same rules decide which names Windows refuses outright (``<>:"|?*``, control characters,
device names) and which are silently something else (``name:stream`` is an alternate data
stream). Pure functions over strings: no filesystem access, no pyfakefs.
"""

from __future__ import annotations

import functools
import ntpath
import sys

__all__ = [
    "INVALID_CHARACTERS",
    "MAX_DIRECTORY_PATH",
    "MAX_PATH",
    "NUL_MESSAGE",
    "RESERVED_NAMES",
    "drive_of",
    "exceeds_max_path",
    "invalid_component",
    "key",
    "local_path",
    "native_path",
    "reserved_component",
    "split_stream",
    "strip_trailing",
    "win32_path",
]

#: MAX_PATH counts the terminating NUL, so 259 characters is the longest usable path.
MAX_PATH = 260
#: CreateDirectoryW leaves room for an 8.3 file name: directories stop at 248 characters.
MAX_DIRECTORY_PATH = 248

#: Characters Windows refuses in a name ("Naming Files, Paths, and Namespaces").
INVALID_CHARACTERS = frozenset('<>:"|?*') | frozenset(chr(code) for code in range(32))

#: Device names; NTFS resolves them in any directory (case-insensitive).
RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{n}" for n in "123456789\u00b9\u00b2\u00b3"]
    + [f"LPT{n}" for n in "123456789\u00b9\u00b2\u00b3"]
)

_LONG_PREFIX = "\\\\?\\"


#: The ``ValueError`` text for an embedded NUL, as the running CPython words it.
#: (CPython prefixes the function's name from 3.13: ``open: embedded null character in path``.)
NUL_MESSAGE = (
    "embedded null character in path" if sys.version_info >= (3, 13) else "embedded null byte"
)


def strip_trailing(component: str, *, last: bool) -> str:
    """Apply Win32 normalisation to one path segment.

    The last segment loses all trailing dots and spaces; other segments lose a single
    trailing dot ("File path formats on Windows systems"). ``.`` and ``..`` are left alone:
    ``ntpath.normpath`` has already resolved them.
    """
    if component in (".", ".."):
        return component
    if last:
        return component.rstrip(". ")
    if component.endswith(".") and not component.endswith(".."):
        return component[:-1]
    return component


@functools.lru_cache(maxsize=4096)
def key(path: str, cwd: str) -> str:
    r"""The normalised identity of ``path``: absolute, with a drive, ``\`` separators, folded.

    Every spelling of one Windows file gives the same key: ``/tmp/x`` (rooted, so on the
    drive of ``cwd``), ``C:\tmp\x``, ``c:/tmp/X``, ``\\?\C:\tmp\x``, ``tmp\x`` from ``C:\``.
    ``cwd`` anchors relative and rooted paths, as the current directory does on Windows.
    Remembered per ``(path, cwd)``: the layer asks for the same keys several times per
    operation (a pure function of two strings).
    """
    text = local_path(path)
    if text.startswith(_LONG_PREFIX):
        # A literal path: Win32 does no normalisation, only the prefix goes.
        return _strip_long_prefix(text).lower()
    text = text.replace("/", "\\")
    drive, rest = ntpath.splitdrive(text)
    cwd_drive = ntpath.splitdrive(cwd)[0]
    if not drive:
        # Rooted (``\\tmp``, pytest's ``/tmp/...``): the current drive; else under cwd.
        text = cwd_drive + rest if rest.startswith("\\") else ntpath.join(cwd, rest)
    elif not rest.startswith("\\"):
        # Drive-relative (``C:x``): the current directory on its own drive, else the root.
        same = drive.lower() == cwd_drive.lower()
        text = ntpath.join(cwd, rest) if same else drive + "\\" + rest
    text = ntpath.normpath(text)
    drive, rest = ntpath.splitdrive(text)
    parts = rest.split("\\")
    last = len(parts) - 1
    cleaned = [strip_trailing(part, last=index == last) for index, part in enumerate(parts)]
    return (drive + "\\".join(cleaned)).lower()


def local_path(path: str) -> str:
    r"""``path`` without a device prefix that only says "a local path follows".

    ``\\?\C:\x`` (no normalisation; kept as a prefix here, see :func:`key`),
    ``\\.\C:\x`` and ``//?/C:/x`` (normalised like any path) name ``C:\x``; the
    ``UNC`` forms name ``\\server\share``. Anything else is returned unchanged.
    """
    if path.startswith(_LONG_PREFIX):
        return path
    head = path[:4].replace("/", "\\")
    if head in (_LONG_PREFIX, "\\\\.\\") and _is_local_device_path(path[4:]):
        return _strip_long_prefix(_LONG_PREFIX + path[4:])
    return path


def _is_local_device_path(rest: str) -> bool:
    return (len(rest) >= 2 and rest[1] == ":") or rest[:4].upper().replace("/", "\\") == "UNC\\"


def _strip_long_prefix(path: str) -> str:
    rest = path[len(_LONG_PREFIX) :]
    if rest[:4].upper() == "UNC\\":
        return "\\\\" + rest[4:]
    return rest


def native_path(path: str) -> str:
    r"""The spelling pyfakefs can resolve: ``\\?\`` and ``\\.\`` prefixes removed.

    pyfakefs reads ``\\?\C:`` as a network share named ``?``; Windows reads it as ``C:``.
    """
    if path[:2] not in ("\\\\", "//"):
        return path
    local = local_path(path)
    if local.startswith(_LONG_PREFIX):
        return _strip_long_prefix(local)
    return local


def drive_of(normalised: str) -> str:
    r"""The volume part of a key (``c:``, ``\\\\server\\share``)."""
    return ntpath.splitdrive(normalised)[0]


def split_stream(path: str) -> tuple[str, str | None]:
    r"""Split ``dir\\name:stream`` into ``(dir\\name, stream)``; no colon gives ``None``.

    Only the last component can name a stream; the drive colon does not count.
    ``name::$DATA`` is the main stream, which is the file itself.
    """
    drive, rest = ntpath.splitdrive(path)
    head, sep, tail = rest.replace("/", "\\").rpartition("\\")
    if ":" not in tail:
        return path, None
    name, _, stream = tail.partition(":")
    if stream.upper().endswith(":$DATA"):
        stream = stream[: -len(":$DATA")]
    base = drive + head + sep + name
    return base, (stream or None)


def _components(path: str) -> list[str]:
    rest = ntpath.splitdrive(path.replace("/", "\\"))[1]
    if rest.startswith(_LONG_PREFIX):
        rest = rest[len(_LONG_PREFIX) :]
    return [part for part in rest.split("\\") if part not in ("", ".", "..")]


@functools.lru_cache(maxsize=4096)  # asked on every open, mkdir and rename of a name
def invalid_component(path: str, *, allow_stream: bool = False) -> str | None:
    """The first component of ``path`` Windows refuses as a name, or ``None``.

    With ``allow_stream`` a single ``:`` in the last component is accepted (``open()``
    creates an alternate data stream there instead of failing).
    """
    parts = _components(path)
    for index, part in enumerate(parts):
        checked = part
        if allow_stream and index == len(parts) - 1 and ":" in part:
            checked, _, stream = part.partition(":")
            if stream.upper().endswith(":$DATA"):
                stream = stream[: -len(":$DATA")]
            if any(char in INVALID_CHARACTERS for char in stream):
                return part
        if any(char in INVALID_CHARACTERS for char in checked):
            return part
    return None


@functools.lru_cache(maxsize=4096)
def reserved_component(path: str) -> str | None:
    """The first component of ``path`` that names a DOS device (``NUL``, ``com1.txt``)."""
    for part in _components(path):
        stem = part.split(":", 1)[0].rstrip(". ").split(".", 1)[0].rstrip(" ")
        if stem.upper() in RESERVED_NAMES:
            return part
    return None


def exceeds_max_path(absolute: str, *, directory: bool = False) -> bool:
    r"""Whether Win32 refuses ``absolute`` for length (``\\\\?\\`` paths are exempt)."""
    if absolute.startswith(_LONG_PREFIX):
        return False
    limit = MAX_DIRECTORY_PATH if directory else MAX_PATH
    return len(absolute) >= limit


def win32_path(path: str) -> str:
    """``path`` with Win32's trailing-dot/space stripping applied (separators kept as typed)."""
    if not (
        path.endswith((".", " "))
        or ". " in path
        or ".\\" in path
        or "./" in path
        or " \\" in path
        or " /" in path
    ):
        return path
    if path.startswith(_LONG_PREFIX):
        return path
    drive, rest = ntpath.splitdrive(path)
    parts = rest.replace("/", "\\").split("\\")
    last = len(parts) - 1
    cleaned = [
        strip_trailing(part, last=index == last) if part else part
        for index, part in enumerate(parts)
    ]
    return drive + "\\".join(cleaned)
