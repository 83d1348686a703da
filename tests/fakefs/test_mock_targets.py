"""A mock named by a string reaches the fake module the code under test calls."""

from __future__ import annotations

import os
import pkgutil
import sys
import types
from unittest import mock

import pytest

from pytest_ocirace.fakefs.filesystem import simulate


def _ensure_dir(path: str) -> str:
    """minimalkv's FilesystemStore._ensure_dir_exists: this module's `os` is the fake."""
    if not os.path.isdir(path):
        try:
            os.makedirs(path)
        except OSError:
            if not os.path.isdir(path):
                raise
    return "ok"


def test_a_mock_of_an_os_path_function_by_name_is_what_the_code_calls() -> None:
    # Regression (minimalkv 1.11.2, test_concurrent_mkdir): the os.makedirs mock was seen
    # and the os.path.isdir mock was not, so the code raised the makedirs mock's error.
    with simulate():
        with (
            mock.patch("os.makedirs", side_effect=OSError("Failure")),
            mock.patch("os.path.isdir", side_effect=[False, True]) as isdir,
        ):
            assert _ensure_dir("C:\\store\\test") == "ok"
            assert isdir.call_count == 2
        assert not os.path.isdir("C:\\store\\test")  # the fake's own answer is back
        assert "isdir" not in vars(os.path)


def test_a_mock_of_a_function_the_fake_os_implements_is_seen_too() -> None:
    with simulate():
        with mock.patch("os.getcwd", return_value="C:\\elsewhere"):
            assert os.getcwd() == "C:\\elsewhere"
        assert os.getcwd() != "C:\\elsewhere"


def test_resolve_name_is_the_original_again_after_the_simulation() -> None:
    before = pkgutil.resolve_name
    with simulate():
        assert pkgutil.resolve_name is not before
        assert pkgutil.resolve_name("os.environ") is os.environ  # not a module: unchanged
    assert pkgutil.resolve_name is before
    assert pkgutil.resolve_name("os.path") is sys.modules["posixpath"]


def test_a_stub_module_a_test_registered_is_not_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    stub = types.ModuleType("json")
    real_json = sys.modules["json"]
    with simulate():
        monkeypatch.setitem(sys.modules, "json", stub)
        holder = types.SimpleNamespace(json=real_json)
        monkeypatch.setitem(sys.modules, "ocirace_holder", holder)
        assert pkgutil.resolve_name("ocirace_holder.json") is real_json
