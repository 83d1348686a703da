"""The rules, one module each, registered in code order.

Importing this package imports the analysis but not libcst; :mod:`ocirace_checker.lint` only imports
it once a file has passed the text pre-filter.
"""

from __future__ import annotations

from . import (
    orc000_syntax_error,
    orc001_unguarded_rename,
    orc002_shared_temp_name,
    orc003_rename_onto_existing,
    orc004_shutil_move,
    orc005_rename_while_open,
    orc006_remove_then_rename,
    orc007_digest_in_name,
)
from .base import Context, Invalid, Rule, Valid

__all__ = ["ALL_RULES", "Context", "Invalid", "Rule", "Valid"]

ALL_RULES: tuple[Rule, ...] = (
    orc000_syntax_error.RULE,
    orc001_unguarded_rename.RULE,
    orc002_shared_temp_name.RULE,
    orc003_rename_onto_existing.RULE,
    orc004_shutil_move.RULE,
    orc005_rename_while_open.RULE,
    orc006_remove_then_rename.RULE,
    orc007_digest_in_name.RULE,
)
