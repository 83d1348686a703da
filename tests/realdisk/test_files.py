"""files.py's existence checks: check-then-act across processes, both ways; open()'s modes.

A check that another process's unordered creation may or may not precede answers "absent"
(as in the schedule where the creation comes later), so code relying on the name fails in
every run; a check ordered after the creation (a join, a message) sees it. The scenarios
run in one pytester subprocess, as in test_plugin.py.
"""

from __future__ import annotations

import os

import pytest

from pytest_ocirace.realdisk.files import _flag_access, _mode_access
from tests.plugins.test_processes import check, run

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

CHECKS = """
from pathlib import Path

def wait_until_there(root):
    # The real order, unseen by the race model (os.listdir is not announced): the check
    # then comes after the publish in real time, in every run, and nothing orders the two.
    # Without it the check ran first in some runs and saw no file at all (no race to
    # report: a test counting on one was flaky).
    deadline = time.monotonic() + 30
    while "target" not in os.listdir(root) and time.monotonic() < deadline:
        time.sleep(0.005)

def use_if_built(root, how):
    # The check-then-act: read the blob if it is there, else give up (exit code 3).
    wait_until_there(root)
    target = os.path.join(root, "target")
    if how == "exists":
        there = os.path.exists(target)
    elif how == "path":
        there = Path(target).is_file()
    elif how == "access":
        there = os.access(target, os.R_OK)
    else:
        try:
            os.stat(target)
            there = True
        except FileNotFoundError:
            there = False
    if not there:
        sys.exit(3)
    with open(target) as handle:
        assert handle.read() == "a"

HOWS = ["exists", "path", "access", "stat"]

@pytest.mark.parametrize("how", HOWS)
def test_racy_check_then_act_across_processes(tmp_path, how):
    ctx = mp.get_context("fork")
    builder = ctx.Process(target=publish, args=(str(tmp_path), "a"))
    user = ctx.Process(target=use_if_built, args=(str(tmp_path), how))
    builder.start()
    user.start()
    builder.join()
    user.join()
    assert user.exitcode == 0

@pytest.mark.parametrize("how", HOWS)
def test_ordered_check_after_the_join(tmp_path, how):
    ctx = mp.get_context("fork")
    builder = ctx.Process(target=publish, args=(str(tmp_path), "a"))
    builder.start()
    builder.join()
    user = ctx.Process(target=use_if_built, args=(str(tmp_path), how))
    user.start()
    user.join()
    assert user.exitcode == 0

def test_racy_check_in_the_test_process(tmp_path):
    builder = mp.get_context("spawn").Process(target=publish, args=(str(tmp_path), "a"))
    builder.start()
    wait_until_there(str(tmp_path))
    there = (tmp_path / "target").exists()
    builder.join()
    assert there

def leader(root, done):
    publish(root, "a")
    done.send("built")

def follower(root, ready):
    # Single flight: not there yet (or not known to be)? Wait for the leader, look again.
    target = os.path.join(root, "target")
    if not os.path.exists(target):
        ready.recv()
        assert os.path.exists(target)
    with open(target) as handle:
        assert handle.read() == "a"

def test_ordered_single_flight(tmp_path):
    ctx = mp.get_context("fork")
    ready, done = ctx.Pipe(duplex=False)
    workers = [
        ctx.Process(target=follower, args=(str(tmp_path), ready)),
        ctx.Process(target=leader, args=(str(tmp_path), done)),
    ]
    for w in workers: w.start()
    for w in workers: w.join()
    assert [w.exitcode for w in workers] == [0, 0]

def test_ordered_checks_of_a_missing_name(tmp_path):
    assert not os.path.exists(tmp_path / "nothing")
    assert not os.access(tmp_path / "nothing", os.F_OK)
    with pytest.raises(FileNotFoundError):
        os.stat(tmp_path / "nothing")

def test_ordered_names_no_call_accepts_fail_as_on_the_host(tmp_path):
    # Never announced: "" would be abspath's working directory (an exclusive create of it
    # refused as existing: filelock's SoftFileLock polled for ever), a NUL broke the judge.
    with pytest.raises(FileNotFoundError):
        os.open("", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with pytest.raises(FileNotFoundError):
        os.stat("")
    with pytest.raises(ValueError, match="embedded null"):
        os.open(str(tmp_path / "a\\0b"), os.O_RDONLY)
    with pytest.raises(ValueError, match="embedded null"):
        open(str(tmp_path / "a\\0b"), "w")
    assert not os.path.exists(str(tmp_path / "a\\0b"))
"""


def test_check_then_act_across_processes(pytester: pytest.Pytester) -> None:
    result = run(pytester, CHECKS)
    found = check(result)
    assert len(found) == 12
    assert "check-then-act" in result.stdout.str()


@pytest.mark.parametrize(
    ("mode", "flags"),
    [
        ("x", os.O_CREAT | os.O_EXCL | os.O_WRONLY),
        ("xb+", os.O_CREAT | os.O_EXCL | os.O_RDWR),
        ("w", os.O_CREAT | os.O_TRUNC | os.O_WRONLY),
        ("a+", os.O_CREAT | os.O_APPEND | os.O_RDWR),
        ("r", os.O_RDONLY),
    ],
)
def test_open_modes_are_announced_as_the_flags_they_open_with(mode: str, flags: int) -> None:
    """``open(path, "x")`` is ``O_CREAT|O_EXCL``: announced as an exclusive create too."""
    assert _mode_access(mode) == _flag_access(flags)
