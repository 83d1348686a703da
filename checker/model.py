"""The data the checker passes between its stages: findings, fixes and lint settings.

Kept free of libcst (and of anything heavy) because the warm path - a cache hit for every
file - builds findings from the cache and prints them without ever parsing a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Edit", "Finding", "Fix", "LintSettings"]


@dataclass(frozen=True)
class Edit:
    """Replace the text between two positions (1-based lines, 0-based columns, end exclusive).

    An insertion has equal start and end; a deletion has empty ``content``.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    content: str


@dataclass(frozen=True)
class Fix:
    """A rewrite of the reported code, applied as one unit or not at all.

    ``safe`` fixes keep the program's behaviour on every platform and are applied by
    ``--fix``; ``unsafe`` ones change observable behaviour (exceptions raised, file modes,
    cross-device moves) and are only shown by ``--diff`` / ``--unsafe-fixes``.
    """

    message: str
    applicability: Literal["safe", "unsafe"]
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Finding:
    """One problem at one place; positions as in :class:`Edit`."""

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    #: A one-line suggestion shown under the offending line in text output.
    hint: str = ""
    fix: Fix | None = None


@dataclass(frozen=True)
class LintSettings:
    """The parts of ``[tool.ocirace]`` that change what the rules consider a guard."""

    #: Extra names (matched like the built-in ones: a substring of a variable, attribute or
    #: qualified name) that count as lock-like objects in ``with`` statements.
    extra_lock_names: tuple[str, ...] = field(default=())
    #: Extra fully qualified function or decorator names that make a rename safe
    #: (e.g. a project's own retrying ``publish`` helper).
    extra_guard_functions: tuple[str, ...] = field(default=())
