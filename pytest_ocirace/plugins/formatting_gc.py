"""The cycle collector held off while a simulated test's failure is formatted.

pytest formats a failure by parsing the whole source file of each frame it shows
(``ast.parse`` and a walk of the tree, for every report), which allocates an AST of tens of
thousands of nodes per frame. Each 700 allocations start a collection, and a parsed tree
lives long enough to be promoted, so full collections follow: each one walks every object
of the process, which in a simulated suite holds the simulation, the real trees' shown
entries and what earlier tests left in reference cycles. In minimalkv 1.11.2's suite (382
failures that are Windows' own) the collector took about 15 ms per failure report, more
than a third of the reports' time. The trees are acyclic: reference counting frees them
as soon as the frame is formatted, so no collection during the formatting frees anything
it allocated.

A collection there did worse than cost time: the finalizers of what earlier simulated
tests left in cycles ran in the middle of pytest's ``ast.parse``. A fake file left open by
a test whose filesystem is gone raises in its finalizer, pytest's unraisable-exception
hook formats that traceback, and Python 3.11's traceback formatting parses source too: a
parse nested inside another one breaks the outer one's recursion count (CPython's AST
state is shared; ``SystemError: AST constructor recursion depth mismatch``). The plugin
then made the report a second time (``plugins/fakefs.py``): cachecontrol 0.14.0 formatted
8 of its 10 failures twice. The finalizers now run after the report, outside pytest's
parse.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_held"]


@contextmanager
def collector_held() -> Iterator[None]:
    """No automatic collection inside the block; the collector's own setting is kept.

    A test or a library that disabled the collector itself finds it disabled afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
