"""What a simulated test leaves open is closed when its simulation ends, and stays closed.

A fake file is tied to its fake filesystem; once that is gone, pyfakefs fails on any
``close`` of it, even of a file already closed (it looks the descriptor up in the dead
filesystem: ``AssertionError: assert None is not None``). Two kinds of code close files
after the test that opened them:

- ``tempfile``'s wrapper closes from a finalizer (``_TemporaryFileCloser.__del__``),
  whenever the collector gets to it. A ``NamedTemporaryFile`` left open in a reference
  cycle was closed during some later test; pytest reported the failure there as a
  ``PytestUnraisableExceptionWarning``, a failure of that unrelated test under
  ``-W error`` (cachecontrol's response buffers, about 10 per run).
- ``atexit`` handlers: pid's ``PidFile`` registers ``close`` at creation, and each one a
  test left printed "Exception ignored in atexit callback" at the end of the session.

On Windows such handles are closed (an ``O_TEMPORARY`` file deleted) whenever that
happens; here the simulated machine ends with the test, so its handles end then too:
temporary files are closed through tempfile's own ``close`` (which also marks them closed
for the finalizer); every other handle the simulation made, open (written out first) or
already closed (pid closes its file, and its ``atexit`` handler closes it once more),
forgets its descriptor, so that a later ``close`` finds nothing to do, as on a closed file.
The buffered and text objects the simulated ``open()`` returns (``buffered.py``) hold bytes
their raw stream has not seen: they are written out first, and closed once their
descriptors are forgotten (a close then reaches nothing), so that neither CPython's
finalizer nor an ``atexit`` handler writes to a filesystem that is gone.
Handles are remembered weakly, one set insertion per open.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, Protocol

__all__ = ["LeftOpen"]


class _Closable(Protocol):
    def close(self) -> None: ...


class LeftOpen:
    """One simulation's temporary-file wrappers (weakly held) and its filesystem's handles."""

    def __init__(self) -> None:
        # Weak: a wrapper the test dropped is finalized (and closed) while the simulation
        # still runs, as on the real machine; only the ones still alive at the end matter.
        self._temporaries: weakref.WeakSet[_Closable] = weakref.WeakSet()
        self._handles: weakref.WeakSet[Any] = weakref.WeakSet()
        self._streams: weakref.WeakSet[Any] = weakref.WeakSet()

    def opened(self, handle: Any) -> None:
        """Remember a pyfakefs file wrapper the simulation gave a descriptor."""
        self._handles.add(handle)

    def add_stream(self, stream: Any) -> None:
        """Remember a buffered or text file object ``open()`` returned, until :meth:`close_all`."""
        self._streams.add(stream)

    def add_temporary(self, wrapper: _Closable) -> None:
        """Remember ``wrapper`` (what ``NamedTemporaryFile`` returned) until :meth:`close_all`."""
        self._temporaries.add(wrapper)

    def close_all(self, fs: Any) -> None:
        """Close the temporary files; every handle of ``fs`` (pyfakefs') forgets its descriptor."""
        temporaries = list(self._temporaries)
        self._temporaries.clear()
        for wrapper in temporaries:
            _quietly_close(wrapper)
        streams = list(self._streams)
        self._streams.clear()
        for stream in streams:  # their buffers into the fake files, before the handles go
            with contextlib.suppress(Exception):
                stream.flush()
        handles = {id(handle): handle for handle in self._handles}
        self._handles.clear()
        for slot in list(fs.open_files):  # also what was opened before the simulation
            handles.update((id(handle), handle) for handle in slot or ())
        for handle in handles.values():
            # Written out, not closed: closing would give the descriptor number back, and
            # descriptors.py keeps a leftover number reserved so that a late os.close() of
            # it never closes a real descriptor the kernel handed out since.
            with contextlib.suppress(Exception):
                handle.flush()
            # pyfakefs asks the filesystem whether a handle with a descriptor is open;
            # without one it is closed, and a later close() returns at once.
            handle.filedes = None
        for stream in streams:  # closed now, their raw streams' close reaches nothing
            _quietly_close(stream)


def _quietly_close(handle: _Closable) -> None:
    # What a late close would have hit (a failed flush of a handle another thread broke)
    # is not the test's result; the content is gone with its filesystem either way.
    with contextlib.suppress(Exception):
        handle.close()
