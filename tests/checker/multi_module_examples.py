"""Every rule example that spans modules, as pytest parameters (the index tests' inputs)."""

from __future__ import annotations

import pytest

from ocirace_checker.rules import ALL_RULES

MULTI_MODULE = [
    pytest.param(case, id=f"{rule.code}-{kind}-{number}")
    for rule in ALL_RULES
    for kind, cases in (("valid", rule.valid), ("invalid", rule.invalid))
    for number, case in enumerate(cases)
    if isinstance(case.code, dict)
]
