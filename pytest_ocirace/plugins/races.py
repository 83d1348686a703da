"""The pytest glue for the race model: options, per-test wiring, report sections, summary, JSON.

The race model (``racemodel/model.py``) and its instrumentation (``racemodel/sync.py``) know
nothing about pytest, and the ``winfs`` fixture (``plugins/fakefs.py``) knows nothing about
races. This module connects them: it installs a
:class:`~pytest_ocirace.racemodel.model.RaceModel` as the observer of every simulated test
(through the ``pytest_ocirace_setup``/``teardown`` hooks), turns the races into an ``ocirace``
report section, fails tests in strict mode or when an exception escaped a worker thread, and
aggregates every race on the controller (also under pytest-xdist) for the terminal summary and
``--ocirace-report``.

pytest imports this module in every session of every project with pytest-ocirace installed
(``plugins/fakefs.py`` lists it in ``EXTRA_PLUGINS``), so at import time it imports nothing but
pytest and the standard library, and its per-test hooks return at once for tests that are not
simulated.
"""

from __future__ import annotations

import json
import os
import threading
import traceback
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ocirace.racemodel import RULES

if TYPE_CHECKING:
    from pytest_ocirace.fakefs.filesystem import WindowsFilesystem
    from pytest_ocirace.racemodel.model import RaceModel
    from pytest_ocirace.racemodel.sync import Instrumentation

__all__ = ["PROPERTY", "ignore_globs"]

#: The ``user_properties`` name under which a test report carries its races (a JSON list of
#: ``report.group_to_dict`` entries, with that phase's counts). It is how races travel from
#: pytest-xdist workers to the controller. Every simulated test's call report has it (the
#: controller counts them); a setup or teardown report only when races happened in that
#: phase. junit XML shows the
#: teardown report's properties only, so it normally stays free of them.
PROPERTY = "ocirace_races"
#: The ``user_properties`` name of one-line notes for the terminal summary (swallowed errors).
NOTES = "ocirace_notes"


@dataclass
class _TestState:
    """The race model of one running test, and what has been reported of it so far."""

    instrumentation: Instrumentation
    model: RaceModel
    previous_hook: Callable[[threading.ExceptHookArgs], Any]
    hook: Callable[[threading.ExceptHookArgs], Any] | None = None
    escaped: list[tuple[str, BaseException]] = field(default_factory=list)
    escaped_shown: int = 0
    finished: bool = False
    #: What the marker's ``expect_races=`` expects: None, every race, or these rules.
    expected: frozenset[str] | bool | None = None
    #: Per group: the counters already sent with an earlier phase's report.
    sent: dict[Any, tuple[int, ...]] = field(default_factory=dict)
    #: Groups whose sample race was sent (at most ``ocirace_report_max_groups``).
    full: set[Any] = field(default_factory=set)


@dataclass(eq=False)  # hashable by identity: it is registered as a plugin
class _SessionState:
    """What the controller (or a run without xdist) collects for the summary and JSON.

    Registered as a plugin of its own so that it sees every report, including those
    pytest-xdist workers send to the controller.
    """

    entries: list[dict[str, Any]] = field(default_factory=list)
    simulated: int = 0
    max_groups: int = 5
    notes: list[str] = field(default_factory=list)
    report_path: str | None = None
    report_error: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == NOTES:
                self.notes.extend(json.loads(str(value)))
            if name != PROPERTY:
                continue
            if report.when == "call":
                self.simulated += 1
            self.entries.extend(json.loads(str(value)))


_TEST_KEY = pytest.StashKey[_TestState]()
_SESSION_KEY = pytest.StashKey[_SessionState]()
_TRACKING_KEY = pytest.StashKey[Any]()
_SESSION_PLUGIN = "ocirace-race-session"


# -- options -------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocirace")
    group.addoption(
        "--ocirace-strict",
        action="store_true",
        default=None,
        dest="ocirace_strict",
        help="fail a simulated test in which any race happened, even one the code handled "
        "(ini: ocirace_strict)",
    )
    group.addoption(
        "--ocirace-report",
        default=None,
        dest="ocirace_report",
        metavar="PATH",
        help="write every race found as JSON to PATH (schema: docs/races.md), aggregated "
        "over pytest-xdist workers",
    )
    parser.addini(
        "ocirace_strict",
        "fail a simulated test in which any race happened, even one the code handled",
        type="bool",
        default=False,
    )
    parser.addini(
        "ocirace_ignore",
        "path globs the race model never tracks (e.g. *.log); case-insensitive, / or \\",
        type="linelist",
        default=[],
    )
    parser.addini(
        "ocirace_report_max_groups",
        "groups of racing code sites shown in full per test (report section, JSON "
        "samples); the others are counted only",
        default="5",
    )
    parser.addini(
        "ocirace_track_locks",
        "track threading locks for the whole session even without --ocirace (for suites "
        "that only use the ocirace marker and have module-level locks)",
        type="bool",
        default=False,
    )


def _strict(config: pytest.Config) -> bool:
    flag = config.getoption("ocirace_strict", default=None)
    if flag is not None:
        return bool(flag)
    return bool(config.getini("ocirace_strict"))


def _wants_session_tracking(config: pytest.Config, *, early: bool = False) -> bool:
    # Before pytest_configure the command line is only parsed into known_args_namespace.
    options = config.known_args_namespace if early else config.option
    flag = getattr(options, "ocirace", None)
    if flag is None:
        flag = config.getini("ocirace")
    return bool(flag) or bool(config.getini("ocirace_track_locks"))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_controller(config: pytest.Config) -> bool:
    """A pytest-xdist controller: it runs no tests itself."""
    return not _is_worker(config) and getattr(config.option, "dist", "no") != "no"


def _max_groups(config: pytest.Config) -> int:
    value = str(config.getini("ocirace_report_max_groups")).strip()
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise pytest.UsageError(
            f"ini ocirace_report_max_groups = {value!r}: not a count; give a whole number "
            "such as 5 (0 shows only counts)"
        )
    return number


#: The rules a marker's ``expect_races=[...]`` may name (report.JSON_SCHEMA's enum).
_RULES = frozenset(RULES)


def expected_races(item: pytest.Item) -> frozenset[str] | bool | None:
    """The closest marker's ``expect_races=``: True, rule names, or None (not declared).

    Raises ``ValueError`` (one line, naming the fix) for anything else.
    """
    for marker in item.iter_markers("ocirace"):
        if "expect_races" not in marker.kwargs:
            continue
        value = marker.kwargs["expect_races"]
        if value is True or value is False:
            return True if value else None
        names = [value] if isinstance(value, str) else value
        if (
            isinstance(names, Iterable)
            and not isinstance(names, (bytes, dict))
            and (rules := [n for n in names if isinstance(n, str)])
            and len(rules) == len(list(names))
            and set(rules) <= _RULES
        ):
            return frozenset(rules)
        raise ValueError(
            f"{item.nodeid}: @pytest.mark.ocirace(expect_races=...) takes True or rule names "
            f"({', '.join(sorted(_RULES))}), got {value!r}; write e.g. "
            "@pytest.mark.ocirace(expect_races=['concurrent-publish'])"
        )
    return None


def ignore_globs(item: pytest.Item) -> list[str]:
    """The ini ``ocirace_ignore`` globs plus those of every ``ocirace`` marker's ``ignore=``.

    Raises ``ValueError`` (one line, naming the fix) for an ``ignore=`` that is not globs.
    """
    globs = [str(g) for g in item.config.getini("ocirace_ignore")]
    for marker in item.iter_markers("ocirace"):
        value = marker.kwargs.get("ignore")
        if value is None:
            continue
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, Iterable) or not all(isinstance(g, str) for g in value):
            raise ValueError(
                f"{item.nodeid}: @pytest.mark.ocirace(ignore=...) takes a list of path globs, "
                f"got {value!r}; write e.g. @pytest.mark.ocirace(ignore=['*.log'])"
            )
        globs.extend(value)
    return globs


# -- session -------------------------------------------------------------------------------


def _start_tracking(config: pytest.Config, *, early: bool = False) -> None:
    if _TRACKING_KEY in config.stash or _is_controller(config):
        return
    if not _wants_session_tracking(config, early=early):
        return
    from pytest_ocirace.racemodel.sync import track_locks

    _import_model()
    tracking = track_locks()
    config.stash[_TRACKING_KEY] = tracking
    config.add_cleanup(tracking.uninstall)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # As early as a plugin can: locks created when conftest.py files import the code under
    # test are then tracked too.
    _start_tracking(early_config, early=True)


def pytest_configure(config: pytest.Config) -> None:
    _start_tracking(config)  # in case the early hook did not run (pytest.main with plugins=)
    state = _SessionState(max_groups=_max_groups(config))
    path = config.getoption("ocirace_report", default=None)
    if path:
        target = os.path.join(str(config.invocation_params.dir), os.fspath(path))
        if os.path.isdir(target):
            raise pytest.UsageError(
                f"--ocirace-report {path}: is a directory; give a file path such as "
                "ocirace-races.json"
            )
        state.report_path = target
    config.stash[_SESSION_KEY] = state
    config.pluginmanager.register(state, _SESSION_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_SESSION_KEY, None)
    if state is not None and config.pluginmanager.is_registered(state):
        config.pluginmanager.unregister(state)


# -- one test ------------------------------------------------------------------------------


def _import_model() -> None:
    """Import the race model's modules while no fake filesystem is active.

    pyfakefs patches modules first imported during a test and drops them from
    ``sys.modules`` afterwards; the model's class-level state (which instrumentation is
    installed, the tracked lock classes) must be one module, and ``report`` must keep the
    real ``os`` for writing the JSON report at the end of the session.
    """
    import pytest_ocirace.racemodel.model
    import pytest_ocirace.racemodel.report
    import pytest_ocirace.racemodel.sync  # noqa: F401


def pytest_ocirace_prepare(item: pytest.Item) -> None:
    _import_model()


def pytest_ocirace_setup(simulation: WindowsFilesystem, item: pytest.Item) -> None:
    from pytest_ocirace.racemodel import report
    from pytest_ocirace.racemodel.model import RaceModel
    from pytest_ocirace.racemodel.sync import install

    problem = None
    try:
        globs = ignore_globs(item)
        expected = expected_races(item)
    except ValueError as exc:
        problem = str(exc)
    if problem is not None:  # outside the except: one line, no chained traceback
        pytest.fail(problem, pytrace=False)
    _remove_stale(item)
    instrumentation = install()
    try:
        model = RaceModel(instrumentation.tracker, ignore=globs, site=report.site)
        from pytest_ocirace.plugins.leftover_threads import ended_by_simulation

        state = _TestState(instrumentation, model, threading.excepthook, expected=expected)
        older = frozenset(threading.enumerate())

        def excepthook(args: threading.ExceptHookArgs) -> None:
            # The exception fails the test (see _annotate), with a traceback of the user's
            # frames: pytest's own hook would only add a warning with the machinery's frames.
            if args.exc_value is None:
                state.previous_hook(args)
                return
            if ended_by_simulation(args.exc_value):
                return  # a thread the plugin stopped (leftover_threads.py) died now
            if args.thread is not None and args.thread in older:
                # A thread an earlier test left blocked woke up and died now: not this
                # test's failure (a failure in one test never affects another).
                _note_late(args.thread.name, args.exc_value)
                return
            name = args.thread.name if args.thread is not None else "unknown thread"
            state.escaped.append((name, args.exc_value))
            model.note_escaped(args.exc_value)

        state.hook = excepthook
        threading.excepthook = excepthook
        simulation.observer = model
        item.stash[_TEST_KEY] = state
        _RUNNING[0] = state
    except BaseException:
        instrumentation.uninstall()
        raise


def _release(state: _TestState) -> None:
    """Let a finished test's race model go by reference counting, once its reports are made.

    The model listens to its tracker (``tracker.listeners`` holds one of its methods) and
    the thread hook refers to the state: reference cycles that kept every test's model,
    its accesses and their captured stacks (about 200 objects in a test of a few file
    operations) for the cyclic garbage collector.
    """
    state.hook = None
    state.instrumentation.tracker.listeners.clear()


#: Exceptions of threads that outlived their simulated test, raised during a later one.
_LATE: list[str] = []
_LATE_SHOWN = 10


def _note_late(name: str, exc: BaseException) -> None:
    if len(_LATE) <= _LATE_SHOWN:
        _LATE.append(f"{name!r}: {type(exc).__name__}: {exc}")


#: The race model of the simulated test running now (one at a time per process).
_RUNNING: list[_TestState | None] = [None]


def _remove_stale(item: pytest.Item) -> None:
    """Remove what an earlier test left installed (its teardown never ran), with a warning.

    Every teardown path above removes the instrumentation; this is the last line, so that
    one broken test (a ``KeyboardInterrupt`` in a worker, a plugin that skips teardown
    hooks) cannot error every simulated test after it.
    """
    from pytest_ocirace.racemodel.sync import Instrumentation

    stale = _RUNNING[0]
    found = stale is not None and not stale.finished
    if stale is not None:
        _finish(stale, None)
    leftover = Instrumentation.current()
    if leftover is not None:
        leftover.uninstall()
        found = True
    if found:
        item.warn(
            pytest.PytestWarning(
                "pytest-ocirace: an earlier simulated test's race instrumentation was still "
                "installed (its teardown did not run); removed it before this test"
            )
        )


def _finish(state: _TestState, simulation: WindowsFilesystem | None) -> None:
    if state.finished:
        return
    state.finished = True
    if _RUNNING[0] is state:
        _RUNNING[0] = None
    if simulation is not None and simulation.observer is state.model:
        simulation.observer = None
    if threading.excepthook is state.hook:
        threading.excepthook = state.previous_hook
    state.instrumentation.uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_ocirace_teardown(
    simulation: WindowsFilesystem, item: pytest.Item
) -> Generator[None, None, None]:
    # A wrapper, so that it runs even when another implementation raises: pluggy stops
    # calling plain implementations at the first exception, and the instrumentation left
    # installed would error every later simulated test.
    try:
        return (yield)
    finally:
        state = item.stash.get(_TEST_KEY, None)
        if state is not None:
            _finish(state, simulation)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    # Safety net, also when a fixture's teardown (which pytest runs inside this hook)
    # raised: nothing of the race model may outlive its test.
    try:
        return (yield)
    finally:
        state = item.stash.get(_TEST_KEY, None)
        if state is not None:
            _finish(state, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    state = item.stash.get(_TEST_KEY, None)
    if state is None:
        return
    try:
        if outcome.exception is None:  # else plugin.py's wrapper makes the report
            _annotate_safely(item, call, outcome.get_result(), state)
    finally:
        if call.when == "teardown":
            del item.stash[_TEST_KEY]
            _release(state)


def _annotate_safely(
    item: pytest.Item, call: pytest.CallInfo[None], rep: pytest.TestReport, state: _TestState
) -> None:
    """:func:`_annotate`, whose own failure fails the test in one line, never the session."""
    outcome = rep.outcome
    try:
        _annotate(item, call, rep, state)
    except Exception as error:  # reported on the test, below
        rep.outcome = "failed"
        rep.longrepr = (
            f"pytest-ocirace: the race report of this test's {call.when} phase failed "
            f"({type(error).__name__}: {error}); the test's own outcome was {outcome!r}"
        )


def _user_traceback(exc: BaseException) -> str:
    """``exc`` as a traceback of the user's frames only (like pytest's for the test body)."""
    from pytest_ocirace.racemodel import report

    frames = traceback.extract_tb(exc.__traceback__)
    kept = set(report.user_frames([(f.filename, f.lineno or 0, f.name) for f in frames]))
    shown = traceback.StackSummary.from_list(
        [f for f in frames if (f.filename, f.lineno or 0, f.name) in kept]
    )
    lines = ["Traceback (most recent call last):\n", *shown.format()]
    lines.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(lines).rstrip()


def _escaped_text(escaped: list[tuple[str, BaseException]]) -> str:
    return "\n\n".join(
        f"exception in thread {name!r}, not handled by the thread:\n{_user_traceback(exc)}"
        for name, exc in escaped
    )


_COUNTERS = ("count", "injected", "unhandled", "lost_updates", "retroactive")


def _is_expected(state: _TestState, rules: Iterable[str]) -> bool:
    if state.expected is None or state.expected is False:
        return False
    return state.expected is True or set(rules) <= state.expected


def _annotate(
    item: pytest.Item, call: pytest.CallInfo[None], rep: pytest.TestReport, state: _TestState
) -> None:
    """Add this phase's races to ``rep``; fail it in strict mode or for escaped exceptions.

    Races travel as group entries with this phase's counts (the controller sums them), at
    most ``ocirace_report_max_groups`` of a test with a sample race. The ``ocirace`` section
    (shown after the failure's traceback) explains them; a report failed here gets a short
    headline as its failure text, not a copy of it.
    """
    from pytest_ocirace.racemodel import report

    model = state.model
    max_groups = _max_groups(item.config)
    if call.excinfo is not None:
        model.note_escaped(call.excinfo.value)
    escaped = state.escaped[state.escaped_shown :]
    state.escaped_shown = len(state.escaped)
    changed = []
    for key, group in model.groups.items():
        now = (group.count, group.injected, group.unhandled, group.lost_updates, group.retroactive)
        before = state.sent.get(key, (0, 0, 0, 0, 0))
        if now != before:
            changed.append((key, group, [a - b for a, b in zip(now, before, strict=True)]))
            state.sent[key] = now
    changed.sort(key=lambda entry: entry[1].severity)
    entries = []
    for key, group, delta in changed:
        sample = key not in state.full and len(state.full) < max_groups
        if sample:
            state.full.add(key)
        entry = report.group_to_dict(
            group, item.nodeid, sample=sample, expected=_is_expected(state, group.rules)
        )
        entry.update(zip(_COUNTERS, delta, strict=True))
        entries.append(entry)
    if call.when == "call" or entries:
        rep.user_properties.append((PROPERTY, json.dumps(entries)))
    groups = [group for _key, group, delta in changed if delta[0] > 0]
    unexpected = [g for g in groups if not _is_expected(state, g.rules)]
    swallowed = _swallowed(model, call) if call.when == "call" else None
    if swallowed is not None:
        rep.user_properties.append((NOTES, json.dumps([f"{item.nodeid}: {swallowed}"])))
    if groups or swallowed is not None:
        quiet = not unexpected
        text = report.format_groups(groups, max_groups=max_groups, expected=quiet)
        if swallowed is not None:
            text = f"pytest-ocirace: {swallowed}\n\n{text}"
        rep.sections.append(("ocirace", text))
    if call.when == "call" and rep.passed and state.expected is not None:
        missing = _missing_expectation(state)
        if missing:
            rep.outcome = "failed"
            rep.longrepr = (
                f"pytest-ocirace: [expected races did not happen] {missing}; the test is "
                "marked @pytest.mark.ocirace(expect_races=...), like a strict xfail: remove "
                "the expectation if the code no longer races, or make the test race again"
            )
            return
    if not rep.passed:
        return
    see = " (see the ocirace section below)" if groups else ""
    hidden = sum(g.retroactive for g in unexpected)
    if escaped:
        rep.outcome = "failed"
        rep.longrepr = (
            f"pytest-ocirace: {len(escaped)} exception(s) escaped a thread and were lost; the "
            f"test would pass on every OS while its work failed{see}\n\n" + _escaped_text(escaped)
        )
    elif hidden:
        rep.outcome = "failed"
        rep.longrepr = (
            f"pytest-ocirace: {hidden} race(s) fail on Windows in another schedule: an "
            "Event set by several threads let an operation look ordered after another "
            f"thread's, but another set() could have released the wait first{see}"
        )
    elif unexpected and _strict(item.config):
        rep.outcome = "failed"
        count = sum(g.count for g in unexpected)
        rep.longrepr = (
            f"pytest-ocirace strict mode (--ocirace-strict / ocirace_strict): {count} "
            f"race(s) happened, even though the code handled the injected errors{see}"
        )


def _swallowed(model: RaceModel, call: pytest.CallInfo[None]) -> str | None:
    """The summary of an injected error a failing test swallowed, or None.

    For a test that failed while no injected error escaped: the code caught one (a cache's
    ``set`` returning False, a warning) and failed afterwards for want of the file. The
    catching frame is the outermost entry of the error's traceback, which stops growing
    where the exception was caught.
    """
    from pytest_ocirace.racemodel import report

    excinfo = call.excinfo
    if excinfo is None or not isinstance(excinfo.value, Exception):
        return None
    if isinstance(excinfo.value, pytest.skip.Exception) or model.note_escaped(excinfo.value):
        return None
    if any(r.handled is False for r in model.races):
        return None
    # The latest injection (``races`` is in order); past the kept records, a group sample.
    candidates = [r for r in model.races if r.injected and r.error is not None]
    candidates = candidates or [g.sample for g in model.groups.values() if g.sample.error]
    if not candidates:
        return None
    race = candidates[-1]
    error = race.error
    assert error is not None
    caught = report.user_frames(_frames(error.__traceback__))
    failed = report.user_frames(_frames(excinfo.tb))
    what = (
        "PermissionError [Errno 13] (a sharing violation)"
        if race.second.kind == "open"
        else f"WinError {race.winerror}"
    )
    where = _at(caught[0]) if caught else "a frame outside your code"
    later = _at(failed[-1]) if failed else "a frame outside your code"
    return f"the injected {what} was swallowed at {where}; the test failed later at {later}"


def _frames(tb: Any) -> list[tuple[str, int, str]]:
    return [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(tb)]


def _at(frame: tuple[str, int, str]) -> str:
    return f"{frame[0]}:{frame[1]} in {frame[2]}"


def _missing_expectation(state: _TestState) -> str:
    """What of ``expect_races`` did not happen ("" if everything did)."""
    seen = {rule for group in state.model.groups.values() for rule in group.rules}
    if state.expected is True:
        return "" if seen else "no race at all"
    assert isinstance(state.expected, frozenset)
    missing = sorted(state.expected - seen)
    return f"no {', '.join(missing)} race" if missing else ""


# -- aggregation on the controller -----------------------------------------------------------


def _session_state(config: pytest.Config) -> _SessionState | None:
    return config.stash.get(_SESSION_KEY, None)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = _session_state(config)
    if state is None or _is_worker(config):
        return
    if state.report_path is None:
        return
    from pytest_ocirace.racemodel import report

    try:
        document = report.build_document(state.entries, max_groups=state.max_groups)
        report.write_json(state.report_path, document)
    except OSError as exc:
        state.report_error = (
            f"pytest-ocirace: could not write --ocirace-report {state.report_path}: {exc}; "
            "choose a writable path"
        )
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = _session_state(config)
    if state is None or _is_worker(config):
        return
    enabled = config.getoption("ocirace", default=None) or config.getini("ocirace")
    if not (enabled or state.simulated or state.entries or state.report_path):
        return
    from pytest_ocirace.racemodel import report

    document = report.build_document(state.entries, max_groups=state.max_groups)
    terminalreporter.section("ocirace")
    terminalreporter.line(f"{state.simulated} test(s) ran with race detection")
    for line in report.summary_lines(document):
        terminalreporter.line(line)
    for note in state.notes[: report.MAX_SUMMARY_TESTS]:
        terminalreporter.line(f"  {note}")
    if _LATE:
        terminalreporter.line(
            "exceptions in threads that outlived their simulated test, raised while a later "
            "test ran (not charged to it):"
        )
        for line in _LATE[:_LATE_SHOWN]:
            terminalreporter.line(f"  {line}")
        if len(_LATE) > _LATE_SHOWN:
            terminalreporter.line("  ... and more")
    if len(state.notes) > report.MAX_SUMMARY_TESTS:
        terminalreporter.line(f"  ... and {len(state.notes) - report.MAX_SUMMARY_TESTS} more")
    if state.report_error is not None:
        terminalreporter.line(state.report_error, red=True)
    elif state.report_path is not None:
        terminalreporter.line(f"race report (JSON): {state.report_path}")
