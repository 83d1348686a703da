"""A participant's line: deferred messages go with the next one, in order, in one write."""

from __future__ import annotations

import os
import select
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_ocirace.realdisk.client import LocalClient, SocketClient
from pytest_ocirace.realdisk.protocol import FrameReader, encode, read_frame, send


class Server:
    """Admits one client without checking it, then keeps what arrives, write by write."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="ocirace-client-")
        self.path = os.path.join(self.directory, "s.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.conn: socket.socket | None = None
        self.accepted = threading.Thread(target=self._accept, daemon=True)
        self.accepted.start()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        send(conn, {"nonce": "00"})
        read_frame(conn)
        send(conn, {"ok": True})
        self.conn = conn

    def chunk(self, timeout: float = 10.0) -> bytes:
        """What arrived within ``timeout`` (empty if nothing)."""
        assert self.conn is not None
        ready, _, _ = select.select([self.conn], [], [], timeout)
        return self.conn.recv(1 << 16) if ready else b""

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()
        os.unlink(self.path)
        os.rmdir(self.directory)


@pytest.fixture
def server() -> Iterator[Server]:
    found = Server()
    yield found
    found.close()


def connect(server: Server) -> SocketClient:
    client = SocketClient(server.path, b"s" * 32)
    server.accepted.join(10)
    assert server.conn is not None
    return client


def test_a_deferred_message_waits_for_the_next_and_goes_first(server: Server) -> None:
    client = connect(server)
    client.defer({"n": 1})
    client.defer({"n": 2})
    assert server.chunk(timeout=0.2) == b""  # nothing was written yet
    client.notify({"n": 3})
    assert server.chunk() == encode({"n": 1}) + encode({"n": 2}) + encode({"n": 3})
    client.close()


def test_a_close_waits_for_the_next_message_and_a_report_carries_it(server: Server) -> None:
    """``closed``/``report`` build their compact frames directly: the same messages."""
    client = connect(server)
    client.closed(5, 77)
    assert server.chunk(timeout=0.2) == b""
    client.report(7, True, 5)
    client.report(8, False, None)
    assert server.conn is not None
    reader = FrameReader(server.conn)
    assert [reader.next() for _ in range(3)] == [
        {"type": "closed", "fd": 5, "tid": 77},
        {"type": "done", "n": 7, "ok": True, "fd": 5},
        {"type": "done", "n": 8, "ok": False, "fd": None},
    ]
    client.close()


def test_a_request_carries_what_was_deferred(server: Server) -> None:
    client = connect(server)
    client.defer({"n": 1})
    answers: list[dict[str, object]] = []
    asking = threading.Thread(target=lambda: answers.append(client.request({"n": 2})))
    asking.start()
    assert server.chunk() == encode({"n": 1}) + encode({"n": 2})
    assert server.conn is not None
    send(server.conn, {"answer": 2})
    asking.join(10)
    assert answers == [{"answer": 2}]
    client.close()


def test_closing_the_line_sends_what_was_deferred(server: Server) -> None:
    client = connect(server)
    client.defer({"n": 1})
    client.close()
    assert server.conn is not None
    reader = FrameReader(server.conn)
    assert reader.next() == {"n": 1}
    assert reader.next() is None


def test_a_forked_copy_drops_the_parents_deferred_messages(server: Server) -> None:
    """After ``fork`` the child abandons the inherited line: the parent sends its own news."""
    client = connect(server)
    client.defer({"n": 1})
    pid = os.fork()
    if pid == 0:  # the child: abandon the copy, as bootstrap's after-fork hook does
        try:
            client.abandon()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0
    assert server.chunk(timeout=0.2) == b""
    client.notify({"n": 2})
    assert server.chunk() == encode({"n": 1}) + encode({"n": 2})
    client.close()


def _forked(act: Callable[[], object]) -> int:
    """Fork; run ``act`` in the child; its exit status, or fail if it waits for ever."""
    pid = os.fork()
    if pid == 0:
        try:
            act()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child waited for a lock another thread held at the fork")


#: Every way a line is used: none may reach the coordinator from a forked copy.
ACTS: list[Callable[[LocalClient | SocketClient], object]] = [
    lambda line: line.notify({"n": 1}),
    lambda line: line.defer({"n": 1}),
    lambda line: line.request({"n": 1}),
    lambda line: line.report(1, True, 3),
    lambda line: line.closed(3, 1),
]


def test_a_forked_copy_of_a_line_says_nothing_and_waits_for_nothing(server: Server) -> None:
    # threading's after-fork hook makes an RLock, which the race model reports, before
    # bootstrap's hook drops the inherited line: the copy must not wait for the line's lock,
    # which a thread of the parent holds while it waits for an answer.
    client = connect(server)
    assert server.conn is not None
    for act in ACTS:
        answers: list[dict[str, object]] = []
        asking = threading.Thread(target=lambda a=answers: a.append(client.request({"n": 0})))
        asking.start()
        assert server.chunk() == encode({"n": 0})  # sent: it holds the line, waiting
        status = _forked(lambda: act(client))  # noqa: B023
        send(server.conn, {"answer": 0})
        asking.join(10)
        assert answers == [{"answer": 0}]
        assert os.WIFEXITED(status)
        assert os.WEXITSTATUS(status) == 0
    assert server.chunk(timeout=0.2) == b""  # the copies sent nothing
    client.notify({"n": 2})
    assert server.chunk() == encode({"n": 2})
    client.close()


class BusyCoordinator:
    """Stands for the test process's coordinator, busy in another thread at the fork."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[dict[str, object]] = []

    def dispatch(self, pid: int, message: dict[str, object], *, trusted: bool) -> None:
        with self.lock:
            self.seen.append(message)


def test_a_forked_copy_of_the_test_process_line_leaves_the_coordinator_alone() -> None:
    coordinator = BusyCoordinator()
    client = LocalClient(coordinator)  # type: ignore[arg-type]
    for act in ACTS:
        with coordinator.lock:  # its connection thread is judging another process's news
            status = _forked(lambda: act(client))  # noqa: B023
        assert os.WIFEXITED(status)
        assert os.WEXITSTATUS(status) == 0
    client.notify({"n": 2})
    assert coordinator.seen == [{"n": 2}]
