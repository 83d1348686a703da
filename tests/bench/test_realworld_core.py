"""The real-world harness's pure parts: the harness runs by hand, so these keep it honest."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.realworld import core
from bench.realworld.core import (
    ERROR,
    FAILED,
    MISSING,
    PASSED,
    SKIPPED,
    HarnessError,
    Outcome,
    Project,
    ProjectReport,
    Rule,
    RunResult,
)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="2" skipped="1" tests="6">
<testcase classname="tests.test_a" name="test_ok" time="0.010"/>
<testcase classname="tests.test_a" name="test_fail[x]" time="0.5">
  <failure message="PermissionError: [WinError 5] Access is denied: 'C:\\\\a' -&gt; 'b'&#10;more">
  long traceback</failure></testcase>
<testcase classname="tests.test_a" name="test_err" time="0.1">
  <error message="failed on setup with &quot;RuntimeError: boom&quot;">tb</error></testcase>
<testcase classname="tests.test_a" name="test_skip" time="0">
  <skipped type="pytest.skip" message="needs redis">skip</skipped></testcase>
<testcase classname="tests.test_a" name="test_fail_and_teardown" time="0.1">
  <failure message="AssertionError: first">tb</failure>
  <error message="failed on teardown with &quot;OSError&quot;">tb</error></testcase>
<testcase classname="tests.test_a" name="test_no_message" time="0.1">
  <failure>

  ValueError: from the text</failure></testcase>
</testsuite></testsuites>
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_parse_junit_outcomes_and_first_lines(tmp_path: Path) -> None:
    outcomes = core.parse_junit(_write(tmp_path, "j.xml", JUNIT))
    assert {k: v.outcome for k, v in outcomes.items()} == {
        "tests.test_a::test_ok": PASSED,
        "tests.test_a::test_fail[x]": FAILED,
        "tests.test_a::test_err": ERROR,
        "tests.test_a::test_skip": SKIPPED,
        "tests.test_a::test_fail_and_teardown": FAILED,
        "tests.test_a::test_no_message": FAILED,
    }
    assert outcomes["tests.test_a::test_fail[x]"].message == (
        "PermissionError: [WinError 5] Access is denied: 'C:\\\\a' -> 'b'"
    )
    assert outcomes["tests.test_a::test_fail_and_teardown"].message == "AssertionError: first"
    assert outcomes["tests.test_a::test_no_message"].message == "ValueError: from the text"
    assert outcomes["tests.test_a::test_fail[x]"].seconds == 0.5


def test_parse_junit_broken_file_is_one_line_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "j.xml", "<testsuites><testcase")
    with pytest.raises(HarnessError, match=r"unreadable JUnit XML"):
        core.parse_junit(path)


def test_parse_junit_long_message_truncated(tmp_path: Path) -> None:
    body = "x" * 1000
    path = _write(
        tmp_path,
        "j.xml",
        f'<testsuites><testcase classname="c" name="n"><failure message="{body}"/>'
        "</testcase></testsuites>",
    )
    message = core.parse_junit(path)["c::n"].message
    assert len(message) == 240
    assert message.endswith("...")


RULES = [
    Rule("diskcache", "tests.test_core::*", "*KeyError*", "c-library-io", "limit", "sqlite3"),
    Rule("diskcache", "tests.test_core::*", "*", "drives", "plugin", "spellings"),
    Rule("*", "*", "*WinError 32*", "windows-true", "windows", "open file renamed"),
]


def test_classify_first_matching_rule_wins() -> None:
    assert core.classify("diskcache", "tests.test_core::t", "KeyError: 'Users'", RULES) is RULES[0]
    assert core.classify("diskcache", "tests.test_core::t", "WinError 32", RULES) is RULES[1]
    assert core.classify("zict", "tests.t::x", "[WinError 32] in use", RULES) is RULES[2]
    assert core.classify("zict", "tests.t::x", "ValueError", RULES) is None


def test_classify_patterns_are_case_sensitive_fnmatch() -> None:
    assert core.classify("DiskCache", "tests.test_core::t", "KeyError", RULES) is None


def _run(outcomes: dict[str, str], hung: bool = False) -> RunResult:
    return RunResult(
        outcomes={k: Outcome(v, f"{v} message") for k, v in outcomes.items()},
        wall=10.0,
        returncode=1,
        hung=hung,
    )


def test_new_failures_only_tests_that_passed_plain() -> None:
    plain = _run({"a::1": PASSED, "a::2": PASSED, "a::3": FAILED, "a::4": PASSED, "a::5": PASSED})
    oci = _run({"a::1": PASSED, "a::2": FAILED, "a::3": FAILED, "a::4": ERROR, "a::5": SKIPPED})
    found = core.new_failures("zict", plain, oci, RULES)
    assert [(f.test_id, f.outcome) for f in found] == [("a::2", FAILED), ("a::4", ERROR)]
    assert all(f.rule is None for f in found)
    assert core.newly_skipped(plain, oci) == ["a::5"]


def test_tests_missing_from_a_hung_run_count_as_hung() -> None:
    plain = _run({"a::1": PASSED, "a::2": PASSED})
    oci = _run({"a::1": PASSED}, hung=True)
    (failure,) = core.new_failures("zict", plain, oci, RULES)
    assert failure.outcome == MISSING
    assert failure.rule is not None
    assert (failure.rule.category, failure.rule.kind) == ("hung", "plugin")
    assert "run hung" in failure.message


def test_tests_missing_without_a_hang_stay_unclassified() -> None:
    plain = _run({"a::1": PASSED})
    (failure,) = core.new_failures("zict", plain, _run({}), RULES)
    assert failure.rule is None
    assert "the process died" in failure.message


def _report(n_failures: int) -> ProjectReport:
    project = Project("demo", "1.0", (), ("tests",), "")
    plain = _run({f"t::{i}": PASSED for i in range(n_failures + 1)})
    oci = _run({f"t::{i}": FAILED if i else PASSED for i in range(n_failures + 1)})
    oci.wall = 25.0
    oci.output_bytes = 3 * 1024 * 1024
    oci.stray_files = [f"C:\\Users\\x{i}\\cache.db" for i in range(5)]
    return ProjectReport(project, plain, oci, core.new_failures("demo", plain, oci, []), [])


def test_table_row_has_counts_ratio_and_output_size() -> None:
    table = core.render_table([_report(2)])
    header, rule, row = table.splitlines()
    assert header.count("|") == rule.count("|") == row.count("|")
    assert row == (
        "| demo | 1.0 | 3/0/0/0 | 1/2/0/0 | 2 (2) | 10.0 | 25.0 | 2.5x | 0.0 / 0.0 (-) | 3.0 MiB "
        "| 0/5 |"
    )


def test_passing_both_sums_only_tests_that_pass_in_both_runs() -> None:
    plain = RunResult(
        outcomes={
            "a::1": Outcome(PASSED, seconds=1.0),
            "a::2": Outcome(PASSED, seconds=2.0),
            "a::3": Outcome(PASSED, seconds=4.0),
            "a::4": Outcome(FAILED, seconds=8.0),
        }
    )
    oci = RunResult(
        outcomes={
            "a::1": Outcome(PASSED, seconds=1.5),
            "a::2": Outcome(FAILED, seconds=30.0),
            "a::4": Outcome(PASSED, seconds=16.0),
            "a::5": Outcome(PASSED, seconds=64.0),
        }
    )
    assert core.passing_both(plain, oci) == (1, 1.0, 1.5)
    assert core.passing_both_cell(core.passing_both(plain, oci)) == "1.0 / 1.5 (1.5x)"
    rep = ProjectReport(Project("demo", "1.0", (), ("tests",), ""), plain, oci, [], [])
    assert "tests passing both ways (1), JUnit seconds plain / ocirace: 1.0 / 1.5 (1.5x)" in (
        core.render_project(rep)
    )


def test_project_report_lists_every_failure_uncapped() -> None:
    text = core.render_project(_report(150))
    assert "left 5 new file(s) in the real source tree: 'C:\\\\Users" in text
    assert "and 2 more" in text
    assert "newly failing, UNCLASSIFIED (150):" in text
    assert sum(1 for line in text.splitlines() if line.startswith("  failed  t::")) == 150


def test_hung_run_is_visible_in_table_and_report() -> None:
    rep = _report(1)
    rep.ocirace.hung = True
    rep.ocirace.hung_after_summary = True
    assert "1/1/0/0 hung" in core.render_table([rep])
    assert "HUNG after its summary" in core.render_project(rep)


def test_cause_counts() -> None:
    rep = _report(3)
    rep.failures[0] = core.NewFailure("t::1", FAILED, "m", RULES[1])
    assert core.cause_counts([rep]) == {"unclassified": 2, "plugin/drives": 1}


def test_checked_in_data_files_load() -> None:
    projects = core.load_projects()
    assert len(projects) >= 6
    assert all(p.version[0].isdigit() for p in projects)
    core.load_rules()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[project]]\nname = "x"\nversion = ">=1"\n', "must be an exact pin"),
        ('[[project]]\nname = "x"\nversion = "1"\ndeps = "y"\n', "expected a list of strings"),
        ("", "no \\[\\[project\\]\\] entries"),
        ("[[project]\n", "not valid TOML"),
    ],
)
def test_bad_projects_file_is_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message) as info:
        core.load_projects(_write(tmp_path, "p.toml", text))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\nkind = "maybe"\ncategory = "drives"\nwhy = "w"\n', "kind 'maybe'"),
        ('[[rule]]\nkind = "plugin"\ncategory = "nope"\nwhy = "w"\n', "category 'nope'"),
        ('[[rule]]\nkind = "plugin"\ncategory = "drives"\n', "'why' must be"),
    ],
)
def test_bad_rules_file_is_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        core.load_rules(_write(tmp_path, "c.toml", text))


def test_project_rules_beat_generic_rules_wherever_they_are() -> None:
    generic = Rule("*", "*", "*", "hung", "plugin", "catch-all")
    specific = Rule("zict", "*", "*", "drives", "plugin", "zict")
    assert core.classify("zict", "t::x", "boom", [generic, specific]) is specific
    assert core.classify("other", "t::x", "boom", [generic, specific]) is generic


def test_junit_id_from_nodeid() -> None:
    assert core.junit_id("tests/test_x.py::test_a") == "tests.test_x::test_a"
    assert (
        core.junit_id("tests/test_x.py::TestC::test_m[a::b]") == "tests.test_x.TestC::test_m[a::b]"
    )
    assert core.junit_id("pkg/tests/t.py::test_a[x]") == "pkg.tests.t::test_a[x]"


def test_parse_verbose_log_salvages_a_hung_run() -> None:
    text = (
        "collecting ... collected 4 items\n"
        "tests/test_x.py::test_a PASSED                 [ 25%]\n"
        "tests/test_x.py::TestC::test_b[1] FAILED        [ 50%]\n"
        "tests/test_x.py::test_c PASSED                 [ 75%]\n"
        "tests/test_x.py::test_c ERROR                  [ 75%]\n"
        "tests/test_x.py::test_d SKIPPED (no redis)     [100%]\n"
        "tests/test_x.py::test_e \n"
        "FAILED tests/test_x.py::test_a - short summary lines start with the word\n"
    )
    outcomes = core.parse_verbose_log(text)
    assert {k: v.outcome for k, v in outcomes.items()} == {
        "tests.test_x::test_a": PASSED,
        "tests.test_x.TestC::test_b[1]": FAILED,
        "tests.test_x::test_c": ERROR,
        "tests.test_x::test_d": SKIPPED,
    }
