"""Processes nobody announced, found on /proc: real children, running, exited, earlier."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pytest_ocirace.realdisk.descendants import clock, started_since

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")


def test_a_running_child_and_its_child_are_found_with_their_argv() -> None:
    since = clock()
    code = "import subprocess, sys; subprocess.run(['sleep', '30'])"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while True:  # until the grandchild exists
            found = started_since({os.getpid()}, since)
            if ["sleep", "30"] in found.values():
                break
            assert time.monotonic() < deadline, found
            time.sleep(0.05)
        assert found[child.pid] == [sys.executable, "-c", code]
    finally:
        child.kill()
        child.wait()


def test_a_zombie_is_found_by_its_name_until_it_is_reaped() -> None:
    since = clock()
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 0"], os.environ)
    deadline = time.monotonic() + 60
    while True:  # until it has exited (a zombie: no command line left)
        found = started_since({os.getpid()}, since)
        if found.get(pid) == ["[sh]"]:
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    os.waitpid(pid, 0)
    assert pid not in started_since({os.getpid()}, since)


def test_a_child_started_before_is_not_found() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.1)  # more than the kernel's tick of start times
        since = clock()
        assert child.pid not in started_since({os.getpid()}, since)
        assert child.pid in started_since({os.getpid()}, since - 60)
    finally:
        child.kill()
        child.wait()
