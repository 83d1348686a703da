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

A second body (``lines``, docs/performance.md "Real io classes for fake files (w/aio)")
works through one file object many times per open, as a log or a JSON-lines store does:
for each of ``--items / 30`` items, open a text file for appending, write 200 lines one
call each, close; then read the whole file back one ``readline()`` at a time. Since
w/aio ``open()`` returns CPython's own buffered and text objects over the fake file,
where each call was a trip through pyfakefs' wrapper.

    python bench/bench_file_objects.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cpu_rounds import compare

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
lines = 0.0
for _ in range(REPEAT):
    with simulate():
        os.makedirs("log")
        start = time.process_time()
        for index in range(ITEMS // 30):
            with open("log/events.txt", "a", encoding="utf-8") as handle:
                for line in range(200):
                    handle.write("event %d of item %d\n" % (line, index))
            with open("log/events.txt", encoding="utf-8") as handle:
                while handle.readline():
                    pass
        lines += time.process_time() - start
print(json.dumps({"queue": cpu, "lines": lines}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=300, help="items per body")
    parser.add_argument("--repeat", type=int, default=3, help="bodies per process")
    args = parser.parse_args(argv)
    return compare(
        "bench_file_objects",
        CHILD,
        [str(args.items), str(args.repeat)],
        args.baseline,
        args.rounds,
        f"{args.repeat} bodies of {args.items} items",
    )


if __name__ == "__main__":
    raise SystemExit(main())
