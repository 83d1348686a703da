"""Run every rule's own VALID and INVALID examples (the Fixit 2 contract)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ocirace_checker.fixes import apply_fixes
from ocirace_checker.lint import lint_source, might_match
from ocirace_checker.model import LintSettings
from ocirace_checker.rules import ALL_RULES, Invalid, Rule, Valid

SETTINGS = LintSettings()

VALID_CASES = [
    pytest.param(rule, case, id=f"{rule.code}-valid-{index}")
    for rule in ALL_RULES
    for index, case in enumerate(rule.valid)
]
INVALID_CASES = [
    pytest.param(rule, case, id=f"{rule.code}-invalid-{index}")
    for rule in ALL_RULES
    for index, case in enumerate(rule.invalid)
]


def test_every_rule_has_examples() -> None:
    codes = [rule.code for rule in ALL_RULES]
    assert codes == sorted(codes)
    assert codes == [f"ORC00{n}" for n in range(8)]
    for rule in ALL_RULES:
        assert rule.valid, rule.code
        assert rule.invalid, rule.code


@pytest.mark.parametrize(("rule", "case"), VALID_CASES)
def test_valid_example_has_no_finding(rule: Rule, case: Valid) -> None:
    findings = lint_source(case.source, case.checked_path, SETTINGS, case.index())
    assert [f for f in findings if f.code == rule.code] == []


@pytest.mark.parametrize(("rule", "case"), INVALID_CASES)
def test_invalid_example_is_reported(rule: Rule, case: Invalid) -> None:
    source = case.source
    assert might_match(source), "the pre-filter would skip this file"
    index = case.index()
    findings = lint_source(source, case.checked_path, SETTINGS, index)
    findings = [f for f in findings if f.code == rule.code]
    assert findings, f"{rule.code} not reported"
    if case.line is not None:
        assert case.line in [f.line for f in findings]
    if case.message is not None:
        assert any(case.message in f.message for f in findings), findings[0].message
    for finding in findings:
        assert finding.hint
        assert (finding.line, finding.column) <= (finding.end_line, finding.end_column)
    expected = case.fixed_source
    fixes = [f.fix for f in findings if f.fix is not None]
    if expected is not None:
        assert fixes, f"{rule.code} offers no fix"
    if case.applicability is not None:
        assert fixes, f"{rule.code} offers no fix"
        assert {f.applicability for f in fixes} == {case.applicability}
    if rule.code == "ORC000":
        assert fixes == []  # nothing to fix automatically in a file that does not parse
        return
    fixed = apply_fixes(source, fixes)
    if expected is not None:
        assert fixed == expected
    ast.parse(fixed)
    # Idempotent: the fixed file has no fix of this rule left, and re-applying changes nothing.
    again = lint_source(fixed, case.checked_path, SETTINGS, index)
    again = [f for f in again if f.code == rule.code]
    assert [f for f in again if f.fix is not None] == []
    assert apply_fixes(fixed, [f.fix for f in again if f.fix is not None]) == fixed


def test_one_catalogue_ties_codes_rule_modules_and_docs() -> None:
    # codes.RULES (what the CLI validates and SARIF describes), the rule modules (what runs)
    # and docs/rules/*.md (what users read) must name the same codes, in the same order.
    import ocirace_checker.rules as rules_package
    from ocirace_checker.codes import RULES

    root = Path(__file__).resolve().parents[2]
    modules = sorted(
        p.stem.split("_")[0].upper() for p in Path(rules_package.__file__).parent.glob("orc*.py")
    )
    docs = sorted(p.stem for p in (root / "docs" / "rules").glob("ORC*.md"))
    assert [rule.code for rule in ALL_RULES] == list(RULES)
    assert modules == docs == list(RULES)
    for code, info in RULES.items():
        page = (root / "docs" / "rules" / f"{code}.md").read_text(encoding="utf-8")
        assert info.name in page, f"docs/rules/{code}.md does not name {info.name}"
