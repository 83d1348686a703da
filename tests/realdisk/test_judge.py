"""The judge without transport: strands are (pid, thread), edges are parked clocks."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from pytest_ocirace.realdisk.judge import Judge
from pytest_ocirace.winrules.options import SimulationOptions


def op(kind: str, path: Path, path2: Path | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "path": str(path),
        "path2": None if path2 is None else str(path2),
        "fd": extra.pop("fd", None),
        "access": extra.pop("access", []),
        "creates": extra.pop("creates", False),
        "exclusive": extra.pop("exclusive", False),
        **extra,
    }


def replace(judge: Judge, pid: int, tmp: Path, target: Path) -> dict[str, Any]:
    tmp.write_text(str(pid))
    answer = judge.before(pid, 1, "MainThread", op("replace", tmp, target), [])
    if "error" not in answer:
        tmp.replace(target)
        judge.after(pid, 1, "MainThread", op("replace", tmp, target), True, [])
    return answer


def test_two_unordered_processes_replacing_onto_one_target(tmp_path: Path) -> None:
    judge = Judge()
    judge.hello(11, [], None)
    judge.hello(12, [], None)
    assert replace(judge, 11, tmp_path / "a", tmp_path / "t") == {}
    answer = replace(judge, 12, tmp_path / "b", tmp_path / "t")
    assert answer["error"] == {"winerror": 5, "crt": False}
    race = judge.race(answer["race"])
    assert race is not None
    assert race.rule == "concurrent-publish"
    assert (race.first.thread, race.second.thread) == (
        "MainThread (pid 11)",
        "MainThread (pid 12)",
    )
    # Bounded: the loser is now ordered after the winner, its retry passes.
    assert replace(judge, 12, tmp_path / "b", tmp_path / "t") == {}


def test_start_and_exit_order_a_child_between_its_parent_s_operations(tmp_path: Path) -> None:
    judge = Judge()
    judge.hello(1, [], None)
    assert replace(judge, 1, tmp_path / "p", tmp_path / "t") == {}
    judge.start(1, 1, "MainThread", "tok")
    judge.hello(2, [], "tok")  # a subprocess: its start token came in the environment
    assert replace(judge, 2, tmp_path / "c", tmp_path / "t") == {}
    judge.exited(2)
    judge.joined(1, 1, "MainThread", 2)
    assert replace(judge, 1, tmp_path / "p", tmp_path / "t") == {}


def test_without_the_join_the_parent_races_its_child(tmp_path: Path) -> None:
    judge = Judge()
    judge.start(1, 1, "MainThread", "tok")
    judge.hello(2, [], "tok")
    assert replace(judge, 2, tmp_path / "c", tmp_path / "t") == {}
    judge.exited(2)
    assert "error" in replace(judge, 1, tmp_path / "p", tmp_path / "t")


def test_work_items_are_strands_of_their_own_and_results_order_them(tmp_path: Path) -> None:
    judge = Judge()
    judge.hello(5, [], None)  # one pool worker runs both items
    for token in ("one", "two"):
        judge.release(1, 1, "MainThread", f"submit:{token}")
    judge.item(5, 1, "MainThread", "one", True)
    assert replace(judge, 5, tmp_path / "a", tmp_path / "t") == {}
    judge.item(5, 1, "MainThread", "one", False)
    judge.item(5, 1, "MainThread", "two", True)
    assert "error" in replace(judge, 5, tmp_path / "b", tmp_path / "t")
    judge.item(5, 1, "MainThread", "two", False)
    judge.acquire(1, 1, "MainThread", "done:one")
    judge.acquire(1, 1, "MainThread", "done:two")
    assert replace(judge, 1, tmp_path / "c", tmp_path / "t") == {}


def test_a_message_orders_the_receiver_after_the_sender(tmp_path: Path) -> None:
    judge = Judge()
    assert replace(judge, 1, tmp_path / "a", tmp_path / "t") == {}
    judge.release(1, 1, "MainThread", "pipe:1:2")
    judge.acquire(2, 1, "MainThread", "pipe:1:2")
    assert replace(judge, 2, tmp_path / "b", tmp_path / "t") == {}
    judge.acquire(3, 1, "MainThread", "pipe:9:9")  # another pipe orders nothing
    assert "error" in replace(judge, 3, tmp_path / "c", tmp_path / "t")


def test_a_common_lock_protects_and_a_semaphore_of_three_does_not(tmp_path: Path) -> None:
    judge = Judge()
    judge.mutex("semlock:m")
    for pid in (1, 2):
        judge.lock(pid, 1, "MainThread", "semlock:m")
        assert replace(judge, pid, tmp_path / f"{pid}", tmp_path / "t") == {}
        judge.unlock(pid, 1, "MainThread", "semlock:m")
    for pid in (3, 4):  # "semlock:s" was never declared a mutex
        judge.lock(pid, 1, "MainThread", "semlock:s")
    assert replace(judge, 3, tmp_path / "c", tmp_path / "u") == {}
    assert "error" in replace(judge, 4, tmp_path / "d", tmp_path / "u")


def test_an_open_handle_refuses_replace_and_remove_until_closed(tmp_path: Path) -> None:
    judge = Judge()
    me = os.getpid()  # the handle is really open in this process
    target = tmp_path / "t"
    target.write_text("x")
    with target.open() as handle:
        answer = judge.before(me, 1, "T", op("open", target, access=["read"]), [])
        judge.after(me, 1, "T", op("open", target, fd=handle.fileno(), **answer), True, [])
        (tmp_path / "n").write_text("y")
        refused = judge.before(me, 1, "T", op("replace", tmp_path / "n", target), [])
        assert refused == {"error": {"winerror": 5, "crt": False}}
        refused = judge.before(me, 1, "T", op("remove", target), [])
        assert refused == {"error": {"winerror": 32, "crt": False}}
        judge.after(me, 1, "T", op("close", target, fd=handle.fileno()), True, [])
    assert judge.before(me, 1, "T", op("remove", target), []) == {}


def test_a_handle_whose_close_was_missed_refuses_nothing(tmp_path: Path) -> None:
    judge = Judge()
    target = tmp_path / "t"
    target.write_text("x")
    with target.open() as handle:
        fd = handle.fileno()
        answer = judge.before(1, 1, "T", op("open", target, access=["read"]), [])
    # pid 1 does not exist, or has no such descriptor: the liveness check drops it.
    judge.after(1, 1, "T", op("open", target, fd=fd, **answer), True, [])
    assert judge.before(1, 1, "T", op("remove", target), []) == {}


def test_ignore_globs_leave_names_untracked(tmp_path: Path) -> None:
    judge = Judge(["*.log"])
    assert replace(judge, 1, tmp_path / "a", tmp_path / "x.log") == {}
    assert replace(judge, 2, tmp_path / "b", tmp_path / "x.log") == {}


def test_a_process_that_dies_mid_operation_is_recorded(tmp_path: Path) -> None:
    judge = Judge()
    judge.hello(7, ["python"], None)
    (tmp_path / "a").write_text("a")
    judge.before(7, 1, "T", op("replace", tmp_path / "a", tmp_path / "t"), [])
    judge.exited(7)
    assert judge.processes[7].died_during == f"replace {tmp_path / 'a'} -> {tmp_path / 't'}"
    judge.spawned(7, 8, ["sh", "-c", "true"])
    assert judge.not_joined() == [(8, ["sh", "-c", "true"])]


def test_a_check_unordered_with_a_creation_answers_absent_until_ordered(tmp_path: Path) -> None:
    judge = Judge()
    judge.hello(1, [], None)
    judge.hello(2, [], None)
    assert replace(judge, 1, tmp_path / "a", tmp_path / "t") == {}
    judge.release(1, 1, "MainThread", "built")
    assert judge.check(2, 1, "MainThread", str(tmp_path / "t"), []) is True
    judge.acquire(2, 1, "MainThread", "built")
    assert judge.check(2, 1, "MainThread", str(tmp_path / "t"), []) is False
    # The ordered re-check withdrew the first one (single flight): no race is left.
    assert judge.model.races == []
    assert judge.check(1, 1, "MainThread", str(tmp_path / "t"), []) is False


def test_a_refused_publish_onto_a_name_orders_the_loser_after_its_creator(
    tmp_path: Path,
) -> None:
    judge = Judge()
    judge.hello(1, [], None)
    judge.hello(2, [], None)
    (tmp_path / "a").write_text("a")
    assert judge.before(1, 1, "MainThread", op("link", tmp_path / "a", tmp_path / "t"), []) == {}
    os.link(tmp_path / "a", tmp_path / "t")
    judge.after(1, 1, "MainThread", op("link", tmp_path / "a", tmp_path / "t"), True, [])
    (tmp_path / "b").write_text("a")
    answer = judge.before(2, 1, "MainThread", op("link", tmp_path / "b", tmp_path / "t"), [])
    assert answer["error"]["winerror"] == 183
    # The loser saw the name: its "is it the same blob?" look is ordered, not absent.
    assert judge.check(2, 1, "MainThread", str(tmp_path / "t"), []) is False


def test_a_thread_that_ended_does_not_lend_its_past_to_the_next_one_with_its_ident(
    tmp_path: Path,
) -> None:
    """The C library reuses a finished thread's ident: the new thread is a new strand."""
    judge = Judge()
    judge.hello(1, [], None)
    judge.start(1, 1, "MainThread", "first")
    judge.adopt(1, 7, "Thread-1", "first")
    first = judge.before(1, 7, "Thread-1", op("replace", tmp_path / "a", tmp_path / "t"), [])
    assert first == {}
    judge.ended(1, 7, "Thread-1", "first")
    judge.start(1, 1, "MainThread", "second")
    judge.adopt(1, 7, "Thread-2", "second")  # the same ident, nothing ordering the two
    answer = judge.before(1, 7, "Thread-2", op("replace", tmp_path / "b", tmp_path / "t"), [])
    assert answer["error"]["winerror"] == 5
    race = judge.race(answer["race"])
    assert race is not None
    assert (race.first.thread, race.second.thread) == ("Thread-1 (pid 1)", "Thread-2 (pid 1)")


def test_joining_an_ended_thread_orders_the_next_one_with_its_ident(tmp_path: Path) -> None:
    judge = Judge()
    judge.hello(1, [], None)
    judge.start(1, 1, "MainThread", "first")
    judge.adopt(1, 7, "Thread-1", "first")
    assert judge.before(1, 7, "Thread-1", op("replace", tmp_path / "a", tmp_path / "t"), []) == {}
    judge.ended(1, 7, "Thread-1", "first")
    judge.acquire(1, 1, "MainThread", "thread-end:first")  # join()
    judge.start(1, 1, "MainThread", "second")
    judge.adopt(1, 7, "Thread-2", "second")
    assert judge.before(1, 7, "Thread-2", op("replace", tmp_path / "b", tmp_path / "t"), []) == {}


def test_an_exec_into_a_program_that_never_joins_is_named() -> None:
    judge = Judge()
    judge.hello(5, ["python"], None)
    judge.replaced(5, 1, "MainThread", "tok", ["sh", "-c", "true"])
    judge.exited(5)  # the exec closed the line; nobody says hello as pid 5 again
    assert judge.not_joined() == [(5, ["sh", "-c", "true"])]


def test_an_exec_into_python_joins_as_the_same_pid_whatever_line_closes_first(
    tmp_path: Path,
) -> None:
    judge = Judge()
    judge.hello(5, ["python"], None)
    judge.replaced(5, 1, "MainThread", "tok", ["python", "-c", "..."])
    judge.hello(5, ["python", "-c", "..."], "tok")  # the new program, before the old line closes
    judge.exited(5)  # the old program's line
    assert judge.not_joined() == []
    assert judge.processes[5].exited is False  # still running: join() must wait for it
    judge.exited(5)
    assert judge.processes[5].exited is True


def test_a_failed_exec_names_nothing() -> None:
    judge = Judge()
    judge.hello(5, ["python"], None)
    judge.replaced(5, 1, "MainThread", "tok", ["/no/such/program"])
    judge.exec_failed(5)
    judge.exited(5)
    assert judge.not_joined() == []


def test_a_missing_source_is_the_host_s_even_onto_an_existing_name(tmp_path: Path) -> None:
    # Regression: the table used to answer 183 (the target exists) before looking at the
    # source; Windows looks at the source first, and a missing name is the host's to
    # report (FileNotFoundError, errno 2, as on Windows).
    judge = Judge()
    (tmp_path / "t").write_text("x")
    assert judge.before(1, 1, "T", op("rename", tmp_path / "gone", tmp_path / "t"), []) == {}
    assert judge.before(1, 1, "T", op("remove", tmp_path / "nodir" / "gone"), []) == {}


def test_the_options_reach_the_real_disk(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    move = op("replace", tmp_path / "d", tmp_path / "f")
    assert Judge().before(1, 1, "T", move, []) == {"error": {"winerror": 5, "crt": False}}
    lenient = Judge(options=SimulationOptions(directory_onto_file="replace"))
    assert lenient.before(1, 1, "T", move, []) == {}


def test_opens_of_directories_are_left_to_the_host(tmp_path: Path) -> None:
    # POSIX branches fsync a directory after a rename (ocirace_writer does).
    judge = Judge()
    answer = judge.before(1, 1, "T", op("open", tmp_path, access=["read"]), [])
    assert "error" not in answer
    (tmp_path / "ro").write_text("x")
    (tmp_path / "ro").chmod(0o444)
    refused = judge.before(1, 1, "T", op("open", tmp_path / "ro", access=["write"]), [])
    assert refused == {"error": {"winerror": 5, "crt": True}}


def test_an_xdist_worker_s_test_names_only_its_own_programs_that_never_joined() -> None:
    """One judge for the session: each program is named once, in the test that started it.

    The pids are above any system's ``pid_max``: the judge also looks on ``/proc`` for
    what a worker's processes started through C code, and real pids have real children.
    """
    one, two = 1 << 30, (1 << 30) + 1
    judge = Judge()
    for worker in (one, two):
        judge.hello(worker, ["worker"], None)
    judge.spawned(one, one + 10, ["uname", "-p"])  # the worker starting up: no test's
    judge.test_begins(one, "test_one")
    judge.test_begins(two, "test_two")
    judge.spawned(one, one + 11, ["sh", "-c", "true"])
    judge.spawned(two, two + 20, ["python", "-S"])
    judge.spawned(one, one + 12, ["python"])
    judge.hello(one + 12, ["python"], None)  # joined: not named
    judge.spawned(one + 12, one + 13, ["make"])  # a grandchild: the worker's test started it
    assert judge.collect(one)["not_joined"] == [
        [one + 11, ["sh", "-c", "true"]],
        [one + 13, ["make"]],
    ]
    judge.test_begins(one, "test_three")
    assert judge.collect(one)["not_joined"] == []  # named already
    assert judge.collect(two)["not_joined"] == [[two + 20, ["python", "-S"]]]


def test_an_exclusive_create_that_lost_on_the_disk_never_held_the_name(tmp_path: Path) -> None:
    """Judged before it runs: two lock-file creates both allowed, one fails on the disk.

    The loser's open must not stay in the model as a handle, or the winner's release (the
    lock file's delete) races it: a false ``remove-open-file`` that failed every few runs.
    """
    judge = Judge()
    lock = tmp_path / "lock"
    create = op("open", lock, access=["write"], creates=True, exclusive=True)
    first = judge.before(1, 1, "MainThread", create, [])
    second = judge.before(2, 1, "MainThread", create, [])  # the name is not there yet either
    assert "error" not in first
    assert "error" not in second
    fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # the first wins on the disk
    judge.after(1, 1, "MainThread", {**create, "fd": fd, "handle": first["handle"]}, True, [])
    judge.after(2, 1, "MainThread", {**create, "handle": second["handle"]}, False, [])
    os.close(fd)
    judge.after(1, 1, "MainThread", op("close", lock, fd=fd), True, [])
    assert judge.before(1, 1, "MainThread", op("remove", lock), []) == {}
    assert judge.model.races == []


def test_an_exclusive_create_s_name_waits_for_its_outcome_until_reported_or_dead(
    tmp_path: Path,
) -> None:
    """Who must wait for an unreported exclusive create (the coordinator does the waiting)."""
    judge = Judge()
    lock = tmp_path / "lock"
    create = op("open", lock, access=["write"], creates=True, exclusive=True)
    answer = judge.before(1, 1, "MainThread", create, [])
    paths = (str(lock), None)
    assert judge.awaits_create(2, 1, paths, local=False)  # another process
    assert judge.awaits_create(2, 1, (str(tmp_path / "t"), str(lock)), local=False)  # a target
    assert not judge.awaits_create(2, 1, (str(tmp_path / "other"), None), local=False)
    # Its own process over a socket: the report is behind this message on the same line.
    assert not judge.awaits_create(1, 2, paths, local=False)
    # The test process calls the judge from each thread: another thread of it waits.
    assert judge.awaits_create(1, 2, paths, local=True)
    assert not judge.awaits_create(1, 1, paths, local=True)
    judge.after(1, 1, "MainThread", {**create, "handle": answer["handle"]}, False, [])
    assert not judge.awaits_create(2, 1, paths, local=False)
    judge.hello(3, ["python"], None)
    judge.before(3, 1, "MainThread", create, [])
    assert judge.awaits_create(2, 1, paths, local=False)
    judge.exited(3)  # killed between its create and its report
    assert not judge.awaits_create(2, 1, paths, local=False)
    assert judge.creating == {}


def test_a_handle_found_closed_before_its_close_report_is_closed_in_the_race_model_too(
    tmp_path: Path,
) -> None:
    """The lock-file scenario that failed 3 runs in 20 (bench/determinism_processes.py).

    A holds the lock file, closes its descriptor (the report waits for A's next message)
    and removes it. Judged in between, B's create found the descriptor closed on the disk
    and forgot A's handle there only: the race model kept it open for ever, and B's own
    release later was refused with 32 against it.
    """
    judge = Judge()
    me = os.getpid()  # real descriptors of a real process: the liveness check reads /proc
    lock = tmp_path / "lock"
    create = op("open", lock, access=["write"], creates=True, exclusive=True)

    def take(tid: int) -> int:
        answer = judge.before(me, tid, f"T{tid}", create, [])
        assert "error" not in answer
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        judge.after(me, tid, f"T{tid}", {**create, "fd": fd, "handle": answer["handle"]}, True, [])
        return fd

    def release(tid: int) -> dict[str, Any]:
        answer = judge.before(me, tid, f"T{tid}", op("remove", lock), [])
        if "error" not in answer:
            lock.unlink()
            judge.after(me, tid, f"T{tid}", op("remove", lock), True, [])
        return answer

    fd = take(1)
    os.close(fd)  # A's close: its report comes later, with A's next message
    refused = judge.before(me, 2, "T2", create, [])  # B tries while the file is there
    assert refused["error"]["winerror"] == 80
    judge.after(me, 1, "T1", op("close", lock, fd=fd), True, [])  # the late report
    assert release(1) == {}
    answer = judge.before(me, 2, "T2", create, [])
    if "error" in answer:  # injected once (B's create meets A's delete unordered): retry
        answer = judge.before(me, 2, "T2", create, [])
    fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    judge.after(me, 2, "T2", {**create, "fd": fd, "handle": answer["handle"]}, True, [])
    os.close(fd)
    judge.after(me, 2, "T2", op("close", lock, fd=fd), True, [])
    assert release(2) == {}
    assert [race.rule for race in judge.model.races] == ["open-while-renaming"]


def test_a_report_names_its_announcement_by_number(tmp_path: Path) -> None:
    """``done`` carries the number, the outcome and the descriptor; the judge kept the rest."""
    judge = Judge()
    me = os.getpid()  # a real descriptor of a real process: the liveness check reads /proc
    target = tmp_path / "target"
    create = op("open", target, access=["write"], creates=True)
    answer = judge.before(me, 1, "T", create, [], 7)
    fd = os.open(target, os.O_CREAT | os.O_WRONLY)
    try:
        assert judge.done(me, 7, True, fd) is False  # not an exclusive create
        assert judge.disk.state(str(target)).open_handles == 1  # the handle of the announcement
        assert judge.done(me, 7, True, fd) is False  # reported once: a second report is ignored
        assert judge.done(2, 7, True, fd) is False  # another process's number names nothing
        judge.closed(me, fd)
        assert judge.disk.state(str(target)).open_handles == 0
        assert "handle" in answer
    finally:
        os.close(fd)
    refused = judge.before(2, 1, "T", op("open", tmp_path, access=["write"], exclusive=True), [], 8)
    assert "error" in refused
    assert judge.done(2, 8, False, None) is False  # a refused announcement is not kept
    judge.before(3, 1, "T", op("remove", tmp_path / "gone"), [], 9)
    judge.exited(3)  # died before its report: forgotten with it
    assert judge.done(3, 9, True, None) is False
    judge.hello(4, ["python"], None)
    lock = op("open", tmp_path / "lock", access=["write"], creates=True, exclusive=True)
    judge.before(4, 2, "T2", lock, [], 1)  # a thread's lock file, cut off...
    judge.replaced(4, 1, "T", "token", ["python", "other.py"])  # ...by an exec
    judge.hello(4, ["python", "other.py"], "token")  # the new program numbers from 1 again
    assert judge.done(4, 1, True, None) is False  # not the old program's create
    assert judge.creating == {}  # nobody waits for it


def test_an_open_for_writing_of_a_name_that_is_there_creates_nothing(tmp_path: Path) -> None:
    # python-dotenv's FIFO test: the name was made by something nothing announces
    # (os.mkfifo; or before the test), a thread opens it "w" while another checks it.
    judge = Judge()
    judge.hello(1, [], None)
    judge.hello(2, [], None)
    there = tmp_path / "there"
    there.write_text("")
    opening = op("open", there, access=["write"], creates=True)
    answer = judge.before(2, 1, "MainThread", opening, [])
    assert "error" not in answer
    assert judge.check(1, 1, "MainThread", str(there), []) is False
    # The same open of a name that is not there creates it: the check is unordered with
    # that creation, so it is answered "absent" (and recorded).
    fresh = tmp_path / "fresh"
    assert "error" not in judge.before(
        2, 1, "MainThread", op("open", fresh, access=["write"], creates=True), []
    )
    assert judge.check(1, 1, "MainThread", str(fresh), []) is True
    assert [race.rule for race in judge.model.races] == ["check-then-act"]


def _opened(judge: Judge, tid: int, path: Path, fd: int, *, write: bool = True) -> None:
    """Thread ``tid`` of this process opened ``path`` (really open as ``fd``), as reported."""
    opening = op("open", path, access=["write" if write else "read"], creates=write)
    answer = judge.before(os.getpid(), tid, f"T{tid}", opening, [])
    assert "error" not in answer
    judge.after(os.getpid(), tid, f"T{tid}", {**opening, "fd": fd, **answer}, True, [])


def test_a_file_locked_by_its_holders_is_no_shared_writers_race(tmp_path: Path) -> None:
    # fasteners' InterProcessLock: every process opens the lock file "a", then flocks it.
    # Threads of this process stand for them: their descriptors must really be open.
    lock_file, shared = tmp_path / "lock", tmp_path / "shared"
    judge = Judge()
    judge.hello(os.getpid(), [], None)
    with contextlib.ExitStack() as stack:
        fds = [stack.enter_context(lock_file.open("a")).fileno() for _ in range(3)]
        for tid in (1, 2):
            _opened(judge, tid, lock_file, fd=fds[tid - 1])
        assert [race.rule for race in judge.model.races] == ["shared-writers"]
        info = lock_file.stat()
        judge.lock(os.getpid(), 1, "T1", f"flock:{info.st_dev}:{info.st_ino}")
        assert judge.model.races == []  # withdrawn: the lock is what serialises them
        _opened(judge, 3, lock_file, fd=fds[2])
        assert judge.model.races == []
        # A file that nobody locks stays a race.
        others = [stack.enter_context(shared.open("a")).fileno() for _ in range(2)]
        for tid in (1, 2):
            _opened(judge, tid, shared, fd=others[tid - 1])
        assert [race.rule for race in judge.model.races] == ["shared-writers"]


def test_a_replace_onto_a_name_that_was_there_does_not_make_it_absent(tmp_path: Path) -> None:
    # The real disk holds what no test announced (a cache index from an earlier run): a
    # replace onto it keeps it there in every schedule, so an unordered check sees it.
    judge = Judge()
    judge.hello(1, [], None)
    judge.hello(2, [], None)
    index = tmp_path / "index"
    index.write_text("earlier run")
    assert replace(judge, 1, tmp_path / "a", index) == {}
    assert judge.check(2, 1, "MainThread", str(index), []) is False
    assert judge.model.races == []


def test_a_handle_closed_by_another_thread_ends_at_the_closer_s_epoch(tmp_path: Path) -> None:
    # persist-queue's queue: the main thread opens the tail chunk, starts a consumer and
    # goes on; the consumer closes the chunk and deletes it. Ended at the opener's present
    # epoch, the handle looked open to that delete: a false [WinError 32] in every run.
    me = os.getpid()
    chunk = tmp_path / "q00000"
    chunk.write_text("items")
    judge = Judge()
    judge.hello(me, [], None)
    with chunk.open() as reader:
        _opened(judge, 1, chunk, reader.fileno(), write=False)
        judge.release(me, 1, "T1", "pipe:start:2")  # the main thread starts the consumer
        judge.acquire(me, 2, "T2", "pipe:start:2")
        judge.release(me, 1, "T1", "pipe:later:9")  # and goes on
        judge.closed(me, reader.fileno(), 2)  # the consumer closes the chunk
    assert judge.before(me, 2, "T2", op("remove", chunk), []) == {}
    assert judge.model.races == []
    # Closed by the thread that opened it, unordered with another's delete: still a race.
    other = tmp_path / "q00001"
    other.write_text("items")
    with other.open() as reader:
        _opened(judge, 1, other, reader.fileno(), write=False)
        judge.closed(me, reader.fileno(), 1)
    assert judge.before(me, 2, "T2", op("remove", other), [])["error"]["winerror"] == 32
