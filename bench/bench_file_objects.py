"""A queue's writes through file objects, baseline checkout against this one, in CPU.

Claim (issue 8, docs/performance.md "The fixed cost per simulated test, third pass"):
pyfakefs' open-file objects read their own attributes at about half the cost inside the
simulation (``fakefs/wrapper_attributes.py``), which a test body that writes a file per
operation feels. The body has persist-queue's shape (``Queue.put``/``get``): per item,
open a temporary file, write, flush, close, ``os.replace`` it onto the info file, then
open the info file and read it back. Each variant runs in its own process (a baseline
checkout first on ``PYTHONPATH``, or this checkout), interleaved round by round (each
first in every other round); each process prints the CPU (``time.process_time``) of its
bodies only, and the minimum over the rounds is kept.

    python bench/bench_file_objects.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, os, sys, time
from pytest_ocirace.fakefs.filesystem import simulate

ITEMS, REPEAT = int(sys.argv[1]), int(sys.argv[2])
cpu = 0.0
for _ in range(REPEAT):
    with simulate():
        os.makedirs("queue")
        start = time.process_time()
        for index in range(ITEMS):
            with open("queue/info.tmp", "wb") as handle:
                handle.write(b"{'size': %d, 'head': [0, %d]}" % (index, index))
                handle.flush()
            os.replace("queue/info.tmp", "queue/info")
            with open("queue/info", "rb") as handle:
                handle.read()
        cpu += time.process_time() - start
print(json.dumps({"queue": cpu}))
"""


def _run(baseline: Path | None, items: int, repeat: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(items), str(repeat)],
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
    parser.add_argument("--items", type=int, default=300, help="items per body")
    parser.add_argument("--repeat", type=int, default=3, help="bodies per process")
    args = parser.parse_args(argv)
    baseline = args.baseline.resolve()
    if not (baseline / "pytest_ocirace" / "__init__.py").is_file():
        print(f"bench_file_objects: {baseline} is not a checkout", file=sys.stderr)
        return 2
    best: dict[str, dict[str, float]] = {"baseline": {}, "this": {}}
    loads = []
    variants: list[tuple[str, Path | None]] = [("baseline", baseline), ("this", None)]
    for round_number in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for name, path in variants if round_number % 2 == 0 else variants[::-1]:
            for body, cpu in _run(path, args.items, args.repeat).items():
                best[name][body] = min(cpu, best[name].get(body, cpu))
    print(
        f"CPU of {args.repeat} bodies of {args.items} items, min of {args.rounds} rounds, "
        f"load average {min(loads):.1f}-{max(loads):.1f}"
    )
    print(f"{'body':10} {'baseline':>10} {'this':>10} {'this/baseline':>14}")
    for body in best["this"]:
        before, after = best["baseline"][body], best["this"][body]
        print(f"{body:10} {before:9.3f}s {after:9.3f}s {after / before:13.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
