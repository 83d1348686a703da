"""``# noqa`` comments: which findings a line suppresses, and warnings for bad comments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .codes import RULES
from .model import Finding

__all__ = ["apply_noqa"]

# Ruff's grammar: a bare noqa comment suppresses everything on its line; one followed by a
# colon and codes (commas or spaces between them) only those codes. Codes of other tools are
# allowed and ignored.
_NOQA = re.compile(
    r"#\s*(?i:noqa)(?P<sep>:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*)?)?"
)


def _noqa_codes(line: str) -> tuple[bool, frozenset[str] | None, str | None]:
    """(has a noqa comment, codes or None for a blanket one, a warning about it or None)."""
    match = _NOQA.search(line)
    if match is None:
        return False, None, None
    if match.group("sep") is None:
        return True, None, None
    raw = match.group("codes")
    if raw is None:
        return (
            True,
            frozenset(),
            "'# noqa:' without codes suppresses nothing; add codes or drop ':'",
        )
    codes = frozenset(code.upper() for code in re.split(r"[\s,]+", raw) if code)
    unknown = sorted(c for c in codes if c.startswith("ORC") and c not in RULES)
    warning = None
    if unknown:
        warning = f"unknown rule code {', '.join(unknown)} in '# noqa'; valid: {', '.join(RULES)}"
    return True, codes, warning


def apply_noqa(
    findings: Iterable[Finding], lines: Sequence[str]
) -> tuple[list[Finding], list[tuple[int, str]]]:
    """Findings not suppressed on their reported line, and (line, warning) for bad comments."""
    kept: list[Finding] = []
    warnings: dict[int, str] = {}
    for finding in findings:
        text = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        present, codes, warning = _noqa_codes(text)
        if warning is not None:
            warnings[finding.line] = warning
        if present and (codes is None or finding.code in codes):
            continue
        kept.append(finding)
    return kept, sorted(warnings.items())
