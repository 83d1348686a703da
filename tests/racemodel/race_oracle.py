"""The oracle: an exhaustive interleaving enumerator for tiny threaded programs.

A program is a few threads, each a list of instructions: publish a name (temp then replace),
read a name (open, close), a block under a lock, set or wait an event. The enumerator
explores every schedule of the program's micro-steps (a publish or a read *holds* its name
from its begin step to its end step, as MoveFileEx and an open handle do on Windows) and
says whether some schedule reaches a Windows failure: a publish beginning while another
thread holds the name, or a read beginning while another thread publishes it. It knows
nothing about vector clocks; the race model must agree with it.

``run_program`` executes the same program for real, with threads and the race model, and
returns the model's verdict.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .race_driver import Driver, simulated


@dataclass(frozen=True)
class Publish:
    name: str


@dataclass(frozen=True)
class Read:
    name: str


@dataclass(frozen=True)
class Locked:
    lock: str
    body: tuple[Publish | Read, ...]


@dataclass(frozen=True)
class Hold:
    """Keep ``name`` open for reading while ``body`` (on other names) runs."""

    name: str
    body: tuple[Publish | Read | Locked, ...]


@dataclass(frozen=True)
class Set:
    event: str


@dataclass(frozen=True)
class Wait:
    event: str


Instr = Publish | Read | Locked | Hold | Set | Wait
Program = tuple[tuple[Instr, ...], ...]
Step = tuple[str, str]


def _steps(thread: tuple[Instr, ...]) -> list[Step]:
    steps: list[Step] = []

    def file_op(instr: Publish | Read) -> None:
        kind = "pub" if isinstance(instr, Publish) else "read"
        steps.extend([("begin_" + kind, instr.name), ("end_" + kind, instr.name)])

    def locked(instr: Locked) -> None:
        steps.append(("acquire", instr.lock))
        for inner in instr.body:
            file_op(inner)
        steps.append(("release", instr.lock))

    for instr in thread:
        if isinstance(instr, (Publish, Read)):
            file_op(instr)
        elif isinstance(instr, Locked):
            locked(instr)
        elif isinstance(instr, Hold):
            steps.append(("begin_read", instr.name))
            for inner in instr.body:
                if isinstance(inner, Locked):
                    locked(inner)
                else:
                    file_op(inner)
            steps.append(("end_read", instr.name))
        elif isinstance(instr, Set):
            steps.append(("set", instr.event))
        else:
            steps.append(("wait", instr.event))
    return steps


@dataclass(frozen=True)
class Outcome:
    can_fail: bool
    can_deadlock: bool


def explore(program: Program) -> Outcome:
    """Every schedule, with memoisation on states (positions, locks, events, holds)."""
    threads = [_steps(t) for t in program]
    n = len(threads)
    seen: set[object] = set()
    can_fail = False
    can_deadlock = False
    start = (tuple([0] * n), frozenset(), frozenset(), frozenset())
    stack = [start]
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        pcs, locks, events, holds = state
        moved = False
        for i in range(n):
            if pcs[i] >= len(threads[i]):
                continue
            kind, arg = threads[i][pcs[i]]
            new_locks, new_events, new_holds = locks, events, holds
            if kind == "acquire":
                if any(lock == arg for lock, _ in locks):
                    continue
                new_locks = locks | {(arg, i)}
            elif kind == "release":
                new_locks = locks - {(arg, i)}
            elif kind == "set":
                new_events = events | {arg}
            elif kind == "wait":
                if arg not in events:
                    continue
            elif kind.startswith("begin_"):
                what = kind[len("begin_") :]
                others = [(t, k) for t, k, name in holds if name == arg and t != i]
                if (what == "pub" and others) or (
                    what == "read" and any(k == "pub" for _, k in others)
                ):
                    can_fail = True
                new_holds = holds | {(i, what, arg)}
            else:
                new_holds = holds - {(i, kind[len("end_") :], arg)}
            moved = True
            next_pcs = (*pcs[:i], pcs[i] + 1, *pcs[i + 1 :])
            stack.append((next_pcs, new_locks, new_events, new_holds))
        if not moved and any(pcs[i] < len(threads[i]) for i in range(n)):
            can_deadlock = True
    return Outcome(can_fail, can_deadlock)


def run_program(program: Program, jitter: float = 0.0) -> bool:
    """Run ``program`` for real under the race model; whether it saw a failing race."""
    names = ["p", "q"]
    with simulated(jitter=jitter) as (driver, model):
        locks = {name: threading.Lock() for name in ("L", "M")}
        events = {name: threading.Event() for name in ("E", "F")}
        for name in names:
            driver.write_file(name, b"initial")

        def file_op(d: Driver, instr: Publish | Read) -> None:
            try:
                if isinstance(instr, Publish):
                    d.publish(instr.name, b"data")
                else:
                    d.read_file(instr.name)
            except OSError:
                pass  # injected or natural: the verdict is the model's record

        def body(instrs: tuple[Instr, ...]) -> None:
            for instr in instrs:
                if isinstance(instr, (Publish, Read)):
                    file_op(driver, instr)
                elif isinstance(instr, Locked):
                    with locks[instr.lock]:
                        for inner in instr.body:
                            file_op(driver, inner)
                elif isinstance(instr, Hold):
                    try:
                        handle: int | None = driver.open(instr.name, "r")
                    except OSError:
                        handle = None  # injected: the verdict is already "fails"
                    try:
                        body(instr.body)  # type: ignore[arg-type]
                    finally:
                        if handle is not None:
                            driver.close(handle)
                elif isinstance(instr, Set):
                    events[instr.event].set()
                else:
                    events[instr.event].wait()

        threads = [threading.Thread(target=body, args=(t,)) for t in program]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return any(r.winerror is not None for r in model.races)
