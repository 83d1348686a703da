"""Threads a test starts to block on a fake file lock or name, and finishes with a deadline."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: Seconds a test waits for such a thread before it fails instead of hanging.
PATIENCE = 10.0


def in_thread(
    target: Callable[[], Any], *, daemon: bool = False
) -> tuple[threading.Thread, list[Any]]:
    """``target`` running in a started thread; the list gets its result or exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(target())
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=daemon)
    thread.start()
    return thread, outcome


def finish(thread: threading.Thread) -> None:
    thread.join(PATIENCE)
    assert not thread.is_alive(), "the thread is still blocked"
