"""The race model: which filesystem operations conflict on Windows, and what to do about it.

The Windows filesystem layer reports every operation to an observer (``events.py``). This
observer decides, per normalised path, whether the operation conflicts with an earlier one
of another logical thread that is neither ordered before it (vector clocks from
``clocks.py``, fed by ``sync.py``) nor protected by a common lock. The decision does not
depend on timing, only on the program's synchronisation, so a racy test fails in every run.

On a conflict the later operation fails the way Windows fails in that overlap (rows 5, 6, 7
of the decision table), once per pair of threads, rule and name: code that retries, or
that accepts an existing identical target, passes, and unguarded code fails with the real
exception in its own frame. Every conflict is kept as a :class:`Race` for the report,
handled or not.
"""

from __future__ import annotations

import _thread
import enum
import errno
import fnmatch
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from pytest_ocirace.racemodel.clocks import NO_LOCKS, LogicalThread, Tracker, Weakening, active
from pytest_ocirace.racemodel.events import Answer, FsOp, OpKind
from pytest_ocirace.racemodel.stacks import Frame, current_stack
from pytest_ocirace.winrules.errors import (
    ERROR_ACCESS_DENIED,
    ERROR_ALREADY_EXISTS,
    ERROR_SHARING_VIOLATION,
    crt_error,
    windows_error,
)

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them): an
# injected error or a wrapped primitive should point at the user's call, not at the model.
__tracebackhide__ = True

__all__ = [
    "Frame",
    "OpInfo",
    "Race",
    "RaceGroup",
    "RaceModel",
    "Role",
    "exclusive",
    "happens_after",
    "happens_before",
    "ordered",
    "reported_frames",
]

_MAX_FRAMES = 40


class Role(str, enum.Enum):
    """What an operation does to one particular name."""

    PUBLISH = "publish"  # the name is the target of a rename/replace/link
    MOVE_AWAY = "move-away"  # the name is the source of a rename/replace
    DELETE = "delete"  # remove/unlink/rmdir of the name
    HANDLE = "handle"  # an open handle on the name, from open to close
    CHECK = "check"  # an existence or metadata query


@dataclass(frozen=True)
class OpInfo:
    """One side of a race, as the report shows it."""

    kind: str
    role: str
    path: str
    path2: str | None
    thread: str
    frames: tuple[Frame, ...]
    digest: str | None = None
    access: tuple[str, ...] = ()


@dataclass
class Race:
    """Two operations of unordered, unprotected logical threads that conflict on one name.

    ``second`` is the operation that came later in this run: the one that failed when
    ``injected``. ``handled`` is None when nothing was injected, True when the injected
    error did not escape the test (as far as :meth:`RaceModel.note_escaped` was told).
    ``retroactive`` races were found after both operations ran: the second looked
    ordered through an ``Event`` that another thread's later ``set()`` could have
    released first (:class:`~.clocks.Weakening`), so nothing could be raised; the plugin
    fails the test for them when Windows would have raised (``winerror`` not None).
    """

    rule: str
    path: str
    key: str
    first: OpInfo
    second: OpInfo
    winerror: int | None
    injected: bool
    explanation: str
    identical: bool | None = None
    lost_update: bool = False
    handled: bool | None = None
    retroactive: bool = False
    error: BaseException | None = field(default=None, repr=False, compare=False)


#: A code site: the innermost frame of the user's code (None: no frame of theirs).
Site = Frame | None


def _site_order(site: Site) -> tuple[bool, str, int, str]:
    return (site is None, *(site or ("", 0, "")))


@dataclass
class RaceGroup:
    """Every race of one test between one pair of code sites, counted, with one sample.

    A loop that publishes 10^6 times races 10^6 times, at one pair of lines: the report
    shows that pair once, with counts, and the memory it costs is this object. The sites
    are sorted, not "first/second": which of two racing lines ran first is luck, so the
    set of groups is the same in every run where the same lines raced.
    """

    sites: tuple[Site, Site]
    sample: Race
    rules: set[str] = field(default_factory=set)
    count: int = 0
    injected: int = 0
    unhandled: int = 0
    lost_updates: int = 0
    retroactive: int = 0
    failing: int = 0  # races where Windows raises (winerror not None)

    def add(self, race: Race) -> None:
        self.count += 1
        self.rules.add(race.rule)
        self.lost_updates += race.lost_update
        self.failing += race.winerror is not None
        self.retroactive += race.retroactive and race.winerror is not None

    def remove(self, race: Race) -> None:
        self.count -= 1
        self.lost_updates -= race.lost_update
        self.failing -= race.winerror is not None

    @property
    def severity(self) -> tuple[bool, bool, bool, bool, int]:
        """Sort key, most severe first: not handled, lost updates, would fail, count."""
        return (
            not self.unhandled,
            not self.lost_updates,
            not self.retroactive,
            not self.failing,
            -self.count,
        )


def innermost_site(frames: tuple[Frame, ...]) -> Site:
    """The default site of an operation: its innermost recorded frame."""
    return frames[-1] if frames else None


#: Groups one model keeps apart; races beyond join one overflow group (bounded memory).
MAX_GROUPS = 1000
#: Full race records one model keeps (``RaceModel.races``); beyond, only group counters.
MAX_KEPT = 1000
#: Stacks whose code site a model remembers (``RaceModel._site_of``); then it starts over.
_MAX_SITES = 4096
_NO_SITE = object()


class _Access:
    """An operation recorded on one name: who, when (epoch), under which locks, from where."""

    __slots__ = (
        "_info",
        "clock",
        "end_clock",
        "end_epoch",
        "end_locks",
        "end_tid",
        "epoch",
        "frames",
        "locks",
        "op",
        "reported",
        "role",
        "seq",
        "strand",
    )

    def __init__(
        self,
        seq: int,
        role: Role,
        op: FsOp,
        strand: LogicalThread,
        frames: tuple[Frame, ...],
    ) -> None:
        self.seq = seq
        self.role = role
        self.op = op
        self.strand = strand
        self.epoch = strand.epoch
        self.clock = strand.snapshot()
        self.locks = strand.lockset()
        self.frames = frames
        self.end_epoch: int | None = None  # for HANDLE: the close, once it happened
        self.end_locks: frozenset[object] = NO_LOCKS
        #: The close's strand slot, and its clock when another strand closed the handle
        #: (None: the opener closed it, and its own clock at the open stands for it).
        self.end_tid = strand.tid
        self.end_clock: dict[int, int] | None = None
        #: (strand, rule) pairs already reported against this access; it lives as long
        #: as the access is the latest of its slot, so the memory stays bounded.
        self.reported: set[tuple[int, str]] | None = None
        self._info: OpInfo | None = None

    def first_report(self, serial: int, rule: str) -> bool:
        """Whether (strand ``serial``, ``rule``) is new against this access (and remember it).

        Keyed, like all of the model's bookkeeping, by the strand's ``serial``, never by
        its clock slot ``tid``, which a later strand may take over
        (``clocks.Tracker.finished``): which slot a strand gets must not change what is
        reported or failed.
        """
        if self.reported is None:
            self.reported = set()
        elif (serial, rule) in self.reported:
            return False
        self.reported.add((serial, rule))
        return True

    @property
    def writes(self) -> bool:
        return bool(self.op.creates or "write" in self.op.access or "delete" in self.op.access)

    def ordered_before(self, strand: LogicalThread) -> bool:
        if self.role is Role.HANDLE:
            return self.end_epoch is not None and strand.has_seen(self.end_tid, self.end_epoch)
        return strand.has_seen(self.strand.tid, self.epoch)

    def protecting_locks(self) -> frozenset[object]:
        if self.role is not Role.HANDLE:
            return self.locks
        if self.end_epoch is None:
            return self.locks & self.strand.lockset()
        return self.locks & self.end_locks

    def protected_from(self, locks: frozenset[object], clock: Mapping[int, int]) -> bool:
        """Whether a later operation holding ``locks``, at ``clock``, cannot conflict with us.

        A common lock held through both is protection, as ever. So is a handle closed
        under a lock the later operation holds, when that operation came after the open:
        the close and the operation are serialised by the lock, and whether the operation
        met the handle still open is the order the program gave their critical sections,
        through the state it keeps under that lock, as for any two operations under a
        common lock. persist-queue's file queue opens its tail chunk when it starts, and
        its consumer closes it and moves the tail under the queue's mutex; whichever thread
        saves the queue's state next removes the used chunk, under the same mutex, only
        once the tail has moved past it. Judged by the open alone, a run where the producer
        did the removal failed with a false ``[WinError 32]``, and one where the consumer
        did passed: the verdict followed the schedule. In a run where such an operation
        does meet the handle open, it fails for real, by Windows' rule.
        """
        if self.protecting_locks() & locks:
            return True
        return (
            self.role is Role.HANDLE
            and self.end_epoch is not None
            and bool(self.end_locks & locks)
            and clock.get(self.strand.tid, 0) >= self.epoch
        )

    def info(self) -> OpInfo:
        """The access as one side of a race in the report.

        Made once: with many threads, one access is the first side of a race with each.
        """
        if self._info is None:
            op = self.op
            self._info = OpInfo(
                kind=op.kind.value,
                role=self.role.value,
                path=op.display,
                path2=op.display2,
                thread=self.strand.name,
                frames=self.frames,
                digest=op.content_digest,
                access=tuple(sorted(op.access)),
            )
        return self._info


class _PathState:
    """What happened to one normalised name: the latest access per (strand, role, lockset).

    Keeping only the latest access per slot is enough (FastTrack's observation): if the
    latest is ordered before an operation, every earlier one of that slot is too.
    """

    __slots__ = ("born", "latest", "open")

    def __init__(self) -> None:
        self.latest: dict[tuple[int, Role, frozenset[object]], _Access] = {}
        self.open: dict[int, _Access] = {}
        #: True if the name came into being while we watched (publish or create first).
        self.born: bool | None = None

    def candidates(self) -> Iterator[_Access]:
        yield from self.latest.values()
        yield from self.open.values()


def _op_info(op: FsOp, role: Role, strand: LogicalThread, frames: tuple[Frame, ...]) -> OpInfo:
    """``op`` as the later side of a race (one per operation, shared by all its races)."""
    return OpInfo(
        kind=op.kind.value,
        role=role.value,
        path=op.display,
        path2=op.display2,
        thread=strand.name,
        frames=frames,
        digest=op.content_digest,
        access=tuple(sorted(op.access)),
    )


def _unordered_candidates(state: _PathState, strand: LogicalThread) -> list[_Access]:
    """The accesses of ``state`` neither ordered before ``strand`` nor protected from it.

    ``RaceModel._unordered`` over every candidate, written out: this runs for every
    operation on a name, over one access per (strand, role, lockset) that ever touched it,
    a few hundred on a lock file polled by a hundred threads, and nearly all of them are
    ordered (``tests/racemodel/test_race_model.py`` compares the two on random histories).
    """
    seen = strand.clock.get
    handle = Role.HANDLE
    locks: frozenset[object] | None = None
    found: list[_Access] = []
    for candidates in (state.latest.values(), state.open.values()):
        for access in candidates:
            if access.strand is strand:
                continue
            if access.role is handle:
                end = access.end_epoch
                if end is not None and seen(access.end_tid, 0) >= end:
                    continue
            elif seen(access.strand.tid, 0) >= access.epoch:
                continue
            if locks is None:
                locks = strand.lockset()
            if not access.protected_from(locks, strand.clock):
                found.append(access)
    return found


def _verdict(earlier: _Access, role: Role, op: FsOp) -> tuple[str, int | None] | None:
    """The rule an unordered pair breaks and the Windows error of the later op, if any."""
    before = earlier.role
    if role is Role.PUBLISH:
        if before is Role.PUBLISH:
            code = ERROR_ACCESS_DENIED if op.kind is OpKind.REPLACE else ERROR_ALREADY_EXISTS
            return "concurrent-publish", code
        if before is Role.HANDLE:
            code = ERROR_ACCESS_DENIED if op.kind is OpKind.REPLACE else ERROR_ALREADY_EXISTS
            return "publish-onto-open", code
        if before is Role.CHECK:
            return None
        return "publish-onto-deleted", ERROR_ACCESS_DENIED
    if role in (Role.MOVE_AWAY, Role.DELETE):
        if before is Role.HANDLE and earlier.op.share_delete:
            return None  # O_TEMPORARY shares DELETE: renaming or deleting it is allowed (row 8)
        if before is Role.PUBLISH:
            return "remove-while-publishing", ERROR_SHARING_VIOLATION
        if before is Role.HANDLE:
            return "remove-open-file", ERROR_SHARING_VIOLATION
        if before is Role.CHECK:
            return None
        return "shared-temp-name", ERROR_SHARING_VIOLATION
    if role is Role.HANDLE:
        if before in (Role.PUBLISH, Role.MOVE_AWAY, Role.DELETE):
            return "open-while-renaming", ERROR_SHARING_VIOLATION
        if (
            before is Role.HANDLE
            and earlier.writes
            and (op.creates or "write" in op.access)
            and not op.exclusive  # creates a fresh file or fails: never writes another's
        ):
            return "shared-writers", None
    return None


_EXPLAIN = {
    "concurrent-publish": (
        "two threads rename onto one target with nothing ordering them; on Windows the loser "
        "fails while the winner's MoveFileEx still holds the target (table row 5)"
    ),
    "publish-onto-open": (
        "a rename onto a name another thread may hold open; Windows refuses to replace a "
        "file with an open handle (table row 4)"
    ),
    "publish-onto-deleted": (
        "a rename onto a name another thread may be deleting or moving away; a "
        "delete-pending name refuses new renames (table row 13)"
    ),
    "remove-while-publishing": (
        "a delete or rename-away of a name another thread may be renaming onto; the "
        "in-flight rename holds it without delete sharing (table row 7)"
    ),
    "remove-open-file": (
        "a delete or rename-away of a name another thread may hold open; CPython never "
        "shares DELETE access (table rows 7 and 19)"
    ),
    "shared-temp-name": (
        "two threads rename or delete the same (temporary) name; each needs it exclusively "
        "(table row 7)"
    ),
    "open-while-renaming": (
        "an open of a name another thread may be renaming onto or away; the rename holds "
        "it without sharing (table row 6)"
    ),
    "shared-writers": (
        "two threads open one name for writing with nothing ordering the opens (a shared "
        "temporary name); "
        "Windows allows both opens, but the bytes interleave on every OS"
    ),
    "check-then-act": (
        "an existence check unordered with another thread's publish of that name; in some "
        "schedule it runs first and sees the name absent, so it was answered that way"
    ),
}


def _roles(op: FsOp) -> list[tuple[str, str, Role]]:
    """The (key, display, role) triples an operation touches, target first."""
    kind = op.kind
    if kind in (OpKind.RENAME, OpKind.REPLACE):
        roles = []
        if op.path2 is not None:
            roles.append((op.path2, op.display2 or op.path2, Role.PUBLISH))
        roles.append((op.path, op.display, Role.MOVE_AWAY))
        return roles
    if kind is OpKind.LINK:
        return [] if op.path2 is None else [(op.path2, op.display2 or op.path2, Role.PUBLISH)]
    if kind in (OpKind.REMOVE, OpKind.RMDIR):
        return [(op.path, op.display, Role.DELETE)]
    if kind is OpKind.OPEN:
        return [(op.path, op.display, Role.HANDLE)]
    if kind is OpKind.STAT:
        return [(op.path, op.display, Role.CHECK)]
    return []


def _injected_error(winerror: int, op: FsOp) -> OSError:
    """The exception CPython on Windows raises when ``op`` meets ``winerror``.

    ``open()``/``os.open`` go through the C runtime, which maps the Win32 error to an errno
    and drops it: the user sees ``[Errno 13] Permission denied`` with ``winerror`` None, not
    ``[WinError 32]``. Renames and deletes call Win32 directly and carry ``winerror``.
    """
    if op.kind is OpKind.OPEN:
        return crt_error(errno.EACCES, op.display)
    return windows_error(winerror, op.display, op.display2)


#: Where an injected error remembers its race (exceptions take no weak references).
_RACE_ATTRIBUTE = "_ocirace_race"
#: The group of races beyond ``MAX_GROUPS`` distinct site pairs.
_OVERFLOW: tuple[Site, Site] = (("<more site pairs>", 0, ""), None)


#: Frames an operation reported itself (another process's stack, see ``reported_frames``).
_reported = threading.local()


class reported_frames:  # lower case: it was a function, and is used as one
    """Record the operations judged in this block with ``frames`` instead of this stack.

    The process mode judges another process's operation in the coordinator's thread: the
    stack worth reporting is the one that process sent, not the coordinator's. A class, not
    a generator context manager: it is entered for every operation of every participant.
    """

    __slots__ = ("_frames",)

    def __init__(self, frames: tuple[Frame, ...]) -> None:
        self._frames = frames

    def __enter__(self) -> None:
        _reported.frames = self._frames

    def __exit__(self, *exc: object) -> None:
        _reported.frames = None


def _capture() -> tuple[Frame, ...]:
    """The caller's stack, innermost last, without the model's own frames."""
    given: tuple[Frame, ...] | None = getattr(_reported, "frames", None)
    if given is not None:
        return given
    return current_stack(2, _MAX_FRAMES)


def _normalise_glob(pattern: str) -> str:
    return pattern.replace("/", "\\").casefold()


class RaceModel:
    """An :class:`~.events.FsObserver` that detects and injects Windows rename races.

    ``ignore`` lists path globs (``*.log``, ``C:/work/logs/*``; case-insensitive, either
    separator) whose names are never tracked. A glob without a separator matches the last
    path component. ``inject=False`` only records (a dry run). ``close_as_caller``: a close
    is an event of the strand that reports it (the fake filesystem reports it from the
    closing thread); False ends a handle at its opener's present epoch instead, for a
    backend that reports closes from a thread of its own (the process mode's judge).
    """

    def __init__(
        self,
        tracker: Tracker,
        *,
        ignore: Iterable[str] = (),
        inject: bool = True,
        site: Callable[[tuple[Frame, ...]], Site] = innermost_site,
        keep: int = MAX_KEPT,
        close_as_caller: bool = True,
    ) -> None:
        self.tracker = tracker
        self.inject = inject
        self._close_as_caller = close_as_caller
        #: The first ``keep`` races in full; ``groups`` counts all of them.
        self.races: list[Race] = []
        self.groups: dict[tuple[Site, Site], RaceGroup] = {}
        #: Every race recorded (``races`` stops at ``keep``).
        self.total = 0
        self._site = site
        self._sites: dict[tuple[Frame, ...], object] = {}
        self._keep = keep
        self._globs = [_normalise_glob(g) for g in ignore if g.strip()]
        self._ignored: dict[str, bool] = {}
        self._paths: dict[str, _PathState] = {}
        #: Open handles: id -> the name they were opened on (a close names the handle).
        self._handles: dict[int, str] = {}
        #: (strand, name) -> check-then-act races that strand's later re-check may retract.
        self._checks: dict[tuple[int, str], list[Race]] = {}
        self._seq = 0
        #: (strand, name) whose last operation there was failed by injection: the next
        #: attempt is not failed again (see ``_conflicts``).
        self._retrying: set[tuple[int, str]] = set()
        #: (earlier strand, later strand, rule, name) already failed once by injection:
        #: a later conflict of the same two strands there is recorded, not failed again.
        self._injected: set[tuple[int, int, str, str]] = set()
        self._mutex = _thread.RLock()
        self.operations = 0
        tracker.listeners.append(self._weakened)
        #: How many weakenings happened; an operation during which one happened is
        #: re-judged in ``after`` (its ``before`` may have used the strong clock).
        self._weakenings = 0
        self._local = threading.local()
        #: Names used as lock files (``file_locked``): every holder opens them for writing
        #: before it can lock them, so those opens are not shared writers.
        self._lock_files: set[str] = set()
        #: Shared-writer races per name, withdrawn if the name turns out to be a lock file.
        self._shared_writers: dict[str, list[Race]] = {}

    # -- queries for the plugin ------------------------------------------------------------

    @property
    def raced(self) -> bool:
        """Whether any race happened (what ``--ocirace-strict`` fails on)."""
        return self.total > 0

    @property
    def unhandled(self) -> list[Race]:
        """The kept races whose injected error escaped (see ``groups`` for counts)."""
        return [r for r in self.races if r.handled is False]

    def group_of(self, race: Race) -> RaceGroup:
        key = self._group_key(race)
        group = self.groups.get(key)
        return group if group is not None else self.groups[_OVERFLOW]

    def _group_key(self, race: Race) -> tuple[Site, Site]:
        first, second = self._site_of(race.first.frames), self._site_of(race.second.frames)
        return (first, second) if _site_order(first) <= _site_order(second) else (second, first)

    def _site_of(self, frames: tuple[Frame, ...]) -> Site:
        """The code site of ``frames``, remembered.

        One operation of a thread among a hundred races with each of them, and finding
        the user's frame is the dear part.
        """
        site = self._sites.get(frames, _NO_SITE)
        if site is _NO_SITE:
            if len(self._sites) >= _MAX_SITES:
                self._sites.clear()
            site = self._sites[frames] = self._site(frames)
        return site  # type: ignore[return-value]

    def note_escaped(self, exc: BaseException) -> bool:
        """Mark the races whose injected error is ``exc`` (or in its chain) as unhandled."""
        seen: set[int] = set()
        todo = [exc]
        found = False
        while todo:
            current = todo.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            race = getattr(current, _RACE_ATTRIBUTE, None)
            if isinstance(race, Race) and race.error is current and race.handled is not False:
                race.handled = False
                found = True
                group = self.group_of(race)
                group.unhandled += 1
                if group.sample.handled is not False:
                    group.sample = race
            for linked in (current.__cause__, current.__context__):
                if linked is not None:
                    todo.append(linked)
            todo.extend(getattr(current, "exceptions", ()))
        return found

    # -- the observer ----------------------------------------------------------------------

    def is_ignored(self, key: str) -> bool:
        cached = self._ignored.get(key)
        if cached is None:
            name = key.rsplit("\\", 1)[-1]
            cached = any(
                fnmatch.fnmatchcase(name if "\\" not in g else key, g) for g in self._globs
            )
            self._ignored[key] = cached
        return cached

    def before(self, op: FsOp) -> Answer:
        with self._mutex:
            self._local.weakenings = self._weakenings
            self.operations += 1
            strand = self.tracker.current()
            answer = Answer.PROCEED
            for key, display, role in _roles(op):
                if self._globs and self.is_ignored(key):
                    continue
                state = self._paths.get(key)
                if state is None:
                    continue
                if role is Role.CHECK:
                    if self._check_then_act(state, op, key, display, strand):
                        answer = Answer.PRETEND_ABSENT
                    continue
                self._conflicts(state, op, key, display, role, strand)
            return answer

    def after(self, op: FsOp, error: BaseException | None) -> None:
        if op.kind is OpKind.CLOSE:
            with self._mutex:
                self._close(op)  # even a failed close ends the handle
            return
        if error is not None:
            return  # the operation did not happen: nothing to conflict with later
        with self._mutex:
            strand = self.tracker.current()
            if op.kind is OpKind.MKDIR or (op.kind is OpKind.OPEN and op.exclusive):
                self._created_exclusively(op.path)
            frames: tuple[Frame, ...] | None = None
            for key, _display, role in _roles(op):
                if self._retrying:
                    self._retrying.discard((strand.serial, key))  # the retry went through
                if role is Role.CHECK or (self._globs and self.is_ignored(key)):
                    continue
                if frames is None:
                    frames = _capture()
                state = self._paths.get(key)
                if state is None:
                    state = self._paths[key] = _PathState()
                if state.born is None:
                    state.born = op.creates and role in (Role.PUBLISH, Role.HANDLE)
                self._seq += 1
                access = _Access(self._seq, role, op, strand, frames)
                if role is Role.HANDLE and op.handle is not None:
                    state.open[op.handle] = access
                    self._handles[op.handle] = key
                else:
                    state.latest[(strand.tid, role, access.locks)] = access
                if getattr(self._local, "weakenings", self._weakenings) != self._weakenings:
                    self._judge_again(key, state, access)
                if role in (Role.DELETE, Role.MOVE_AWAY):
                    self.tracker.release(self.tracker.token(("name-freed", key)))

    def forget_handle(self, handle: int) -> None:
        """An open recorded before it ran failed after all: it never held the name.

        The process mode records an allowed open at once (another process's announcement
        must see it) and runs it afterwards, outside the judge's lock; an exclusive create
        that loses to another process's on the disk then fails. Kept as a closed handle,
        it would race with the winner's later delete (a lock file's release).
        """
        with self._mutex:
            key = self._handles.pop(handle, None)
            state = None if key is None else self._paths.get(key)
            if state is not None:
                state.open.pop(handle, None)

    def _created_exclusively(self, key: str) -> None:
        """An exclusive create (``O_EXCL``, ``"x"``, ``mkdir``) of ``key`` succeeded.

        It is an atomic test-and-set of the name: it can only succeed once the name is
        gone, so the creator is ordered after every removal (delete, rename away) of that
        name that completed. This is what serialises a lock file made by creating it
        exclusively and deleting it (filelock's ``SoftFileLock``, ``lockfile``, pip's
        ``mkdir`` locks): without the edge, each holder's delete looked unordered with the
        previous holder's and was failed with ``[WinError 32]``, which such locks swallow,
        leaving the lock file behind for ever. A create that is not exclusive (``"w"``)
        succeeds either way and orders nothing.
        """
        if not (self._globs and self.is_ignored(key)):
            self.tracker.acquire(self.tracker.token(("name-freed", key)))

    def file_locked(self, key: str) -> None:
        """``key`` was locked through a file lock (``filelocks.LockFileObserver``).

        Its holders opened it for writing (and often looked whether it exists) before they
        could lock it, unordered by nature: the lock is what serialises them, and nothing
        is published through the name. So those opens are not shared writers and those
        looks are not check-then-act; the ones reported before the first lock are withdrawn.
        """
        with self._mutex:
            if key in self._lock_files:
                return
            self._lock_files.add(key)
            self._withdraw(self._shared_writers.pop(key, []))
            for slot in [slot for slot in self._checks if slot[1] == key]:
                self._withdraw(self._checks.pop(slot))

    # -- internals -------------------------------------------------------------------------

    def closed_by(self, op: FsOp, closer: LogicalThread) -> None:
        """``op`` (a close) was done by ``closer``, reported by someone else.

        The process mode's judge reports closes from its own thread, without a strand block
        per close (``close_as_caller=False``); it names the closing strand here instead.
        """
        with self._mutex:
            self._close(op, closer)

    def _close(self, op: FsOp, closer: LogicalThread | None = None) -> None:
        if op.handle is None:
            return
        key = self._handles.pop(op.handle, op.path)
        state = self._paths.get(key)
        if state is None:
            return
        access = state.open.pop(op.handle, None)
        if access is None:
            return
        # The close is an event of the strand that closes: a handle opened by one thread
        # and closed by another (persist-queue's tail chunk, opened when the queue starts
        # and closed by its consumer) ends at the closer's epoch. Recorded at the opener's,
        # the closer's own later delete of the file looked unordered with the handle.
        if closer is None:
            closer = self.tracker.current() if self._close_as_caller else access.strand
        access.end_tid = closer.tid
        access.end_epoch = closer.epoch
        access.end_locks = closer.lockset()
        if closer is not access.strand:
            access.end_clock = closer.snapshot()
        state.latest[(access.strand.tid, Role.HANDLE, access.locks)] = access

    def _weakened(self, weakening: Weakening) -> None:
        """Re-check the waiter's operations since a wait that gave it too much order.

        Each of them that was judged ordered after another strand's operation only
        through the weakened edge is judged again with the guaranteed clock; a conflict
        found so is recorded as a retroactive race (both operations already ran).
        """
        waiter = weakening.strand
        with self._mutex:
            self._weakenings += 1
            for key, state in list(self._paths.items()):
                accesses = sorted(state.candidates(), key=lambda a: a.seq)
                for later in accesses:
                    if later.strand is not waiter or later.epoch < weakening.since:
                        continue
                    guaranteed = weakening.clock_at(later.epoch)
                    for earlier in accesses:
                        if earlier.seq >= later.seq or earlier.strand is waiter:
                            continue
                        self._recheck(key, earlier, later, guaranteed)

    def _judge_again(self, key: str, state: _PathState, later: _Access) -> None:
        """A wait was weakened while ``later`` ran: judge it with its settled clock."""
        for earlier in sorted(state.candidates(), key=lambda a: a.seq):
            if earlier.seq < later.seq and earlier.strand is not later.strand:
                self._recheck(key, earlier, later, later.clock, relied=False)

    def _recheck(
        self,
        key: str,
        earlier: _Access,
        later: _Access,
        guaranteed: dict[int, int],
        *,
        relied: bool = True,
    ) -> None:
        end = earlier.end_epoch if earlier.role is Role.HANDLE else earlier.epoch
        tid = earlier.end_tid if earlier.role is Role.HANDLE else earlier.strand.tid
        if end is None or (relied and later.clock.get(tid, 0) < end):
            return  # not relied on: judged when ``later`` ran
        if guaranteed.get(tid, 0) >= end or earlier.protected_from(later.locks, guaranteed):
            return
        verdict = _verdict(earlier, later.role, later.op)
        if verdict is None or (
            verdict[0] == "shared-writers" and self._not_shared(key, earlier, guaranteed)
        ):
            return
        rule, code = verdict
        if not earlier.first_report(later.strand.serial, rule):
            return
        display = next((d for k, d, _r in _roles(later.op) if k == key), later.op.display)
        self._record(
            rule,
            key,
            display,
            earlier,
            later.op,
            later.role,
            later.strand,
            code,
            later.frames,
            retroactive=True,
        )

    def _not_shared(self, key: str, earlier: _Access, clock: Mapping[int, int]) -> bool:
        """Whether two write handles on ``key`` are no ``shared-writers`` race after all.

        Not on a lock file (the lock serialises its holders), nor when the later open
        came after the earlier one: the overlap is then the same in every schedule, and
        it is how a temporary file is often written: ``mkstemp`` keeps its descriptor
        while a worker opens the name again to fill it (persist-queue's async queue, on
        every put), which Windows allows and which never interleaves bytes unless both
        write. Only opens that nothing orders are a race.
        """
        return key in self._lock_files or clock.get(earlier.strand.tid, 0) >= earlier.epoch

    def _unordered(self, access: _Access, strand: LogicalThread) -> bool:
        """Neither ordered before ``strand`` nor protected by a lock it holds."""
        if access.strand is strand or access.ordered_before(strand):
            return False
        return not access.protected_from(strand.lockset(), strand.clock)

    def _conflicts(
        self,
        state: _PathState,
        op: FsOp,
        key: str,
        display: str,
        role: Role,
        strand: LogicalThread,
    ) -> None:
        failure: Race | None = None
        conflicting: list[_Access] = []
        retry = (strand.serial, key) in self._retrying
        second: OpInfo | None = None
        # With a hundred threads a lock file has hundreds of candidates, nearly all ordered
        # or protected: filter them first, sort the few left.
        unordered = _unordered_candidates(state, strand)
        for earlier in sorted(unordered, key=lambda a: a.seq):
            verdict = _verdict(earlier, role, op)
            if verdict is None or (
                verdict[0] == "shared-writers" and self._not_shared(key, earlier, strand.clock)
            ):
                continue
            rule, code = verdict
            if code is not None:
                conflicting.append(earlier)
            if not earlier.first_report(strand.serial, rule):
                continue
            if second is None:  # this operation's side of its races: made once
                second = _op_info(op, role, strand, _capture())
            race = self._record(rule, key, display, earlier, op, role, strand, code, second=second)
            if code is not None and self.inject and failure is None and not retry:
                pair = (earlier.strand.serial, strand.serial, rule, key)
                if pair not in self._injected:
                    self._injected.add(pair)
                    failure = race
        if failure is None:
            return
        race = failure
        error = _injected_error(race.winerror or ERROR_ACCESS_DENIED, op)
        race.injected = True
        race.handled = True
        race.error = error
        setattr(error, _RACE_ATTRIBUTE, race)  # found again by note_escaped, if it escapes
        self.group_of(race).injected += 1
        # Bounded as on Windows, where a replace fails only while another rename onto the
        # target is in flight: the loser has now observed every conflicting operation that
        # completed (a handle still open has not), and its next attempt on this name is not
        # failed again. So a bounded retry (pip, conda, zarr: sleep, try again) passes, as
        # does an "is it there already?" check; code that never retries fails every run.
        replayed = strand.joins is not None  # every join counts for a weakened wait's re-check
        for earlier in conflicting:
            end = earlier.epoch if earlier.role is not Role.HANDLE else earlier.end_epoch
            tid = earlier.strand.tid if earlier.role is not Role.HANDLE else earlier.end_tid
            if end is None or (not replayed and strand.has_seen(tid, end)):
                continue  # still open, or seen already: its clock adds nothing
            if earlier.role is not Role.HANDLE:
                self.tracker.acquire_clock(earlier.clock)
            elif earlier.end_clock is not None:
                self.tracker.acquire_clock(earlier.end_clock)
            else:
                self.tracker.acquire_clock({**earlier.clock, earlier.strand.tid: end})
        self._retrying.add((strand.serial, key))
        raise error

    def _check_then_act(
        self,
        state: _PathState,
        op: FsOp,
        key: str,
        display: str,
        strand: LogicalThread,
    ) -> bool:
        if not state.born or key in self._lock_files:
            return False
        # Every publish makes the name present after it, whether or not it was the one
        # that made it appear in this run (which depends on the schedule): a check ordered
        # after any of them sees the name in every schedule. Whether the name existed
        # before anything here touched it is ``born``, above.
        creators = [
            a
            for a in state.candidates()
            if a.role is Role.PUBLISH or (a.role is Role.HANDLE and a.op.creates)
        ]
        # Present in every schedule if some creation is ours or ordered before us.
        if not creators or any(
            a.strand is strand or strand.has_seen(a.strand.tid, a.epoch) for a in creators
        ):
            self._retract_checks(strand, key)
            return False
        racing = [a for a in creators if self._unordered(a, strand)]
        if not racing:
            self._retract_checks(strand, key)
            return False
        earlier = min(racing, key=lambda a: a.seq)
        if earlier.first_report(strand.serial, "check-then-act"):
            race = self._record(
                "check-then-act", key, display, earlier, op, Role.CHECK, strand, None
            )
            self._checks.setdefault((strand.serial, key), []).append(race)
        return True

    def _retract_checks(self, strand: LogicalThread, key: str) -> None:
        """Forget ``strand``'s earlier unordered checks of ``key``: it looked again, ordered.

        A thread that saw a name absent without ordering, then synchronised with the
        publisher (waited on its event, joined it, took a common lock) and checked again,
        did not rely on the first answer: that is how a single-flight cache or a "wait for
        the leader, then re-check" writer is built. What it did in between on that name is
        judged by the other rules (a publish onto it is a conflict of its own).
        """
        self._withdraw(self._checks.pop((strand.serial, key), []))

    def _withdraw(self, pending: list[Race]) -> None:
        """Forget races that turned out not to be races, from the records and the groups."""
        if pending:
            retracted = {id(race) for race in pending}
            self.races = [race for race in self.races if id(race) not in retracted]
            for race in pending:
                self.total -= 1
                group = self.group_of(race)
                group.remove(race)
                if group.count <= 0:
                    self.groups = {k: g for k, g in self.groups.items() if g is not group}
                elif group.sample is race:
                    kept = [r for r in self.races if self.group_of(r) is group]
                    if kept:
                        group.sample = kept[0]

    def _record(
        self,
        rule: str,
        key: str,
        display: str,
        earlier: _Access,
        op: FsOp,
        role: Role,
        strand: LogicalThread,
        code: int | None,
        frames: tuple[Frame, ...] | None = None,
        *,
        retroactive: bool = False,
        second: OpInfo | None = None,
    ) -> Race:
        if second is None:
            second = _op_info(op, role, strand, _capture() if frames is None else frames)
        first = earlier.info()
        identical: bool | None = None
        lost = False
        if rule == "concurrent-publish" and first.digest and second.digest:
            identical = first.digest == second.digest
            lost = not identical
        race = Race(
            rule=rule,
            path=display,
            key=key,
            first=first,
            second=second,
            winerror=code,
            injected=False,
            explanation=_EXPLAIN[rule],
            identical=identical,
            lost_update=lost,
            retroactive=retroactive,
        )
        self._count(race)
        if rule == "shared-writers":
            pending = self._shared_writers.setdefault(key, [])
            if len(pending) < self._keep:  # bounded memory, as the records are
                pending.append(race)
        return race

    def _count(self, race: Race) -> None:
        """Count ``race`` in its group; keep the record itself only up to ``keep``."""
        self.total += 1
        if len(self.races) < self._keep:
            self.races.append(race)
        key = self._group_key(race)
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= MAX_GROUPS:
                key = _OVERFLOW
                group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = RaceGroup(key, race)
        group.add(race)


# -- declared orderings ---------------------------------------------------------------------


def happens_before(key: Hashable) -> None:
    """Declare that what the calling thread did so far precedes ``happens_after(key)``.

    For orderings the model cannot see: a flag polled under a lock, another process, a
    socket. Outside an ocirace test this does nothing, so it may stay in production code.
    """
    tracker = active()
    if tracker is not None:
        tracker.release(tracker.token(("declared", key)))


def happens_after(key: Hashable) -> None:
    """Declare that what the calling thread does next follows every ``happens_before(key)``."""
    tracker = active()
    if tracker is not None:
        tracker.acquire(tracker.token(("declared", key)))


@contextmanager
def ordered(key: Hashable) -> Iterator[None]:
    """Blocks with the same ``key`` run one after another, in the order they ran."""
    happens_after(key)
    try:
        yield
    finally:
        happens_before(key)


@contextmanager
def exclusive(key: Hashable) -> Iterator[None]:
    """Blocks with the same ``key`` never overlap (a lock the model cannot see).

    Counts as a common lock: operations inside two such blocks are protected from each
    other, without being ordered.
    """
    tracker = active()
    if tracker is None:
        yield
        return
    lock_key = ("declared-lock", key)
    holder = tracker.locked(lock_key)
    try:
        yield
    finally:
        tracker.unlocked(lock_key, holder)
