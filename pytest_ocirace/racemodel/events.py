"""The contract between the Windows filesystem layer and whatever watches it.

The filesystem layer (``filesystem.py``) describes every operation it is about to perform as
an :class:`FsOp` and hands it to the installed :class:`FsObserver` *before* touching pyfakefs,
then again *after* with the outcome. The race model (issue 4) is such an observer: it can
raise a Windows error from ``before`` (the error surfaces in the user's frame, as the real
one would), or answer an existence query as if the name were absent (check-then-act).

Both calls happen while the layer holds its global lock, so observers see a single total
order of operations and must not block.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Answer", "FsObserver", "FsOp", "OpKind"]


class OpKind(str, enum.Enum):
    """What a filesystem operation does, at the granularity the race model reasons about."""

    OPEN = "open"  # a handle is created on ``path`` (see ``access``/``share_delete``)
    CLOSE = "close"  # the handle ``handle`` on ``path`` is closed
    RENAME = "rename"  # os.rename: ``path`` -> ``path2``; fails if ``path2`` exists
    REPLACE = "replace"  # os.replace: ``path`` -> ``path2``
    REMOVE = "remove"  # os.remove / os.unlink of ``path``
    LINK = "link"  # os.link: ``path`` -> ``path2``
    STAT = "stat"  # existence or metadata query of ``path`` (exists, isfile, stat, lstat)
    MKDIR = "mkdir"
    RMDIR = "rmdir"


class Answer(enum.Enum):
    """What an observer may ask the layer to do instead of the real outcome."""

    PROCEED = "proceed"
    #: For ``STAT``: answer as if ``path`` did not exist (FileNotFoundError / False).
    PRETEND_ABSENT = "pretend-absent"


@dataclass(frozen=True)
class FsOp:
    """One operation as the layer is about to perform it.

    ``path``/``path2`` are normalised keys (absolute, Windows separators, case-folded, trailing
    dots and spaces stripped) so that two spellings of one Windows file compare equal;
    ``display``/``display2`` are the paths as the user spelled them, for messages.
    """

    kind: OpKind
    path: str
    display: str
    path2: str | None = None
    display2: str | None = None
    #: Handle id for OPEN/CLOSE (stable for the handle's life).
    handle: int | None = None
    #: For OPEN: requested access, a subset of {"read", "write", "delete"}.
    access: frozenset[str] = field(default=frozenset())  # one empty set for every op
    #: For OPEN: whether the handle shares DELETE (``O_TEMPORARY``), i.e. allows renames.
    share_delete: bool = False
    #: Whether the operation makes its name appear: for OPEN, an open that creates the file
    #: (``"w"``, ``"x"``, ``O_CREAT`` of a name that is not there); for RENAME/REPLACE/LINK,
    #: a target that was not there. A name that was there before (made before the test,
    #: or by something nothing reports) is never "born" by the operation, so an existence
    #: check unordered with it sees the name in every schedule.
    creates: bool = False
    #: For OPEN: whether the open creates the file exclusively (``"x"``, ``O_CREAT|O_EXCL``):
    #: an atomic test-and-set of the name, which the race model treats as synchronisation.
    exclusive: bool = False
    #: For RENAME/REPLACE/LINK: sha256 hex of the source's content, so that a report can say
    #: whether two writers published identical bytes. None when not computed.
    content_digest: str | None = None


class FsObserver(Protocol):
    """Watches operations; installed on the filesystem layer by the plugin."""

    def before(self, op: FsOp) -> Answer:
        """Called before ``op`` runs. May raise an ``OSError`` to make ``op`` fail."""
        ...

    def after(self, op: FsOp, error: BaseException | None) -> None:
        """Called after ``op`` ran; ``error`` is what it raised, if anything."""
        ...
