"""Short failure reports for the simulation's limits (a process start, C-level file I/O).

A test stopped by ``ProcessStartError`` or ``ForeignIOError`` failed because the simulation
cannot hold what it did, and the one-line message says what to do about it. pytest formats
every frame of a failure from source and parses the frame's whole file again for each
frame: about 3 ms per frame in a 700-line module, more in ``subprocess.py``. In suites
with many such tests those reports were most of the ``--ocirace`` overhead (sqlitedict: 79
of 89 tests fail on ``sqlite3``, each through five frames of ``sqlitedict.py``).

The report keeps the frames down to the last one in a test file (the test's own, another
test module, a conftest), with their source and the error under the last of them, and
names each frame below them in one line (file, line, function), which needs no source.
``--full-trace`` and the ``--tb`` styles that read no source (``line``, ``native``,
``no``) get pytest's report unchanged.
"""

from __future__ import annotations

import os
import sys
import types

import pytest

__all__ = ["SECTION", "shorten"]

#: The report section that names the frames left out.
SECTION = "ocirace limit"

#: ``--tb`` styles that show frames with their source.
_SOURCE_STYLES = ("auto", "long", "short")


def shorten(item: pytest.Item, call: pytest.CallInfo[None]) -> str | None:
    """Cut the failure in ``call`` after the last test-code frame; return the frames cut.

    None (and ``call`` untouched) unless the error is one of the simulation's limits and
    there is something below the test code to leave out. The cut is made in the raw
    traceback (a new chain of the same frames): pytest re-reads the chain from a frame.
    """
    excinfo = call.excinfo
    config = item.config
    if excinfo is None or config.getoption("fulltrace", False):
        return None
    if config.getoption("tbstyle", "auto") not in _SOURCE_STYLES:
        return None
    # By sys.modules: the copy whose guards raised (pytester's in-process runs reload it).
    boundaries = sys.modules.get("pytest_ocirace.fakefs.boundaries")
    limit = getattr(boundaries, "OutsideSimulationError", None)
    if limit is None or not isinstance(excinfo.value, limit):
        return None
    chain: list[types.TracebackType] = []
    tb: types.TracebackType | None = excinfo.tb
    while tb is not None:
        chain.append(tb)
        tb = tb.tb_next
    own = [i for i, tb in enumerate(chain) if _is_test_code(tb.tb_frame.f_code.co_filename, item)]
    if not own:
        return None  # raised outside any test file: nothing to anchor the cut on
    kept, below = chain[: own[-1] + 1], [tb for tb in chain[own[-1] + 1 :] if not _hidden(tb)]
    if not below:
        return None
    cut: types.TracebackType | None = None
    for tb in reversed(kept):
        cut = types.TracebackType(cut, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    assert cut is not None  # kept holds at least the test's frame
    call.excinfo = pytest.ExceptionInfo.from_exc_info((excinfo.type, excinfo.value, cut))
    lines = [
        f"the test reached a limit of the simulation (the error above); the {len(below)} "
        "frame(s) between its call and the limit, without source (--full-trace shows them):"
    ]
    for tb in below:
        code = tb.tb_frame.f_code
        lines.append(f"  {code.co_filename}:{tb.tb_lineno}: in {code.co_name}")
    return "\n".join(lines)


def _is_test_code(filename: str, item: pytest.Item) -> bool:
    """The test's own file, or any test module or conftest (a base class, a helper)."""
    if filename == str(item.path):
        return True
    name = os.path.basename(filename)
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def _hidden(tb: types.TracebackType) -> bool:
    """``__tracebackhide__`` as pytest reads it (the frame's locals, then its globals)."""
    frame = tb.tb_frame
    for namespace in (frame.f_locals, frame.f_globals):
        if "__tracebackhide__" in namespace:
            return bool(namespace["__tracebackhide__"])
    return False
