"""Processes that nobody announced: the test's descendants, found on ``/proc`` (Linux).

A participant names what it starts through Python (``subprocess``, ``multiprocessing``,
``os.fork``/``exec*``/``spawn*``/``posix_spawn``/``system``). A program started by C code
(``ctypes`` calling libc's ``posix_spawn`` or ``fork``, an extension module) is seen by
nobody. At the end of a test the judge looks for them instead: every process that descends
from a participant, started since the test began, and never said hello. A process is found
while it runs or, once it exited, until its parent reaps it (a zombie keeps its name). What
stays invisible is said in docs/processes.md: a C-started program that already ended and was
reaped (libc's ``system()`` waits for its shell), one that left the tree (a daemon's double
fork), and everything on a system without ``/proc``.
"""

from __future__ import annotations

import os

__all__ = ["clock", "started_since"]

_PROC = "/proc"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def clock() -> float:
    """Seconds since boot, the clock of ``/proc/<pid>/stat``'s start times (0 without it)."""
    try:
        with open(f"{_PROC}/uptime", "rb") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def _stat(pid: str) -> tuple[int, float, str] | None:
    """(parent pid, start in seconds since boot, short name) of one process."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    try:
        return int(fields[1]), int(fields[19]) / _TICKS, head.partition("(")[2]
    except (IndexError, ValueError):
        return None


def _argv(pid: int, name: str) -> list[str]:
    try:
        with open(f"{_PROC}/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        raw = b""
    words = [os.fsdecode(w) for w in raw.split(b"\0") if w]
    return words or [f"[{name}]"]  # a zombie has no command line left, only its name


def started_since(roots: set[int], since: float) -> dict[int, list[str]]:
    """Every process below ``roots`` (not a root) started at ``since`` or later: pid -> argv.

    Start times have the kernel's tick (10 ms): a process started in the tick the test
    began in counts as the test's.
    """
    if not roots or not os.path.isdir(_PROC):
        return {}
    children: dict[int, list[tuple[int, float, str]]] = {}
    try:
        names = os.listdir(_PROC)
    except OSError:
        return {}
    for name in names:
        if not name.isdigit():
            continue
        found = _stat(name)
        if found is not None:
            parent, start, short = found
            children.setdefault(parent, []).append((int(name), start, short))
    result: dict[int, list[str]] = {}
    todo = list(roots)
    seen = set(roots)
    while todo:
        for pid, start, short in children.get(todo.pop(), []):
            if pid in seen:
                continue
            seen.add(pid)
            todo.append(pid)
            if start >= since - 1 / _TICKS:
                result[pid] = _argv(pid, short)
    return result
