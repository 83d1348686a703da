"""Which modules in a failure's traceback chose their platform when they were imported.

Such a module (atomicwrites' ``if sys.platform != "win32"``, filelock's ``FileLock``
alias) runs its POSIX branch against Windows' rules, where real Windows would have taken
the other branch. Both modes fail it the same way, and the fix differs by mode: the fake
filesystem can import the module as on Windows (``windows_import_modules``), the process
mode cannot (its disk and its interpreter are the host's, with no ``msvcrt`` or
``ctypes.windll`` behind a Windows branch), so its note says to run the test in the fake
filesystem instead. One note, one scan, for both reports.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import pytest

__all__ = ["note"]

#: Top-level modules never worth naming in a platform note: the test run's own machinery.
_NOT_CODE_UNDER_TEST = ("pytest", "_pytest", "pluggy", "pyfakefs", "pytest_ocirace")


def _chosen_at_import(
    item: pytest.Item, exc: BaseException, imported: Sequence[str]
) -> tuple[list[str], list[str]]:
    """One line per module in the traceback chain that branched at import, and their roots.

    The test's own files are left out (their ``skipif(sys.platform ...)`` are not the code
    under test), and so are modules already imported as on Windows (``imported``).
    """
    from pytest_ocirace.fakefs.platform_scan import import_time_choice

    test_file = str(item.path)
    lines: list[str] = []
    roots: list[str] = []
    seen: set[str] = set()
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for error in chain:
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            tb = tb.tb_next
            name = frame.f_globals.get("__name__")
            filename = frame.f_code.co_filename
            if not isinstance(name, str) or name in seen or filename == test_file:
                continue
            seen.add(name)
            root = name.split(".")[0]
            if root in _NOT_CODE_UNDER_TEST or root in sys.stdlib_module_names:
                continue
            if any(name == m or name.startswith(m + ".") for m in imported):
                continue
            base = os.path.basename(filename)
            if base == "conftest.py" or base.startswith("test_") or base.endswith("_test.py"):
                continue
            choice = import_time_choice(filename)
            if choice is None:
                continue
            lines.append(f"  {name} ({choice.describe()})")
            if root not in roots:
                roots.append(root)
    return lines, roots


def note(
    item: pytest.Item,
    exc: BaseException,
    imported: Sequence[str] = (),
    *,
    process_mode: bool = False,
) -> str | None:
    """The ``ocirace platform`` section of a failed test's report, or None."""
    lines, roots = _chosen_at_import(item, exc, imported)
    if not lines:
        return None
    names = " ".join(roots)
    listed = ", ".join(repr(r) for r in roots)
    head = (
        "these modules in the traceback chose their platform when they were imported, so "
        "they run their non-Windows branch against Windows rules (real Windows would take "
        "the other branch):\n" + "\n".join(lines)
    )
    if process_mode:
        return head + (
            "\nthe process mode runs them as the host imported them: it cannot import them "
            "as on Windows (its disk and interpreter are the host's). If the test starts no "
            "process, run it in the fake filesystem "
            "(@pytest.mark.ocirace(processes=False)) with "
            f"--ocirace-windows-import-modules='{names}'"
        )
    return head + (
        f"\nimport them as on Windows: --ocirace-windows-import-modules='{names}' "
        f"(ini: ocirace_windows_import_modules = {names}; marker: "
        f"@pytest.mark.ocirace(windows_import_modules=[{listed}]))"
        "\nor, if their Windows branch needs what the simulation lacks (pywin32), keep "
        "what they chose at import and show Windows only to their checks at call time: "
        f"--ocirace-windows-platform-modules='{names}'"
    )
