"""``os.path.expanduser`` in the simulation answers as ntpath's (cookiecutter's config paths)."""

from __future__ import annotations

import ntpath
import os

import pytest

from pytest_ocirace.fakefs.filesystem import simulate


def test_a_path_without_a_tilde_comes_back_as_given() -> None:
    with simulate():
        # pyfakefs turned every "/" into "\": cookiecutter's expanded config values
        # differed from the values its tests wrote.
        assert os.path.expanduser("/home/example/templates") == "/home/example/templates"
        assert os.path.expanduser("rel/path") == "rel/path"
        assert os.path.expanduser(b"/x/y") == b"/x/y"


def test_a_tilde_is_the_home_folder_followed_by_the_rest_as_spelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("USERPROFILE", raising=False)
    with simulate():
        home = os.path.expanduser("~")
        assert ntpath.isabs(home)
        assert home.startswith("C:\\")
        assert os.path.expanduser("~/.cookiecutterrc") == home + "/.cookiecutterrc"
        assert os.path.expanduser("~\\x\\y") == home + "\\x\\y"
        assert os.path.expanduser("~bob/cfg") == ntpath.join(ntpath.dirname(home), "bob") + "/cfg"


def test_userprofile_is_read_first_as_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERPROFILE", "D:\\Profiles\\alice")
    with simulate():
        assert os.path.expanduser("~/notes") == "D:\\Profiles\\alice/notes"


def test_pathlib_takes_the_same_home(monkeypatch: pytest.MonkeyPatch) -> None:
    # cookiecutter sets USERPROFILE for Windows and compares Path("~/x").expanduser()
    # with the config it expanded through os.path.
    monkeypatch.setenv("USERPROFILE", "C:\\Profiles\\alice")
    with simulate():
        from pathlib import Path

        assert str(Path("~/.cookiecutters").expanduser()) == "C:\\Profiles\\alice\\.cookiecutters"
        assert str(Path.home()) == "C:\\Profiles\\alice"
        assert str(Path("~/.cookiecutters").expanduser()) == os.path.normpath(
            os.path.expanduser("~/.cookiecutters")
        )
