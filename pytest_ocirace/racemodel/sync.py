"""Instrument Python's synchronisation primitives so the race model sees the program's order.

The race model only knows that operation A happens before operation B if the program said so
through a primitive: a thread was started or joined, an event was set and waited for, a
queue item was put and got, a future completed and its result was read. This module wraps
those primitives (class attributes of ``threading``, ``queue`` and ``concurrent.futures``) so
that each such edge is reported to the active :class:`~.clocks.Tracker`.

Locks are different on purpose: they give *mutual exclusion*, not order. Treating lock
release→acquire as an edge makes the verdict depend on which thread took an unrelated lock
(logging's, say) first; a prototype reported a race in 0-18 of 50 runs that way. So locks
created while instrumented are wrapped to maintain each logical thread's lockset instead.

Everything is undone by :meth:`Instrumentation.uninstall`, which puts back the exact
attributes it replaced (or deletes the ones it added).
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import sys
import threading
import weakref
from collections.abc import Callable, Iterator

from pytest_ocirace.racemodel.clocks import (
    LogicalThread,
    Tracker,
    activate,
    active,
    deactivate,
    join_clock,
)
from pytest_ocirace.racemodel.queue_tags import QueueTags

TYPE_CHECKING = False  # not typing's: the process mode installs this in a child's start-up

if TYPE_CHECKING:
    from typing import Any

#: The modules whose classes :meth:`Instrumentation.install` patches (``threading`` aside),
#: which ``fakefs/preload.py`` imports before pyfakefs starts: a module first imported while
#: pyfakefs patches is dropped at its next pause, and a later import makes fresh, unpatched
#: classes.
INSTRUMENTED_MODULES = ("queue", "concurrent.futures.thread")

#: When a patch of a module runs: ``defer(module_name, patch)``. By default at once (the
#: module is imported for it); the process mode passes a post-import hook, so that a child
#: that never imports ``queue`` or ``concurrent.futures`` does not pay for them.
Defer = Callable[[str, Callable[[], None]], None]

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them): an
# injected error or a wrapped primitive should point at the user's call, not at the model.
__tracebackhide__ = True

__all__ = [
    "INSTRUMENTED_MODULES",
    "Instrumentation",
    "LockTracking",
    "TrackedLock",
    "TrackedRLock",
    "install",
    "track_locks",
]

_MISSING = object()
_quiet = threading.local()
_lock_ids = iter(range(1, sys.maxsize))


def _is_quiet() -> bool:
    """Whether we are inside an instrumented primitive whose own Condition must not count."""
    return getattr(_quiet, "depth", 0) > 0


class _Quiet:
    """Silence Condition edges while a higher-level primitive runs its internals."""

    __slots__ = ()

    def __enter__(self) -> None:
        _quiet.depth = getattr(_quiet, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _quiet.depth -= 1


_QUIET = _Quiet()


class TrackedLock:
    """A ``threading.Lock`` that records itself in its holder's lockset.

    The holder is remembered so that a release from another thread (legal for ``Lock``)
    clears the right lockset.
    """

    __slots__ = ("__weakref__", "_holder", "_inner", "key")

    def __init__(self) -> None:
        self._inner = _thread.allocate_lock()
        self._holder: LogicalThread | None = None
        self.key = ("lock", next(_lock_ids))

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._inner.acquire(blocking, timeout)
        if got:
            tracker = active()
            if tracker is not None:
                self._holder = tracker.locked(self.key)
        return got

    def release(self) -> None:
        holder, self._holder = self._holder, None
        self._inner.release()
        tracker = active()
        if tracker is not None and holder is not None:
            tracker.unlocked(self.key, holder)

    def locked(self) -> bool:
        return self._inner.locked()

    # The lock type's old names, still called by some code.
    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._inner = _thread.allocate_lock()
        self._holder = None

    def __getattr__(self, name: str) -> Any:
        # Whatever else the real lock type has (or grows in a later Python): the inner
        # lock's, so that code written against the real type never meets AttributeError.
        if name in TrackedLock.__slots__:
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<{state} ocirace TrackedLock {self.key[1]}>"


class TrackedRLock:
    """A ``threading.RLock`` that records itself in its holder's lockset.

    It provides ``_is_owned``/``_release_save``/``_acquire_restore`` because
    ``threading.Condition`` uses them when present, and its fallback for a reentrant lock
    would misjudge ownership.
    """

    __slots__ = ("__weakref__", "_inner", "key")

    # trio asserts ``lock.__class__.__module__ == "_thread"`` of its entry queue's RLock:
    # it needs the C lock, which a signal handler cannot catch half-updated, not the
    # pure-Python ``threading._RLock`` (bpo-13697). The owner and count of this lock are
    # the C lock's own (``_inner``); what runs around it here is bookkeeping. So the
    # check's answer is the true one, and every trio run under --ocirace failed without it
    # (``TrioInternalError``: jinja2's 19 trio tests).
    __module__ = "_thread"

    def __init__(self) -> None:
        self._inner = _thread.RLock()
        self.key = ("rlock", next(_lock_ids))

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        # An exception raised in this frame after the real acquire returned (the
        # SimulationEnded that plugins/leftover_threads.py sends a leftover thread arrives
        # at the first check after a C call; or the tracker failing) would leave the lock
        # held by a thread about to die: logging's handler lock, and every later test
        # that logs waits for ever (joblib's ThreadPool workers log through
        # multiprocessing.util). What this call took is given back before it propagates.
        inner = self._inner
        before = inner._recursion_count()  # type: ignore[attr-defined]
        try:
            got = inner.acquire(blocking, timeout)
            if got:
                tracker = active()
                if tracker is not None:
                    tracker.locked(self.key)
        except BaseException:
            if inner._recursion_count() > before:  # type: ignore[attr-defined]
                inner.release()
            raise
        return got

    def release(self) -> None:
        self._inner.release()
        tracker = active()
        if tracker is not None:
            tracker.unlocked(self.key)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _is_owned(self) -> bool:
        return bool(self._inner._is_owned())  # type: ignore[attr-defined]

    def _release_save(self) -> Any:
        state = self._inner._release_save()  # type: ignore[attr-defined]
        tracker = active()
        if tracker is not None:
            tracker.unlocked(self.key, fully=True)
        return state

    def _acquire_restore(self, state: Any) -> None:
        self._inner._acquire_restore(state)  # type: ignore[attr-defined]
        tracker = active()
        if tracker is not None:
            tracker.locked(self.key)

    def _recursion_count(self) -> int:
        # multiprocessing's resource tracker asks (ProcessPoolExecutor with spawn).
        return int(self._inner._recursion_count())  # type: ignore[attr-defined]

    def _at_fork_reinit(self) -> None:
        self._inner = _thread.RLock()

    def __getattr__(self, name: str) -> Any:
        # As for TrackedLock: the rest of the real type (``locked`` on Python 3.14...).
        if name in TrackedRLock.__slots__:
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"<ocirace TrackedRLock {self.key[1]}>"


def _quietly(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` run with Condition edges silenced: a primitive modelled on its own."""

    @functools.wraps(method)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with _QUIET:
            return method(*args, **kwargs)

    return quiet


class _ConditionLockMethod:
    """``Condition.acquire``/``release``, which order like ``with cond:`` does.

    ``Condition.__init__`` exports its lock's bound methods as instance attributes, so code
    that calls ``cond.acquire()`` (a readers-writer lock's ``acquire_read_lock``) bypasses
    ``__enter__``. As a data descriptor on the class this wins over the instance's
    attribute, including on conditions made before the simulation started, and is gone
    with the patch: the instance's own attribute is what remains.
    """

    __slots__ = ("name", "tracker")

    def __init__(self, name: str, tracker: Tracker) -> None:
        self.name = name
        self.tracker = tracker

    def __get__(self, cond: Any, owner: object = None) -> Any:
        if cond is None:
            return self
        inner = vars(cond).get(self.name) or getattr(cond._lock, self.name)
        tracker = self.tracker
        if self.name == "acquire":

            def acquire(*args: Any, **kwargs: Any) -> Any:
                got = inner(*args, **kwargs)
                if got and not _is_quiet():
                    tracker.acquire(cond)
                return got

            return acquire

        def release() -> None:
            if not _is_quiet():
                tracker.release(cond)
            inner()

        return release

    def __set__(self, cond: Any, value: Any) -> None:
        vars(cond)[self.name] = value


def _pool_classes(thread_module: Any) -> list[Any]:
    """``ThreadPoolExecutor`` of ``thread_module``, and the one ``concurrent.futures`` hands out.

    The package resolves ``concurrent.futures.ThreadPoolExecutor`` lazily and keeps the
    class it first found as a global of its own. When ``concurrent.futures.thread`` is later
    dropped from ``sys.modules`` and imported again (pytester's in-process runs restore
    ``sys.modules`` after each run; a suite that purges modules does the same), the package
    still hands out the old class, and a pool made through it would run its work items with
    no edge from their submitter. Both classes are instrumented.
    """
    classes: list[Any] = [thread_module.ThreadPoolExecutor]
    package = sys.modules.get("concurrent.futures")
    cached = vars(package).get("ThreadPoolExecutor") if package is not None else None
    if isinstance(cached, type) and cached not in classes:
        classes.append(cached)
    return classes


class Instrumentation:
    """The set of patches for one test, bound to one tracker.

    ``install`` is refused while another instrumentation is installed: the patches are
    process-wide class attributes.
    """

    _installed: Instrumentation | None = None

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self._saved: list[tuple[object, str, object]] = []
        self._semaphore_initial: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._queue_tags = QueueTags()
        self._item_ids = iter(range(1, sys.maxsize))

    # -- install / uninstall -------------------------------------------------------------

    def _patch(self, owner: object, name: str, value: object) -> None:
        self._saved.append((owner, name, vars(owner).get(name, _MISSING)))
        setattr(owner, name, value)

    @classmethod
    def current(cls) -> Instrumentation | None:
        """The instrumentation installed now, if any (the plugin's last-resort cleanup)."""
        return cls._installed

    def install(self, defer: Defer | None = None) -> Instrumentation:
        if Instrumentation._installed is not None:
            raise RuntimeError(
                "pytest-ocirace: synchronisation instrumentation is already installed; "
                "call uninstall() on the previous one first"
            )
        activate(self.tracker)
        Instrumentation._installed = self
        try:
            self._install_threading()
            later = _at_once if defer is None else defer
            queue_module, futures_module = INSTRUMENTED_MODULES
            later(queue_module, self._install_queue)
            later(futures_module, self._install_futures)
            if defer is not None:
                defer("filelock", self._install_filelock)
            else:
                self._install_filelock()  # only if loaded: it is not our dependency
        except BaseException:
            self.uninstall()
            raise
        return self

    def uninstall(self) -> None:
        """Restore every patched attribute and forget the clocks of queued items."""
        for owner, name, original in reversed(self._saved):
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._saved.clear()
        self._queue_tags.clear()
        if Instrumentation._installed is self:
            Instrumentation._installed = None
        if active() is self.tracker:
            deactivate()

    def __enter__(self) -> Instrumentation:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # -- threading -----------------------------------------------------------------------

    def _install_threading(self) -> None:
        tr = self.tracker
        th = threading
        factories: dict[str, object] = vars(th)
        if factories["Lock"] is not TrackedLock:  # not already tracked (track_locks)
            self._patch(th, "Lock", TrackedLock)
        if factories["RLock"] is not TrackedRLock:
            self._patch(th, "RLock", TrackedRLock)

        start, join = th.Thread.start, th.Thread.join

        def thread_start(thread: threading.Thread) -> None:
            tr.bind_thread(thread, tr.spawn(thread.name, "thread"))
            start(thread)

        def thread_join(thread: threading.Thread, timeout: float | None = None) -> None:
            join(thread, timeout)
            if not thread.is_alive():
                strand = tr.strand_of(thread)
                if strand is not None:
                    strand.settle()  # finished: no other thread touches its clock now
                    tr.acquire_clock(strand.clock)

        self._patch(th.Thread, "start", functools.wraps(start)(thread_start))
        self._patch(th.Thread, "join", functools.wraps(join)(thread_join))

        ev_set, ev_wait = th.Event.set, th.Event.wait

        def event_set(event: threading.Event) -> None:
            # Only the set that turns the flag on orders anything: a waiter may return right
            # after it, so a later set() of an already-set event must not make the waiter
            # "after" more of the setter's past (that would depend on when the waiter woke).
            # Checked and set under the event's own condition, as Event.set does.
            # A set of an already-set event may still have been the first in another
            # schedule: the tracker then weakens what waiters were given (Weakening).
            with _QUIET, event._cond:  # type: ignore[attr-defined]
                turns_on = not event._flag  # type: ignore[attr-defined]
                weakened = tr.event_set(event, turns_on=turns_on)
                if turns_on:
                    event._flag = True  # type: ignore[attr-defined]
                    event._cond.notify_all()  # type: ignore[attr-defined]
            tr.report(weakened)

        def event_wait(event: threading.Event, timeout: float | None = None) -> bool:
            with _QUIET:
                flag = ev_wait(event, timeout)
            if flag:
                tr.event_waited(event)
            return flag

        self._patch(th.Event, "set", functools.wraps(ev_set)(event_set))
        self._patch(th.Event, "wait", functools.wraps(ev_wait)(event_wait))

        notify, cwait, center = th.Condition.notify, th.Condition.wait, th.Condition.__enter__

        def cond_enter(cond: threading.Condition) -> bool:
            # A state change published under the condition and notified is seen by whoever
            # takes the condition afterwards, whether it then needs to wait or not.
            got = center(cond)
            if not _is_quiet():
                tr.acquire(cond)
            return got

        def cond_notify(cond: threading.Condition, n: int = 1) -> None:
            if not _is_quiet():
                tr.release(cond)
            notify(cond, n)

        def cond_wait(cond: threading.Condition, timeout: float | None = None) -> bool:
            if not _is_quiet():
                tr.release(cond)  # the lock is given up while waiting
            flag = cwait(cond, timeout)
            if not _is_quiet():
                tr.acquire(cond)
            return flag

        cexit = th.Condition.__exit__

        def cond_exit(cond: threading.Condition, *exc: Any) -> None:
            # Whoever takes the condition next sees what was done under it, notified or
            # not: a readers-writer lock built on a Condition (dogpile.cache's
            # ReadWriteMutex) hands the file over through the state its lock guards.
            if not _is_quiet():
                tr.release(cond)
            cexit(cond, *exc)

        self._patch(th.Condition, "notify", functools.wraps(notify)(cond_notify))
        self._patch(th.Condition, "wait", functools.wraps(cwait)(cond_wait))
        self._patch(th.Condition, "__enter__", functools.wraps(center)(cond_enter))
        self._patch(th.Condition, "__exit__", functools.wraps(cexit)(cond_exit))
        self._patch(th.Condition, "acquire", _ConditionLockMethod("acquire", tr))
        self._patch(th.Condition, "release", _ConditionLockMethod("release", tr))

        self._install_barrier()
        self._install_semaphores()

    def _install_barrier(self) -> None:
        tr = self.tracker
        bwait = threading.Barrier.wait
        generations: dict[int, list[Any]] = {}
        mutex = _thread.RLock()  # a ``__del__`` run by an allocation under it may wait too

        def barrier_wait(barrier: threading.Barrier, timeout: float | None = None) -> int:
            # All-to-all: each party's arrival happens before every party's departure. A
            # generation is full once ``parties`` have arrived; the next arrival opens a new
            # one, so a fast party re-entering cannot leak its future into the old one.
            strand = tr.current()
            arrival = strand.snapshot()
            with mutex:
                gen = generations.get(id(barrier))
                if gen is None or gen[1] >= barrier.parties:
                    gen = [{}, 0, barrier]
                    generations[id(barrier)] = gen
                clock: dict[int, int] = gen[0]
                for tid, value in arrival.items():
                    if clock.get(tid, 0) < value:
                        clock[tid] = value
                gen[1] += 1
            strand.tick()
            with _QUIET:
                index = bwait(barrier, timeout)
            tr.acquire_clock(clock)
            return index

        self._patch(threading.Barrier, "wait", functools.wraps(bwait)(barrier_wait))

    def _install_semaphores(self) -> None:
        tr = self.tracker
        initial = self._semaphore_initial
        sem = threading.Semaphore
        bsem = threading.BoundedSemaphore
        init, acquire, release = sem.__init__, sem.acquire, sem.release
        brelease = bsem.release
        holders: weakref.WeakKeyDictionary[Any, LogicalThread] = weakref.WeakKeyDictionary()

        def role(s: Any) -> str | None:
            value = initial.get(s)
            if value is None:
                value = getattr(s, "_initial_value", None)
            if value is None:
                return None
            return "lock" if value == 1 else "signal"

        def sem_init(s: Any, value: int = 1) -> None:
            init(s, value)
            initial[s] = value

        def sem_acquire(s: Any, blocking: bool = True, timeout: float | None = None) -> bool:
            with _QUIET:
                got = acquire(s, blocking, timeout)
            if got:
                kind = role(s)
                if kind == "lock":
                    holders[s] = tr.locked(("semaphore", id(s)))
                elif kind == "signal":
                    tr.acquire(s)
            return bool(got)

        def make_release(original: Callable[..., None]) -> Callable[..., None]:
            def sem_release(s: Any, n: int = 1) -> None:
                kind = role(s)
                if kind == "signal":
                    tr.release(s)
                elif kind == "lock":
                    # Before the real release: a waiter may take it over at once.
                    holder = holders.pop(s, None)
                    if holder is not None:
                        tr.unlocked(("semaphore", id(s)), holder)
                with _QUIET:
                    original(s, n)

            return functools.wraps(original)(sem_release)

        def sem_enter(s: Any) -> bool:
            return bool(s.acquire())

        self._patch(sem, "__init__", functools.wraps(init)(sem_init))
        self._patch(sem, "acquire", functools.wraps(acquire)(sem_acquire))
        self._patch(sem, "__enter__", sem_enter)
        self._patch(sem, "release", make_release(release))
        self._patch(bsem, "release", make_release(brelease))

    # -- queue ---------------------------------------------------------------------------

    def _install_queue(self) -> None:
        import queue

        tr = self.tracker
        tags = self._queue_tags
        put, get = queue.Queue.put, queue.Queue.get

        def queue_put(q: Any, item: Any, block: bool = True, timeout: float | None = None) -> None:
            strand = tr.current()
            tags.put(q, item, strand.snapshot())
            strand.tick()
            with _QUIET:
                put(q, item, block, timeout)

        def queue_get(q: Any, block: bool = True, timeout: float | None = None) -> Any:
            with _QUIET:
                item = get(q, block, timeout)
            clock = tags.take(q, item)
            if clock is not None:
                tr.acquire_clock(clock)
            return item

        task_done, qjoin = queue.Queue.task_done, queue.Queue.join

        def queue_task_done(q: Any) -> None:
            tr.release(q)
            with _QUIET:
                task_done(q)

        def queue_join(q: Any) -> None:
            with _QUIET:
                qjoin(q)
            tr.acquire(q)

        self._patch(queue.Queue, "task_done", functools.wraps(task_done)(queue_task_done))
        self._patch(queue.Queue, "join", functools.wraps(qjoin)(queue_join))
        self._patch(queue.Queue, "put", functools.wraps(put)(queue_put))
        self._patch(queue.Queue, "get", functools.wraps(get)(queue_get))

    # -- concurrent.futures --------------------------------------------------------------

    def _join_future(self, future: Any) -> None:
        clock = self.tracker.parked(future)
        if clock is not None:
            self.tracker.acquire_clock(clock)

    def _install_futures(self) -> None:
        from concurrent.futures import _base as futures_base
        from concurrent.futures import thread as futures_thread

        tr = self.tracker
        fut_cls = futures_base.Future
        result, exception = fut_cls.result, fut_cls.exception
        set_result, set_exception = fut_cls.set_result, fut_cls.set_exception
        add_done_callback = fut_cls.add_done_callback
        serial: dict[int, dict[int, int]] = {}
        workers: weakref.WeakSet[threading.Thread] = weakref.WeakSet()

        def make_submit(submit: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(submit)
            def pool_submit(executor: Any, fn: Callable[..., Any], /, *args: Any, **kw: Any) -> Any:
                return submit_item(submit, executor, fn, *args, **kw)

            return pool_submit

        def make_shutdown(shutdown: Callable[..., None]) -> Callable[..., None]:
            @functools.wraps(shutdown)
            def pool_shutdown(executor: Any, wait: bool = True, **kw: Any) -> None:
                shutdown(executor, wait, **kw)
                if wait:
                    tr.acquire(executor)

            return pool_shutdown

        def submit_item(
            submit: Callable[..., Any],
            executor: Any,
            fn: Callable[..., Any],
            /,
            *args: Any,
            **kw: Any,
        ) -> Any:
            # The work item is its own logical thread, started by the submitter; with one
            # worker, items really run in submission order, so each follows the previous.
            name = f"{getattr(fn, '__qualname__', 'work item')} (work item {next(self._item_ids)})"
            item = tr.spawn(name, "work-item")
            one_worker = getattr(executor, "_max_workers", 0) == 1
            guard = _thread.allocate_lock()
            box: list[Any] = [None, None]  # [future, final clock]: whichever comes second parks

            def run_item(*a: Any, **k: Any) -> Any:
                workers.add(threading.current_thread())
                with tr.running(item), _finishing(tr, item):
                    if one_worker:
                        previous = serial.get(id(executor))
                        if previous is not None:
                            tr.acquire_clock(previous)
                    try:
                        return fn(*a, **k)
                    finally:
                        final = item.snapshot()
                        if one_worker:
                            serial[id(executor)] = final
                        tr.park(executor, final)
                        with guard:
                            box[1] = final
                            owner = box[0]
                        if owner is not None:
                            tr.park(owner, final)

            future = submit(executor, run_item, *args, **kw)
            with guard:
                box[0] = future
                final = box[1]
            if final is not None:
                tr.park(future, final)
            return future

        def fut_result(future: Any, timeout: float | None = None) -> Any:
            try:
                with _QUIET:
                    return result(future, timeout)
            finally:
                if future.done():
                    self._join_future(future)

        def fut_exception(future: Any, timeout: float | None = None) -> Any:
            try:
                with _QUIET:
                    return exception(future, timeout)
            finally:
                if future.done():
                    self._join_future(future)

        def make_setter(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
            def setter(future: Any, value: Any) -> None:
                # A future completed by hand carries its setter's clock. A pool worker's own
                # strand completes pool futures after the work item ended: the item's clock
                # is what they carry (parked by ``run_item``), not the worker's.
                if threading.current_thread() not in workers:
                    tr.release(future)
                with _QUIET:
                    original(future, value)

            return functools.wraps(original)(setter)

        def fut_add_done_callback(future: Any, fn: Callable[[Any], Any]) -> None:
            # A callback is its own strand, after its registration and the completion. It is
            # never folded into the registering thread, even when the future is already done
            # and the callback runs right away: that would order the registrar after the
            # work only in the runs where the work happened to finish first.
            adder = tr.current()
            start = adder.snapshot()
            adder.tick()

            def callback(f: Any) -> Any:
                name = f"done callback {getattr(fn, '__qualname__', fn)}"
                strand = tr.detached(name, start, "callback")
                join_clock(strand.clock, tr.parked(f) or {})
                with tr.running(strand), _finishing(tr, strand):
                    return fn(f)

            with _QUIET:
                add_done_callback(future, callback)

        done_tuple: Any = getattr(futures_base, "DoneAndNotDoneFutures", None)
        yield_finished: Any = getattr(futures_base, "_yield_finished_futures", None)

        def done_and_not_done(done: Any, not_done: Any) -> Any:
            for f in done:
                self._join_future(f)
            return done_tuple(done, not_done)

        def yield_finished_futures(fs: Any, waiter: Any, ref_collect: Any) -> Iterator[Any]:
            for f in yield_finished(fs, waiter, ref_collect):
                self._join_future(f)
                yield f

        for pool in _pool_classes(futures_thread):
            self._patch(pool, "submit", make_submit(pool.submit))
            self._patch(pool, "shutdown", make_shutdown(pool.shutdown))
        # A future's own condition orders nothing by itself: its completion edges are the
        # ones above. Its status methods take it too, and without this a thread that asked
        # done() would be ordered after whoever asked before it.
        for name in ("done", "cancel", "cancelled", "running", "set_running_or_notify_cancel"):
            method = vars(fut_cls).get(name)
            if method is not None:
                self._patch(fut_cls, name, _quietly(method))
        acquiring: Any = getattr(futures_base, "_AcquireFutures", None)
        if acquiring is not None:  # wait()/as_completed() take every future's condition
            self._patch(acquiring, "__enter__", _quietly(acquiring.__enter__))
            self._patch(acquiring, "__exit__", _quietly(acquiring.__exit__))
        self._patch(fut_cls, "result", functools.wraps(result)(fut_result))
        self._patch(fut_cls, "exception", functools.wraps(exception)(fut_exception))
        self._patch(fut_cls, "set_result", make_setter(set_result))
        self._patch(fut_cls, "set_exception", make_setter(set_exception))
        self._patch(
            fut_cls, "add_done_callback", functools.wraps(add_done_callback)(fut_add_done_callback)
        )
        # Internals that ``wait``/``as_completed`` look up at call time, so that user modules
        # holding ``from concurrent.futures import wait`` are covered; skipped if a future
        # Python renames them (callers then get their edge from ``result()``).
        if done_tuple is not None:
            self._patch(futures_base, "DoneAndNotDoneFutures", done_and_not_done)
        if yield_finished is not None:
            self._patch(futures_base, "_yield_finished_futures", yield_finished_futures)

    # -- file locks ----------------------------------------------------------------------

    def _install_filelock(self) -> None:
        """Locks of the filelock package are locksets, from the real lock to the unlock.

        The platform methods (``_acquire``/``_release`` of each concrete lock class) are
        wrapped, not the public ``acquire``: an extra frame there would shift the
        ``stacklevel`` of the warnings ``acquire`` gives its caller (``poll_intervall``).
        ``_acquire`` runs only when the object does not hold the lock yet (filelock counts
        re-entry itself), and succeeded if the object is locked afterwards.
        """
        module = sys.modules.get("filelock")
        base = getattr(module, "BaseFileLock", None)
        if not isinstance(base, type):
            return
        tr = self.tracker
        holders: dict[tuple[int, int], LogicalThread] = {}

        def key_of(lock: Any) -> tuple[str, str]:
            return ("filelock", str(lock.lock_file).replace("/", "\\").lower())

        def holding(lock: Any) -> tuple[int, int]:
            # A thread-local lock object (filelock's default since 3.10) is a lock of its
            # own in each thread: one object shared by 100 threads is held by each in turn,
            # and another thread may take it between a release and this wrapper's return.
            thread_local = getattr(lock, "is_thread_local", None)
            local = thread_local() if callable(thread_local) else False
            return (id(lock), _thread.get_ident() if local else 0)

        def wrap(klass: type) -> None:
            acquire, release = vars(klass)["_acquire"], vars(klass)["_release"]

            def fl_acquire(lock: Any) -> None:
                acquire(lock)
                if lock.is_locked and holding(lock) not in holders:
                    holders[holding(lock)] = tr.locked(key_of(lock))

            def fl_release(lock: Any) -> None:
                try:
                    release(lock)
                finally:
                    holder = holders.pop(holding(lock), None)
                    if holder is not None:
                        tr.unlocked(key_of(lock), holder, fully=True)

            self._patch(klass, "_acquire", functools.wraps(acquire)(fl_acquire))
            self._patch(klass, "_release", functools.wraps(release)(fl_release))

        seen: set[type] = set()
        for value in list(vars(module).values()):
            if not isinstance(value, type) or not issubclass(value, base):
                continue
            for klass in value.__mro__:
                if klass in seen or not issubclass(klass, base):
                    continue
                seen.add(klass)
                if "_acquire" in vars(klass) and "_release" in vars(klass):
                    wrap(klass)


class LockTracking:
    """Session-wide ``threading.Lock``/``RLock`` replacement, installed before collection.

    Locks created at import time (a module-level ``_LOCK = threading.Lock()`` around a
    rename, as go-containerregistry's fix does) exist before any test starts. Only if the
    factories are replaced before test modules are imported are those locks tracked, and
    without that such code would be reported as racy. Outside a test (no active tracker) a
    tracked lock only delegates to a real one.
    """

    def __init__(self) -> None:
        self._saved: tuple[object, object] | None = None

    def install(self) -> LockTracking:
        if self._saved is None:
            self._saved = (vars(threading)["Lock"], vars(threading)["RLock"])
            threading.Lock = TrackedLock  # type: ignore[assignment]
            threading.RLock = TrackedRLock  # type: ignore[assignment]
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            threading.Lock, threading.RLock = self._saved  # type: ignore[assignment]
            self._saved = None


def track_locks() -> LockTracking:
    """Replace the lock factories for the whole session (see :class:`LockTracking`)."""
    return LockTracking().install()


def install(tracker: Tracker | None = None, defer: Defer | None = None) -> Instrumentation:
    """Instrument the primitives for one test and activate ``tracker`` (a new one if None)."""
    return Instrumentation(Tracker() if tracker is None else tracker).install(defer)


@contextlib.contextmanager
def _finishing(tracker: Tracker, strand: LogicalThread) -> Iterator[None]:
    """Declare ``strand`` finished when the body ends (before its result is handed on)."""
    try:
        yield
    finally:
        tracker.finished(strand)


def _at_once(module: str, patch: Callable[[], None]) -> None:
    patch()
