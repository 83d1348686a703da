"""The filesystem layer's one lock stays one lock, whatever re-imports the module."""

from __future__ import annotations

import importlib
import sys

from pytest_ocirace.fakefs import locking


def test_a_fresh_import_of_the_module_shares_the_lock() -> None:
    # Regression: pytester's in-process runs drop modules imported during a run, the next
    # run imported a new copy with a new lock, and wrappers of both copies deadlocked two
    # threads (each held one lock and wanted the other).
    saved = sys.modules.pop("pytest_ocirace.fakefs.locking")
    try:
        fresh = importlib.import_module("pytest_ocirace.fakefs.locking")
        assert fresh is not saved
        assert fresh.LOCK is saved.LOCK
    finally:
        sys.modules["pytest_ocirace.fakefs.locking"] = saved


def test_the_lock_is_reentrant() -> None:
    with locking.LOCK, locking.LOCK:
        pass
