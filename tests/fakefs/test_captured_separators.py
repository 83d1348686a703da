"""Separators a module captured at import hold Windows' values inside the simulation (click)."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from pytest_ocirace.fakefs.filesystem import simulate

SOURCE = textwrap.dedent(
    """
    import os
    import string
    from os.path import sep as path_sep

    SPLIT = os.path.pathsep
    SEP: str = os.sep
    NULL = os.devnull
    COLON = ":"
    VALID = "-_. " + string.ascii_letters + os.path.sep
    BOTH = (os.sep, os.altsep)
    PREFIX = f"{path_sep}x"
    CALLED = os.path.join("a", "b")

    def escape(name):
        return "".join(filter(VALID.__contains__, name))

    class ParamType:
        envvar_list_splitter = os.path.pathsep

        def split(self, value):
            return value.split(self.envvar_list_splitter)
    """
)


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[ModuleType]:
    (tmp_path / "captured_seps_mod.py").write_text(SOURCE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("captured_seps_mod")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("captured_seps_mod", None)


def test_captured_separators_are_windows_ones_inside_and_the_hosts_after(
    captured: ModuleType,
) -> None:
    with simulate():
        import os

        assert (captured.SPLIT, captured.SEP, captured.NULL) == (";", "\\", "nul")
        # click's Path type splits what the test joined with os.path.pathsep, as on Windows.
        assert captured.ParamType().split(f"foo{os.path.pathsep}bar") == ["foo", "bar"]
        # partd's store: the separator os.path.join put there is a valid character.
        assert captured.escape(os.path.join("a", "b")) == "a\\b"
        assert (captured.BOTH, captured.PREFIX) == (("\\", "/"), "\\x")
        assert captured.COLON == ":"  # a literal is no separator
        assert captured.CALLED == "a/b"  # a value made by a call keeps its spelling
    assert (captured.SPLIT, captured.SEP, captured.NULL) == (":", "/", "/dev/null")
    assert (captured.BOTH, captured.PREFIX, captured.VALID[-1]) == (("/", None), "/x", "/")
    assert captured.ParamType.envvar_list_splitter == ":"


def test_a_value_set_since_import_is_left_alone(captured: ModuleType) -> None:
    captured.ParamType.envvar_list_splitter = "|"
    with simulate():
        assert captured.ParamType.envvar_list_splitter == "|"
        assert captured.SPLIT == ";"
    assert captured.ParamType.envvar_list_splitter == "|"
