"""Processes and C-level I/O in a simulated test: one line at the call, nothing left running.

Real processes, real multiprocessing start methods, real sqlite3: the point is what a user
sees when their suite does these things under ``--ocirace`` (issue 8 and issue 9).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
import threading

import pytest

pytest_plugins = ["pytester"]

PROCESS_LINE = re.compile(
    r"^E +pytest_ocirace\.fakefs\.boundaries\.ProcessStartError: pytest-ocirace: (.+) starts "
    r"a process, but the simulated Windows filesystem lives in this test's process only \(the "
    r"child would see the real disk, not the test's files\); mark it "
    r"@pytest\.mark\.ocirace\(processes=True\) or run with --ocirace-processes \(the process "
    r"mode: the real disk, Windows' rules across every process\), or run it without the "
    r"simulation with @pytest\.mark\.ocirace\(enabled=False\)$"
)

ENTRY_POINTS = """
import concurrent.futures
import multiprocessing
import multiprocessing.pool
import os
import subprocess
import sys

import pytest


def square(x):
    return x * x


def test_subprocess_run():
    subprocess.run([sys.executable, "-c", "pass"], stdout=subprocess.PIPE)


def test_check_output():
    subprocess.check_output([sys.executable, "-c", "print(1)"])


def test_popen():
    subprocess.Popen([sys.executable, "-c", "pass"])


def test_os_system():
    os.system("true")


def test_os_popen():
    os.popen("true")


def test_os_fork():
    os.fork()


def test_os_spawnv():
    os.spawnv(os.P_WAIT, sys.executable, [sys.executable, "-c", "pass"])


def test_os_spawnlp():
    os.spawnlp(os.P_WAIT, "true", "true")


def test_os_execv():
    os.execv(sys.executable, [sys.executable, "-c", "pass"])


def test_os_execlp():
    os.execlp("true", "true")


def test_posix_spawn():
    os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], dict(os.environ))


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_process_start(method):
    multiprocessing.get_context(method).Process(target=square, args=(2,)).start()


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_process_pool_executor(method):
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        pool.submit(square, 3).result()


def test_process_pool_executor_default():
    with concurrent.futures.ProcessPoolExecutor() as pool:
        list(pool.map(square, [1, 2]))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_pool(method):
    with multiprocessing.get_context(method).Pool(2) as pool:
        pool.map(square, [1, 2])


def test_manager():
    with multiprocessing.Manager() as manager:
        manager.dict()


def test_asyncio_subprocess():
    import asyncio

    async def main():
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        await process.wait()

    asyncio.run(main())
"""

#: Test name -> what the one-line error must name.
EXPECTED = {
    "test_subprocess_run": "subprocess.Popen (subprocess.run, check_output...)",
    "test_check_output": "subprocess.Popen (subprocess.run, check_output...)",
    "test_popen": "subprocess.Popen (subprocess.run, check_output...)",
    "test_os_system": "os.system()",
    "test_os_popen": "os.popen()",
    "test_os_fork": "os.fork()",
    "test_os_spawnv": "os.spawnv()",
    "test_os_spawnlp": "os.spawnlp()",
    "test_os_execv": "os.execv()",
    "test_os_execlp": "os.execlp()",
    "test_posix_spawn": "os.posix_spawn()",
    "test_process_start[fork]": "multiprocessing.Process.start() (start method 'fork')",
    "test_process_start[spawn]": "multiprocessing.Process.start() (start method 'spawn')",
    "test_process_start[forkserver]": (
        "multiprocessing.Process.start() (start method 'forkserver')"
    ),
    "test_process_pool_executor[fork]": "concurrent.futures.ProcessPoolExecutor",
    "test_process_pool_executor[spawn]": "concurrent.futures.ProcessPoolExecutor",
    "test_process_pool_executor[forkserver]": "concurrent.futures.ProcessPoolExecutor",
    "test_process_pool_executor_default": "concurrent.futures.ProcessPoolExecutor",
    "test_multiprocessing_pool[fork]": "multiprocessing.Pool",
    "test_multiprocessing_pool[spawn]": "multiprocessing.Pool",
    "test_manager": "multiprocessing's Manager().start()",
    "test_asyncio_subprocess": "subprocess.Popen (subprocess.run, check_output...)",
}


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # The fake filesystem's own answer at each limit: not run again in the process mode
    # (limit_fallback.py), where a fork really forks and the child runs on in the session.
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    return pytester.runpytest_inprocess(*quiet, "--ocirace-on-limit=fail", *args)


def _children() -> list[str]:
    """Live child processes of this process (zombies included: a child nobody waited for)."""
    found: list[str] = []
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{task}/children") as handle:
            found.extend(handle.read().split())
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for children")
def test_every_process_entry_point_fails_at_the_call_with_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_entry_points=ENTRY_POINTS)
    threads_before = set(threading.enumerate())
    children_before = _children()
    result = _run(pytester, "--ocirace", "-rf")
    result.assert_outcomes(failed=len(EXPECTED))
    named: dict[str, str] = {}
    test: str | None = None
    for line in result.outlines:
        header = re.match(r"^_+ (test_\S+) _+$", line)
        if header:
            test = header.group(1)
        match = PROCESS_LINE.match(line)
        if match and test is not None:
            named[test] = match.group(1)
    assert named == EXPECTED
    # The error came before anything was started: no child, no helper thread, no pool.
    assert _children() == children_before
    assert multiprocessing.active_children() == []
    assert {t for t in threading.enumerate() if t.is_alive()} <= threads_before
    assert "AttributeError" not in result.stdout.str()
    assert "_recursion_count" not in result.stdout.str()


def test_the_error_points_at_the_test_line_not_at_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import subprocess, sys
        def test_one():
            subprocess.check_call([sys.executable, "-c", "pass"])  # the user's line
        """
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "# the user's line" in output
    assert "boundaries.py" not in output


def test_processes_work_again_once_the_simulation_is_over(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import subprocess, sys, pytest

        @pytest.mark.ocirace
        def test_simulated():
            with pytest.raises(RuntimeError, match="starts a process"):
                subprocess.run([sys.executable, "-c", "pass"])

        def test_plain_after():
            assert subprocess.run([sys.executable, "-c", "print(7)"],
                                  capture_output=True, text=True).stdout == "7\\n"
        """
    )
    _run(pytester).assert_outcomes(passed=2)


def test_enabled_false_runs_a_test_without_the_simulation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import concurrent.futures, os, sqlite3, subprocess, sys, pytest

        def square(x):
            return x * x

        @pytest.mark.ocirace(enabled=False)
        def test_opted_out(tmp_path):
            assert os.sep == "/"
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            with concurrent.futures.ProcessPoolExecutor(1) as pool:
                assert pool.submit(square, 3).result() == 9
            sqlite3.connect(str(tmp_path / "x.db")).execute("create table t(x)")

        def test_still_simulated():
            assert os.sep == "\\\\"
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=2)


def test_closest_marker_decides_enabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os, pytest
        pytestmark = pytest.mark.ocirace(enabled=False)

        def test_module_opted_out():
            assert os.sep == "/"

        @pytest.mark.ocirace(enabled=True)
        def test_back_in():
            assert os.sep == "\\\\"
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=2)


def test_enabled_takes_a_bool(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.ocirace(enabled="no")
        def test_one():
            pass
        """
    )
    result = _run(pytester)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*ocirace(enabled=...) takes True or False, got 'no'*"])


SQLITE_LINE = (
    "E *pytest_ocirace.fakefs.boundaries.ForeignIOError: pytest-ocirace: "
    "sqlite3.connect(*) would open a database file, but SQLite does its file I/O in C, "
    "outside the simulated Windows filesystem (it would use the real disk); use ':memory:' "
    "(or 'file::memory:' with uri=True), or run this test without the simulation with "
    "@pytest.mark.ocirace(enabled=False)"
)


def test_sqlite_file_stops_at_connect_and_memory_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os, sqlite3, tempfile

        def test_file_in_fake_temp():
            # diskcache's default: a directory from tempfile.mkdtemp() (C:\\\\Users\\\\...)
            sqlite3.connect(os.path.join(tempfile.mkdtemp(), "cache.db"))

        def test_file_in_tmp_path(tmp_path):
            sqlite3.connect(tmp_path / "cache.db")

        def test_file_uri():
            sqlite3.connect("file:cache.db?mode=rwc", uri=True)

        def test_memory():
            for database, uri in ((":memory:", False), ("", False),
                                  ("file::memory:?cache=shared", True),
                                  ("file:x?mode=memory", True)):
                with sqlite3.connect(database, uri=uri) as db:
                    db.execute("create table t(x)")
                    db.execute("insert into t values (1)")
        """
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines([SQLITE_LINE] * 3, consecutive=False)
    assert "KeyError" not in result.stdout.str()
    assert "FileNotFoundError" not in result.stdout.str()


def test_dbm_open_uses_dbm_dumb_as_on_windows(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import dbm, os, shelve

        def test_dbm():
            with dbm.open("db", "c") as db:
                db[b"k"] = b"v"
            with dbm.open("db", "r") as db:
                assert db[b"k"] == b"v"
            assert dbm.whichdb("db") == "dbm.dumb"
            assert all(os.path.isfile(name) for name in ("db.bak", "db.dat", "db.dir"))

        def test_shelve():
            with shelve.open("shelf") as shelf:
                shelf["answer"] = 42
            with shelve.open("shelf") as shelf:
                assert shelf["answer"] == 42
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=2)


def test_a_writable_mmap_of_a_fake_descriptor_stops_and_a_read_only_one_copies(
    pytester: pytest.Pytester,
) -> None:
    # cachecontrol: memoryview(mmap.mmap(buf.fileno(), 0, access=mmap.ACCESS_READ)) of its
    # NamedTemporaryFile body buffer; every cached response used to stop here.
    pytester.makepyfile(
        """
        import mmap
        import pytest

        def test_read_only():
            with open("f", "wb") as handle:
                handle.write(b"0123456789")
            with open("f", "rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            assert bytes(memoryview(mapped)) == b"0123456789"
            assert mapped[2:4] == b"23" and len(mapped) == 10
            with pytest.raises(TypeError, match="readonly"):
                mapped[0:1] = b"x"
            with pytest.raises(TypeError, match="readonly"):
                mapped.write(b"x")

        def test_read_only_empty_file():
            open("e", "wb").close()
            with open("e", "rb") as handle, pytest.raises(ValueError, match="empty file"):
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

        def test_writable():
            with open("f", "wb") as handle:
                handle.write(b"x" * 10)
            with open("f", "r+b") as handle:
                mmap.mmap(handle.fileno(), 0)

        def test_anonymous():
            region = mmap.mmap(-1, 16)
            region[:2] = b"ok"
            assert isinstance(region, mmap.mmap) and region[:2] == b"ok"
        """
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=1, passed=3)
    result.stdout.fnmatch_lines(
        [
            "E *ForeignIOError: pytest-ocirace: mmap.mmap(*, ...) maps a file descriptor of the "
            "fake filesystem for writing*"
        ]
    )


def test_thread_pool_executor_is_not_a_process(pytester: pytest.Pytester) -> None:
    # multiprocessing.pool.ThreadPool (a subclass of the guarded Pool) is not refused
    # either, but it hangs under the race model's threading instrumentation on main
    # already (reported); only the guard's side is checked for it, without running it.
    pytester.makepyfile(
        """
        import concurrent.futures, multiprocessing.pool

        def test_thread_pool():
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                assert list(pool.map(abs, [-3])) == [3]
            assert issubclass(multiprocessing.pool.ThreadPool, multiprocessing.pool.Pool.__mro__[1])
            assert "__new__" not in vars(multiprocessing.pool.ThreadPool)
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=1)


def test_each_limit_error_made_is_heard_until_the_listener_stops() -> None:
    # The seam of limit_fallback.py: a limit error is heard when it is made, so a test whose
    # code caught it (black's process pool) is still known to have reached a limit.
    from pytest_ocirace.fakefs.boundaries import LIMITS, ProcessStartError, capture_error

    heard: list[BaseException] = []
    stop = LIMITS.listen(heard.append)
    try:
        made = capture_error("capfd")
    finally:
        stop()
    ProcessStartError("made after the listener stopped")
    assert heard == [made]
    assert made.limit == "capfd"
    assert str(made).startswith("capfd cannot work in a simulated test")
