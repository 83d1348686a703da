r"""``zoneinfo``'s search for time zone files, as on Windows, when it was loaded before the test.

``zoneinfo._tzpath`` computes two things at import with the host's ``os.path``: the folders
it searches (``TZPATH``, ``/usr/share/zoneinfo``... from ``sysconfig``; empty on Windows,
where time zones come from the ``tzdata`` package) and the prefix its key check compares
with (``_TEST_PATH``, ``"_/"`` here, ``"_\"`` on Windows, kept only as the default value of
``_validate_tzfile_path``'s ``_base``). Inside the simulation the check then joins with
the fake ``os.path`` and compares Windows' ``_\Europe\Berlin`` with ``"_/"``:
``ZoneInfo("Europe/Berlin")`` raised ``ValueError: ZoneInfo keys must refer to subdirectories
of TZPATH`` (cookiecutter's time extension), which no platform raises for that key.

While a simulation runs, a ``zoneinfo`` loaded before it searches as on Windows: no folder
(``zoneinfo.TZPATH`` is empty), and the Windows prefix, so keys are read from
the ``tzdata`` package; without it, ``ZoneInfoNotFoundError``, as on a Windows machine
without ``tzdata`` (why projects depend on ``tzdata; sys_platform == "win32"``). The prefix
is a private default of the standard library: when it is not there as expected (another
Python version), nothing is changed. A ``zoneinfo`` first imported inside the simulation
computes both with the fake ``os.path`` already.
"""

from __future__ import annotations

import ntpath
import posixpath
import sys

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["install"]

#: ``_TEST_PATH`` as ``zoneinfo._tzpath`` computes it on each platform.
_HOST_PREFIX = posixpath.normpath(posixpath.join("_", "_"))[:-1]
_WINDOWS_PREFIX = ntpath.normpath(ntpath.join("_", "_"))[:-1]


def install(patches: ClassPatches) -> None:
    """Make an already loaded ``zoneinfo`` search as on Windows until ``patches`` are undone."""
    tzpath = sys.modules.get("zoneinfo._tzpath")
    if tzpath is None:
        return
    validate = getattr(tzpath, "_validate_tzfile_path", None)
    if validate is None or getattr(validate, "__defaults__", None) != (_HOST_PREFIX,):
        return
    patches.set(tzpath, "TZPATH", ())
    patches.set_defaults(validate, (_WINDOWS_PREFIX,), validate.__kwdefaults__)
