"""pytest glue for the process mode: options, the session's coordinator, one test's verdict.

A test runs in the process mode with ``--ocirace-processes``, the ini key
``ocirace_processes`` or ``@pytest.mark.ocirace(processes=True)``. It then runs on the real
disk: the test process is interposed and talks to the coordinator directly, its children
join through the environment (``bootstrap.py``). At the end of the call phase the test fails
if an injected Windows error escaped (in any process), if a participant died in the middle
of an operation, or if the coordinator had to refuse a message; the races go into the same
``ocirace`` section, summary and JSON as the fake filesystem's.
"""

from __future__ import annotations

import json
import os
import site
import sys
import tempfile
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

# Suites that never use the process mode must not pay for it: everything else is imported
# by the first test that runs in it.
if TYPE_CHECKING:
    from pytest_ocirace.realdisk.coordinator import Coordinator
    from pytest_ocirace.realdisk.judge import Judge

__all__ = ["process_mode"]

_COORDINATOR_KEY = pytest.StashKey["Coordinator"]()
_JUDGE_KEY = pytest.StashKey["Judge"]()
_REJECTED_KEY = pytest.StashKey[int]()
_SHARED_KEY = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocirace")
    group.addoption(
        "--ocirace-processes",
        action="store_true",
        default=None,
        dest="ocirace_processes",
        help="run tests in the process mode: on the real disk, with Windows' rules and the "
        "race model across every Python process the test starts (docs/processes.md)",
    )
    parser.addini(
        "ocirace_processes",
        "run tests in the process mode (see --ocirace-processes)",
        type="bool",
        default=False,
    )


def process_mode(item: pytest.Item) -> bool:
    """Whether ``item`` runs in the process mode (the closest marker decides first)."""
    for marker in item.iter_markers("ocirace"):
        if marker.kwargs.get("enabled") is False:
            return False
        if "processes" in marker.kwargs:
            value = marker.kwargs["processes"]
            if not isinstance(value, bool):
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.ocirace(processes=...) takes True or False, "
                    f"got {value!r}"
                )
            return value
    option = item.config.getoption("ocirace_processes", default=None)
    if option is not None:
        return bool(option)
    return bool(item.config.getini("ocirace_processes"))


_TEMP_ROOT_KEY = pytest.StashKey[str]()


def _tempdir(config: pytest.Config) -> str:
    """A fresh directory for ``tempfile`` in one test, under a short session directory.

    Short, because multiprocessing puts Unix sockets there (the forkserver's), whose paths
    may not exceed 107 bytes; kept until the session ends, because a forkserver started by
    one test serves the next ones from that directory.
    """
    root = config.stash.get(_TEMP_ROOT_KEY, None)
    if root is None:
        root = config.stash[_TEMP_ROOT_KEY] = tempfile.mkdtemp(prefix="ocirace-")
    return tempfile.mkdtemp(prefix="t", dir=root)


def _coordinator(config: pytest.Config, make_judge: Any = None) -> Coordinator:
    from pytest_ocirace.realdisk.coordinator import Coordinator

    coordinator = config.stash.get(_COORDINATOR_KEY, None)
    if coordinator is None:
        made = Coordinator() if make_judge is None else Coordinator(make_judge)
        coordinator = config.stash[_COORDINATOR_KEY] = made
    return coordinator


def _shared_interposition() -> Any:
    """The interposition of a pytest-xdist worker whose controller shares its coordinator."""
    from pytest_ocirace.realdisk.protocol import ENV_SHARED

    if not os.environ.get(ENV_SHARED):
        return None
    from pytest_ocirace.realdisk.interpose import active

    return active()


def _is_xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"


def _globally_on(config: pytest.Config) -> bool:
    option = config.getoption("ocirace_processes", default=None)
    return bool(option) if option is not None else bool(config.getini("ocirace_processes"))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ocirace(processes=True): run this test in the process mode (real disk, Windows' "
        "rules and the race model across every Python process it starts; docs/processes.md)",
    )
    if not (_is_xdist_controller(config) and _globally_on(config)):
        return
    # The controller's coordinator serves every worker: the workers are its children, join
    # through the .pth hook when they start, and their tests are concurrent with each other.
    from pytest_ocirace.plugins.fakefs import session_options
    from pytest_ocirace.realdisk.bootstrap import environment
    from pytest_ocirace.realdisk.judge import Judge
    from pytest_ocirace.realdisk.protocol import ENV_SHARED

    globs = [str(g) for g in config.getini("ocirace_ignore")]
    options = session_options(config)
    coordinator = _coordinator(config, lambda: Judge(globs, options=options))
    values = environment(coordinator.path, coordinator.secret_hex, _exclusions(config, coordinator))
    os.environ.update(values)
    os.environ[ENV_SHARED] = "1"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Options that only the fake filesystem can honour, given with the process mode on.

    They are not an error: a test can opt out (``@pytest.mark.ocirace(processes=False)``)
    and run in the fake filesystem, where they apply. But left unsaid, an option that does
    nothing looks like one that worked (atomicwrites' suite under ``--ocirace-processes``).
    A header line, not a warning: a suite that turns warnings into errors (portalocker's
    ``filterwarnings = error``) stopped with an INTERNALERROR at configure time.
    """
    if not _globally_on(config):
        return []
    from pytest_ocirace.plugins.fakefs import session_options

    options = session_options(config)
    named = [
        f"windows_{kind}_modules ({', '.join(modules)})"
        for kind, modules in (
            ("import", options.windows_import_modules),
            ("platform", options.windows_platform_modules),
        )
        if modules
    ]
    if not named:
        return []
    return [
        f"ocirace: the options {' and '.join(named)} apply only to tests in the fake "
        "filesystem; the process mode runs every module as the host imported it (its disk "
        "and interpreter are the host's). Mark the tests that need them "
        "@pytest.mark.ocirace(processes=False)."
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    coordinator = config.stash.get(_COORDINATOR_KEY, None)
    if coordinator is not None:
        coordinator.close()
        del config.stash[_COORDINATOR_KEY]
    root = config.stash.get(_TEMP_ROOT_KEY, None)
    if root is not None:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        del config.stash[_TEMP_ROOT_KEY]


def _exclusions(config: pytest.Config, coordinator: Coordinator) -> list[str]:
    """The interpreter's trees, pytest's cache, the coordinator's socket, pseudo-filesystems."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, coordinator.directory}
    paths.update(site.getsitepackages())
    paths.add(site.getusersitepackages())
    paths.update(("/proc", "/dev", "/sys"))
    cache = getattr(config, "cache", None)
    cachedir = getattr(cache, "_cachedir", None)
    paths.add(str(cachedir) if cachedir is not None else str(config.rootpath / ".pytest_cache"))
    return sorted(p for p in paths if p)


@contextmanager
def _environment(values: dict[str, str], tempdir: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in (*values, "TMPDIR")}
    saved_tempdir = tempfile.tempdir
    os.environ.update(values)
    os.environ["TMPDIR"] = tempdir
    tempfile.tempdir = tempdir
    try:
        yield
    finally:
        tempfile.tempdir = saved_tempdir
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def _ocirace_processes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Generator[None, None, None]:
    """Run the test in the process mode when it opted in."""
    item = request.node
    if not process_mode(item):
        yield
        return
    from pytest_ocirace.plugins.fakefs import simulation_options, skip_if_windows_skips

    try:
        options = simulation_options(item)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    skip_if_windows_skips(item, options)
    shared = _shared_interposition()
    if shared is not None:  # a pytest-xdist worker: the controller's coordinator judges
        shared.send("test", nodeid=item.nodeid)
        item.stash[_SHARED_KEY] = True
        yield
        return
    # pytest's base temporary directory is made from tempfile's: make it before tempfile
    # points into the test's own directory, so tmp_path keeps its usual place and retention.
    tmp_path_factory.getbasetemp()
    from pytest_ocirace.plugins.races import ignore_globs
    from pytest_ocirace.racemodel import report
    from pytest_ocirace.realdisk.bootstrap import environment, register_fork_hook
    from pytest_ocirace.realdisk.client import LocalClient
    from pytest_ocirace.realdisk.interpose import Interposition
    from pytest_ocirace.realdisk.judge import Judge

    try:
        globs = ignore_globs(item)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    coordinator = _coordinator(request.config)
    judge = Judge(globs, site=report.site, options=options)
    coordinator.begin(judge)
    item.stash[_JUDGE_KEY] = judge
    item.stash[_REJECTED_KEY] = len(coordinator.rejected)
    exclude = _exclusions(request.config, coordinator)
    values = environment(coordinator.path, coordinator.secret_hex, exclude)
    tempdir = _tempdir(request.config)
    with _environment(values, tempdir):
        interposition = Interposition(LocalClient(coordinator), exclude)
        interposition.environment = values
        register_fork_hook()
        interposition.install()
        try:
            yield
        finally:
            interposition.remove()


def _windows_errors(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(getattr(current, "exceptions", ()))


def _note_escaped(judge: Judge, exc: BaseException) -> None:
    """Mark the injected errors in ``exc``'s chain as escaped, also across a pickle.

    An error raised in a pool worker reaches the test re-built from its pickle, without our
    marks: it is matched to the injected error with the same code and names.
    """
    from pytest_ocirace.winrules.errors import is_windows_error

    for current in _windows_errors(exc):
        number = getattr(current, "_ocirace_race_number", None)
        if isinstance(number, int):
            judge.escaped(os.getpid(), number, str(current))
            continue
        if not is_windows_error(current) or not isinstance(current, OSError):
            continue
        for race in judge.model.races:
            error = race.error
            if (
                race.injected
                and race.handled is not False
                and isinstance(error, OSError)
                and getattr(error, "winerror", None) == getattr(current, "winerror", None)
                and error.filename == current.filename
                and error.filename2 == current.filename2
            ):
                judge.model.note_escaped(error)
                break


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    rep: pytest.TestReport = yield
    if call.when == "call" and item.stash.get(_SHARED_KEY, False):
        _shared_verdict(item, call, rep)
        return rep
    judge = item.stash.get(_JUDGE_KEY, None)
    if judge is None or call.when != "call":
        return rep
    from pytest_ocirace.plugins.races import PROPERTY
    from pytest_ocirace.racemodel import report

    if call.excinfo is not None:
        _note_escaped(judge, call.excinfo.value)
        if rep.failed:
            from pytest_ocirace.plugins import platform_note

            platform = platform_note.note(item, call.excinfo.value, process_mode=True)
            if platform is not None:
                rep.sections.append(("ocirace platform", platform))
    coordinator = item.config.stash[_COORDINATOR_KEY]
    problems = _problems(judge, coordinator.rejected[item.stash[_REJECTED_KEY] :])
    groups = sorted(judge.model.groups.values(), key=lambda g: g.severity)
    entries = [report.group_to_dict(g, item.nodeid, sample=i < 5) for i, g in enumerate(groups)]
    rep.user_properties.append((PROPERTY, json.dumps(entries)))
    notes = _notes(judge)
    if groups:
        rep.sections.append(("ocirace", report.format_groups(groups)))
    if notes:
        rep.sections.append(("ocirace processes", "\n".join(notes)))
    unhandled = sum(g.unhandled for g in groups)
    if rep.passed and (problems or unhandled):
        rep.outcome = "failed"
        lines = list(problems)
        if unhandled:
            lines.append(
                f"{unhandled} injected Windows error(s) escaped in a child process (see the "
                "ocirace section below)"
            )
        rep.longrepr = "pytest-ocirace process mode: " + "\n".join(lines)
    return rep


def _shared_verdict(item: pytest.Item, call: pytest.CallInfo[None], rep: pytest.TestReport) -> None:
    """A pytest-xdist worker's test: its races come from the controller's coordinator."""
    from pytest_ocirace.plugins.races import PROPERTY

    shared = _shared_interposition()
    if shared is None:
        return
    if call.excinfo is not None:
        for current in _windows_errors(call.excinfo.value):
            shared.escaped(current)
    answer = shared.client.request({"type": "collect"})
    text = answer.get("text")
    if isinstance(text, str) and text:
        rep.sections.append(("ocirace", text))
    unjoined = [
        (pid, [str(a) for a in argv])
        for pid, argv in answer.get("not_joined", [])
        if isinstance(pid, int) and isinstance(argv, list)
    ]
    if unjoined:
        rep.sections.append(("ocirace processes", "\n".join(_not_joined_notes(unjoined))))
    rep.user_properties.append((PROPERTY, json.dumps([])))
    escapes = [str(e) for e in answer.get("escapes", [])]
    unhandled = answer.get("unhandled", 0)
    if rep.passed and (escapes or unhandled):
        rep.outcome = "failed"
        lines = [f"an injected Windows error escaped: {e}" for e in escapes]
        if unhandled:
            lines.append(f"{unhandled} injected Windows error(s) escaped (see the ocirace section)")
        rep.longrepr = "pytest-ocirace process mode: " + "\n".join(lines)


def _problems(judge: Judge, rejected: list[str]) -> list[str]:
    problems = []
    for proc in judge.processes.values():
        if proc.died_during is not None:
            problems.append(
                f"process {proc.pid} died in the middle of an operation ({proc.died_during}); "
                "on Windows its handles close with it, but the operation's outcome is unknown"
            )
    for pid, text in judge.escapes:
        problems.append(f"process {pid}: an injected Windows error escaped: {text}")
    problems.extend(f"the coordinator refused a message: {reason}" for reason in rejected)
    return problems


def _notes(judge: Judge) -> list[str]:
    return _not_joined_notes(judge.not_joined() + judge.unseen(os.getpid(), judge.began))


def _not_joined_notes(processes: Iterable[tuple[int, list[str]]]) -> list[str]:
    """One line per program that never joined: the same in a worker and without xdist."""
    return [
        f"process {pid if pid > 0 else '(pid unknown: os.system)'} ({' '.join(argv)[:200]}) "
        "never joined the coordinator, so its file operations were not seen: it is not a "
        "Python process with pytest-ocirace installed, or it ended before it could join "
        "(killed or terminated first)"
        for pid, argv in processes
    ]
