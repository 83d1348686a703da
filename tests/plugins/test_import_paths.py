"""Path strings a test module computed at import are Windows-spelled inside its simulated tests."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_a_path_computed_at_import_matches_paths_made_inside(pytester: pytest.Pytester) -> None:
    # boltons' test_iter_find_files: BOLTONS_PATH made at import kept "/", paths os.walk
    # made inside joined with "\\", and removeprefix(p, BOLTONS_PATH) missed.
    pytester.mkdir("data").joinpath("x.txt").write_text("x")
    pytester.makepyfile(
        """
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ELSEWHERE = "/not/a/shown/tree"

def test_walk_from_the_import_time_path():
    found = [os.path.join(root, name) for root, _, names in os.walk(HERE) for name in names]
    relative = [p.removeprefix(HERE).lstrip(os.sep) for p in found]
    assert os.path.join("data", "x.txt") in relative
    assert HERE.startswith("C:\\\\") and os.path.isdir(HERE)
    assert ELSEWHERE == "/not/a/shown/tree"

@pytest.mark.ocirace(enabled=False)
def test_put_back_after_the_simulated_test():
    assert HERE.startswith("/")
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(passed=2)


def test_a_global_the_test_rebinds_is_left_as_the_test_set_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

def test_rebinds():
    global HERE
    HERE = "mine"

@pytest.mark.ocirace(enabled=False)
def test_sees_the_rebinding():
    assert HERE == "mine"
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(passed=2)


def test_the_module_file_is_windows_spelled_inside_and_put_back_after(
    pytester: pytest.Pytester,
) -> None:
    # aiofiles' test_abspath: join(dirname(__file__), "resources", ...) against
    # os.path.abspath of the same file made inside ('C:\\...'): on Windows both are one
    # spelling. A failure's report still names the test file and shows its source.
    pytester.mkdir("resources").joinpath("f.txt").write_text("x")
    pytester.makepyfile(
        """
import inspect
import os
import sys
from os.path import dirname, join

import pytest

def test_file_and_abspath_agree():
    expected = join(dirname(__file__), "resources", "f.txt")
    assert expected.startswith("C:\\\\")
    assert os.path.abspath(os.path.relpath(expected)) == expected
    assert open(expected).read() == "x"
    assert inspect.getfile(sys.modules[__name__]) == __file__

def test_a_failure_still_shows_its_source():
    assert __file__ == "deliberately different"

@pytest.mark.ocirace(enabled=False)
def test_put_back_after_the_simulated_test():
    assert __file__.startswith("/") and __file__ == __spec__.origin
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_the_module_file_is_windows_spelled_inside_and_put_back_after.py:*AssertionError*"]
    )
    result.stdout.fnmatch_lines(['*>*assert __file__ == "deliberately different"*'])
