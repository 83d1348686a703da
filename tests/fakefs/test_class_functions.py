"""fakefs/class_functions.py: filesystem functions held by classes reach the fake disk."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ocirace.fakefs.filesystem import simulate

LIB = "ocirace_class_functions_lib"


@pytest.fixture
def store_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # joblib's FileSystemStoreBackend, as it is written.
    (tmp_path / f"{LIB}.py").write_text(
        "import os\n"
        "class Store:\n"
        "    _open_item = staticmethod(open)\n"
        "    _item_exists = staticmethod(os.path.exists)\n"
        "    _move_item = staticmethod(os.replace)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield importlib.import_module(LIB).Store
    sys.modules.pop(LIB, None)


def test_a_class_holding_open_and_exists_uses_the_fake_disk(
    store_class: Any, tmp_path: Path
) -> None:
    with simulate():
        with store_class._open_item("C:\\cache.tmp", "w") as f:
            f.write("x")
        store_class._move_item("C:\\cache.tmp", "C:\\cache.json")
        assert store_class._item_exists("C:\\cache.json")
        assert os.path.exists("C:\\cache.json")
    # Nothing reached the real working directory (before: a file named 'C:\cache.tmp').
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__")
    assert left == [f"{LIB}.py"]
    assert store_class._open_item is open
    assert store_class._item_exists is os.path.exists


class _LazySettings:
    """Django's ``LazyObject``: asking its ``__class__`` sets it up, and that can fail."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise RuntimeError("Requested settings, but settings are not configured")


def test_a_lazy_proxy_among_module_globals_is_not_set_up(
    store_class: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: diskcache's Django cache imports django.conf.settings (a LazyObject) at
    # module level; the scan for captured functions asked isinstance(settings, type), which
    # set it up, and every simulated test of diskcache errored in setup.
    monkeypatch.setattr(sys.modules[LIB], "settings", _LazySettings(), raising=False)
    with simulate():
        assert store_class._item_exists is not os.path.exists  # the class was still scanned
    assert store_class._item_exists is os.path.exists


def test_a_module_at_the_address_of_a_dropped_one_is_scanned_afresh() -> None:
    # The scan remembered its answer per module by name and id(); a module dropped and
    # garbage-collected leaves its id free, and a new module of the same name made at the
    # same address got the old one's answer: its class's captured function was never
    # faked (tests/fakefs/test_module_census.py failed now and then in a full run).
    import gc
    import types

    from pyfakefs.fake_filesystem_unittest import Patcher

    name = "ocirace_address_probe"
    first = types.ModuleType(name)
    sys.modules[name] = first
    try:
        with simulate():
            pass  # the first module scanned: no class
        address = id(first)
        del sys.modules[name], first
        # What a Patcher made with other settings does in its constructor (another
        # plugin's or test's pyfakefs); until then its module cache keeps the module.
        Patcher.clear_fs_cache()
        with simulate():
            pass  # the searches' remembered states let go of the first module
        gc.collect()
        made = []  # kept, so that each try takes new memory
        for _ in range(5000):
            second = types.ModuleType(name)
            made.append(second)
            if id(second) == address:
                break
        else:  # pragma: no cover - the allocator gave the address to something else
            pytest.skip("no module was made at the dropped module's address")
        exec("import os\nclass Store:\n    exists = staticmethod(os.path.exists)\n", vars(second))
        sys.modules[name] = second
        with simulate():
            with open("C:\\made-in-the-fake.txt", "w") as handle:
                handle.write("x")
            assert second.Store.exists("C:\\made-in-the-fake.txt")
        assert second.Store.exists is os.path.exists
    finally:
        sys.modules.pop(name, None)
