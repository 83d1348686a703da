"""``tmp_path`` in a simulated test is the Windows path of the directory pytest made."""

from __future__ import annotations

import pytest


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    return pytester.runpytest_inprocess(*quiet, *args)


def test_paths_computed_inside_match_tmp_path_and_fixtures_built_on_it(
    pytester: pytest.Pytester,
) -> None:
    # python-dotenv: find_dotenv() returns os.getcwd()-based C:\... spellings, compared
    # with str(tmp_path / ".env"); on Windows both sides are Windows paths.
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.fixture
        def env_file(tmp_path):
            path = tmp_path / ".env"
            path.write_text("A=1")
            return path

        def test_spellings_agree(tmp_path, env_file):
            os.chdir(tmp_path)
            assert os.getcwd() == str(tmp_path)
            assert os.path.abspath(".env") == str(env_file)
            assert str(tmp_path).startswith("C:\\\\")

        def test_winfs_requested_after_tmp_path(tmp_path, winfs):
            assert str(tmp_path).startswith("C:\\\\")
            assert tmp_path.is_dir()

        def test_tmpdir_keeps_the_real_spelling(tmpdir, tmp_path):
            assert str(tmpdir).startswith("/")
            tmpdir.join("f").write("hi")
            assert (tmp_path / "f").read_text() == "hi"
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=3)


def test_tests_outside_the_simulation_keep_pytests_tmp_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ocirace(enabled=False)
        def test_plain(tmp_path):
            assert str(tmp_path).startswith("/")
        """
    )
    _run(pytester, "--ocirace").assert_outcomes(passed=1)
