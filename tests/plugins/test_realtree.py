"""A simulated test sees its own real tree: sources, data, zip archives, package metadata."""

from __future__ import annotations

import zipfile

import pytest

pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    return pytester.runpytest_inprocess(*quiet, *args)


def test_own_source_data_and_metadata_are_readable(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("data.json").write_text('{"a": 1}')
    pytester.makepyfile(
        """
        import importlib.metadata, json, os, sys

        def test_co_filename_exists():
            assert os.path.exists(sys._getframe().f_code.co_filename)

        def test_data_next_to_the_test():
            here = os.path.dirname(sys._getframe().f_code.co_filename)
            with open(os.path.join(here, "data.json")) as handle:
                assert json.load(handle) == {"a": 1}

        def test_package_metadata_in_site_packages():
            assert importlib.metadata.version("pyfakefs")
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=3)
    _run(pytester, "--ocirace", "-o", "ocirace_real_tree=off").assert_outcomes(passed=0, failed=3)


def test_zip_on_sys_path_imports_and_reads_resources(pytester: pytest.Pytester) -> None:
    archive = pytester.path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zipped/__init__.py", "VALUE = 7\n")
        bundle.writestr("zipped/data.txt", "inside")
    pytester.makepyfile(
        f"""
        import importlib.resources, sys

        def test_zip():
            sys.path.insert(0, {str(archive)!r})
            try:
                import zipped
                assert zipped.VALUE == 7
                text = importlib.resources.files("zipped").joinpath("data.txt").read_text()
                assert text == "inside"
            finally:
                sys.path.remove({str(archive)!r})
                sys.modules.pop("zipped", None)
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=1)


def test_tmp_path_inside_the_rootdir(pytester: pytest.Pytester) -> None:
    # tox and others put --basetemp inside the project, i.e. inside a mapped tree.
    pytester.makepyfile(
        """
        def test_tmp(tmp_path):
            (tmp_path / "x").write_text("y")
            assert (tmp_path / "x").read_text() == "y"
        """
    )
    result = _run(pytester, "--ocirace", f"--basetemp={pytester.path / 'tmpbase'}")
    result.assert_outcomes(passed=1)


def test_marker_read_only_fails_writes_to_shipped_files(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("shipped.txt").write_text("v1")
    pytester.makepyfile(
        """
        import os, sys, pytest

        HERE = os.path.dirname(os.path.abspath(__file__))

        @pytest.mark.ocirace(real_tree="read-only")
        def test_read_only():
            with pytest.raises(PermissionError):
                open(os.path.join(HERE, "shipped.txt"), "w")

        def test_copy_on_write():
            with open(os.path.join(HERE, "shipped.txt"), "w") as handle:
                handle.write("v2")
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=2)
    assert pytester.path.joinpath("shipped.txt").read_text() == "v1"


def test_tmp_path_factory_first_asked_inside_a_test_keeps_the_real_base(
    pytester: pytest.Pytester,
) -> None:
    # pytest keeps the base temp folder it chose first for the session: chosen inside the
    # simulation, it was a fake Windows folder and every later tmp_path failed.
    pytester.makepyfile(
        """
        def test_asks_inside(request):
            made = request.getfixturevalue("tmp_path_factory").mktemp("inside")
            assert made.is_dir()

        def test_later_tmp_path(tmp_path):
            assert tmp_path.is_dir()
        """
    )
    _run(pytester, "--ocirace", "-p", "no:randomly").assert_outcomes(passed=2)


def test_a_folder_a_session_fixture_returned_is_readable(pytester: pytest.Pytester) -> None:
    # cookiecutter's session-scoped user_dir (tmp_path_factory.mktemp) was made on the real
    # disk before the test's simulation started: FileNotFoundError inside, where Windows
    # finds it. The folder itself is shown, not its parents (they hold every tmp_path).
    pytester.makepyfile(
        """
        import os, pytest

        @pytest.fixture(scope="session")
        def user_dir(tmp_path_factory):
            made = tmp_path_factory.mktemp("user_dir")
            (made / "config").write_text("kept")
            return str(made)

        def test_reads_it(user_dir):
            with open(os.path.join(user_dir, "config")) as handle:
                assert handle.read() == "kept"

        def test_writes_stay_in_the_simulation(user_dir):
            with open(os.path.join(user_dir, "new"), "w") as handle:
                handle.write("inside")

        def test_nothing_was_written_back(user_dir):
            assert not os.path.exists(os.path.join(user_dir, "new"))
        """
    )
    _run(pytester, "--ocirace", "-p", "no:randomly").assert_outcomes(passed=3)
