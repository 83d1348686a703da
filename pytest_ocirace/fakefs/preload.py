"""Import, before pyfakefs' patcher starts, every module a simulation may import later.

pyfakefs drops from ``sys.modules`` every module first imported while its patcher runs, so
that no module keeps a fake ``os`` after the test. A module of this plugin that the
simulation imported lazily (the platform view's Windows constants, the file-lock layer) was
therefore imported and compiled again for every simulated test, twice when the test paused
the fake filesystem; so was a module named in ``windows_platform_modules`` that the test's
own imports had not loaded. In safer 6.1.0's suite that was most of the time
``--ocirace`` added (``bench/bench_suites.py``; docs/performance.md).

Imported here, before the patcher, they are loaded once, bind the real modules, and get
pyfakefs' patching like every other loaded module.

The standard modules whose classes the race model instruments (``queue``,
``concurrent.futures.thread``: ``sync.INSTRUMENTED_MODULES``) are imported here too. A
suite that first used a thread pool inside a simulated test (asyncio's ``run_in_executor``
and ``to_thread`` import it lazily) had the instrumented module dropped when pyfakefs
paused after the set-up report, and the test body got a fresh, uninstrumented
``ThreadPoolExecutor``: its work items ran with no edge from their submitter, and
persist-queue's async queue failed with a false ``[WinError 32]`` on every put.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

__all__ = ["SIMULATION_MODULES", "load_before_patching"]

#: Every module of the packages whose code runs inside a simulation (the pytest glue imports
#: its own modules before any simulated test starts). Written out, not listed from the disk
#: at run time: a listing made while pyfakefs patches (a simulation started inside a test
#: that uses pyfakefs' ``fs``) reads the fake filesystem and finds nothing.
#: ``tests/fakefs/test_preload.py`` fails when a module is added to one of these packages
#: and not here.
SIMULATION_MODULES: tuple[str, ...] = (
    "pytest_ocirace.winrules",
    *(f"pytest_ocirace.winrules.{name}" for name in ("decisions", "errors", "names", "options")),
    "pytest_ocirace.racemodel",
    *(
        f"pytest_ocirace.racemodel.{name}"
        for name in ("clocks", "events", "model", "queue_tags", "report", "stacks", "sync")
    ),
    "pytest_ocirace.fakefs",
    *(
        f"pytest_ocirace.fakefs.{name}"
        for name in (
            "boundaries",
            "buffered",
            "captured_separators",
            "class_functions",
            "default_args",
            "descriptors",
            "directory_order",
            "expanduser",
            "dropped_imports",
            "fake_functions",
            "fake_imports",
            "fastpaths",
            "fileio",
            "filelocks",
            "filesystem",
            "handles",
            "inforce",
            "locking",
            "mock_targets",
            "module_census",
            "left_open",
            "os_capabilities",
            "os_functions",
            "patcher",
            "path_stand_in",
            "path_variable",
            "pathclasses",
            "platform",
            "platform_import",
            "platform_scan",
            "preload",
            "read_maps",
            "real_twins",
            "realtree",
            "skip_check",
            "starting_tree",
            "stdlib",
            "storms",
            "streams",
            "symlinks",
            "walkstamps",
            "windows_modules",
            "wrapped_functions",
            "wrapper_attributes",
            "writer_seam",
            "zipimports",
            "zoneinfo_paths",
        )
    ),
)


def load_before_patching(named: Iterable[str] = ()) -> None:
    """Import the simulation's modules and the ``named`` modules of the code under test.

    Only ``sys.modules`` is checked each time: pytester's in-process runs drop modules
    between runs, and they must come back. A named module that cannot be imported is left
    for the option that names it, which reports it with its own one-line error
    (``platform.PlatformError``).
    """
    from pytest_ocirace.racemodel.sync import INSTRUMENTED_MODULES

    _ask_the_platform_once()

    for name in (*SIMULATION_MODULES, *INSTRUMENTED_MODULES):
        if name not in sys.modules:
            importlib.import_module(name)
    for name in named:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                continue


def _ask_the_platform_once() -> None:
    """Let ``platform`` start its one probe process now, outside any simulation.

    ``platform.uname().processor`` runs ``uname -p`` the first time it is read, and keeps
    the answer for the process's life. Read first inside a simulated test
    (``platform.platform()`` in a fixture: cookiecutter's 44 prompt tests), that start was
    refused with ``ProcessStartError``, for a query that touches no file. Asked here once,
    the answer is kept before any simulation starts.
    """
    import platform

    platform.uname().processor  # noqa: B018 - the read fills platform's cache
