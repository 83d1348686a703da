r"""The ``PATH`` environment variable as Windows spells it, while a simulation runs.

Inside the simulation ``os.pathsep`` is ``;`` and paths are Windows paths, but
``os.environ["PATH"]`` kept the host's ``/usr/local/bin:/usr/bin:...``: split at ``;`` it
is one folder that does not exist, so ``shutil.which("git")`` found nothing, and
cookiecutter's ``is_vcs_installed`` said git was not installed (its clone tests mock the
process and need only the lookup). On Windows ``PATH`` lists Windows folders separated by
``;``.

While a simulation runs, ``PATH`` lists the same folders Windows-spelled
(``C:\usr\bin;...``), and the plugin shows those folders of the real disk (as it shows
``sys.path``), so ``shutil.which`` finds the host's programs there; starting one is a
process start like any other. The variable is put back when the simulation ends.
"""

from __future__ import annotations

import ntpath
import os
import types

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["HOST_FOLDERS", "install", "windows_spelling"]

# The real ``os``, where pyfakefs does not look.
_REAL = types.SimpleNamespace(environ=os.environ, pathsep=os.pathsep, isdir=os.path.isdir)


def _host_folders() -> tuple[str, ...]:
    value = _REAL.environ.get("PATH", "")
    return tuple(
        folder
        for folder in dict.fromkeys(value.split(_REAL.pathsep))
        if folder.startswith("/") and _REAL.isdir(folder)
    )


#: The absolute folders of the host's ``PATH`` when this module was imported: the real
#: trees the plugin shows for it.
HOST_FOLDERS: tuple[str, ...] = _host_folders()


def windows_spelling(value: str, drive: str) -> str:
    r"""A POSIX ``PATH`` value as Windows spells its folders (``/usr/bin``: ``C:\usr\bin``)."""
    folders = []
    for folder in value.split(_REAL.pathsep):
        if folder.startswith("/"):
            folder = drive + folder.replace("/", "\\")
        folders.append(folder)
    return ";".join(folders)


def install(patches: ClassPatches, drive: str) -> None:
    """Spell ``PATH`` as Windows would until ``patches`` are undone."""
    value = _REAL.environ.get("PATH")
    if value is None or _REAL.pathsep != ":" or ntpath.splitdrive(value)[0]:
        return  # no PATH, a Windows host, or already Windows-spelled
    patches.set_item(_REAL.environ, "PATH", windows_spelling(value, drive))
