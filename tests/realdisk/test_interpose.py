"""The participant's side of a verdict: the exception built from the coordinator's answer."""

from __future__ import annotations

import errno
import os
from typing import Any

import pytest

from pytest_ocirace.realdisk.interpose import Interposition


class Answering:
    """A line to a coordinator that answers every request with one verdict."""

    pid = 4242

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        return self.answer

    def notify(self, message: dict[str, Any]) -> None:
        pass

    def defer(self, message: dict[str, Any]) -> None:
        pass

    def report(self, number: int, ok: bool, fd: int | None) -> None:
        pass

    def closed(self, fd: int) -> None:
        pass


@pytest.mark.parametrize(
    ("winerror", "expected_errno"),
    [
        (5, errno.EACCES),
        (32, errno.EACCES),
        (80, errno.EEXIST),
        (2, errno.ENOENT),
        (123, errno.EINVAL),  # was EEXIST: every code but 5 and 32 became 17
        (206, errno.ENOENT),
    ],
)
def test_a_refused_open_raises_the_c_runtime_error_windows_would(
    winerror: int, expected_errno: int
) -> None:
    answer = {"error": {"winerror": winerror, "crt": True}}
    interposition = Interposition(Answering(answer))
    with pytest.raises(OSError, match=r"^\[Errno \d+\] ") as caught:
        interposition.before("open", "/x/name", "C:\\x\\name", access=["read"])
    assert caught.value.errno == expected_errno
    assert getattr(caught.value, "winerror", None) is None  # the C runtime sets no winerror


def test_a_refused_rename_raises_the_windows_error() -> None:
    answer = {"error": {"winerror": 183, "crt": False}}
    interposition = Interposition(Answering(answer))
    with pytest.raises(FileExistsError) as caught:
        interposition.before("rename", "/x/a", "a", "/x/b", "b")
    assert caught.value.winerror == 183  # type: ignore[attr-defined]
    assert "[WinError 183]" in str(caught.value)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("/a/b/../c", "/a/c"),
        ("/a//b/./c/", "/a/b/c"),
        (b"/a/b", "/a/b"),
        ("relative/../x", "{cwd}/x"),
        ("/a/b/..", "/a"),
        ("/a/b/.", "/a/b"),
        ("/a/.hidden/b", "/a/.hidden/b"),
        ("/a/b/", "/a/b"),
        ("/", "/"),
        ("//a/b", "//a/b"),  # POSIX keeps exactly two leading separators
        ("/a/b", "/a/b"),
    ],
)
def test_a_path_is_announced_absolute_and_normalised(
    spelling: str | bytes, expected: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two spellings of one name must reach the judge as one name (its tables are by name)."""
    monkeypatch.chdir(tmp_path)
    interposition = Interposition(Answering({}))
    assert interposition.path(spelling) == expected.format(cwd=str(tmp_path))


def test_every_spelling_is_normalised_as_abspath_would(tmp_path: Any) -> None:
    """The fast path (a path already absolute and normal) never differs from ``abspath``."""
    interposition = Interposition(Answering({}))
    parts = ["a", ".", "..", "", ".b", "c.", "..d"]
    for first in parts:
        for second in parts:
            for trail in ("", "/"):
                spelling = f"/{first}/{second}{trail}"
                assert interposition.path(spelling) == os.path.abspath(spelling), spelling


def test_excluded_folders_and_descriptors_are_not_announced(tmp_path: Any) -> None:
    interposition = Interposition(Answering({}), [str(tmp_path / "venv")])
    assert interposition.path(str(tmp_path / "venv" / ".." / "venv" / "x.py")) is None
    assert interposition.path(str(tmp_path / "venvx")) == str(tmp_path / "venvx")
    assert interposition.path(3) is None


@pytest.mark.parametrize("name", ["", b"", "a\x00b", "/tmp/a\x00", b"/tmp/\x00"])
def test_names_no_call_accepts_are_not_announced(name: str | bytes) -> None:
    """The real call raises what CPython raises; announced, "" was the working directory."""
    assert Interposition(Answering({})).path(name) is None
