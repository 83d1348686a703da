"""ORC000: the file could not be parsed, so nothing in it was checked.

Produced by :func:`ocirace_checker.lint.lint_source` itself, not by a visitor: a file that does not
parse has no tree to visit. Reported as a finding (not a crash) so one bad file never stops
the run and never passes silently. It covers three cases: a real ``SyntaxError``; valid
Python that libcst cannot parse (findings from the ``ast`` pass are still reported, without
libcst's confirmation); and a file nested too deeply for the analysis (``RecursionError``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, Invalid, Rule, Valid

__all__ = ["RULE"]

CODE = "ORC000"


def check(ctx: Context) -> Iterator[Finding]:
    """Nothing to do on a parsed module: parse failures are reported by ``lint_source``."""
    return iter(())


VALID = (
    Valid(
        """
        import os
        os.replace("a.tmp", "a")
        """
    ),
)

INVALID = (
    Invalid(
        """
        import os
        def store(tmp, dst)
            os.replace(tmp, dst)
        """,
        line=2,
        message="could not be parsed",
    ),
    Invalid(
        """
        import os
        os.replace(tmp, dst
        """,
        message="could not be parsed",
    ),
)

RULE = Rule(CODE, check, VALID, INVALID)
