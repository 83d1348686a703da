"""What showing the test's real tree inside the simulation costs a test's setup.

Claim (docs/performance.md, "Real tree"): mapping the real tree (rootdir, the test's
folder and every ``sys.path`` directory, lazily) adds little to a simulated test's setup,
so it is on by default. Measured side by side in this one process, interleaved round by
round: ``simulate()`` with no real tree, with only the project directory, and with the
project plus ``sys.path`` (what the plugin maps); plus what one lookup of the test's own
``co_filename`` costs the first time (the directory levels it lists).

    python bench/bench_realtree.py            # about 20 s
    python bench/bench_realtree.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.realtree import project_roots

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THIS_FILE = os.path.abspath(__file__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (development)")
    args = parser.parse_args()
    rounds = 40 if args.quick else 300
    everything = project_roots([PROJECT])
    print(f"roots mapped by the plugin here: {everything}")

    def none() -> None:
        with simulate():
            pass

    def project_only() -> None:
        with simulate(real_trees=[PROJECT]):
            pass

    def plugin_roots() -> None:
        # project_roots() as the plugin calls it for each test (cached per sys.path).
        with simulate(real_trees=project_roots([PROJECT])):
            pass

    def plugin_roots_and_lookup() -> None:
        with simulate(real_trees=project_roots([PROJECT])):
            assert os.path.exists(THIS_FILE)

    cases: dict[str, Callable[[], None]] = {
        "no real tree": none,
        "project directory only": project_only,
        "project + sys.path (plugin default)": plugin_roots,
        "same + exists(co_filename) once": plugin_roots_and_lookup,
    }
    for function in cases.values():
        function()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, function in cases.items():
            start = time.perf_counter()
            function()
            samples[name].append((time.perf_counter() - start) * 1000)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"setup + teardown of simulate() (median of {rounds}, ms)")
    for name, value in medians.items():
        print(f"  {name:<38} {value:7.3f}")
    base = medians["no real tree"]
    for name in list(cases)[1:]:
        print(f"  {name} / no real tree: {medians[name] / base:.2f}x")

    start = time.perf_counter()
    for index in range(rounds):
        project_roots([PROJECT, str(index)])  # a new key each time: no cache
    uncached = (time.perf_counter() - start) / rounds * 1e6
    print(f"project_roots() uncached: {uncached:.0f} us (cached per sys.path afterwards)")


if __name__ == "__main__":
    main()
