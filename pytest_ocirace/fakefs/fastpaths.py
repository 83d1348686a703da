r"""pyfakefs' Windows path arithmetic, answered once per spelling.

pyfakefs in Windows mode re-derives the same facts about a path string dozens of times per
operation: one ``os.replace`` splits drives about 180 times, and every split asks three
properties (an enum lookup each) for the separators. On a Linux host the same workload in
pyfakefs' Linux mode does a third of that work, which is the baseline the simulation is
judged against (docs/performance.md). The functions below are pure functions of the path
*string* as long as the filesystem has its plain Windows configuration (default
separators, Windows rules), so :class:`FastWindowsPaths` remembers their answers per
string, in bounded tables, and falls back to pyfakefs' own code for anything else (bytes,
path objects, ``PurePosixPath`` arithmetic through ``use_fs_type``, custom separators).

``absnormpath`` also depends on the working directory and the mount table, so its table is
keyed by the working directory too and dropped when the root or the mount table changes.
The walks that depend on the tree's names (``resolve_path``: symbolic links followed;
``_original_path``: each existing component in its stored case; the object at a path,
or the ``ENOENT`` of a missing one, which also answers ``exists``; ``os.path.realpath``'s
walk, an ``islink`` per component) are remembered the same way
(pyfakefs walks one path about ten times per operation) together with the lookups each
walk made, and answered again while those lookups still give what the walk used
(:mod:`pytest_ocirace.fakefs.walkstamps`): writing a file in one directory no longer
drops the walks through the others, nor, when spelled as asked, the walk to itself.
While no link exists, ``resolve_path`` is ``_original_path`` plus string arithmetic
(pyfakefs' link-following walk finds nothing to follow). While the filesystem may hold a
link, a walk is valid only until the next change of any directory, as before.

:func:`install` also swaps pyfakefs' ``make_string_path``/``matching_string`` helpers for
versions with a fast path for ``str`` (about 500 calls per operation), for the life of a
simulation.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from stat import S_ISDIR, S_ISLNK
from typing import Any, NoReturn, TypeVar, cast

from pyfakefs import fake_filesystem, helpers
from pyfakefs.fake_file import FakeDirectory
from pyfakefs.fake_filesystem import FakeFilesystem
from pyfakefs.fake_path import FakePathModule
from pyfakefs.helpers import FSType

from pytest_ocirace.fakefs import walkstamps
from pytest_ocirace.fakefs.locking import ClassPatches
from pytest_ocirace.fakefs.symlinks import may_hold_links

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = ["FastWindowsPaths", "clear", "folded", "forget", "install"]

K = TypeVar("K")
T = TypeVar("T")

_DEFAULT = FSType.DEFAULT
_WINDOWS = FSType.WINDOWS
_POSIX = FSType.POSIX


def _index(fs_type: FSType) -> int:
    """``fs_type.value`` without the enum's descriptor and hash (both in Python on 3.11)."""
    if fs_type is _DEFAULT:
        return 0
    if fs_type is _WINDOWS:
        return 2
    if fs_type is _POSIX:
        return 1
    return int(fs_type.value)


#: Entries per table before it is emptied (a suite with many distinct paths keeps working;
#: the tables only hold strings, booleans and tuples).
LIMIT = 4096

_SPLITDRIVE: dict[str, tuple[str, str]] = {}
_NORMCASE: dict[str, str] = {}
_NORMPATH: dict[str, str] = {}
_COMPONENTS: dict[str, tuple[str, ...]] = {}
_ISABS: dict[str, bool] = {}
_SPLITPATH: dict[str, tuple[str, str]] = {}
_STARTS_WITH_SEP: dict[str, bool] = {}
_DRIVE_LETTER: dict[str, bool] = {}
_TABLES: tuple[dict[str, Any], ...] = (
    _SPLITDRIVE,
    _NORMCASE,
    _NORMPATH,
    _COMPONENTS,
    _ISABS,
    _SPLITPATH,
    _STARTS_WITH_SEP,
    _DRIVE_LETTER,
)

#: Where the answers that depend on cwd and the mount table live in a filesystem's
#: ``__dict__``.
_BY_CWD_ATTR = "_ocirace_paths_by_cwd"
#: Where the answers that also depend on the tree's names live.
_BY_TREE_ATTR = "_ocirace_paths_by_tree"


def clear() -> None:
    """Forget every remembered answer (tests; nothing else needs it)."""
    for table in _TABLES:
        table.clear()


def _remember(table: dict[K, T], key: K, compute: Callable[[], T]) -> T:
    """``table[key]``, computed and stored on a miss (the table emptied at ``LIMIT``)."""
    try:
        return table[key]
    except KeyError:
        pass
    value = compute()
    if len(table) >= LIMIT:
        table.clear()
    table[key] = value
    return value


class FastWindowsPaths(FakeFilesystem):
    """``FakeFilesystem`` with pyfakefs' string-only path functions remembered per string.

    Never instantiated: the simulated filesystem's class derives from it. Each override
    answers exactly what the pyfakefs method it replaces answers
    (``tests/fakefs/test_fastpaths.py`` compares them on many spellings).
    """

    def _plain_windows(self) -> bool:
        """Windows rules with pyfakefs' default separators: the answers can be shared."""
        fs_type = self.fs_type
        return (
            (fs_type is _WINDOWS or (fs_type is _DEFAULT and self._is_windows_fs))
            and self._path_separator is None
            and self._alternative_path_separator == ""
        )

    # -- properties asked on every call ---------------------------------------------------

    @property
    def is_windows_fs(self) -> bool:
        fs_type = self.fs_type
        return fs_type is _WINDOWS or (fs_type is _DEFAULT and self._is_windows_fs)

    @is_windows_fs.setter
    def is_windows_fs(self, value: bool) -> None:
        FakeFilesystem.is_windows_fs.fset(self, value)  # type: ignore[attr-defined]

    @property
    def path_separator(self) -> str:
        separator = self._path_separator
        if separator is None:
            return str(self.fs_properties[_index(self.fs_type)].sep)
        return separator

    @path_separator.setter
    def path_separator(self, value: str) -> None:
        FakeFilesystem.path_separator.fset(self, value)  # type: ignore[attr-defined]

    @property
    def alternative_path_separator(self) -> str | None:
        separator = self._alternative_path_separator
        if separator == "":
            altsep: str | None = self.fs_properties[_index(self.fs_type)].altsep
            return altsep
        return separator

    @alternative_path_separator.setter
    def alternative_path_separator(self, value: str | None) -> None:
        FakeFilesystem.alternative_path_separator.fset(self, value)  # type: ignore[attr-defined]

    @property
    def devnull(self) -> str:
        return str(self.fs_properties[_index(self.fs_type)].devnull)

    def get_path_separator(self, path: Any) -> Any:
        separator = self.path_separator
        if isinstance(path, bytes):
            return helpers.matching_string(path, separator)
        return separator

    def get_alternative_path_separator(self, path: Any) -> Any:
        separator = self.alternative_path_separator
        if isinstance(path, bytes):
            return helpers.matching_string(path, separator)
        return separator

    # -- pure functions of the path string --------------------------------------------------

    def splitdrive(self, path: Any) -> Any:
        if path.__class__ is str and self._plain_windows():
            try:
                return _SPLITDRIVE[path]
            except KeyError:
                return _remember(_SPLITDRIVE, path, lambda: FakeFilesystem.splitdrive(self, path))
        return FakeFilesystem.splitdrive(self, path)

    def normcase(self, path: Any) -> Any:
        if path.__class__ is str and self._plain_windows():
            try:
                return _NORMCASE[path]
            except KeyError:
                return _remember(_NORMCASE, path, lambda: FakeFilesystem.normcase(self, path))
        return FakeFilesystem.normcase(self, path)

    def normpath(self, path: Any) -> Any:
        if path.__class__ is str and self._plain_windows():
            try:
                return _NORMPATH[path]
            except KeyError:
                return _remember(_NORMPATH, path, lambda: FakeFilesystem.normpath(self, path))
        return FakeFilesystem.normpath(self, path)

    def _path_components(self, path: Any) -> Any:
        if path.__class__ is str and self._plain_windows():
            # A fresh list each time: callers may change the one they get.
            components = _COMPONENTS.get(path)
            if components is None:
                components = _remember(
                    _COMPONENTS, path, lambda: tuple(FakeFilesystem._path_components(self, path))
                )
            return list(components)
        return FakeFilesystem._path_components(self, path)

    def isabs(self, path: Any) -> bool:
        if path.__class__ is str and self._plain_windows():
            try:
                return _ISABS[path]
            except KeyError:
                return _remember(_ISABS, path, lambda: FakeFilesystem.isabs(self, path))
        return FakeFilesystem.isabs(self, path)

    def splitpath(self, path: Any) -> Any:
        if path.__class__ is str and self._plain_windows():
            try:
                return _SPLITPATH[path]
            except KeyError:
                return _remember(_SPLITPATH, path, lambda: FakeFilesystem.splitpath(self, path))
        return FakeFilesystem.splitpath(self, path)

    def starts_with_sep(self, path: Any) -> bool:
        if path.__class__ is str and self._plain_windows():
            try:
                return _STARTS_WITH_SEP[path]
            except KeyError:
                return _remember(
                    _STARTS_WITH_SEP, path, lambda: FakeFilesystem.starts_with_sep(self, path)
                )
        return FakeFilesystem.starts_with_sep(self, path)

    def starts_with_drive_letter(self, file_path: Any) -> bool:
        if file_path.__class__ is str and self._plain_windows():
            try:
                return _DRIVE_LETTER[file_path]
            except KeyError:
                return _remember(
                    _DRIVE_LETTER,
                    file_path,
                    lambda: FakeFilesystem.starts_with_drive_letter(self, file_path),
                )
        return FakeFilesystem.starts_with_drive_letter(self, file_path)

    def _original_path(self, path: Any) -> Any:
        """``path`` spelled with the stored case of each existing component.

        The same walk as ``FakeFilesystem._original_path``, for a ``str`` under plain
        Windows rules, without its per-component helper calls (about 40 walks per
        ``os.replace``), remembered while the names it looked up stay (``walkstamps.py``).
        """
        if (
            path.__class__ is not str
            or not path
            or self.is_case_sensitive
            or not self._plain_windows()
        ):
            return FakeFilesystem._original_path(self, path)
        return walkstamps.remember(
            self._by_tree()[0],
            (path, self._cwd),
            lambda: self._walk_original_path(path),
            _find,
            exact=not may_hold_links(self),
        )

    def resolve_path(self, file_path: Any, allow_fd: bool = False) -> Any:
        """The resolved path, remembered per string while the names it depends on stay."""
        if file_path.__class__ is not str or not file_path or not self._plain_windows():
            return FakeFilesystem.resolve_path(self, file_path, allow_fd)
        if may_hold_links(self) or sys.platform == "win32":
            return walkstamps.remember(
                self._by_tree()[1],
                (file_path, self._cwd),
                lambda: FakeFilesystem.resolve_path(self, file_path, allow_fd),
                _find,
                exact=False,
            )
        return walkstamps.remember(
            self._by_tree()[1],
            (file_path, self._cwd),
            lambda: self._resolve_without_links(file_path),
            _find,
        )

    def _resolve_without_links(self, file_path: str) -> str:
        """``FakeFilesystem.resolve_path`` of a non-empty ``str`` while no link exists.

        pyfakefs' steps with the walk of ``_resolve_components`` left out: without a link
        it returns the components it was given (it appends each one, stops at the first
        that is missing and appends the rest), so the answer depends on the tree only
        through ``_original_path``, and a file created at the end of a path does not
        make the path's resolution stale. (pyfakefs' first steps do nothing here: the
        separator rewrite is for a Windows host, and ``_valid_relative_path`` is ``True``
        under Windows rules.)
        """
        path: str = self.replace_windows_root(self.absnormpath(self._original_path(file_path)))
        if self._is_root_path(path) or path == self.devnull:
            return path
        components = self._path_components(path)
        joined = self._components_to_path(path, components)  # type: ignore[no-untyped-call]
        resolved: str = self.replace_windows_root(joined)
        return resolved

    def get_object_from_normpath(
        self,
        file_path: Any,
        check_read_perm: bool = True,
        check_exe_perm: bool = True,
        check_owner: bool = False,
    ) -> Any:
        """The walk to a path's object, without pyfakefs' per-component case folding.

        ``_original_path`` has already spelled each existing component as stored, so the
        exact name is looked up first (pyfakefs' ``get_entry`` folds the case of every
        component, about four walks per operation); any other answer, and every error,
        comes from the same steps as pyfakefs'.
        """
        if file_path.__class__ is not str or self.is_case_sensitive or not self._plain_windows():
            return FakeFilesystem.get_object_from_normpath(
                self, file_path, check_read_perm, check_exe_perm, check_owner
            )
        root = self.root
        if file_path == root.name:
            return root
        if file_path == self.devnull:
            return self.dev_null
        check = (check_read_perm or check_exe_perm) and not fake_filesystem.is_root()
        if check:
            return self._walk_to_object(
                file_path, check, check_read_perm, check_exe_perm, check_owner
            )
        # Without permission checks (root, or asked so) the answer is the tree's alone,
        # and so is a missing name's error (a lock file is looked up while absent about
        # twice per acquisition: without this, each of those walked again).
        answer = walkstamps.remember(
            self._by_tree_objects(),
            (file_path, self._cwd),
            lambda: _or_failure(
                lambda: self._walk_to_object(
                    file_path, check, check_read_perm, check_exe_perm, check_owner
                )
            ),
            _find,
            exact=not may_hold_links(self),
        )
        if answer.__class__ is Failure:
            answer.raise_again()
        return answer

    def _walk_to_object(
        self,
        file_path: str,
        check: bool,
        check_read_perm: bool,
        check_exe_perm: bool,
        check_owner: bool,
    ) -> Any:
        path = self._original_path(file_path)
        target: Any = self.root
        try:
            for component in self._path_components(path):
                if not isinstance(target, FakeDirectory):
                    if S_ISLNK(target.st_mode) and target.contents:
                        target = self.resolve(target.contents)
                    if not S_ISDIR(target.st_mode):
                        self.raise_os_error(errno.ENOENT, path)
                # pyfakefs: ``target.get_entry(component)`` (the exact name, else the
                # first spelling that folds to it, else KeyError), the same as _find.
                _, entry = walkstamps.look_up(target, component, True, _find, walkstamps.ITSELF)
                if entry is None:
                    raise KeyError(component)
                target = entry
                if (
                    check
                    and target
                    and not self._can_read(  # type: ignore[no-untyped-call]
                        target, check_read_perm, check_exe_perm, check_owner
                    )
                ):
                    self.raise_os_error(errno.EACCES, target.path)
        except KeyError:
            self.raise_os_error(errno.ENOENT, path)
        return target

    def _by_tree(self) -> tuple[dict[tuple[str, str], Any], dict[tuple[str, str], Any]]:
        """Tables for answers that depend on cwd, the mount table and the tree's names.

        Each answer is checked against the directories its walk read
        (:func:`walkstamps.remember`); a new root, mount point, case rule, or the first
        symbolic link starts new tables (with a link, every answer is valid only until the
        next change of any directory: :func:`walkstamps.remember` is told so).
        """
        generation = (
            id(self.root),
            len(self.mount_points),
            self.is_case_sensitive,
            may_hold_links(self),
        )
        state = self.__dict__.get(_BY_TREE_ATTR)
        if state is None or state[0] != generation:
            state = (generation, {}, {}, {}, {})
            self.__dict__[_BY_TREE_ATTR] = state
        return state[1], state[2]

    def _by_tree_objects(self) -> dict[tuple[str, str], Any]:
        """``get_object_from_normpath``'s answers, in the tables of :meth:`_by_tree`."""
        self._by_tree()
        table: dict[tuple[str, str], Any] = self.__dict__[_BY_TREE_ATTR][4]
        return table

    def _real_paths(self) -> dict[tuple[str, str], list[Any]]:
        """``realpath``'s symbolic-link walks, in the tables of :meth:`_by_tree`."""
        self._by_tree()
        table: dict[tuple[str, str], list[Any]] = self.__dict__[_BY_TREE_ATTR][3]
        return table

    def _walk_original_path(self, path: str) -> str:
        path = self.replace_windows_root(path)
        components = self._path_components(path)
        normalized: list[str] = []
        current: Any = self.root
        last = len(components) - 1
        for index, component in enumerate(components):
            if not isinstance(current, FakeDirectory):
                break
            # Of the last component, only the spelling it adds matters.
            name, entry = walkstamps.look_up(
                current,
                component,
                True,
                _find,
                walkstamps.SPELLING if index == last else walkstamps.KIND,
            )
            if entry is None or (
                isinstance(entry, FakeDirectory)
                and entry._byte_contents is None
                and entry.st_size == 0
            ):
                break
            current = entry
            normalized.append(cast(str, name))
        if len(components) > len(normalized):
            normalized.extend(components[len(normalized) :])
        separator = self.path_separator
        result = separator.join(normalized)
        if self.starts_with_sep(path) and not self.starts_with_sep(result):
            result = separator + result
        if len(result) == 2 and result[1] == ":":
            result += separator  # a drive alone names its root
        if self.isabs(path):
            return result
        return self._handle_relative_drive(result, resolve=False)

    def _directory_content(self, directory: Any, component: str) -> tuple[str | None, Any]:
        if not isinstance(directory, FakeDirectory):
            return None, None
        folding = not self.is_case_sensitive
        if not walkstamps.READING:
            return _find(directory, component, folding)
        return walkstamps.look_up(directory, component, folding, _find, walkstamps.KIND)

    def _by_cwd(self) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
        """Tables for answers that also depend on cwd, the root and the mount table.

        cwd is part of each key; a new root (a reset), a new mount point or another case
        rule starts new tables.
        """
        generation = (id(self.root), len(self.mount_points), self.is_case_sensitive)
        state = self.__dict__.get(_BY_CWD_ATTR)
        if state is None or state[0] != generation:
            state = (generation, {}, {})
            self.__dict__[_BY_CWD_ATTR] = state
        return state[1], state[2]

    def absnormpath(self, path: Any) -> Any:
        if path.__class__ is not str or not self._plain_windows():
            return FakeFilesystem.absnormpath(self, path)
        table, key = self._by_cwd()[0], (path, self._cwd)
        try:
            return table[key]
        except KeyError:
            return _remember(table, key, lambda: FakeFilesystem.absnormpath(self, path))

    def replace_windows_root(self, path: Any) -> Any:
        if path.__class__ is not str or not self._plain_windows():
            return FakeFilesystem.replace_windows_root(self, path)
        table, key = self._by_cwd()[1], (path, self._cwd)
        try:
            return table[key]
        except KeyError:
            return _remember(table, key, lambda: FakeFilesystem.replace_windows_root(self, path))


class Failure:
    """A walk's remembered ``OSError``, raised again as a new exception on each use.

    Only a plain ``OSError(errno, strerror, filename)`` (what pyfakefs'
    ``raise_os_error`` raises on a POSIX host) is remembered; any other error is raised
    at once and not remembered.
    """

    __slots__ = ("errno", "filename", "strerror")

    def __init__(self, error: OSError) -> None:
        self.errno = error.errno
        self.strerror = error.strerror
        self.filename = error.filename

    @staticmethod
    def of(error: OSError) -> Failure | None:
        """The remembered form of ``error``, or ``None`` if it cannot be made again exactly."""
        if (
            error.args != (error.errno, error.strerror)
            or error.filename2 is not None
            or getattr(error, "winerror", None) is not None
            or hasattr(error, "__notes__")
            or error.__class__ is not OSError(error.errno, "").__class__
        ):
            return None
        return Failure(error)

    def raise_again(self) -> NoReturn:
        raise OSError(self.errno, self.strerror, self.filename)


def _or_failure(walk: Callable[[], T]) -> T | Failure:
    """``walk()``, or the error it raised in the form a remembered walk keeps."""
    try:
        return walk()
    except OSError as error:
        failure = Failure.of(error)
        if failure is None:
            raise
        return failure


def _find(directory: FakeDirectory, component: str, folding: bool) -> tuple[str | None, Any]:
    """(stored name, entry) of ``component`` in ``directory``, or ``(None, None)``.

    The exact name first, else (``folding``) the first entry spelled that way in another
    case, which is pyfakefs' choice in ``get_entry`` and ``_directory_content``; one
    function so that a remembered walk can repeat exactly the lookup it made.
    """
    entries = directory.entries
    entry = entries.get(component)
    if entry is not None:
        return component, entry
    if folding:
        spellings = folded(directory).get(component.lower())
        if spellings:
            return spellings[0], entries[spellings[0]]
    return None, None


# -- case-insensitive lookups ------------------------------------------------------------
#
# pyfakefs finds a name in a case-insensitive directory by lowering every entry's name
# (``FakeDirectory._normalized_entryname``, on every ``get_entry`` and ``remove_entry``,
# even when the exact name is there; ``_directory_content`` on a miss): one operation in a
# directory of 700 files lowered about 14,000 names. Each directory gets an index instead,
# lower-case name -> the entries with that name in insertion order (pyfakefs takes the
# first), built on first use and kept up to date by ``add_entry``/``remove_entry``, the
# only two places pyfakefs changes a directory. An index is valid for one simulation (a
# token on the filesystem): outside a simulation those two methods are not wrapped, so an
# index made earlier is rebuilt.

_FOLDED_ATTR = "_ocirace_folded"
_TOKEN_ATTR = "_ocirace_fold_token"


def folded(directory: FakeDirectory) -> dict[str, list[str]]:
    """Lower-case name -> the entries of ``directory`` spelled that way, first first."""
    token = directory.filesystem.__dict__.get(_TOKEN_ATTR)
    state = directory.__dict__.get(_FOLDED_ATTR)
    if state is not None and state[0] is token and token is not None:
        index: dict[str, list[str]] = state[1]
        return index
    index = {}
    for name in directory.entries:  # loads a lazily read real directory first
        index.setdefault(name.lower(), []).append(name)
    if token is not None:
        directory.__dict__[_FOLDED_ATTR] = (token, index)
    return index


def _current_index(directory: FakeDirectory) -> dict[str, list[str]] | None:
    state = directory.__dict__.get(_FOLDED_ATTR)
    if state is None:
        return None
    token = directory.filesystem.__dict__.get(_TOKEN_ATTR)
    if state[0] is not token:
        return None
    index: dict[str, list[str]] = state[1]
    return index


_original_add_entry = FakeDirectory.add_entry
_original_remove_entry = FakeDirectory.remove_entry


def _add_entry(self: FakeDirectory, path_object: Any) -> None:
    walkstamps.changing(self)
    _original_add_entry(self, path_object)
    walkstamps.changing(self)
    index = _current_index(self)
    if index is not None:
        name = helpers.to_string(path_object.name)
        index.setdefault(name.lower(), []).append(name)


def _remove_entry(self: FakeDirectory, pathname_name: str, recursive: bool = True) -> None:
    walkstamps.changing(self)
    _original_remove_entry(self, pathname_name, recursive)
    walkstamps.changing(self)
    index = _current_index(self)
    if index is not None:
        key = helpers.to_string(pathname_name).lower()
        entries = self._entries
        left = [name for name in index.get(key, ()) if name in entries]
        if left:
            index[key] = left
        else:
            index.pop(key, None)


def _normalized_entryname(self: FakeDirectory, pathname_name: str) -> str:
    if not self.filesystem.is_case_sensitive:
        spellings = folded(self).get(pathname_name.lower())
        if spellings:
            return spellings[0]
    return pathname_name


_original_join_real_path = FakePathModule._join_real_path


def _join_real_path(self: FakePathModule, path: Any, rest: Any, seen: Any) -> Any:
    """``os.path.realpath``'s walk (an ``islink`` per component), remembered per string.

    Only the outermost call (no path yet, nothing seen) of a ``str``, while the filesystem
    has plain Windows rules; ``realpath`` has already decided to use the fake filesystem
    (a caller in a module pyfakefs skips gets the real function before this).
    """
    fs = self.filesystem
    if path != "" or seen or rest.__class__ is not str or not isinstance(fs, FastWindowsPaths):
        return _original_join_real_path(self, path, rest, seen)
    if fs.is_case_sensitive or not fs._plain_windows():
        return _original_join_real_path(self, path, rest, seen)
    return walkstamps.remember(
        fs._real_paths(),
        (rest, fs._cwd),
        lambda: _original_join_real_path(self, path, rest, seen),
        _find,
        exact=not may_hold_links(fs),
    )


_original_exists = FakeFilesystem.exists


def _exists(self: FakeFilesystem, file_path: Any, check_link: bool = False) -> bool:
    """``FakeFilesystem.exists``, its walk answered by the remembered object walk.

    pyfakefs asks it two or three times per create, ``mkdir`` and ``open`` (for the path
    and its parent), each time with a walk of its own after ``resolve_path``. While no
    link exists its walk finds an object exactly where ``get_object_from_normpath``
    (without permission checks, as ``exists`` has none) finds one, so the walk that
    ``stat`` and ``open`` remembered, or a missing name's remembered error, answers it:
    a lock file's folder and the lock file itself, absent, are asked about at every
    acquisition. Patched on the class (not overridden) because the simulated
    filesystem's entry point calls ``FakeFilesystem.exists`` by name.
    """
    if (
        file_path.__class__ is not str
        or not file_path
        or not isinstance(self, FastWindowsPaths)
        or self.is_case_sensitive
        or not self._plain_windows()
        or may_hold_links(self)
    ):
        return _original_exists(self, file_path, check_link)
    # pyfakefs' steps, in its order (``islink`` is False without a link).
    if check_link and self.islink(file_path):
        return not self.is_macos or not self.ends_with_path_separator(file_path)
    if file_path == self.devnull:
        return True
    try:
        if self.is_filepath_ending_with_separator(file_path):
            return False
        path = self.resolve_path(file_path)
    except OSError:
        return False
    if self._is_root_path(path):
        return True
    try:
        self.get_object_from_normpath(path, check_read_perm=False, check_exe_perm=False)
    except OSError:
        return False
    return True


def forget(fs: FakeFilesystem) -> None:
    """Drop what ``fs`` itself remembers (when the simulation leaves it)."""
    fs.__dict__.pop(_BY_CWD_ATTR, None)
    fs.__dict__.pop(_BY_TREE_ATTR, None)
    fs.__dict__.pop(_TOKEN_ATTR, None)
    walkstamps.forget_shared()


_original_make_string_path = helpers.make_string_path
_original_matching_string = helpers.matching_string


def _make_string_path(dir_name: Any) -> Any:
    if dir_name.__class__ is str:
        return dir_name
    return _original_make_string_path(dir_name)


def _matching_string(matched: Any, string: Any) -> Any:
    if matched.__class__ is str:
        return string
    return _original_matching_string(matched, string)


_HELPER_USERS = (
    "pyfakefs.helpers",
    "pyfakefs.fake_filesystem",
    "pyfakefs.fake_file",
    "pyfakefs.fake_os",
    "pyfakefs.fake_open",
    "pyfakefs.fake_path",
    "pyfakefs.fake_scandir",
)


def install(patches: ClassPatches, fs: FakeFilesystem) -> None:
    """The directory indexes for ``fs``, and the ``str`` fast paths of pyfakefs' helpers."""
    import sys

    fs.__dict__[_TOKEN_ATTR] = object()  # indexes made before now are stale
    # So are walks remembered before now: between simulations a directory may change
    # without the wrappers that stamp it.
    fs.__dict__.pop(_BY_TREE_ATTR, None)
    if vars(FakeDirectory).get("add_entry") is _original_add_entry:
        patches.set(FakeDirectory, "add_entry", _add_entry)
        patches.set(FakeDirectory, "remove_entry", _remove_entry)
        patches.set(FakeDirectory, "_normalized_entryname", _normalized_entryname)
    if vars(FakeFilesystem).get("exists") is _original_exists:
        patches.set(FakeFilesystem, "exists", _exists)
    if vars(FakePathModule).get("_join_real_path") is _original_join_real_path:
        patches.set(FakePathModule, "_join_real_path", _join_real_path)

    for name in _HELPER_USERS:
        module = sys.modules.get(name)
        if module is None:
            continue
        namespace = vars(module)
        if namespace.get("make_string_path") is _original_make_string_path:
            patches.set(module, "make_string_path", _make_string_path)
        if namespace.get("matching_string") is _original_matching_string:
            patches.set(module, "matching_string", _matching_string)
