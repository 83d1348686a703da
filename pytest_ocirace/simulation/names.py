"""Windows name rules: how Win32 turns what the user typed into the name NTFS stores.

The race model and the handle table compare paths, and two spellings of one Windows file
(``Blob.``, ``BLOB``, ``c:/x/blob``) must compare equal or a real conflict is missed. The
same rules decide which names Windows refuses outright (``<>:"|?*``, control characters,
device names) and which are silently something else (``name:stream`` is an alternate data
stream). Pure functions over strings: no filesystem access, no pyfakefs.
"""

from __future__ import annotations

import ntpath

__all__ = [
    "INVALID_CHARACTERS",
    "MAX_DIRECTORY_PATH",
    "MAX_PATH",
    "RESERVED_NAMES",
    "drive_of",
    "exceeds_max_path",
    "invalid_component",
    "key",
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


def key(path: str, cwd: str) -> str:
    r"""The normalised identity of ``path``: absolute, ``\\`` separators, case-folded.

    Two spellings of one Windows file give the same key. ``cwd`` anchors relative paths.
    """
    text = path.replace("/", "\\")
    if text.startswith(_LONG_PREFIX):
        return text.lower()
    if not ntpath.isabs(text):
        drive, rest = ntpath.splitdrive(text)
        if drive and not rest.startswith("\\"):
            text = drive + "\\" + rest  # drive-relative: resolve against the drive root
        else:
            text = ntpath.join(cwd, text)
    text = ntpath.normpath(text)
    drive, rest = ntpath.splitdrive(text)
    parts = rest.split("\\")
    last = len(parts) - 1
    cleaned = [strip_trailing(part, last=index == last) for index, part in enumerate(parts)]
    return (drive + "\\".join(cleaned)).lower()


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
