"""When a remembered walk is still pyfakefs' answer, after the tree changed.

pyfakefs walks a path from the root about ten times per operation; ``fastpaths.py``
remembers each walk's answer per path string. Those answers used to be dropped at every
change of any directory, so a test that writes a file between two lookups walked nearly
every path again: in safer's suite 3,455 of 9,527 ``resolve_path`` calls walked (now
1,584, almost all of them paths seen for the first time).

An answer depends on the lookups its walk made (a name in a directory: absent, or which
entry under which stored spelling), and on nothing else of the tree while no symbolic
link exists (a link sends a walk elsewhere, and a link's target is looked up with
permission checks). So:

- every change of a directory's entries (``FakeDirectory.add_entry``/``remove_entry``,
  pyfakefs' only two ways to change one, wrapped by ``fastpaths.py``) gives that
  directory a new *stamp* (a process-wide counter: no two changes share one);
- a walk being computed notes each lookup it makes: the directory, its stamp *before*
  the lookup (a lazily read real directory changes while it is read: the stale stamp
  only makes the next check look again), the name, what it found, and how much of that
  the walk used (:data:`SPELLING`, :data:`KIND`, :data:`ITSELF`);
- a remembered answer is returned while, for every noted lookup, the directory still has
  its stamp, or the same lookup now finds the same at that level. A file written next
  to the path changes nothing the walk used; a file created at the end of the path
  changes nothing either when it is spelled as asked; a directory on the path renamed,
  removed or made again is another entry, and an entry the walk went into must be the
  same object.

Walks nest (``resolve_path`` calls ``_original_path``): what an inner walk looked up,
computed now or remembered, counts for the outer one; two lookups of one name with
different results become the lookup as it is now, at the stricter level.

Two cases keep the old rule (valid until the next change of any directory): a walk
while the filesystem may hold a link (the caller says so), and a walk outside the
filesystem lock (the notes are kept for one walk at a time; pyfakefs' entry points all
run under the lock).
"""

from __future__ import annotations

from collections.abc import Callable
from stat import S_IFMT
from typing import Any, TypeVar

from pyfakefs.fake_file import FakeDirectory

from pytest_ocirace.fakefs.locking import LOCK
from pytest_ocirace.racemodel.stacks import interned

__all__ = [
    "CHANGES",
    "ITSELF",
    "KIND",
    "READING",
    "SPELLING",
    "Lookup",
    "changing",
    "forget_shared",
    "look_up",
    "remember",
]

T = TypeVar("T")

#: How a walk finds ``component`` in a directory: (stored spelling, entry), or
#: ``(None, None)``; the last argument says whether case is folded.
Lookup = Callable[[Any, str, bool], tuple[str | None, Any]]

#: Changes of directory entries so far, in any simulated filesystem; a directory's stamp
#: is the value of this counter at its last change.
CHANGES = [0]

#: Where a directory keeps its stamp (in its ``__dict__``: ``FakeFile.__setattr__`` is slow).
_STAMP_ATTR = "_ocirace_stamp"

#: What each walk being computed has read, innermost last: (``id`` of the directory,
#: component) -> :data:`Read`. The key ``None`` means "depends on the whole tree".
READING: list[dict[Any, tuple[Any, ...]]] = []

#: One lookup of a walk: (directory, its stamp before the lookup, component, folding,
#: spelling found, entry found, level), where the level says what of the answer the walk
#: used (a later lookup that differs only in what the walk did not use changes nothing).
Read = tuple[Any, int, str, bool, "str | None", Any, int]

#: Only the spelling it adds to the path (``_original_path``'s last component: the stored
#: name if an entry is there, else the name asked for).
SPELLING = 0
#: The spelling and the kind of entry: absent, its class and file type (a walk stops at a
#: file, a missing name, an empty directory; follows a link).
KIND = 1
#: The entry itself (the walk went on inside it, or answers with it).
ITSELF = 2

_WHOLE_TREE: tuple[Any, ...] = ()

#: Entries per table before it is emptied (as ``fastpaths.LIMIT``).
LIMIT = 4096

#: Each remembered lookup, kept once: walks through one folder note the same lookups of
#: its ancestors, and a store of thousands of chunk files (zarr) kept a new tuple per
#: ancestor per file remembered, three walks each: most of what a test left for the
#: cyclic collector to scan. Holds directories and entries: emptied when a simulation
#: leaves its filesystem (:func:`forget_shared`) and when full.
_SHARED: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def forget_shared() -> None:
    """Drop the shared lookups (a simulation's tree must not outlive it through them)."""
    _SHARED.clear()


def _shared(read: tuple[Any, ...]) -> tuple[Any, ...]:
    """``read``, or the equal lookup kept earlier (equal: the same objects, stamps, names)."""
    return interned(_SHARED, read, LIMIT)


#: Remembered walks per key: a name that comes and goes has two states worth keeping.
VARIANTS = 2


def changing(directory: Any) -> None:
    """Called before and after each change of ``directory``'s entries."""
    CHANGES[0] += 1
    directory.__dict__[_STAMP_ATTR] = CHANGES[0]


def look_up(
    directory: Any, component: str, folding: bool, lookup: Lookup, level: int
) -> tuple[str | None, Any]:
    """``lookup(directory, component, folding)``, noted for the walk being computed."""
    before = directory.__dict__.get(_STAMP_ATTR, 0)
    name, entry = lookup(directory, component, folding)
    if READING:
        _add(READING[-1], (directory, before, component, folding, name, entry, level))
    return name, entry


def _add(
    notes: dict[Any, tuple[Any, ...]], read: tuple[Any, ...], lookup: Lookup | None = None
) -> None:
    """Add one lookup to what a walk read; one per (directory, component), the strictest.

    Two lookups of one name with different results (one remembered by an inner walk,
    made when the directory held something else that the inner walk did not care
    about) become the lookup as it is now, checked at the stricter level. ``lookup``
    is ``None`` when ``read`` was made just now.
    """
    key = (id(read[0]), read[2])
    first = notes.get(key)
    if first is None:
        notes[key] = read
        return
    level = max(first[6], read[6])
    if first[5] is read[5] and first[4] == read[4]:
        if level != first[6]:
            notes[key] = (*first[:6], level)
    elif lookup is None:
        notes[key] = (*read[:6], level)
    else:
        directory, component, folding = read[0], read[2], read[3]
        before = directory.__dict__.get(_STAMP_ATTR, 0)
        name, entry = lookup(directory, component, folding)
        notes[key] = (directory, before, component, folding, name, entry, level)


def _empty_directory(entry: Any) -> bool:
    """``_original_path``'s test for a directory it does not go into."""
    return isinstance(entry, FakeDirectory) and entry._byte_contents is None and entry.st_size == 0


def _kind(entry: Any) -> tuple[Any, ...]:
    """What a walk asks of an entry it does not go into (absent: the empty tuple)."""
    if entry is None:
        return ()
    return (entry.__class__, S_IFMT(entry.st_mode), _empty_directory(entry))


def _spelling(component: str, name: str | None, entry: Any) -> str | None:
    if entry is None or _empty_directory(entry):
        return component
    return name


def _still_valid(read: tuple[tuple[Any, ...], ...], lookup: Lookup) -> bool:
    for directory, before, component, folding, name, entry, level in read:
        if directory.__dict__.get(_STAMP_ATTR, 0) == before:
            continue
        found_name, found = lookup(directory, component, folding)
        if found is entry and found_name == name:
            continue
        if level == ITSELF:
            return False
        if level == KIND:
            if found_name != name or _kind(found) != _kind(entry):
                return False
        elif _spelling(component, found_name, found) != _spelling(component, name, entry):
            return False
    return True


def _finish(notes: dict[Any, tuple[Any, ...]]) -> tuple[tuple[Any, ...], ...] | None:
    """The lookups to check later: an entry the walk went into must be the same object."""
    if None in notes:
        return None
    entered = {id(read[0]) for read in notes.values()}
    return tuple(
        _shared(read if read[6] == ITSELF or id(read[5]) not in entered else (*read[:6], ITSELF))
        for read in notes.values()
    )


def remember(
    table: dict[Any, list[Any]],
    key: Any,
    compute: Callable[[], T],
    lookup: Lookup,
    *,
    exact: bool = True,
) -> T:
    """``compute()``'s answer for ``key``, reused while what the walk read is unchanged.

    ``lookup`` repeats one read of the walk (for a directory changed since). With
    ``exact=False`` (a filesystem that may hold a link) the answer is valid only until
    the next change of any directory. Each entry of ``table`` is a list of up to
    :data:`VARIANTS` remembered walks, newest first, each ``[answer, read, checked]``:
    ``read`` what the walk looked up (``None``: the whole tree), ``checked`` the value
    of :data:`CHANGES` when the answer was last known valid (no change since: nothing to
    check). A path whose name comes and goes (a lock file, created and deleted at every
    acquisition) keeps its walk while absent beside its walk while present: each is
    checked like the only one, and at most one of them can still hold.
    """
    changes = CHANGES[0]
    variants = table.get(key)
    if variants is not None:
        for entry in variants:
            read = entry[1]
            if entry[2] == changes or (read is not None and _still_valid(read, lookup)):
                entry[2] = changes
                if READING:
                    outer = READING[-1]
                    if read is None:
                        outer[None] = _WHOLE_TREE
                    elif outer:
                        for item in read:
                            _add(outer, item, lookup)
                    else:
                        for item in read:
                            outer[id(item[0]), item[2]] = item
                answer: T = entry[0]
                return answer
    exact = exact and LOCK._is_owned()
    notes: dict[Any, tuple[Any, ...]] = {}
    if not exact:
        notes[None] = _WHOLE_TREE
    READING.append(notes)
    try:
        answer = compute()
    finally:
        READING.pop()
        if READING:
            outer = READING[-1]
            if None in notes:
                outer[None] = _WHOLE_TREE
            for item in notes.values():
                if item:
                    _add(outer, item, lookup)
    read = _finish(notes)
    entry = [answer, read, changes]
    if variants is None or read is None:
        if len(table) >= LIMIT:
            table.clear()
        table[key] = [entry]
    else:
        # The newest first; the others are kept only while they may hold again.
        kept = [old for old in variants[: VARIANTS - 1] if old[1] is not None]
        table[key] = [entry, *kept]
    return answer
