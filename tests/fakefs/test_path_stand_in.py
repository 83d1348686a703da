"""fakefs/path_stand_in.py: a module's ``Path`` global is a class inside the simulation."""

from __future__ import annotations

import functools
import pathlib
from pathlib import Path

from pytest_ocirace.fakefs.filesystem import simulate

#: Made at import: the host's PosixPath.
MADE_AT_IMPORT = pathlib.Path("made-before")


def test_a_singledispatch_registry_keyed_on_path_dispatches_the_paths_made_inside() -> None:
    # cattrs' Converter() registers (Path, str) in a functools.singledispatch: pyfakefs'
    # stand-in object was refused as a key ("is not a class or union type").
    with simulate():
        describe = functools.singledispatch(lambda value: "other")
        describe.register(Path, lambda value: "path")
        assert isinstance(Path, type)
        assert describe(Path("a")) == "path"
        assert describe(pathlib.Path("b")) == "path"
        assert describe(MADE_AT_IMPORT) == "path"
        assert describe("a") == "other"


def test_the_stand_in_class_still_makes_fake_windows_paths() -> None:
    with simulate():
        made = Path("C:/dir") / "f.txt"
        assert type(made).__name__ == "WindowsPath"
        assert isinstance(made, Path)
        assert isinstance(MADE_AT_IMPORT, Path)
        assert issubclass(type(made), Path)
        assert not issubclass(str, Path)
        Path("C:/dir").mkdir()
        made.write_text("x")
        assert Path("C:/dir/f.txt").read_text() == "x"
        assert Path.cwd().exists()


def test_setting_an_attribute_on_the_stand_in_reaches_the_paths_inside() -> None:
    with simulate():
        Path.ocirace_marker = "set"  # type: ignore[attr-defined]
        try:
            assert Path("x").ocirace_marker == "set"  # type: ignore[attr-defined]
        finally:
            del Path.ocirace_marker  # type: ignore[attr-defined]
        assert not hasattr(Path("x"), "ocirace_marker")
    assert Path is pathlib.Path
