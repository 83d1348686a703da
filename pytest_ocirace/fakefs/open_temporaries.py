"""Temporary files a simulated test leaves open are closed when its simulation ends.

``tempfile``'s wrapper closes its file from a finalizer (``_TemporaryFileCloser.__del__``)
whenever the collector gets to it. A test that leaves a ``NamedTemporaryFile`` open in a
reference cycle has it closed during some later test, after its own fake filesystem is
gone: pyfakefs then fails inside ``close`` (``AssertionError``), and pytest reports that as
a ``PytestUnraisableExceptionWarning`` in whichever test the collector happened to run
in, a spurious failure under ``-W error``. On Windows the handle is closed (and an
``O_TEMPORARY`` file deleted) whenever that happens; here the simulated machine ends with
the test, so its left-open temporary files are closed with it, through tempfile's own
``close``, which also marks them closed for the finalizer. A plain ``open()`` left open
has no finalizer and needs nothing.
"""

from __future__ import annotations

import weakref
from typing import Protocol

__all__ = ["OpenTemporaries"]


class _Closable(Protocol):
    def close(self) -> None: ...


class OpenTemporaries:
    """The temporary-file wrappers one simulation made, weakly held until it ends."""

    def __init__(self) -> None:
        # Weak: a wrapper the test dropped is finalized (and closed) while the simulation
        # still runs, as on the real machine; only the ones still alive at the end matter.
        self._wrappers: weakref.WeakSet[_Closable] = weakref.WeakSet()

    def add(self, wrapper: _Closable) -> None:
        """Remember ``wrapper`` (what ``NamedTemporaryFile`` returned) until :meth:`close_all`."""
        self._wrappers.add(wrapper)

    def close_all(self) -> None:
        """Close every remembered wrapper; ``close`` does nothing for one already closed."""
        wrappers = list(self._wrappers)
        self._wrappers.clear()
        for wrapper in wrappers:
            try:
                wrapper.close()
            except Exception:
                # What a finalizer would have hit (a failed flush of a handle another
                # thread broke) is not the test's result; the content is gone either way.
                continue
