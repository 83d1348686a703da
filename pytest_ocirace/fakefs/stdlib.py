"""Patches that make pyfakefs and the standard library behave as on Windows, and lock them.

The filesystem subclass covers what goes through ``FakeFilesystem``; this module covers
the rest of the way in: pyfakefs' fake ``os``/``os.path`` modules, ``open()`` and file
objects (all under the one lock), ``os.open`` flags (``O_TEMPORARY``), ``open()`` modes,
``tempfile.NamedTemporaryFile(delete=True)`` (``O_TEMPORARY`` on Windows), ``shutil``'s
extended-attribute copy (absent on Windows; crashes under pyfakefs' Windows mode on a Linux
host), and, before Python 3.11, pathlib's accessor, which calls ``FakeFilesystem`` methods
unbound and would bypass the simulation. Everything is recorded in a
:class:`~pytest_ocirace.fakefs.locking.ClassPatches` and undone when the simulation ends.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import shutil  # noqa: F401 - imported so that sys.modules holds it
import sys
import tempfile  # noqa: F401
import types
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pyfakefs.fake_file import FakeFileWrapper
from pyfakefs.fake_open import FakeFileOpen
from pyfakefs.fake_os import FakeOsModule
from pyfakefs.fake_path import FakePathModule

from pytest_ocirace.fakefs import (
    buffered,
    descriptors,
    fake_imports,
    filelocks,
    os_capabilities,
    os_functions,
    real_twins,
    storms,
    wrapper_attributes,
)
from pytest_ocirace.fakefs.locking import (
    LOCK,
    ClassPatches,
    call_unlocked,
    code_keeping_copy,
    lock_plan,
    locked_once,
    public_methods,
)

if TYPE_CHECKING:
    from pytest_ocirace.fakefs.filesystem import WindowsFilesystem

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them): a user
# whose os.replace fails wants to see their own call, not the simulation's machinery.
__tracebackhide__ = True

__all__ = ["install", "parse_mode"]

_PATHLIB_OPENERS = ("pathlib", "pathlib._local")
_PYFAKEFS_MODULES = (
    "pyfakefs.fake_os",
    "pyfakefs.fake_open",
    "pyfakefs.fake_io",
    "pyfakefs.fake_path",
    "pyfakefs.fake_pathlib",
    "pyfakefs.fake_filesystem",
    "pyfakefs.fake_file",
    "pyfakefs.fake_filesystem_shutil",
    "pyfakefs.helpers",
)


def parse_mode(mode: str) -> tuple[bool, bool, bool, bool]:
    """``(reading, writing, creating, exclusive)`` for an ``open()`` mode string."""
    reading = "r" in mode or "+" in mode
    writing = any(char in mode for char in "wax+")
    creating = any(char in mode for char in "wax")
    return reading, writing, creating, "x" in mode


#: shutil's POSIX fast paths, chosen when shutil was imported, with pyfakefs' copies of them.
_SHUTIL_FLAGS = (
    ("_use_fd_functions", "use_fd_functions"),
    ("_HAS_FCOPYFILE", "has_fcopy_file"),
    ("_USE_CP_SENDFILE", "use_sendfile"),
    ("_USE_CP_COPY_FILE_RANGE", "use_copy_file_range"),
)


def _tokenize_open_falls_back_to_the_fake_disk(patches: ClassPatches) -> None:
    r"""``tokenize.open`` reads the real disk, then the fake one.

    pyfakefs leaves ``tokenize`` (and ``linecache``) unpatched so that tracebacks and
    warnings read the real source files, unseen by the simulation. But ``tokenize.open``
    is also the public way to read a Python source with its coding cookie: joblib's
    ``get_func_code`` opens a function's ``co_filename`` with it, and a module imported
    inside the simulation has a Windows-spelled ``co_filename`` (``\root\...\mod.py``)
    that the real disk does not know, so joblib fell back to hashing the bytecode
    (``first_line == -1``). A name the real disk cannot open is now opened on the fake
    disk while the simulation is in force (where the real source tree is shown). The
    real disk stays first: ``linecache`` reading a frame's source must not become a
    file operation of the test (the race model would see it).
    """
    import tokenize

    from pyfakefs.fake_open import FakeFileOpen

    from pytest_ocirace.fakefs.inforce import IN_FORCE

    real_open = vars(tokenize)["_builtin_open"]

    def builtin_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        try:
            return real_open(file, mode, *args, **kwargs)
        except OSError:
            if not IN_FORCE.is_active_now() or IN_FORCE.fs is None:
                raise
        return FakeFileOpen(IN_FORCE.fs)(file, mode, *args, **kwargs)

    patches.set(tokenize, "_builtin_open", builtin_open)


def _shutil_fast_paths_off(patches: ClassPatches, real_shutil: Any) -> None:
    """Off for the whole simulation, as on Windows, not only inside ``shutil.X`` calls.

    pyfakefs turns them off only around calls made through its fake ``shutil`` module, then
    back on. A library that did ``from shutil import rmtree`` (requests-cache's
    ``FileDict.clear``) called the real ``rmtree`` with ``_use_fd_functions`` still true:
    its fd-based walk ``os.open``s each directory, ``[Errno 13]`` on Windows, and
    ``ignore_errors=True`` hid it (the cache was never cleared). Windows' ``shutil`` has
    none of these (no ``dir_fd``, no ``sendfile``): the walk by names runs there.
    """
    from pyfakefs.fake_filesystem_shutil import FakeShutilModule

    for flag, fake_flag in _SHUTIL_FLAGS:
        if getattr(real_shutil, flag, False):
            patches.set(real_shutil, flag, False)
        patches.set(FakeShutilModule, fake_flag, False)
    if sys.version_info >= (3, 14):  # pragma: no cover - one implementation chosen at import
        patches.set(real_shutil, "_rmtree_impl", real_shutil._rmtree_unsafe)


def install(patches: ClassPatches, sim: WindowsFilesystem) -> None:
    """Apply every patch for ``sim`` into ``patches``."""
    patches.set_all(_class_plan())
    # The names ``shutil``/``tempfile`` in this module may be pyfakefs' fakes while a
    # simulation runs: patch the real modules.
    real_shutil = sys.modules["shutil"]
    real_shutil = getattr(real_shutil, "shutil_module", real_shutil)
    real_tempfile = sys.modules["tempfile"]
    if hasattr(real_shutil, "_copyxattr"):
        patches.set(real_shutil, "_copyxattr", _no_xattr)
    _shutil_fast_paths_off(patches, real_shutil)
    _tokenize_open_falls_back_to_the_fake_disk(patches)
    # linecache and sys.path entries reach a real file under its Windows name.
    real_twins.install(patches)
    # Modules a test writes in a folder of the simulation are importable (ahead of the above).
    fake_imports.install(patches)
    # os.py's own Python functions captured before the simulation (os_functions.py).
    os_functions.install(patches)
    patches.set(
        real_tempfile,
        "_get_default_tempdir",
        _default_tempdir(real_tempfile, real_tempfile._get_default_tempdir),
    )
    _windows_named_temporary_file(patches, real_tempfile, sim)
    # On Windows ``tempfile.TemporaryFile`` *is* ``NamedTemporaryFile`` (an O_TEMPORARY file
    # that goes away on close); the POSIX one unlinks its file while it is open, which
    # Windows refuses with WinError 32, so every TemporaryFile() would fail here.
    posix_temporary_file = real_tempfile.TemporaryFile
    patches.set(real_tempfile, "TemporaryFile", real_tempfile.NamedTemporaryFile)
    _bound_temporary_file(patches, real_tempfile, posix_temporary_file)
    if sys.version_info < (3, 11):  # pragma: no cover - exercised on 3.9/3.10 CI only
        _patch_pathlib_accessor(patches)
    # fcntl.flock/lockf (and msvcrt.locking) exclude on fake files, as on Windows.
    filelocks.install(patches, sim)
    # Exclusive creates polled by many threads wait for the name's removal (storms.py).
    storms.install(patches, sim)
    # A failing os.replace should point at the user's line, not at pyfakefs' plumbing:
    # pytest skips frames whose globals say __tracebackhide__ (--full-trace shows them).
    for name in _PYFAKEFS_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            patches.set(module, "__tracebackhide__", True)


#: The patches of pyfakefs' classes, the same for every simulation: worked out by the first
#: one (pyfakefs runs one ``Patcher`` at a time, so no simulation is active then). Keyed by
#: the ``active`` function they call: pytester's in-process runs can import a fresh copy of
#: ``filesystem.py``, whose simulations the old copy's ``active`` does not recognise.
_CLASS_PLANS: dict[Callable[..., Any], list[tuple[object, str, object]]] = {}
#: The real ``os.fspath`` (what the fake os's ``__getattr__`` forwards to).
_REAL_FSPATH = os.fspath


def _class_plan() -> list[tuple[object, str, object]]:
    """The pyfakefs class patches, worked out once per process (setup cost: one per test)."""
    from pytest_ocirace.fakefs.filesystem import O_TEMPORARY, active

    cached = _CLASS_PLANS.get(active)
    if cached is not None:
        return cached
    plan = lock_plan(FakeOsModule, _locked_os_methods())
    plan += lock_plan(FakePathModule)
    plan.append((FakeOsModule, "O_TEMPORARY", O_TEMPORARY))
    plan.append((FakeOsModule, "open", _os_open(FakeOsModule.open, active)))
    planned = {name: value for owner, name, value in plan if owner is FakeOsModule}
    plan += os_capabilities.plan()
    plan += descriptors.passthrough_plan(
        FakeOsModule, lambda name: planned.get(name, vars(FakeOsModule)[name])
    )
    # open() returns CPython's io classes over the simulation's own open (buffered.py).
    plan.append(
        (FakeFileOpen, "call", buffered.stacked(_open_call(FakeFileOpen.call, active), active))
    )
    for factory in ("_read_wrappers", "_other_wrapper", "_write_wrapper", "_truncate_wrapper"):
        if factory in vars(FakeFileWrapper):
            original = vars(FakeFileWrapper)[factory]
            plan.append((FakeFileWrapper, factory, _locking_factory(original)))
    plan += lock_plan(FakeFileWrapper, ["close", "close_fd", "flush", "seek", "tell"])
    plan += _use_original_os_plan()
    plan.append((FakeOsModule, "__getattr__", _windows_os_getattr(FakeOsModule.__getattr__)))
    # The name the fake os forwards most (ntpath, the layer: about 70 per file written)
    # found on the class: the same real function, without two __getattr__ calls.
    plan.append((FakeOsModule, "fspath", staticmethod(_REAL_FSPATH)))
    # The open-file objects' own attributes read without a second lookup (same answers).
    plan += wrapper_attributes.plan()
    _CLASS_PLANS[active] = plan
    return plan


#: POSIX-only ``os`` functions on paths or descriptors that pyfakefs does not fake: its
#: fake ``os`` handed them to the real one, so ``os.mkfifo(tmp_path / "f")`` made a real
#: FIFO named ``C:\\...`` in the real working directory. Windows' ``os`` has none of them.
WINDOWS_ABSENT_OS = frozenset(
    {"mkfifo", "lchown", "fchown", "chroot", "statvfs", "pathconf", "fchdir"}
)


def _windows_os_getattr(original: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def __getattr__(self: Any, name: str) -> Any:
        if name in WINDOWS_ABSENT_OS:
            raise AttributeError(f"module 'os' has no attribute '{name}'")
        return original(self, name)

    return __getattr__


def _use_original_os_plan() -> list[tuple[object, str, object]]:
    """Hold the lock while pyfakefs switches *every* thread's fake ``os`` to the real one.

    ``use_original_os()`` sets the class-wide flag ``FakeOsModule.use_original``. Since
    Python 3.13 pyfakefs wraps ``linecache`` in it, and ``open()`` reaches ``linecache``
    (through ``traceback.extract_stack``) before it takes the lock; another thread's locked
    ``os.replace`` then ran on the real disk (FileNotFoundError). Both modules look the name
    up when called, so replacing it covers every caller.
    """
    from pyfakefs import fake_filesystem_unittest, fake_pathlib

    plan: list[tuple[object, str, object]] = []
    for module in (fake_filesystem_unittest, fake_pathlib):
        original = vars(module).get("use_original_os")
        if original is not None and not getattr(original, "__ocirace_locked__", False):
            plan.append((module, "use_original_os", _locked_context(original)))
    return plan


def _locked_context(
    original: Callable[[], contextlib.AbstractContextManager[None]],
) -> Callable[[], contextlib.AbstractContextManager[None]]:
    @contextlib.contextmanager
    def use_original_os() -> Iterator[None]:
        with LOCK, original():
            yield

    use_original_os.__ocirace_locked__ = True  # type: ignore[attr-defined]
    return use_original_os


@functools.cache
def _locked_os_methods() -> tuple[str, ...]:
    return tuple(name for name in public_methods(FakeOsModule) if name != "open")


def _no_xattr(*args: Any, **kwargs: Any) -> None:
    """Windows has no extended attributes: CPython's Windows build copies none."""


def _locking_factory(factory: Callable[..., Any]) -> Callable[..., Any]:
    def make(self: Any, *args: Any) -> Any:
        return locked_once(factory(self, *args))

    return make


def _open_call(original: Callable[..., Any], active: Callable[[Any], Any]) -> Callable[..., Any]:
    def call(
        self: Any,
        file_: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Any = None,
        open_modes: Any = None,
    ) -> Any:
        def do_open(target: Any) -> Any:
            return original(
                self,
                target,
                mode,
                buffering,
                encoding,
                errors,
                newline,
                closefd,
                user_opener,
                open_modes,
            )

        # The caller's opener is user code: it runs without the global lock (it may block).
        user_opener = opener
        if opener is not None and getattr(opener, "__module__", None) not in _PATHLIB_OPENERS:
            user_opener = functools.partial(call_unlocked, opener)

        with LOCK:
            sim = active(self.filesystem)
            custom_opener = opener is not None and getattr(opener, "__module__", None) not in (
                _PATHLIB_OPENERS
            )
            if sim is not None and isinstance(file_, int) and not descriptors.owned(sim.fs, file_):
                # A real descriptor (a pipe, a socket, a standard stream): the real open().
                return descriptors.real_open(
                    file_, mode, buffering, encoding, errors, newline, closefd, opener
                )
            if sim is None or isinstance(file_, int) or custom_opener:
                return do_open(file_)
            if open_modes is not None:
                reading, writing = open_modes.can_read, open_modes.can_write
                creating, exclusive = not open_modes.must_exist, open_modes.must_not_exist
            else:
                reading, writing, creating, exclusive = parse_mode(mode)

            def attempt() -> Any:
                return sim.open_file(
                    file_,
                    reading=reading,
                    writing=writing,
                    creating=creating,
                    exclusive=exclusive,
                    temporary=False,
                    reapable=True,
                    do_open=do_open,
                )

            if not (creating and exclusive):
                return attempt()
        # A lock file made by exclusive create ("x"): polled, maybe by a storm of threads.
        return storms.exclusive_create(sim, file_, attempt)

    return call


def _os_open(original: Callable[..., Any], active: Callable[[Any], Any]) -> Callable[..., Any]:
    from pytest_ocirace.fakefs.filesystem import O_TEMPORARY

    def fake_os_open(
        self: Any, path: Any, flags: int, mode: int | None = None, *, dir_fd: int | None = None
    ) -> int:
        if filelocks.storming():  # a storm poller waits before it opens a held lock file
            sim = active(self.filesystem)
            if sim is not None:
                filelocks.wait_before_open(sim, path)
        with LOCK:
            sim = active(self.filesystem)
            temporary = bool(flags & O_TEMPORARY)
            flags &= ~O_TEMPORARY
            if sim is None:
                return int(original(self, path, flags, mode, dir_fd=dir_fd))
            access = flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
            creating = bool(flags & os.O_CREAT)
            exclusive = creating and bool(flags & os.O_EXCL)

            def attempt() -> int:
                return int(
                    sim.open_file(
                        path,
                        reading=access != os.O_WRONLY,
                        writing=access in (os.O_WRONLY, os.O_RDWR),
                        creating=creating,
                        exclusive=exclusive,
                        temporary=temporary,
                        do_open=lambda target: original(self, target, flags, mode, dir_fd=dir_fd),
                    )
                )

            if not exclusive:
                return attempt()
        # A lock file made by O_CREAT|O_EXCL (SoftFileLock): polled, maybe by a storm.
        return storms.exclusive_create(sim, path, attempt)

    return fake_os_open


def _default_tempdir(module: Any, original: Callable[..., str]) -> Callable[..., str]:
    """Where ``tempfile`` puts files while the fake filesystem is active.

    pyfakefs resets ``tempfile.tempdir`` whenever patching pauses (around each report), so
    setting it once is not enough: answer the question ``tempfile`` asks instead.
    """
    from pytest_ocirace.fakefs.filesystem import TEMP_DIR

    def _get_default_tempdir(*args: Any) -> str:
        if type(getattr(module, "_os", None)).__name__ == "FakeOsModule":
            return TEMP_DIR
        return original(*args)

    return _get_default_tempdir


def _bound_temporary_file(patches: ClassPatches, module: Any, posix: Any) -> None:
    """``TemporaryFile`` bound at import (``from tempfile import TemporaryFile``) as on Windows.

    On Windows the name *is* ``NamedTemporaryFile`` at import time, so a library that
    bound it then (boltons' ``ioutils``) gets delete-on-close files; here it bound the POSIX
    function, which unlinks its file while it is open: ``[WinError 32]`` inside the
    simulation, where Windows itself had never run that code. While the fake filesystem is
    in force, that function object runs ``NamedTemporaryFile`` (the simulation's, looked up
    in ``tempfile`` at call time); when pyfakefs is paused it runs its own code.
    """
    if not isinstance(posix, types.FunctionType) or posix is module.NamedTemporaryFile:
        return
    original = code_keeping_copy(posix)

    def temporary_file(*args: Any, **kwargs: Any) -> Any:
        if _fake_os_in_force(module):
            return module.TemporaryFile(*args, **kwargs)
        return original(*args, **kwargs)

    patches.set(module, "_ocirace_temporary_file", temporary_file)
    patches.set_code(posix, _delegating_code(posix))


def _fake_os_in_force(module: Any) -> bool:
    """Whether ``tempfile`` works on the fake filesystem now (not paused around a report)."""
    return isinstance(getattr(module, "_os", None), FakeOsModule)


def _delegating_code(posix: Any) -> Any:
    """Code with ``posix``'s signature that calls ``_ocirace_temporary_file`` (its globals)."""

    def TemporaryFile(  # the name the code object carries
        mode: str = "w+b",
        buffering: int = -1,
        encoding: str | None = None,
        newline: str | None = None,
        suffix: str | None = None,
        prefix: str | None = None,
        dir: str | None = None,  # tempfile's own parameter name
        *,
        errors: str | None = None,
    ) -> Any:
        return _ocirace_temporary_file(  # type: ignore[name-defined]  # noqa: F821
            mode, buffering, encoding, newline, suffix, prefix, dir, errors=errors
        )

    return TemporaryFile.__code__


@functools.cache
def _signature(function: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(function)


def _windows_named_temporary_file(
    patches: ClassPatches, module: Any, sim: WindowsFilesystem
) -> None:
    """``tempfile.NamedTemporaryFile`` as on Windows, also where it was bound at import.

    ``from tempfile import NamedTemporaryFile`` (cachecontrol's ``filewrapper``) holds the
    function object itself, so it gets the simulation's version the way ``TemporaryFile``
    does (:func:`_bound_temporary_file`): its code delegates while the simulation runs, and
    a copy keeps the original code for the simulation's version to call.
    """
    posix = module.NamedTemporaryFile
    # The signature of the stable function object: one inspection per process, not one per
    # simulation of a fresh copy (functools.cache would keep every copy).
    signature = _signature(posix)
    if not isinstance(posix, types.FunctionType):
        windows = _named_temporary_file(posix, signature, module, sim)
        patches.set(module, "NamedTemporaryFile", windows)
        return
    original = code_keeping_copy(posix)
    windows = _named_temporary_file(original, signature, module, sim)
    patches.set(module, "NamedTemporaryFile", windows)
    patches.set(module, "_ocirace_named_temporary_file", windows)
    patches.set_code(posix, _delegating_named_code())


def _delegating_named_code() -> Any:
    """Code that calls ``_ocirace_named_temporary_file`` from its function's globals."""

    def NamedTemporaryFile(*args: Any, **kwargs: Any) -> Any:  # the name the code carries
        return _ocirace_named_temporary_file(*args, **kwargs)  # type: ignore[name-defined]  # noqa: F821

    return NamedTemporaryFile.__code__


def _named_temporary_file(
    original: Callable[..., Any],
    signature: inspect.Signature,
    module: Any,
    sim: WindowsFilesystem,
) -> Callable[..., Any]:

    def NamedTemporaryFile(*args: Any, **kwargs: Any) -> Any:
        """``tempfile.NamedTemporaryFile`` as on Windows: ``delete=True`` means O_TEMPORARY."""
        if not _fake_os_in_force(module):
            return original(*args, **kwargs)  # pyfakefs paused: the real disk's own rules
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        if not (arguments.get("delete", True) and arguments.get("delete_on_close", True)):
            wrapper = original(*args, **kwargs)
        else:
            arguments["delete"] = False
            with LOCK:
                sim.mark_next_open_temporary()
                try:
                    wrapper = original(*bound.args, **bound.kwargs)
                finally:
                    sim._next_open_temporary = False
            if "delete" in vars(wrapper):  # before 3.12 the wrapper says it, as on Windows
                wrapper.delete = True
        with LOCK:  # a WeakSet is not safe against threads adding at once
            sim.left_open.add_temporary(wrapper)
        return wrapper

    NamedTemporaryFile.__wrapped__ = original  # type: ignore[attr-defined]
    return NamedTemporaryFile


def _patch_pathlib_accessor(patches: ClassPatches) -> None:  # pragma: no cover - < 3.11
    from pyfakefs import fake_pathlib

    accessor = getattr(fake_pathlib, "_FakeAccessor", None)
    if accessor is None:
        return
    routes: dict[str, Callable[..., Any]] = {
        "stat": lambda p, *a, **k: p.filesystem.stat(str(p), *a, **k),
        "lstat": lambda p: p.filesystem.stat(str(p), follow_symlinks=False),
        "unlink": lambda p, *a: p.filesystem.remove(str(p)),
        "rmdir": lambda p, *a: p.filesystem.rmdir(str(p)),
        "mkdir": lambda p, *a, **k: p.filesystem.makedir(str(p), *a, **k),
        "rename": lambda p, q: p.filesystem.rename(str(p), str(q)),
        "replace": lambda p, q: p.filesystem.rename(str(p), str(q), force_replace=True),
        "link": lambda p, q: p.filesystem.link(str(p), str(q)),
        "link_to": lambda p, q: p.filesystem.link(str(p), str(q)),
    }
    for name, route in routes.items():
        if name in vars(accessor):
            patches.set(accessor, name, staticmethod(route))
