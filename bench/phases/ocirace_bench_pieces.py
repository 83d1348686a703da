"""A pytest plugin for ``bench/suite_pieces.py``: CPU of each piece of a simulated test.

Measurement only. It wraps named functions of pyfakefs and pytest-ocirace with
``time.process_time`` (inclusive: a piece that calls another counts it too), times every
fixture's setup by name (``pytest_fixture_setup``, inclusive of the fixtures it requests
late) and the cyclic garbage collector, and writes the sums, with the number of calls,
as one JSON line to the file named by ``OCIRACE_BENCH_PIECES``. Like
``ocirace_bench_phases`` it implements no report hook, so the plugin's report pauses stay
as they are.
"""

from __future__ import annotations

import collections
import functools
import gc
import importlib
import json
import os
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

_CPU = time.process_time

#: ``module:attribute.path`` of the pieces, wrapped where they are looked up.
PIECES = (
    "pyfakefs.fake_filesystem_unittest:Patcher.setUp",
    "pyfakefs.fake_filesystem_unittest:Patcher.tearDown",
    "pyfakefs.fake_filesystem_unittest:Patcher.pause",
    "pyfakefs.fake_filesystem_unittest:Patcher.resume",
    "pyfakefs.fake_filesystem_unittest:Patcher.start_patching",
    "pyfakefs.fake_filesystem_unittest:Patcher.stop_patching",
    "pyfakefs.fake_filesystem_unittest:Patcher.patch_modules",
    "pyfakefs.fake_filesystem_unittest:Patcher.patch_functions",
    "pyfakefs.fake_filesystem_unittest:Patcher.patch_defaults",
    "pyfakefs.fake_filesystem_unittest:Patcher._find_modules",
    "pyfakefs.mox3_stubout:StubOutForTesting.smart_unset_all",
    "pytest_ocirace.fakefs.filesystem:start_patcher",
    "pytest_ocirace.fakefs.filesystem:WindowsFilesystem.attach",
    "pytest_ocirace.fakefs.filesystem:WindowsFilesystem.detach",
    "pytest_ocirace.fakefs.filesystem:WindowsFilesystem.refresh",
    "pytest_ocirace.fakefs.filesystem:WindowsFilesystem.__init__",
    "pytest_ocirace.fakefs.starting_tree:StartingTree.give",
    "pytest_ocirace.fakefs.fastpaths:install",
    "pytest_ocirace.fakefs.symlinks:install",
    "pytest_ocirace.fakefs.pathclasses:install",
    "pytest_ocirace.fakefs.class_functions:install",
    "pytest_ocirace.fakefs.platform:WindowsPlatform.install",
    "pytest_ocirace.fakefs.writer_seam:WriterSwitch.install",
    "pytest_ocirace.fakefs.writer_seam:WriterSwitch.uninstall",
    "pytest_ocirace.fakefs.locking:ClassPatches.undo",
    "pytest_ocirace.fakefs.inforce:enter",
    "pytest_ocirace.fakefs.fileio:install",
    "pytest_ocirace.fakefs.zipimports:install",
    "pytest_ocirace.fakefs.mock_targets:install",
    "pytest_ocirace.fakefs.boundaries:Boundaries.install",
    "pytest_ocirace.fakefs.boundaries:Boundaries.uninstall",
    "pytest_ocirace.fakefs.stdlib:install",
    "pytest_ocirace.fakefs.dropped_imports:DroppedImports.load_again",
    "pytest_ocirace.fakefs.preload:load_before_patching",
    "pytest_ocirace.racemodel.sync:install",
    "pytest_ocirace.racemodel.sync:uninstall",
    "pytest_ocirace.racemodel.model:RaceModel.__init__",
    "pytest_ocirace.plugins.leftover_threads:LeftoverThreads.stop",
    "pytest_ocirace.plugins.leftover_threads:LeftoverThreads.snapshot",
    "pytest_ocirace.plugins.fakefs:_real_trees",
    "pytest_ocirace.plugins.fakefs:_log_tracebacks_without_machinery",
    "pytest_ocirace.plugins.import_paths:respelled",
    "pytest_ocirace.plugins.tmp_paths:respell",
    "pytest_ocirace.plugins.leftover_threads:LeftoverThreads.record",
    "pytest_ocirace.plugins.leftover_threads:LeftoverThreads.quiet_later_deaths",
    "pytest_ocirace.plugins.races:_remove_stale",
    "pytest_ocirace.plugins.races:ignore_globs",
    "pytest_ocirace.plugins.fakefs:simulation_options",
)


class Pieces:
    def __init__(self) -> None:
        self.total: dict[str, float] = collections.defaultdict(float)
        self.calls: dict[str, int] = collections.defaultdict(int)
        self.stubs: list[int] = []
        self._gc_start: float | None = None
        gc.callbacks.append(self._collector)
        for spec in PIECES:
            self._wrap(spec)

    def _collector(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = _CPU()
        elif self._gc_start is not None:
            spent = _CPU() - self._gc_start
            self.total["gc"] += spent
            self.calls["gc"] += 1
            generation = f"gc generation {info.get('generation')}"
            self.total[generation] += spent
            self.calls[generation] += 1
            self._gc_start = None

    def _wrap(self, spec: str) -> None:
        module_name, _, path = spec.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            return
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
            if owner is None:
                return
        original = vars(owner).get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None:
            return
        kind = type(original)
        function: Callable[..., Any] = (
            original.__func__ if kind in (staticmethod, classmethod) else original
        )
        total, calls = self.total, self.calls
        key = f"{module_name.rpartition('.')[2]}:{path}"

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = _CPU()
            try:
                return function(*args, **kwargs)
            finally:
                total[key] += _CPU() - start
                calls[key] += 1

        setattr(owner, name, kind(timed) if kind in (staticmethod, classmethod) else timed)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None, Any, None]:
        start = _CPU()
        yield
        key = f"fixture {fixturedef.argname}"
        self.total[key] += _CPU() - start
        self.calls[key] += 1

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_ocirace_setup(self, simulation: Any, item: Any) -> Generator[None, Any, None]:
        start = _CPU()
        yield
        self.total["hook pytest_ocirace_setup"] += _CPU() - start
        self.calls["hook pytest_ocirace_setup"] += 1

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_ocirace_teardown(self, simulation: Any, item: Any) -> Generator[None, Any, None]:
        start = _CPU()
        yield
        self.total["hook pytest_ocirace_teardown"] += _CPU() - start
        self.calls["hook pytest_ocirace_teardown"] += 1

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, None]:
        start = _CPU()
        yield
        self.total["protocol"] += _CPU() - start
        self.calls["protocol"] += 1

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, None]:
        start = _CPU()
        yield
        self.total["setup"] += _CPU() - start

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, None]:
        start = _CPU()
        yield
        self.total["call"] += _CPU() - start

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, None]:
        start = _CPU()
        yield
        self.total["teardown"] += _CPU() - start

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.total["process"] = _CPU()
        with open(os.environ["OCIRACE_BENCH_PIECES"], "a") as out:
            out.write(json.dumps({"total": self.total, "calls": self.calls}) + "\n")


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.pluginmanager.register(Pieces(), "ocirace-bench-pieces")
