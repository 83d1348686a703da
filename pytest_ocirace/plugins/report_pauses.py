"""pyfakefs' pause around a simulated test's reports, left out when no report hook needs it.

pyfakefs' pytest plugin pauses its patcher around every ``pytest_runtest_logreport`` (the
setup and the call report of each simulated test), in case a report hook writes a file by
path: paused, that file reaches the real disk. A pause and its resume cost about 0.3-0.5
ms of CPU each time (the resume stubs every patched module global again), so about 1 ms
per simulated test, as much as the rest of its fake filesystem's setup together.

The hooks that run inside a report are known: pytest's own (the terminal reporter writes
to its stream, opened before the test; JUnit XML, the cache, step-wise and the session
count in memory until the session ends), xdist's worker (a message over its channel, a
stream opened at its start), pytest-rerunfailures' (in memory) and this plugin's. When
every implementation of the hooks that run inside a report is one of those, the report is
made without the pause: pyfakefs' hook is shown no running patcher for the length of the
call. When any other implementation is registered (a ``conftest.py``, another plugin),
pyfakefs pauses as before, since it may write a file by path. The failure report itself is
formatted earlier, in ``pytest_runtest_makereport``, which pauses on its own when there is
a failure to format (``plugins/fakefs.py``).

Registered in ``pytest_configure``, after the entry-point plugins: of two ``tryfirst``
wrappers, pluggy calls the later registered one first, so this one is outside pyfakefs'.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

__all__ = ["KNOWN_REPORT_HOOKS", "KNOWN_WORKER_HOOKS", "REPORT_HOOKS", "ReportPauses"]

#: The hooks that run while a test report is logged: the report hook itself, the status
#: the terminal reporter asks for, and xdist's serialisation of it.
REPORT_HOOKS: tuple[str, ...] = (
    "pytest_runtest_logreport",
    "pytest_report_teststatus",
    "pytest_report_to_serializable",
)

#: Modules whose implementations of :data:`REPORT_HOOKS` open no file by path (read for
#: pytest 9.2, pytest-xdist 3.8, pytest-rerunfailures 16.7, pyfakefs 6.3).
KNOWN_REPORT_HOOKS: frozenset[str] = frozenset(
    {
        "_pytest.cacheprovider",
        "_pytest.junitxml",
        "_pytest.logging",
        "_pytest.main",
        "_pytest.reports",
        "_pytest.runner",
        "_pytest.skipping",
        "_pytest.stepwise",
        "_pytest.subtests",
        "_pytest.terminal",
        "pyfakefs.pytest_plugin",
        "pytest_ocirace.plugins.limit_fallback",
        "pytest_ocirace.plugins.races",
        "pytest_ocirace.plugins.report_pauses",
        "pytest_rerunfailures",
        "xdist.looponfail",
        "xdist.remote",
    }
)

#: xdist's worker runs ``xdist/remote.py`` (and ``looponfail.py``) from its source through
#: execnet, which names that module ``__channelexec__``: its implementations, by name.
KNOWN_WORKER_HOOKS: frozenset[str] = frozenset(
    {
        "WorkerInteractor.pytest_runtest_logreport",
        "WorkerFailSession.pytest_runtest_logreport",
    }
)


class ReportPauses:
    """Whether the report of the simulated test running now is made without pyfakefs' pause."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        #: The node id of the test whose simulation runs now (set by the ``winfs`` fixture).
        self.simulated: str | None = None

    def unknown_hooks(self) -> list[str]:
        """The report hook implementations not known to leave the disk alone, by name."""
        found = []
        for name in REPORT_HOOKS:
            caller = getattr(self._config.hook, name, None)
            if caller is None:
                continue
            for impl in caller.get_hookimpls():
                module = getattr(impl.function, "__module__", None)
                if module in KNOWN_REPORT_HOOKS:
                    continue
                qualname = getattr(impl.function, "__qualname__", None)
                if module == "__channelexec__" and qualname in KNOWN_WORKER_HOOKS:
                    continue
                found.append(f"{module}.{qualname}")
        return found

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, Any, Any]:
        if self.simulated is None or report.nodeid != self.simulated:
            return (yield)
        from pyfakefs.fake_filesystem_unittest import Patcher

        patcher = Patcher.PATCHER
        if patcher is None or not patcher.is_patching or self.unknown_hooks():
            return (yield)
        # pyfakefs' own wrapper, called next, pauses only a patcher it is shown.
        Patcher.PATCHER = None
        try:
            return (yield)
        finally:
            Patcher.PATCHER = patcher
