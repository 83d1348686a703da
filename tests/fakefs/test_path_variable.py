"""PATH is Windows-spelled inside the simulation, and shutil.which finds the host's programs."""

from __future__ import annotations

import os
import shutil

import pytest

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.path_variable import HOST_FOLDERS, windows_spelling


def test_the_spelling() -> None:
    assert windows_spelling("/usr/local/bin:/usr/bin:rel", "C:") == (
        "C:\\usr\\local\\bin;C:\\usr\\bin;rel"
    )


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a program on PATH")
def test_which_finds_a_host_program_and_path_comes_back() -> None:
    # cookiecutter's is_vcs_installed: shutil.which("git") split the host's PATH at the
    # simulation's ";" and found nothing; its clone tests mock the process itself.
    before = os.environ["PATH"]
    with simulate(real_trees=HOST_FOLDERS):
        assert os.environ["PATH"] == windows_spelling(before, "C:")
        found = shutil.which("sh")
        assert found is not None
        assert found.startswith("C:\\")
        assert os.access(found, os.X_OK)
    assert os.environ["PATH"] == before
