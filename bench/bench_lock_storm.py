"""What one lock-file acquisition costs with a hundred polling threads, next to two.

Claim (docs/performance.md, "Lock files polled by a hundred threads"): in the simulation
with the race model, an acquisition of a lock file polled by 100 threads costs at most
about 2.5x the CPU of one polled by 2 threads (the same number of acquisitions in all), for
both ways filelock polls on Windows:

- ``soft``: ``SoftFileLock``, an ``O_CREAT|O_EXCL`` create polled every 50 ms, the file
  closed and deleted to release;
- ``windows``: ``WindowsFileLock``, an open, a non-blocking ``msvcrt.locking`` polled every
  50 ms, then unlock, close and a delete of the file on every release.

Each round also runs the 100-thread case with a null observer instead of the race model
(what the model adds), and with the polling-storm rule off (``storms.py``), on fewer
acquisitions: the rule is what keeps the pollers from starving the holder.
Everything runs in this one process, side by side; the CPU time is the whole process's
(every thread), which a loaded machine inflates less than the wall time.

    python bench/bench_lock_storm.py            # full run
    python bench/bench_lock_storm.py --quick    # a few seconds, for development
    python bench/bench_lock_storm.py --base /tmp/base   # against another checkout
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from pytest_ocirace.fakefs import filelocks, storms
from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.racemodel.events import Answer, FsOp
from pytest_ocirace.racemodel.model import RaceModel, exclusive
from pytest_ocirace.racemodel.sync import install

LK_UNLCK, LK_NBLCK = filelocks.LK_UNLCK, filelocks.LK_NBLCK
POLL = 0.05  # filelock's poll interval
LOCK_FILE = "locks\\app.lock"


def _prepare() -> None:
    """What filelock does before every attempt: check the file, make its directory."""
    with suppress(FileNotFoundError):
        os.stat(LOCK_FILE)
    try:
        os.mkdir("locks")
    except FileExistsError:
        os.path.isdir("locks")


def soft_acquire() -> int:
    while True:
        _prepare()
        try:
            return os.open(LOCK_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC)
        except (FileExistsError, PermissionError):
            time.sleep(POLL)


def soft_release(fd: int) -> None:
    os.close(fd)
    with suppress(OSError):
        os.remove(LOCK_FILE)


def windows_acquire() -> int:
    locking = filelocks.active_msvcrt_locking()
    assert locking is not None
    while True:
        _prepare()
        try:
            fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        except PermissionError:
            time.sleep(POLL)
            continue
        try:
            locking(fd, LK_NBLCK, 1)
            return fd
        except PermissionError:
            os.close(fd)
            time.sleep(POLL)


def windows_release(fd: int) -> None:
    locking = filelocks.active_msvcrt_locking()
    assert locking is not None
    locking(fd, LK_UNLCK, 1)
    os.close(fd)
    with suppress(OSError):
        os.remove(LOCK_FILE)


PATTERNS: dict[str, tuple[Callable[[], int], Callable[[int], None]]] = {
    "soft": (soft_acquire, soft_release),
    "windows": (windows_acquire, windows_release),
}


@contextmanager
def storm_rule(on: bool) -> Iterator[None]:
    saved = storms.STORM_THREADS
    storms.STORM_THREADS = saved if on else 1 << 30
    try:
        yield
    finally:
        storms.STORM_THREADS = saved


class NullObserver:
    """An observer that lets every operation through: the simulation without the race model."""

    total = 0

    def before(self, op: FsOp) -> Answer:
        return Answer.PROCEED

    def after(self, op: FsOp, error: BaseException | None) -> None:
        return None


def run(
    pattern: str, threads: int, acquisitions: int, *, model_on: bool = True
) -> tuple[float, float, int]:
    """CPU and wall seconds per acquisition, and the races recorded."""
    acquire, release = PATTERNS[pattern]
    rounds = max(acquisitions // threads, 1)
    with simulate() as sim:
        instrumentation = install()
        model: RaceModel | NullObserver = (
            RaceModel(instrumentation.tracker) if model_on else NullObserver()
        )
        sim.observer = model
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(rounds):
                    fd = acquire()
                    with exclusive(("lock-file", LOCK_FILE)):  # filelock's lockset
                        pass
                    release(fd)
            except BaseException as exc:
                errors.append(exc)

        try:
            workers = [threading.Thread(target=work) for _ in range(threads)]
            cpu, wall = time.process_time(), time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            sim.observer = None
            instrumentation.uninstall()
        if errors:
            raise SystemExit(f"bench_lock_storm: {pattern} failed: {errors[0]!r}")
        done = rounds * threads
        return cpu / done, wall / done, model.total


def _child(pattern: str, threads: int, acquisitions: int) -> None:
    """One run in this process, printed as JSON (for ``--base``)."""
    with storm_rule(True):
        cpu, wall, races = run(pattern, threads, acquisitions)
    print(json.dumps({"cpu": cpu, "wall": wall, "races": races}))


def compare(base: str, rounds: int, acquisitions: int) -> None:
    """This checkout against ``base`` (another checkout, by ``PYTHONPATH``), interleaved.

    Each (pattern, threads) case runs in a fresh child process per checkout and round,
    the two checkouts one after the other, so both meet the same load; the minimum of
    the rounds is compared.
    """
    here = str(Path(__file__).resolve().parent.parent)
    checkouts = {"base": str(Path(base).resolve()), "branch": here}
    cases = [(pattern, threads) for pattern in PATTERNS for threads in (2, 100)]
    results: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    for _ in range(rounds):
        for pattern, threads in cases:
            for name, path in checkouts.items():
                env = dict(os.environ, PYTHONPATH=path)
                done = subprocess.run(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--child",
                        pattern,
                        str(threads),
                        str(acquisitions),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                lines = done.stdout.strip().splitlines()
                if done.returncode != 0 or not lines:
                    raise SystemExit(f"bench_lock_storm: {name} {pattern} failed:\n{done.stderr}")
                results.setdefault((name, pattern, threads), []).append(json.loads(lines[-1]))
    print(
        f"load average {os.getloadavg()[0]:.1f}; {acquisitions} acquisitions per run;"
        f" ms CPU (wall) per acquisition, minimum of {rounds} rounds; races per acquisition"
    )
    for pattern, threads in cases:
        cells = []
        for name in checkouts:
            runs = results[(name, pattern, threads)]
            cpu = min(r["cpu"] for r in runs) * 1000
            wall = min(r["wall"] for r in runs) * 1000
            races = statistics.median(r["races"] for r in runs) / acquisitions
            cells.append((cpu, wall, races))
        (bcpu, bwall, braces), (tcpu, twall, traces) = cells
        print(
            f"  {pattern:8} {threads:3} threads: base {bcpu:6.2f} ({bwall:6.2f})"
            f" {braces:5.1f} races; branch {tcpu:6.2f} ({twall:6.2f}) {traces:5.1f} races;"
            f" branch/base {tcpu / bcpu:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for development")
    parser.add_argument("--base", help="another checkout: compare with it, interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --base")
    parser.add_argument("-n", type=int, default=1000, help="acquisitions per run of --base")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    if args.base:
        compare(args.base, args.rounds, args.n)
        return
    rounds, acquisitions, off = (1, 200, 100) if args.quick else (3, 1000, 200)
    print(f"load average {os.getloadavg()[0]:.1f}; {acquisitions} acquisitions per run")
    for pattern in PATTERNS:
        results: dict[str, list[tuple[float, float, int]]] = {
            "2": [],
            "100": [],
            "null": [],
            "off": [],
        }
        for _ in range(rounds):
            with storm_rule(True):
                results["2"].append(run(pattern, 2, acquisitions))
                results["100"].append(run(pattern, 100, acquisitions))
                results["null"].append(run(pattern, 100, acquisitions, model_on=False))
            with storm_rule(False):
                results["off"].append(run(pattern, 100, off))
        cpu = {k: statistics.median(r[0] for r in v) * 1000 for k, v in results.items()}
        wall = {k: statistics.median(r[1] for r in v) * 1000 for k, v in results.items()}
        races = {k: statistics.median(r[2] for r in v) for k, v in results.items()}
        print(f"{pattern}: ms per acquisition, CPU (wall), median of {rounds}")
        print(
            f"  2 threads            : {cpu['2']:7.2f} ({wall['2']:7.2f}), {races['2']:.0f} races"
        )
        print(
            f"  100 threads          : {cpu['100']:7.2f} ({wall['100']:7.2f}),"
            f" {races['100']:.0f} races"
        )
        print(
            f"  100 threads, no model: {cpu['null']:7.2f} ({wall['null']:7.2f});"
            f" the race model adds {cpu['100'] - cpu['null']:.2f} ms CPU"
        )
        print(
            f"  100 threads, no storm: {cpu['off']:7.2f} ({wall['off']:7.2f}),"
            f" {races['off']:.0f} races ({off} acquisitions)"
        )
        print(
            f"  ratio 100/2 threads  : {cpu['100'] / cpu['2']:7.2f}x CPU (claim: <= 2.5x);"
            f" storm rule off/on {cpu['off'] / cpu['100']:.1f}x CPU,"
            f" {wall['off'] / wall['100']:.1f}x wall"
        )


if __name__ == "__main__":
    main()
