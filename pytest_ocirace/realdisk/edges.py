"""The ordering half of the interposition: what orders one process's operations after another's.

- a process start: ``multiprocessing``'s ``Process.start`` and ``subprocess.Popen`` release a
  start token first; the child adopts it (``Process._bootstrap``, or its hello for a
  subprocess, through the environment);
- a process exit: ``Process.join()`` and ``Popen.wait()`` (so ``communicate``/``run``) order
  the caller after everything the child did;
- pool work: ``ProcessPoolExecutor.submit`` and ``Pool`` wrap the function in a
  :class:`~.interpose.WorkItem`: each call is its own strand after the submit, and
  ``Future.result()``/``AsyncResult.get()`` come after it;
- messages: a ``Connection``/``Queue`` send over a pipe comes before the receive;
- locks: multiprocessing ``Lock``/``RLock``/``Semaphore(1)`` are locks across processes.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # not typing's: a joining child imports this module at start-up

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from pytest_ocirace.realdisk.interpose import Interposition

    #: An announced exec: the interposition that announced it, and the new program's token.
    Announced = tuple[Interposition, str]

__all__ = ["install"]

__tracebackhide__ = True

_TOKEN = "_ocirace_token"


def install(ip: Interposition) -> None:
    """Patch the modules already imported now, the others as soon as they are imported.

    A child that never uses multiprocessing or subprocess does not import them for us:
    joining must stay cheap (docs/performance.md).
    """
    patches: dict[str, Callable[[Interposition], None]] = {
        "multiprocessing.process": _install_process,
        "subprocess": _install_subprocess,
        "concurrent.futures.process": _install_futures,
        "multiprocessing.pool": _install_pool,
        "multiprocessing.connection": _install_connections,
        "multiprocessing.queues": _install_queues,
        "multiprocessing.synchronize": _install_semlock,
        "threading": _install_threads,
        "concurrent.futures.thread": _install_thread_pool,
    }
    _install_os_processes(ip)
    for name, patch in patches.items():
        ip.after_import.when_imported(name, _bound(patch, ip))


def _bound(patch: Callable[[Interposition], None], ip: Interposition) -> Callable[[], None]:
    return lambda: patch(ip)


def _ready(ip: Interposition) -> bool:
    from pytest_ocirace.realdisk.interpose import active

    return active() is ip and not ip.busy()


def _install_process(ip: Interposition) -> None:
    from multiprocessing import process

    from pytest_ocirace.realdisk.interpose import new_token

    base = process.BaseProcess
    real_start = base.start
    real_join = base.join
    real_bootstrap = base._bootstrap  # type: ignore[attr-defined]
    real_run = base.run

    def start(self: Any) -> None:
        if _ready(ip):
            token = new_token()
            setattr(self, _TOKEN, token)
            ip.send("start", token=token)
        real_start(self)
        if _ready(ip) and self.pid is not None:
            ip.send("spawned", wait=False, child=self.pid, argv=[repr(self)])

    def join(self: Any, timeout: float | None = None) -> None:
        real_join(self, timeout)
        if _ready(ip) and self.exitcode is not None and self.pid is not None:
            ip.send("joined", child=self.pid)

    def bootstrap(self: Any, *args: Any, **kwargs: Any) -> Any:
        from pytest_ocirace.realdisk.interpose import active

        current = active()
        token = getattr(self, _TOKEN, None)
        if current is not None and isinstance(token, str):
            current.send("adopt", token=token)
        return real_bootstrap(self, *args, **kwargs)

    def run(self: Any) -> None:
        try:
            real_run(self)
        except BaseException as exc:
            from pytest_ocirace.realdisk.interpose import active

            current = active()
            if current is not None:
                current.escaped(exc)
            raise

    ip._patch(base, "start", start)
    ip._patch(base, "join", join)
    ip._patch(base, "_bootstrap", bootstrap)
    ip._patch(base, "run", run)


def _install_subprocess(ip: Interposition) -> None:
    import subprocess

    from pytest_ocirace.realdisk.interpose import new_token
    from pytest_ocirace.realdisk.protocol import ENV_START

    popen = subprocess.Popen
    real_init = popen.__init__
    real_wait = popen.wait

    def init(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        if _ready(ip) and len(rest) < 10:
            token = new_token()
            ip.send("start", token=token)
            env = dict(os.environ if kwargs.get("env") is None else kwargs["env"])
            env.update(ip.environment)
            env[ENV_START] = token
            kwargs["env"] = env
            real_init(self, args, *rest, **kwargs)
            argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
            ip.send("spawned", wait=False, child=self.pid, argv=[os.fsdecode(a) for a in argv])
            return
        real_init(self, args, *rest, **kwargs)

    def wait(self: Any, timeout: float | None = None) -> int:
        code: int = real_wait(self, timeout)
        if _ready(ip):
            ip.send("joined", child=self.pid)
        return code

    real_poll = popen.poll

    def poll(self: Any) -> int | None:
        code: int | None = real_poll(self)
        if code is not None and _ready(ip):
            ip.send("joined", child=self.pid)
        return code

    ip._patch(popen, "__init__", init)
    ip._patch(popen, "wait", wait)
    ip._patch(popen, "poll", poll)


def _install_os_processes(ip: Interposition) -> None:
    """``os.waitpid``/``os.wait`` reaping a child; ``os.exec*`` replacing this process.

    ``os.spawn*`` (fork and exec) is covered by both: the fork hook starts the child, the
    exec carries the order into the new program, ``P_WAIT`` reaps it with ``waitpid``.
    """
    from pytest_ocirace.realdisk.interpose import new_token
    from pytest_ocirace.realdisk.protocol import ENV_START

    real_waitpid = os.waitpid
    real_wait = os.wait
    real_execv = os.execv
    real_execve = os.execve

    def reaped(pid: int, status: int) -> None:
        if pid > 0 and (os.WIFEXITED(status) or os.WIFSIGNALED(status)) and _ready(ip):
            ip.send("joined", child=pid)

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        found: tuple[int, int] = real_waitpid(pid, options)
        if not options & os.WNOHANG:
            # Only a wait that blocks orders the caller after the child. A WNOHANG poll
            # that happens to find it exited is how multiprocessing's start() reaps earlier
            # children (``_cleanup``): counting it would order the next child after an
            # unrelated one whenever the machine is slow, and the verdict would follow the
            # schedule. ``Popen.poll()``, the user's own poll, stays an edge (above).
            reaped(*found)
        return found

    def wait() -> tuple[int, int]:
        found: tuple[int, int] = real_wait()
        reaped(*found)
        return found

    def replacing(path: Any, argv: Any) -> Announced | None:
        """Announce the exec (a start token for the new program, the program to name).

        Through the interposition active now, not ``ip``: ``os.spawn*`` looks ``execv`` up
        before it forks, and the forked child has joined with an interposition of its own.
        """
        from pytest_ocirace.realdisk.interpose import active

        current = active()
        if current is None or current.busy():
            return None
        token = new_token()
        try:
            shown = [os.fsdecode(a) for a in argv] or [os.fsdecode(path)]
        except TypeError:
            shown = [repr(path)]
        current.send("exec", token=token, argv=shown)
        return current, token

    def run(path: Any, argv: Any, env: Any, announced: Announced | None) -> NoReturn:
        if announced is not None:
            current, token = announced
            env = dict(env)
            env.update(current.environment)
            env[ENV_START] = token
        try:
            real_execve(path, argv, env)
        except BaseException:
            if announced is not None:
                announced[0].send("exec-failed", wait=False)
            raise

    def execv(path: Any, argv: Any) -> NoReturn:
        announced = replacing(path, argv)
        if announced is None:
            real_execv(path, argv)
        run(path, argv, os.environ, announced)

    def execve(path: Any, argv: Any, env: Any) -> NoReturn:
        run(path, argv, env, replacing(path, argv))

    ip._patch(os, "waitpid", waitpid)
    ip._patch(os, "wait", wait)
    for name in ("posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            ip._patch(os, name, _spawning(ip, getattr(os, name)))
    if hasattr(os, "system"):
        ip._patch(os, "system", _system(ip, os.system))
    # os.execl/execle/execlp/execvp/execvpe and os.spawn* all end in these two.
    ip._patch(os, "execv", execv)
    ip._patch(os, "execve", execve)


def _spawning(ip: Interposition, real: Any) -> Any:
    """``os.posix_spawn``/``posix_spawnp``: a start as ``Popen``'s, the child named or joined.

    The join variables and the start token go into the ``env`` the caller passes (it is the
    child's whole environment), spelled as its keys are (``str`` or ``bytes``).
    """
    from pytest_ocirace.realdisk.interpose import new_token
    from pytest_ocirace.realdisk.protocol import ENV_START

    def wrapper(path: Any, argv: Any, env: Any, *args: Any, **kwargs: Any) -> int:
        if not _ready(ip):
            pid: int = real(path, argv, env, *args, **kwargs)
            return pid
        token = new_token()
        ip.send("start", token=token)
        added = {**ip.environment, ENV_START: token}
        child_env = dict(env)
        as_bytes = any(isinstance(key, bytes) for key in child_env)
        for key, value in added.items():
            child_env[os.fsencode(key) if as_bytes else key] = (
                os.fsencode(value) if as_bytes else value
            )
        pid = real(path, argv, child_env, *args, **kwargs)
        try:
            shown = [os.fsdecode(a) for a in argv] or [os.fsdecode(path)]
        except TypeError:
            shown = [repr(path)]
        ip.send("spawned", wait=False, child=pid, argv=shown)
        return pid

    wrapper.__name__ = real.__name__
    wrapper.__doc__ = real.__doc__
    return wrapper


def _system(ip: Interposition, real: Any) -> Any:
    """``os.system``: its shell is named (it is not Python), its Python programs join.

    libc's ``system()`` forks the shell itself and reaps it before returning, so the
    shell's pid is never known here: the judge names it without one. The start token goes
    to the programs the shell runs through this process's environment, for the call.
    """
    from pytest_ocirace.realdisk.interpose import new_token
    from pytest_ocirace.realdisk.protocol import ENV_START

    def wrapper(command: Any) -> int:
        if not _ready(ip):
            status: int = real(command)
            return status
        token = new_token()
        ip.send("start", token=token)
        saved = os.environ.get(ENV_START)
        os.environ[ENV_START] = token
        try:
            status = real(command)
        finally:
            if saved is None:
                os.environ.pop(ENV_START, None)
            else:
                os.environ[ENV_START] = saved
        shown = os.fsdecode(command) if isinstance(command, (str, bytes)) else repr(command)
        ip.send("spawned", wait=False, child=0, argv=["sh", "-c", shown])
        return status

    wrapper.__name__ = real.__name__
    wrapper.__doc__ = real.__doc__
    return wrapper


def _install_threads(ip: Interposition) -> None:
    """Threads inside one process: start before the thread's first step, its end before join.

    The coordinator's own threads (named ``ocirace-*``) are left alone.
    """
    import threading

    from pytest_ocirace.realdisk.interpose import new_token

    thread = threading.Thread
    real_start = thread.start
    real_inner = thread._bootstrap_inner  # type: ignore[attr-defined]
    real_join = thread.join

    def start(self: Any) -> None:
        if _ready(ip) and not self.name.startswith("ocirace-"):
            token = new_token()
            setattr(self, _TOKEN, token)
            ip.send("start", token=token)
        real_start(self)

    def bootstrap_inner(self: Any) -> None:
        token = getattr(self, _TOKEN, None)
        if isinstance(token, str) and _ready(ip):
            ip.send("adopt", token=token)
        try:
            real_inner(self)
        finally:
            if isinstance(token, str) and _ready(ip):
                # Not a plain release: the judge must also retire this thread's strand,
                # or a later thread given the same ident would continue its past.
                ip.send("ended", wait=False, token=token)

    def join(self: Any, timeout: float | None = None) -> None:
        real_join(self, timeout)
        token = getattr(self, _TOKEN, None)
        if isinstance(token, str) and not self.is_alive() and _ready(ip):
            ip.send("acquire", key=f"thread-end:{token}")

    ip._patch(thread, "start", start)
    ip._patch(thread, "_bootstrap_inner", bootstrap_inner)
    ip._patch(thread, "join", join)


def _install_thread_pool(ip: Interposition) -> None:
    """A thread pool's work item: its own strand after the submit, before its result."""
    from concurrent.futures import thread

    _patch_submit(ip, thread.ThreadPoolExecutor)


def _install_futures(ip: Interposition) -> None:
    """A process pool's work item: the same edges, the item run in a worker process."""
    from concurrent.futures import process as cf_process

    _patch_submit(ip, cf_process.ProcessPoolExecutor)


def _patch_submit(ip: Interposition, executor: type) -> None:
    """``executor.submit`` wraps the call in a :class:`WorkItem` after a submit token."""
    from pytest_ocirace.realdisk.interpose import WorkItem, new_token

    real_submit = executor.submit  # type: ignore[attr-defined]

    def submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if not _ready(ip):
            return real_submit(self, fn, *args, **kwargs)
        token = new_token()
        ip.send("release", key=f"submit:{token}")
        future = real_submit(self, WorkItem(fn, token), *args, **kwargs)
        setattr(future, _TOKEN, token)
        return future

    ip._patch(executor, "submit", submit)
    _install_future_results(ip)


def _install_future_results(ip: Interposition) -> None:
    """``Future.result()``/``exception()``: after the work item (once for both pools)."""
    from concurrent import futures

    if getattr(futures.Future.result, "_ocirace", False):
        return
    real_result = futures.Future.result
    real_exception = futures.Future.exception

    def after_done(future: Any) -> None:
        token = getattr(future, _TOKEN, None)
        if isinstance(token, str) and _ready(ip):
            ip.send("acquire", key=f"done:{token}")

    def result(self: Any, timeout: float | None = None) -> Any:
        try:
            return real_result(self, timeout)
        finally:
            if self.done():
                after_done(self)

    def exception(self: Any, timeout: float | None = None) -> Any:
        found = real_exception(self, timeout)
        after_done(self)
        return found

    result._ocirace = True  # type: ignore[attr-defined]
    ip._patch(futures.Future, "result", result)
    ip._patch(futures.Future, "exception", exception)


def _install_pool(ip: Interposition) -> None:
    from multiprocessing import pool

    from pytest_ocirace.realdisk.interpose import WorkItem, new_token

    real_apply_async = pool.Pool.apply_async
    real_map_async = pool.Pool._map_async  # type: ignore[attr-defined]
    real_get = pool.ApplyResult.get

    def wrap(func: Any) -> tuple[Any, str | None]:
        if not _ready(ip):
            return func, None
        token = new_token()
        ip.send("release", key=f"submit:{token}")
        return WorkItem(func, token), token

    def apply_async(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        wrapped, token = wrap(func)
        result = real_apply_async(self, wrapped, *args, **kwargs)
        if token is not None:
            setattr(result, _TOKEN, token)
        return result

    def map_async(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        wrapped, token = wrap(func)
        result = real_map_async(self, wrapped, *args, **kwargs)
        if token is not None:
            setattr(result, _TOKEN, token)
        return result

    def get(self: Any, timeout: float | None = None) -> Any:
        try:
            return real_get(self, timeout)
        finally:
            token = getattr(self, _TOKEN, None)
            if isinstance(token, str) and self.ready() and _ready(ip):
                ip.send("acquire", key=f"done:{token}")

    ip._patch(pool.Pool, "apply_async", apply_async)
    ip._patch(pool.Pool, "_map_async", map_async)
    ip._patch(pool.ApplyResult, "get", get)


def _pipe_key(fd: int, side: str = "") -> str | None:
    """The key of a message's channel: a pipe by its inode (both ends share it).

    A duplex ``Pipe()`` is a socket pair, whose two ends are two inodes: ``side`` ("send"
    or "recv") names the end, and the coordinator maps a send to its peer's end (the pair
    was registered when ``Pipe()`` made it).
    """
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    if stat.S_ISFIFO(info.st_mode):
        return f"pipe:{info.st_dev}:{info.st_ino}"
    if side and stat.S_ISSOCK(info.st_mode):
        return f"socket-{side}:{info.st_dev}:{info.st_ino}"
    return None


def _end(fd: int) -> str | None:
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    return f"{info.st_dev}:{info.st_ino}" if stat.S_ISSOCK(info.st_mode) else None


def _install_connections(ip: Interposition) -> None:
    from multiprocessing import connection

    base: Any = getattr(connection, "_ConnectionBase")  # noqa: B009 (private, untyped)

    def sending(real: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _ready(ip) and not self.closed:
                key = _pipe_key(self.fileno(), "send")
                if key is not None:
                    ip.send("release", key=key)
            return real(self, *args, **kwargs)

        return wrapper

    def receiving(real: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = real(self, *args, **kwargs)
            if _ready(ip) and not self.closed:
                key = _pipe_key(self.fileno(), "recv")
                if key is not None:
                    ip.send("acquire", key=key)
            return result

        return wrapper

    real_pipe = connection.Pipe

    def pipe(duplex: bool = True) -> tuple[Any, Any]:
        ends: tuple[Any, Any] = real_pipe(duplex)
        if duplex and _ready(ip):
            a, b = _end(ends[0].fileno()), _end(ends[1].fileno())
            if a is not None and b is not None:
                ip.send("pair", wait=False, a=a, b=b)
        return ends

    ip._patch(connection, "Pipe", pipe)
    for name in ("send", "send_bytes"):
        ip._patch(base, name, sending(base.__dict__[name]))
    for name in ("recv", "recv_bytes", "recv_bytes_into"):
        ip._patch(base, name, receiving(base.__dict__[name]))


def _install_queues(ip: Interposition) -> None:
    from multiprocessing import queues

    real_put = queues.Queue.put

    def put(self: Any, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        # The feeder thread writes the pipe later: the release must be the putter's.
        writer = getattr(self, "_writer", None)
        if _ready(ip) and writer is not None and not writer.closed:
            key = _pipe_key(writer.fileno())
            if key is not None:
                ip.send("release", key=key)
        real_put(self, obj, block, timeout)

    ip._patch(queues.Queue, "put", put)


def _install_semlock(ip: Interposition) -> None:
    from multiprocessing import synchronize

    semlock = synchronize.SemLock
    real_init = semlock.__init__
    real_make = getattr(semlock, "_make_methods")  # noqa: B009 (private, untyped)
    real_enter = semlock.__enter__
    real_exit = semlock.__exit__

    def key_of(self: Any) -> str | None:
        # A named semaphore (spawn, forkserver) by its name; a fork context's is unlinked
        # at once and shared by memory, so its address is the same in every forked child.
        inner = getattr(self, "_semlock", None)
        name = getattr(inner, "name", None)
        if isinstance(name, str):
            return f"semlock:{name}"
        handle = getattr(inner, "handle", None)
        return f"semlock:@{handle}" if isinstance(handle, int) else None

    def init(self: Any, kind: int, value: int, maxvalue: int, *args: Any, **kwargs: Any) -> None:
        real_init(self, kind, value, maxvalue, *args, **kwargs)
        key = key_of(self)
        if key is not None and value == 1 and _ready(ip):
            ip.send("mutex", wait=False, key=key)

    def make_methods(self: Any) -> None:
        real_make(self)
        acquire, release = self.acquire, self.release

        def tracked_acquire(*args: Any, **kwargs: Any) -> bool:
            got: bool = acquire(*args, **kwargs)
            key = key_of(self)
            if got and key is not None and _ready(ip):
                ip.send("lock", wait=False, key=key)
            return got

        def tracked_release() -> None:
            key = key_of(self)
            if key is not None and _ready(ip):
                ip.send("unlock", wait=False, key=key)
            release()

        self.acquire = tracked_acquire
        self.release = tracked_release

    def enter(self: Any) -> bool:
        got: bool = real_enter(self)
        key = key_of(self)
        if key is not None and _ready(ip):
            ip.send("lock", wait=False, key=key)
        return got

    def exit_(self: Any, *args: Any) -> Any:
        key = key_of(self)
        if key is not None and _ready(ip):
            ip.send("unlock", wait=False, key=key)
        return real_exit(self, *args)

    ip._patch(semlock, "__init__", init)
    ip._patch(semlock, "_make_methods", make_methods)
    ip._patch(semlock, "__enter__", enter)
    ip._patch(semlock, "__exit__", exit_)
