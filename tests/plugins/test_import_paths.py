"""Path strings a test module computed at import are Windows-spelled inside its simulated tests.

One pytest subprocess holds every scenario module (a fresh interpreter: the modules are imported
before the simulation starts, as in a user's run), and each inner test's outcome is checked by
its node id: one interpreter start instead of one per scenario.
"""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

# boltons' test_iter_find_files: BOLTONS_PATH made at import kept "/", paths os.walk
# made inside joined with "\\", and removeprefix(p, BOLTONS_PATH) missed.
IMPORT_TIME_PATH = """
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

# A global the simulated test rebinds is left as the test set it.
REBOUND_GLOBAL = """
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

# black: THIS_DIR = Path(__file__).parent, and ``assert root.is_absolute()`` inside;
# jinja2: a test class's ``searchpath = Path(__file__).parent / "res"`` compared with
# the name its loader made inside the simulation.
PATHLIB_AND_CLASS_ATTRIBUTES = """
import os
from pathlib import Path

import pytest

THIS_DIR = Path(__file__).parent
OUTSIDE = Path("/not/a/shown/tree")

class TestLoader:
    searchpath = Path(__file__).parent / "res"

    def test_class_attribute(self):
        made_inside = os.path.normpath(os.path.join(str(self.searchpath), "page.html"))
        assert str(self.searchpath / "page.html") == made_inside
        assert self.searchpath.is_absolute() and (self.searchpath / "page.html").is_file()

def test_module_global():
    assert THIS_DIR.is_absolute()
    assert str(THIS_DIR).startswith("C:\\\\")
    assert (THIS_DIR / "res" / "page.html").read_text() == "x"
    assert str(THIS_DIR.resolve()) == str(THIS_DIR)
    assert OUTSIDE.as_posix() == "/not/a/shown/tree"

@pytest.mark.ocirace(enabled=False)
def test_put_back_after_the_simulated_tests():
    assert str(THIS_DIR).startswith("/")
    assert str(TestLoader.searchpath).startswith("/")
    assert type(THIS_DIR).__name__ == "PosixPath"
"""

# portalocker: ``warnings.warn(...)``'s filename (co_filename) == __file__, and
# spec_from_file_location of a path built from __file__ (the import system's own
# POSIX path functions); both broke while __file__ was respelled. A failure's report
# still names the test file and shows its source.
MODULE_FILE = """
import importlib.util
import inspect
import os
import warnings
from os.path import dirname, join

def test_warning_and_frames_name_the_module_file():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("deprecated", DeprecationWarning)
    assert caught[0].filename == __file__
    assert inspect.stack()[0].filename == __file__
    assert open(join(dirname(__file__), "resources", "f.txt")).read() == "x"

def test_a_spec_from_a_path_built_on_the_module_file():
    spec = importlib.util.spec_from_file_location("same", __file__)
    assert spec.origin == __file__

def test_a_failure_still_shows_its_source():
    assert __file__ == "deliberately different"
"""

#: Each scenario module (named as its test was) and the outcome each of its tests must have.
SCENARIOS = {
    "test_a_path_computed_at_import_matches_paths_made_inside": (
        IMPORT_TIME_PATH,
        {
            "test_walk_from_the_import_time_path": "PASSED",
            "test_put_back_after_the_simulated_test": "PASSED",
        },
    ),
    "test_a_global_the_test_rebinds_is_left_as_the_test_set_it": (
        REBOUND_GLOBAL,
        {"test_rebinds": "PASSED", "test_sees_the_rebinding": "PASSED"},
    ),
    "test_pathlib_paths_made_at_import_and_class_attributes_are_windows_paths": (
        PATHLIB_AND_CLASS_ATTRIBUTES,
        {
            "TestLoader::test_class_attribute": "PASSED",
            "test_module_global": "PASSED",
            "test_put_back_after_the_simulated_tests": "PASSED",
        },
    ),
    "test_the_module_file_stays_what_the_code_objects_say": (
        MODULE_FILE,
        {
            "test_warning_and_frames_name_the_module_file": "PASSED",
            "test_a_spec_from_a_path_built_on_the_module_file": "PASSED",
            "test_a_failure_still_shows_its_source": "FAILED",
        },
    ),
}


def _outcomes(output: str) -> dict[str, str]:
    """Each inner node id's outcome, from the ``-rA`` summary lines."""
    return dict(
        (match["nodeid"], match["outcome"])
        for match in re.finditer(
            r"^(?P<outcome>PASSED|FAILED|ERROR|SKIPPED) (?P<nodeid>\S+)", output, re.M
        )
    )


def test_paths_made_at_import_inside_and_after_the_simulated_tests(
    pytester: pytest.Pytester,
) -> None:
    pytester.mkdir("data").joinpath("x.txt").write_text("x")
    pytester.mkdir("res").joinpath("page.html").write_text("x")
    pytester.mkdir("resources").joinpath("f.txt").write_text("x")
    pytester.makepyfile(**{name: source for name, (source, _) in SCENARIOS.items()})
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--ocirace", "-rA", timeout=120
    )
    expected = {
        f"{name}.py::{test}": outcome
        for name, (_, tests) in SCENARIOS.items()
        for test, outcome in tests.items()
    }
    assert _outcomes(result.stdout.str()) == expected, result.stdout.str()
    result.assert_outcomes(passed=9, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_the_module_file_stays_what_the_code_objects_say.py:*AssertionError*"]
    )
    result.stdout.fnmatch_lines(['*>*assert __file__ == "deliberately different"*'])
