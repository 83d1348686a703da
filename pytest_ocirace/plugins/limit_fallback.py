"""A simulated test that failed after reaching a limit runs again, once, in the process mode.

The fake filesystem stops a process start, SQLite's C I/O or ``capfd`` with a one-line
error (``fakefs/boundaries.py``). Each is right, but on real suites they were the largest
group of tests that pass plain and fail under ``--ocirace`` (diskcache 161, persist-queue
~140, sqlitedict 77...): a user who sees hundreds of them uninstalls. The process mode
(docs/processes.md) runs the same test on the real disk with Windows' rules across every
process, where SQLite, subprocesses and ``capfd`` work. So, by default
(``--ocirace-on-limit=processes``), a simulated test that **failed** (setup or call) after
a limit error was made during it, even one the code under test caught (black swallows the
``ProcessStartError`` and fails on its exit code), runs again in the process mode, and only
that run is reported, with an ``ocirace fallback`` section saying so and why.

The first run's reports are never logged (pytest-rerunfailures' way:
``runtestprotocol(..., log=False)`` inside ``pytest_runtest_protocol``), so the terminal,
JUnit, ``--lf``, ``-x`` and pytest-xdist see one outcome per test. ``runtestprotocol`` is
pytest's own (``_pytest.runner``): no public name runs a test's phases without logging them.

A test that passed is never run again, nor one whose failure came without a limit, nor one
that asks for the fake filesystem itself (``winfs``, ``fs``), nor one that
pytest-rerunfailures reruns (the two would rerun each other's runs).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator

    from pytest_ocirace.fakefs.boundaries import OutsideSimulationError

__all__ = ["CHOICES", "PROPERTY", "SECTION", "on_limit"]

#: What a test that reached a limit does: run again in the process mode, or fail as it did.
CHOICES: tuple[str, ...] = ("processes", "fail")
#: The report section of a test that ran again.
SECTION = "ocirace fallback"
#: Its ``user_properties`` entry (JUnit ``<property>``): JSON with the limit and the error.
PROPERTY = "ocirace_fallback"

#: Fixtures that are the fake filesystem: a test asking for them cannot run without it.
_FAKE_FS_FIXTURES = ("winfs", "fs")
#: The order of the kinds in the summary line (others follow, by name).
_SUMMARY_ORDER = ("sqlite3.connect", "processes", "capfd")

_RERUN_KEY = pytest.StashKey["type[OutsideSimulationError]"]()
_COUNTS_KEY = pytest.StashKey["_Counts"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocirace")
    text = (
        "what a simulated test that fails after reaching a limit of the fake filesystem "
        "(a process start, sqlite3.connect on a file, capfd) does: 'processes' (the "
        "default) runs it again in the process mode and reports that run; 'fail' reports "
        "the fake filesystem's failure"
    )
    group.addoption(
        "--ocirace-on-limit",
        dest="ocirace_on_limit",
        default=None,
        metavar="{processes,fail}",
        help=f"{text} (ini: ocirace_on_limit)",
    )
    parser.addini("ocirace_on_limit", text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    _session_choice(config)  # a bad value stops the run with one line, before any test
    counts = config.stash[_COUNTS_KEY] = _Counts()
    config.pluginmanager.register(counts, "ocirace-limit-fallback")


def _checked(value: object, source: str) -> str:
    if value not in CHOICES:
        raise pytest.UsageError(
            f"{source}: {value!r} is not a choice; use one of {', '.join(CHOICES)} "
            "(processes: run the test again in the process mode; fail: keep the fake "
            "filesystem's failure)"
        )
    return str(value)


def _session_choice(config: pytest.Config) -> str:
    option = config.getoption("ocirace_on_limit", default=None)
    if option is not None:
        return _checked(option, "--ocirace-on-limit")
    ini = config.getini("ocirace_on_limit")
    if ini not in (None, ""):
        return _checked(ini, "ini ocirace_on_limit")
    return CHOICES[0]


def on_limit(item: pytest.Item) -> str:
    """The closest ``ocirace(on_limit=...)`` marker, else the command line, else the ini key."""
    for marker in item.iter_markers("ocirace"):
        if "on_limit" in marker.kwargs:
            return _checked(
                marker.kwargs["on_limit"], f"{item.nodeid}: @pytest.mark.ocirace(on_limit=...)"
            )
    return _session_choice(item.config)


def _may_run_again(item: pytest.Item) -> bool:
    """Whether ``item`` is simulated through the flag, ini or marker, and may fall back."""
    from pytest_ocirace.plugins.fakefs import auto_simulated

    names = getattr(item, "fixturenames", ())
    if any(name in names for name in _FAKE_FS_FIXTURES):
        return False
    try:
        simulated = auto_simulated(item)
    except pytest.UsageError:
        return False  # a bad marker: the test's set-up says so, as without the fallback
    if not simulated or on_limit(item) != "processes":
        return False
    return not _rerunfailures_reruns(item)


def _rerunfailures_reruns(item: pytest.Item) -> bool:
    """Whether pytest-rerunfailures will run this test's protocol (its options and marker)."""
    config = item.config
    if not config.pluginmanager.hasplugin("rerunfailures"):
        return False
    if item.get_closest_marker("flaky") is not None:
        return True
    if config.getoption("reruns", None) or config.getoption("force_reruns", None):
        return True
    try:
        return bool(config.getini("reruns"))
    except ValueError:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if not _may_run_again(item):
        return None  # pytest's own protocol
    from _pytest.runner import runtestprotocol

    from pytest_ocirace.fakefs.boundaries import LIMITS, OutsideSimulationError

    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reached: list[OutsideSimulationError] = []
    stop = LIMITS.listen(reached.append)
    try:
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    finally:
        stop()
    failed = any(r.failed for r in reports if r.when in ("setup", "call"))
    if reached and failed:
        reports = _run_in_the_process_mode(item, nextitem, reached[0], OutsideSimulationError)
    for report in reports:
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _run_in_the_process_mode(
    item: pytest.Item,
    nextitem: pytest.Item | None,
    limit: OutsideSimulationError,
    limit_class: type[OutsideSimulationError],
) -> list[pytest.TestReport]:
    """The test's second run, with the closest marker saying ``processes=True``."""
    from _pytest.runner import runtestprotocol

    where = _frame(item, limit)
    entry = {"limit": limit.limit, "error": str(limit), "frame": where}
    item.user_properties.append((PROPERTY, json.dumps(entry)))
    decorator = pytest.mark.ocirace(processes=True)
    mark = decorator.mark
    item.add_marker(decorator, append=False)
    item.stash[_RERUN_KEY] = limit_class
    try:
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    finally:
        del item.stash[_RERUN_KEY]
        if mark in item.own_markers:
            item.own_markers.remove(mark)
    note = (
        f"This test reached a limit of the fake filesystem ({limit.limit}) at {where}:\n"
        f"  {limit}\n"
        "It ran again in the process mode (the real disk, Windows' rules across every "
        "process: docs/processes.md); the outcome shown is that run's. "
        "--ocirace-on-limit=fail or @pytest.mark.ocirace(on_limit='fail') keeps the fake "
        "filesystem's failure instead."
    )
    for report in reports:
        if report.when == "call" or report.failed:
            report.sections.append((SECTION, note))
    return reports


def _frame(item: pytest.Item, error: BaseException) -> str:
    """Where the test met the limit: its own frame, else the innermost one shown."""
    own = str(getattr(item, "path", ""))
    shown = None
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        own_frame = code.co_filename == own
        hidden = tb.tb_frame.f_globals.get("__tracebackhide__", False)
        if own_frame or (not hidden and (shown is None or shown[0] != own)):
            shown = (code.co_filename, tb.tb_lineno, code.co_name)
        tb = tb.tb_next
    if shown is None:
        return "the test's set-up"  # made, never raised (capfd)
    filename, line, name = shown
    root = str(item.config.rootpath)
    if filename.startswith(root + os.sep):
        filename = os.path.relpath(filename, root)
    return f"{filename}:{line} in {name}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    limit_class = item.stash.get(_RERUN_KEY, None)
    if limit_class is None or call.excinfo is None or not report.failed:
        return report
    error = call.excinfo.value
    if isinstance(error, limit_class):
        # The process mode makes no limit error: this one is the first run's, raised again
        # from pytest's cache (a fixture of a wider scope, or a module's set-up, failed on it).
        report.longrepr = (
            f"pytest-ocirace: this test reached a limit of the fake filesystem "
            f"({error.limit}) and could not run again in the process mode: pytest raised "
            "the first run's error again from its cache (a fixture of a wider scope, or a "
            "module's set-up, met the limit); mark the tests that share it "
            "@pytest.mark.ocirace(processes=True)"
        )
    return report


class _Counts:
    """The tests that ran again, by limit, for the one summary line (also from xdist workers)."""

    def __init__(self) -> None:
        self.limits: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == PROPERTY:
                self.limits[_limit_of(value)] += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.limits:
            return
        total = sum(self.limits.values())
        kinds = sorted(
            self.limits,
            key=lambda k: (_SUMMARY_ORDER.index(k) if k in _SUMMARY_ORDER else 99, k),
        )
        counted = ", ".join(f"{kind}: {self.limits[kind]}" for kind in kinds)
        tests = "test" if total == 1 else "tests"
        terminalreporter.write_line(
            f"ocirace: {total} {tests} reached a limit of the fake filesystem and ran in the "
            f"process mode ({counted})"
        )


def _limit_of(value: object) -> str:
    try:
        entry = json.loads(str(value))
    except ValueError:
        return "?"
    return str(entry.get("limit", "?")) if isinstance(entry, dict) else "?"
