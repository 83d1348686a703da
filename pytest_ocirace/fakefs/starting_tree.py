r"""The directories a simulated filesystem holds when its test starts, built once and copied.

Every simulation starts with the same directories: the test's real trees shown lazily
(``realtree.py``: one directory object per ancestor of a mapped tree, those on the way to the
working directory already listed), the working directory, the temp directory
(``C:\Users\ocirace\AppData\Local\Temp``) and the host's temp and home directories. pyfakefs
builds each directory object through ``FakeFile.__init__`` and ``add_entry`` (about 20 us,
45 us for one that stats its real twin), which made the same dozen objects cost about
0.45 ms per test.

:meth:`StartingTree.give` builds them the usual way the first time, into the test's fresh
filesystem, and keeps a copy of what was built (a *template*). A later fresh filesystem for
the same tree gets copies of the template's objects instead: each a new object with the
template's attributes, a stat result of its own, its own parent and filesystem, with what a
build would have read at that moment read again: the real directory's stat (mode, owner,
times; a real directory that is gone or is no longer a directory makes the copy fall back
to a build), now as the times of a made directory, pyfakefs' user and group. The inode
numbers, link counts and the filesystem's inode counter come out as a build gives them, so
a copy is the tree a build makes (``tests/fakefs/test_starting_tree.py`` compares them).

Only a tree that a copy can reproduce is kept: everything below one drive, no new mount
point, and no real directory listed in full (that listing is the real disk's now, not the
template's: a working directory below a mapped tree keeps the build for every test). A
filesystem that is not fresh (pyfakefs' ``fs`` came first and holds more) is built into the
usual way.
"""

from __future__ import annotations

import importlib
import ntpath
import stat as _stat
import types
import weakref
from dataclasses import dataclass
from typing import Any

from pyfakefs import helpers
from pyfakefs.fake_file import FakeDirectory, FakeFile
from pyfakefs.fake_filesystem import FakeFilesystem

from pytest_ocirace.fakefs.locking import LOCK

__all__ = ["StartingTree", "TreeError", "make_directories"]


class TreeError(RuntimeError):
    """A directory of the starting tree cannot be made (a file is in its place)."""


def make_directories(fs: FakeFilesystem, path: str) -> None:
    """``makedirs`` for a fresh drive, without pyfakefs' per-component path resolution."""
    drive, rest = ntpath.splitdrive(path)
    current = fs.root.entries.get(drive) or FakeFilesystem.resolve(fs, drive + "\\")
    for part in rest.strip("\\").split("\\"):
        if not part:
            continue
        child = current.entries.get(part)
        if child is None:
            child = FakeDirectory(part, filesystem=fs)
            current.add_entry(child)
        if not isinstance(child, FakeDirectory):
            raise TreeError(f"pytest-ocirace: {path!r} exists and is not a directory")
        current = child


@dataclass(frozen=True)
class StartingTree:
    """What a simulated filesystem holds before its test runs (hashable: the template key).

    ``real_roots`` are shown first (``read_only`` as the ``real_tree`` option says), so a
    working directory inside one is the mapped directory; then ``workdir`` and each of
    ``directories`` is made, empty where nothing shows one.
    """

    workdir: str
    directories: tuple[str, ...] = ()
    real_roots: tuple[str, ...] = ()
    read_only: bool = False

    def give(self, fs: FakeFilesystem) -> None:
        """Put this tree into ``fs``: a copy of the template if ``fs`` is fresh, else a build."""
        # Through sys.modules, as simulate() does: after pytester's in-process runs drop
        # modules, the tree must be made of the classes the running copy checks for.
        realtree = importlib.import_module("pytest_ocirace.fakefs.realtree")
        with LOCK:
            fresh = _fresh(fs)
            key = (realtree, self)
            template = _TEMPLATES.get(key)
            if (
                fresh is not None
                and template is not None
                and template.fresh == fresh
                and template.copy_into(fs, realtree)
            ):
                return
            self._build(fs, realtree)
            if fresh is not None:
                if len(_TEMPLATES) > _KEPT:
                    _TEMPLATES.clear()
                _TEMPLATES[key] = _Template.learn(fs, fresh, realtree)

    def _build(self, fs: FakeFilesystem, realtree: types.ModuleType) -> None:
        if self.real_roots:
            realtree.map_trees(fs, self.real_roots, read_only=self.read_only)
        for path in (self.workdir, *self.directories):
            make_directories(fs, path)


#: Templates kept, by realtree module and tree; ``None``: this tree is built every time.
_TEMPLATES: dict[tuple[types.ModuleType, StartingTree], _Template | None] = {}
_KEPT = 32


def _fresh(fs: FakeFilesystem) -> tuple[object, ...] | None:
    """What a fresh Windows filesystem looks like, or None if ``fs`` holds anything more.

    Fresh: one drive, nothing on it; the counters and the drive's link count are what the
    template's build started from.
    """
    root = fs.root
    entries = root._entries
    if len(entries) != 1:
        return None
    ((name, drive),) = entries.items()
    if type(drive) is not FakeDirectory or drive._entries:
        return None
    return (name, fs.last_ino, fs.last_dev, tuple(fs.mount_points), drive.st_nlink)


#: Attributes of a directory that are its own in every copy (the rest are immutable values,
#: and ``only``, the trie of a real ancestor, which is only read).
_OWN = frozenset({"stat_result", "_filesystem", "parent_dir", "xattr", "_entries"})


class _Template:
    """Directory objects as a build left them, to be copied into fresh filesystems."""

    def __init__(
        self,
        fresh: tuple[object, ...],
        children: dict[str, FakeFile],
        drive_links: int,
        last_ino: int,
    ) -> None:
        self.fresh = fresh
        self._children = children
        self._drive_links = drive_links
        self._last_ino = last_ino

    @classmethod
    def learn(
        cls, fs: FakeFilesystem, fresh: tuple[object, ...], realtree: types.ModuleType
    ) -> _Template | None:
        """A template of what the build put into ``fs``, or None if a copy cannot redo it."""
        name = str(fresh[0])
        if tuple(fs.mount_points) != fresh[3] or list(fs.root._entries) != [name]:
            return None
        drive = fs.root._entries[name]
        if not all(_copyable(child, realtree) for child in drive._entries.values()):
            return None
        children = _copy_entries(drive._entries, None, None, 0, realtree)
        assert children is not None  # no real stat asked for a template
        return cls(fresh, children, drive.st_nlink, fs.last_ino)

    def copy_into(self, fs: FakeFilesystem, realtree: types.ModuleType) -> bool:
        """Copy the template into fresh ``fs``; False (``fs`` untouched) if the real disk moved."""
        drive = fs.root._entries[str(self.fresh[0])]
        filesystem = weakref.ref(fs)
        parent = weakref.ref(drive)
        made_at = int(helpers.now() * 1e9)  # type: ignore[no-untyped-call]
        copies = _copy_entries(self._children, filesystem, parent, made_at, realtree)
        if copies is None:
            return False
        drive._entries.update(copies)
        drive.st_nlink = self._drive_links
        fs.last_ino = self._last_ino
        return True


def _copyable(node: FakeFile, realtree: types.ModuleType) -> bool:
    if type(node) is FakeDirectory:
        pass
    elif type(node) is realtree.RealTreeDirectory:
        if node.contents_read and node.only is None:
            return False  # a listing of the real disk: read again by each test
    else:
        return False
    return all(_copyable(child, realtree) for child in node._entries.values())


def _copy(
    node: Any,
    filesystem: weakref.ReferenceType[FakeFilesystem] | None,
    parent: weakref.ReferenceType[Any] | None,
    made_at: int,
    realtree: types.ModuleType,
) -> Any:
    """A copy of ``node`` and its entries (None if a real directory changed kind or left).

    ``filesystem`` None: a template copy, whose stat result is kept as it is.
    """
    state = dict(node.__dict__)
    stat_result = object.__new__(type(node.stat_result))
    stat_result.__dict__.update(node.stat_result.__dict__)
    if filesystem is not None:
        if type(node) is FakeDirectory:
            # What FakeFile.__init__ reads when a build makes the directory.
            stat_result.st_uid = helpers.get_uid()
            stat_result.st_gid = helpers.get_gid()
            stat_result._st_atime_ns = stat_result._st_mtime_ns = made_at
            stat_result._st_ctime_ns = made_at
        else:
            # What FakeDirectoryFromRealDirectory.__init__ reads from the real directory.
            try:
                real = realtree.real_stat(node.source_path)
            except OSError:
                return None
            if not _stat.S_ISDIR(real.st_mode):
                return None
            stat_result.st_mode = realtree.DIRECTORY_MODE
            stat_result.st_ctime = real.st_ctime
            stat_result.st_atime = real.st_atime
            stat_result.st_mtime = real.st_mtime
            stat_result.st_gid = real.st_gid
            stat_result.st_uid = real.st_uid
    state["stat_result"] = stat_result
    state["_filesystem"] = filesystem
    state["parent_dir"] = parent
    state["xattr"] = {}
    copy = object.__new__(type(node))
    entries = _copy_entries(node._entries, filesystem, weakref.ref(copy), made_at, realtree)
    if entries is None:
        return None
    state["_entries"] = entries
    object.__setattr__(copy, "__dict__", state)
    return copy


def _copy_entries(
    entries: dict[str, Any],
    filesystem: weakref.ReferenceType[FakeFilesystem] | None,
    parent: weakref.ReferenceType[Any] | None,
    made_at: int,
    realtree: types.ModuleType,
) -> dict[str, Any] | None:
    """A copy of each of ``entries`` under ``parent`` (None as soon as one cannot be made)."""
    copies = {}
    for name, child in entries.items():
        copy = _copy(child, filesystem, parent, made_at, realtree)
        if copy is None:
            return None
        copies[name] = copy
    return copies
