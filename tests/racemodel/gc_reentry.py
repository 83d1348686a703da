"""Make the garbage collector run code in the middle of the model's own bookkeeping.

A ``__del__`` may run at any allocation, on whatever thread allocates; if that allocation is
the model's, under one of its locks, and the ``__del__`` releases a lock the model tracks
(filelock's ``BaseFileLock.__del__`` does), the model is re-entered from the same thread.
These helpers make that happen at *every* collection in a window, with the collector run at
every other allocation, so a section of ours that is not safe against it is certain to be hit.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: How long a test waits for a thread that should finish: a regression fails, never hangs.
PATIENCE = 10.0


@contextmanager
def collecting_everywhere(on_collect: Callable[[], None]) -> Iterator[None]:
    """Within the block, every collection on this thread runs ``on_collect`` from a ``__del__``.

    Collections that other threads trigger (pytest-xdist's I/O thread) only re-arm: the
    test's bookkeeping is then changed by the thread under test alone.
    """
    armed = [True]
    owner = threading.get_ident()

    class Garbage:
        def __init__(self) -> None:
            self.cycle = self  # only the collector frees it

        def __del__(self) -> None:
            if armed[0]:
                if threading.get_ident() == owner:
                    on_collect()
                Garbage()  # the next collection runs it again

    threshold = gc.get_threshold()
    Garbage()
    gc.set_threshold(1)
    try:
        yield
    finally:
        armed[0] = False
        gc.set_threshold(*threshold)
        gc.collect()


def finishes(body: Callable[[], None]) -> bool:
    """Run ``body`` on a fresh daemon thread; whether it returned within ``PATIENCE``."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(PATIENCE)
    if errors:
        raise errors[0]
    return not thread.is_alive()
