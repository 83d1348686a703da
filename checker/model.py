"""The data the checker passes between its stages: findings, fixes and lint settings.

Kept free of libcst (and of anything heavy) because the warm path - a cache hit for every
file - builds findings from the cache and prints them without ever parsing a file. For the
same reason these are plain ``__slots__`` classes, not dataclasses: importing
``dataclasses`` (which imports ``inspect``) cost 7-10 ms of a ~60 ms warm run. They keep a
frozen dataclass's behaviour: keyword or positional construction, value equality, hashing,
a readable ``repr``, immutability and pickling (findings travel back from worker processes).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here anyway
    from typing import Literal

__all__ = [
    "DEFAULT_DEPTH",
    "DEFAULT_LINE_LENGTH",
    "DEFAULT_WRITER_MODULE",
    "Edit",
    "Finding",
    "Fix",
    "LintSettings",
    "Related",
]

#: Where fixes import the reference writer from unless ``fix-writer-module`` says otherwise:
#: the stdlib-only ``ocirace-writer`` distribution, never the test tool.
DEFAULT_WRITER_MODULE = "ocirace_writer"
#: isort's ``profile = black``, ruff's and black's default line length.
DEFAULT_LINE_LENGTH = 88
#: How many callers up the rules look for a guard (``interprocedural-depth``).
DEFAULT_DEPTH = 3


class _Record:
    """Value semantics for a slotted class whose ``__init__`` takes ``_fields`` in order."""

    __slots__ = ()
    #: The attributes in constructor order (``__slots__`` is sorted, as ruff wants it).
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def _set(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__.__name__, *self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__name__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(
            f"{self.__class__.__name__} is immutable; build a new one instead of setting {name}"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self.__class__.__name__} is immutable; cannot delete {name}")

    def __reduce__(self) -> tuple[type[_Record], tuple[object, ...]]:
        return (self.__class__, self._values())


class Edit(_Record):
    """Replace the text between two positions (1-based lines, 0-based columns, end exclusive).

    An insertion has equal start and end; a deletion has empty ``content``.
    """

    __slots__ = ("column", "content", "end_column", "end_line", "line")
    _fields = ("line", "column", "end_line", "end_column", "content")

    line: int
    column: int
    end_line: int
    end_column: int
    content: str

    def __init__(
        self, line: int, column: int, end_line: int, end_column: int, content: str
    ) -> None:
        self._set(
            line=line, column=column, end_line=end_line, end_column=end_column, content=content
        )


class Fix(_Record):
    """A rewrite of the reported code, applied as one unit or not at all.

    ``safe`` fixes keep the meaning and intent of the code (ruff's definition) and are
    applied by ``--fix``; ``unsafe`` ones may change observable behaviour (exceptions raised,
    return values, cross-device moves) and are only applied with ``--unsafe-fixes`` (and
    shown by ``--diff``). Each rule page says which of its fixes are safe and why.
    """

    __slots__ = ("applicability", "edits", "message")
    _fields = ("message", "applicability", "edits")

    message: str
    applicability: Literal["safe", "unsafe"]
    edits: tuple[Edit, ...]

    def __init__(
        self, message: str, applicability: Literal["safe", "unsafe"], edits: tuple[Edit, ...]
    ) -> None:
        self._set(message=message, applicability=applicability, edits=edits)


class Related(_Record):
    """Another place that takes part in a finding, in the finding's file.

    The removal before a rename, for example; positions as in :class:`Edit`.
    """

    __slots__ = ("column", "end_column", "end_line", "line", "message")
    _fields = ("line", "column", "end_line", "end_column", "message")

    line: int
    column: int
    end_line: int
    end_column: int
    message: str

    def __init__(
        self, line: int, column: int, end_line: int, end_column: int, message: str
    ) -> None:
        self._set(
            line=line, column=column, end_line=end_line, end_column=end_column, message=message
        )


class Finding(_Record):
    """One problem at one place: the publish call when there is one.

    Positions as in :class:`Edit`. Other places that take part are ``related``; ``why`` says
    which guards were considered and why none counted (``--explain`` and JSON show it).
    """

    __slots__ = (
        "code",
        "column",
        "end_column",
        "end_line",
        "fix",
        "hint",
        "line",
        "message",
        "related",
        "why",
    )
    _fields = (
        "code",
        "message",
        "line",
        "column",
        "end_line",
        "end_column",
        "hint",
        "fix",
        "related",
        "why",
    )

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    #: A one-line suggestion shown under the offending line in text output.
    hint: str
    fix: Fix | None
    related: tuple[Related, ...]
    why: tuple[str, ...]

    def __init__(
        self,
        code: str,
        message: str,
        line: int,
        column: int,
        end_line: int,
        end_column: int,
        hint: str = "",
        fix: Fix | None = None,
        related: tuple[Related, ...] = (),
        why: tuple[str, ...] = (),
    ) -> None:
        self._set(
            code=code,
            message=message,
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
            hint=hint,
            fix=fix,
            related=related,
            why=why,
        )


class LintSettings(_Record):
    """The parts of ``[tool.ocirace]`` that change what the rules report or how they fix it.

    Its ``repr`` is part of the result cache's key, so every field must appear in it (the
    generic ``repr`` of :class:`_Record` guarantees that).
    """

    __slots__ = (
        "extra_guard_functions",
        "extra_lock_names",
        "first_party",
        "fix_writer_module",
        "interprocedural_depth",
        "line_length",
    )
    _fields = (
        "extra_lock_names",
        "extra_guard_functions",
        "fix_writer_module",
        "first_party",
        "line_length",
        "interprocedural_depth",
    )

    #: Extra names (matched like the built-in ones: a substring of a variable, attribute or
    #: qualified name) that count as lock-like objects in ``with`` statements.
    extra_lock_names: tuple[str, ...]
    #: Extra fully qualified function or decorator names that make a rename safe
    #: (e.g. a project's own retrying ``publish`` helper).
    extra_guard_functions: tuple[str, ...]
    #: The module fixes import ``publish`` from: ``ocirace_writer`` by default, or a
    #: project's vendored copy (``fix-writer-module``, written by ``ocirace vendor``).
    fix_writer_module: str
    #: The project's own top-level modules, so that a fix's import lands in isort's
    #: first-party section (see ocirace_checker.imports).
    first_party: tuple[str, ...]
    #: The line length the project's import sorter wraps at (isort, ruff or black, else 88),
    #: so that an import a fix writes or grows is wrapped as that sorter would wrap it.
    line_length: int
    #: How many callers up a guard is looked for; a caller past it counts as unknown, and
    #: unknown is never a guard.
    interprocedural_depth: int

    def __init__(
        self,
        extra_lock_names: tuple[str, ...] = (),
        extra_guard_functions: tuple[str, ...] = (),
        fix_writer_module: str = DEFAULT_WRITER_MODULE,
        first_party: tuple[str, ...] = (),
        line_length: int = DEFAULT_LINE_LENGTH,
        interprocedural_depth: int = DEFAULT_DEPTH,
    ) -> None:
        self._set(
            extra_lock_names=extra_lock_names,
            extra_guard_functions=extra_guard_functions,
            fix_writer_module=fix_writer_module,
            first_party=first_party,
            line_length=line_length,
            interprocedural_depth=interprocedural_depth,
        )
