"""Folder listings in NTFS order, the same in every run.

pyfakefs shuffles ``os.listdir`` on purpose (``shuffle_listdir_results``, on by default) and
lists ``os.scandir`` in creation order. A simulated test therefore saw a different order in
every run: its verdict, and a race's report, could follow the shuffle. NTFS keeps a folder's
names in a B-tree ordered by their upper-case form, and lists them in that order, whatever
order they were made in (``A``, ``a2``, ``b``, ``B1``, ``c``): Windows code that relies on
it works there.

While a simulation runs, ``os.listdir``, ``os.scandir`` (so ``os.walk``, ``glob``,
``shutil.copytree``) and ``pathlib``'s ``iterdir`` list in that order: names compared by
their UTF-16 code units after upper-casing each character that has a one-character upper
case (NTFS' table maps characters one to one; ``str.upper`` would make ``ß`` two).
"""

from __future__ import annotations

from typing import Any

from pyfakefs import fake_scandir
from pyfakefs.fake_filesystem import FakeFilesystem

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["install", "ntfs_key"]

_ORIGINAL_SCANDIR_INIT: Any = fake_scandir.ScanDirIter.__init__


def ntfs_key(name: str | bytes) -> bytes:
    """The order NTFS keeps ``name`` in within its folder."""
    text = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
    upper = "".join(big if len(big := character.upper()) == 1 else character for character in text)
    return upper.encode("utf-16-be", "surrogatepass")


def install(patches: ClassPatches, fs: FakeFilesystem) -> None:
    """List folders in NTFS order until ``patches`` are undone."""
    patches.set(fs, "shuffle_listdir_results", False)
    # The simulation's own filesystem class (the locked ``listdir`` of patcher.py).
    simulated = type(fs)
    patches.set(simulated, "listdir", _sorted(simulated.listdir))
    patches.set(fake_scandir.ScanDirIter, "__init__", _scandir_init)


def _sorted(listdir: Any) -> Any:
    def sorted_listdir(self: FakeFilesystem, target_directory: Any) -> Any:
        names = listdir(self, target_directory)
        names.sort(key=ntfs_key)
        return names

    sorted_listdir.__name__ = "listdir"
    return sorted_listdir


def _scandir_init(self: Any, filesystem: Any, path: Any) -> None:
    _ORIGINAL_SCANDIR_INIT(self, filesystem, path)
    self.entry_iter = iter(sorted(self.entry_iter, key=ntfs_key))
