r"""The test's own real directories, visible inside the fake filesystem.

A fake filesystem that starts empty breaks code that looks at the files it came from:
python-dotenv's ``find_dotenv`` walks up from the caller's ``co_filename``,
``importlib.resources`` reads data files (and zip archives) next to a package,
``inspect``/``linecache`` read sources, tests open fixtures shipped beside them. Each of
those passes plain and failed under the simulation with a ``FileNotFoundError`` that said
nothing about why.

:func:`map_trees` makes chosen real directories readable at their own path: a POSIX path
such as ``/work/proj/test_x.py`` (what ``co_filename`` gives) is read by the Windows fake
filesystem as ``C:\work\proj\test_x.py``, the same file under both spellings. The mapping is
lazy: setting it up costs one ``stat`` per tree (and a few directory objects for its
parents); a directory is listed, and a file read, only when the test touches it
(``bench/bench_simulation.py`` measures the setup cost against no mapping).

Nothing is ever written back to the real disk. Two modes (option ``real_tree``):

- ``copy-on-write`` (the default): a mapped file can be changed, replaced or removed like
  any file of the simulation; the change lives in the fake filesystem only.
- ``read-only``: mapped files carry Windows' read-only attribute, so writing, replacing or
  removing one fails as on Windows (``PermissionError`` ``[Errno 13]`` from ``open()``,
  ``[WinError 5]`` from ``os.replace``/``os.remove``). New files in mapped directories are
  allowed either way (the read-only attribute of a Windows directory does not forbid them).
"""

from __future__ import annotations

import ntpath
import os
import re
import stat as _stat
import sys
import types
from collections.abc import Iterable, Sequence
from typing import Any

from pyfakefs.fake_file import (
    FakeDirectory,
    FakeDirectoryFromRealDirectory,
    FakeFile,
    FakeFileFromRealFile,
)
from pyfakefs.fake_filesystem import FakeFilesystem

from pytest_ocirace.fakefs.locking import LOCK

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = [
    "DIRECTORY_MODE",
    "MODES",
    "RealTreeDirectory",
    "map_trees",
    "mapped_twin",
    "project_roots",
    "real_stat",
]

#: Values of the ``real_tree`` option.
MODES = ("copy-on-write", "read-only", "off")

#: A shown real directory's mode: a Windows directory's, as the simulation's own have.
DIRECTORY_MODE = _stat.S_IFDIR | 0o777
#: A Windows file's permission bits, without and with the read-only attribute.
_WRITABLE, _READ_ONLY = 0o666, 0o444

# The real ``os`` functions, kept where pyfakefs does not look: while a patcher runs it
# replaces this module's ``os`` (and any module-level function imported from it) with fakes.
_REAL = types.SimpleNamespace(
    listdir=os.listdir, stat=os.stat, getcwd=os.getcwd, abspath=os.path.abspath
)


def real_stat(path: str) -> os.stat_result:
    """``os.stat`` of the real disk (following links), also while pyfakefs patches ``os``."""
    result: os.stat_result = _REAL.stat(path)
    return result


# Windows cannot hold these names: a POSIX file called ``a\b`` or ``c:d`` is left out.
_UNREPRESENTABLE = frozenset('\\:*?"<>|')
_SEP = os.sep
_SEPARATORS = "/\\"


#: Which children of a real ancestor directory to show: name -> the same for that child,
#: or ``None`` for "everything below" (a mapped tree).
Only = dict[str, "Only | None"]


class RealTreeDirectory(FakeDirectoryFromRealDirectory):
    """A fake directory whose entries are read from a real one the first time they are needed.

    pyfakefs' own lazy directory fills itself through the filesystem's public methods
    (``add_real_file``...), which the simulation routes through its layer and reports to
    the race model as the test's own operations; this one builds its children directly.
    Symbolic links are followed (Windows has no POSIX symlinks to show them as); a broken
    one, or a name Windows cannot hold, is left out, as is the second of two names that
    differ only in case (Windows names are case-insensitive).

    With ``only``, the directory is an ancestor of mapped trees and shows just the way to
    them: one object stands for ``/root/.pyenv/versions/...`` until the test looks inside,
    instead of one fake directory per level built for every test.
    """

    def __init__(
        self,
        source_path: str,
        filesystem: FakeFilesystem,
        read_only: bool,
        name: str,
        only: Only | None = None,
    ) -> None:
        # The base class takes the name from ``target_path`` with the host's os.path.
        super().__init__(source_path, filesystem, read_only, target_path=name)
        self.st_mode = DIRECTORY_MODE
        self.only = only

    @property
    def entries(self) -> dict[str, FakeFile]:
        if not self.contents_read:
            with LOCK:
                if not self.contents_read:
                    self.contents_read = True
                    self._load()
        return self._entries

    def _load(self) -> None:
        source = str(self.source_path)
        only = self.only
        if only is not None:
            names: list[str] = list(only)
        else:
            try:
                names = sorted(_REAL.listdir(source))
            except OSError:
                return
        seen = {name.lower() for name in self._entries}
        for name in names:
            if _UNREPRESENTABLE.intersection(name) or name.lower() in seen:
                continue
            seen.add(name.lower())
            path = source.rstrip(_SEPARATORS) + _SEP + name
            try:
                real = _REAL.stat(path)  # follows symlinks
            except OSError:
                continue
            child: FakeFile
            if _stat.S_ISDIR(real.st_mode):
                below = only[name] if only is not None else None
                child = RealTreeDirectory(path, self.filesystem, self.read_only, name, below)
            elif _stat.S_ISREG(real.st_mode) and only is None:
                child = _real_file(path, name, real, self.filesystem, self.read_only)
            else:  # sockets, fifos, devices: nothing a Windows test could read
                continue
            FakeDirectory.add_entry(self, child)


def _real_file(
    path: str, name: str, real: os.stat_result, fs: FakeFilesystem, read_only: bool
) -> FakeFile:
    """What ``add_real_file`` makes, without its lookups through the (routed) filesystem."""
    file = FakeFileFromRealFile(name, fs)
    file.stat_result.set_from_stat_result(real)
    # Windows has one permission bit, the read-only attribute: a file reads 0o666 or
    # 0o444, whatever mode it has here (a template copied with copymode() kept 0o644 beside
    # a file written inside at 0o666: cookiecutter's permission test).
    writable = bool(real.st_mode & _stat.S_IWUSR) and not read_only
    file.st_mode = _stat.S_IFREG | (_WRITABLE if writable else _READ_ONLY)
    file.file_path = path
    return file


_ROOTS: dict[tuple[object, ...], list[str]] = {}


def project_roots(extra: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    r"""The real directories worth mapping: ``extra`` plus every directory on ``sys.path``.

    Nested directories are dropped (their outermost mapped ancestor already shows them),
    as are filesystem roots (mapping ``/`` would show the whole disk as ``C:\``) and
    entries that are not directories (a zip archive on ``sys.path`` is a file inside one of
    the mapped trees, or is not shown). Must run on the real filesystem: before the
    simulation starts.
    """
    entries = (*extra, *sys.path)
    key = (_REAL.getcwd(), *entries)
    cached = _ROOTS.get(key)
    if cached is None:
        if len(_ROOTS) > 64:
            _ROOTS.clear()
        cached = _ROOTS[key] = _outermost(entries)
    return list(cached)


def _outermost(entries: Iterable[object]) -> list[str]:
    candidates: list[str] = []
    for entry in entries:
        if not isinstance(entry, (str, os.PathLike)):
            continue
        text = os.fspath(entry)
        if not isinstance(text, str):
            continue
        path = os.path.abspath(text or os.curdir)
        if path == os.path.dirname(path) or not os.path.isdir(path):
            continue
        candidates.append(os.path.realpath(path) if os.path.islink(path) else path)
    roots: list[str] = []
    for path in sorted(set(candidates), key=len):
        if not any(path.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
            roots.append(path)
    return roots


def map_trees(fs: FakeFilesystem, roots: Sequence[str], *, read_only: bool) -> list[str]:
    r"""Show each real directory of ``roots`` at its own path in the Windows fake ``fs``.

    Returns the roots that were mapped. A root is skipped, not merged, when its place is
    already taken in the fake filesystem (the simulation's working directory ``C:\work``
    when the real tree is ``/work`` itself, or a file): what the simulation made there
    wins. Roots must not be nested (:func:`project_roots` drops nested ones). Runs on
    pyfakefs' tree objects directly, under the filesystem lock, so no operation is
    reported to the race model.
    """
    tries: dict[str, Only] = {}
    for root in roots:
        drive, rest = ntpath.splitdrive(root)
        parts = [part for part in re.split(r"[\\/]+", rest) if part]
        if not parts or _UNREPRESENTABLE.intersection("".join(parts)):
            continue
        node = tries.setdefault(drive, {})
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is None:  # below a mapped root
                break
            node = child
        else:
            node[parts[-1]] = None
    mapped: list[str] = []
    with LOCK:
        for drive, trie in tries.items():
            drive = drive or ntpath.splitdrive(fs.cwd)[0] or "C:"
            top = fs.root.entries.get(drive) or FakeFilesystem.resolve(fs, drive + "\\")
            if not isinstance(top, FakeDirectory):
                continue
            real = drive + _SEP if drive and _SEP == "\\" else _SEP
            _graft(fs, top, real, trie, read_only, mapped)
    return mapped


def _graft(
    fs: FakeFilesystem,
    directory: FakeDirectory,
    real: str,
    trie: Only,
    read_only: bool,
    mapped: list[str],
) -> None:
    """Hang the real subtrees of ``trie`` below ``directory`` (the fake twin of ``real``)."""
    for name, below in trie.items():
        path = real.rstrip(_SEPARATORS) + _SEP + name
        existing = _child(directory, name)
        if existing is None:
            try:
                child = RealTreeDirectory(path, fs, read_only, name, below)
            except OSError:
                continue
            FakeDirectory.add_entry(directory, child)
            mapped.extend(_leaves(path, below))
        elif below is not None and isinstance(existing, FakeDirectory):
            # A directory the simulation made (C:\work): go on below it.
            _graft(fs, existing, path, below, read_only, mapped)


def _leaves(path: str, trie: Only | None) -> list[str]:
    if trie is None:
        return [path]
    found: list[str] = []
    for name, below in trie.items():
        found.extend(_leaves(path.rstrip(_SEPARATORS) + _SEP + name, below))
    return found


def _child(directory: FakeDirectory, name: str) -> FakeFile | None:
    entries = directory.entries
    found = entries.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    for key, value in entries.items():
        if key.lower() == lowered:
            return value
    return None


def mapped_twin(fs: FakeFilesystem, source_path: Any, target_path: Any, read_only: bool) -> Any:
    """The entry the mapping already shows for real ``source_path`` at ``target_path``.

    pyfakefs users map data files themselves (``fs.add_real_file(DATA)``,
    ``add_real_directory``); with the real tree already shown, pyfakefs would refuse with
    ``FileExistsError``. When the entry at the target is the mapping's own view of that
    same real file or directory, it is returned instead (made read-only if asked), and
    ``None`` means "not mapped here: let pyfakefs add it".
    """
    source = _REAL.abspath(os.fspath(source_path))
    target = os.fspath(target_path) if target_path is not None else source
    try:
        entry = FakeFilesystem.resolve(fs, target)
    except (OSError, KeyError, AttributeError, TypeError):
        return None
    if isinstance(entry, RealTreeDirectory) and entry.source_path == source:
        if read_only:
            _make_read_only(entry)
        return entry
    if isinstance(entry, FakeFileFromRealFile) and getattr(entry, "file_path", None) == source:
        if read_only:
            entry.st_mode &= 0o777444
        return entry
    return None


def _make_read_only(directory: RealTreeDirectory) -> None:
    directory.read_only = True
    if not directory.contents_read:
        return
    for child in directory._entries.values():
        if isinstance(child, RealTreeDirectory):
            _make_read_only(child)
        elif isinstance(child, FakeFileFromRealFile):
            child.st_mode &= 0o777444
