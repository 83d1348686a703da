"""Every copy of the writer, under any module name, is switched by the simulation's seam.

Three copies: the package name (``pytest_ocirace.writer``), the distribution (``ocirace_writer``)
and a vendored file under a project's own module name. Inside the simulation each must take its
Windows code paths; between simulations its single-flight memories must be forgotten.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import shutil
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import ocirace_writer
import pytest

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.writer_seam import (
    SEAM_ATTRIBUTE,
    WriterSeamError,
    WriterSwitch,
    loaded_seams,
)

VENDORED = "ocirace_seam_project._vendor.safe_writer"
COPIES = ("pytest_ocirace.writer", "ocirace_writer", VENDORED)
DATA = b"layer"
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def _vendor(directory: Path) -> None:
    """The vendored layout: the writer's one file inside a project's own package."""
    package = directory / "ocirace_seam_project"
    (package / "_vendor").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "_vendor" / "__init__.py").write_text("", encoding="utf-8")
    shutil.copy(ocirace_writer.__file__, package / "_vendor" / "safe_writer.py")


@pytest.fixture(params=COPIES)
def copy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[types.ModuleType]:
    name: str = request.param
    if name != VENDORED:
        yield importlib.import_module(name)
        return
    _vendor(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(name)
        assert module is not ocirace_writer
        yield module
    finally:
        sys.path.remove(str(tmp_path))
        for loaded in [m for m in sys.modules if m.startswith("ocirace_seam_project")]:
            del sys.modules[loaded]


def test_package_name_and_distribution_are_one_module() -> None:
    import pytest_ocirace.writer
    from pytest_ocirace import writer

    assert pytest_ocirace.writer is ocirace_writer
    assert writer is ocirace_writer
    assert writer.write_blob is ocirace_writer.write_blob


def test_every_copy_takes_its_windows_paths_inside_the_simulation(
    copy: types.ModuleType,
) -> None:
    before = copy._WINDOWS
    retry = copy.RetryPolicy(budget=0.02)
    with simulate():
        assert copy._WINDOWS is True
        # Behaviour, not just the flag: replacing an open target is WinError 5 on Windows. The
        # Windows branch retries it for the budget and then says so (PublishTimeoutError);
        # the POSIX branch would re-raise the first PermissionError unchanged.
        with open("target", "wb") as handle:
            handle.write(b"old")
            with open("new", "wb") as new:
                new.write(b"new")
            with pytest.raises(copy.PublishTimeoutError, match="target"):
                copy.publish("new", "target", retry=retry)
        assert copy.publish("new", "target", retry=retry) is True
    assert copy._WINDOWS is before


def test_every_copy_forgets_the_previous_filesystem(copy: types.ModuleType) -> None:
    with simulate():
        copy.write_blob("layout", DIGEST, DATA)
        assert copy._landed
        assert copy._layouts_ready
    # The fake filesystem is gone: memories of its blobs and layouts would be wrong.
    assert not copy._landed
    assert not copy._layouts_ready
    copy._layouts_ready.add("stale-root-from-a-real-run")
    with simulate():
        assert not copy._layouts_ready
        path = copy.write_blob("layout", DIGEST, DATA)
        with open(path, "rb") as handle:
            assert handle.read() == DATA


def test_a_test_that_patched_the_flag_gets_its_value_back(
    copy: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copy, "_WINDOWS", True)
    with simulate():
        assert copy._WINDOWS is True
    assert copy._WINDOWS is True


def test_one_module_under_two_names_is_switched_once() -> None:
    seams = loaded_seams()
    assert [s for s in seams if s is ocirace_writer.__ocirace_writer_seam__] == [
        ocirace_writer.__ocirace_writer_seam__
    ]


def test_a_seam_without_the_protocol_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    impostor = types.ModuleType("impostor_writer")
    setattr(impostor, SEAM_ATTRIBUTE, object())
    monkeypatch.setitem(sys.modules, "impostor_writer", impostor)
    with pytest.raises(WriterSeamError, match=r"'impostor_writer'.*ocirace vendor PATH --force"):
        WriterSwitch().install()


PLUGIN_TESTS = """
import hashlib
import concurrent.futures
{import_line}

DATA = b"layer"
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()

def test_first():
    assert writer._WINDOWS is True
    writer.write_blob("layout", DIGEST, DATA)

def test_second_starts_with_nothing_remembered():
    assert writer._WINDOWS is True
    assert not writer._landed and not writer._layouts_ready
    blobs = [b"", b"", DATA, b"", DATA, b"config"]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(writer.write_blob, "layout", "sha256:" + hashlib.sha256(b).hexdigest(), b)
            for b in blobs
        ]
        paths = [future.result() for future in futures]
    for blob, path in zip(blobs, paths):
        assert open(path, "rb").read() == blob
"""

IMPORTS = {
    "pytest_ocirace.writer": "from pytest_ocirace import writer",
    "ocirace_writer": "import ocirace_writer as writer",
    VENDORED: "from ocirace_seam_project._vendor import safe_writer as writer",
}


@pytest.mark.parametrize("name", COPIES)
def test_every_copy_passes_strict_mode_under_the_plugin(
    pytester: pytest.Pytester, name: str
) -> None:
    if name == VENDORED:
        _vendor(pytester.path)
        pytester.syspathinsert()
    pytester.makepyfile(test_copy=PLUGIN_TESTS.format(import_line=IMPORTS[name]))
    pytester.makeconftest("")
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    result = pytester.runpytest_subprocess(
        *quiet, "--ocirace", "--ocirace-strict", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=2)
    assert "no races found" in result.stdout.str(), textwrap.shorten(result.stdout.str(), 2000)


def test_blocked_and_stand_in_entries_of_sys_modules_are_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # sys.modules may hold None (an import blocked on purpose) or arbitrary stand-in objects.
    monkeypatch.setitem(sys.modules, "ocirace_blocked_module", None)
    monkeypatch.setitem(sys.modules, "ocirace_stand_in", object())
    assert ocirace_writer.__ocirace_writer_seam__ in loaded_seams()


def test_a_copy_first_imported_inside_the_simulation_is_switched_too(tmp_path: Path) -> None:
    _vendor(tmp_path)
    sys.path.insert(0, str(tmp_path))
    meta_path = list(sys.meta_path)
    try:
        with simulate():
            module = importlib.import_module(VENDORED)  # imported while the test runs
            assert module._WINDOWS is True
            # The module keeps its own loader: nothing of the simulation stays behind in it.
            assert type(module.__loader__).__name__ == "SourceFileLoader"
            assert module.__spec__.loader is module.__loader__
            assert importlib.util.find_spec("json") is not None  # other imports unaffected
        assert module._WINDOWS is False
        assert sys.meta_path == meta_path
    finally:
        sys.path.remove(str(tmp_path))
        for loaded in [m for m in sys.modules if m.startswith("ocirace_seam_project")]:
            del sys.modules[loaded]


LAZY_TESTS = """
import sys
import pytest

BEFORE = list(sys.meta_path)

@pytest.mark.ocirace
@pytest.mark.parametrize("run", [1, 2])
def test_lazy_copy_takes_the_windows_paths(run):
    # pyfakefs unloads modules imported during a test: each run imports the copy afresh.
    from ocirace_seam_project._vendor import safe_writer as writer
    assert writer._WINDOWS is True

def test_nothing_stays_in_the_import_system():
    # pyfakefs pauses around reports and removes its finder with meta_path.pop(0): ours must
    # never be the one it takes, and must be gone after the test.
    assert sys.meta_path == BEFORE
"""


def test_a_copy_imported_lazily_in_each_test_is_switched_each_time(
    pytester: pytest.Pytester,
) -> None:
    _vendor(pytester.path)
    pytester.syspathinsert()
    pytester.makepyfile(test_lazy=LAZY_TESTS)
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    result = pytester.runpytest_subprocess(*quiet, "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_a_new_module_under_a_name_already_scanned_is_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # loaded_seams remembers each name's answer while the same module object sits under it.
    plain = types.ModuleType("ocirace_rescanned")
    monkeypatch.setitem(sys.modules, "ocirace_rescanned", plain)
    before = loaded_seams()
    copy = types.ModuleType("ocirace_rescanned")
    seam = ocirace_writer.__ocirace_writer_seam__
    fake_seam = types.SimpleNamespace(
        protocol=seam.protocol,
        use_windows=seam.use_windows,
        forget_filesystem=seam.forget_filesystem,
    )
    setattr(copy, SEAM_ATTRIBUTE, fake_seam)
    monkeypatch.setitem(sys.modules, "ocirace_rescanned", copy)
    assert fake_seam not in before
    assert fake_seam in loaded_seams()


def test_a_spec_found_inside_a_simulation_keeps_its_own_loader() -> None:
    # The watch for new copies must not change what find_spec answers: code tells loaders
    # by type (jinja2's PackageLoader: isinstance(loader, zipimport.zipimporter)).
    import importlib.machinery

    before = importlib.machinery.SourceFileLoader.__dict__.get("exec_module")
    with simulate():
        spec = importlib.util.find_spec("colorsys")
        assert spec is not None
        assert type(spec.loader) is importlib.machinery.SourceFileLoader
    assert importlib.machinery.SourceFileLoader.__dict__.get("exec_module") is before
