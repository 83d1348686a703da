"""Shared test configuration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_ocirace.racemodel.model import RaceModel


@pytest.fixture
def model(winfs: Any) -> Iterator[RaceModel]:
    """The race model watching the test's simulation (the plugin's, or one set up here)."""
    from pytest_ocirace.racemodel.model import RaceModel
    from pytest_ocirace.racemodel.sync import install

    if isinstance(winfs.observer, RaceModel):  # the plugin already wired the model in
        yield winfs.observer
        return
    instrumentation = install()
    race_model = RaceModel(instrumentation.tracker)
    winfs.observer = race_model
    try:
        yield race_model
    finally:
        winfs.observer = None
        instrumentation.uninstall()
