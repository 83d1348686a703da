"""A pytest plugin for ``bench/suite_phases.py``: CPU per phase, split by failing tests.

Measurement only. It implements no report hook (``pytest_runtest_logreport`` and
friends): an unknown implementation of one brings back pyfakefs' pause around every
report (``plugins/report_pauses.py``) and would measure that instead. Results go, as one
JSON line, to the file named by ``OCIRACE_BENCH_PHASES``.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

_CPU = time.process_time


class Phases:
    def __init__(self) -> None:
        self.total: dict[str, float] = collections.defaultdict(float)
        self.current: dict[str, float] = collections.defaultdict(float)
        self.failed = False
        self._gc_start: float | None = None
        gc.callbacks.append(self._collector)

    def _collector(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = _CPU()
        elif self._gc_start is not None:
            self.current["collector"] += _CPU() - self._gc_start
            self._gc_start = None

    def _timed(self, name: str) -> Generator[None, Any, None]:
        start = _CPU()
        yield
        self.current[name] += _CPU() - start

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, None]:
        self.current = collections.defaultdict(float)
        self.failed = False
        yield from self._timed("protocol")
        kind = "failing" if self.failed else "other"
        for name, value in self.current.items():
            self.total[f"{kind} {name}"] += value
        self.total[f"{kind} tests"] += 1

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._timed("setup")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._timed("call")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._timed("teardown")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        start = _CPU()
        outcome = yield
        self.current["report"] += _CPU() - start
        if outcome.exception is None and outcome.get_result().failed:
            self.failed = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.total["process"] = _CPU()
        with open(os.environ["OCIRACE_BENCH_PHASES"], "a") as out:
            out.write(json.dumps(self.total) + "\n")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Registered now, after every plugin's pytest_configure: its wrappers are outermost.
    session.config.pluginmanager.register(Phases(), "ocirace-bench-phases")
