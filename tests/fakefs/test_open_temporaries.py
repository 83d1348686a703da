"""A temporary file a simulated test leaves open is closed with its simulation.

Otherwise tempfile's finalizer closes it during some later test, when its fake filesystem
is gone, and pyfakefs' failure there surfaces as an unraisable-exception warning in an
unrelated test (a failure under ``-W error``).
"""

from __future__ import annotations

import gc
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.open_temporaries import OpenTemporaries


@pytest.fixture
def unraisable() -> Iterator[list[Any]]:
    """What ``sys.unraisablehook`` received while the test ran."""
    seen: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


class _Cycle:
    """Keeps what it holds until the cycle collector runs, as a test's leftovers often are."""

    def __init__(self, held: object) -> None:
        self.held = held
        self.me = self


def test_one_left_open_in_a_cycle_is_closed_quietly_when_collected_later(
    unraisable: list[Any],
) -> None:
    gc.disable()
    try:
        with simulate() as simulation:
            leftover = tempfile.NamedTemporaryFile()  # noqa: SIM115 - left open on purpose
            leftover.write(b"unflushed")
            name = leftover.name
            _Cycle(leftover)
            del leftover
        # Windows' delete-on-close (O_TEMPORARY) ran as the simulation ended.
        assert not simulation.fs.exists(name)
        with simulate():  # the collector runs in a later simulation, as in a later test
            gc.collect()
        gc.collect()
    finally:
        gc.enable()
    assert unraisable == []


def test_one_kept_is_closed_and_its_content_kept_when_not_deleted(
    unraisable: list[Any],
) -> None:
    with simulate() as simulation:
        kept = tempfile.NamedTemporaryFile(delete=False)  # noqa: SIM115 - left open on purpose
        kept.write(b"content")
    assert kept.closed
    kept.close()  # the test's own close, after the end: nothing to do, nothing raised
    assert simulation.fs.get_object(kept.name).byte_contents == b"content"
    assert unraisable == []


def test_one_closed_by_the_test_is_not_closed_again() -> None:
    with simulate() as simulation:
        with tempfile.NamedTemporaryFile() as closed:
            closed.write(b"deleted on close")
        # A new file under the freed name: a second close (and delete) would take it.
        with open(closed.name, "wb") as reused:
            reused.write(b"the test's own")
    assert simulation.fs.get_object(closed.name).byte_contents == b"the test's own"


def test_a_failing_close_does_not_stop_the_others() -> None:
    class Failing:
        def close(self) -> None:
            raise OSError("the handle was broken by another thread")

    class Closing:
        closed = False

        def close(self) -> None:
            self.closed = True

    temporaries = OpenTemporaries()
    failing, closing = Failing(), Closing()
    temporaries.add(failing)
    temporaries.add(closing)
    temporaries.close_all()
    assert closing.closed


def test_a_later_test_is_not_failed_by_an_earlier_ones_leftover(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import gc
        import tempfile

        class Holder:
            pass

        def test_leaves_a_named_temporary_file_open():
            holder = Holder()
            holder.me = holder
            holder.file = tempfile.NamedTemporaryFile()
            holder.file.write(b"x")

        def test_later():
            gc.collect()
        """
    )
    result = pytester.runpytest_subprocess(
        "--ocirace", "-p", "no:randomly", "-W", "error::pytest.PytestUnraisableExceptionWarning"
    )
    result.assert_outcomes(passed=2)
