"""fakefs/module_census.py: a search of every loaded module is skipped only when nothing changed.

The census itself (added, removed, replaced, half-imported modules; pyfakefs' fake modules),
then each search that keeps its answer with one: a module imported, replaced or dropped
between two simulations is searched again (its ``os`` patched by pyfakefs, its captured class
functions pointed at the fakes, its writer seam switched).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace.fakefs import writer_seam
from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.module_census import ModuleCensus, is_module

NAME = "ocirace_census_probe"


@pytest.fixture
def probe_name() -> Iterator[str]:
    yield NAME
    sys.modules.pop(NAME, None)


def test_nothing_is_unchanged_before_the_first_census() -> None:
    assert not ModuleCensus().unchanged()


def test_the_same_modules_are_unchanged(probe_name: str) -> None:
    census = ModuleCensus()
    census.remember()
    assert census.unchanged()
    sys.modules[probe_name] = types.ModuleType(probe_name)
    del sys.modules[probe_name]  # added and dropped again: the same state
    assert census.unchanged()


def test_an_added_module_is_a_change(probe_name: str) -> None:
    census = ModuleCensus()
    census.remember()
    sys.modules[probe_name] = types.ModuleType(probe_name)
    assert not census.unchanged()


def test_a_removed_module_is_a_change(probe_name: str) -> None:
    sys.modules[probe_name] = types.ModuleType(probe_name)
    census = ModuleCensus()
    census.remember()
    del sys.modules[probe_name]
    assert not census.unchanged()


def test_another_object_under_the_same_name_is_a_change(probe_name: str) -> None:
    class EqualToAll:  # a stand-in that claims equality: identity is what counts
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    sys.modules[probe_name] = EqualToAll()  # type: ignore[assignment]
    census = ModuleCensus()
    census.remember()
    sys.modules[probe_name] = EqualToAll()  # type: ignore[assignment]
    assert not census.unchanged()


def test_forget_makes_the_next_check_a_change() -> None:
    census = ModuleCensus()
    census.remember()
    census.forget()
    assert not census.unchanged()


def test_nothing_is_remembered_while_a_module_is_still_executing(probe_name: str) -> None:
    half = types.ModuleType(probe_name)
    half.__spec__ = importlib.util.spec_from_loader(probe_name, loader=None)
    assert half.__spec__ is not None
    half.__spec__._initializing = True  # what importlib sets while the body runs
    sys.modules[probe_name] = half
    census = ModuleCensus()
    census.remember()
    assert not census.unchanged()
    half.__spec__._initializing = False
    census.remember()
    assert census.unchanged()


def test_a_lazily_loaded_module_is_not_executed_by_a_census(
    tmp_path: Path, probe_name: str
) -> None:
    source = tmp_path / f"{probe_name}.py"
    source.write_text("import builtins\nbuiltins.ocirace_census_executed = True\n")
    spec = importlib.util.spec_from_file_location(probe_name, source)
    assert spec is not None
    assert spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[probe_name] = module
    spec.loader.exec_module(module)
    try:
        ModuleCensus().remember()
        import builtins

        assert not hasattr(builtins, "ocirace_census_executed")
    finally:
        import builtins

        if hasattr(builtins, "ocirace_census_executed"):
            del builtins.ocirace_census_executed


def test_pyfakefs_fake_modules_are_not_compared_while_it_patches() -> None:
    # Each simulation shows new fake ``os``/``io``/``pathlib`` objects under the real names.
    census = ModuleCensus()
    with simulate():
        census.remember()
        assert census.unchanged()
    assert not census.unchanged()  # outside, the real modules are back under those names
    with simulate():
        assert census.unchanged()
    census.remember()
    with simulate():
        assert not census.unchanged()


# -- the searches that keep their answer --------------------------------------------------


def _fake(value: object) -> bool:
    return type(value).__module__.startswith("pyfakefs.")


def _module(tmp_path: Path, name: str, source: str) -> types.ModuleType:
    (tmp_path / f"{name}.py").write_text(source)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_a_module_imported_between_two_simulations_is_patched_in_the_second(
    tmp_path: Path, probe_name: str
) -> None:
    with simulate():
        pass
    module = _module(tmp_path, probe_name, "import os\nfrom os.path import exists\n")
    with simulate():
        assert _fake(module.os)  # pyfakefs found it: its os is the fake one
        with open("C:\\only-in-the-fake.txt", "w") as handle:
            handle.write("x")
        assert module.exists("C:\\only-in-the-fake.txt")
    assert module.os is os


def test_a_module_replaced_between_two_simulations_is_patched_in_the_second(
    tmp_path: Path, probe_name: str
) -> None:
    _module(tmp_path, probe_name, "import os\n")
    with simulate():
        pass
    del sys.modules[probe_name]
    importlib.invalidate_caches()
    second = _module(tmp_path, probe_name, "import os\n")
    with simulate():
        assert _fake(second.os)


def test_pyfakefs_cache_cleared_between_simulations_is_filled_again(
    tmp_path: Path, probe_name: str
) -> None:
    module = _module(tmp_path, probe_name, "import os\n")
    for _ in range(2):  # the second finds sys.modules as the first left it
        with simulate():
            assert _fake(module.os)
    Patcher.clear_fs_cache()  # what a Patcher with other settings does in its constructor
    with simulate():
        assert _fake(module.os)


def test_a_class_imported_between_two_simulations_gets_its_captured_functions_faked(
    tmp_path: Path, probe_name: str
) -> None:
    with simulate():
        pass
    source = "import os\nclass Store:\n    _exists = staticmethod(os.path.exists)\n"
    module: Any = _module(tmp_path, probe_name, source)
    with simulate():
        with open("C:\\in-the-fake.txt", "w") as handle:
            handle.write("x")
        assert module.Store._exists("C:\\in-the-fake.txt")
    assert module.Store._exists is os.path.exists


def test_a_writer_copy_imported_between_two_simulations_is_switched_in_the_second(
    probe_name: str,
) -> None:
    with simulate():
        pass
    calls: list[bool] = []
    state = [False]

    def use_windows(enabled: bool) -> bool:
        calls.append(enabled)
        previous, state[0] = state[0], enabled
        return previous

    copy = types.ModuleType(probe_name)
    copy.__ocirace_writer_seam__ = types.SimpleNamespace(  # type: ignore[attr-defined]
        protocol=1, use_windows=use_windows, forget_filesystem=lambda: None
    )
    sys.modules[probe_name] = copy
    with simulate():
        assert calls == [True]
    assert calls == [True, False]
    del sys.modules[probe_name]
    assert copy.__ocirace_writer_seam__ not in writer_seam.loaded_seams()


def test_a_proxy_put_into_sys_modules_between_two_simulations_is_searched_in_the_second(
    probe_name: str,
) -> None:
    # patcher.py shows the module behind a proxy (xmod) to pyfakefs; which entries are
    # proxies is searched again when sys.modules changed.
    module = types.ModuleType(probe_name)
    exec("import os\ndef isdir(path):\n    return os.path.isdir(path)\n", module.__dict__)

    class Proxy:
        wrapped = module

    for _ in range(2):
        with simulate():
            pass
    sys.modules[probe_name] = Proxy()  # type: ignore[assignment]
    with simulate():
        os.makedirs("C:\\only\\in\\the\\simulation")
        assert module.isdir("C:\\only\\in\\the\\simulation")
    assert module.os is os


def _stand_in(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__ocirace_stand_in__ = True  # type: ignore[attr-defined]
    return module


def test_the_simulations_stand_in_modules_are_not_compared(probe_name: str) -> None:
    # filelocks.py puts a new stand-in msvcrt into sys.modules for every simulation.
    sys.modules[probe_name] = _stand_in(probe_name)
    census = ModuleCensus()
    census.remember()
    sys.modules[probe_name] = _stand_in(probe_name)
    assert census.unchanged()
    sys.modules[probe_name] = types.ModuleType(probe_name)  # a real module in its place
    assert not census.unchanged()
    del sys.modules[probe_name]
    assert not census.unchanged()


class _ClaimsToBeAModule:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return types.ModuleType


def test_only_real_module_objects_are_modules() -> None:
    class Subclass(types.ModuleType):
        pass

    alive = types.ModuleType("alive")
    proxy = weakref.proxy(alive)
    gone = types.ModuleType("gone")
    dead = weakref.proxy(gone)
    del gone
    assert is_module(alive)
    assert is_module(Subclass("sub"))
    assert is_module(sys)
    assert isinstance(proxy, types.ModuleType)  # what made isinstance the wrong question
    assert not is_module(proxy)
    assert not is_module(dead)  # isinstance(dead, ModuleType) raises ReferenceError
    assert not is_module(_ClaimsToBeAModule())
    assert not is_module(None)


def test_a_census_takes_sys_modules_holding_proxies(probe_name: str) -> None:
    census = ModuleCensus()
    gone = types.ModuleType(probe_name)
    sys.modules[probe_name] = weakref.proxy(gone)
    del gone
    census.remember()
    assert census.unchanged()
