"""The data model keeps a frozen dataclass's behaviour without importing dataclasses."""

from __future__ import annotations

import copy
import pickle

import pytest

from ocirace_checker.codes import RULES, RuleInfo
from ocirace_checker.model import Edit, Finding, Fix, LintSettings


def finding(line: int = 1) -> Finding:
    fix = Fix("use publish", "safe", (Edit(line, 0, line, 10, "publish"),))
    return Finding("ORC001", "message", line, 0, line, 20, "hint", fix)


def test_value_equality_hashing_and_keywords() -> None:
    assert finding() == finding()
    assert finding() != finding(2)
    assert len({finding(), finding(), finding(2)}) == 2
    by_keyword = Finding(code="ORC001", message="m", line=1, column=0, end_line=1, end_column=1)
    assert (by_keyword.hint, by_keyword.fix) == ("", None)
    assert Edit(1, 0, 1, 0, "x") != (1, 0, 1, 0, "x")  # not a tuple


def test_immutable_with_a_clear_message() -> None:
    value = finding()
    with pytest.raises(AttributeError, match="Finding is immutable"):
        value.line = 3
    with pytest.raises(AttributeError, match="immutable"):
        del value.code


def test_pickles_and_copies_as_the_same_value() -> None:
    value = finding()
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.deepcopy(value) == value
    settings = LintSettings(("gate",), ("p.q",), "app._vendor.writer")
    assert pickle.loads(pickle.dumps(settings)) == settings


def test_settings_repr_names_every_field_for_the_cache_key() -> None:
    text = repr(LintSettings(fix_writer_module="app._vendor.writer"))
    for name in ("extra_lock_names", "extra_guard_functions", "fix_writer_module"):
        assert name in text
    assert repr(LintSettings()) != text


def test_rule_table_values() -> None:
    info = RULES["ORC001"]
    assert info.name == "unguarded-rename-race"
    assert info.help_url.endswith("/docs/rules/ORC001.md")
    twin = RuleInfo(info.code, info.name, info.summary, info.windows_rows)
    assert twin == info
    assert hash(twin) == hash(info)
    assert twin != RULES["ORC003"]
    assert "ORC001" in repr(info)
