"""Two pytest-xdist workers sharing a cache directory, caught and fixed in the process mode.

``pytest -n 2 --dist each --ocirace-processes examples/test_shared_cache.py``: each test runs
on both workers at once, storing the same entry in one cache directory outside ``tmp_path``.
The coordinator lives on the controller and sees both workers: one copy of
``test_store_from_every_worker`` fails with ``[WinError 5]`` in every run (its ``ocirace``
section names the race, ``concurrent-publish``), both copies of the fixed test pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_cache import store, store_fixed

DATA = b"a compiled kernel, a wheel, a cache entry"


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One directory for every worker of the run (the workers' temporary roots' parent)."""
    return str(tmp_path_factory.getbasetemp().parent / "shared-cache")


def test_store_from_every_worker(cache_dir: str) -> None:
    assert Path(store(cache_dir, DATA)).read_bytes() == DATA


def test_store_fixed_from_every_worker(cache_dir: str) -> None:
    assert Path(store_fixed(cache_dir, DATA)).read_bytes() == DATA
