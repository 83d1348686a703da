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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cpu_rounds import compare

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--files", type=int, default=30, help="files per body")
    parser.add_argument("--repeat", type=int, default=20, help="bodies per process")
    args = parser.parse_args(argv)
    return compare(
        "bench_walks",
        CHILD,
        [str(args.files), str(args.repeat)],
        args.baseline,
        args.rounds,
        f"{args.repeat} bodies of {args.files} files",
    )


if __name__ == "__main__":
    raise SystemExit(main())
