"""One test's verdicts across processes: the decision table on the disk, then the race model.

Transport-free on purpose: the coordinator calls it for messages from children, the test
process calls it directly. A logical thread is a (pid, thread) pair, or a work item run by a
pool worker; edges between processes (start, exit, queues, work items) are clocks parked
under string keys in the race model's own
:class:`~pytest_ocirace.racemodel.clocks.Tracker`, so the model judges a child's replace
exactly as it judges a thread's. The Windows rules are the one decision table
(``winrules/decisions.py``) that the fake filesystem asks too, on the disk's state.

Not thread-safe: the caller serialises every call (the coordinator's one lock).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_ocirace.racemodel.clocks import LogicalThread, Tracker, join_clock
from pytest_ocirace.racemodel.events import Answer, FsOp, OpKind
from pytest_ocirace.racemodel.model import Frame, Race, RaceModel, reported_frames
from pytest_ocirace.realdisk import descendants
from pytest_ocirace.realdisk.diskstate import DiskState, Handle
from pytest_ocirace.winrules.decisions import NameState, Request, verdict
from pytest_ocirace.winrules.options import SimulationOptions

__all__ = ["Judge", "Process"]

_KINDS = {kind.value: kind for kind in OpKind}
#: The decision table's requests, per (kind, writing, exclusive, same_file).
_REQUESTS: dict[tuple[str, bool, bool, bool], Request] = {}


@dataclass
class Process:
    """A participant, from its hello (or its spawn) to its exit."""

    pid: int
    argv: list[str] = field(default_factory=list)
    joined: bool = False  # sent a hello
    exited: bool = False
    start_clock: dict[int, int] = field(default_factory=dict)
    #: The operation announced and not reported back (what it was doing if it dies): its
    #: kind and paths, named only if it dies (``_pending``).
    pending: tuple[str, str, str | None] | None = None
    died_during: str | None = None
    #: Open connections: after ``os.exec*`` the new program's line may open before the old
    #: program's line is seen closing; the process has exited when the last one closes.
    lines: int = 0
    #: ``os.exec*`` replaced the program with this argv; cleared when the new program joins
    #: (it is Python with pytest-ocirace), else it is named in the report.
    replaced_by: list[str] | None = None


class Judge:
    """The per-test state behind the coordinator."""

    def __init__(
        self,
        ignore: Iterable[str] = (),
        *,
        site: Any = None,
        options: SimulationOptions | None = None,
    ) -> None:
        #: The decision table's options (its unverified rows), as in the fake filesystem.
        self.options = options or SimulationOptions()
        self.tracker = Tracker()
        kwargs: dict[str, Any] = {} if site is None else {"site": site}
        # Closes are reported from the coordinator's thread, outside a strand block (see
        # _end_handle): a handle ends at its opener's present epoch.
        self.model = RaceModel(self.tracker, close_as_caller=False, **kwargs)
        self.disk = DiskState(gone=self._gone)
        self.processes: dict[int, Process] = {}
        #: Started by a participant (subprocess, multiprocessing): pid -> argv.
        self.started: dict[int, list[str]] = {}
        #: Child pid -> the participant that started it.
        self.parents: dict[int, int] = {}
        self._globs = [g for g in ignore if g.strip()]
        self._strands: dict[tuple[int, int], list[LogicalThread]] = {}
        #: Strands of threads that ended, per pid (their past is in the process's exit).
        self._ended: dict[int, list[LogicalThread]] = {}
        self._races: dict[int, Race] = {}
        self._mutexes: set[str] = set()
        #: File locks already looked up for their name (:meth:`_file_locked`).
        self._flocked: set[str] = set()
        #: Socket-pair ends (device:inode) -> the other end.
        self._peers: dict[str, str] = {}
        self.escapes: list[tuple[int, str]] = []
        #: pytest-xdist: per worker pid, its running test and where its races begin.
        self._tests: dict[int, tuple[str, int, int]] = {}
        #: When the test began (seconds since boot; per worker under pytest-xdist): a
        #: process below the test's that started later and nobody announced is named.
        self.began = descendants.clock()
        self._began: dict[int, float] = {}
        #: The last key given to a started process whose pid is unknown (negative).
        self._unknown = 0
        #: pytest-xdist: programs that never joined and were named in a worker's test, or
        #: were started outside any test (the worker starting up, between two tests).
        self._named: set[int] = set()
        #: Exclusive creates allowed and not reported back yet: name -> {handle: (pid,
        #: thread)}. Their outcome is unknown until then (see :meth:`awaits_create`).
        self.creating: dict[str, dict[int, tuple[int, int]]] = {}
        #: Announcements allowed and not reported yet, by (pid, number): (thread, its name,
        #: the operation with its handle). The report (``done``) names only the number.
        self._announced: dict[tuple[int, int], tuple[int, str, Mapping[str, Any]]] = {}

    # -- identity ------------------------------------------------------------------------

    def process(self, pid: int) -> Process:
        proc = self.processes.get(pid)
        if proc is None:
            proc = self.processes[pid] = Process(pid)
        return proc

    def hello(self, pid: int, argv: list[str], start: str | None) -> None:
        proc = self.process(pid)
        proc.joined = True
        proc.argv = [str(a) for a in argv]
        proc.exited = False
        proc.lines += 1
        if proc.replaced_by is not None:
            # The exec'd program joined: the exec succeeded, and its descriptors closed
            # (Python opens files close-on-exec), also if the old line is not seen closed yet.
            proc.replaced_by = None
            self._close_handles(pid)
            # Its numbers start again: what the old program left unreported (a thread cut
            # off by the exec) must not take a report of the new one.
            self._forget_unreported(pid)
        if start is not None:
            clock = self.tracker.parked(self.tracker.token(("start", start)))
            if clock is not None:
                join_clock(proc.start_clock, clock)

    def strand(self, pid: int, tid: int, tname: str) -> LogicalThread:
        stack = self._strands.get((pid, tid))
        if stack is None:
            proc = self.process(pid)
            name = f"{tname} (pid {pid})"
            stack = self._strands[(pid, tid)] = [
                self.tracker.detached(name, proc.start_clock, "process")
            ]
        return stack[-1]

    # -- filesystem operations -------------------------------------------------------------

    def tracked(self, path: str) -> bool:
        if not self._globs:
            return True
        name = path.rsplit("/", 1)[-1]
        return not any(fnmatch.fnmatchcase(path if "/" in g else name, g) for g in self._globs)

    def before(
        self,
        pid: int,
        tid: int,
        tname: str,
        op: Mapping[str, Any],
        frames: Iterable[Frame],
        announcement: int | None = None,
    ) -> dict[str, Any]:
        """The reply to an announced operation: ``{}`` to proceed, or the error to raise.

        An operation allowed to proceed is recorded in the race model at once, not when its
        report comes back: another process's announcement may arrive in between, and must
        see it (the coordinator's order is the order the model judges, as the fake
        filesystem's global lock gives for threads). An open gets its handle number here.
        ``announcement`` is the sender's number for it, which its report (:meth:`done`) names.
        """
        kind: str = op["kind"]
        path: str = op["path"]
        path2: str | None = op["path2"]
        if kind == "close":
            return {}
        handle = self.disk.reserve() if kind == "open" else None
        reply: dict[str, Any] = {} if handle is None else {"handle": handle}
        globs = self._globs  # inlined ``tracked``: this runs for every operation
        if globs and not (self.tracked(path) and (path2 is None or self.tracked(path2))):
            code = self._verdict(op)
            if code is not None:
                return {"error": {"winerror": code, "crt": kind == "open"}}
            self.process(pid).pending = (kind, path, path2)
            self._remember(pid, announcement, tid, tname, op, handle)
            return reply
        # ``creates`` is whether the name appears, not what the flags allow: an ``O_CREAT``
        # open, or a rename onto it, of a name that is there (made before the test, or by
        # ``os.mkfifo``, which nothing announces) makes nothing appear, and taken for a
        # creation it made the race model answer another process's existence check
        # "absent" (python-dotenv's FIFO test). The fake filesystem decides the same under
        # its lock; the coordinator's lock is that. One look at the disk serves the verdict.
        state = target = None
        if kind == "open":
            state = self.disk.state(path)
            creates = bool(op["creates"]) and not state.exists
        elif path2 is not None and kind in ("rename", "replace", "link"):
            target = self.disk.state(path2)
            creates = not target.exists
        else:
            creates = False
        exclusive = bool(op.get("exclusive"))
        fsop = FsOp(
            kind=_KINDS[kind],
            path=path,
            display=path,
            path2=path2,
            display2=path2,
            handle=handle,
            access=frozenset(op["access"]),
            creates=creates,
            exclusive=exclusive,
        )
        strand = self._strands.get((pid, tid))
        # One block for the model's before and after: the strand and the sender's stack
        # are the same for both (this runs for every operation of every participant).
        with (
            self.tracker.running(strand[-1] if strand else self.strand(pid, tid, tname)),
            reported_frames(_frames(frames)),
        ):
            # The race model first, as in the fake filesystem: an unordered publish onto a
            # name fails as the race (and the loser has then seen the winner's publish, so
            # its "is it there already?" look afterwards is ordered).
            try:
                self.model.before(fsop)
            except OSError as exc:
                race = getattr(exc, "_ocirace_race", None)
                number = len(self._races) + 1
                if isinstance(race, Race):
                    self._races[number] = race
                winerror = getattr(exc, "winerror", None)
                return {
                    "error": {"winerror": winerror or 5, "crt": winerror is None},
                    "race": number,
                }
            code = self._verdict(op, state, target)
            if code is not None:
                return {"error": {"winerror": code, "crt": kind == "open"}}
            self.model.after(fsop, None)
        proc = self.processes.get(pid)
        (proc or self.process(pid)).pending = (kind, path, path2)
        if handle is not None and exclusive:
            self.creating.setdefault(path, {})[handle] = (pid, tid)
        self._remember(pid, announcement, tid, tname, op, handle)
        return reply

    def _remember(
        self,
        pid: int,
        number: int | None,
        tid: int,
        tname: str,
        op: Mapping[str, Any],
        handle: int | None,
    ) -> None:
        """Keep an allowed announcement for its report (``done`` names only the number)."""
        if number is not None:
            self._announced[(pid, number)] = (
                tid,
                tname,
                op if handle is None else {**op, "handle": handle},
            )

    def awaits_create(self, pid: int, tid: int, paths: Iterable[str | None], local: bool) -> bool:
        """Whether an operation on ``paths`` must wait for an exclusive create's report.

        An exclusive create is judged before it runs, on a name that is not there yet; two
        of them (two processes taking one lock file) both pass, and the disk picks the
        winner. Until the loser's failure comes back, its create is an open handle in the
        race model that never existed, and the winner's release (removing the lock file)
        judged in that window was refused with 32, a false ``remove-open-file``. So an
        operation on that name waits for the outcome (the coordinator's condition), and is
        judged on what really happened: the second create is then refused on the disk's
        state, with 17, before it runs. The creator is between one system call and its
        report, so the wait is short. A create of the asker's own process is not waited
        for over a socket (its report is behind this message on the same line); the test
        process (``local``) calls the judge from each thread, so there only its own thread's
        is skipped.
        """
        for path in paths:
            pending = self.creating.get(path) if path is not None else None
            if pending:
                for owner, thread in pending.values():
                    if owner != pid or (local and thread != tid):
                        return True
        return False

    def _verdict(
        self,
        op: Mapping[str, Any],
        state: NameState | None = None,
        target: NameState | None = None,
    ) -> int | None:
        """The one decision table on the disk's state (names are the host's: no name flags).

        ``state`` and ``target`` are ``op``'s paths as :meth:`before` already looked at them.
        """
        kind: str = op["kind"]
        path: str = op["path"]
        path2: str | None = op["path2"]
        key = (kind, "write" in op["access"], bool(op.get("exclusive")), path == path2)
        request = _REQUESTS.get(key)
        if request is None:  # a NamedTuple: immutable, one per distinct key
            request = _REQUESTS[key] = Request(
                kind, writing=key[1], exclusive=key[2], same_file=key[3]
            )
        # Two answers stay the host's, on purpose (tests/winrules/test_one_table.py lists
        # them). A name that is not there: the host's FileNotFoundError has the class and
        # errno Windows gives. A directory's open: the process mode runs code's POSIX
        # branches, and those open directories to fsync a rename (ocirace_writer does).
        if kind in ("rename", "replace", "link") and path2 is not None:
            source = self.disk.state(path)
            if not source.exists:
                return None
            if target is None:
                target = self.disk.state(path2)
            return verdict(request, target, source, self.options)
        if state is None:
            state = self.disk.state(path)
        if not state.exists and kind != "open":
            return None
        if kind == "open" and state.is_dir and not request.exclusive:
            return None
        return verdict(request, state, options=self.options)

    def check(self, pid: int, tid: int, tname: str, path: str, frames: Iterable[Frame]) -> bool:
        """An existence check: True if it must answer "absent" (the check-then-act rule).

        Judged by the race model alone: a check changes nothing, so the decision table has
        nothing to say, and the disk's answer is the caller's own.
        """
        if not self.tracked(path):
            return False
        fsop = FsOp(kind=OpKind.STAT, path=path, display=path)
        with self.tracker.running(self.strand(pid, tid, tname)), reported_frames(_frames(frames)):
            return self.model.before(fsop) is Answer.PRETEND_ABSENT

    def after(
        self,
        pid: int,
        tid: int,
        tname: str,
        op: Mapping[str, Any],
        ok: bool,
        frames: Iterable[Frame],
    ) -> None:
        """The real operation ran: update the handles and the names, end a failed open."""
        kind: str = op["kind"]
        path: str = op["path"]
        path2: str | None = op["path2"]
        proc = self.process(pid)
        proc.pending = None
        fd = op["fd"]
        handle = op.get("handle")
        if kind == "close":
            if fd is not None:
                self._close(pid, fd, tid)
            return
        if kind == "open" and isinstance(handle, int):
            if op["exclusive"]:
                self._created(path, handle)
            if ok and fd is not None:
                self.disk.opened(pid, fd, path, number=handle)
            elif ok:
                self._end_handle(path, handle)
            else:
                self.model.forget_handle(handle)  # it never held the name
        if not ok:
            return
        if kind in ("rename", "replace") and path2 is not None:
            self.disk.moved(path, path2)
        if not (self.tracked(path) and (path2 is None or self.tracked(path2))):
            return
        if kind == "open" and op["exclusive"]:
            self.tracker.locked(("lockfile", path), self.strand(pid, tid, tname))
        if kind == "remove":
            self._unlock_lockfile(path)

    def done(self, pid: int, number: int, ok: bool, fd: int | None) -> bool:
        """The report of ``pid``'s announcement ``number``: :meth:`after` with what it said.

        True if it was an exclusive create (an operation may wait for its outcome). A report
        of nothing announced (or refused) is ignored: it can only be a confused process's.
        """
        announced = self._announced.pop((pid, number), None)
        if announced is None:
            return False
        tid, tname, op = announced
        self.after(pid, tid, tname, {**op, "fd": fd}, ok, ())
        return bool(op["exclusive"])

    def _forget_unreported(self, pid: int) -> None:
        """``pid``'s announcements will never be reported (it died, or an exec cut them off)."""
        for key in [key for key in self._announced if key[0] == pid]:
            del self._announced[key]
        for path, pending in list(self.creating.items()):
            for handle, (owner, _thread) in list(pending.items()):
                if owner == pid:
                    self._created(path, handle)

    def closed(self, pid: int, fd: int, tid: int | None = None) -> None:
        """``pid``'s thread ``tid`` closed its descriptor ``fd`` (reported with its next message).

        The handle ends at the closing thread's epoch, as in the fake filesystem: ended at
        its opener's present epoch, a handle the main thread opened before starting a
        consumer, which closed it and then deleted the file (persist-queue's tail chunk),
        looked open to that delete, and the consumer got a false ``[WinError 32]`` in every
        run. The closer has said nothing since the close (its report goes with its next
        message), so its epoch in the judge is the one it closed at. A closing thread the
        judge has never heard of (its first message) ends it at the opener's epoch.
        """
        self._close(pid, fd, tid)

    def _created(self, path: str, handle: int) -> None:
        """An exclusive create's outcome is known (reported, or its process is gone)."""
        pending = self.creating.get(path)
        if pending is not None:
            pending.pop(handle, None)
            if not pending:
                del self.creating[path]

    def _close(self, pid: int, fd: int, tid: int | None = None) -> None:
        handle = self.disk.closed(pid, fd)
        if handle is None:
            return
        stack = None if tid is None else self._strands.get((pid, tid))
        self._end_handle(handle.path, handle.number, stack[-1] if stack else None)

    def _gone(self, handle: Handle) -> None:
        """The disk found ``handle`` closed before its close was reported: end it now.

        The closing thread is not known here (the report that names it comes later, and
        then finds the handle gone), so the handle ends at its opener's present epoch.
        """
        self._end_handle(handle.path, handle.number)

    def _end_handle(self, path: str, number: int, closer: LogicalThread | None = None) -> None:
        """End a handle in the race model, at ``closer``'s epoch, or its opener's if unknown.

        Unknown: the process's exit, a close found on the disk before its report, a thread
        the judge never heard of. Not run in a strand block (a block per close was a tenth
        of the coordinator's cost of a write+replace): the closer is named instead.
        """
        fsop = FsOp(kind=OpKind.CLOSE, path=path, display=path, handle=number)
        if closer is None:
            self.model.after(fsop, None)
        else:
            self.model.closed_by(fsop, closer)

    def _unlock_lockfile(self, path: str) -> None:
        key = ("lockfile", path)
        for strand in self._every_strand():
            if key in strand.locks:
                self.tracker.unlocked(key, strand, fully=True)

    # -- edges -----------------------------------------------------------------------------

    def pair(self, a: str, b: str) -> None:
        """A duplex ``Pipe()``: what is sent on one end is received on the other."""
        self._peers[a] = b
        self._peers[b] = a

    def _channel(self, key: str) -> str | None:
        """A socket pair's send is keyed by the receiving end; anything else as it is."""
        side, _, end = key.partition(":")
        if side == "socket-send":
            peer = self._peers.get(end)
            return None if peer is None else f"socket:{peer}"
        if side == "socket-recv":
            return f"socket:{end}"
        return key

    def release(self, pid: int, tid: int, tname: str, key: str) -> None:
        channel = self._channel(key)
        if channel is None:
            return
        with self.tracker.running(self.strand(pid, tid, tname)):
            self.tracker.release(self.tracker.token(("key", channel)))

    def acquire(self, pid: int, tid: int, tname: str, key: str) -> None:
        channel = self._channel(key)
        if channel is None:
            return
        with self.tracker.running(self.strand(pid, tid, tname)):
            self.tracker.acquire(self.tracker.token(("key", channel)))

    def start(self, pid: int, tid: int, tname: str, token: str) -> None:
        """A process is about to start a child: its start token gets the parent's past."""
        with self.tracker.running(self.strand(pid, tid, tname)):
            self.tracker.release(self.tracker.token(("start", token)))

    def adopt(self, pid: int, tid: int, tname: str, token: str) -> None:
        """A multiprocessing child runs its target: after its parent's ``start()``."""
        with self.tracker.running(self.strand(pid, tid, tname)):
            self.tracker.acquire(self.tracker.token(("start", token)))

    def ended(self, pid: int, tid: int, tname: str, token: str) -> None:
        """A thread started with ``token`` ends: its past goes to ``join()``, its strand away.

        The strand is keyed by (pid, thread ident), and the C library hands a finished
        thread's ident to the next thread it starts. Kept, the strand would make that
        thread the continuation of the finished one: two unordered threads judged ordered
        whenever the first finished before the second started (a loaded machine).
        """
        self.release(pid, tid, tname, f"thread-end:{token}")
        stack = self._strands.pop((pid, tid), None)
        if stack is not None:
            self._ended.setdefault(pid, []).extend(stack)

    def _every_strand(self) -> list[LogicalThread]:
        found = [strand for stack in self._strands.values() for strand in stack]
        for stack in self._ended.values():
            found.extend(stack)
        return found

    def item(self, pid: int, tid: int, tname: str, token: str, begin: bool) -> None:
        """A pool work item begins (its own strand, after the submit) or ends (parked)."""
        stack = self._strands.setdefault((pid, tid), [self.strand(pid, tid, tname)])
        if begin:
            clock = self.tracker.parked(self.tracker.token(("key", f"submit:{token}"))) or {}
            stack.append(self.tracker.detached(f"work item (pid {pid})", clock, "work item"))
            return
        if len(stack) > 1:
            done = stack.pop()
            self.tracker.park(self.tracker.token(("key", f"done:{token}")), done.snapshot())

    def mutex(self, key: str) -> None:
        self._mutexes.add(key)

    def lock(self, pid: int, tid: int, tname: str, key: str) -> None:
        if key.startswith("flock:") and key not in self._flocked:
            self._file_locked(pid, key)
        if key in self._mutexes or not key.startswith("semlock:"):
            self.tracker.locked(("lock", key), self.strand(pid, tid, tname))

    def _file_locked(self, pid: int, key: str) -> None:
        """A file lock on a descriptor (``flock:<device>:<inode>``): its name is a lock file.

        Every holder opens a lock file for writing before it can lock it, unordered by
        nature (fasteners' ``InterProcessLock``: 50 processes opening one file ``"a"``
        were 1,035 ``shared-writers`` races); the race model withdraws those and judges
        no more of them once told (``RaceModel.file_locked``), as the fake filesystem's
        file locks tell it. Looked up once per file: the locking process holds it open.
        """
        self._flocked.add(key)
        _kind, device, inode = key.split(":")
        for handle in self.disk.of_process(pid):
            if (handle.device, handle.inode) == (int(device), int(inode)):
                self.model.file_locked(handle.path)

    def unlock(self, pid: int, tid: int, tname: str, key: str, *, fully: bool = False) -> None:
        strand = self.strand(pid, tid, tname)
        if ("lock", key) in strand.locks:
            self.tracker.unlocked(("lock", key), strand, fully=fully)

    def spawned(self, parent: int, child: int, argv: list[str]) -> None:
        """``parent`` started ``child``; a child of pid 0 or less is unknown (``os.system``).

        Each unknown one gets its own negative key, so it is named once, without a pid.
        """
        if child <= 0:
            self._unknown -= 1
            child = self._unknown
        self.started[child] = [str(a) for a in argv]
        self.parents[child] = parent

    def replaced(self, pid: int, tid: int, tname: str, token: str, argv: list[str]) -> None:
        """``os.exec*`` is about to run ``argv`` in ``pid``: a start, and a program to name.

        If the new program is not Python with pytest-ocirace it never says hello, and the
        report names it (:meth:`not_joined`) as it names any child that never joined.
        """
        self.start(pid, tid, tname, token)
        self.process(pid).replaced_by = [str(a) for a in argv]

    def exec_failed(self, pid: int) -> None:
        """The exec raised: the same program goes on."""
        self.process(pid).replaced_by = None

    def _close_handles(self, pid: int) -> None:
        for handle in self.disk.of_process(pid):
            self._close(pid, handle.fd)

    def exited(self, pid: int) -> None:
        """A connection of the process ended.

        At its last one the handles close and the process's past is parked for
        ``join()``/``wait()``.
        """
        proc = self.process(pid)
        proc.lines = max(0, proc.lines - 1)
        if proc.lines > 0:
            return  # the line of the program an exec replaced: the new one runs on
        proc.exited = True
        self._forget_unreported(pid)  # it died (its handles close below)
        if proc.pending is not None:
            proc.died_during = _pending(*proc.pending)
            proc.pending = None
        self._close_handles(pid)
        final: dict[int, int] = dict(proc.start_clock)
        own = [s for (owner, _tid), stack in self._strands.items() if owner == pid for s in stack]
        for strand in own + self._ended.get(pid, []):
            join_clock(final, strand.snapshot())
            strand.tick()
        self.tracker.park(self.tracker.token(("exit", pid)), final)

    def joined(self, pid: int, tid: int, tname: str, child: int) -> None:
        """``join()``/``wait()`` returned for ``child``: everything it did comes first."""
        clock = self.tracker.parked(self.tracker.token(("exit", child)))
        if clock is not None:
            with self.tracker.running(self.strand(pid, tid, tname)):
                self.tracker.acquire_clock(clock)

    def escaped(self, pid: int, race: int, text: str) -> None:
        self.escapes.append((pid, text))
        found = self._races.get(race)
        if found is not None and found.error is not None:
            self.model.note_escaped(found.error)

    def test_begins(self, pid: int, nodeid: str) -> None:
        """A pytest-xdist worker starts a test: its races are counted from here."""
        self._tests[pid] = (nodeid, len(self.model.races), len(self.escapes))
        self._began[pid] = descendants.clock()
        # What this worker started so far is no test's (the other workers' may be theirs).
        self._named.update(self._descendants(pid))

    def collect(self, pid: int) -> dict[str, Any]:
        """The races and escapes of the worker ``pid``'s current test, ready to send.

        A race is the test's if its second side (the one that fails) ran in the worker or
        in a process the worker's test started (every strand name carries its pid): the
        winner's worker may be running its next test by then.
        """
        from pytest_ocirace.racemodel import report

        nodeid, first_race, first_escape = self._tests.pop(pid, ("", 0, 0))
        own = {pid, *self._descendants(pid)}
        marks = tuple(f"(pid {p})" for p in own)
        races = [
            race for race in self.model.races[first_race:] if race.second.thread.endswith(marks)
        ]
        escapes = [text for p, text in self.escapes[first_escape:] if p in own]
        # Programs the worker's processes started that never joined, each named once: the
        # judge outlives the test here (one per session), so an earlier test's are known.
        unjoined = [(p, argv) for p, argv in self.not_joined() if p in own]
        unjoined += self.unseen(pid, self._began.pop(pid, self.began))
        unjoined = [(p, argv) for p, argv in unjoined if p not in self._named]
        self._named.update(p for p, _argv in unjoined)
        return {
            "nodeid": nodeid,
            "races": [report.race_to_dict(race, nodeid) for race in races],
            "text": report.format_races(races) if races else "",
            "unhandled": sum(race.handled is False for race in races),
            "escapes": escapes,
            "not_joined": [[p, argv] for p, argv in unjoined],
        }

    def _descendants(self, pid: int) -> set[int]:
        """Processes started from ``pid`` (by the spawned records), transitively."""
        found: set[int] = set()
        parents = {pid}
        while parents:
            children = {c for c, parent in self.parents.items() if parent in parents}
            children -= found
            found |= children
            parents = children
        return found

    def race(self, number: int) -> Race | None:
        return self._races.get(number)

    def unseen(self, root: int, since: float) -> list[tuple[int, list[str]]]:
        """Processes below ``root`` started since ``since`` that nobody announced or joined.

        Started by C code (``ctypes``, an extension): found on ``/proc`` while they run or
        until they are reaped (``descendants.py``), and named as the announced ones are.
        ``root`` is the test's process (the pytest process, or the xdist worker).
        """
        return [
            (pid, argv)
            for pid, argv in descendants.started_since({root}, since).items()
            if pid not in self.started and not self.processes.get(pid, Process(pid)).joined
        ]

    def not_joined(self) -> list[tuple[int, list[str]]]:
        """Processes a participant started that never joined (not Python, no package)."""
        found = [
            (pid, argv)
            for pid, argv in self.started.items()
            if not self.processes.get(pid, Process(pid)).joined
        ]
        found.extend(
            (proc.pid, proc.replaced_by)
            for proc in self.processes.values()
            if proc.replaced_by is not None and proc.exited
        )
        return found


def _pending(kind: str, path: str, path2: str | None) -> str:
    """How an operation is named if its process dies before reporting it back."""
    return f"{kind} {path}" + (f" -> {path2}" if path2 else "")


def _frames(frames: Iterable[Frame]) -> tuple[Frame, ...]:
    """The sender's stack as the race model keeps it: (file, line, function) tuples.

    The schema check (or our own interposition, in the test process) made every frame a
    [str, int, str] triple already; only the container changes.
    """
    stack: tuple[Frame, ...] = tuple(map(tuple, frames))  # type: ignore[arg-type]
    return stack
