"""The model's verdict on racy, handled and safe programs, and its determinism.

A verdict is (a race was recorded, an injected error escaped the program). It must not
depend on the scheduler: each scenario is run 50 times with a 1 microsecond switch interval
and random sleeps before every filesystem operation.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest

from .race_driver import Driver, simulated
from .race_scenarios import HANDLED, RACY, SAFE

Scenario = Callable[[Driver], None]


def verdict(scenario: Scenario, jitter: float = 0.0) -> tuple[bool, bool]:
    with simulated(jitter=jitter) as (driver, model):
        escaped = False
        try:
            scenario(driver)
        except OSError as exc:
            escaped = model.note_escaped(exc)
            if not escaped:
                raise AssertionError(f"{scenario.__name__} failed with a real error") from exc
        return model.raced, escaped


EXPECTED = (
    [(s, (True, True)) for s in RACY]
    + [(s, (True, False)) for s in HANDLED]
    + [(s, (False, False)) for s in SAFE]
)
IDS = [s.__name__ for s, _ in EXPECTED]


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.parametrize(("scenario", "expected"), EXPECTED, ids=IDS)
def test_verdict(scenario: Scenario, expected: tuple[bool, bool]) -> None:
    assert verdict(scenario) == expected


@pytest.mark.usefixtures("tiny_switch_interval")
@pytest.mark.parametrize(("scenario", "expected"), EXPECTED, ids=IDS)
def test_verdict_is_the_same_in_50_of_50_runs(
    scenario: Scenario, expected: tuple[bool, bool]
) -> None:
    verdicts = [verdict(scenario, jitter=0.0003 if i % 2 else 0.0) for i in range(50)]
    assert verdicts.count(expected) == 50, {v: verdicts.count(v) for v in set(verdicts)}
