"""The pytest plugin's entry point (registered as ``pytest11: ocirace``).

pytest imports this module in every session of every project that has pytest-ocirace
installed, so it must cost nothing for suites that do not use it: heavy imports (pyfakefs,
the simulation) happen only inside the fixture that starts a simulation.

One place starts the simulation for a test: the ``winfs`` fixture. ``--ocirace``, the
``ocirace`` ini key and the ``ocirace`` marker only make the autouse ``_ocirace_auto``
fixture request it. Other parts of pytest-ocirace (the race model) plug in through the two
hooks declared in :class:`OciraceHookSpecs`, called right after the simulation starts and
right before it stops; modules listed in :data:`EXTRA_PLUGINS` are registered with pytest
as soon as this plugin is, so that they can implement them (and add options).
"""

from __future__ import annotations

import ntpath
import os
import sys
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

import pytest

from pytest_ocirace.plugins import (
    formatting_gc,
    import_paths,
    limit_tracebacks,
    platform_note,
    tmp_paths,
)
from pytest_ocirace.plugins.report_pauses import ReportPauses

if TYPE_CHECKING:
    from pyfakefs.fake_filesystem import FakeFilesystem

    from pytest_ocirace.fakefs.filesystem import WindowsFilesystem
    from pytest_ocirace.plugins.leftover_threads import LeftoverThreads
    from pytest_ocirace.winrules.options import SimulationOptions

__all__ = [
    "EXTRA_PLUGINS",
    "PLUGIN_MARKER_OPTIONS",
    "RACE_MARKER_OPTIONS",
    "OciraceHookSpecs",
    "WinFS",
    "auto_simulated",
]

#: Plugin modules of pytest-ocirace registered with pytest before command-line parsing.
EXTRA_PLUGINS: tuple[str, ...] = (
    "pytest_ocirace.plugins.races",
    "pytest_ocirace.plugins.processes",
    "pytest_ocirace.plugins.limit_fallback",
)

#: Marker keywords read by the race model (``plugins/races.py``'s ``MARKER_OPTIONS``), not by the
#: simulation; kept here so that checking the marker needs no import of the race model.
RACE_MARKER_OPTIONS: tuple[str, ...] = ("ignore", "expect_races")

#: Marker keywords the plugin itself reads: ``enabled=False`` runs a test without the
#: simulation even under ``--ocirace`` (the way out for tests that start processes or use
#: C libraries' own file I/O, which the fake filesystem cannot hold).
PLUGIN_MARKER_OPTIONS: tuple[str, ...] = ("enabled", "processes", "on_limit")

_MARKER_HELP = (
    "ocirace(**options): run this test inside the simulated Windows filesystem, with race "
    "detection; keyword options (delete_semantics, max_path, windows_platform_modules, ...) "
    "override the ini/command-line defaults, ignore=[globs] lists paths the race model "
    "does not track, and expect_races=True (or rule names) declares that the test races on "
    "purpose (reported quietly; fails if no such race happens, like a strict xfail)."
)


class OciraceHookSpecs:
    """Hooks for code that extends a simulated test (the race model, reporters)."""

    @pytest.hookspec
    def pytest_ocirace_prepare(self, item: pytest.Item) -> None:
        """Called before the fake filesystem starts for ``item``: import what you need now.

        pyfakefs patches every module imported while it is active and drops it from
        ``sys.modules`` afterwards, so a module first imported inside a simulated test is a
        different, half-patched copy in the next one.
        """

    @pytest.hookspec
    def pytest_ocirace_setup(self, simulation: WindowsFilesystem, item: pytest.Item) -> None:
        """Called after the simulation started for ``item`` (install observers here)."""

    @pytest.hookspec
    def pytest_ocirace_teardown(self, simulation: WindowsFilesystem, item: pytest.Item) -> None:
        """Called before the simulation of ``item`` stops (still active; may raise)."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(OciraceHookSpecs)
    # Registered here, before command-line parsing, so that they can add options too.
    for module in EXTRA_PLUGINS:
        pluginmanager.import_plugin(module)


def _option_names() -> dict[str, str]:
    # options.py is small and imports neither pyfakefs nor the simulation layer.
    from pytest_ocirace.winrules.options import OPTION_HELP

    return OPTION_HELP


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocirace", "simulated Windows filesystem (pytest-ocirace)")
    group.addoption(
        "--ocirace",
        action="store_true",
        default=None,
        help="run every test inside the simulated Windows filesystem (ini: ocirace)",
    )
    parser.addini(
        "ocirace",
        "run every test inside the simulated Windows filesystem",
        type="bool",
        default=False,
    )
    for name, text in _option_names().items():
        flag = "--ocirace-" + name.replace("_", "-")
        group.addoption(
            flag,
            dest=f"ocirace_{name}",
            default=None,
            metavar="VALUE",
            help=f"{text} (ini: ocirace_{name})",
        )
        parser.addini(f"ocirace_{name}", text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_HELP)
    config.pluginmanager.register(_FailureFormatting(), "ocirace-failure-formatting")
    # After the entry-point plugins, so that its report wrapper is outside pyfakefs'.
    pauses = config.stash[_REPORT_PAUSES_KEY] = ReportPauses(config)
    config.pluginmanager.register(pauses, "ocirace-report-pauses")
    if _configured_values(config):
        # Check configured options now: a typo should stop the run with one line, not fail
        # every simulated test.
        from pytest_ocirace.winrules.options import OptionError

        try:
            session_options(config)
        except OptionError as exc:
            raise pytest.UsageError(str(exc)) from None


_LEFTOVERS_KEY = pytest.StashKey["LeftoverThreads"]()
_REPORT_PAUSES_KEY = pytest.StashKey[ReportPauses]()


def _leftover_threads(config: pytest.Config) -> LeftoverThreads:
    leftovers = config.stash.get(_LEFTOVERS_KEY, None)
    if leftovers is None:
        from pytest_ocirace.plugins.leftover_threads import LeftoverThreads

        leftovers = config.stash[_LEFTOVERS_KEY] = LeftoverThreads()
    return leftovers


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    leftovers = terminalreporter.config.stash.get(_LEFTOVERS_KEY, None)
    if leftovers is None:
        return  # no simulated test ran: nothing to say, and nothing to import
    from pytest_ocirace.fakefs import platform

    lines = platform.summary_lines()
    if lines:
        terminalreporter.section("ocirace platform")
        for line in lines:
            terminalreporter.line(line)
    threads = leftovers.summary_lines()
    if threads:
        terminalreporter.section("ocirace threads")
        for line in threads:
            terminalreporter.line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _LEFTOVERS_KEY in session.config.stash:
        from pytest_ocirace.plugins.leftover_threads import LeftoverThreads

        LeftoverThreads.exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # A thread a simulated test left running (its partner died of a Windows error) would
    # keep the interpreter alive after the summary: the session would never end.
    leftovers = config.stash.get(_LEFTOVERS_KEY, None)
    if leftovers is not None:
        leftovers.release()


def pytest_report_header(config: pytest.Config) -> str | None:
    if _enabled_globally(config):
        return "ocirace: every test runs in the simulated Windows filesystem"
    return None


def _enabled_globally(config: pytest.Config) -> bool:
    flag = config.getoption("ocirace", default=None)
    if flag is not None:
        return bool(flag)
    return bool(config.getini("ocirace"))


def _configured_values(config: pytest.Config) -> dict[str, tuple[str, object]]:
    """Option values from the command line (winning) or the ini file, with their source."""
    values: dict[str, tuple[str, object]] = {}
    for name in _option_names():
        cli = config.getoption(f"ocirace_{name}", default=None)
        if cli is not None:
            values[name] = ("--ocirace-" + name.replace("_", "-"), cli)
            continue
        ini = config.getini(f"ocirace_{name}")
        if ini not in (None, "", []):
            values[name] = (f"ini ocirace_{name}", ini)
    return values


_OPTIONS_KEY = pytest.StashKey["SimulationOptions"]()
_SIMULATION_KEY = pytest.StashKey["WindowsFilesystem"]()
#: Threads alive before a simulated test started: the ones it starts are its own.
_THREADS_BEFORE_KEY = pytest.StashKey["frozenset[Any]"]()
#: Threads alive when its call phase started: the ones its body starts.
_CALL_THREADS_KEY = pytest.StashKey["frozenset[Any]"]()


def session_options(config: pytest.Config) -> SimulationOptions:
    """The session's options (ini and command line), checked once."""
    cached = config.stash.get(_OPTIONS_KEY, None)
    if cached is not None:
        return cached
    from pytest_ocirace.winrules.options import REAL_WORKDIR, SimulationOptions

    # A suite's tests start where pytest was started, as on Windows (``workdir = real``).
    options = SimulationOptions(workdir=REAL_WORKDIR)
    for name, (source, value) in _configured_values(config).items():
        options = options.merged({name: value}, source=source)
    config.stash[_OPTIONS_KEY] = options
    return options


def simulation_options(item: pytest.Item) -> SimulationOptions:
    """The test's options (ini, command line, marker): both backends' decision table reads them."""
    options = session_options(item.config)
    for marker in reversed(list(item.iter_markers("ocirace"))):
        if marker.args:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.ocirace takes keyword options only, got "
                f"{marker.args!r}; write e.g. @pytest.mark.ocirace(delete_semantics='posix')"
            )
        options = options.merged(
            marker.kwargs,
            source=f"{item.nodeid}: @pytest.mark.ocirace",
            others=(*PLUGIN_MARKER_OPTIONS, *RACE_MARKER_OPTIONS),
        )
    return options


class WinFS:
    """What the ``winfs`` fixture gives a test: the simulation and helpers around it."""

    def __init__(self, simulation: WindowsFilesystem) -> None:
        self.simulation = simulation

    @property
    def fs(self) -> FakeFilesystem:
        """The pyfakefs ``FakeFilesystem`` (the same object pyfakefs' ``fs`` fixture gives)."""
        return self.simulation.fs

    @property
    def options(self) -> SimulationOptions:
        return self.simulation.options

    @property
    def workdir(self) -> str:
        r"""The directory the test started in inside the simulation (``C:\\`` + the real cwd)."""
        return self.simulation.workdir

    def set_readonly(self, path: str | os.PathLike[str], readonly: bool = True) -> None:
        """Set (or clear) the read-only attribute, as ``attrib +r`` would."""
        self.simulation.set_readonly(path, readonly)

    def is_delete_pending(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` was deleted but lingers because a handle is still open."""
        return self.simulation.is_delete_pending(path)

    def open_shared_delete(self, path: str | os.PathLike[str], mode: str = "rb") -> BinaryIO:
        """Open ``path`` with DELETE sharing and delete-on-close (``os.O_TEMPORARY``)."""
        from pytest_ocirace.fakefs.filesystem import O_TEMPORARY

        flags = {"rb": os.O_RDONLY, "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC}.get(mode)
        if flags is None:
            raise ValueError(
                f"open_shared_delete: mode {mode!r} is not supported; use 'rb' or 'wb'"
            )
        fd = os.open(path, flags | O_TEMPORARY)
        return os.fdopen(fd, mode)  # type: ignore[return-value]

    @contextmanager
    def hold_open(self, path: str | os.PathLike[str], mode: str = "rb") -> Iterator[BinaryIO]:
        """Keep a handle on ``path`` open (no DELETE sharing, like any ``open()``) for a block."""
        with open(path, mode) as handle:
            yield handle  # type: ignore[misc]

    @property
    def observer(self) -> Any:
        return self.simulation.observer

    @observer.setter
    def observer(self, value: Any) -> None:
        self.simulation.observer = value


def _pyfakefs_plugin_registered(config: pytest.Config) -> bool:
    # By module, not by name: it is "fakefs" as an entry point, its module name otherwise.
    module = sys.modules.get("pyfakefs.pytest_plugin")
    return module is not None and config.pluginmanager.is_registered(module)


def _machinery_roots() -> tuple[str, ...]:
    """Directories of pytest-ocirace and pyfakefs, by string operations (``os`` may be fake)."""
    roots = []
    for name in ("pytest_ocirace", "pyfakefs"):
        filename = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(filename, str) and filename.endswith("__init__.py"):
            roots.append(filename[: -len("__init__.py")])
    return tuple(roots)


@contextmanager
def _log_tracebacks_without_machinery() -> Iterator[None]:
    """Leave the simulation's own frames out of tracebacks that ``logging`` formats.

    pytest hides them from its failure reports (``__tracebackhide__``), but a test that
    logs an exception (``logger.exception``, captured by caplog or shown as "Captured log")
    would show ``run_locked``, pyfakefs' ``fake_os`` and our layer between the user's call
    and the error. The real frames are still in ``exc.__traceback__``.
    """
    import logging
    import traceback

    roots = _machinery_roots()
    original = logging.Formatter.formatException

    def format_exception(self: logging.Formatter, ei: Any) -> str:
        exc_type, exc, tb = ei
        if exc is None:
            return original(self, ei)
        shown = traceback.TracebackException(exc_type, exc, tb)
        seen: set[int] = set()
        todo = [shown]
        while todo:
            current = todo.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            current.stack = traceback.StackSummary.from_list(
                [f for f in current.stack if not f.filename.startswith(roots)]
            )
            todo.extend(t for t in (current.__cause__, current.__context__) if t is not None)
        return "".join(shown.format()).rstrip("\n")

    logging.Formatter.formatException = format_exception  # type: ignore[method-assign]
    try:
        yield
    finally:
        logging.Formatter.formatException = original  # type: ignore[method-assign]


@pytest.fixture
def winfs(request: pytest.FixtureRequest) -> Generator[WinFS, None, None]:
    """Run the test inside the simulated Windows filesystem; see docs/plugin.md."""
    from pytest_ocirace.fakefs.filesystem import SimulationError, simulate
    from pytest_ocirace.fakefs.platform import PlatformError
    from pytest_ocirace.winrules.options import OptionError

    item = request.node
    try:
        options = simulation_options(item)
    except OptionError as exc:
        pytest.fail(str(exc), pytrace=False)
    if not _pyfakefs_plugin_registered(request.config):
        pytest.fail(
            "pytest-ocirace needs pyfakefs' pytest plugin (it pauses the fake filesystem "
            "while pytest writes reports); do not disable it with -p no:fakefs",
            pytrace=False,
        )
    skip_if_windows_skips(item, options)
    for name in ("capfd", "capfdbinary"):
        if name in request.fixturenames:
            # A limit like a process start (the fallback runs the test in the process mode).
            from pytest_ocirace.fakefs.boundaries import capture_error

            pytest.fail(str(capture_error(name)), pytrace=False)
    request.config.hook.pytest_ocirace_prepare(item=item)
    # pytest's tmp_path (and everything built on it) must be made on the real disk, before
    # the simulation starts: pytest creates and numbers it there and cleans it up after the
    # fake filesystem is gone. The test then gets an empty directory at the same path inside
    # the simulation (Windows reads ``/tmp/...`` as a path from the current drive's root).
    real_tmp_path = (
        request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    )
    # pytest chooses its base temp folder the first time anything asks, and keeps it for
    # the session: asked first inside a simulation (a test body's
    # ``request.getfixturevalue("tmp_path_factory").mktemp(...)``), it was a fake Windows
    # folder, and every later ``tmp_path`` failed ("not a normalized and relative path").
    # (Not while pyfakefs' own ``fs`` already patches: there it would be chosen on pyfakefs'
    # disk; ``simulate`` then refuses the test with its own one-line error anyway.)
    basetemp = None
    if _pyfakefs_patcher() is None and request.config.pluginmanager.has_plugin("tmpdir"):
        basetemp = request.getfixturevalue("tmp_path_factory").getbasetemp()
    for name in tmp_paths.KEPT_REAL:  # built from the real tmp_path, before it is respelled
        if name in request.fixturenames:
            request.getfixturevalue(name)
    leftovers = _leftover_threads(request.config)
    threads_before = item.stash[_THREADS_BEFORE_KEY] = leftovers.snapshot()
    with ExitStack() as stack:
        # Not through pyfakefs' ``fs`` fixture: ``simulate`` builds the fake filesystem for
        # Windows from the start (``fs`` builds a host-OS tree that would be rebuilt). An
        # ``fs`` requested in the same test joins the same pyfakefs patcher either way.
        try:
            # Before the patcher starts, so that it patches the Windows copies like any
            # loaded module; put back after it stops.
            options = _swap_in_windows_imports(stack, options, item)
            trees = _real_trees(item, options)
            simulation = stack.enter_context(simulate(options, real_trees=trees))
        except (SimulationError, PlatformError) as exc:
            pytest.fail(str(exc), pytrace=False)
        if options.windows_import_modules:
            stack.enter_context(_windows_surface(simulation))
        item.stash[_SIMULATION_KEY] = simulation
        stack.enter_context(_log_tracebacks_without_machinery())
        for made in (real_tmp_path, basetemp):  # empty there, unless a real tree shows it
            if made is not None and not simulation.fs.isdir(str(made)):
                simulation.fs.create_dir(str(made))
        drive = ntpath.splitdrive(simulation.fs.cwd)[0] or "C:"
        tmp_paths.respell(item, drive)
        stack.enter_context(import_paths.respelled(getattr(item, "module", None), trees, drive))
        hooks = request.config.hook
        pauses = request.config.stash.get(_REPORT_PAUSES_KEY, None)
        try:
            hooks.pytest_ocirace_setup(simulation=simulation, item=item)
            if pauses is not None:
                pauses.simulated = item.nodeid
            yield WinFS(simulation)
        finally:
            if pauses is not None:
                pauses.simulated = None
            # Also when a setup hook failed half-way: nothing it installed may outlive the
            # test. Threads the test left running end first, while the simulation and the
            # race model they run in are still in place (leftover_threads.py).
            try:
                leftovers.stop(threads_before, item.nodeid)
            finally:
                try:
                    hooks.pytest_ocirace_teardown(simulation=simulation, item=item)
                finally:
                    del item.stash[_SIMULATION_KEY]
                    # Once the race model's hook is gone: a stopped thread still blocked
                    # will die when it wakes, maybe during a later test.
                    leftovers.quiet_later_deaths()
    leftovers.record(threads_before, item.nodeid)


def skip_if_windows_skips(item: pytest.Item, options: SimulationOptions) -> None:
    """Skip a test its authors skip on Windows (``windows_skips.py``), before anything starts."""
    if options.windows_skips != "skip":
        return
    from pytest_ocirace.plugins.windows_skips import windows_skip_reason

    reason = windows_skip_reason(item)
    if reason is not None:
        pytest.skip(reason)


def _swap_in_windows_imports(
    stack: ExitStack, options: SimulationOptions, item: pytest.Item
) -> SimulationOptions:
    """Swap in the Windows copies of ``windows_import_modules``; they also get the call-time view.

    The test's parameters are swapped too (``parametrize("lock_type", [FileLock])`` captured
    the original class at collection): direct parameters are read from ``callspec.params``
    after this autouse fixture ran.
    """
    if not options.windows_import_modules:
        return options
    import dataclasses

    from pytest_ocirace.fakefs.platform_import import WindowsImports

    imports = WindowsImports(options.windows_import_modules)
    stack.enter_context(imports.swapped())
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        imports.rebind(callspec.params)
    viewed = tuple(
        dict.fromkeys((*options.windows_platform_modules, *options.windows_import_modules))
    )
    return dataclasses.replace(options, windows_platform_modules=viewed)


def _windows_surface(simulation: WindowsFilesystem) -> Any:
    """Route the Windows-only stand-ins (``MoveFileExW``...) onto this test's fake ``os``."""
    from pyfakefs.fake_os import FakeOsModule

    from pytest_ocirace.fakefs.windows_modules import SURFACE

    return SURFACE.bound(FakeOsModule(simulation.fs))


def _real_trees(item: pytest.Item, options: SimulationOptions) -> list[str]:
    """The real directories a simulated test may read: its rootdir, its folder, ``sys.path``.

    And the folders of ``PATH`` (``shutil.which`` finds the host's programs there,
    ``fakefs/path_variable.py``), listed only when a test looks into one; and the folders
    fixtures of a wider scope returned (``tmp_paths.remember_wider_folder``). The host's
    temp and home directories and ``--basetemp`` are not shown whole: a simulation starts
    by making its temp directories, which lists their real parents, and those hold every
    ``tmp_path`` of the session, a cost per test that grew with the suite (measured: 20x
    the per-test time of a 300-test file, docs/performance.md).
    """
    if options.real_tree == "off":
        return []
    from pytest_ocirace.fakefs.path_variable import HOST_FOLDERS
    from pytest_ocirace.fakefs.realtree import project_roots

    extra: list[str | os.PathLike[str]] = [item.config.rootpath, item.path.parent]
    extra.extend(HOST_FOLDERS)  # the programs PATH names (fakefs/path_variable.py)
    extra.extend(tmp_paths.wider_folders(item.config))  # session fixtures' own folders
    return project_roots(extra)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    simulation = item.stash.get(_SIMULATION_KEY, None)
    if simulation is None:
        yield
        return
    # The test's own threads (a timeout left them polling) end first: pyfakefs pauses to
    # log every report (its pytest_runtest_logreport) and to format a failure (below), and
    # paused, it hands them the real ``os``: they would write the real disk. A failed phase
    # ends every thread the test started; a passed call, the ones its body started (a
    # fixture's server or pool lives until the fixture's teardown).
    before = item.stash.get(
        _CALL_THREADS_KEY if call.excinfo is None else _THREADS_BEFORE_KEY, None
    )
    if before is not None and call.when != "teardown":
        _leftover_threads(item.config).stop(before, item.nodeid, failed=call.excinfo is not None)
    # pytest formats the failure (reading source files for the traceback) inside this hook,
    # which runs while pyfakefs still patches: through the fake filesystem, library and
    # stdlib sources are missing and frames show ``???``. Build the report on the real one.
    # Nothing to format, no pause (it re-patches every module, twice); a unittest case's
    # failure only appears in ``call`` inside the hook (_FailureFormatting pauses then).
    formatting = item.stash[_FORMATTING_KEY] = ExitStack()
    note = cut = None
    with formatting:
        if call.excinfo is not None:
            _begin_formatting(item, call)
        outcome = yield
        cut = item.stash.get(_LIMIT_CUT_KEY, None)
        if outcome.exception is None and call.excinfo is not None:
            report: pytest.TestReport = outcome.get_result()
            if report.failed:
                note = platform_note.note(
                    item, call.excinfo.value, simulation.options.windows_import_modules
                )
    if _FORMATTING_KEY in item.stash:
        del item.stash[_FORMATTING_KEY]
    if _LIMIT_CUT_KEY in item.stash:
        del item.stash[_LIMIT_CUT_KEY]
    if outcome.exception is not None:
        outcome.force_result(_report_on_the_real_filesystem(item, call, outcome.exception))
        return
    report = outcome.get_result()
    if report.failed:
        if cut is not None:
            report.sections.append((limit_tracebacks.SECTION, cut))
        if note is not None:
            report.sections.append(("ocirace platform", note))


#: The pause of a simulated test's report hook, open while its failure is formatted.
_FORMATTING_KEY = pytest.StashKey[ExitStack]()
#: The frames :func:`limit_tracebacks.shorten` left out of the failure being reported.
_LIMIT_CUT_KEY = pytest.StashKey[str]()


def _begin_formatting(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """Pause pyfakefs until the report is made; cut a limit error's traceback first."""
    formatting = item.stash.get(_FORMATTING_KEY, None)
    if formatting is None or call.excinfo is None:
        return
    del item.stash[_FORMATTING_KEY]  # once per report
    formatting.enter_context(_real_filesystem())
    # pytest parses each shown frame's whole source file: no collection in the middle of it.
    formatting.enter_context(formatting_gc.collector_held())
    cut = limit_tracebacks.shorten(item, call)
    if cut is not None:
        item.stash[_LIMIT_CUT_KEY] = cut


class _FailureFormatting:
    """A plain ``pytest_runtest_makereport`` between unittest's and pytest's own.

    pytest's unittest support puts a ``TestCase``'s failure into ``call`` in its own
    (``tryfirst``) implementation, after every wrapper started: the pause and the cut
    happen here for it, before pytest's implementation formats the report.
    """

    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        _begin_formatting(item, call)


def _report_on_the_real_filesystem(
    item: pytest.Item, call: pytest.CallInfo[None], error: BaseException
) -> pytest.TestReport:
    """A report for a phase whose report could not be made (never an INTERNALERROR).

    A report hook that meets pyfakefs half patched (another plugin, such as
    pytest-rerunfailures or pytest-timeout, acting between its pause and resume) fails with
    errors like ``RealPathlibModule has no attribute WindowsPath``: pytest would abort the
    session. The report is made again on the real filesystem, and if even that fails, the
    phase fails with a one-line error naming the cause.
    """
    with _real_filesystem():
        try:
            return pytest.TestReport.from_item_and_call(item, call)
        except Exception as again:  # the one-line error below names it
            error = again
    report = pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",
        f"pytest-ocirace: the report of this test's {call.when} phase could not be made "
        f"({type(error).__name__}: {error}); please report it to pytest-ocirace with the test",
        call.when,  # type: ignore[arg-type]
        [],
        call.duration,
        call.start,
        call.stop,
    )
    return report


def _pyfakefs_patcher() -> Any:
    """The running pyfakefs patcher (a simulation's, or a test's own ``fs``), else None."""
    from pyfakefs.fake_filesystem_unittest import Patcher

    patcher = Patcher.PATCHER
    return patcher if patcher is not None and patcher.is_patching else None


@contextmanager
def _real_filesystem() -> Iterator[None]:
    patcher = _pyfakefs_patcher()
    if patcher is None:
        yield
        return
    patcher.pause()
    try:
        yield
    finally:
        patcher.resume()


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None]:
    yield
    tmp_paths.remember(fixturedef, request)
    tmp_paths.remember_wider_folder(fixturedef, request)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    # pyfakefs pauses its patching around the setup report and re-stubs module globals on
    # resume, which drops the Windows platform view: put it back for the test body.
    simulation = item.stash.get(_SIMULATION_KEY, None)
    if simulation is not None:
        simulation.refresh()
        # Threads alive now are not the test body's (see pytest_runtest_makereport).
        item.stash[_CALL_THREADS_KEY] = _leftover_threads(item.config).snapshot()


@pytest.fixture(autouse=True)
def _ocirace_auto(request: pytest.FixtureRequest) -> None:
    """Start the simulation for tests that opted in through the flag, ini key or marker."""
    if "winfs" in request.fixturenames:
        return
    if auto_simulated(request.node):
        request.getfixturevalue("winfs")


def auto_simulated(item: pytest.Item) -> bool:
    """Whether the flag, ini key or marker puts ``item`` in the fake filesystem.

    What ``_ocirace_auto`` decides on; asked before the test runs too (``limit_fallback.py``),
    so it starts nothing. A test asking for ``winfs`` itself is simulated whatever this says.
    """
    from pytest_ocirace.plugins.processes import process_mode

    if process_mode(item):
        return False  # the process mode runs on the real disk (docs/processes.md)
    enabled = _marker_enabled(item)
    if enabled is None:
        return _enabled_globally(item.config)
    return enabled


def _marker_enabled(item: pytest.Item) -> bool | None:
    """What the closest ``ocirace`` marker says about running in the simulation.

    ``False`` for ``enabled=False``, ``True`` for any other ``ocirace`` marker, ``None``
    without one (the command line and ini decide).
    """
    markers = list(item.iter_markers("ocirace"))
    for marker in markers:
        if "enabled" in marker.kwargs:
            value = marker.kwargs["enabled"]
            if not isinstance(value, bool):
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.ocirace(enabled=...) takes True or False, "
                    f"got {value!r}"
                )
            return value
    return True if markers else None
