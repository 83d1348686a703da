"""The one builder of ORC000 findings: a file, or part of one, that was not checked.

Every stage that can fail on a file (reading, decoding, parsing, the analysis, a worker
process) reports through :func:`unchecked`, so the message always says that nothing was
checked and the hint always says how to get the file checked.
"""

from __future__ import annotations

from .model import Finding

__all__ = ["unchecked"]

_HINT = "fix the file, or exclude it in [tool.ocirace]"


def unchecked(
    reason: str,
    line: int = 1,
    column: int = 0,
    end_line: int | None = None,
    end_column: int | None = None,
) -> Finding:
    """An ORC000 finding: ``reason`` (what went wrong and, if any, the way out)."""
    message = reason if "nothing" in reason else f"{reason}; nothing in it was checked"
    return Finding(
        "ORC000",
        message,
        line,
        column,
        line if end_line is None else end_line,
        column if end_column is None else end_column,
        _HINT,
    )
