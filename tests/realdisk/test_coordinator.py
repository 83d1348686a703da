"""The coordinator over its real socket: who may join, what it refuses, who dies on it."""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ocirace.realdisk.client import JoinError, SocketClient
from pytest_ocirace.realdisk.coordinator import Coordinator
from pytest_ocirace.realdisk.protocol import authenticate, encode, read_frame, send

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


def test_compact_frames_a_participant_may_not_send_are_refused(coordinator: Coordinator) -> None:
    """The coordinator's "proceed" (no type) and a frame of the wrong size, after joining.

    A report and a close skip the schema check (their form gives their types): these two
    must still be refused with a reason, the connection closed, and the coordinator go on.
    """
    for raw, reason in (
        (encode({}), "unknown message type None"),
        (b"\x01\x00\x00\x02\x00\x00", "tag 1 has 2 bytes"),
    ):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(coordinator.path)
            nonce = bytes.fromhex(str((read_frame(sock) or {})["nonce"]))
            mac = authenticate(coordinator.secret, nonce, os.getpid())
            send(sock, {"type": "hello", "pid": os.getpid(), "mac": mac, "start": None, "argv": []})
            assert read_frame(sock) == {"ok": True}
            send(sock, {**before(), "n": 1})
            assert read_frame(sock) == {}  # a proceed, compact
            send(sock, {"type": "done", "n": 1, "ok": True, "fd": None})  # compact: accepted
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(100) == b""  # closed by the coordinator
        assert reason in coordinator.rejected[-1]
    honest = SocketClient(coordinator.path, coordinator.secret)
    assert honest.request(before()) == {}
    honest.close()


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


TAKES_THE_LOCK_FILE = """
import json, os, sys
from pytest_ocirace.realdisk.client import SocketClient
client = SocketClient(sys.argv[1], bytes.fromhex(sys.argv[2]))
lock = sys.argv[3]
def op(kind, **extra):
    return {"kind": kind, "path": lock, "path2": None, "fd": None, "access": ["write"],
            "creates": kind == "open", "exclusive": kind == "open", **extra}
def say(kind, o, **extra):
    return {"type": kind, "tid": 1, "tname": "MainThread", "op": o, "frames": [], **extra}
create = op("open")
answer = client.request(say("before", create))
print(json.dumps(answer), flush=True)
sys.stdin.readline()  # the test process announces its own create of the lock file meanwhile
fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
client.notify(say("after", {**create, "fd": fd, "handle": answer["handle"]}, ok=True))
os.close(fd)
client.notify(say("after", {**op("close"), "path": "", "fd": fd}, ok=True))
print(json.dumps({"created": True}), flush=True)
sys.stdin.readline()  # the test process's create is answered (or reported) meanwhile
print(json.dumps(client.request(say("before", op("remove")))), flush=True)  # the release
os.remove(lock)
client.notify(say("after", op("remove"), ok=True))
client.close()
"""


def _line(child: "subprocess.Popen[str]", deadline: float = 60) -> dict[str, object]:
    """The child's next answer, or its error (never a hang)."""
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], deadline)
    text = child.stdout.readline() if ready else ""
    if not text:
        child.kill()
        _, err = child.communicate(timeout=10)
        pytest.fail(f"the child said nothing within {deadline}s: {err}")
    answer: dict[str, object] = json.loads(text)
    return answer


def test_two_exclusive_creates_of_a_lock_file_the_loser_is_refused_not_left_open(
    coordinator: Coordinator, tmp_path: Path
) -> None:
    """The exclusive-create window (docs/processes.md), with a real child, deterministically.

    The child's create of the lock file is allowed (the name is not there yet) and it holds
    its report until the test process has announced its own create. Judged at once, that
    second create was allowed too, lost on the disk, and stayed an open handle in the race
    model until its failure came back: the child's release of the lock file, judged in
    between, was refused with 32 (a false ``remove-open-file``). Now the second create waits
    for the first one's outcome, and is refused with 17 before it runs.
    """
    lock = str(tmp_path / "lock")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIRACE_")}
    child = subprocess.Popen(
        [sys.executable, "-c", TAKES_THE_LOCK_FILE, coordinator.path, coordinator.secret_hex, lock],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "handle" in _line(child)
        create = {
            "kind": "open",
            "path": lock,
            "path2": None,
            "fd": None,
            "access": ["write"],
            "creates": True,
            "exclusive": True,
        }
        mine: dict[str, dict[str, object] | None] = {}

        def announce() -> None:
            message = {"type": "before", "tid": 1, "tname": "T", "op": create, "frames": []}
            mine["answer"] = coordinator.dispatch(os.getpid(), message, trusted=True)

        thread = threading.Thread(target=announce)
        thread.start()
        thread.join(1.0)  # judged at once, it would be answered by now
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        assert _line(child) == {"created": True}  # and reported
        thread.join(60)
        assert not thread.is_alive(), "the test process's create was never answered"
        answer = mine["answer"] or {}
        if "error" not in answer:  # allowed: it loses on the disk, and reports late
            with pytest.raises(FileExistsError):
                os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        child.stdin.write("go\n")
        child.stdin.flush()
        release = _line(child)
        if "error" not in answer:
            report = {"type": "after", "tid": 1, "tname": "T", "ok": False, "frames": []}
            report["op"] = {**create, "handle": answer.get("handle")}
            coordinator.dispatch(os.getpid(), report, trusted=True)
        assert release == {}, "the holder's release of the lock file was refused"
        assert answer.get("error") == {"winerror": 80, "crt": True}
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=10)
    assert coordinator.judge.model.races == []
    assert coordinator.judge.creating == {}


def test_send_is_one_frame() -> None:
    left, right = socket.socketpair()
    with left, right:
        send(left, {"a": 1})
        assert read_frame(right) == {"a": 1}
