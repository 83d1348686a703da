from __future__ import annotations

import pytest

from pytest_ocirace.plugins.fakefs import _option_names
from pytest_ocirace.winrules.options import OPTION_HELP, OptionError, SimulationOptions


def test_defaults() -> None:
    options = SimulationOptions()
    assert options.delete_semantics == "classic"
    assert options.max_path is True


def test_merge_converts_text() -> None:
    options = SimulationOptions().merged(
        {"max_path": "off", "windows_platform_modules": "a, b c"}, source="ini"
    )
    assert options.max_path is False
    assert options.windows_platform_modules == ("a", "b", "c")


def test_windows_import_modules_takes_text_or_a_list() -> None:
    from_ini = SimulationOptions().merged(
        {"windows_import_modules": "filelock, atomicwrites"}, source="ini"
    )
    assert from_ini.windows_import_modules == ("filelock", "atomicwrites")
    from_marker = SimulationOptions().merged({"windows_import_modules": ["filelock"]}, source="m")
    assert from_marker.windows_import_modules == ("filelock",)
    with pytest.raises(OptionError, match="windows_import_modules takes a list of module names"):
        SimulationOptions().merged({"windows_import_modules": 3}, source="m")


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"delete_semantics": "modern"}, "use one of 'classic', 'posix'"),
        ({"max_path": "maybe"}, "use true or false"),
        ({"colour": "red"}, "unknown ocirace option 'colour'"),
        ({"workdir": "/tmp"}, "absolute Windows path"),
    ],
)
def test_bad_values_give_one_line(values: dict[str, object], fragment: str) -> None:
    with pytest.raises(OptionError) as info:
        SimulationOptions().merged(values, source="marker")
    assert fragment in str(info.value)
    assert str(info.value).startswith("marker: ")
    assert "\n" not in str(info.value)


def test_every_option_has_help_and_a_plugin_switch() -> None:
    assert set(_option_names()) == set(SimulationOptions.names()) == set(OPTION_HELP)
