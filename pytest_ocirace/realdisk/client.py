"""A participating process's line to the coordinator.

Two kinds with one shape: :class:`SocketClient` for child processes (one connection per
process, re-made after ``fork``) and :class:`LocalClient` for the test process itself, which
calls the coordinator directly. Interposition only ever sees :class:`Client`.
"""

from __future__ import annotations

import _socket
import _thread
import os
import sys

from pytest_ocirace.realdisk.protocol import (
    FrameReader,
    authenticate,
    closed_frame,
    done_frame,
    encode,
    read_frame,
    send,
)

TYPE_CHECKING = False  # not typing's: a joining child imports this module at start-up

if TYPE_CHECKING:
    from typing import Any, Protocol

    from pytest_ocirace.realdisk.coordinator import Coordinator
else:
    Protocol = object

__all__ = ["Client", "JoinError", "LocalClient", "SocketClient"]


class JoinError(RuntimeError):
    """The calling process could not join the coordinator (the reason is the message)."""


class Client(Protocol):
    """What interposition needs from a line to the coordinator."""

    pid: int

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send ``message`` and wait for the coordinator's answer."""
        ...

    def notify(self, message: dict[str, Any]) -> None:
        """Send ``message`` without waiting (the connection keeps its order)."""
        ...

    def defer(self, message: dict[str, Any]) -> None:
        """Send ``message`` with the next one, whatever it is (the order is kept).

        For news whose delay cannot change a verdict: everything this process says next,
        in any thread (every edge out of it is a message), comes after it on the line.
        """
        ...

    def report(self, number: int, ok: bool, fd: int | None) -> None:
        """Report the announcement ``number``: it ran (``ok``), with its descriptor if any.

        ``notify`` of ``{"type": "done", ...}``, without building the message: two per
        operation.
        """
        ...

    def closed(self, fd: int, tid: int) -> None:
        """``defer`` of ``{"type": "closed", "fd": fd, "tid": tid}``, without building it."""
        ...

    def close(self) -> None: ...


class LocalClient:
    """The test process: the coordinator is in this process.

    A line belongs to the process that made it. A forked child runs ``threading``'s own
    after-fork hook before bootstrap's replaces the line, and that hook takes a new
    ``RLock``, which the race model's instrumentation reports: through this line it reached
    the child's copy of the coordinator, whose lock another thread of the parent may have
    held at the fork, and the child waited for ever (fasteners' 25-process test, the
    third fork). So a copy of the line in another process says nothing and waits for
    nothing: the child's start edge comes from the fork itself (``bootstrap``).
    """

    def __init__(self, coordinator: Coordinator) -> None:
        self.pid = os.getpid()
        self._coordinator = coordinator

    def _dispatch(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Every message goes through here: from a forked copy, none goes anywhere."""
        if os.getpid() != self.pid:
            return None
        return self._coordinator.dispatch(self.pid, message, trusted=True)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._dispatch(message) or {}

    def notify(self, message: dict[str, Any]) -> None:
        self._dispatch(message)

    def defer(self, message: dict[str, Any]) -> None:
        # A direct call costs no wake-up: nothing to gain by waiting.
        self._dispatch(message)

    def report(self, number: int, ok: bool, fd: int | None) -> None:
        self._dispatch({"type": "done", "n": number, "ok": ok, "fd": fd})

    def closed(self, fd: int, tid: int) -> None:
        self._dispatch({"type": "closed", "fd": fd, "tid": tid})

    def close(self) -> None:
        pass


class SocketClient:
    """A child: one authenticated Unix-socket connection, shared by its threads."""

    def __init__(self, path: str, secret: bytes, *, start: str | None = None) -> None:
        self.pid = os.getpid()
        # ``_thread``/``_socket``, not ``threading``/``socket``: their imports are a third of a
        # child's join otherwise, and a lock and a stream socket are all the line needs.
        self._lock = _thread.allocate_lock()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(path)
            greeting = read_frame(sock)
            if greeting is None or not isinstance(greeting.get("nonce"), str):
                raise JoinError("the coordinator sent no nonce")
            nonce = bytes.fromhex(greeting["nonce"])
            send(
                sock,
                {
                    "type": "hello",
                    "pid": self.pid,
                    "mac": authenticate(secret, nonce, self.pid),
                    "start": start,
                    "argv": [str(a) for a in sys.argv],
                },
            )
            answer = read_frame(sock)
        except (OSError, ValueError) as exc:
            sock.close()
            raise JoinError(f"cannot reach the coordinator at {path}: {exc}") from None
        if not answer or answer.get("ok") is not True:
            sock.close()
            raise JoinError("the coordinator refused this process (wrong secret?)")
        self._sock = sock
        self._reader = FrameReader(sock)
        #: Encoded messages deferred until the next send (``defer``).
        self._deferred: list[bytes] = []

    def _send(self, message: dict[str, Any]) -> None:
        """Send the deferred messages and ``message`` in one write (the caller holds the lock)."""
        self._write(encode(message))

    def _write(self, data: bytes) -> None:
        """Send the deferred frames and ``data`` in one write (the caller holds the lock)."""
        if self._deferred:
            self._deferred.append(data)
            data = b"".join(self._deferred)
            self._deferred.clear()
        self._sock.sendall(data)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        if os.getpid() != self.pid:
            return {}  # a forked copy, before bootstrap drops it (see LocalClient)
        with self._lock:
            self._send(message)
            answer = self._reader.next()
        if answer is None:
            raise JoinError("the coordinator closed the connection")
        return answer

    def notify(self, message: dict[str, Any]) -> None:
        if os.getpid() != self.pid:
            return  # a forked copy: its lock may be held by a thread the fork left behind
        with self._lock:
            self._send(message)

    def defer(self, message: dict[str, Any]) -> None:
        if os.getpid() != self.pid:
            return
        data = encode(message)
        with self._lock:
            self._deferred.append(data)

    def report(self, number: int, ok: bool, fd: int | None) -> None:
        if os.getpid() != self.pid:
            return  # a forked copy (see notify)
        data = done_frame(number, ok, fd)
        with self._lock:
            self._write(data)

    def closed(self, fd: int, tid: int) -> None:
        if os.getpid() != self.pid:
            return
        data = closed_frame(fd, tid)
        with self._lock:
            self._deferred.append(data)

    def flush(self) -> None:
        """Send what was deferred now (before this process stops talking)."""
        with self._lock:
            if self._deferred:
                data = b"".join(self._deferred)
                self._deferred.clear()
                self._sock.sendall(data)

    def abandon(self) -> None:
        """Drop an inherited connection after ``fork`` without telling anybody.

        What the parent deferred is the parent's to send: the copy is dropped with the line.
        """
        self._deferred.clear()
        self._sock.close()

    def close(self) -> None:
        try:  # noqa: SIM105 - contextlib is an import a joining child skips
            self.flush()
        except OSError:
            pass  # the coordinator is gone: nothing left to tell
        self._sock.close()
