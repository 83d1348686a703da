"""A simulated test that fails after reaching a limit runs again in the process mode.

Real SQLite, real subprocesses, real ``capfd``: the point is what a user's suite does under
``--ocirace`` by default. One pytester run holds most scenarios (each run is a pytest
process), the test names say what each must end as.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SCENARIOS = """
import os, sqlite3, subprocess, sys
import pytest

CODE = (
    "import os, sys; open(sys.argv[1] + '.t', 'w').close(); "
    "os.replace(sys.argv[1] + '.t', sys.argv[2])"
)

def test_passes_sqlite_on_a_file(tmp_path):
    con = sqlite3.connect(str(tmp_path / "db.sqlite"))
    con.execute("create table t (x)")
    con.execute("insert into t values (1)")
    assert con.execute("select x from t").fetchall() == [(1,)]
    con.close()

def test_passes_subprocess():
    out = subprocess.run([sys.executable, "-c", "print(7)"], capture_output=True, check=True)
    assert out.stdout.strip() == b"7"

def test_passes_capfd(capfd):
    os.write(1, b"fd\\n")
    assert capfd.readouterr().out == "fd\\n"

def test_passes_after_a_swallowed_limit_and_a_later_failure():
    # black's way: the error is caught, the test fails later on its result.
    try:
        code = subprocess.run([sys.executable, "-c", "raise SystemExit(123)"]).returncode
    except Exception:
        code = 1
    assert code == 123

def test_passes_first_time_despite_a_swallowed_limit():
    try:
        subprocess.run([sys.executable, "-c", "pass"])
    except Exception:
        pass

def test_fails_for_another_reason():
    assert 1 == 2

def test_fails_with_a_windows_race_in_the_process_mode(tmp_path):
    target = str(tmp_path / "target")
    procs = [subprocess.Popen([sys.executable, "-c", CODE, str(tmp_path / n), target])
             for n in "ab"]
    assert [p.wait() for p in procs] == [0, 0]

@pytest.mark.ocirace(on_limit="fail")
def test_fails_on_limit_fail(tmp_path):
    sqlite3.connect(str(tmp_path / "db.sqlite"))

def test_fails_asking_for_winfs(winfs, tmp_path):
    sqlite3.connect(str(tmp_path / "db.sqlite"))  # needs the fake filesystem: not run again

def test_fails_in_the_process_mode_too(tmp_path):
    sqlite3.connect(str(tmp_path / "db.sqlite")).close()
    assert False, "fails on every disk"
"""

CACHED = """
import sqlite3
import pytest

@pytest.fixture(scope="module")
def shared_db():
    return sqlite3.connect("shared.sqlite")

def test_fails_with_a_cached_limit(request):
    request.getfixturevalue("shared_db")  # inside the simulation: its error is cached

def test_passes_after_it():
    pass
"""


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    found = {}
    for line in result.outlines:
        match = re.match(r"(PASSED|FAILED|ERROR) \S+::(\S+)", line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


def _blocks(result: pytest.RunResult) -> dict[str, str]:
    """Each test's report text (failures, then passes with ``-rA``), by test name."""
    parts = re.split(r"\n_{3,} (\S+) _{3,}\n", result.stdout.str())
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _sections(result: pytest.RunResult, name: str) -> dict[str, str]:
    """The reports that hold a ``--- name ---`` section."""
    return {test: text for test, text in _blocks(result).items() if f"- {name} -" in text}


def test_limits_run_again_in_the_process_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scenarios=SCENARIOS, test_cached=CACHED)
    # Under pytest-xdist, whose workers start the process mode by themselves (the session
    # did not ask for it), and whose controller logs, counts and writes JUnit.
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--ocirace",
        "-n",
        "2",
        "-rA",
        "--junitxml=junit.xml",
        timeout=120,
    )
    found = _outcomes(result)
    expected = {
        name: ("PASSED" if name.startswith("test_passes") else "FAILED")
        for name in re.findall(r"^def (test_\w+)", SCENARIOS + CACHED, re.M)
    }
    assert found == expected, result.stdout.str()
    fallback = _sections(result, "ocirace fallback")
    ran_again = {
        "test_passes_sqlite_on_a_file": "sqlite3.connect",
        "test_passes_subprocess": "processes",
        "test_passes_capfd": "capfd",
        "test_passes_after_a_swallowed_limit_and_a_later_failure": "processes",
        "test_fails_with_a_windows_race_in_the_process_mode": "processes",
        "test_fails_in_the_process_mode_too": "sqlite3.connect",
        "test_fails_with_a_cached_limit": "sqlite3.connect",
    }
    assert set(fallback) == set(ran_again), result.stdout.str()
    for name, limit in ran_again.items():
        assert f"reached a limit of the fake filesystem ({limit})" in fallback[name], name
        assert "the outcome shown is that run's" in fallback[name], name
    lines = (pytester.path / "test_scenarios.py").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "raise SystemExit(123)" in text)
    assert (
        f"test_scenarios.py:{line} in test_passes_after_a_swallowed_limit"
        in fallback["test_passes_after_a_swallowed_limit_and_a_later_failure"]
    )
    # The process mode's race report, in the run shown.
    race = fallback["test_fails_with_a_windows_race_in_the_process_mode"]
    assert re.search(r"-+ ocirace -+", race), race
    assert "fails on every disk" in fallback["test_fails_in_the_process_mode_too"]
    # A limit raised again from pytest's cache: one line, no pretend success.
    cached = fallback["test_fails_with_a_cached_limit"]
    assert "could not run again in the process mode: pytest raised the first run's" in cached
    # on_limit="fail": today's one-line error, not run again.
    kept = _blocks(result)["test_fails_on_limit_fail"]
    assert "E       pytest_ocirace.fakefs.boundaries.ForeignIOError: pytest-ocirace: " in kept
    kept = _blocks(result)["test_fails_asking_for_winfs"]
    assert "E       pytest_ocirace.fakefs.boundaries.ForeignIOError: pytest-ocirace: " in kept
    result.stdout.fnmatch_lines(
        [
            "ocirace: 7 tests reached a limit of the fake filesystem and ran in the process "
            "mode (sqlite3.connect: 3, processes: 3, capfd: 1)"
        ]
    )
    # One outcome per test: the first run was not logged.
    assert result.parseoutcomes() == {"passed": 6, "failed": 6}, result.stdout.str()
    root = ET.parse(pytester.path / "junit.xml").getroot()
    properties = {
        case.get("name"): [
            json.loads(p.get("value", "{}"))
            for p in case.iter("property")
            if p.get("name") == "ocirace_fallback"
        ]
        for case in root.iter("testcase")
    }
    assert {name for name, found in properties.items() if found} == set(ran_again)
    assert properties["test_passes_capfd"][0]["limit"] == "capfd"
    assert len(root.findall(".//testcase")) == 12


def test_one_outcome_for_x_and_lf(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sqlite3

        def test_a(tmp_path):
            sqlite3.connect(str(tmp_path / "db")).close()

        def test_b(tmp_path):
            sqlite3.connect(str(tmp_path / "db")).close()
            assert False

        def test_c():
            pass
        """
    )
    # -x stops at the failure shown (test_b's second run), not at test_a's first run.
    first = pytester.runpytest_inprocess("--ocirace", "-x", "-q")
    assert first.parseoutcomes() == {"passed": 1, "failed": 1}, first.stdout.str()
    again = pytester.runpytest_inprocess("--ocirace", "--lf", "-q")
    assert again.parseoutcomes() == {"failed": 1}, again.stdout.str()
    again.stdout.fnmatch_lines(["FAILED *::test_b - assert False"])


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (
            ["--ocirace-on-limit=retry"],
            "",
            "--ocirace-on-limit: 'retry' is not a choice; use one of processes, fail *",
        ),
        ([], "ocirace_on_limit = never", "ini ocirace_on_limit: 'never' is not a choice*"),
    ],
)
def test_a_bad_value_is_one_usage_line(
    pytester: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_inprocess("--ocirace", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_a_bad_marker_value_is_one_usage_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ocirace(on_limit="twice")
        def test_x():
            pass
        """
    )
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: test_*.py::test_x: @pytest.mark.ocirace(on_limit=...): 'twice' is not a choice*"]
    )
