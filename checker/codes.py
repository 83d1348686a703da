"""The rule catalogue: codes, names and one-line summaries, without the rules themselves.

The CLI validates ``--select``/``--ignore`` and writes SARIF rule metadata from this table;
it must not import the rule implementations (they import libcst), so the table lives here.
"""

from __future__ import annotations

__all__ = ["DOCS_URL", "RULES", "RuleInfo"]

DOCS_URL = "https://github.com/pytest-ocirace/pytest-ocirace/blob/main/docs/rules/{code}.md"


class RuleInfo:
    """What users see of a rule before any file is checked: code, name, why it exists.

    A plain ``__slots__`` class, not a dataclass: every run imports this table, and
    ``dataclasses`` alone cost several milliseconds of a warm run's start-up.
    """

    __slots__ = ("code", "name", "summary", "windows_rows")

    code: str
    #: kebab-case name, as ruff and Fixit show it.
    name: str
    summary: str
    #: Row of the Windows decision table (docs/windows-semantics.md) the rule prevents.
    windows_rows: tuple[int, ...]

    def __init__(self, code: str, name: str, summary: str, windows_rows: tuple[int, ...]) -> None:
        self.code = code
        self.name = name
        self.summary = summary
        self.windows_rows = windows_rows

    def __repr__(self) -> str:
        return f"RuleInfo({self.code!r}, {self.name!r}, {self.summary!r}, {self.windows_rows!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuleInfo):
            return NotImplemented
        return (self.code, self.name, self.summary, self.windows_rows) == (
            other.code,
            other.name,
            other.summary,
            other.windows_rows,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.name, self.summary, self.windows_rows))

    @property
    def help_url(self) -> str:
        return DOCS_URL.format(code=self.code)


RULES: dict[str, RuleInfo] = {
    info.code: info
    for info in (
        RuleInfo(
            "ORC000",
            "syntax-error",
            "File could not be parsed; nothing in it was checked",
            (),
        ),
        RuleInfo(
            "ORC001",
            "unguarded-rename-race",
            "Temp file renamed onto a shared target with no lock, retry or publish-if-absent",
            (5, 6),
        ),
        RuleInfo(
            "ORC002",
            "shared-temp-name",
            "Temp name derived from the target without a per-writer unique part",
            (7,),
        ),
        RuleInfo(
            "ORC003",
            "rename-onto-existing",
            "os.rename/Path.rename onto a target that may exist fails on Windows (183)",
            (2, 9),
        ),
        RuleInfo(
            "ORC004",
            "shutil-move-onto-existing",
            "shutil.move onto a target that may exist becomes a non-atomic copy on Windows",
            (2,),
        ),
        RuleInfo(
            "ORC005",
            "rename-while-open",
            "Temp file renamed while still open: WinError 32 on Windows",
            (7,),
        ),
        RuleInfo(
            "ORC006",
            "remove-then-rename",
            "Target removed before the temp is renamed onto it",
            (13, 19),
        ),
        RuleInfo(
            "ORC007",
            "digest-in-file-name",
            "A digest such as 'sha256:...' used as a file name: ':' is reserved on Windows",
            (15,),
        ),
    )
}
