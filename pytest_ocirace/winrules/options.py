"""The simulation's options: one place for names, defaults, allowed values and parsing.

The same option arrives from three places (ini file, command line, marker keywords) and
must be checked the same way everywhere, with a one-line error naming the option and the
values it accepts. Rows of the Windows decision table that nobody has verified on a real
machine are options here, with the default we believe in documented in
``docs/windows-semantics.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["DEFAULT_WORKDIR", "OPTION_HELP", "REAL_WORKDIR", "OptionError", "SimulationOptions"]


class OptionError(ValueError):
    """An option has a value the simulation does not understand."""


_CHOICES: dict[str, tuple[str, ...]] = {
    "delete_semantics": ("classic", "posix"),
    "reserved_names": ("error", "allow"),
    "directory_onto_file": ("deny", "replace"),
    "real_tree": ("copy-on-write", "read-only", "off"),
    "windows_skips": ("skip", "run"),
}

#: One-line help for every option (used by the CLI, the ini file and the docs).
OPTION_HELP: dict[str, str] = {
    "delete_semantics": (
        "classic: a deleted file that is still open keeps its name (delete-pending) until "
        "the last handle closes; posix: the name goes at once (Windows 10 1903+ NTFS)."
    ),
    "max_path": "refuse paths of 260+ characters (directories: 248+) like Win32 without "
    "long-path support.",
    "windows_platform_modules": "modules (by name, with their submodules) whose os.name, "
    "sys.platform and platform.system() answer as Windows when read at call time, so their "
    "Windows-only branches run.",
    "windows_import_modules": "modules (by name, with their submodules) imported again as on "
    "Windows for simulated tests, so choices made at import (FileLock = WindowsFileLock, "
    "MoveFileExW instead of os.rename) take the Windows branch; implies "
    "windows_platform_modules for them.",
    "reserved_names": "error: creating or renaming onto a DOS device name (CON, NUL, "
    "COM1...) fails with WinError 123; allow: treat them as ordinary names (unverified).",
    "directory_onto_file": "os.replace of a directory onto an existing file: deny "
    "(WinError 5) or replace (unverified).",
    "delete_on_close_follows_rename": "an O_TEMPORARY file that is renamed is still "
    "deleted when its handle closes (unverified).",
    "workdir": "the fake working directory each simulated test starts in: an absolute "
    "Windows path, or 'real' for the real working directory as Windows spells it "
    "(C:\\ + its POSIX path; the plugin's default, so relative paths reach the project's "
    "files through the real tree).",
    "real_tree": "the test's real directories (rootdir, the test's folder, sys.path) "
    "readable inside the simulation: copy-on-write (changes stay in memory), read-only "
    "(files carry the read-only attribute), or off.",
    "windows_skips": "skip: a test whose skipif marker holds on Windows "
    "(sys.platform == 'win32', os.name == 'nt') is skipped, as its Windows run skips it; "
    "run: run it against Windows' rules anyway.",
}


#: ``workdir`` of ``simulate()`` and the conformance run: a fixed, empty directory.
DEFAULT_WORKDIR = "C:\\work"
#: ``workdir`` value for the real working directory, Windows-spelled (the plugin's default).
REAL_WORKDIR = "real"


@dataclass(frozen=True)
class SimulationOptions:
    """Everything that changes how the simulated Windows behaves."""

    delete_semantics: str = "classic"
    max_path: bool = True
    windows_platform_modules: tuple[str, ...] = field(default_factory=tuple)
    windows_import_modules: tuple[str, ...] = field(default_factory=tuple)
    reserved_names: str = "error"
    directory_onto_file: str = "deny"
    delete_on_close_follows_rename: bool = True
    workdir: str = DEFAULT_WORKDIR
    real_tree: str = "copy-on-write"
    windows_skips: str = "skip"

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise OptionError(
                    f"ocirace option {name}={value!r} is not valid: use one of "
                    + ", ".join(repr(choice) for choice in allowed)
                )
        if self.workdir != REAL_WORKDIR and not self.workdir[1:3] == ":\\":
            raise OptionError(
                f"ocirace option workdir={self.workdir!r} is not valid: use an absolute "
                "Windows path such as 'C:\\\\work', or 'real'"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(item.name for item in dataclasses.fields(cls))

    def merged(
        self, values: Mapping[str, object], *, source: str, others: Iterable[str] = ()
    ) -> SimulationOptions:
        """These options with ``values`` (from ``source``, for messages) applied on top.

        ``others`` names options that another part reads from the same place (the race
        model's marker ``ignore=``): they are skipped here, and listed as known in errors.
        """
        known = self.names()
        skipped = tuple(others)
        changes: dict[str, object] = {}
        for name, raw in values.items():
            if name in skipped:
                continue
            if name not in known:
                raise OptionError(
                    f"{source}: unknown ocirace option {name!r}; known options: "
                    + ", ".join((*known, *skipped))
                )
            changes[name] = _convert(name, raw, source)
        try:
            return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        except OptionError as exc:
            raise OptionError(f"{source}: {exc}") from None


def _convert(name: str, raw: object, source: str) -> object:
    default = getattr(SimulationOptions(), name)
    if isinstance(default, bool):
        return _to_bool(name, raw, source)
    if isinstance(default, tuple):
        if isinstance(raw, str):
            return tuple(part for part in raw.replace(",", " ").split() if part)
        if isinstance(raw, Iterable):
            return tuple(str(part) for part in raw)
        raise OptionError(f"{source}: ocirace option {name} takes a list of module names")
    if not isinstance(raw, str):
        raise OptionError(f"{source}: ocirace option {name} takes a string, got {raw!r}")
    return raw


def _to_bool(name: str, raw: object, source: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise OptionError(f"{source}: ocirace option {name}={raw!r} is not valid: use true or false")
