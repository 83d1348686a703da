"""The user surface, end to end, through pytester (in-process runs)."""

from __future__ import annotations

import os
import sys

import pytest

pytest_plugins = ["pytester"]

RACE = """
import os

def publish(tmp, target):
    with open(tmp, "wb") as handle:
        handle.write(b"layer")
        os.replace(tmp, target)  # still open: WinError 32 on Windows
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Leave out heavy unrelated plugins: each in-process run loads every installed plugin.
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    return pytester.runpytest_inprocess(*quiet, *args)


def _windows_spelling(path: os.PathLike[str]) -> str:
    return "C:" + os.fspath(path).replace("/", "\\")


def test_flag_puts_every_test_in_the_simulation(pytester: pytest.Pytester) -> None:
    # The test starts where pytest was started, spelled as Windows spells it.
    pytester.makepyfile(
        f"""
        import os
        def test_one():
            assert os.getcwd() == {_windows_spelling(pytester.path)!r}
        def test_two():
            assert os.sep == "\\\\"
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=2)
    _run(pytester).assert_outcomes(failed=2)


def test_ini_switch(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nocirace = true\n")
    cwd = _windows_spelling(pytester.path)
    pytester.makepyfile(f"import os\ndef test_one():\n    assert os.getcwd() == {cwd!r}\n")
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ocirace: every test runs in the simulated Windows filesystem"])


def test_marker_on_test_class_and_module_with_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest

        pytestmark = pytest.mark.ocirace(delete_semantics="posix")

        def _remove_while_shared(winfs):
            handle = winfs.open_shared_delete("blob", "wb")
            os.remove("blob")
            lingering = os.path.exists("blob")
            handle.close()
            return lingering

        def test_module_marker_gives_posix(winfs):
            assert winfs.options.delete_semantics == "posix"
            assert _remove_while_shared(winfs) is False

        @pytest.mark.ocirace(delete_semantics="classic")
        def test_closest_marker_wins(winfs):
            assert _remove_while_shared(winfs) is True

        @pytest.mark.ocirace(max_path=False)
        class TestClass:
            def test_class_marker(self, winfs):
                assert winfs.options.max_path is False
                assert winfs.options.delete_semantics == "posix"
        """
    )
    _run(pytester).assert_outcomes(passed=3)


def test_fixture_helpers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest

        def test_readonly_and_hold_open(winfs):
            open("blob", "w").close()
            open("tmp", "w").close()
            winfs.set_readonly("blob")
            with pytest.raises(PermissionError) as info:
                os.replace("tmp", "blob")
            assert info.value.winerror == 5
            winfs.set_readonly("blob", False)
            with winfs.hold_open("blob"):
                with pytest.raises(PermissionError):
                    os.remove("blob")
            os.remove("blob")

        def test_same_filesystem_as_pyfakefs_fs(winfs, fs):
            assert winfs.fs is fs
            fs.create_file(os.path.join(winfs.workdir, "made-by-fs"), contents="x")
            assert open("made-by-fs").read() == "x"

        def test_same_filesystem_when_fs_comes_first(fs, winfs):
            assert winfs.fs is fs
            fs.create_file(os.path.join(winfs.workdir, "made-by-fs"), contents="y")
            assert open("made-by-fs").read() == "y"
        """
    )
    _run(pytester).assert_outcomes(passed=3)


def test_disabling_pyfakefs_plugin_is_one_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_one(winfs):
            pass
        """
    )
    result = _run(pytester, "-p", "no:fakefs")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs pyfakefs' pytest plugin*-p no:fakefs*"])


def test_failing_test_shows_the_windows_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_race=RACE
        + """
import pytest

@pytest.mark.ocirace
def test_publish():
    publish("tmp", "blob")
"""
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*PermissionError: [[]WinError 32] The process cannot access the file because it is "
            "being used by another process: 'tmp' -> 'blob'",
        ]
    )


def test_suite_without_the_plugin_runs_untouched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain=RACE
        + """
import os, sys

def test_publish_on_linux(tmp_path):
    publish(str(tmp_path / "tmp"), str(tmp_path / "blob"))
    assert (tmp_path / "blob").read_bytes() == b"layer"

def test_nothing_loaded():
    assert "pytest_ocirace.fakefs.filesystem" not in sys.modules
    assert os.name == "posix"
"""
    )
    # A subprocess: in-process runs share sys.modules with this test session.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_every_option_has_a_flag_and_an_ini_key(pytester: pytest.Pytester) -> None:
    from pytest_ocirace.winrules.options import SimulationOptions

    result = _run(pytester, "--help")
    for name in SimulationOptions.names():
        result.stdout.fnmatch_lines(
            [f"*--ocirace-{name.replace('_', '-')}*", f"*ocirace_{name} *"], consecutive=False
        )


def test_bad_option_is_one_line_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    pass\n")
    result = _run(pytester, "--ocirace-delete-semantics=modern")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--ocirace-delete-semantics: ocirace option delete_semantics='modern' is not valid*"]
    )


def test_bad_marker_option_fails_that_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ocirace(colour="red")
        def test_one():
            pass
        """
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown ocirace option 'colour'*"])


def test_files_made_with_fs_before_the_simulation_are_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def data(fs):
            fs.create_file("/data/x")

        def test_one(data, winfs):
            pass
        """
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*already holds*created before the Windows simulation*"])


def test_windows_platform_modules_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        mylib="import os\ndef flavour():\n    return os.name\n",
        test_lib="""
import os
import pytest
import mylib

@pytest.mark.ocirace(windows_platform_modules=["mylib"])
def test_sees_nt():
    assert mylib.flavour() == "nt"
    assert os.name == "posix"

def test_outside_the_simulation():
    assert mylib.flavour() == "posix"
""",
    )
    _run(pytester).assert_outcomes(passed=2)


def test_race_model_hooks_are_called(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        calls = []

        def pytest_ocirace_setup(simulation, item):
            calls.append(("setup", item.name, simulation.observer))

        def pytest_ocirace_teardown(simulation, item):
            calls.append(("teardown", item.name))
        """
    )
    pytester.makepyfile(
        """
        import conftest

        def test_one(winfs):
            assert conftest.calls == [("setup", "test_one", None)]

        def test_two():
            assert conftest.calls[-1] == ("teardown", "test_one")
        """
    )
    _run(pytester, "-p", "no:randomly").assert_outcomes(passed=2)


def test_writer_works_inside_the_simulation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest
        import pytest_ocirace

        @pytest.mark.ocirace
        def test_atomic_write():
            target = os.path.join(os.getcwd(), "out.bin")
            with pytest_ocirace.atomic_write(target) as handle:
                handle.write(b"payload")
            with open(target, "rb") as handle:
                assert handle.read() == b"payload"
        """
    )
    _run(pytester).assert_outcomes(passed=1)


def test_extra_plugins_are_registered_before_option_parsing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_ocirace.plugins import fakefs as plugin

    pytester.makepyfile(
        extra_ocirace="""
def pytest_addoption(parser):
    parser.addoption("--extra-seen", action="store_true")

def pytest_ocirace_setup(simulation, item):
    item.config.stash_seen = True
""",
        test_extra="""
def test_one(winfs, request):
    assert request.config.getoption("extra_seen")
    assert request.config.stash_seen
""",
    )
    pytester.syspathinsert()
    monkeypatch.setattr(plugin, "EXTRA_PLUGINS", ("extra_ocirace",))
    _run(pytester, "--extra-seen").assert_outcomes(passed=1)


def test_pytest_internals_keep_working_inside_the_simulation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ocirace
        def test_rewritten_assert():
            with open("blob", "w") as handle:
                handle.write("x")
            assert [1, 2] == [1, 3]

        @pytest.mark.ocirace
        def test_captured_output(capsys):
            print("hello from the simulation")
            assert capsys.readouterr().out == "hello from the simulation\\n"

        @pytest.mark.ocirace
        def test_tmp_path_is_a_windows_path_of_its_directory(tmp_path, winfs):
            assert str(tmp_path).startswith("C:\\\\")
            assert tmp_path.is_dir()
        """
    )
    result = _run(pytester, "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*At index 1 diff: 2 != 3*"])


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="before 3.11 pathlib binds os functions at import: a Path made before the "
    "simulation (tmp_path) does mkdir/stat on the real disk; documented in docs/plugin.md",
)
def test_tmp_path_works_under_the_flag_and_stays_off_the_real_disk(
    pytester: pytest.Pytester,
) -> None:
    # Regression: under --ocirace the simulation started before tmp_path, and pytest's
    # getpass.getuser() hit the fake Windows os (no getuid): every tmp_path test errored.
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.fixture
        def cache_dir(tmp_path, record_property):
            record_property("real", str(tmp_path))
            directory = tmp_path / "cache"
            directory.mkdir()
            return directory

        def test_writes_through_a_fixture_chain(cache_dir):
            (cache_dir / "entry").write_bytes(b"1")
            assert os.listdir(cache_dir) == ["entry"]
            with open(cache_dir / "entry"), pytest.raises(PermissionError):
                os.replace(cache_dir / "entry", cache_dir / "other")  # WinError 32

        def test_tmpdir_too(tmpdir):
            tmpdir.join("f").write("hi")
            assert tmpdir.join("f").read() == "hi"
        """
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(passed=2)
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    [spelled] = {v for report in reports for k, v in report.user_properties if k == "real"}
    # Inside, tmp_path is the Windows path of the directory pytest made (plugins/tmp_paths.py).
    assert spelled.startswith("C:\\")
    real = spelled[2:].replace("\\", "/")
    # pytest made the directory on the real disk; what the test wrote exists only in the
    # simulation.
    assert os.path.isdir(real)
    assert os.listdir(real) == []


def test_documented_recipe_for_real_data_files(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", data='{"a": 1}')
    pytester.makepyfile(
        """
        import json
        import os

        DATA = os.path.join(os.path.dirname(__file__), "data.json")  # at import: a real path

        def test_reads_shipped_data(winfs):
            winfs.fs.add_real_file(DATA)
            with open(DATA) as handle:
                assert json.load(handle) == {"a": 1}
        """
    )
    _run(pytester).assert_outcomes(passed=1)


def test_capfd_is_one_clear_error_and_capsys_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_fd(capfd):
            print("x")

        def test_sys(capsys):
            print("x")
            assert capsys.readouterr().out == "x\\n"
        """
    )
    result = _run(pytester, "--ocirace", "--ocirace-on-limit=fail")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*capfd cannot work in a simulated test*use capsys*"])
    assert "Traceback" not in result.stdout.str()


def test_logged_tracebacks_leave_out_the_simulations_frames(pytester: pytest.Pytester) -> None:
    # logger.exception inside a simulated test: the captured log shows the user's call and
    # the Windows error, not run_locked, pyfakefs' fake_os and the filesystem layer.
    pytester.makepyfile(
        """
import logging
import os
import pytest

@pytest.mark.ocirace
def test_logged():
    try:
        os.replace("missing", "target")
    except OSError:
        logging.getLogger("app").exception("publish failed")
    assert False, "show the log"

def test_plain_logging_is_untouched(caplog):
    try:
        raise ValueError("x")
    except ValueError:
        logging.getLogger("app").exception("plain")
    assert "raise ValueError" in caplog.text
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=1)
    log = result.stdout.str().split("Captured log call", 1)[1].split("short test summary")[0]
    assert 'os.replace("missing", "target")' in log
    assert "[WinError 2]" in log
    assert "pyfakefs" not in log
    assert "pytest_ocirace" not in log


def test_failure_reports_are_built_on_the_real_filesystem(pytester: pytest.Pytester) -> None:
    # pytest formats a failure while pyfakefs still patches. Through the fake filesystem
    # the working directory is C:\work (locations came out absolute) and sources outside
    # the real tree were unreadable (pytest 8.2 showed a pathlib frame as ``???``).
    pytester.makepyfile(
        helper_lib="""
import pathlib

def relative(name):
    return pathlib.Path(name).relative_to("elsewhere")
""",
        test_fails="""
import helper_lib

def test_fails():
    helper_lib.relative("missing.txt")
""",
    )
    pytester.syspathinsert()
    result = _run(pytester, "--ocirace", "--ocirace-real-tree=off")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["test_fails.py:4: ", "helper_lib.py:4: in relative", "    def relative_to(self, *other):"]
    )
    failures = result.stdout.str().split("FAILURES", 1)[1]
    assert "???" not in failures
    assert str(pytester.path) not in failures
