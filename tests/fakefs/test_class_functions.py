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
