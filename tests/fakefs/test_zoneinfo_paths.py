"""A zoneinfo loaded before the simulation looks time zones up as on Windows (cookiecutter)."""

from __future__ import annotations

import importlib.util
import zoneinfo

import pytest

from pytest_ocirace.fakefs.filesystem import simulate

HAS_TZDATA = importlib.util.find_spec("tzdata") is not None


def test_a_key_is_looked_up_as_on_windows_and_the_search_path_comes_back() -> None:
    before = zoneinfo.TZPATH
    with simulate():
        assert zoneinfo.TZPATH == ()  # Windows has no system time zone folders
        # Was: ValueError "ZoneInfo keys must refer to subdirectories of TZPATH", which no
        # platform raises for this key. Windows reads the tzdata package, or has nothing.
        if HAS_TZDATA:
            assert zoneinfo.ZoneInfo.no_cache("Europe/Berlin").key == "Europe/Berlin"
        else:
            with pytest.raises(zoneinfo.ZoneInfoNotFoundError):
                zoneinfo.ZoneInfo.no_cache("Europe/Berlin")
        with pytest.raises(ValueError, match="normalized relative paths"):
            zoneinfo.ZoneInfo.no_cache("Europe/../Berlin")  # still refused, as everywhere
    assert before == zoneinfo.TZPATH
    if before:
        assert zoneinfo.ZoneInfo.no_cache("Europe/Berlin").key == "Europe/Berlin"
