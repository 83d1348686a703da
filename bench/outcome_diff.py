"""Per-test outcomes of two runs of one suite, compared: what a speed change must not move.

Reads two pytest JUnit XML files (e.g. a suite's ``ocirace.xml`` from ``bench_suites.py``
before and after a change), takes each test's outcome and the first line of its message,
with the parts that differ from run to run normalised (temporary names, object
addresses, durations), and prints every test whose outcome or line differs. The exit
status is 1 when any differs.

    python bench/outcome_diff.py before/ocirace.xml after/ocirace.xml
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.realworld.core import parse_junit

#: Spellings that change between two runs of the same test, each with what replaces it.
_VARYING = (
    (re.compile(r"tmp[A-Za-z0-9_]{6,}(-\d+-\d+)?"), "tmp?"),
    # A name right under the temp directory (mkdtemp/mkstemp with a prefix: sqldictl0kmgyfg).
    (re.compile(r"(Temp(?:\\)+|/tmp/)[^\\/'\" ]+"), r"\1?"),
    (re.compile(r"\b0x[0-9a-fA-F]+"), "0x?"),
    (re.compile(r"[0-9a-f]{32}"), "?"),  # uuid4().hex
    (re.compile(r"pytest-\d+|tmp-(plain|ocirace|baseline|this)|popen-gw\d+"), "run?"),
    (re.compile(r"\b\d+\.\d+s\b"), "?s"),
    (re.compile(r"(test_[A-Za-z0-9_]*?)\d+\b"), r"\1?"),
)


def normalised(text: str) -> str:
    for pattern, replacement in _VARYING:
        text = pattern.sub(replacement, text)
    return text


def same(left: str, right: str) -> bool:
    """Equal, or equal up to where one was cut short (pytest's ``...``: the cut moves
    with the length of the run's temp directory's name)."""
    if left == right:
        return True
    if left.endswith("...") or right.endswith("..."):
        length = min(len(left), len(right)) - 4
        return length > 40 and left[:length] == right[:length]
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before, after = parse_junit(args.before), parse_junit(args.after)
    differing = 0
    for test in sorted(before.keys() | after.keys()):
        old, new = before.get(test), after.get(test)
        left = (old.outcome, normalised(old.message)) if old else ("absent", "")
        right = (new.outcome, normalised(new.message)) if new else ("absent", "")
        if left[0] != right[0] or not same(left[1], right[1]):
            differing += 1
            print(test)
            print(f"  before: {left[0]} {left[1][:160]}")
            print(f"  after:  {right[0]} {right[1][:160]}")
    print(f"{differing} of {len(before.keys() | after.keys())} tests differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
