"""The simulation's side of the writer seam: find every loaded copy of the writer, switch it.

The reference writer decides "am I on Windows?" once, at import, and remembers landed blobs per
process. Inside the simulation it must take its Windows code paths and forget the previous
test's filesystem. It can be loaded under any name: ``ocirace_writer`` (the distribution),
``pytest_ocirace.writer`` (the same module object), or a copy that ``ocirace vendor`` wrote into a
project (``myproject._vendor.ocirace_writer``). So the simulation does not look for a module name
or call a private function: every copy declares ``__ocirace_writer_seam__``, an object with
``use_windows(enabled) -> previous`` and ``forget_filesystem()`` (protocol 1, documented in
docs/writer.md), and this module finds those objects among the loaded modules.

A copy first imported while a simulated test runs is switched from the next simulated test on:
scanning on every file operation would cost more than the case is worth (test modules import
what they use at collection time).
"""

from __future__ import annotations

import sys
from typing import Protocol

__all__ = ["SEAM_ATTRIBUTE", "WriterSeam", "WriterSeamError", "WriterSwitch", "loaded_seams"]

#: The module attribute every copy of the writer carries.
SEAM_ATTRIBUTE = "__ocirace_writer_seam__"


class WriterSeam(Protocol):
    """Protocol 1 of the seam: what the simulation may ask of a copy of the writer."""

    protocol: int

    def use_windows(self, enabled: bool) -> bool: ...

    def forget_filesystem(self) -> None: ...


class WriterSeamError(RuntimeError):
    """A loaded module carries the seam attribute but not the protocol."""


def _check(module_name: str, seam: object) -> WriterSeam:
    protocol = getattr(seam, "protocol", None)
    usable = (
        isinstance(protocol, int)
        and protocol >= 1
        and callable(getattr(seam, "use_windows", None))
        and callable(getattr(seam, "forget_filesystem", None))
    )
    if not usable:
        raise WriterSeamError(
            f"pytest-ocirace: module {module_name!r} has a {SEAM_ATTRIBUTE} that does not speak "
            "protocol 1 (use_windows, forget_filesystem); re-vendor the writer with "
            "`ocirace vendor PATH --force` or upgrade ocirace-writer"
        )
    return seam  # type: ignore[return-value]


def loaded_seams() -> list[WriterSeam]:
    """The seams of every loaded copy of the writer, each once (one module may have two names)."""
    found: dict[int, WriterSeam] = {}
    for name, module in list(sys.modules.items()):
        try:
            seam = module.__dict__.get(SEAM_ATTRIBUTE)
        except (AttributeError, TypeError):  # None or a stand-in object: nothing declared
            continue
        if seam is not None and id(seam) not in found:
            found[id(seam)] = _check(name, seam)
    return list(found.values())


class WriterSwitch:
    """The loaded writers switched to Windows for one simulation, and switched back after it.

    ``install`` switches every loaded copy to its Windows code paths and makes it forget the
    filesystem it knew; ``uninstall`` restores each copy's previous setting (a test that patched
    ``_WINDOWS`` itself gets its value back) and makes every copy forget the fake filesystem.
    """

    def __init__(self) -> None:
        self._previous: list[tuple[WriterSeam, bool]] = []

    def install(self) -> None:
        for seam in loaded_seams():
            self._previous.append((seam, seam.use_windows(True)))
            seam.forget_filesystem()

    def uninstall(self) -> None:
        while self._previous:
            seam, previous = self._previous.pop()
            seam.use_windows(previous)
        for seam in loaded_seams():
            seam.forget_filesystem()
