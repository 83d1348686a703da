"""pyfakefs' own steps against the simulation's replacements of them, side by side, in CPU.

Claims (docs/performance.md, "safer and minimalkv (w/suitefast)"): the fake ``open``'s
skipped-module check without source lines (``fakefs/skip_check.py``) makes an ``open``,
read and close cheaper; ``fspath`` on the fake ``os``'s class makes a file's
write-and-replace cheaper. Each pair runs alternately in this one process, inside one
simulation, and the least of the rounds is kept.

    python bench/bench_replaced_steps.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyfakefs import fake_open
from pyfakefs.fake_os import FakeOsModule

from pytest_ocirace.fakefs import skip_check
from pytest_ocirace.fakefs.filesystem import simulate


def _least(rounds: int, pair: dict[str, Callable[[], float]]) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(rounds):
        for label, run in pair.items():
            spent = run()
            best[label] = min(best.get(label, spent), spent)
    return best


def _opens(count: int) -> float:
    start = time.process_time()
    for _ in range(count):
        with open("C:\\bench.txt") as handle:
            handle.read()
    return (time.process_time() - start) / count


def _files(directory: str, count: int) -> float:
    start = time.process_time()
    for index in range(count):
        target = os.path.join(directory, f"target{index}.txt")
        fd, temp = tempfile.mkstemp(dir=directory)
        os.close(fd)
        os.replace(temp, target)
        os.path.exists(target)
        os.stat(target)
    return (time.process_time() - start) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=1000, help="opens per round")
    args = parser.parse_args(argv)
    rows = []
    with simulate():
        with open("C:\\bench.txt", "w") as handle:
            handle.write("x")
        ours = fake_open.is_called_from_skipped_module
        theirs = skip_check._ORIGINAL

        def with_check(check: Callable[..., bool]) -> Callable[[], float]:
            def run() -> float:
                fake_open.is_called_from_skipped_module = check
                try:
                    return _opens(args.count)
                finally:
                    fake_open.is_called_from_skipped_module = ours

            return run

        best = _least(args.rounds, {"pyfakefs": with_check(theirs), "this": with_check(ours)})
        rows.append(("open, read, close", best))

        kept = vars(FakeOsModule)["fspath"]
        directory = tempfile.mkdtemp()

        def with_fspath(on_class: bool) -> Callable[[], float]:
            def run() -> float:
                if not on_class:
                    del FakeOsModule.fspath
                try:
                    return _files(directory, 30)
                finally:
                    FakeOsModule.fspath = kept

            return run

        best = _least(args.rounds, {"pyfakefs": with_fspath(False), "this": with_fspath(True)})
        rows.append(("mkstemp, replace, exists, stat", best))

    load = os.getloadavg()[0]
    print(f"CPU per step, least of {args.rounds} rounds, load average {load:.1f}")
    print(f"{'step':36} {'pyfakefs':>10} {'this':>10}  this/pyfakefs")
    for name, best in rows:
        theirs_us, ours_us = best["pyfakefs"] * 1e6, best["this"] * 1e6
        print(f"{name:36} {theirs_us:8.1f}us {ours_us:8.1f}us  {ours_us / theirs_us:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
