"""fakefs/default_args.py: filesystem functions held as default values reach the fake disk.

zarr's ``DirectoryStore._keys_fast(path, walker=os.walk)`` listed its store on the real
disk inside the simulation, and its store looked empty (16 of its tests).
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from pytest_ocirace.fakefs.filesystem import simulate

SOURCE = """
import os
import os.path


def keys(path, walker=os.walk):
    return sorted(name for _, _, names in walker(path) for name in names)


def exists(path, *, check=os.path.exists):
    return check(path)


class Store:
    @staticmethod
    def listing(path, lister=os.listdir):
        return sorted(lister(path))

    @classmethod
    def read(cls, path, opener=open):
        with opener(path) as f:
            return f.read()

    def is_folder(self, path, isdir=os.path.isdir):
        return isdir(path)
"""


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[ModuleType]:
    (tmp_path / "ocirace_defaults_probe.py").write_text(textwrap.dedent(SOURCE))
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("ocirace_defaults_probe")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ocirace_defaults_probe", None)


def test_defaults_holding_filesystem_functions_use_the_fake_disk(captured: ModuleType) -> None:
    with simulate():
        folder = "C:\\store"
        os.makedirs(folder + "\\sub")
        with open(folder + "\\sub\\chunk", "w") as f:
            f.write("data")
        assert captured.keys(folder) == ["chunk"]
        assert captured.exists(folder + "\\sub\\chunk")
        assert captured.Store.listing(folder) == ["sub"]
        assert captured.Store.read(folder + "\\sub\\chunk") == "data"
        assert captured.Store().is_folder(folder + "\\sub")


def test_the_defaults_are_the_real_functions_again_afterwards(captured: ModuleType) -> None:
    with simulate():
        pass
    assert captured.keys.__defaults__ == (os.walk,)
    assert captured.exists.__kwdefaults__ == {"check": os.path.exists}
    assert captured.Store.listing.__defaults__ == (os.listdir,)
    assert captured.Store.read.__func__.__defaults__ == (open,)
    assert captured.Store.is_folder.__defaults__ == (os.path.isdir,)


def test_a_module_loaded_between_two_simulations_is_searched(tmp_path: Path) -> None:
    with simulate():
        pass
    (tmp_path / "ocirace_defaults_late.py").write_text(
        "import os\ndef names(path, lister=os.listdir):\n    return lister(path)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        late = importlib.import_module("ocirace_defaults_late")
        with simulate():
            os.makedirs("C:\\late\\only-here")
            assert late.names("C:\\late") == ["only-here"]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ocirace_defaults_late", None)
