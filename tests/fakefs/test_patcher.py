"""How the simulation gets its pyfakefs filesystem: Windows from the start, same as pyfakefs'."""

from __future__ import annotations

import os
import pathlib

from pyfakefs.fake_filesystem import FakeFilesystem, OSType
from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace.fakefs import path_stand_in
from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.patcher import new_windows_filesystem, start_patcher


def _running() -> Patcher | None:
    """The patcher pyfakefs' pytest hooks pause around reports."""
    return Patcher.PATCHER


def _shape(fs: FakeFilesystem) -> dict[str, object]:
    def tree(directory: object) -> object:
        entries = getattr(directory, "entries", None)
        if entries is None:
            return None
        return {name: tree(entry) for name, entry in entries.items()}

    return {
        "class": type(fs),
        "os": fs.os,
        "case_sensitive": fs.is_case_sensitive,
        "sep": fs.path_separator,
        "altsep": fs.alternative_path_separator,
        "properties": fs.fs_properties,
        "cwd": fs.cwd,
        "mount_points": dict(fs.mount_points),
        "tree": tree(fs.root),
        "open_files": len(fs.open_files),
        "last_ino": fs.last_ino,
        "root_name": fs.root.name,
    }


def test_a_filesystem_built_for_windows_equals_one_switched_to_windows() -> None:
    switched = FakeFilesystem()
    switched.os = OSType.WINDOWS
    assert _shape(new_windows_filesystem()) == _shape(switched)


def test_the_patcher_is_pyfakefs_own_with_a_windows_filesystem() -> None:
    reference = Patcher()
    reference.setUp()
    try:
        expected_modules = {name: type(module) for name, module in reference.fake_modules.items()}
        # The one deliberate difference: a module's `Path` global is a class
        # (fakefs/path_stand_in.py), not pyfakefs' stand-in object.
        expected_modules["Path"] = path_stand_in.PathStandInType
        expected_functions = {
            name: {module: entry[1] for module, entry in modules.items()}
            for name, modules in reference._fake_module_functions.items()
        }
    finally:
        reference.tearDown()
    for _ in range(2):  # the second one reuses what the first worked out
        patcher = start_patcher()
        try:
            assert _running() is patcher  # pyfakefs' pytest hooks pause this one
            assert patcher.fs is not None
            assert patcher.fs.os == OSType.WINDOWS
            modules = {name: type(module) for name, module in patcher.fake_modules.items()}
            assert modules == expected_modules
            assert patcher.fake_modules["os"].filesystem is patcher.fs
            functions = {
                name: {module: entry[1] for module, entry in entries.items()}
                for name, entries in patcher._fake_module_functions.items()
            }
            assert functions == expected_functions
            assert os.sep == "\\"
            assert isinstance(pathlib.Path("x"), pathlib.WindowsPath)
        finally:
            patcher.tearDown()
        assert _running() is None
        assert not isinstance(pathlib.Path("x"), pathlib.WindowsPath)


def test_a_running_patcher_is_joined_not_replaced() -> None:
    outer = Patcher()
    outer.setUp()
    try:
        assert outer.fs is not None
        with simulate() as simulation:
            assert simulation.fs is outer.fs
            assert outer.fs.os == OSType.WINDOWS
            assert os.getcwd() == "C:\\work"
        assert Patcher.REF_COUNT == 1
        assert outer.is_patching
    finally:
        outer.tearDown()
    assert Patcher.REF_COUNT == 0


def test_pyfakefs_started_inside_a_simulation_shares_its_filesystem() -> None:
    with simulate() as simulation:
        inner = Patcher()
        inner.setUp()
        try:
            assert inner.fs is simulation.fs
        finally:
            inner.tearDown()
        # the simulation's patcher still runs
        with open("still-fake", "w") as handle:
            handle.write("x")
        assert os.path.exists("C:\\work\\still-fake")
    assert not os.path.exists("still-fake")


def test_a_module_behind_a_proxy_in_sys_modules_is_patched_too() -> None:
    # xmod's callable modules (tdir, used by safer's tests) replace their module in
    # sys.modules by a proxy; the module behind it must still see the fake os.
    import sys
    import types

    name = "ocirace_proxied_example"
    module = types.ModuleType(name)
    exec("import os\ndef isdir(path):\n    return os.path.isdir(path)\n", module.__dict__)

    class Proxy:
        wrapped = module

        def __getattr__(self, attribute: str) -> object:
            return getattr(module, attribute)

    sys.modules[name] = Proxy()  # type: ignore[assignment]
    try:
        for _ in range(2):  # pyfakefs caches what it found: the second simulation too
            with simulate():
                os.makedirs("C:\\only\\in\\the\\simulation")
                assert sys.modules[name].isdir("C:\\only\\in\\the\\simulation")
            assert module.os is os
            assert [k for k in sys.modules if name in k] == [name]  # no alias left behind
    finally:
        del sys.modules[name]


def test_module_stubs_do_what_pyfakefs_stubs_do() -> None:
    # patcher._ModuleStubs takes a short way for module globals; the result (stubbed value,
    # bookkeeping, restore, error for a missing name) must be pyfakefs' own.
    import types

    import pytest
    from pyfakefs.mox3_stubout import StubOutForTesting

    from pytest_ocirace.fakefs.patcher import _ModuleStubs

    results = []
    for stubs in (StubOutForTesting(), _ModuleStubs()):
        module = types.ModuleType("ocirace_stubbed")
        module.os = os  # type: ignore[attr-defined]
        stubs.smart_set(module, "os", "fake os")
        holder = types.SimpleNamespace(replace=os.replace)  # not a module: pyfakefs' own way
        stubs.smart_set(holder, "replace", "fake replace")
        with pytest.raises(AttributeError, match="Attribute not found"):
            stubs.smart_set(module, "missing", "x")
        during = (module.os, holder.replace, len(stubs.stubs))
        stubs.smart_unset_all()
        results.append((during, module.os is os, holder.replace is os.replace))
    assert results[0] == results[1]
    assert results[1] == (("fake os", "fake replace", 2), True, True)


def test_a_finished_simulation_is_freed_without_the_cycle_collector() -> None:
    # patcher.release: the patcher's replaced steps and the fake os <-> os.path pair were
    # reference cycles that kept every test's filesystem for the garbage collector.
    import gc
    import weakref

    def one() -> weakref.ReferenceType[FakeFilesystem]:
        with simulate() as sim:
            with open("C:\\kept.txt", "w") as handle:
                handle.write("x")
            return weakref.ref(sim.fs)

    one()
    gc.collect()
    gc.disable()
    try:
        first = one()
        one()  # pyfakefs' class attributes now name the second filesystem
        assert first() is None
    finally:
        gc.enable()


def test_release_leaves_a_patcher_that_still_runs() -> None:
    from pytest_ocirace.fakefs.patcher import release

    with Patcher() as outer:  # pyfakefs' fs fixture first: the simulation joins it
        with simulate():
            pass
        release(outer)
        assert outer.fake_modules["os"].path is outer.fake_modules["posixpath"]
        os.makedirs("/still/fake")
        assert os.path.isdir("/still/fake")
