"""The one server of a test session: hears every participating process, answers for Windows.

It lives in the pytest process, listens on a Unix socket inside a fresh 0700 directory and
admits only processes that prove they hold the per-run secret (``protocol.authenticate``).
Each connection has its own thread; every message is judged under one lock, so the race
model sees a single order of operations, exactly as with threads in the fake filesystem.

It must never take the run down: a malformed or hostile message closes that connection with
a logged reason, an exception inside the judge is logged and answered with "proceed", and a
participant that dies (even ``kill -9`` between announcing an operation and reporting it)
is just a closed connection, recorded with its pid for the test's report. Nothing here ever
waits on a participant unboundedly: :meth:`Coordinator.wait_exit` waits for an exited
child's line to close, and an operation on a name whose exclusive create by another process
is not reported yet waits for that report (``_await_creates``), both for at most 10 s.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from pytest_ocirace.realdisk.interpose import internal_thread
from pytest_ocirace.realdisk.judge import Judge
from pytest_ocirace.realdisk.protocol import (
    FrameReader,
    ProtocolError,
    authenticate,
    read_frame,
    send,
    validate,
)

__all__ = ["JOIN_TIMEOUT", "Coordinator"]

log = logging.getLogger("pytest_ocirace.realdisk")

#: How long ``join()``/``wait()`` waits for an exited child's connection to close.
JOIN_TIMEOUT = 10.0
#: How long a connecting process has to authenticate.
HELLO_TIMEOUT = 10.0
#: How long an operation waits for another process's exclusive create of its name to report
#: (it is between one system call and its report; a stopped process must not stop the run).
CREATE_TIMEOUT = 10.0

#: Messages answered (the sender waits, so what it does next is ordered after them).
_ANSWERED = frozenset(
    {
        "hello",
        "before",
        "release",
        "acquire",
        "start",
        "adopt",
        "item",
        "joined",
        "test",
        "collect",
        "exec",
    }
)


class Coordinator:
    """The server: a socket, a lock, and the judge of the test that runs now."""

    def __init__(self, make_judge: Callable[[], Judge] = Judge) -> None:
        self.secret = secrets.token_bytes(32)
        self.directory = tempfile.mkdtemp(prefix="ocirace-")  # 0700: only we can connect
        os.chmod(self.directory, 0o700)
        self.path = os.path.join(self.directory, "coordinator.sock")
        self.lock = threading.Lock()
        #: Notified when a connection closes and when an exclusive create reports back.
        self.changed = threading.Condition(self.lock)
        self._pid = os.getpid()
        #: Operations waiting in ``_await_creates`` (a report wakes them only if any).
        self._waiting = 0
        self.judge = make_judge()
        #: Why messages or connections were refused (also logged), for tests and reports.
        self.rejected: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(64)
        self._closed = False
        self._connections: set[socket.socket] = set()
        self._thread = threading.Thread(
            target=self._accept, name="ocirace-coordinator", daemon=True
        )
        self._thread.start()

    @property
    def secret_hex(self) -> str:
        return self.secret.hex()

    # -- per test --------------------------------------------------------------------------

    def begin(self, judge: Judge) -> None:
        with self.lock:
            self.judge = judge

    # -- in-process participants -------------------------------------------------------------

    def dispatch(
        self, pid: int, message: dict[str, Any], *, trusted: bool = False
    ) -> dict[str, Any] | None:
        """Judge one message of ``pid`` (the test process calls this directly).

        ``trusted``: well formed by construction, so not checked against the schema: built
        by our own interposition in this process (``LocalClient``; the check cost the test
        process about a tenth of its per-operation overhead), or decoded from a compact
        frame (``FrameReader.compact``), whose fixed fields have their types by their form.
        """
        kind: str = message["type"] if trusted else validate(message)
        if kind == "joined":
            self.wait_exit(message["child"])
        with self.lock:  # the condition's lock: ``changed.wait`` releases it while waiting
            try:
                if self.judge.creating and kind in ("before", "check"):
                    self._await_creates(pid, kind, message)
                reply = self._handle(kind, pid, message)
            except Exception as exc:  # a bug of ours must not fail the user's operation
                log.exception("pytest-ocirace coordinator: %s message of pid %s failed", kind, pid)
                self._reject(f"pid {pid}: {kind} message failed inside the coordinator: {exc!r}")
                reply = {}
        answered = kind in _ANSWERED or (kind == "check" and message["present"])
        return reply if answered else None

    def _await_creates(self, pid: int, kind: str, message: dict[str, Any]) -> None:
        """Wait (holding the condition) until no other exclusive create of the names is open.

        See :meth:`Judge.awaits_create`: the operation is then judged on the create's real
        outcome. Bounded: after ``CREATE_TIMEOUT`` it is judged as it stands.
        """
        if kind == "check":
            paths: tuple[str | None, ...] = (message["path"],)
        else:
            paths = (message["op"]["path"], message["op"]["path2"])
        tid: int = message["tid"]
        local = pid == self._pid
        deadline: float | None = None
        while self.judge.awaits_create(pid, tid, paths, local):
            now = time.monotonic()
            if deadline is None:
                deadline = now + CREATE_TIMEOUT
            elif now >= deadline:
                log.warning(
                    "pytest-ocirace coordinator: pid %s judged without waiting longer for "
                    "another process's exclusive create of %s",
                    pid,
                    paths[0],
                )
                return
            self._waiting += 1
            try:
                self.changed.wait(deadline - now)
            finally:
                self._waiting -= 1

    def wait_exit(self, child: int, timeout: float = JOIN_TIMEOUT) -> bool:
        """Wait until a joined child's connection has closed (bounded); False on timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                proc = self.judge.processes.get(child)
                if proc is None or not proc.joined or proc.exited:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._reject(
                        f"pid {child} exited but its connection stayed open for {timeout:.0f}s; "
                        "its operations are not ordered before the join"
                    )
                    return False
                self.changed.wait(remaining)

    def _handle(self, kind: str, pid: int, m: dict[str, Any]) -> dict[str, Any]:
        judge = self.judge
        if kind == "before":
            return judge.before(pid, m["tid"], m["tname"], m["op"], m["frames"], m.get("n"))
        if kind == "done":
            if judge.done(pid, m["n"], m["ok"], m["fd"]) and self._waiting:
                self.changed.notify_all()  # an exclusive create's outcome (_await_creates)
        elif kind == "closed":
            judge.closed(pid, m["fd"], m["tid"])
        elif kind == "check":
            absent = judge.check(pid, m["tid"], m["tname"], m["path"], m["frames"])
            return {"absent": absent}
        elif kind == "after":
            judge.after(pid, m["tid"], m["tname"], m["op"], m["ok"], m["frames"])
            if m["op"].get("exclusive") and self._waiting:
                self.changed.notify_all()
        elif kind in ("release", "acquire", "lock"):
            getattr(judge, kind)(pid, m["tid"], m["tname"], m["key"])
        elif kind == "unlock":
            judge.unlock(pid, m["tid"], m["tname"], m["key"], fully=m.get("fully") is True)
        elif kind == "edge":
            side = judge.acquire if m["acquire"] else judge.release
            side(pid, m["tid"], m["tname"], m["key"])
        elif kind == "exec":
            judge.replaced(pid, m["tid"], m["tname"], m["token"], [str(a) for a in m["argv"]])
        elif kind == "exec-failed":
            judge.exec_failed(pid)
        elif kind == "ended":
            judge.ended(pid, m["tid"], m["tname"], m["token"])
        elif kind in ("start", "adopt"):
            getattr(judge, kind)(pid, m["tid"], m["tname"], m["token"])
        elif kind == "item":
            judge.item(pid, m["tid"], m["tname"], m["token"], m["begin"])
        elif kind == "mutex":
            judge.mutex(m["key"])
        elif kind == "pair":
            judge.pair(m["a"], m["b"])
        elif kind == "spawned":
            judge.spawned(pid, m["child"], m["argv"])
        elif kind == "joined":
            judge.joined(pid, m["tid"], m["tname"], m["child"])
        elif kind == "escaped":
            judge.escaped(pid, m["race"], m["text"])
        elif kind == "test":
            judge.test_begins(pid, m["nodeid"])
        elif kind == "collect":
            return judge.collect(pid)
        return {}

    def _reject(self, reason: str) -> None:
        log.warning("pytest-ocirace coordinator rejected: %s", reason)
        self.rejected.append(reason)

    # -- the socket ----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(conn,), name="ocirace-connection", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        internal_thread()
        pid: int | None = None
        with self.lock:
            self._connections.add(conn)
        try:
            pid = self._hello(conn)
            if pid is None:
                return
            frames = FrameReader(conn)
            while True:
                message = frames.next()
                if message is None:
                    return
                reply = self.dispatch(pid, message, trusted=frames.compact)
                if reply is not None:
                    send(conn, reply)
        except ProtocolError as exc:
            self._reject(f"pid {pid if pid is not None else '?'}: {exc}; connection closed")
        except OSError:
            pass  # the participant went away; handled as its exit below
        finally:
            with self.changed:
                self._connections.discard(conn)
                if pid is not None:
                    try:
                        self.judge.exited(pid)
                    except Exception:
                        log.exception("pytest-ocirace coordinator: exit of pid %s failed", pid)
                self.changed.notify_all()
            conn.close()

    def _hello(self, conn: socket.socket) -> int | None:
        nonce = secrets.token_bytes(16)
        conn.settimeout(HELLO_TIMEOUT)
        send(conn, {"nonce": nonce.hex()})
        try:
            message = read_frame(conn)
        except ProtocolError as exc:
            self._reject(f"a connection sent no valid hello ({exc}); closed")
            return None
        except OSError as exc:
            # A process killed while it was joining (Pool.terminate() right after a fork):
            # nothing was said, nothing to refuse.
            log.debug(
                "pytest-ocirace coordinator: a connection went away before its hello: %s", exc
            )
            return None
        if message is None:
            return None
        try:
            kind = validate(message)
        except ProtocolError as exc:
            self._reject(f"a connection's first message was refused: {exc}; closed")
            return None
        if kind != "hello":
            self._reject(f"a connection sent {kind!r} before authenticating; closed")
            return None
        pid: int = message["pid"]
        expected = authenticate(self.secret, nonce, pid)
        if not hmac.compare_digest(expected, message["mac"]):
            self._reject(f"a connection claiming pid {pid} failed authentication; closed")
            return None
        conn.settimeout(None)
        with self.lock:
            self.judge.hello(pid, message["argv"], message["start"])
        send(conn, {"ok": True})
        return pid

    def close(self) -> None:
        """Stop listening, drop every connection, remove the socket's directory."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        with self.lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)
