"""The platform note of a failed test, in the process mode (the fake filesystem's is in
``test_platform_import.py``), and the warning for options the process mode cannot honour."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

#: A library that picks its publish at import, as atomicwrites does.
POSIXLIB = """
import os
import sys

if sys.platform != "win32":
    def publish(src, dst):
        os.rename(src, dst)  # POSIX overwrites; Windows refuses with 183
else:
    def publish(src, dst):
        os.replace(src, dst)
"""

TEST = """
import pytest
import posixlib

@pytest.mark.ocirace(processes=True)
def test_publish_twice(tmp_path):
    for text in ("one", "two"):
        (tmp_path / "tmp").write_text(text)
        posixlib.publish(str(tmp_path / "tmp"), str(tmp_path / "target"))
"""


@pytest.fixture
def posixlib(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(posixlib=POSIXLIB, test_publish=TEST)
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", *args, timeout=120
    )


def test_the_process_mode_names_the_module_and_the_mode_that_can_fix_it(
    posixlib: pytest.Pytester,
) -> None:
    result = _run(posixlib)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FileExistsError: [[]WinError 183[]]*",
            "*ocirace platform*",
            "*chose their platform when they were imported*",
            "  posixlib (posixlib.py:*: if sys.platform != *win32*:)",
            "the process mode runs them as the host imported them: it cannot import them as "
            "on Windows*run it in the fake filesystem (@pytest.mark.ocirace(processes=False)) "
            "with --ocirace-windows-import-modules='posixlib'",
        ]
    )


def test_options_only_the_fake_filesystem_honours_are_not_silently_ignored(
    posixlib: pytest.Pytester,
) -> None:
    result = _run(posixlib, "--ocirace-processes", "--ocirace-windows-import-modules=posixlib")
    result.stdout.fnmatch_lines(
        [
            "ocirace: the options windows_import_modules (posixlib) apply only to tests in "
            "the fake filesystem; the process mode runs every module as the host imported "
            "it*processes=False*",
        ]
    )
    quiet = _run(posixlib, "--ocirace-processes")
    assert "apply only to tests in the fake filesystem" not in quiet.stdout.str()
    # A header line, never a warning: a suite that makes warnings errors still runs.
    strict = _run(
        posixlib,
        "--ocirace-processes",
        "--ocirace-windows-import-modules=posixlib",
        "-W",
        "error",
    )
    strict.assert_outcomes(failed=1)
    assert "INTERNALERROR" not in strict.stdout.str() + strict.stderr.str()
