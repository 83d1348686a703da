"""No garbage collection while pytest formats a simulated test's failure (plugins/formatting_gc.py).

A collection there runs the finalizers of earlier tests' leftovers inside pytest's
``ast.parse`` of a source file (on Python 3.11 a finalizer's traceback, formatted by
pytest's unraisable hook, parses too, and breaks the outer parse), and costs a walk of
every object per collection. The inner suite lowers the collector's threshold so that,
without the hold, a collection certainly starts inside ``repr_failure``; a callback
records where each collection started.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TESTS = """
import gc
import sys

STARTS = []


def _where(phase, info):
    if phase != "start":
        return
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "repr_failure":
            STARTS.append("formatting")
            return
        frame = frame.f_back
    STARTS.append("elsewhere")


def test_fails():
    gc.callbacks.append(_where)
    gc.set_threshold(10)
    assert 1 == 2, "the true error"  # the assert line


def test_collections_ran_outside_the_formatting():
    gc.set_threshold(700, 10, 10)
    gc.callbacks.remove(_where)
    assert STARTS, "the collector never ran: the test proves nothing"
    assert "formatting" not in STARTS, STARTS
"""


@pytest.mark.parametrize("simulated", [True, False])
def test_no_collection_while_a_simulated_failure_is_formatted(
    pytester: pytest.Pytester, simulated: bool
) -> None:
    pytester.makepyfile(test_suite=TESTS)
    result = pytester.runpytest_subprocess(*(["--ocirace"] if simulated else []))
    output = result.stdout.str()
    if not simulated:
        # The control: outside the simulation pytest formats as it always does, and the
        # collector does run inside its formatting (so the inner check can fail).
        result.assert_outcomes(failed=2)
        assert "'formatting'" in output
        return
    result.assert_outcomes(passed=1, failed=1)
    # The report is pytest's own: the true error and the test's source line.
    assert "assert 1 == 2" in output
    assert "# the assert line" in output
    assert "AssertionError: the true error" in output
    assert "could not be made" not in output
