"""Import, before pyfakefs' patcher starts, every module a simulation may import later.

pyfakefs drops from ``sys.modules`` every module first imported while its patcher runs, so
that no module keeps a fake ``os`` after the test. A module of this plugin that the
simulation imported lazily (the platform view's Windows constants, the file-lock layer) was
therefore imported and compiled again for every simulated test, twice when the test paused
the fake filesystem; so was a module named in ``windows_platform_modules`` that the test's
own imports had not loaded. In safer 6.1.0's suite that was most of the time
``--ocirace`` added (``bench/bench_suites.py``; docs/performance.md).

Imported here, before the patcher, they are loaded once, bind the real modules, and get
pyfakefs' patching like every other loaded module. The list is computed once per process;
each simulation only checks ``sys.modules``, because pytester's in-process runs drop modules
between runs and they must come back.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterable

__all__ = ["SIMULATION_PACKAGES", "load_before_patching", "simulation_modules"]

#: The packages whose modules run inside a simulation (the pytest glue imports its own
#: modules before any simulated test starts).
SIMULATION_PACKAGES = (
    "pytest_ocirace.winrules",
    "pytest_ocirace.racemodel",
    "pytest_ocirace.fakefs",
)

_NAMES: list[str] = []


def simulation_modules() -> list[str]:
    """Every module of :data:`SIMULATION_PACKAGES`, found on disk once per process."""
    if not _NAMES:
        for package_name in SIMULATION_PACKAGES:
            package = importlib.import_module(package_name)
            _NAMES.append(package_name)
            _NAMES.extend(
                f"{package_name}.{info.name}" for info in pkgutil.iter_modules(package.__path__)
            )
    return _NAMES


def load_before_patching(named: Iterable[str] = ()) -> None:
    """Import the simulation's modules and the ``named`` modules of the code under test.

    A named module that cannot be imported is left for the option that names it, which
    reports it with its own one-line error (``platform.PlatformError``).
    """
    for name in simulation_modules():
        if name not in sys.modules:
            importlib.import_module(name)
    for name in named:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
