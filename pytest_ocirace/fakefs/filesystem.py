r"""The Windows layer over pyfakefs: one lock, the decision table, and the observer calls.

pyfakefs in ``OSType.WINDOWS`` mode gives us drive letters, ``\\`` separators and
case-insensitive names, but not what makes Windows publishing fail: share modes,
delete-pending names, read-only targets, ``O_TEMPORARY``, alternate data streams,
Windows-shaped exceptions, or thread safety. :class:`WindowsFilesystem` adds them: the live
``FakeFilesystem`` is switched to a subclass (``patcher.py``) whose entry points (rename,
remove, open, close, stat, mkdir, rmdir, link) come here. Each describes the names it
touches as :class:`~pytest_ocirace.winrules.decisions.NameState` (from pyfakefs' tree, the
read-only bit, the handle table and the delete-pending set) and asks the one decision
table, ``winrules/decisions.py`` (the real-disk backend asks the same), what Windows would
do *before* anything is mutated, so a failed operation changes nothing. The name rules
(``winrules/names.py``) need Windows paths, which only this backend has: they are computed
here and passed to the table as flags. Every entry point runs under
:data:`~pytest_ocirace.fakefs.locking.LOCK` and reports itself to the installed
observer as an :class:`~pytest_ocirace.racemodel.events.FsOp`.

Which error shape each call gets follows CPython on Windows: Win32 calls (``os.rename``,
``os.replace``, ``os.remove``, ``os.stat``, ``os.mkdir``...) raise ``[WinError N]`` errors
with ``winerror`` set; ``open()``/``os.open`` go through the C runtime and raise
``[Errno N]`` errors whose ``winerror`` is ``None``.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import hashlib
import importlib
import ntpath
import os
import stat as _stat
import sys
import types
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from pyfakefs.fake_file import FakeDirectory, FakeFile
from pyfakefs.fake_filesystem import FakeFilesystem, OSType

from pytest_ocirace.fakefs import (
    dropped_imports,
    fastpaths,
    inforce,
    pathclasses,
    preload,
    skip_check,
    symlinks,
)
from pytest_ocirace.fakefs.descriptors import DescriptorTable
from pytest_ocirace.fakefs.handles import Handle, HandleTable
from pytest_ocirace.fakefs.left_open import LeftOpen
from pytest_ocirace.fakefs.locking import LOCK, ClassPatches
from pytest_ocirace.fakefs.patcher import (
    SIMULATION_ATTR,
    SimulatedFakeFilesystem,
    patcher_running,
    release,
    start_patcher,
)
from pytest_ocirace.fakefs.starting_tree import StartingTree, TreeError
from pytest_ocirace.fakefs.streams import StreamStore
from pytest_ocirace.fakefs.writer_seam import WriterSwitch
from pytest_ocirace.racemodel.events import Answer, FsObserver, FsOp, OpKind
from pytest_ocirace.winrules import decisions, errors, names
from pytest_ocirace.winrules.decisions import ABSENT, NameState, Request
from pytest_ocirace.winrules.options import DEFAULT_WORKDIR, REAL_WORKDIR, SimulationOptions

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them): a user
# whose os.replace fails wants to see their own call, not the simulation's machinery.
__tracebackhide__ = True

__all__ = [
    "HOST_DIRECTORIES",
    "O_TEMPORARY",
    "TEMP_DIR",
    "SimulationError",
    "WindowsFilesystem",
    "active",
    "simulate",
]

#: ``os.O_TEMPORARY`` for code under test: the host's on Windows; elsewhere a bit no Linux
#: flag uses (Windows' 0x40 is ``O_CREAT`` on Linux). The fake ``os`` module exposes it.
O_TEMPORARY: int = getattr(os, "O_TEMPORARY", 0x10000000)

#: ``tempfile.gettempdir()`` inside the simulation: where a Windows runner keeps its temp files.
TEMP_DIR = "C:\\Users\\ocirace\\AppData\\Local\\Temp"


_WIN32_FROM_ERRNO = {
    _errno.ENOENT: errors.ERROR_FILE_NOT_FOUND,
    _errno.EEXIST: errors.ERROR_ALREADY_EXISTS,
    _errno.EACCES: errors.ERROR_ACCESS_DENIED,
    _errno.EPERM: errors.ERROR_ACCESS_DENIED,
    _errno.EISDIR: errors.ERROR_ACCESS_DENIED,
    _errno.ENOTEMPTY: errors.ERROR_DIR_NOT_EMPTY,
    _errno.EXDEV: errors.ERROR_NOT_SAME_DEVICE,
    _errno.ENOTDIR: errors.ERROR_DIRECTORY,
    _errno.EINVAL: errors.ERROR_INVALID_PARAMETER,
}

T = TypeVar("T")


def _references_to_first(items: list[Any]) -> int:
    """``sys.getrefcount`` of ``items[0]``, measured the same way every time."""
    first = items[0]
    return sys.getrefcount(first)


#: What :func:`_references_to_first` says about an object only its list refers to, measured
#: on this interpreter (the count of borrowed and stack references differs by version).
_UNREFERENCED = _references_to_first([object()])


#: A name that does not exist, in a directory that does not exist either.
_PARENT_MISSING = NameState(parent_missing=True)
#: The states and requests nearly every operation has, built once (speed only: a tuple with
#: keywords costs microseconds, and most operations meet no handle and no flag).
_FILE = NameState(exists=True)
_READ_ONLY = NameState(exists=True, read_only=True)
_DIRECTORY = NameState(exists=True, is_dir=True)
_PLAIN_REQUESTS = {kind: Request(kind) for kind in decisions.KINDS}
#: ``open`` by (writing, exclusive, temporary).
_OPEN_REQUESTS = {
    (writing, exclusive, temporary): Request("open", writing, exclusive, temporary)
    for writing in (False, True)
    for exclusive in (False, True)
    for temporary in (False, True)
}


class SimulationError(RuntimeError):
    """The simulation cannot be set up as asked (the message says how to fix it)."""


@dataclass
class _PendingOpen:
    id: int
    key: str
    display: str
    access: frozenset[str]
    share_delete: bool
    delete_on_close: bool
    reapable: bool


def _text(path: Any) -> str:
    """``path`` as text, refusing an embedded NUL as CPython's path conversion does."""
    value = os.fspath(path)
    text = os.fsdecode(value) if isinstance(value, bytes) else value
    if "\x00" in text:
        raise ValueError(names.NUL_MESSAGE)
    return text


def _native(display: str) -> str:
    r"""The name pyfakefs should use: Win32 strips trailing dots and spaces first.

    A ``\\?\`` path is literal on Windows (no stripping); pyfakefs only needs its prefix
    removed.
    """
    if display.startswith("\\\\?\\"):
        return names.native_path(display)
    return names.win32_path(names.native_path(display))


def active(fs: object) -> WindowsFilesystem | None:
    """The simulation attached to ``fs``, if any."""
    sim = getattr(fs, SIMULATION_ATTR, None)
    return sim if isinstance(sim, WindowsFilesystem) else None


def _internal_of(
    simulation: weakref.ReferenceType[WindowsFilesystem],
) -> Callable[[], AbstractContextManager[None]]:
    """``simulation._internal``, without a reference from the stream store back to it.

    A cycle there kept every finished simulation, and with it its whole filesystem, for
    the cyclic garbage collector (patcher.release says why that is worth avoiding).
    """

    def internal() -> AbstractContextManager[None]:
        sim = simulation()
        if sim is None:
            return nullcontext()
        return sim._internal()

    return internal


class WindowsFilesystem:
    """The simulated Windows filesystem for one test (or one ``simulate()`` block).

    ``observer`` is the public hook for the race model: assign an
    :class:`~pytest_ocirace.racemodel.events.FsObserver` (or ``None``) at any time; each
    operation then calls ``observer.before(op)`` and ``observer.after(op, error)`` while
    :data:`LOCK` is held.
    """

    def __init__(self, fs: FakeFilesystem, options: SimulationOptions) -> None:
        self.fs = fs
        self.options = options
        #: The working directory the simulation starts in (option ``workdir``, resolved).
        self.workdir = working_directory(options.workdir)
        self.observer: FsObserver | None = None
        self.handles = HandleTable()
        #: Real descriptor numbers held for the fake files (see ``descriptors.py``).
        self.descriptors = DescriptorTable()
        #: What the test leaves open, closed when the simulation ends (left_open.py).
        self.left_open = LeftOpen()
        #: Files deleted while open, by id: the file and the name it was deleted by.
        self._pending_delete: dict[int, tuple[FakeFile, _Location | None]] = {}
        self._depth = 0
        self._pending_open: _PendingOpen | None = None
        self._next_open_temporary = False
        self._streams = StreamStore(fs, _internal_of(weakref.ref(self)))
        self._patches = ClassPatches()
        self._attached = False
        self._platform: Any = None
        self._writers = WriterSwitch()
        self._umask = 0o022

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    def attach(
        cls,
        fs: FakeFilesystem,
        options: SimulationOptions,
        *,
        real_trees: Sequence[str] = (),
    ) -> WindowsFilesystem:
        """Turn the live pyfakefs filesystem ``fs`` into a simulated Windows filesystem.

        ``real_trees``: real directories shown inside ``fs`` (``realtree.map_trees``) as
        the ``real_tree`` option says; they are shown once ``fs`` is Windows and before the
        working directory is made, so a working directory inside a mapped tree is the
        mapped directory, not an empty one over it (``starting_tree.py``).
        """
        if active(fs) is not None:
            raise SimulationError(
                "pytest-ocirace: this fake filesystem is already simulating Windows; "
                "use the existing `winfs` fixture instead of attaching twice"
            )
        if fs.os != OSType.WINDOWS:
            user_file = _first_user_file(fs.root)
            if user_file is not None:
                raise SimulationError(
                    "pytest-ocirace: the fake filesystem already holds "
                    f"{user_file!r}, created before the Windows simulation started, and "
                    "switching pyfakefs to Windows would erase it; create files after "
                    "`winfs` is set up (request `winfs` instead of `fs` in that fixture)"
                )
            # Our own temp directory replaces pyfakefs' (created by reset otherwise).
            create_temp_dir, fs.create_temp_dir = fs.create_temp_dir, False
            try:
                fs.os = OSType.WINDOWS
            finally:
                fs.create_temp_dir = create_temp_dir
        sim = cls(fs, options)
        shown = options.real_tree != "off"
        sim._install(
            StartingTree(
                workdir=sim.workdir,
                directories=(TEMP_DIR, *HOST_DIRECTORIES),
                real_roots=tuple(real_trees) if shown else (),
                read_only=options.real_tree == "read-only",
            )
        )
        return sim

    def _install(self, tree: StartingTree) -> None:
        from pytest_ocirace.fakefs import (
            captured_separators,
            class_functions,
            default_args,
            directory_order,
            expanduser,
            path_variable,
            platform,
            stdlib,
            zoneinfo_paths,
        )

        with LOCK:
            # Before the class switch: pyfakefs' own methods, without the layer's routing.
            try:
                tree.give(self.fs)
            except TreeError as exc:
                raise SimulationError(str(exc)) from None
            setattr(self.fs, SIMULATION_ATTR, self)
            # Windows has no umask on permissions: stat shows 0o666 for every writable
            # file and 0o777 for a directory; pyfakefs applied the host's 0o022 (a plain
            # open() made 0o644: portalocker's open_atomic mode test).
            self._umask = self.fs.umask
            self.fs.umask = 0
            self.fs.__class__ = SimulatedFakeFilesystem
            self._attached = True
            try:
                stdlib.install(self._patches, self)
                fastpaths.install(self._patches, self.fs)
                symlinks.install(self._patches, self.fs)  # after fastpaths: wraps its add_entry
                pathclasses.install(self._patches)
                class_functions.install(self._patches, self.fs)
                default_args.install(self._patches, self.fs)
                captured_separators.install(self._patches)
                zoneinfo_paths.install(self._patches)
                expanduser.install(self._patches)
                directory_order.install(self._patches, self.fs)
                path_variable.install(self._patches, ntpath.splitdrive(self.workdir)[0] or "C:")
                skip_check.install(self._patches)
                _set_cwd(self.fs, self.workdir)
                # pyfakefs restores tempfile.tempdir when its patcher stops.
                sys.modules["tempfile"].tempdir = TEMP_DIR  # type: ignore[attr-defined,unused-ignore]
                self._platform = platform.WindowsPlatform(self.options.windows_platform_modules)
                self._platform.install()
                self._writers.install()  # every copy of the writer, through its declared seam
            except BaseException:
                self.detach()
                raise

    def detach(self) -> None:
        """Undo :meth:`attach`; the pyfakefs filesystem keeps its contents.

        Every step runs even when an earlier one raised (a finalizer that imports while
        the writers' search walks ``sys.modules``; zict's ``ZipFile.__del__``), and the
        first error is raised after all of them: a step skipped would leave this test's
        patches in every later test (each of zict's next tests errored at set-up).
        """
        with LOCK:
            if not self._attached:
                return
            with contextlib.ExitStack() as steps:  # callbacks run last-registered first
                steps.callback(self._forget_filesystem)
                steps.callback(self._patches.undo)
                steps.callback(self._uninstall_platform)
                # The reverse of _install's order: the writers see the modules they were
                # switched among (module_census.py keeps that search's answer then).
                steps.callback(self._writers.uninstall)
                steps.callback(setattr, self, "_attached", False)
                # First, while every rule is in place: a finalizer that closes one later
                # would find its filesystem gone.
                steps.callback(self.left_open.close_all, self.fs)

    def _uninstall_platform(self) -> None:
        if self._platform is not None:
            platform, self._platform = self._platform, None
            platform.uninstall()

    def _forget_filesystem(self) -> None:
        self.fs.umask = self._umask
        self.descriptors.release_all()
        self.fs.__class__ = FakeFilesystem
        self.fs.__dict__.pop("_ocirace_root_dir", None)
        fastpaths.forget(self.fs)
        symlinks.forget(self.fs)
        if getattr(self.fs, SIMULATION_ATTR, None) is self:
            delattr(self.fs, SIMULATION_ATTR)
        self.observer = None

    # -- public helpers ---------------------------------------------------------------------

    def key(self, path: Any) -> str:
        """The normalised key of ``path`` (what :class:`FsOp` carries)."""
        return names.key(_text(path), self.fs.cwd)

    def is_delete_pending(self, path: Any) -> bool:
        """Whether ``path`` was deleted but lingers because a handle is still open."""
        with LOCK:
            file = self._lookup(_native(_text(path)))
            return file is not None and id(file) in self._pending_delete

    def set_readonly(self, path: Any, readonly: bool = True) -> None:
        """Set or clear the read-only attribute (what ``attrib +r`` does)."""
        with LOCK, self._internal():
            file = FakeFilesystem.resolve(self.fs, _text(path))
            if readonly:
                file.st_mode &= ~0o222
            else:
                file.st_mode |= 0o200

    def refresh(self) -> None:
        """Re-apply patches pyfakefs undid while it paused (pytest pauses it around reports)."""
        with LOCK:
            if self._platform is not None:
                self._platform.refresh()

    def mark_next_open_temporary(self) -> None:
        """Make the next file open behave as if ``O_TEMPORARY`` had been passed."""
        self._next_open_temporary = True

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _internal(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def _lookup(self, path: str, *, follow: bool = False) -> FakeFile | None:
        with self._internal():
            try:
                if follow:
                    return FakeFilesystem.resolve(self.fs, path)
                return FakeFilesystem.lresolve(self.fs, path)
            except (OSError, KeyError, AttributeError):
                return None

    def _before(self, op: FsOp) -> Answer:
        observer = self.observer
        if observer is None:
            return Answer.PROCEED
        return observer.before(op)

    def _after(self, op: FsOp | None, error: BaseException | None) -> None:
        observer = self.observer
        if observer is not None and op is not None:
            observer.after(op, error)

    def _run(
        self, op: FsOp | None, action: Callable[[], T], translate: Callable[[OSError], OSError]
    ) -> T:
        """Run ``action`` as one observed operation, translating pyfakefs' errors."""
        self._depth += 1
        try:
            result = action()
        except OSError as exc:
            error = (
                exc if errors.is_windows_error(exc) or hasattr(exc, "winerror") else translate(exc)
            )
            self._after(op, error)
            if error is exc:
                raise
            raise error from None
        finally:
            self._depth -= 1
        self._after(op, None)
        return result

    def _fail(self, op: FsOp | None, error: OSError) -> OSError:
        self._after(op, error)
        return error

    def _missing(self, display: str, display2: str | None = None) -> OSError:
        """ERROR_FILE_NOT_FOUND, or ERROR_PATH_NOT_FOUND when the parent is missing too."""
        parent = ntpath.dirname(display) or "."
        code = errors.ERROR_FILE_NOT_FOUND
        if self._lookup(parent, follow=True) is None:
            code = errors.ERROR_PATH_NOT_FOUND
        return errors.windows_error(code, display, display2)

    def _as_windows(self, exc: OSError, display: str, display2: str | None = None) -> OSError:
        if exc.errno == _errno.ENOENT:
            return self._missing(display, display2)
        code = _WIN32_FROM_ERRNO.get(exc.errno or 0)
        if code is None:
            return exc
        return errors.windows_error(code, display, display2)

    def _state(
        self, file: FakeFile | None, missing: str | None = None, *, entries: bool = False
    ) -> NameState:
        """The decision table's view of ``file`` (None: the name does not exist).

        ``missing``: the caller's spelling of a name whose absence is an error, so whether
        its parent is missing too is worth a lookup. ``entries``: whether a directory's
        entries matter (``rmdir``; reading them loads a lazily mapped real directory).
        """
        if file is None:
            if missing is not None:
                parent = ntpath.dirname(missing) or "."
                if self._lookup(parent, follow=True) is None:
                    return _PARENT_MISSING
            return ABSENT
        plain, shared, delete = self.handles.counts(file)
        if isinstance(file, FakeDirectory):
            if not (plain or shared or (entries and file.entries)):
                return _DIRECTORY
            return NameState(
                exists=True,
                is_dir=True,
                open_handles=plain,
                shared_handles=shared,
                delete_handles=delete,
                has_entries=entries and bool(file.entries),
            )
        pending = id(file) in self._pending_delete
        if not (plain or shared or pending):
            return _FILE if file.st_mode & 0o200 else _READ_ONLY
        return NameState(
            exists=True,
            read_only=not file.st_mode & 0o200,
            open_handles=plain,
            shared_handles=shared,
            delete_handles=delete,
            delete_pending=pending,
        )

    def _digest(self, file: FakeFile | None) -> str | None:
        if self.observer is None or file is None or isinstance(file, FakeDirectory):
            return None
        return hashlib.sha256(file.byte_contents or b"").hexdigest()

    def _too_long(self, display: str, *, directory: bool = False) -> bool:
        if not self.options.max_path:
            return False
        absolute = ntpath.join(self.fs.cwd, display.replace("/", "\\"))
        return names.exceeds_max_path(absolute, directory=directory)

    def _bad_name(self, display: str) -> bool:
        if names.invalid_component(display) is not None:
            return True
        return (
            self.options.reserved_names == "error" and names.reserved_component(display) is not None
        )

    # -- handles ---------------------------------------------------------------------------

    def _register(self, fd: int, wrapper: Any) -> None:
        self.left_open.opened(wrapper)
        getter = getattr(wrapper, "get_object", None)
        file = getter() if getter is not None else None
        if not isinstance(file, FakeFile) or file is self.fs.dev_null:
            return
        pending, self._pending_open = self._pending_open, None
        if pending is not None:
            handle = Handle(
                pending.id,
                fd,
                file,
                pending.key,
                pending.display,
                pending.access,
                pending.share_delete,
                pending.delete_on_close,
                pending.reapable,
            )
        else:
            modes = getattr(wrapper, "open_modes", None)
            access = set()
            if modes is None or modes.can_read:
                access.add("read")
            if modes is not None and modes.can_write:
                access.add("write")
            path = str(file.path)
            handle = Handle(
                self.handles.new_id(), fd, file, self.key(path), path, frozenset(access)
            )
        self.handles.add(handle)

    def _closed(self, fd: int) -> None:
        handle = self.handles.get(fd)
        if handle is None:
            FakeFilesystem.close_open_file(self.fs, fd)
            return
        op = None
        if self.observer is not None and self._depth == 0:
            op = FsOp(OpKind.CLOSE, handle.key, handle.display, handle=handle.id)
            self._before(op)
        with self._internal():
            FakeFilesystem.close_open_file(self.fs, fd)
            self.handles.remove(fd)
            file = handle.file
            assert isinstance(file, FakeFile)
            if handle.delete_on_close:
                self._delete(file)
            if id(file) in self._pending_delete and not self.handles.on(file):
                _file, where = self._pending_delete.pop(id(file))
                self._unlink(file, where)
        self._after(op, None)

    def _reap(self, file: FakeFile | None) -> None:
        """Close file objects on ``file`` that nothing refers to any more.

        CPython closes a file object as soon as its reference count drops to zero
        (``open(p).read()``); pyfakefs' descriptor table keeps every wrapper alive, which
        would leave such handles blocking renames forever. Only ``open()`` objects qualify:
        a raw ``os.open`` descriptor stays open until ``os.close``, as on Windows.
        """
        if file is None:
            return
        for handle in self.handles.on(file):
            if not handle.reapable or handle.fd >= len(self.fs.open_files):
                continue
            wrappers = self.fs.open_files[handle.fd]
            if not wrappers or len(wrappers) != 1:
                continue
            if _references_to_first(wrappers) <= _UNREFERENCED:
                wrappers[0].close()
                if self.handles.get(handle.fd) is handle:
                    self._closed(handle.fd)

    def _delete(self, file: FakeFile, where: _Location | None = None) -> None:
        """Give ``file`` the delete disposition: gone now, or once its last handle closes.

        ``where`` is the directory entry the delete names (default: the file's own name):
        a hard-linked file is one pyfakefs object under several names, and its ``name``
        is the newest link's, so ``os.remove(old_name)`` must not take the new name away.
        """
        if decisions.name_lingers(self._state(file), self.options):
            self._pending_delete[id(file)] = (file, where)
        else:
            self._pending_delete.pop(id(file), None)
            self._unlink(file, where)

    def _location(self, path: str) -> _Location | None:
        """The directory holding ``path``'s entry, and the entry's name as stored there."""
        with self._internal():
            try:
                absolute = FakeFilesystem.absnormpath(self.fs, path)
            except (OSError, TypeError, ValueError):
                return None
        parent_path, name = ntpath.split(absolute)
        parent = self._lookup(parent_path, follow=True)
        if not isinstance(parent, FakeDirectory):
            return None
        lowered = name.lower()
        for stored in (name, *parent.entries):
            if stored.lower() == lowered and stored in parent.entries:
                return parent, stored
        return None

    def _unlink(self, file: FakeFile, where: _Location | None = None) -> None:
        if where is not None and where[0].entries.get(where[1]) is file:
            parent: Any = where[0]
            name = where[1]
        else:
            parent = file.parent_dir() if file.parent_dir is not None else None
            name = str(file.name)
        if not isinstance(parent, FakeDirectory) or parent.entries.get(name) is not file:
            return
        path = ntpath.join(str(parent.path), name)
        with self._internal():
            try:
                parent.remove_entry(name)
            except OSError:
                return
            if where is not None and str(file.name) == name and file.parent_dir is not None:
                # pyfakefs named the object after the entry just removed: another link
                # keeps it, under the name it has in its directory.
                _rename_to_surviving_link(file)
        self._streams.drop(path)

    # -- operations ---------------------------------------------------------------------------

    def open_file(
        self,
        path: Any,
        *,
        reading: bool,
        writing: bool,
        creating: bool,
        exclusive: bool,
        temporary: bool,
        reapable: bool = False,
        do_open: Callable[[Any], T],
    ) -> T:
        """Run one ``open()``/``os.open`` as Windows' C runtime would."""
        if self._depth:
            return do_open(path)
        if self._next_open_temporary and creating and exclusive:
            # tempfile's own O_CREAT|O_EXCL open inside NamedTemporaryFile(delete=True).
            temporary = True
            self._next_open_temporary = False
        display = _text(path)
        file: FakeFile | None = None
        target = display
        too_long = self._too_long(display)
        invalid = not too_long and (
            names.invalid_component(display, allow_stream=True) is not None
            or (self.options.reserved_names == "error" and bool(names.reserved_component(display)))
        )
        state = ABSENT
        if not (too_long or invalid):
            target = self._streams.redirect(_native(display), create=creating)
            file = self._lookup(target, follow=True)
            self._reap(file)
            state = self._state(file)
        if too_long or invalid:
            request = Request("open", writing, exclusive, temporary, too_long, invalid)
        else:
            request = _OPEN_REQUESTS[(bool(writing), bool(exclusive), bool(temporary))]
        code = decisions.verdict(request, state, options=self.options)
        # open() goes through the C runtime: the code's errno, winerror None.
        error = None if code is None else errors.crt_error(errors.WINERROR_TO_ERRNO[code], display)
        access = set()
        if reading:
            access.add("read")
        if writing:
            access.add("write")
        if temporary:
            access.add("delete")
        handle_id = self.handles.new_id()
        op = None
        if self.observer is not None:
            op = FsOp(
                OpKind.OPEN,
                self.key(display),
                display,
                handle=handle_id,
                access=frozenset(access),
                share_delete=temporary,
                creates=file is None and creating,
                exclusive=creating and exclusive,
            )
            self._before(op)
        if error is not None:
            raise self._fail(op, error)
        self._pending_open = _PendingOpen(
            handle_id, self.key(display), display, frozenset(access), temporary, temporary, reapable
        )
        try:
            # An ASCII bytes path (fasteners' lock files) is opened by its text, which
            # every other operation of this layer already hands pyfakefs: its bytes walk
            # none of the remembered per-string answers (fastpaths.py) reach. The object
            # is named by the bytes below, as CPython names it.
            argument = (
                path
                if target == display and not (path.__class__ is bytes and path.isascii())
                else target
            )
            opened = self._run(op, lambda: do_open(argument), lambda exc: _as_crt(exc, display))
        finally:
            self._pending_open = None
        if not isinstance(opened, int) and (
            argument is not path or not isinstance(path, (str, bytes))
        ):
            # Windows' file object names itself by what the caller passed ("a/../f.txt"
            # keeps its slashes; a path object as its string); pyfakefs named it by the
            # normalised path it was given, or by the path object itself.
            with contextlib.suppress(AttributeError, TypeError):
                opened.name = os.fspath(path)  # type: ignore[attr-defined]
        return opened

    def rename(self, old: Any, new: Any, replace: bool) -> None:
        """``os.rename`` (``MoveFileExW(a, b, 0)``) or ``os.replace`` (with REPLACE_EXISTING)."""
        src, dst = _text(old), _text(new)
        op = None
        source = self._lookup(_native(src))
        target = self._lookup(_native(dst))
        self._reap(source)
        self._reap(target)
        if self.observer is not None:
            op = FsOp(
                OpKind.REPLACE if replace else OpKind.RENAME,
                self.key(src),
                src,
                self.key(dst),
                dst,
                creates=target is None,
                content_digest=self._digest(source),
            )
            self._before(op)
        code = self._rename_verdict(src, dst, source, target, replace)
        if code is not None:
            raise self._fail(op, errors.windows_error(code, src, dst))
        assert source is not None
        # MoveFileExW(REPLACE_EXISTING) replaces a file symlink itself; pyfakefs' Windows
        # mode refuses every symlink target (EACCES). A link to a directory stays refused,
        # as on Windows.
        if (
            replace
            and target is not None
            and target is not source
            and _stat.S_ISLNK(target.st_mode)
            and not isinstance(self._lookup(_native(dst), follow=True), FakeDirectory)
        ):
            with self._internal():
                self._unlink(target)
        self._run(
            op,
            lambda: FakeFilesystem.rename(
                self.fs, _native(src), _native(dst), force_replace=replace
            ),
            lambda exc: self._as_windows(exc, src, dst),
        )
        if not self.options.delete_on_close_follows_rename:
            for handle in self.handles.on(source):
                handle.delete_on_close = False
        if self.key(src) != self.key(dst):
            self._streams.move(src, dst)

    def _rename_verdict(
        self,
        src: str,
        dst: str,
        source: FakeFile | None,
        target: FakeFile | None,
        replace: bool,
    ) -> int | None:
        too_long = self._too_long(src) or self._too_long(dst)
        invalid = other_volume = False
        if source is not None and not too_long:  # else the table answers before the names
            invalid = (
                ":" in ntpath.splitdrive(dst)[1]
                or self._bad_name(dst)
                or ":" in ntpath.splitdrive(src)[1]
            )
            other_volume = names.drive_of(self.key(src)) != names.drive_of(self.key(dst))
        kind = "replace" if replace else "rename"
        same_file = target is not None and target is source
        if too_long or invalid or other_volume or same_file:
            request = Request(
                kind,
                too_long=too_long,
                invalid_name=invalid,
                other_volume=other_volume,
                same_file=same_file,
            )
        else:
            request = _PLAIN_REQUESTS[kind]
        return decisions.verdict(
            request, self._state(target), self._state(source, src), self.options
        )

    def remove(self, path: Any) -> None:
        """``os.remove``/``os.unlink`` (``DeleteFileW``)."""
        display = _text(path)
        _base, stream = names.split_stream(display)
        target = self._streams.redirect(_native(display)) if stream else _native(display)
        file = self._lookup(target)
        self._reap(file)
        op = None
        if self.observer is not None:
            op = FsOp(OpKind.REMOVE, self.key(display), display)
            self._before(op)
        too_long = self._too_long(display)
        request = Request("remove", too_long=True) if too_long else _PLAIN_REQUESTS["remove"]
        code = decisions.verdict(request, self._state(file, display), options=self.options)
        if code is not None:
            raise self._fail(op, errors.windows_error(code, display))
        assert file is not None
        with self._internal():
            self._delete(file, self._location(target))
        self._after(op, None)

    def stat_like(self, path: Any, kind: str, action: Callable[[str], T], absent: T) -> T:
        """Existence and metadata queries; ``kind`` is ``"stat"`` (raises) or a predicate."""
        try:
            display = _text(path)
        except ValueError:
            if kind == "stat":
                raise
            return absent  # os.path.exists("a\0") is False, as in CPython
        op = None
        if self.observer is not None:
            op = FsOp(OpKind.STAT, self.key(display), display)
            if self._before(op) is Answer.PRETEND_ABSENT:
                if kind == "stat":
                    raise self._fail(op, errors.windows_error(errors.ERROR_FILE_NOT_FOUND, display))
                self._after(op, None)
                return absent
        target = _native(display)
        if ":" in ntpath.splitdrive(target)[1]:
            target = self._streams.redirect(target)
        return self._run(op, lambda: action(target), lambda exc: self._as_windows(exc, display))

    def make_directory(self, path: Any, mode: int) -> None:
        display = _text(path)
        op = None
        if self.observer is not None:
            op = FsOp(OpKind.MKDIR, self.key(display), display)
            self._before(op)
        too_long = self._too_long(display, directory=True)
        invalid = not too_long and self._bad_name(display)
        request = (
            Request("mkdir", too_long=too_long, invalid_name=invalid)
            if too_long or invalid
            else _PLAIN_REQUESTS["mkdir"]
        )
        code = decisions.verdict(request, ABSENT, options=self.options)
        if code is not None:
            raise self._fail(op, errors.windows_error(code, display))
        self._run(
            op,
            lambda: FakeFilesystem.makedir(self.fs, _native(display), mode),
            lambda exc: self._as_windows(exc, display),
        )

    def remove_directory(self, path: Any, allow_symlink: bool) -> None:
        display = _text(path)
        op = None
        if self.observer is not None:
            op = FsOp(OpKind.RMDIR, self.key(display), display)
            self._before(op)
        # pyfakefs refuses "." itself (EACCES) before it looks at the directory.
        if display != ".":
            state = self._state(self._lookup(_native(display), follow=True), entries=True)
            code = decisions.verdict(_PLAIN_REQUESTS["rmdir"], state, options=self.options)
            if code is not None:
                raise self._fail(op, errors.windows_error(code, display))
        self._run(
            op,
            lambda: FakeFilesystem.rmdir(self.fs, _native(display), allow_symlink),
            lambda exc: self._as_windows(exc, display),
        )

    def link(self, old: Any, new: Any, follow_symlinks: bool) -> FakeFile:
        """``os.link`` (``CreateHardLinkW``)."""
        src, dst = _text(old), _text(new)
        source = self._lookup(_native(src))
        existing = self._lookup(_native(dst))
        op = None
        if self.observer is not None:
            op = FsOp(
                OpKind.LINK,
                self.key(src),
                src,
                self.key(dst),
                dst,
                creates=existing is None,
                content_digest=self._digest(source),
            )
            self._before(op)
        too_long = self._too_long(src) or self._too_long(dst)
        target = ABSENT
        invalid = other_volume = False
        if source is not None and not too_long:  # else the table answers before the names
            invalid = self._bad_name(dst)
            target = self._state(existing)
            other_volume = names.drive_of(self.key(src)) != names.drive_of(self.key(dst))
        request = (
            Request("link", too_long=too_long, invalid_name=invalid, other_volume=other_volume)
            if too_long or invalid or other_volume
            else _PLAIN_REQUESTS["link"]
        )
        code = decisions.verdict(request, target, self._state(source, src), self.options)
        if code is not None:
            raise self._fail(op, errors.windows_error(code, src, dst))
        return self._run(
            op,
            lambda: FakeFilesystem.link(self.fs, _native(src), _native(dst), follow_symlinks),
            lambda exc: self._as_windows(exc, src, dst),
        )


#: A directory entry: the directory and the name as stored there.
_Location = tuple[FakeDirectory, str]


def _rename_to_surviving_link(file: FakeFile) -> None:
    """Give a hard-linked ``file`` the name of an entry that still holds it, if one is known.

    pyfakefs keeps one ``name`` and ``parent_dir`` per object; after one of its names is
    removed they must point at a remaining one, or ``file.path`` names a missing entry.
    """
    parent = file.parent_dir() if file.parent_dir is not None else None
    if isinstance(parent, FakeDirectory):
        for stored, entry in parent.entries.items():
            if entry is file:
                file.name = stored  # type: ignore[assignment]  # pyfakefs: AnyStr
                return


def _as_crt(exc: OSError, display: str) -> OSError:
    if exc.errno in errors.CRT_MESSAGES:
        return errors.crt_error(exc.errno, display)
    return exc


# The real ``getcwd``, kept where pyfakefs does not look: while a patcher runs it replaces
# this module's ``os`` with its fake one.
_REAL_OS = types.SimpleNamespace(getcwd=os.getcwd)
_UNREPRESENTABLE = frozenset('\\:*?"<>|')


def _host_directories() -> tuple[str, ...]:
    r"""The host's temp and home directories as Windows spells them (``/tmp`` is ``C:\tmp``).

    Libraries read them at import, before any simulation: portalocker's
    ``BoundedSemaphore`` defaults its directory to ``tempfile.gettempdir()`` (``/tmp``), a
    cache to ``~/.cache/...``. Inside the simulation such a string names a directory of the
    fake filesystem, which had none: ``FileNotFoundError`` on ``C:\tmp\...``. On Windows
    both directories exist, so each simulation makes them, empty. Their real contents are
    not shown: every ``tmp_path`` of the session is in them, and listing them made each
    simulated test grow with the suite (docs/performance.md, ninth session).
    """
    import tempfile

    found = []
    for real in (tempfile.gettempdir(), os.path.expanduser("~")):
        parts = [part for part in real.split("/") if part]
        if (
            real.startswith("/")
            and parts
            and not any(_UNREPRESENTABLE.intersection(p) for p in parts)
        ):
            found.append("C:\\" + "\\".join(parts))
    return tuple(dict.fromkeys(found))


#: Taken when this module is first imported, before any simulation replaces ``tempfile``'s.
HOST_DIRECTORIES = _host_directories()


def working_directory(option: str) -> str:
    r"""The simulation's working directory for the ``workdir`` option.

    ``real``: the real working directory (where the suite was started), as Windows spells
    the same fake directory (``/home/u/proj`` is ``C:\home\u\proj``); relative paths
    in a suite then name the project's files, which the real tree shows. A real directory
    whose name Windows cannot hold falls back to ``C:\work``.
    """
    if option != REAL_WORKDIR:
        return option
    real = _REAL_OS.getcwd()
    parts = [part for part in real.split("/") if part]
    if ntpath.splitdrive(real)[0] or any(_UNREPRESENTABLE.intersection(p) for p in parts):
        return DEFAULT_WORKDIR
    return "C:\\" + "\\".join(parts)


def _set_cwd(fs: FakeFilesystem, path: str) -> None:
    """``fs.cwd = path``; pyfakefs' setter only adds to that a mount of the path's drive."""
    if ntpath.splitdrive(path)[0].upper() in fs.mount_points:
        fs._cwd = path
    else:
        fs.cwd = path


def _first_user_file(directory: FakeDirectory) -> str | None:
    for entry in list(directory.entries.values()):
        if isinstance(entry, FakeDirectory):
            found = _first_user_file(entry)
            if found is not None:
                return found
        elif not _stat.S_ISLNK(entry.st_mode):
            return str(entry.path)
    return None


@contextmanager
def simulate(
    options: SimulationOptions | None = None, *, real_trees: Sequence[str] = ()
) -> Iterator[WindowsFilesystem]:
    """Run a block inside the simulation without pytest (scripts, the conformance run).

    ``real_trees``: real directories readable inside (``realtree.project_roots()``), as
    the ``real_tree`` option says; the plugin passes the test's own.
    """
    options = options or SimulationOptions()
    # Before the patcher starts: pyfakefs drops modules first imported while it runs.
    preload.load_before_patching(options.windows_platform_modules)
    # The same for the modules earlier simulated tests imported (not while a patcher runs
    # already, nor with Windows copies swapped in: dropped_imports.py).
    watch = None
    if not options.windows_import_modules and not patcher_running():
        dropped_imports.DROPPED.load_again()
        watch = dropped_imports.DROPPED.watch(options.windows_platform_modules)
    # Through sys.modules, not the package attribute: after pytester's in-process runs
    # drop modules, the attribute is a stale copy that would guard stale sqlite3/mmap.
    boundaries = importlib.import_module("pytest_ocirace.fakefs.boundaries")
    fileio = importlib.import_module("pytest_ocirace.fakefs.fileio")
    zipimports = importlib.import_module("pytest_ocirace.fakefs.zipimports")
    mock_targets = importlib.import_module("pytest_ocirace.fakefs.mock_targets")

    patcher = start_patcher(watch)
    try:
        assert patcher.fs is not None

        sim = WindowsFilesystem.attach(patcher.fs, options, real_trees=real_trees)
        fs = sim.fs

        def is_active() -> bool:
            return bool(patcher.is_patching)

        def owns_fd(fd: int) -> bool:
            return 0 <= fd < len(fs.open_files) and bool(fs.open_files[fd])

        guards = boundaries.Boundaries()
        file_io = ClassPatches()
        try:
            inforce.enter(file_io, fs, is_active, owns_fd)
            guards.install()
            fileio.install(file_io)
            zipimports.install(file_io)
            mock_targets.install(file_io, patcher.fake_modules.values())
            yield sim
        finally:
            try:
                file_io.undo()
                guards.uninstall()
            finally:
                sim.detach()
    finally:
        patcher.tearDown()
        release(patcher)
