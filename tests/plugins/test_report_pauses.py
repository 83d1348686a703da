"""pyfakefs' pause around a simulated test's reports: left out for the known report hooks only."""

from __future__ import annotations

import pytest

from pytest_ocirace.plugins.report_pauses import KNOWN_REPORT_HOOKS

pytest_plugins = ["pytester"]

#: A test module that counts pyfakefs' pauses (patched at its import, before any simulation).
COUNTING = """
import os
import pytest
from pyfakefs.fake_filesystem_unittest import Patcher

PAUSES = []
_pause = Patcher.pause

def _counting(self):
    PAUSES.append(os.environ.get("PYTEST_CURRENT_TEST", ""))
    _pause(self)

Patcher.pause = _counting

@pytest.fixture
def data():
    with open("fixture.txt", "w") as handle:
        handle.write("made in setup")
    yield "fixture.txt"

def test_one(data):
    with open(data) as handle:
        assert handle.read() == "made in setup"
    os.replace(data, "moved.txt")

def test_two():
    assert not os.path.exists("moved.txt")
    assert not os.path.exists("fixture.txt")

@pytest.mark.ocirace(enabled=False)
def test_zz_pauses():  # on the real disk: the pauses of the two tests before
    with open("pauses.txt", "w") as handle:
        handle.write(repr(PAUSES))
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:randomly")
    return pytester.runpytest_subprocess(*quiet, *args, timeout=120)


def _pauses(pytester: pytest.Pytester) -> str:
    return (pytester.path / "pauses.txt").read_text()


def test_known_hooks_report_without_a_pause(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_counting=COUNTING)
    result = _run(pytester, "--ocirace", "-p", "no:xdist")
    result.assert_outcomes(passed=3)
    assert _pauses(pytester) == "[]"
    assert not (pytester.path / "moved.txt").exists()  # the test's files stayed fake


def test_an_xdist_worker_reports_without_a_pause(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_counting=COUNTING)
    result = _run(pytester, "--ocirace", "-n", "1")
    result.assert_outcomes(passed=3)
    assert _pauses(pytester) == "[]"
    assert not (pytester.path / "moved.txt").exists()


def test_another_report_hook_still_writes_the_real_disk(pytester: pytest.Pytester) -> None:
    # A conftest (or any plugin not known to leave the disk alone) may write a file by path
    # while a report is made: pyfakefs pauses for it as before, so it reaches the real disk.
    log = pytester.path / "reports.log"
    pytester.makeconftest(
        f"""
        def pytest_runtest_logreport(report):
            if report.when != "teardown":
                with open({str(log)!r}, "a") as handle:
                    handle.write(report.when + " " + report.nodeid + "\\n")
        """
    )
    pytester.makepyfile(test_counting=COUNTING)
    # on_limit=fail: pytest logs each report inside the test (by default limit_fallback.py
    # logs them after its teardown, when no simulation runs, so no pause is needed).
    result = _run(pytester, "--ocirace", "-p", "no:xdist", "--ocirace-on-limit=fail")
    result.assert_outcomes(passed=3)
    written = log.read_text().splitlines()
    assert "call test_counting.py::test_one" in written
    assert "setup test_counting.py::test_two" in written
    pauses = _pauses(pytester)
    assert "test_one" in pauses
    assert "test_two" in pauses


@pytest.mark.parametrize("workers", [(), ("-n", "1")], ids=["in-process", "xdist-worker"])
def test_the_known_hooks_are_the_ones_a_plain_session_registers(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    # Guards the list against a renamed module: a plain session (pytest, pyfakefs, this
    # plugin, xdist, in the controller and in a worker) has no unknown report hook.
    if workers:
        pytest.importorskip("xdist")
    pytester.makepyfile(
        """
        def test_listed(request):
            pauses = request.config.pluginmanager.get_plugin("ocirace-report-pauses")
            assert pauses.unknown_hooks() == []
        """
    )
    _run(pytester, *workers).assert_outcomes(passed=1)
    assert "pytest_ocirace.plugins.races" in KNOWN_REPORT_HOOKS
