"""The race model wired into pytest, end to end, through pytester.

Each test writes a small test module, runs pytest on it and reads what a user would read:
outcomes, the ``ocirace`` report section, the terminal summary and the JSON report. Most runs
are in-process (fast); the ones about fresh interpreters (lock tracking from the start, the
cost for suites that do not use ocirace, pytest-xdist) run in a subprocess.
"""

from __future__ import annotations

import json
import re
import threading

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from pytest_ocirace.racemodel import report, sync

pytest_plugins = ["pytester"]

PUBLISH = """
import os
import threading
import pytest

def publish(tmp, target, data=b"layer"):
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)

def in_threads(*calls):
    threads = [threading.Thread(target=fn, args=args) for fn, *args in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
"""

RACY = (
    PUBLISH
    + """
def test_racy():
    in_threads((publish, "a.tmp", "blob"), (publish, "b.tmp", "blob"))
"""
)

RETRYING = (
    PUBLISH
    + """
import time

def publish_with_retry(tmp, target):
    with open(tmp, "wb") as handle:
        handle.write(b"layer")
    for attempt in range(5):
        try:
            os.replace(tmp, target)
            return
        except PermissionError as exc:
            if exc.winerror not in (5, 32):
                raise
            time.sleep(0.01)
    raise AssertionError("never published")

def test_retrying():
    in_threads((publish_with_retry, "a.tmp", "blob"), (publish_with_retry, "b.tmp", "blob"))
"""
)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    return pytester.runpytest_inprocess(*quiet, *args)


def _section(result: pytest.RunResult) -> str:
    """The text of the first ``ocirace`` report section in the output."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if line.startswith("-") and " ocirace " in line)
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith(("=", "_", "-"))),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end])


def test_racy_test_fails_with_a_report_of_both_operations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_racy=RACY)
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=1)
    section = _section(result)
    assert "race on blob (concurrent-publish)" in section
    # Both operations, each with its thread and the user's own frame and source line.
    # Which writer reaches the filesystem first is up to the scheduler; the report says both.
    pattern = r"first : replace '(.)\.tmp' -> 'blob' in thread 'Thread-\d+ \(publish\)'"
    first = re.search(pattern, section)
    assert first is not None, section
    loser = {"a": "b", "b": "a"}[first.group(1)]
    assert f"second: replace '{loser}.tmp' -> 'blob' in thread 'Thread-" in section
    assert len(re.findall(r"test_racy\.py:\d+ in publish\n", section)) == 2
    assert section.count("os.replace(tmp, target)") == 2
    # User frames only: no plugin, pyfakefs or standard-library frame.
    for machinery in ("pytest_ocirace/", "pyfakefs", "threading.py", "_pytest"):
        assert machinery not in section
    assert "bytes : identical (sha256 " in section
    assert "error : [WinError 5] Access is denied, raised in the second operation and NOT" in (
        section
    )
    assert "fix: publish with ocirace_writer.write_blob(" in section
    # The lost exception itself, with the user's frames only.
    result.stdout.fnmatch_lines(
        [
            "*1 exception(s) escaped a thread and were lost*",
            "exception in thread 'Thread-*', not handled by the thread:",
            "  File *test_racy.py*, line *, in publish",
            f"PermissionError: [[]WinError 5] Access is denied: '{loser}.tmp' -> 'blob'",
        ]
    )


def test_different_bytes_are_reported_as_a_lost_update(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_lost=PUBLISH
        + """
def test_two_versions():
    in_threads((publish, "a.tmp", "index.json", b"v1"), (publish, "b.tmp", "index.json", b"v2"))
"""
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=1)
    assert "bytes : DIFFERENT (sha256 " in _section(result)
    result.stdout.fnmatch_lines(["*1 race(s) in 1 test(s); 1 not handled, 1 lost update(s)"])


def test_safe_tests_pass_without_a_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_safe=PUBLISH
        + """
import concurrent.futures

LOCK = threading.Lock()

def locked_publish(tmp, target):
    with LOCK:
        publish(tmp, target)

def test_one_after_the_other():
    for tmp in ("a.tmp", "b.tmp"):
        thread = threading.Thread(target=publish, args=(tmp, "blob"))
        thread.start()
        thread.join()

def test_module_lock_around_the_publish():
    in_threads((locked_publish, "a.tmp", "blob"), (locked_publish, "b.tmp", "blob"))

def test_future_result_orders_the_second_writer():
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pool.submit(publish, "a.tmp", "blob").result()
        pool.submit(publish, "b.tmp", "blob").result()
"""
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["*= ocirace =*", "3 test(s) ran with race detection", "no races found"]
    )
    assert "race on" not in result.stdout.str()


def test_race_in_a_pool_fails_in_the_users_frame(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_pool=PUBLISH
        + """
import concurrent.futures

def test_pool():
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(publish, f"{i}.tmp", "blob") for i in range(2)]
        for future in futures:
            future.result()
"""
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*test_pool.py:*: PermissionError", "*publish (work item *)*"], consecutive=False
    )
    assert "sync.py" not in result.stdout.str()  # the model's wrappers are hidden


def test_strict_mode_fails_a_handled_race_and_its_ini_twin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_retry=RETRYING)
    relaxed = _run(pytester, "--ocirace")
    relaxed.assert_outcomes(passed=1)
    relaxed.stdout.fnmatch_lines(["1 race(s) in 1 test(s); 0 not handled, 0 lost update(s)"])

    strict = _run(pytester, "--ocirace", "--ocirace-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(
        [
            "*strict mode (--ocirace-strict / ocirace_strict): 1 race(s) happened, even though "
            "the code handled the injected errors*",
            "*error : [[]WinError 5] Access is denied, raised in the second operation; it did not "
            "escape the test*",
        ]
    )

    pytester.makeini("[pytest]\nocirace = true\nocirace_strict = true\n")
    _run(pytester).assert_outcomes(failed=1)


def test_marker_ignore_and_ini_ignore(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_logs=PUBLISH
        + """
@pytest.mark.ocirace(ignore=["*.LOG"])
def test_marker_ignores_logs():
    in_threads((publish, "a.tmp", "run.log"), (publish, "b.tmp", "run.log"))

@pytest.mark.ocirace
def test_ini_ignores_traces():
    os.makedirs("C:/work/traces")
    in_threads((publish, "a.tmp", "C:/work/traces/t"), (publish, "b.tmp", "C:/work/traces/t"))

@pytest.mark.ocirace(ignore=["*.log"])
def test_other_names_still_race():
    in_threads((publish, "a.tmp", "blob"), (publish, "b.tmp", "blob"))
"""
    )
    pytester.makeini("[pytest]\nocirace_ignore =\n    c:\\work\\traces\\*\n")
    result = _run(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_other_names_still_race*"])


def test_bad_marker_ignore_is_a_one_line_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ocirace(ignore=5)
        def test_one():
            pass
        """
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.ocirace(ignore=...) takes a list of path globs, got 5; write e.g.*"]
    )


def test_unknown_marker_option_lists_ignore_as_known(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.ocirace(ignored=['x'])\ndef test_one():\n    pass\n"
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*unknown ocirace option 'ignored'; known options: *, ignore, expect_races"]
    )


def test_declared_ordering_api(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_declared=PUBLISH
        + """
import _thread
from pytest_ocirace import exclusive, happens_after, happens_before

def handoff(declare):
    # The second writer waits on a raw lock the model cannot see.
    ready = _thread.allocate_lock()
    ready.acquire()

    def first():
        publish("a.tmp", "blob")
        if declare:
            happens_before("blob-ready")
        ready.release()

    def second():
        ready.acquire()
        if declare:
            happens_after("blob-ready")
        publish("b.tmp", "blob")

    in_threads((first,), (second,))

def test_declared_handoff_passes():
    handoff(declare=True)

def test_undeclared_handoff_races():
    handoff(declare=False)

def test_exclusive_blocks_are_protected():
    def guarded(tmp):
        with exclusive("blob-lock"):
            publish(tmp, "blob")
    in_threads((guarded, "a.tmp"), (guarded, "b.tmp"))
"""
    )
    result = _run(pytester, "--ocirace", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_undeclared_handoff_races*"])


def test_an_exception_escaping_a_worker_thread_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import threading
        import pytest

        def work():
            raise ValueError("lost in a thread")

        @pytest.mark.ocirace
        def test_thread_error():
            thread = threading.Thread(target=work, name="worker-1")
            thread.start()
            thread.join()

        def test_plain_thread_error_is_left_to_pytest():
            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
        """
    )
    result = _run(
        pytester, "-p", "no:randomly", "-W", "ignore::pytest.PytestUnhandledThreadExceptionWarning"
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 exception(s) escaped a thread and were lost*",
            "exception in thread 'worker-1', not handled by the thread:",
            "*in work",
            "ValueError: lost in a thread",
        ]
    )


def test_open_during_a_rename_fails_with_the_c_runtime_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_open=PUBLISH
        + """
import _thread

def test_reader_meets_the_publish():
    publish("a.tmp", "blob")
    done = _thread.allocate_lock()
    done.acquire()
    seen = []

    def writer():
        publish("b.tmp", "blob")
        done.release()

    def reader():
        done.acquire()
        try:
            open("blob", "rb").close()
        except OSError as exc:
            seen.append(exc)

    in_threads((writer,), (reader,))
    [error] = seen
    assert type(error) is PermissionError
    assert (error.errno, error.winerror) == (13, None)
    assert str(error) == "[Errno 13] Permission denied: 'blob'"
"""
    )
    result = _run(pytester, "--ocirace", "-rP")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*race on blob (open-while-renaming)*",
            "*PermissionError [[]Errno 13] Permission denied*",
        ],
        consecutive=False,
    )


def test_json_report_is_valid_and_complete(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_racy=RACY, test_retry=RETRYING)
    result = _run(pytester, "--ocirace", "--ocirace-report", "out/races.json")
    result.assert_outcomes(passed=1, failed=1)
    path = pytester.path / "out" / "races.json"
    result.stdout.fnmatch_lines([f"race report (JSON): {path}"])
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, report.JSON_SCHEMA)
    assert document["summary"]["tests"] == [
        "test_racy.py::test_racy",
        "test_retry.py::test_retrying",
    ]
    racy = [g for g in document["groups"] if g["test"] == "test_racy.py::test_racy"]
    assert [(g["rules"], g["count"], g["injected"], g["unhandled"]) for g in racy] == [
        (["concurrent-publish"], 1, 1, 1)
    ]
    sample = racy[0]["sample"]
    assert (sample["rule"], sample["winerror"], sample["handled"], sample["identical"]) == (
        "concurrent-publish",
        5,
        False,
        True,
    )
    # Both racing operations are at one line: one group, its site named once per side.
    site = {"file": str(pytester.path / "test_racy.py"), "line": 8, "function": "publish"}
    assert racy[0]["sites"] == [site, site]
    frames = sample["second"]["frames"]
    assert [(f["file"], f["function"]) for f in frames] == [
        (str(pytester.path / "test_racy.py"), "publish")
    ]


def test_json_report_is_written_even_without_races(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    _run(pytester, "--ocirace-report", "races.json").assert_outcomes(passed=1)
    document = json.loads((pytester.path / "races.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, report.JSON_SCHEMA)
    assert document["summary"]["races"] == 0


def test_report_path_that_is_a_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.mkdir("reports")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = _run(pytester, "--ocirace-report", "reports")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ocirace-report reports: is a directory; give a file path*"])


def test_a_failing_setup_hook_leaves_nothing_installed(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        teardowns = []

        @pytest.hookimpl(trylast=True)  # after the race model installed itself
        def pytest_ocirace_setup(simulation, item):
            raise RuntimeError("broken extension")

        def pytest_ocirace_teardown(simulation, item):
            teardowns.append(item.name)
        """
    )
    pytester.makepyfile(
        """
        import threading
        import pytest

        ORIGINAL_START = threading.Thread.start
        ORIGINAL_HOOK = threading.excepthook

        @pytest.mark.ocirace
        def test_broken():
            pass

        def test_after():
            import conftest
            from pytest_ocirace.racemodel.sync import Instrumentation

            assert conftest.teardowns == ["test_broken"]  # called although setup failed
            assert Instrumentation._installed is None
            assert threading.Thread.start is ORIGINAL_START
            assert threading.excepthook is ORIGINAL_HOOK
        """
    )
    result = _run(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*RuntimeError: broken extension*"])


def test_locks_made_in_the_test_are_tracked_with_the_marker_alone(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_marker=PUBLISH
        + """
@pytest.mark.ocirace
def test_lock_made_in_the_test():
    lock = threading.Lock()

    def locked(tmp):
        with lock:
            publish(tmp, "blob")

    in_threads((locked, "a.tmp"), (locked, "b.tmp"))
"""
    )
    _run(pytester).assert_outcomes(passed=1)
    assert vars(threading)["Lock"] is not sync.TrackedLock  # nothing left behind


MODULE_LOCK = (
    PUBLISH
    + """
LOCK = threading.Lock()  # made when pytest imports this module

def locked(tmp):
    with LOCK:
        publish(tmp, "blob")

@pytest.mark.ocirace
def test_module_lock():
    in_threads((locked, "a.tmp"), (locked, "b.tmp"))
"""
)


def test_module_level_locks_need_session_tracking(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_module_lock=MODULE_LOCK)
    # The marker alone starts tracking per test: a lock made at import is invisible, so the
    # two locked publishes look unprotected (documented; --ocirace or the ini key fix it).
    _run(pytester).assert_outcomes(failed=1)
    _run(pytester, "--ocirace").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nocirace_track_locks = true\n")
    _run(pytester).assert_outcomes(passed=1)
    assert vars(threading)["Lock"] is not sync.TrackedLock


def test_lock_tracking_starts_before_conftest_imports(pytester: pytest.Pytester) -> None:
    # A fresh interpreter: conftest.py makes the lock before any test module is imported,
    # and the simulation's own modules are first imported after tracking started.
    pytester.makeconftest("import threading\nCONFTEST_LOCK = threading.Lock()\n")
    pytester.makepyfile(
        test_conftest_lock=PUBLISH
        + """
from conftest import CONFTEST_LOCK

def locked(tmp):
    with CONFTEST_LOCK:
        publish(tmp, "blob")

def test_conftest_lock():
    in_threads((locked, "a.tmp"), (locked, "b.tmp"))

def test_unlocked_still_races():
    in_threads((publish, "a.tmp", "blob"), (publish, "b.tmp", "blob"))
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--ocirace", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_unlocked_still_races*"])


def test_plugin_costs_nothing_for_suites_that_do_not_use_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys
        import threading
        import _thread

        def test_nothing_of_the_race_model_is_loaded():
            # options.py (names and help of the options) is all the plugin imports.
            ours = tuple(
                f"pytest_ocirace.{layer}."
                for layer in ("winrules", "racemodel", "fakefs", "realdisk")
            )
            loaded = [m for m in sys.modules if m.startswith(ours)]
            assert loaded == ["pytest_ocirace.winrules.options"]
            assert "pytest_ocirace.racemodel.report" not in sys.modules
            assert "pytest_ocirace.plugins.races" in sys.modules
            assert threading.Lock in (_thread.allocate_lock, _thread.LockType)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "ocirace" not in result.stdout.str().split("passed")[0].split("collected")[1]


def test_xdist_aggregates_summary_and_json_on_the_controller(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a=RACY,
        test_b=RACY.replace("test_racy", "test_racy_too"),
        test_c=RETRYING,
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--ocirace", "--ocirace-report", "races.json"
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*= ocirace =*",
            "3 test(s) ran with race detection",
            "3 race(s) in 3 test(s); 2 not handled, 0 lost update(s)",
            "  test_a.py::test_racy: 1 race(s) in 1 group(s) (concurrent-publish)",
            "  test_b.py::test_racy_too: 1 race(s) in 1 group(s) (concurrent-publish)",
            "  test_c.py::test_retrying: 1 race(s) in 1 group(s) (concurrent-publish)",
        ]
    )
    assert result.stdout.str().count("= ocirace =") == 1  # the controller's, not the workers'
    document = json.loads((pytester.path / "races.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, report.JSON_SCHEMA)
    assert document["summary"]["tests_affected"] == 3
    assert document["summary"]["unhandled"] == 2


def test_reference_writer_passes_strict_mode(pytester: pytest.Pytester) -> None:
    # Regression: write_blob's single-flight waited on a lock (no ordering in the model) and
    # every thread raced to create the layout files, so strict mode failed the very code the
    # fix hints point to. Duplicate blobs from a pool, a new layout, and late arrivals.
    pytester.makepyfile(
        test_writer="""
import concurrent.futures
import hashlib
from pytest_ocirace import write_blob

def test_duplicates_from_a_pool():
    blobs = [b"", b"", b"layer", b"", b"layer", b"config"]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(write_blob, "layout", "sha256:" + hashlib.sha256(b).hexdigest(), b)
            for b in blobs
        ]
        paths = [future.result() for future in futures]
    for blob, path in zip(blobs, paths):
        assert open(path, "rb").read() == blob
"""
    )
    for _ in range(5):
        result = _run(pytester, "--ocirace", "--ocirace-strict")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["no races found"])


def test_an_event_set_by_two_threads_fails_whichever_set_ran_first(
    pytester: pytest.Pytester,
) -> None:
    # The third thread's set() can release the waiter before the first thread published:
    # on Windows the two publishes can overlap. Whichever set runs first in a run (the
    # sleeps vary it), the test fails; when the first thread's set won, the model finds
    # the race after the fact, from the later set().
    pytester.makepyfile(
        PUBLISH
        + """
import time

@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05] * 2)
def test_two_setters(delay):
    event = threading.Event()

    def first():
        publish("a.tmp", "blob")
        event.set()

    def waiter():
        event.wait()
        publish("b.tmp", "blob")

    def late_setter():
        time.sleep(delay)
        event.set()

    in_threads((first,), (waiter,), (late_setter,))

def test_one_setter_orders():
    event = threading.Event()

    def first():
        publish("a.tmp", "blob")
        event.set()

    def waiter():
        event.wait()
        publish("b.tmp", "blob")

    in_threads((first,), (waiter,))
"""
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(passed=1, failed=6)


ISOLATION_CONFTEST = """
import threading
import pytest

ORIGINAL = (threading.Event.set, threading.Thread.start, threading.Condition.wait)

@pytest.hookimpl(tryfirst=True)
def pytest_ocirace_setup(simulation, item):
    if item.name == "test_setup_hook":
        raise RuntimeError("a setup hook fails on purpose")

@pytest.hookimpl(tryfirst=True)
def pytest_ocirace_teardown(simulation, item):
    if item.name == "test_teardown_hook":
        raise RuntimeError("a teardown hook fails on purpose")

@pytest.fixture
def bad_setup(winfs):
    raise RuntimeError("a fixture fails in setup on purpose")

@pytest.fixture
def bad_teardown(winfs):
    yield
    raise RuntimeError("a fixture fails in teardown on purpose")

@pytest.fixture
def check_restored():
    assert (threading.Event.set, threading.Thread.start, threading.Condition.wait) == ORIGINAL
"""

ISOLATION_TESTS = """
import os
import threading
import pytest

def publish(tmp, target):
    with open(tmp, "wb") as handle:
        handle.write(b"x")
    os.replace(tmp, target)

@pytest.mark.ocirace
def test_{kind}():
    publish("a", "blob")

def test_plain_after_{kind}(check_restored):
    pass

@pytest.mark.ocirace
def test_simulated_after_{kind}():
    thread = threading.Thread(target=publish, args=("a", "blob"))
    thread.start()
    thread.join()
    publish("b", "blob")  # ordered by the join: no race
"""


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        ("setup_hook", ""),
        ("teardown_hook", ""),
        ("fixture_setup", "bad_setup"),
        ("fixture_teardown", "bad_teardown"),
    ],
)
def test_a_failing_setup_or_teardown_never_affects_the_next_tests(
    pytester: pytest.Pytester, kind: str, fixture: str
) -> None:
    pytester.makeconftest(ISOLATION_CONFTEST)
    tests = ISOLATION_TESTS.format(kind=kind)
    if fixture:
        tests = tests.replace(f"def test_{kind}():", f"def test_{kind}({fixture}):", 1)
    pytester.makepyfile(tests)
    result = _run(pytester, "-W", "error::pytest.PytestWarning")
    # The broken test errors with its own failure; the two after it pass: the plain one
    # sees threading as it was, the simulated one gets a fresh race model.
    # (A teardown error leaves the test's own call passed, as pytest always reports it.)
    result.assert_outcomes(passed=3 if "teardown" in kind else 2, errors=1)
    assert "already installed" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*fails*on purpose*"])


TO_THREAD_WRITERS = """
import asyncio
import os
import time
import pytest

RUNS = range(20)

def write(target, index, tries):
    # zarr 3's fix (PR #4358): each write an asyncio.to_thread work item, retrying
    # winerror 5/32 a bounded number of times.
    temp = f"{target}.{index}.tmp"
    with open(temp, "wb") as handle:
        handle.write(b"chunk")
    for attempt in range(tries):
        try:
            os.replace(temp, target)
            return attempt
        except PermissionError as exc:
            if exc.winerror not in (5, 32) or attempt == tries - 1:
                raise
            time.sleep(0.001 * (attempt + 1))

async def write_all(tries):
    jobs = [asyncio.to_thread(write, "c0", i, tries) for i in range(24)]
    return await asyncio.gather(*jobs)

@pytest.mark.parametrize("run", RUNS)
def test_bounded_retry_passes(run):
    attempts = asyncio.run(write_all(10))
    assert max(attempts) <= 1  # one failure at most, then the retry goes through

@pytest.mark.parametrize("run", RUNS)
def test_no_retry_fails(run):
    asyncio.run(write_all(1))
"""


def test_injected_failures_are_bounded_so_a_bounded_retry_passes(
    pytester: pytest.Pytester,
) -> None:
    # Every run, real threads: 24 work items replacing one target with a bounded retry all
    # pass, and the same code without the retry fails in every run.
    pytester.makepyfile(test_to_thread=TO_THREAD_WRITERS)
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(passed=20, failed=20)
    failed = [line for line in result.outlines if line.startswith("FAILED")]
    assert len(failed) == 20
    assert all("test_no_retry_fails" in line for line in failed)


EXPECTING = (
    RETRYING
    + """
@pytest.mark.ocirace(expect_races=True)
def test_races_on_purpose():
    in_threads((publish_with_retry, "a.tmp", "blob"), (publish_with_retry, "b.tmp", "blob"))

@pytest.mark.ocirace(expect_races=["concurrent-publish"])
def test_expects_a_race_that_does_not_happen():
    publish("a.tmp", "blob")
    publish("b.tmp", "blob")

@pytest.mark.ocirace(expect_races=["shared-writers"])
def test_expects_another_rule():
    in_threads((publish_with_retry, "a.tmp", "blob"), (publish_with_retry, "b.tmp", "blob"))
"""
)


def test_expected_races_are_quiet_and_a_missing_one_fails_like_strict_xfail(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_expect=EXPECTING)
    result = _run(pytester, "--ocirace-strict", "-k", "not test_retrying")
    # Strict mode fails handled races, but not expected ones; an expectation that does
    # not come true fails the test, as a strict xfail that passed does.
    result.assert_outcomes(passed=1, failed=2, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_expects_a_race_that_does_not_happen _*",
            "pytest-ocirace: [[]expected races did not happen[]] no concurrent-publish race*",
            "*_ test_expects_another_rule _*",
            "pytest-ocirace: [[]expected races did not happen[]] no shared-writers race*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= ocirace =*",
            "3 test(s) ran with race detection",
            "1 race(s) in 1 test(s); 0 not handled, 0 lost update(s); "
            "1 expected race(s) not counted",
            "  test_expect.py::test_expects_another_rule: 1 race(s) in 1 group(s) "
            "(concurrent-publish)",
            "  test_expect.py::test_races_on_purpose: 1 expected race(s) in 1 group(s) "
            "(concurrent-publish)",
        ]
    )


def test_expect_races_with_a_bad_value_is_a_one_line_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.ocirace(expect_races=['typo'])\ndef test_one():\n    pass\n"
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*expect_races=...) takes True or rule names (*), got [[]'typo'[]]; write e.g.*"]
    )
    assert "During handling" not in result.stdout.str()


_SITE = """
def site_{n}(index):
    temp = f"blob{n}.{{index}}.tmp"
    with open(temp, "wb") as handle:
        handle.write(b"x")
    try:
        os.replace(temp, "blob{n}")
    except PermissionError:
        os.remove(temp)  # handled: the test passes, its races are reported
"""

# Eight publishing functions, each its own code site (its os.replace line).
FLOOD = (
    "import os\nfrom concurrent.futures import ThreadPoolExecutor\n"
    + "".join(_SITE.format(n=n) for n in range(8))
    + """
def test_flood():
    with ThreadPoolExecutor(max_workers=4) as pool:
        for n in range(8):
            list(pool.map(globals()[f"site_{n}"], range(ITEMS)))
"""
)


def _output_sizes(pytester: pytest.Pytester, items: int) -> tuple[int, int, int]:
    pytester.makepyfile(test_flood=f"ITEMS = {items}\n" + FLOOD)
    pytester.makeini("[pytest]\nocirace_report_max_groups = 3\n")
    result = _run(
        pytester, "--ocirace", "-rP", "--ocirace-report=races.json", "--junitxml=junit.xml"
    )
    result.assert_outcomes(passed=1)
    document = json.loads((pytester.path / "races.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, report.JSON_SCHEMA)
    assert document["summary"]["groups"] == 8
    assert document["summary"]["races"] == 8 * (items - 1)
    assert sum(g["sample"] is not None for g in document["groups"]) == 3
    result.stdout.fnmatch_lines(["5 more group(s) with * race(s) not shown *"])
    return (
        len(result.stdout.str()),
        (pytester.path / "races.json").stat().st_size,
        (pytester.path / "junit.xml").stat().st_size,
    )


def test_a_flood_of_races_costs_bounded_output(pytester: pytest.Pytester) -> None:
    # 8 pairs of code sites; 8 * 99 races report the same as 8 * 9: three groups in full,
    # the rest as counts, in the section, the summary, the JSON and the junit XML.
    few = _output_sizes(pytester, 10)
    many = _output_sizes(pytester, 100)  # pyfakefs' cost per operation bounds this
    for small, large in zip(few, many, strict=True):
        assert large < small + 200, (few, many)  # only the digits of the counts grow
    assert max(many) < 40_000


def test_a_swallowed_injected_error_is_named_where_it_was_swallowed(
    pytester: pytest.Pytester,
) -> None:
    # A cache's set() swallows the injected WinError and returns False; the test fails
    # later, reading what was never written. "0 not handled" would hide the cause.
    pytester.makepyfile(
        test_cache=PUBLISH
        + """
def cache_set(tmp, target):
    try:
        publish(tmp, target)
        return True
    except OSError:
        return False

def test_cache():
    results = []
    in_threads(
        (lambda: results.append(cache_set("a.tmp", "entry")),),
        (lambda: results.append(cache_set("b.tmp", "entry")),),
    )
    assert results == [True, True]
"""
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=1)
    path = pytester.path / "test_cache.py"
    result.stdout.fnmatch_lines(
        [
            f"pytest-ocirace: the injected WinError 5 was swallowed at {path}:*in cache_set; "
            f"the test failed later at {path}:*in test_cache",
            "*= ocirace =*",
            "*0 not handled*",
            f"  test_cache.py::test_cache: the injected WinError 5 was swallowed at {path}:*",
        ]
    )


def test_a_failure_inside_our_race_report_fails_the_test_not_the_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("report broke")

    monkeypatch.setattr(report, "group_to_dict", broken)
    pytester.makepyfile(test_racy=RACY + "\ndef test_after():\n    pass\n")
    result = _run(pytester, "--ocirace")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-ocirace: the race report of this test's call phase failed "
            "(RuntimeError: report broke)*"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str()


REPORT_BREAKS = """
import pytest

calls = []

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    # What pyfakefs half patched did under pytest-rerunfailures (portalocker 4's suite).
    if call.when == "call" and len(calls) < {times}:
        calls.append(call)
        raise AttributeError("type object 'RealPathlibModule' has no attribute 'WindowsPath'")
"""


@pytest.mark.parametrize("outcome", ["passes", "fails"])
def test_a_report_broken_by_pyfakefs_state_is_made_on_the_real_filesystem(
    pytester: pytest.Pytester, outcome: str
) -> None:
    pytester.makeconftest(REPORT_BREAKS.format(times=1))
    body = "pass" if outcome == "passes" else "assert False"
    pytester.makepyfile(f"def test_one():\n    {body}\n\ndef test_two():\n    pass\n")
    result = _run(pytester, "--ocirace")
    assert "INTERNALERROR" not in result.stdout.str()
    if outcome == "passes":
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(failed=1, passed=1)


def test_a_report_that_cannot_be_made_is_a_one_line_error_on_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = pytest.TestReport.from_item_and_call

    def broken(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        if call.when == "call" and item.name == "test_one":
            raise AttributeError("type object 'RealPathlibModule' has no attribute 'WindowsPath'")
        return made(item, call)

    monkeypatch.setattr(pytest.TestReport, "from_item_and_call", staticmethod(broken))
    pytester.makepyfile("def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    result = _run(pytester, "--ocirace")
    assert "INTERNALERROR" not in result.stdout.str()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-ocirace: the report of this test's call phase could not be made "
            "(AttributeError: type object 'RealPathlibModule' has no attribute 'WindowsPath')*"
        ]
    )


def test_a_thread_of_an_earlier_test_dying_later_does_not_fail_the_running_test(
    pytester: pytest.Pytester,
) -> None:
    # portalocker: a thread its (failed) test left waiting woke during a later test and
    # died there ("cannot release un-acquired lock"); the later test errored with
    # "1 exception(s) escaped a thread and were lost".
    pytester.makepyfile(
        """
import threading
import time

WAKE = threading.Event()

def wait_then_die():
    WAKE.wait(30)
    raise RuntimeError("died after its test")

def test_leaves_a_waiting_thread():
    threading.Thread(target=wait_then_die, name="sleeper", daemon=True).start()

def test_later():
    WAKE.set()
    time.sleep(0.5)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "exceptions in threads that outlived their simulated test, raised while a later "
            "test ran (not charged to it):",
            "  'sleeper': RuntimeError: died after its test",
        ]
    )


def test_a_finished_tests_race_model_goes_without_the_cyclic_collector(
    pytester: pytest.Pytester,
) -> None:
    # The model, its accesses and their captured stacks were kept by reference cycles
    # (the tracker's listener, the thread hook) until a collection: about 200 objects per
    # test for the collector to find. With the collector off, the model must be gone once
    # its test's reports are made.
    pytester.makepyfile(
        test_models="""
        import gc
        import os
        import weakref

        MODELS = []

        def test_simulated(winfs):
            gc.disable()
            MODELS.append(weakref.ref(winfs.observer))
            with open("data.txt", "w") as handle:
                handle.write("x")
            os.replace("data.txt", "moved.txt")

        def test_after():
            try:
                assert MODELS[0]() is None
            finally:
                gc.enable()
        """
    )
    result = _run(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=2)
