r"""Whether a simulated filesystem holds any symbolic link, so that ``islink`` needs no walk.

``os.path.islink`` is pyfakefs' most repeated walk: ``os.path.realpath`` asks it once per
component of the path (``C:\home\u\project\tmpab12\file`` is six walks of up to six
levels), and ``open``, ``shutil.rmtree`` and pyfakefs' own ``open`` ask it again; in
safer's suite (232 tests of a few file operations each) it was about a sixth of the CPU
of the test bodies. A test on Windows rarely makes a symbolic link (it needs a privilege),
and the simulation shows real directories with their links followed (``realtree.py``), so
most simulated filesystems never hold one: then every ``islink`` is ``False``, whatever
the path.

pyfakefs puts every entry into a directory through ``FakeDirectory.add_entry`` (a new
file, a renamed one, a lazily read real directory's children), so a wrapper of it sees
each symbolic link arrive and marks its filesystem, for the rest of that filesystem's
life. What is already in memory when the simulation starts is searched once (pyfakefs'
``fs`` fixture may have come first and made links); lazy directories not read yet are
left, since their entries arrive through ``add_entry`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from stat import S_ISLNK
from typing import Any

from pyfakefs.fake_file import FakeDirectory
from pyfakefs.fake_filesystem import FakeFilesystem

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["SEEN_ATTR", "forget", "install", "may_hold_links"]

#: The attribute of a simulated ``FakeFilesystem`` saying that it may hold a symbolic link.
SEEN_ATTR = "_ocirace_symlinks_seen"


def may_hold_links(fs: FakeFilesystem) -> bool:
    """Whether ``fs`` may hold a symbolic link (``True`` for one this module never saw)."""
    return bool(fs.__dict__.get(SEEN_ATTR, True))


def install(patches: ClassPatches, fs: FakeFilesystem) -> None:
    """Mark ``fs`` as holding links when one arrives, until ``patches`` are undone."""
    fs.__dict__[SEEN_ATTR] = _holds_links(fs.root)
    add_entry: Callable[[FakeDirectory, Any], None] = vars(FakeDirectory)["add_entry"]

    def add_entry_watching_links(self: FakeDirectory, path_object: Any) -> None:
        add_entry(self, path_object)
        if S_ISLNK(path_object.st_mode):
            owner = getattr(path_object, "filesystem", None) or self.filesystem
            owner.__dict__[SEEN_ATTR] = True

    add_entry_watching_links.__doc__ = add_entry.__doc__
    patches.set(FakeDirectory, "add_entry", add_entry_watching_links)


def forget(fs: FakeFilesystem) -> None:
    fs.__dict__.pop(SEEN_ATTR, None)


def _holds_links(directory: FakeDirectory) -> bool:
    """Whether the part of the tree already in memory holds a link (lazy parts are left)."""
    todo = [directory]
    while todo:
        current = todo.pop()
        if getattr(current, "contents_read", True) is False:
            continue  # read later through add_entry, which the wrapper watches
        for entry in current.entries.values():
            if S_ISLNK(entry.st_mode):
                return True
            if isinstance(entry, FakeDirectory):
                todo.append(entry)
    return False
