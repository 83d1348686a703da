"""A child script timed in CPU on a baseline checkout and on this one, in alternating rounds.

Shared by ``bench_walks.py`` and ``bench_file_objects.py``: each child prints one JSON object
of CPU seconds per body as its last line. The child runs from the home directory, not from
this checkout's: it imports whichever ``pytest_ocirace`` comes first on its path (the
baseline's through ``PYTHONPATH``, or this checkout's editable install). Each variant goes
first in every other round, since the order moves CPU figures too; the least of the rounds
is kept per body.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["compare"]


def _run(child: str, args: list[str], baseline: Path | None) -> dict[str, float]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    done = subprocess.run(
        [sys.executable, "-c", child, *args],
        env=env,
        cwd=Path.home(),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare(
    script: str, child: str, args: list[str], baseline: Path, rounds: int, what: str
) -> int:
    """Print the table of ``child`` (given ``args``) on ``baseline`` and here; the exit code."""
    baseline = baseline.resolve()
    if not (baseline / "pytest_ocirace" / "__init__.py").is_file():
        print(f"{script}: {baseline} is not a pytest-ocirace checkout", file=sys.stderr)
        return 2
    best: dict[str, dict[str, float]] = {"baseline": {}, "this": {}}
    loads = []
    variants: list[tuple[str, Path | None]] = [("baseline", baseline), ("this", None)]
    for round_number in range(rounds):
        loads.append(os.getloadavg()[0])
        for name, path in variants if round_number % 2 == 0 else variants[::-1]:
            for body, cpu in _run(child, args, path).items():
                best[name][body] = min(cpu, best[name].get(body, cpu))
    print(f"CPU of {what}, min of {rounds} rounds, load average {min(loads):.1f}-{max(loads):.1f}")
    print(f"{'body':10} {'baseline':>10} {'this':>10} {'this/baseline':>14}")
    for body in best["this"]:
        before, after = best["baseline"][body], best["this"][body]
        print(f"{body:10} {before:9.3f}s {after:9.3f}s {after / before:13.2f}x")
    return 0
