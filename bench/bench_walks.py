"""Test bodies that write between lookups, baseline checkout against this one, in CPU.

Claim (issue 8, docs/performance.md "Walks inside test bodies (w/walks)"): the walks
``fastpaths.py`` remembers are no longer dropped whenever any directory changes, so a
test body that writes files between its lookups (safer's, cachecontrol's) costs less,
and a body that only reads costs no more. Two bodies, each inside one simulation, the
shapes of safer's tests: *publish* (a temporary directory; per file ``mkstemp``, write,
``os.replace`` onto the target, ``exists``, ``stat``, read back; then ``rmtree``) and
*read* (the same tree read back: ``exists``, ``stat``, ``open``, ``listdir``). Each
variant runs in its own process (``--ocirace`` code of a baseline checkout first on
``PYTHONPATH``, or this checkout), interleaved round by round (each first in every other
round); each process prints the
CPU (``time.process_time``) of its bodies only, without start-up, and the minimum over
the rounds is kept.

    python bench/bench_walks.py --baseline /tmp/base
    python bench/bench_walks.py --baseline /tmp/base --rounds 7 --files 40
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, shutil, sys, tempfile, time
from pytest_ocirace.fakefs.filesystem import simulate

FILES, REPEAT = int(sys.argv[1]), int(sys.argv[2])


def publish(directory):
    for index in range(FILES):
        target = os.path.join(directory, f"target{index}.txt")
        fd, temp = tempfile.mkstemp(dir=directory)
        with os.fdopen(fd, "w") as handle:
            handle.write("data")
        os.replace(temp, target)
        assert os.path.exists(target)
        os.stat(target)
        with open(target) as handle:
            handle.read()


def read(directory):
    for index in range(FILES):
        target = os.path.join(directory, f"target{index}.txt")
        assert os.path.exists(target)
        os.stat(target)
        with open(target) as handle:
            handle.read()
        os.listdir(directory)


cpu = {"publish": 0.0, "read": 0.0}
for _ in range(REPEAT):
    with simulate():
        start = time.process_time()
        directory = tempfile.mkdtemp()
        publish(directory)
        middle = time.process_time()
        read(directory)
        end = time.process_time()
        shutil.rmtree(directory)
        cpu["publish"] += middle - start + time.process_time() - end
        cpu["read"] += end - middle
print(json.dumps(cpu))
"""


def _run(baseline: Path | None, files: int, repeat: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    # Not from this checkout's directory: the child imports whichever pytest_ocirace
    # comes first on its path (the baseline's, or this checkout's editable install).
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(files), str(repeat)],
        env=env,
        cwd=Path.home(),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--files", type=int, default=30, help="files per body")
    parser.add_argument("--repeat", type=int, default=20, help="bodies per process")
    args = parser.parse_args(argv)
    baseline = args.baseline.resolve()
    if not (baseline / "pytest_ocirace" / "__init__.py").is_file():
        print(f"bench_walks: {baseline} is not a pytest-ocirace checkout", file=sys.stderr)
        return 2
    best: dict[str, dict[str, float]] = {"baseline": {}, "this": {}}
    loads = []
    variants: list[tuple[str, Path | None]] = [("baseline", baseline), ("this", None)]
    for round_number in range(args.rounds):
        loads.append(os.getloadavg()[0])
        # Each variant goes first in every other round: the order moves CPU figures too.
        for name, path in variants if round_number % 2 == 0 else variants[::-1]:
            for body, cpu in _run(path, args.files, args.repeat).items():
                best[name][body] = min(cpu, best[name].get(body, cpu))
    print(
        f"CPU of {args.repeat} bodies of {args.files} files, min of {args.rounds} rounds, "
        f"load average {min(loads):.1f}-{max(loads):.1f}"
    )
    print(f"{'body':10} {'baseline':>10} {'this':>10} {'this/baseline':>14}")
    for body in best["this"]:
        before, after = best["baseline"][body], best["this"][body]
        print(f"{body:10} {before:9.3f}s {after:9.3f}s {after / before:13.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
