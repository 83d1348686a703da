"""The ``FakeFilesystem`` subclass a simulated filesystem becomes.

pyfakefs' ``Patcher`` (and its ``fs`` fixture) builds the filesystem object and hands it to
every fake module, so the simulation cannot substitute its own: it assigns this subclass as
the live object's ``__class__`` and back again. Its job is routing only: each entry point
takes the global lock and, unless the layer is already inside an operation, hands the call
to :class:`~pytest_ocirace.fakefs.filesystem.WindowsFilesystem`, where the Windows rules
live. Every other public method is wrapped with the lock.

:func:`start_patcher` exists for setup cost (one per simulated test): a ``Patcher`` always
builds a host-OS tree, with a temp directory, that switching to Windows throws away and
rebuilds (about as much work as the rest of pyfakefs' setup). When no pyfakefs patcher is
running yet, it starts one whose filesystem is built for Windows from the start.
"""

from __future__ import annotations

import contextlib
import importlib
import ntpath
import operator
import os
import sys
import types
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from pyfakefs import fake_pathlib, mox3_stubout
from pyfakefs.fake_file import FakeDirectory, FakeFile
from pyfakefs.fake_filesystem import FakeFilesystem
from pyfakefs.fake_filesystem_unittest import PATH_MODULE, Patcher
from pyfakefs.fake_path import FakePathModule

from pytest_ocirace.fakefs import path_stand_in
from pytest_ocirace.fakefs.fastpaths import FastWindowsPaths
from pytest_ocirace.fakefs.locking import LOCK
from pytest_ocirace.fakefs.module_census import ModuleCensus, loaded_modules
from pytest_ocirace.fakefs.symlinks import may_hold_links
from pytest_ocirace.fakefs.wrapped_functions import keep_wrappers
from pytest_ocirace.winrules import names

if TYPE_CHECKING:
    from pytest_ocirace.fakefs.dropped_imports import Watch
    from pytest_ocirace.fakefs.filesystem import WindowsFilesystem

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = [
    "SIMULATION_ATTR",
    "SimulatedFakeFilesystem",
    "new_windows_filesystem",
    "release",
    "start_patcher",
]

#: The attribute of a simulated ``FakeFilesystem`` that holds its ``WindowsFilesystem``.
SIMULATION_ATTR = "_ocirace_simulation"


def _windows_spelling(path: Any) -> Any:
    r"""``path`` as pyfakefs can resolve it (``\\?\C:\x`` is ``C:\x``); NUL is refused.

    Other arguments (descriptors, path-like objects) pass unchanged.
    """
    if isinstance(path, str):
        if "\x00" in path:
            raise ValueError(names.NUL_MESSAGE)
        return names.native_path(path)
    if isinstance(path, bytes) and b"\x00" in path:
        raise ValueError(names.NUL_MESSAGE)
    return path


class SimulatedFakeFilesystem(FastWindowsPaths):
    """What a simulated ``FakeFilesystem`` becomes: each entry point asks the layer first.

    Never instantiated: :meth:`WindowsFilesystem.attach` assigns it as ``__class__`` of the
    live filesystem (so pyfakefs' fake modules, which hold that object, see it at once), and
    :meth:`WindowsFilesystem.detach` assigns ``FakeFilesystem`` back.
    """

    @property
    def _sim(self) -> WindowsFilesystem:
        return cast("WindowsFilesystem", self.__dict__[SIMULATION_ATTR])

    @property
    def root_dir(self) -> FakeDirectory:
        # pyfakefs recomputes the current drive's root from cwd and the mount table on every
        # path operation (tens of times per os.replace in Windows mode); it only changes
        # with cwd, the mount table or a reset, so remember it for those.
        key = (self._cwd, len(self.mount_points), id(self.root))
        cached = self.__dict__.get("_ocirace_root_dir")
        if cached is not None and cached[0] == key:
            root: FakeDirectory = cached[1]
            return root
        root = FakeFilesystem.root_dir.fget(self)  # type: ignore[attr-defined]
        self.__dict__["_ocirace_root_dir"] = (key, root)
        return root

    def rename(self, old_file_path: Any, new_file_path: Any, force_replace: bool = False) -> None:
        with LOCK:
            sim = self._sim
            if sim._depth:
                return FakeFilesystem.rename(self, old_file_path, new_file_path, force_replace)
            sim.rename(old_file_path, new_file_path, force_replace)

    def remove(self, path: Any) -> None:
        with LOCK:
            sim = self._sim
            if sim._depth:
                return FakeFilesystem.remove(self, path)
            sim.remove(path)

    def rmdir(self, target_directory: Any, allow_symlink: bool = False) -> None:
        with LOCK:
            sim = self._sim
            if sim._depth:
                return FakeFilesystem.rmdir(self, target_directory, allow_symlink)
            sim.remove_directory(target_directory, allow_symlink)

    def makedir(self, dir_path: Any, mode: int = 0o777) -> None:
        with LOCK:
            sim = self._sim
            if sim._depth:
                return FakeFilesystem.makedir(self, dir_path, mode)
            sim.make_directory(dir_path, mode)

    def link(self, old_path: Any, new_path: Any, follow_symlinks: bool = True) -> FakeFile:
        with LOCK:
            sim = self._sim
            if sim._depth:
                return FakeFilesystem.link(self, old_path, new_path, follow_symlinks)
            return sim.link(old_path, new_path, follow_symlinks)

    def stat(self, entry_path: Any, follow_symlinks: bool = True) -> Any:
        with LOCK:
            sim = self._sim
            if sim._depth or isinstance(entry_path, int):
                return FakeFilesystem.stat(self, entry_path, follow_symlinks)
            return sim.stat_like(
                entry_path, "stat", lambda p: FakeFilesystem.stat(self, p, follow_symlinks), None
            )

    def exists(self, file_path: Any, check_link: bool = False) -> bool:
        with LOCK:
            sim = self._sim
            if sim._depth or isinstance(file_path, int):
                return FakeFilesystem.exists(self, file_path, check_link)
            return sim.stat_like(
                file_path, "exists", lambda p: FakeFilesystem.exists(self, p, check_link), False
            )

    def isfile(self, path: Any, follow_symlinks: bool = True) -> bool:
        with LOCK:
            sim = self._sim
            if sim._depth or isinstance(path, int):
                return FakeFilesystem.isfile(self, path, follow_symlinks)
            return sim.stat_like(
                path, "isfile", lambda p: FakeFilesystem.isfile(self, p, follow_symlinks), False
            )

    def isdir(self, path: Any, follow_symlinks: bool = True) -> bool:
        with LOCK:
            sim = self._sim
            if sim._depth or isinstance(path, int):
                return FakeFilesystem.isdir(self, path, follow_symlinks)
            return sim.stat_like(
                path, "isdir", lambda p: FakeFilesystem.isdir(self, p, follow_symlinks), False
            )

    def islink(self, path: Any) -> bool:
        if not may_hold_links(self):
            # No symbolic link anywhere: no walk needed (symlinks.py), once the argument is
            # a path as for the walk (else its own error below).
            try:
                text = os.fspath(path)
            except TypeError:
                pass
            else:
                if isinstance(text, (str, bytes)):
                    return False
        # os.path.islink answers False for a name with NUL in it.
        try:
            return bool(_locked_islink(self, path))
        except ValueError:
            return False

    def add_open_file(self, file_obj: Any, new_fd: int = -1) -> int:
        with LOCK:
            sim = self._sim
            if new_fd < 0:
                # A number the kernel will not give a real pipe or socket (descriptors.py).
                new_fd = sim.descriptors.reserve()
            fd = FakeFilesystem.add_open_file(self, file_obj, new_fd)
            sim._register(fd, file_obj)
            return fd

    def close_open_file(self, file_des: int) -> None:
        with LOCK:
            sim = self._sim
            sim._closed(file_des)
            if not self.open_files[file_des]:
                sim.descriptors.release(file_des)

    def add_real_file(
        self, source_path: Any, read_only: bool = True, target_path: Any = None
    ) -> FakeFile:
        # The real tree may already show it (realtree.py): no FileExistsError for that.
        source_path = _real_source(source_path)
        with LOCK:
            twin = _realtree().mapped_twin(self, source_path, target_path, read_only)
            if twin is not None:
                return cast(FakeFile, twin)
            return FakeFilesystem.add_real_file(self, source_path, read_only, target_path)

    def add_real_directory(
        self,
        source_path: Any,
        read_only: bool = True,
        lazy_read: bool = True,
        target_path: Any = None,
    ) -> FakeDirectory:
        source_path = _real_source(source_path)
        with LOCK:
            twin = _realtree().mapped_twin(self, source_path, target_path, read_only)
            if twin is not None:
                return cast(FakeDirectory, twin)
            return FakeFilesystem.add_real_directory(
                self, source_path, read_only, lazy_read, target_path
            )

    def has_open_file(self, file_object: FakeFile) -> bool:
        # The layer has already decided (with share modes) before pyfakefs mutates anything;
        # pyfakefs' own "open means no delete" rule would veto O_TEMPORARY renames.
        with LOCK:
            sim = self._sim
            if sim._depth:
                return False
            return sim.handles.blocking_delete(file_object) is not None


#: The host's own ``stat`` (pyfakefs never replaces the built-in module's contents); in a
#: dict, because pyfakefs stubs module globals that are file functions. None on Windows.
_HOST: dict[str, Any] = {"stat": getattr(sys.modules.get("posix"), "stat", None)}


def _real_source(path: Any) -> Any:
    r"""The real path a Windows spelling names: ``C:\tmp\x.json`` is the host's ``/tmp/x.json``.

    A test module's path strings made at import are Windows-spelled inside a simulated test
    (``plugins/import_paths.py``), and the documented recipe passes one to
    ``fs.add_real_file(DATA)``, whose source is a path on the real disk.
    """
    stat = _HOST["stat"]
    if stat is None or not isinstance(path, (str, os.PathLike)):
        return path
    text = os.fspath(path)
    if not isinstance(text, str):
        return path
    drive, rest = ntpath.splitdrive(text)
    if not drive or not rest.startswith(("\\", "/")):
        return path
    real = rest.replace("\\", "/")
    try:
        stat(real)
    except (OSError, ValueError):
        return path
    return real


def _realtree() -> Any:
    # The copy simulate() mapped with (sys.modules), also after pytester dropped modules.
    return importlib.import_module("pytest_ocirace.fakefs.realtree")


for _name in (
    "resolve",
    "lresolve",
    "listdir",
    "makedirs",
    "create_file",
    "create_dir",
    "remove_object",
    "chmod",
    "utime",
    "create_symlink",
    "readlink",
    "confirmdir",
    "get_open_file",
    "get_open_files",
    "absnormpath",
    "resolve_path",
    "change_disk_usage",
    "get_disk_usage",
):
    if _name in vars(FakeFilesystem):
        # The remembering version where fastpaths.py has one (absnormpath, resolve_path).
        _method = vars(FastWindowsPaths).get(_name) or vars(FakeFilesystem)[_name]

        def _make(method: Callable[..., Any], takes_path: bool) -> Callable[..., Any]:
            def run_locked(self: Any, *args: Any, **kwargs: Any) -> Any:
                if takes_path and args:
                    # The path conversion CPython does first, for the calls that do not go
                    # through the layer (listdir, chmod, utime, scandir, access...).
                    args = (_windows_spelling(args[0]), *args[1:])
                with LOCK:
                    return method(self, *args, **kwargs)

            run_locked.__name__ = method.__name__
            run_locked.__doc__ = method.__doc__
            return run_locked

        setattr(
            SimulatedFakeFilesystem,
            _name,
            _make(_method, _name not in ("get_open_file", "get_open_files")),
        )


def _locked_islink(fs: FakeFilesystem, path: Any) -> bool:
    with LOCK:
        return FakeFilesystem.islink(fs, _windows_spelling(path))


class _WindowsFromTheStart(FakeFilesystem):
    """Only used while constructing: makes the constructor's one ``reset`` a Windows one.

    ``FakeFilesystem.__init__`` picks the OS from the host and builds the tree; setting
    ``fs.os`` afterwards builds it a second time. Answering "Windows" inside ``reset``
    builds it once.
    """

    def reset(self, total_size: int | None = None, init_pathlib: bool = True) -> None:
        self._is_windows_fs = True
        self._is_macos = False
        self.is_case_sensitive = False
        FakeFilesystem.reset(self, total_size, init_pathlib)


def new_windows_filesystem(patcher: Patcher | None = None) -> FakeFilesystem:
    """A ``FakeFilesystem`` equal to one switched with ``fs.os = OSType.WINDOWS``, built once.

    Without pyfakefs' temp directory: the simulation makes its own (``TEMP_DIR``).
    """
    fs = _build_windows(patcher)
    # The constructor's reset leaves pathlib alone (the ``os`` setter's does not).
    fake_pathlib.init_module(fs)  # type: ignore[no-untyped-call]
    return fs


def _build_windows(patcher: Patcher | None) -> FakeFilesystem:
    fs: FakeFilesystem = _WindowsFromTheStart(patcher=patcher, create_temp_dir=False)
    fs.__class__ = FakeFilesystem
    FakePathModule.reset(fs)  # what the ``os`` setter does after its reset
    return fs


class _ModuleStubs(mox3_stubout.StubOutForTesting):
    """pyfakefs' stub bookkeeping, with a short way for the common case: a module global.

    pyfakefs stubs every module global that names a filesystem module or function (about
    230 in a pytest process) each time it starts or resumes patching; ``smart_set`` asks
    ``inspect`` and looks the name up twice for each. For a module it only replaces the
    entry of the module's namespace, which this does directly, with the same error for a
    missing name; anything else goes through pyfakefs' own code.
    """

    def smart_set(self, obj: Any, attr_name: str, new_attr: Any) -> None:
        if not isinstance(obj, types.ModuleType):
            super().smart_set(obj, attr_name, new_attr)  # type: ignore[no-untyped-call]
            return
        namespace = obj.__dict__
        original = namespace.get(attr_name)
        if original is None:
            raise AttributeError("Attribute not found.")
        self.stubs.append((obj, attr_name, original))
        namespace[attr_name] = new_attr


def _refresh_windows(self: Patcher) -> None:
    # ``Patcher._refresh`` of pyfakefs 6.x with one change: the filesystem it builds.
    # tests/fakefs/test_patcher.py checks the result against pyfakefs' own.
    if self._stubs is not None:
        self._stubs.smart_unset_all()  # type: ignore[no-untyped-call]
    self._stubs = _ModuleStubs()  # type: ignore[no-untyped-call]
    # Without fake_pathlib.init_module: building the fake pathlib module below runs it.
    self.fs = _build_windows(self)
    self.fs.patch_open_code = self.patch_open_code
    for name in self._fake_module_classes:
        self.fake_modules[name] = self._fake_module_classes[name](self.fs)
        if hasattr(self.fake_modules[name], "skip_names"):
            self.fake_modules[name].skip_names = self.skip_names | {
                module.__name__ for module in self.SKIPMODULES if module and "." in module.__name__
            }
    self.fake_modules[PATH_MODULE] = self.fake_modules["os"].path
    for name in self._unfaked_module_classes:
        self.unfaked_modules[name] = self._unfaked_module_classes[name]()
    self._isStale = False


#: pyfakefs' table of fake functions per name, as ``Patcher.__init__`` works it out; the
#: same for every patcher with the same fake module classes (about 40% of the constructor).
_MODULE_FUNCTIONS: dict[tuple[object, ...], dict[str, dict[str, Any]]] = {}


def _init_fake_module_functions_once(self: Patcher) -> None:
    key = tuple(
        (name, factory if isinstance(factory, type) else None)
        for name, factory in self._fake_module_classes.items()
    )
    cached = _MODULE_FUNCTIONS.get(key)
    if cached is None:
        Patcher._init_fake_module_functions(self)
        _MODULE_FUNCTIONS[key] = self._fake_module_functions
    else:  # read-only once built: pyfakefs only looks names up in it
        self._fake_module_functions = cached


#: ``sys.modules`` when :func:`_find_modules_if_changed` last let pyfakefs search it, and
#: pyfakefs' class-level tables that search filled (``clear_cache`` makes new ones).
_FOUND_MODULES = ModuleCensus()
_FOUND_TABLES: list[object] = []


def _pyfakefs_tables() -> tuple[object, ...]:
    return (
        Patcher.CACHED_MODULES,
        Patcher.FS_MODULES,
        Patcher.FS_FUNCTIONS,
        Patcher.FS_DEFARGS,
        Patcher.SKIPPED_FS_MODULES,
    )


def _find_modules_if_changed(self: Patcher) -> None:
    """``Patcher._find_modules``, skipped when it would find nothing new.

    pyfakefs' search adds every module it looked at to ``Patcher.CACHED_MODULES`` and
    skips those next time, so with the same modules loaded and the same tables (no
    ``clear_cache`` since) it adds nothing: only its walk over ``sys.modules`` (0.06 ms
    per test) is left, which the census replaces by a comparison.
    """
    tables = _pyfakefs_tables()
    if (
        _FOUND_MODULES.unchanged()
        and len(_FOUND_TABLES) == len(tables)
        and all(map(operator.is_, _FOUND_TABLES, tables))
        and len(Patcher.CACHED_MODULES) == _CACHED_SIZE[0]
    ):
        return
    _FOUND_MODULES.remember()
    try:
        Patcher._find_modules(self)
    except BaseException:
        _FOUND_MODULES.forget()
        raise
    _FOUND_TABLES[:] = tables
    _CACHED_SIZE[0] = len(Patcher.CACHED_MODULES)


_CACHED_SIZE = [0]


def patcher_running() -> bool:
    """Whether a pyfakefs patcher is set up already (``start_patcher`` would join it)."""
    return Patcher.REF_COUNT > 0


def start_patcher(watch: Watch | None = None) -> Patcher:
    """``Patcher().setUp()``, with a Windows filesystem from the start if pyfakefs is idle.

    If a patcher is already running (pyfakefs' ``fs`` fixture was set up first), pyfakefs
    hands out that one and its host-OS filesystem, as it would to any nested ``Patcher``;
    :meth:`WindowsFilesystem.attach` then switches it. Either way the caller ends with
    ``patcher.tearDown()``, and pyfakefs' ``fs`` fixture set up later in the same test
    gets this patcher and its filesystem.

    ``watch`` (a patcher started here only) is told before and after each stop of the
    patcher, a pause's too, which drops the modules imported since it started or resumed
    (``dropped_imports.py``).
    """
    if patcher_running():
        patcher = Patcher()
    else:
        # What ``Patcher()`` does (``__new__`` registers the instance as Patcher.PATCHER,
        # which pyfakefs' pytest hooks pause around reports), with three steps replaced.
        patcher = Patcher.__new__(Patcher)  # type: ignore[no-untyped-call]
        patcher._init_fake_module_functions = types.MethodType(
            _init_fake_module_functions_once, patcher
        )
        patcher._refresh = types.MethodType(_refresh_windows, patcher)
        patcher._find_modules = types.MethodType(_find_modules_if_changed, patcher)
        Patcher.__init__(patcher)
        patcher._fake_module_classes["Path"] = path_stand_in.make  # a class (path_stand_in.py)
        keep_wrappers(patcher)
        if watch is not None:
            patcher.stop_patching = types.MethodType(_watched_stop(watch), patcher)
    with _proxied_modules_visible():
        patcher.setUp()
    return patcher


def _watched_stop(watch: Watch) -> Callable[..., None]:
    def stop_patching(self: Patcher, temporary: bool = False) -> None:
        watching = self.is_patching
        if watching:
            watch.before_stop()
        Patcher.stop_patching(self, temporary)
        if watching:
            watch.after_stop()

    return stop_patching


#: The steps of ``Patcher`` that :func:`start_patcher` replaces on the instance.
_REPLACED = (
    "_init_fake_module_functions",
    "_refresh",
    "_find_modules",
    "patch_functions",
    "stop_patching",
)


def release(patcher: Patcher) -> None:
    """Let a finished patcher and its filesystem go when the last reference does.

    Every simulated test leaves a patcher, its fake modules, its filesystem and the whole
    tree behind. Reference cycles held them until the cyclic garbage collector found them
    (in safer's suite, collections ran twice as often as plain and cost about as much as
    the rest of a test's set-up): the patcher's own replaced steps (bound methods in its
    ``__dict__``), and pyfakefs' fake ``os`` and its ``path``, which refer to each other.
    Both are dropped here once the patcher stopped for good (pyfakefs' class attributes
    that hold the last filesystem, such as ``FakePath.filesystem``, are replaced by the
    next simulation, which then frees it). A fake ``os`` still held somewhere after its
    test (nothing should use it) answers ``path`` with the real one, as for any attribute
    it does not fake.
    """
    if patcher.is_patching or Patcher.PATCHER is patcher:
        return  # still running (another user of the same patcher)
    for name in _REPLACED:
        patcher.__dict__.pop(name, None)
    fake_os = patcher.fake_modules.get("os")
    if fake_os is not None and getattr(fake_os, "path", None) is patcher.fake_modules.get(
        PATH_MODULE
    ):
        vars(fake_os).pop("path", None)


#: Prefix of the temporary ``sys.modules`` names under which proxied modules are shown.
_PROXIED_PREFIX = "_ocirace_proxied_module."
#: ``sys.modules`` at the last search for stand-in objects, and the ones it found.
_STAND_INS = ModuleCensus()
_STAND_IN_ENTRIES: list[tuple[str, object]] = []


def _stand_ins() -> list[tuple[str, object]]:
    """The entries of ``sys.modules`` that are neither modules nor None, by name."""
    if _STAND_INS.unchanged():
        return _STAND_IN_ENTRIES
    _STAND_INS.remember()
    entries = loaded_modules()  # not only modules
    _STAND_IN_ENTRIES[:] = [
        (name, entry)
        for name, entry in entries
        if not (isinstance(entry, types.ModuleType) or entry is None)
    ]
    return _STAND_IN_ENTRIES


@contextlib.contextmanager
def _proxied_modules_visible() -> Iterator[None]:
    """Let pyfakefs find modules that sit behind a proxy object in ``sys.modules``.

    Some libraries replace their module in ``sys.modules`` by an object that delegates to
    it (``xmod``'s callable modules: ``tdir``, ``safer``'s helpers). pyfakefs patches only
    ``sys.modules`` entries that are modules, so ``os``, ``open`` and ``Path`` bound in
    such a module stayed real inside the simulation (``tdir`` created its directory in the
    fake filesystem, then ``os.chdir`` looked for it on the real disk). The module behind
    the proxy (an attribute of the proxy or of its class: a module with the proxy's name)
    is listed under a private name while pyfakefs scans, so it is patched like any other.
    The proxies' attributes are read again each time; which entries are proxies is
    searched again only when ``sys.modules`` changed (``module_census.py``).
    """
    shown: list[str] = []
    listed: set[int] | None = None  # made on the first proxy (speed: most runs have none)
    for name, entry in _stand_ins():
        attributes = list(vars(type(entry)).values())
        with contextlib.suppress(TypeError):
            attributes += list(vars(entry).values())
        for value in attributes:
            if isinstance(value, types.ModuleType) and getattr(value, "__name__", None) == name:
                if listed is None:
                    listed = set(map(id, list(sys.modules.values())))
                if id(value) not in listed:
                    alias = _PROXIED_PREFIX + name
                    sys.modules[alias] = value
                    shown.append(alias)
                    break
    try:
        yield
    finally:
        for alias in shown:
            sys.modules.pop(alias, None)
