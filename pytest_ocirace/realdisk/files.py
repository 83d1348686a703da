"""The filesystem half of the interposition: os, open(), closes, file locks, pathlib 3.10.

Each wrapper asks :class:`~.interpose.Interposition` before acting (which may raise the
Windows error in the caller's frame) and reports after. Untracked paths (the interpreter's
trees, the exclusions) and calls made while we talk to the coordinator go straight through.
"""

from __future__ import annotations

import builtins
import io
import os
import sys

# Only ``Interposition.install`` imports this module, so ``interpose`` is loaded already.
from pytest_ocirace.realdisk.interpose import io_stack, ready

TYPE_CHECKING = False  # not typing's: a joining child imports this module at start-up

if TYPE_CHECKING:
    from typing import Any

    from pytest_ocirace.realdisk.interpose import Interposition

__all__ = ["install"]

__tracebackhide__ = True

_VALID_MODE = frozenset("rwxabt+")
#: Per ``open()`` mode string seen: (FileIO's mode, access, creates, exclusive), worked
#: out once (a handful of modes, each asked for every open).
_MODES: dict[str, tuple[str, list[str], bool, bool]] = {}


def install(ip: Interposition) -> None:
    real_open = builtins.open
    real_os_open = os.open
    real_close = os.close
    ip.real_open = real_open

    class TrackedFileIO(io.FileIO):
        """A ``FileIO`` that reports its close (``open()``'s objects close through it)."""

        def close(self) -> None:
            fd = -1 if self.closed or not self.closefd else self.fileno()
            try:
                super().close()
            finally:
                if fd >= 0 and _ready(ip):
                    try:  # noqa: SIM105 - contextlib is an import a joining child skips
                        ip.closed(fd)
                    except Exception:
                        pass  # shutdown, coordinator gone: its liveness check covers it

    def tracked_open(
        file: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Any = None,
    ) -> Any:
        __tracebackhide__ = True
        modes = _MODES.get(mode) if type(mode) is str else None
        if modes is None and isinstance(mode, str) and set(mode) <= _VALID_MODE:
            modes = _MODES[mode] = (_raw_mode(mode), *_mode_access(mode))
        if modes is None or not _ready(ip):
            return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        raw_mode, access, creates, exclusive = modes
        if isinstance(file, int):
            if file not in ip._fds:
                return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
            raw = TrackedFileIO(file, raw_mode, closefd)
            return io_stack(raw, mode, buffering, encoding, errors, newline)
        path = ip.path(file)
        if path is None:
            return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        if "b" not in mode and sys.version_info >= (3, 10):
            encoding = io.text_encoding(encoding)  # type: ignore[attr-defined,unused-ignore]
        op = ip.before("open", path, file, access=access, creates=creates, exclusive=exclusive)
        try:
            raw = TrackedFileIO(file, raw_mode, closefd, opener=opener)
        except BaseException:
            ip.after(op, False)
            raise
        fd = raw.fileno()
        ip._fds.add(fd)
        ip.after(op, True, fd)
        try:
            return io_stack(raw, mode, buffering, encoding, errors, newline)
        except BaseException:
            raw.close()
            raise

    def tracked_os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: Any = None) -> int:
        __tracebackhide__ = True
        where = None if dir_fd is not None or not _ready(ip) else ip.path(path)
        if where is None:
            return real_os_open(path, flags, mode, dir_fd=dir_fd)
        access, creates, exclusive = _flag_access(flags)
        op = ip.before("open", where, path, access=access, creates=creates, exclusive=exclusive)
        try:
            fd = real_os_open(path, flags, mode)
        except BaseException:
            ip.after(op, False)
            raise
        ip._fds.add(fd)
        ip.after(op, True, fd)
        return fd

    def tracked_close(fd: int) -> None:
        real_close(fd)
        if fd in ip._fds and _ready(ip):
            ip.closed(fd)

    ip._patch(builtins, "open", tracked_open)
    ip._patch(io, "open", tracked_open)
    ip._patch(os, "open", tracked_os_open)
    ip._patch(os, "close", tracked_close)
    for name, kind in (
        ("rename", "rename"),
        ("replace", "replace"),
        ("link", "link"),
    ):
        ip._patch(os, name, _two_paths(ip, getattr(os, name), kind))
    for name, kind in (("remove", "remove"), ("unlink", "remove"), ("rmdir", "rmdir")):
        ip._patch(os, name, _one_path(ip, getattr(os, name), kind))
    ip.after_import.when_imported("fcntl", lambda: _install_flock(ip))
    if sys.version_info < (3, 11):
        ip.after_import.when_imported("pathlib", lambda: _install_pathlib_310(ip))
    _install_checks(ip)


_ready = ready


def _two_paths(ip: Interposition, real: Any, kind: str) -> Any:
    def wrapper(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        if args or kwargs or not _ready(ip):  # dir_fd=...: not tracked
            return real(src, dst, *args, **kwargs)
        source, target = ip.path(src), ip.path(dst)
        if source is None or target is None:
            return real(src, dst)
        return _announced(ip, ip.before(kind, source, src, target, dst), real, src, dst)

    wrapper.__name__ = real.__name__
    wrapper.__doc__ = real.__doc__
    return wrapper


def _announced(ip: Interposition, op: Any, real: Any, *args: Any) -> Any:
    """Run ``real`` for an announced operation and tell the coordinator whether it happened."""
    __tracebackhide__ = True
    try:
        result = real(*args)
    except BaseException:
        ip.after(op, False)
        raise
    ip.after(op, True)
    return result


def _one_path(ip: Interposition, real: Any, kind: str) -> Any:
    def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        if args or kwargs or not _ready(ip):
            return real(path, *args, **kwargs)
        where = ip.path(path)
        if where is None:
            return real(path)
        return _announced(ip, ip.before(kind, where, path), real, path)

    wrapper.__name__ = real.__name__
    wrapper.__doc__ = real.__doc__
    return wrapper


def _install_checks(ip: Interposition) -> None:
    """Existence checks, announced so that the check-then-act rule applies across processes.

    ``os.stat``/``lstat`` (so ``os.path.exists``/``isfile``/``isdir``, ``Path.exists``/
    ``is_file``/``stat``) and ``os.access``.
    The real call runs first; its answer is announced (see ``Interposition.check``), and a
    name the race model says is not guaranteed to be there is answered as absent, as Windows
    code would see it in another schedule: ``FileNotFoundError`` (``WinError 2``), ``False``.
    """
    real_lstat = os.lstat

    def there(path: str) -> bool:
        try:
            real_lstat(path)
        except OSError:
            return False
        return True

    def checking(real: Any, returns_bool: bool) -> Any:
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            if (args and not returns_bool) or kwargs.get("dir_fd") is not None or not _ready(ip):
                return real(path, *args, **kwargs)
            where = ip.path(path)
            if where is None:
                return real(path, *args, **kwargs)
            try:
                result = real(path, *args, **kwargs)
            except (FileNotFoundError, NotADirectoryError):
                ip.check(where, present=False)
                raise
            if returns_bool and not result:
                ip.check(where, present=there(where))
                return result
            if ip.check(where, present=True):
                if returns_bool:
                    return False
                from pytest_ocirace.winrules.errors import windows_error

                raise windows_error(2, path)
            return result

        return wrapper

    ip._patch(os, "stat", checking(os.stat, False))
    ip._patch(os, "lstat", checking(os.lstat, False))
    ip._patch(os, "access", checking(os.access, True))


def _install_flock(ip: Interposition) -> None:
    """``fcntl.flock``/``lockf`` (filelock uses them) as locks across processes."""
    try:
        import fcntl
    except ImportError:
        return
    real_flock = fcntl.flock
    real_lockf = fcntl.lockf

    def key_of(fd: Any) -> tuple[int, str] | None:
        number = fd if isinstance(fd, int) else fd.fileno()
        try:
            info = os.fstat(number)
        except OSError:
            return None
        return number, f"flock:{info.st_dev}:{info.st_ino}"

    def locking(real: Any, unlock_flag: int) -> Any:
        def wrapper(fd: Any, operation: int, *args: Any) -> Any:
            if not _ready(ip):
                return real(fd, operation, *args)
            found = key_of(fd)
            if found is not None and operation == unlock_flag:
                number, key = found
                ip._flocks.pop(number, None)
                ip.send("unlock", wait=False, key=key)
                return real(fd, operation, *args)
            result = real(fd, operation, *args)
            if found is not None:
                number, key = found
                ip._flocks[number] = key
                ip._fds.add(number)  # its close releases the lock
                ip.send("lock", wait=False, key=key)
            return result

        wrapper.__name__ = real.__name__
        return wrapper

    ip._patch(fcntl, "flock", locking(real_flock, fcntl.LOCK_UN))
    ip._patch(fcntl, "lockf", locking(real_lockf, fcntl.LOCK_UN))


def _install_pathlib_310(ip: Interposition) -> None:
    """Python 3.10's pathlib calls ``os`` through an accessor that bound it at import."""
    if sys.version_info >= (3, 11):
        return
    import pathlib

    accessor = getattr(pathlib, "_NormalAccessor", None)
    if accessor is None:
        return
    for name in ("rename", "replace", "unlink", "rmdir", "link", "open"):
        if name in accessor.__dict__:
            ip._patch(accessor, name, staticmethod(getattr(os, name)))


def _raw_mode(mode: str) -> str:
    raw = ""
    for flag in "xrwa":
        if flag in mode:
            raw += flag
    if "+" in mode:
        raw += "+"
    return raw or "r"


def _mode_access(mode: str) -> tuple[list[str], bool, bool]:
    """(access, creates, exclusive) of an ``open()`` mode.

    ``"x"`` creates exclusively, as ``O_CREAT|O_EXCL`` does (``open()`` passes exactly
    those flags): a lock file made so is a lock, and the judge treats it as one.
    """
    writes = any(c in mode for c in "wxa+")
    reads = "r" in mode or "+" in mode or not writes
    access = (["read"] if reads else []) + (["write"] if writes else [])
    return access, any(c in mode for c in "wxa"), "x" in mode


def _flag_access(flags: int) -> tuple[list[str], bool, bool]:
    mode = flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
    if mode == os.O_WRONLY:
        access = ["write"]
    elif mode == os.O_RDWR:
        access = ["read", "write"]
    else:
        access = ["read"]
    creates = bool(flags & os.O_CREAT)
    return access, creates, creates and bool(flags & os.O_EXCL)
