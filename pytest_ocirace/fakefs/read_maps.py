"""Read-only ``mmap`` of a fake file: a private copy of its bytes, as a read would give.

A descriptor of the fake filesystem means nothing to the OS, so ``mmap.mmap(fd, ...)`` on
it is stopped with ``ForeignIOError`` (``boundaries.py``). A read-only map
(``access=ACCESS_READ``) needs no sharing with the file, only its bytes at the time of
mapping: cachecontrol buffers every response body in a ``NamedTemporaryFile`` and hands
``memoryview(mmap.mmap(f.fileno(), 0, access=ACCESS_READ))`` on, and zict's ``File``
reads values that way. Such a map is made here as an anonymous map holding a copy of the
file's bytes; writing through the ``mmap`` methods is refused as on a real read-only map
(a ``memoryview`` of it is writable: the copy, never the file, changes). Later writes to
the file do not show in the map (a real map would see them: a limit, docs/compatibility.md).
Writable maps of fake files stay stopped.
"""

from __future__ import annotations

import mmap
from typing import Any

__all__ = ["READ_ONLY", "is_read_only", "snapshot"]

#: The ``access`` value of a read-only map.
READ_ONLY = mmap.ACCESS_READ


def is_read_only(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether ``mmap.mmap(fd, *args, **kwargs)`` asks for a read-only map.

    POSIX signature: ``(fileno, length, flags, prot, access, offset)``; only ``access``
    (keyword, as portable code passes it) or ``prot=PROT_READ`` is understood.
    """
    if kwargs.get("access") == READ_ONLY:
        return True
    prot = kwargs.get("prot", args[2] if len(args) > 2 else None)
    return prot == getattr(mmap, "PROT_READ", None) and "access" not in kwargs


def snapshot(fs: Any, fileno: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """The bytes ``mmap.mmap(fileno, *args, **kwargs)`` maps, read from the fake file.

    Errors are the ones ``mmap`` raises: ``ValueError`` for an empty file or a range
    beyond its end.
    """
    length = kwargs.get("length", args[0] if args else 0)
    offset = kwargs.get("offset", 0)
    wrapper = fs.get_open_file(fileno)
    flush = getattr(wrapper, "flush", None)
    if flush is not None:
        flush()
    data: bytes = wrapper.get_object().byte_contents or b""
    if not data:
        raise ValueError("cannot mmap an empty file")
    if offset < 0 or offset > len(data) or (length and offset + length > len(data)):
        raise ValueError("mmap length is greater than file size")
    return data[offset : offset + length] if length else data[offset:]
