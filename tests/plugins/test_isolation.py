"""What one simulated test leaves behind never reaches the next, whatever the order.

The simulation keeps some work between tests to start each one faster (the starting tree
copied from a template, ``starting_tree.py``; searches of the loaded modules answered again
while ``sys.modules`` is unchanged, ``module_census.py``; the race model's instrumentation).
These suites check the result as a user sees it: files written in one test, in every
directory the starting tree holds, are absent in the next; modules imported in one test are
patched for the next or dropped; a failing setup or teardown fixture leaves the next test a
clean simulation; in order, in reverse order, shuffled and under pytest-xdist.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = r"""
import os
import sys
import tempfile
import threading

import pytest

RUNS = 6
# The working directory, the simulation's temp directory, the host's temp directory.
PLACES = (os.getcwd(), tempfile.gettempdir(), "C:\\tmp")


def _leftovers():
    found = []
    for directory in PLACES:
        if os.path.isdir(directory):
            names = os.listdir(directory)
            found += [os.path.join(directory, n) for n in names if n.startswith("leak")]
    return found


@pytest.fixture
def breaks_in_setup(winfs):
    with open("leak-setup", "w") as handle:
        handle.write("x")
    raise RuntimeError("setup fixture failed on purpose")


@pytest.fixture
def breaks_in_teardown(winfs):
    yield
    with open("leak-teardown", "w") as handle:
        handle.write("x")
    raise RuntimeError("teardown fixture failed on purpose")


@pytest.mark.parametrize("run", range(RUNS))
def test_starts_clean_and_leaves_a_mess(run, tmp_path):
    assert _leftovers() == []
    assert os.listdir(tmp_path) == []
    # An earlier test's import is loaded again before this simulation (dropped_imports.py):
    # it must hold this test's fake os, never an earlier one's.
    lazy = sys.modules.get("ocirace_isolation_lazy")
    assert lazy is None or lazy.os is os
    assert threading.excepthook is not None
    # What this test leaves: files in every directory of the starting tree, a module
    # imported inside the simulation, a changed working directory.
    for directory in PLACES:
        with open(os.path.join(directory, f"leak-{run}"), "w") as handle:
            handle.write("x")
    (tmp_path / "leak").write_text("x")
    import ocirace_isolation_lazy  # first imported inside the simulation: dropped after

    assert ocirace_isolation_lazy.os is os
    assert type(ocirace_isolation_lazy.os).__module__.startswith("pyfakefs.")
    os.chdir(tempfile.gettempdir())


def test_setup_fixture_fails(breaks_in_setup):
    pass


def test_teardown_fixture_fails(breaks_in_teardown):
    pass


def test_after_the_failing_fixtures():
    assert _leftovers() == []
"""

CONFTEST_REVERSED = """
def pytest_collection_modifyitems(items):
    items.reverse()
"""

CONFTEST_SHUFFLED = """
import random

def pytest_collection_modifyitems(items):
    random.Random(8).shuffle(items)
"""


LAZY = "import os\n"


def _outcomes(result: pytest.RunResult) -> None:
    # 6 + 1 + 1 passed calls; the setup fixture errors, the teardown fixture errors once.
    result.assert_outcomes(passed=8, errors=2)


@pytest.mark.parametrize(
    "conftest",
    ["", CONFTEST_REVERSED, CONFTEST_SHUFFLED],
    ids=["in-order", "reversed", "shuffled"],
)
def test_nothing_of_one_test_reaches_the_next(pytester: pytest.Pytester, conftest: str) -> None:
    pytester.makepyfile(test_isolation_suite=SUITE, ocirace_isolation_lazy=LAZY)
    pytester.makeconftest(conftest)
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    _outcomes(pytester.runpytest_subprocess(*quiet, "--ocirace"))


def test_nothing_of_one_test_reaches_the_next_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_isolation_suite=SUITE, ocirace_isolation_lazy=LAZY)
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    _outcomes(pytester.runpytest_subprocess(*quiet, "--ocirace", "-n", "2"))


ODD_ENTRIES = r"""
import sys
import types
import weakref

KEPT = []


class _Liar:
    @property
    def __class__(self):
        return types.ModuleType


def test_puts_odd_objects_in_sys_modules():
    # jinja2's ModuleLoader registers a weakref.proxy of its template module.
    alive = types.ModuleType("ocirace_odd_alive")
    KEPT.append(alive)
    sys.modules["ocirace_odd_alive"] = weakref.proxy(alive)
    gone = types.ModuleType("ocirace_odd_gone")
    sys.modules["ocirace_odd_gone"] = weakref.proxy(gone)
    del gone  # a dead proxy stays in sys.modules
    sys.modules["ocirace_odd_liar"] = _Liar()
    with open("x.txt", "w") as f:
        f.write("x")


def test_next_one_imports_and_writes():
    import ocirace_odd_lazy  # a change of sys.modules: every census looks again

    with open("y.txt", "w") as f:
        f.write("y")
    assert ocirace_odd_lazy.VALUE == 1


def test_and_the_one_after():
    with open("z.txt", "w") as f:
        f.write("z")
"""


def test_objects_in_sys_modules_that_are_not_modules_break_no_test(
    pytester: pytest.Pytester,
) -> None:
    """A live and a dead ``weakref.proxy`` and an object lying about its class (jinja2: every
    test after its ``ModuleLoader`` tests errored at set-up, 274 of them)."""
    pytester.makepyfile(test_odd_entries=ODD_ENTRIES, ocirace_odd_lazy="VALUE = 1\n")
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    result = pytester.runpytest_subprocess(*quiet, "--ocirace")
    result.assert_outcomes(passed=3)
