"""A limit of the simulation is reported at the test's call; the frames below it are named.

Real subprocess and sqlite3 calls from a library module beside the test, as in the suites
of issue 8 (python-dotenv, sqlitedict): the point is what the failure report shows.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

LIBRARY = """
import sqlite3
import subprocess
import sys


def start():
    return _spawn()


def _spawn():
    return subprocess.run([sys.executable, "-c", "pass"])  # the spawn line


def open_database(path):
    return sqlite3.connect(path)  # the connect line


def broken():
    assert 1 == 2, "a real failure in library code"  # the assert line
"""

TESTS = """
import unittest

import library


def test_process():
    library.start()


def test_sqlite(tmp_path):
    library.open_database(str(tmp_path / "db.sqlite"))


def test_real_failure():
    library.broken()


class Case(unittest.TestCase):
    def setUp(self):
        self.db = library.open_database("x.sqlite")

    def test_it(self):
        pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(library=LIBRARY, test_suite=TESTS)
    return pytester


def _failure(output: str, name: str) -> str:
    """The failure section of test ``name`` in ``output``."""
    start = output.index(f"_ {name} _")
    ends = [output.find(marker, start + 1) for marker in ("\n____", "\n====")]
    return output[start : min(end for end in ends if end != -1)]


def test_a_process_start_shows_the_test_call_and_names_the_library_frames(
    suite: pytest.Pytester,
) -> None:
    result = suite.runpytest_subprocess(
        "--ocirace", "--ocirace-on-limit=fail", "-k", "test_process"
    )
    result.assert_outcomes(failed=1)
    report = _failure(result.stdout.str(), "test_process")
    assert "    library.start()" in report  # the test's line, with its source
    assert "E       pytest_ocirace.fakefs.boundaries.ProcessStartError" in report
    assert "# the spawn line" not in report  # no library source
    assert "ocirace limit" in report
    assert "library.py:7: in start" in report
    assert "library.py:11: in _spawn" in report


def test_sqlite_and_a_unittest_setup_are_cut_the_same_way(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess(
        "--ocirace", "--ocirace-on-limit=fail", "-k", "test_sqlite or Case"
    )
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    for name, call in (
        ("test_sqlite", 'library.open_database(str(tmp_path / "db.sqlite"))'),
        ("Case.test_it", 'self.db = library.open_database("x.sqlite")'),
    ):
        report = _failure(output, name)
        assert call in report, name
        assert "ForeignIOError" in report, name
        assert "# the connect line" not in report, name
        assert "library.py:15: in open_database" in report, name
        # Formatted on the real filesystem: the test's file is named, not "???".
        assert "test_suite.py:" in report, name


def test_full_trace_shows_every_frame(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess(
        "--ocirace", "--ocirace-on-limit=fail", "--full-trace", "-k", "test_process"
    )
    result.assert_outcomes(failed=1)
    report = _failure(result.stdout.str(), "test_process")
    assert "# the spawn line" in report
    assert "ocirace limit" not in report


def test_other_failures_keep_their_library_frames(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess(
        "--ocirace", "--ocirace-on-limit=fail", "-k", "test_real_failure"
    )
    result.assert_outcomes(failed=1)
    report = _failure(result.stdout.str(), "test_real_failure")
    assert "# the assert line" in report
    assert "ocirace limit" not in report
