"""The decision table, row by row, inside the simulation (the scenarios users run on Windows)."""

from __future__ import annotations

import pytest

from pytest_ocirace import conformance
from pytest_ocirace.conformance import SCENARIOS, Outcome, Scenario, main, run_scenario


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_row(scenario: Scenario) -> None:
    result = run_scenario(scenario, simulate=True)
    assert result.skipped is None
    assert result.actual is not None
    expected = scenario.expected
    actual = result.actual
    assert (actual.error_class, actual.errno, actual.winerror) == (
        expected.error_class,
        expected.errno,
        expected.winerror,
    ), actual.describe()
    if expected.error_class is None:
        assert actual.result == expected.result
    else:
        assert actual.message is not None
        assert expected.message is not None
        assert actual.message.startswith(expected.message), actual.message


def test_every_table_row_has_a_scenario() -> None:
    ids = {scenario.id.rstrip("bp") for scenario in SCENARIOS}
    # Rows 5 and 6 are concurrency rows: the race model (issue 4) owns them.
    assert {str(row) for row in range(1, 21)} - {"5", "6"} <= ids


def test_script_against_the_simulation_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--simulate"], scenarios=SCENARIOS[:3]) == 0
    assert "3 rows run, 0 disagree" in capsys.readouterr().out


def test_script_prints_a_disagreeing_row(capsys: pytest.CaptureFixture[str]) -> None:
    wrong = Scenario(
        "X", "a deliberately wrong expectation", SCENARIOS[1].action, Outcome(result=None)
    )
    assert main(["--simulate"], scenarios=[wrong]) == 1
    out = capsys.readouterr().out
    assert "DISAGREE row   X a deliberately wrong expectation" in out
    assert "actual: FileExistsError(errno=17, winerror=183)" in out


def test_script_refuses_a_non_windows_machine_without_simulate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(conformance.os, "name", "posix")
    assert main([]) == 2
    assert "pass --simulate" in capsys.readouterr().err
