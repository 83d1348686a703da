"""The fixed CPU cost of one simulated test, against a plain one, baseline against this checkout.

Claim (issue 8, docs/performance.md "The fixed cost per simulated test"): what
``--ocirace`` adds to each test, measured in CPU seconds so that a loaded machine does not
move it much. A generated suite of ``--tests`` tests runs with a ``conftest.py`` that sums
``time.process_time`` over each test's whole ``pytest_runtest_protocol`` (setup, call,
teardown, reports): the cost per test. The session's start-up (user + sys of a run of one
test) is printed apart. Two kinds of test: an empty body, and a body of five file
operations in ``tmp_path`` (write, read, stat, replace, remove). Three variants,
interleaved round by round in one run: plain pytest, ``--ocirace`` of a baseline checkout
(first on ``PYTHONPATH``: ``git archive main | tar -x -C /tmp/base``) and ``--ocirace`` of
this checkout; the minimum over the rounds is kept.

    python bench/bench_test_overhead.py --baseline /tmp/base
    python bench/bench_test_overhead.py --baseline /tmp/base --tests 300 --rounds 5
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

BODIES = {
    "empty": "pass",
    "5 file ops": textwrap.dedent(
        """\
        target = tmp_path / "data.txt"
        target.write_text("hello")
        assert target.read_text() == "hello"
        assert target.stat().st_size == 5
        os.replace(target, tmp_path / "moved.txt")
        os.remove(tmp_path / "moved.txt")"""
    ),
}


PROBE = textwrap.dedent(
    """\
    import os
    import time

    import pytest

    TOTAL = [0.0, 0]


    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(item, nextitem):
        start = time.process_time()
        yield
        TOTAL[0] += time.process_time() - start
        TOTAL[1] += 1


    def pytest_sessionfinish(session):
        with open(os.environ["OVERHEAD_OUT"], "w") as out:
            out.write(f"{TOTAL[0]} {TOTAL[1]}")
    """
)


def _suite(folder: Path, kind: str, count: int) -> Path:
    path = folder / f"test_{kind.replace(' ', '_')}_{count}.py"
    args = "i" if kind == "empty" else "i, tmp_path"
    body = textwrap.indent(BODIES[kind], "    ")
    path.write_text(
        "import os\nimport pytest\n\n\n"
        f"@pytest.mark.parametrize('i', range({count}))\n"
        f"def test_it({args}):\n{body}\n"
    )
    return path


def _cpu(test_file: Path, ocirace: bool, pythonpath: Path | None) -> tuple[float, float]:
    """CPU of the whole run, and per test (inside pytest_runtest_protocol)."""
    out = test_file.parent / "probe.out"
    env = dict(os.environ, PYTHONHASHSEED="0", OVERHEAD_OUT=str(out))
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # start-up would compile every module
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-p",
        "no:xdist",
        f"--basetemp={test_file.parent.parent / 'tmp'}",
        str(test_file),
    ]
    if ocirace:
        command.append("--ocirace")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        command, cwd=test_file.parent, env=env, capture_output=True, text=True, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"bench_test_overhead: {command} failed:\n{proc.stdout[-2000:]}")
    total, count = out.read_text().split()
    whole = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return whole, float(total) / int(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    baseline = args.baseline.resolve()
    if not (baseline / "pytest_ocirace" / "__init__.py").is_file():
        print(f"bench_test_overhead: {baseline} is not a pytest-ocirace checkout", file=sys.stderr)
        return 2
    variants = (("plain", False, None), ("baseline", True, baseline), ("this", True, HERE))
    for checkout in (baseline, HERE):  # start-up must not include compiling either one
        compileall.compile_dir(checkout / "pytest_ocirace", quiet=1)
    loads = []
    with tempfile.TemporaryDirectory(prefix="ocirace-overhead-") as tmp:
        folder = Path(tmp) / "suite"
        folder.mkdir()
        (folder / "conftest.py").write_text(PROBE)
        files = {k: _suite(folder, k, args.tests) for k in BODIES}
        startup_file = _suite(folder, "empty", 1)
        per_test: dict[tuple[str, str], float] = {}
        startup: dict[str, float] = {}
        for _ in range(args.rounds):
            for label, ocirace, path in variants:
                whole, _ = _cpu(startup_file, ocirace, path)
                startup[label] = min(startup.get(label, whole), whole)
                for kind in BODIES:
                    _, each = _cpu(files[kind], ocirace, path)
                    per_test[kind, label] = min(per_test.get((kind, label), each), each)
            loads.append(os.getloadavg()[0])
    print(
        f"CPU per test (time.process_time over pytest_runtest_protocol, {args.tests} tests, "
        f"min of {args.rounds} rounds), load average {min(loads):.1f}-{max(loads):.1f}"
    )
    print(f"{'':12} {'plain':>9} {'baseline':>9} {'this':>9} {'added: base':>12} {'this':>9}")
    rows = [("start-up", startup)] + [
        (kind, {label: per_test[kind, label] for label, _, _ in variants}) for kind in BODIES
    ]
    for kind, values in rows:
        unit, scale = ("s", 1.0) if kind == "start-up" else ("ms", 1000.0)
        cells = [f"{values[label] * scale:7.3f}{unit:>2}" for label, _, _ in variants]
        added_base = (values["baseline"] - values["plain"]) * scale
        added_this = (values["this"] - values["plain"]) * scale
        print(
            f"{kind:12} {' '.join(cells)} {added_base:9.3f}{unit:>2} {added_this:7.3f}{unit:>2}"
            f"  ({added_this / added_base:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
