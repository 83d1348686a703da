"""The caller's stack as the race model keeps it, built from shared tuples.

The model records the stack of every operation that touches a name (a race report shows
both sides), and keeps it until a later access of the same kind replaces it. Built afresh,
each record was about forty new ``(file, line, function)`` tuples that outlived the call:
on zarr's chunk reads the cyclic collector's full collections, triggered by those survivors,
cost a fifth of the test (docs/performance.md, "zarr's chunk stores"). A frame's tuple is
the same object for every record made at that line, and a whole stack seen before is the
same tuple again, so a record made where an earlier one was made keeps nothing new alive.

Both tables are bounded (emptied when full); they hold code objects, strings and tuples only.
"""

from __future__ import annotations

import sys
from types import CodeType
from typing import TypeVar

__all__ = ["LIMIT", "Frame", "clear", "current_stack", "interned"]

#: One stack frame: (filename, line number, function name), innermost last.
Frame = tuple[str, int, str]

#: Entries per table before it is emptied.
LIMIT = 8192

#: By the code object's identity, the object kept alive beside its lines so that the
#: identity is not reused: code objects compare equal by contents, file name left out (two
#: copies of one test file in two folders have equal code).
_FRAMES: dict[int, tuple[CodeType, dict[int, Frame]]] = {}
_STACKS: dict[tuple[Frame, ...], tuple[Frame, ...]] = {}


def clear() -> None:
    """Forget every shared frame and stack (tests)."""
    _FRAMES.clear()
    _STACKS.clear()


def current_stack(skip: int, limit: int) -> tuple[Frame, ...]:
    """The stack above the caller's ``skip``-th caller, at most ``limit`` frames, innermost last.

    ``skip=1`` starts at the frame that called the function calling this one. Equal to
    building ``(co_filename, f_lineno, co_name)`` per frame; only the objects are shared.
    """
    frames: list[Frame] = []
    frame = sys._getframe(skip + 1)
    table = _FRAMES
    while frame is not None and len(frames) < limit:
        code = frame.f_code
        known = table.get(id(code))
        if known is None or known[0] is not code:
            if len(table) >= LIMIT:
                table.clear()
            known = table[id(code)] = (code, {})
        lines = known[1]
        line = frame.f_lineno
        entry = lines.get(line)
        if entry is None:
            entry = lines[line] = (code.co_filename, line, code.co_name)
        frames.append(entry)
        frame = frame.f_back  # type: ignore[assignment]
    frames.reverse()
    return interned(_STACKS, tuple(frames), LIMIT)


_T = TypeVar("_T")


def interned(table: dict[_T, _T], value: _T, limit: int) -> _T:
    """``value``, or the equal one ``table`` kept earlier; the table starts over at ``limit``.

    One object per distinct value keeps what the garbage collector walks small (walkstamps'
    remembered lookups use it too).
    """
    found = table.get(value)
    if found is not None:
        return found
    if len(table) >= limit:
        table.clear()
    table[value] = value
    return value
