"""pyfakefs' module-global stubbing replayed from a plan: the same stubs, never a stale one."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace.fakefs import stub_plan
from pytest_ocirace.fakefs.filesystem import simulate

#: The real ``os`` (this module's own ``os`` global is the fake one inside a simulation).
REAL = {"os": os}


@pytest.fixture
def pyfakefs_walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times pyfakefs' own ``patch_modules`` ran (a plan replayed: not at all)."""
    calls: list[int] = []
    original = Patcher.patch_modules

    def counted(self: Patcher) -> None:
        calls.append(1)
        original(self)

    monkeypatch.setattr(Patcher, "patch_modules", counted)
    return calls


@pytest.fixture
def module_with_os() -> Iterator[types.ModuleType]:
    name = "ocirace_stub_plan_example"
    module = types.ModuleType(name)
    exec("import os\n", module.__dict__)
    sys.modules[name] = module
    try:
        yield module
    finally:
        sys.modules.pop(name, None)


class _Expected:
    """A stubs object that notes what pyfakefs' walk would set, and sets nothing."""

    def __init__(self) -> None:
        self.calls: set[tuple[int, str, int]] = set()

    def smart_set(self, obj: Any, attr_name: str, new_attr: Any) -> None:
        if attr_name not in vars(obj):
            raise AttributeError("Attribute not found.")
        self.calls.add((id(obj), attr_name, id(new_attr)))


def _stubbed_now(patcher: Patcher) -> tuple[set[tuple[int, str, int]], set[tuple[int, str, int]]]:
    """(what pyfakefs' walk would stub now, what is stubbed now) for module globals."""
    stubs = patcher._stubs
    expected = _Expected()
    patcher._stubs = expected  # type: ignore[assignment]
    try:
        Patcher.patch_modules(patcher)
    finally:
        patcher._stubs = stubs
    assert stubs is not None
    actual = {
        (id(owner), name, id(vars(owner)[name]))
        for owner, name, _ in stubs.stubs
        if isinstance(owner, types.ModuleType)
    }
    return expected.calls, actual


def _settled() -> None:
    """Two simulations: the first may import modules (a change), the second records."""
    for _ in range(2):
        with simulate():
            pass


def test_a_replayed_plan_stubs_what_pyfakefs_walk_stubs(pyfakefs_walks: list[int]) -> None:
    _settled()
    before = len(pyfakefs_walks)
    with simulate():
        assert len(pyfakefs_walks) == before  # replayed, not walked
        patcher = Patcher.PATCHER
        assert patcher is not None
        expected, actual = _stubbed_now(patcher)
    assert expected
    assert expected <= actual


def test_a_module_added_to_sys_modules_is_stubbed_at_the_next_start(
    module_with_os: types.ModuleType,
) -> None:
    name = module_with_os.__name__
    del sys.modules[name]
    _settled()  # a plan recorded without the module
    with simulate():
        assert module_with_os.os is REAL["os"]
    sys.modules[name] = module_with_os
    with simulate():
        assert module_with_os.os is not REAL["os"]  # pyfakefs' fake os
        assert module_with_os.os.path.exists("C:\\")
    assert module_with_os.os is REAL["os"]


def test_a_module_swapped_in_under_the_same_name_is_stubbed(
    module_with_os: types.ModuleType,
) -> None:
    # pyfakefs keeps stubbing a module it once found (also after it left sys.modules);
    # what a plan must add is the module now under the name.
    name = module_with_os.__name__
    _settled()
    with simulate():
        assert module_with_os.os is not REAL["os"]
    other = types.ModuleType(name)
    exec("import os\n", other.__dict__)
    sys.modules[name] = other
    with simulate():
        assert other.os is not REAL["os"]
    assert other.os is REAL["os"]
    assert module_with_os.os is REAL["os"]


def test_a_global_gone_since_the_plan_falls_back_to_pyfakefs_walk(
    module_with_os: types.ModuleType, pyfakefs_walks: list[int]
) -> None:
    _settled()
    del module_with_os.os  # sys.modules unchanged: the plan names a global that is gone
    before = len(pyfakefs_walks)
    with simulate():
        walked = len(pyfakefs_walks) - before
        assert "os" not in vars(module_with_os)
        patcher = Patcher.PATCHER
        assert patcher is not None
        expected, actual = _stubbed_now(patcher)
    assert walked == 1
    assert expected <= actual
    assert "os" not in vars(module_with_os)
    before = len(pyfakefs_walks)
    with simulate():  # recorded again without it: replayed
        pass
    assert len(pyfakefs_walks) == before


def test_forget_makes_the_next_start_walk(pyfakefs_walks: list[int]) -> None:
    _settled()
    stub_plan.PLAN.forget()
    before = len(pyfakefs_walks)
    with simulate():
        pass
    assert len(pyfakefs_walks) == before + 1


def test_a_runtime_skip_module_loaded_since_the_plan_is_obeyed() -> None:
    # pyfakefs leaves modules alone by name prefix once a debugger's module is loaded
    # (``Patcher.RUNTIME_SKIPMODULES``): only sys.modules changed, none of its tables.
    from pyfakefs.fake_os import FakeOsModule

    runner, prefix = next(iter(Patcher.RUNTIME_SKIPMODULES.items()))
    assert runner not in sys.modules
    name = prefix[0] + "ocirace_example"
    module = types.ModuleType(name)
    exec("import os\n", module.__dict__)
    sys.modules[name] = module
    try:
        _settled()
        with simulate():
            assert isinstance(module.os, FakeOsModule)
        sys.modules[runner] = types.ModuleType(runner)
        try:
            with simulate():
                assert not isinstance(module.os, FakeOsModule)
        finally:
            del sys.modules[runner]
        with simulate():
            assert isinstance(module.os, FakeOsModule)
    finally:
        del sys.modules[name]
