"""The coordinator over its real socket: who may join, what it refuses, who dies on it."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pytest_ocirace.realdisk.client import JoinError, SocketClient
from pytest_ocirace.realdisk.coordinator import Coordinator
from pytest_ocirace.realdisk.protocol import encode, read_frame, send

OP = {
    "kind": "replace",
    "path": "/x/tmp",
    "path2": "/x/target",
    "fd": None,
    "access": [],
    "creates": False,
    "exclusive": False,
}


@pytest.fixture
def coordinator() -> Iterator[Coordinator]:
    server = Coordinator()
    yield server
    server.close()


def before(tid: int = 1) -> dict[str, object]:
    return {"type": "before", "tid": tid, "tname": "T", "op": OP, "frames": []}


def test_the_socket_directory_is_private(coordinator: Coordinator) -> None:
    assert os.stat(coordinator.directory).st_mode & 0o777 == 0o700


def test_a_process_without_the_secret_cannot_join(coordinator: Coordinator) -> None:
    with pytest.raises(JoinError, match="refused"):
        SocketClient(coordinator.path, b"x" * 32)
    assert any("failed authentication" in reason for reason in coordinator.rejected)
    assert coordinator.judge.processes == {}


def test_hostile_messages_close_their_connection_and_the_coordinator_goes_on(
    coordinator: Coordinator,
) -> None:
    for raw in (b"\x00\x00\x00\x05[1,2", b"\xff\xff\xff\xff", encode(before())):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(coordinator.path)
        assert "nonce" in (read_frame(sock) or {})
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""  # closed by the coordinator
        sock.close()
    client = SocketClient(coordinator.path, coordinator.secret)
    client.notify({"type": "nope"})  # after joining: refused, connection closed
    with pytest.raises((JoinError, OSError)):
        client.request(before())
    client.close()
    reasons = "\n".join(coordinator.rejected)
    assert "connection closed after a frame header" in reasons or "inside a frame" in reasons
    assert "over the" in reasons
    assert "'before' before authenticating" in reasons
    assert "unknown message type 'nope'" in reasons
    honest = SocketClient(coordinator.path, coordinator.secret)
    assert honest.request(before()) == {}
    honest.close()


def test_a_bug_inside_the_judge_answers_proceed_and_is_reported(
    coordinator: Coordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(coordinator.judge, "before", broken)
    client = SocketClient(coordinator.path, coordinator.secret)
    assert client.request(before()) == {}
    client.close()
    assert any("boom" in reason for reason in coordinator.rejected)


KILLED_MID_OPERATION = """
import os, signal, sys
from pytest_ocirace.realdisk.client import SocketClient
client = SocketClient(sys.argv[1], bytes.fromhex(sys.argv[2]))
op = {"kind": "replace", "path": "/x/tmp", "path2": "/x/target", "fd": None,
      "access": [], "creates": False, "exclusive": False}
assert client.request({"type": "before", "tid": 1, "tname": "T", "op": op, "frames": []}) == {}
os.kill(os.getpid(), signal.SIGKILL)  # before the operation reports back
"""


def test_a_child_killed_mid_operation_is_named_and_never_hangs_the_coordinator(
    coordinator: Coordinator,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIRACE_")}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_MID_OPERATION, coordinator.path, coordinator.secret_hex],
        env=env,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL
    assert coordinator.wait_exit(-1) is True
    process = coordinator.judge.processes
    pid = next(iter(process))
    assert coordinator.wait_exit(pid, timeout=10) is True
    assert process[pid].died_during == "replace /x/tmp -> /x/target"


def test_join_waits_a_bounded_time_for_a_connection_that_stays_open(
    coordinator: Coordinator,
) -> None:
    client = SocketClient(coordinator.path, coordinator.secret)  # "exited", still connected
    assert coordinator.wait_exit(client.pid, timeout=0.2) is False
    assert "stayed open" in coordinator.rejected[-1]
    client.close()
    assert coordinator.wait_exit(client.pid, timeout=10) is True


def test_send_is_one_frame() -> None:
    left, right = socket.socketpair()
    with left, right:
        send(left, {"a": 1})
        assert read_frame(right) == {"a": 1}
