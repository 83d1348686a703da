"""What a simulated test leaves open is closed with its simulation, and stays closed.

Otherwise tempfile's finalizer closes a temporary file during some later test, when its
fake filesystem is gone, and pyfakefs' failure there surfaces as an unraisable-exception
warning in an unrelated test (a failure under ``-W error``); an ``atexit`` close (pid's
``PidFile``) printed pyfakefs' failure at the end of the session.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import weakref
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.left_open import LeftOpen


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

    class NoFilesystem:
        open_files: ClassVar[list[object]] = []

    left_open = LeftOpen()
    failing, closing = Failing(), Closing()
    left_open.add_temporary(failing)
    left_open.add_temporary(closing)
    left_open.close_all(NoFilesystem())
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


def test_handles_closed_after_the_filesystem_is_gone_close_quietly(
    unraisable: list[Any],
) -> None:
    with simulate() as simulation:
        left_open = open("C:\\left-open.pid", "w")  # noqa: SIM115 - left open on purpose
        left_open.write("1234")
        closed_inside = open("C:\\closed.txt", "w")  # noqa: SIM115
        closed_inside.close()
        descriptor = os.open("C:\\raw.bin", os.O_CREAT | os.O_WRONLY)
        os.write(descriptor, b"raw")
        fs = weakref.ref(simulation.fs)
    assert simulation.fs.get_object("C:\\left-open.pid").contents == "1234"  # flushed
    assert simulation.fs.get_object("C:\\raw.bin").byte_contents == b"raw"
    del simulation
    with simulate():  # pyfakefs' class attributes name the last filesystem until the next
        pass
    gc.collect()
    assert fs() is None
    # As pid's atexit handler does: after the filesystem is gone, a close of a file left
    # open and a second close of one the test closed.
    left_open.close()
    closed_inside.close()
    assert left_open.closed
    assert closed_inside.closed
    assert unraisable == []
