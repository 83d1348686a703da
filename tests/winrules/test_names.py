from __future__ import annotations

import pytest

from pytest_ocirace.winrules import names


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("blob", "c:\\work\\blob"),
        ("C:/Work/BLOB", "c:\\work\\blob"),
        ("blob. . ", "c:\\work\\blob"),
        ("dir.\\blob", "c:\\work\\dir\\blob"),
        ("..\\x", "c:\\x"),
        ("D:blob", "d:\\blob"),
    ],
)
def test_key_identifies_one_windows_file(path: str, expected: str) -> None:
    assert names.key(path, "C:\\work") == expected


#: One file, every way a test (or pytest's ``tmp_path``) may spell it.
SPELLINGS = [
    "/tmp/pytest-of-u/pytest-1/t0/nx",
    "\\tmp\\pytest-of-u\\pytest-1\\t0\\nx",
    "C:\\tmp\\pytest-of-u\\pytest-1\\t0\\nx",
    "c:/tmp/pytest-of-u/pytest-1/t0/nx",
    "C:/TMP/Pytest-Of-U/pytest-1/t0/NX",
    "/tmp/pytest-of-u/pytest-1\\t0/nx",
    "/tmp/pytest-of-u/pytest-1/t0/sub/../nx",
    "/tmp/pytest-of-u/pytest-1/t0/nx.",
    "\\\\?\\C:\\tmp\\pytest-of-u\\pytest-1\\t0\\nx",
    "\\\\?\\c:\\TMP\\pytest-of-u\\pytest-1\\t0\\nx",
    "//?/C:/tmp/pytest-of-u/pytest-1/t0/nx",
    "\\\\.\\C:\\tmp\\pytest-of-u\\pytest-1\\t0\\nx",
    "..\\tmp\\pytest-of-u\\pytest-1\\t0\\nx",
    "C:..\\tmp\\pytest-of-u\\pytest-1\\t0\\nx",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_one_file_has_one_key(spelling: str) -> None:
    assert names.key(spelling, "C:\\work") == "c:\\tmp\\pytest-of-u\\pytest-1\\t0\\nx"


def test_rooted_paths_take_the_drive_of_the_working_directory() -> None:
    assert names.key("/tmp/x", "D:\\work") == "d:\\tmp\\x"
    assert names.drive_of(names.key("/tmp/x", "C:\\work")) == "c:"


def test_long_prefix_paths_are_literal() -> None:
    # ``\\?\`` turns Win32 normalisation off: a trailing dot or ``..`` is part of the name.
    assert names.key("\\\\?\\C:\\x\\blob.", "C:\\work") == "c:\\x\\blob."
    assert names.key("\\\\?\\UNC\\server\\share\\x", "C:\\w") == "\\\\server\\share\\x"
    assert names.native_path("\\\\?\\C:\\x\\y") == "C:\\x\\y"
    assert names.native_path("//?/C:/x/y") == "C:/x/y"
    assert names.native_path("\\\\server\\share\\x") == "\\\\server\\share\\x"


def test_split_stream() -> None:
    assert names.split_stream("blobs\\sha256:abc") == ("blobs\\sha256", "abc")
    assert names.split_stream("C:\\x\\f::$DATA") == ("C:\\x\\f", None)
    assert names.split_stream("C:\\x\\plain") == ("C:\\x\\plain", None)
    assert names.split_stream("C:\\x\\f:s:$DATA") == ("C:\\x\\f", "s")


@pytest.mark.parametrize("bad", ["a?b", "a<b", 'a"b', "a|b", "a*b", "a\x01b", "x\\sha256:abc"])
def test_invalid_component(bad: str) -> None:
    assert names.invalid_component(bad) is not None


def test_stream_allowed_only_where_requested() -> None:
    assert names.invalid_component("x\\sha256:abc", allow_stream=True) is None
    assert names.invalid_component("ab:y\\z", allow_stream=True) is not None
    assert names.invalid_component("C:\\fine\\name.txt") is None


@pytest.mark.parametrize("name", ["NUL", "con", "com1.txt", "LPT9", "aux.tar.gz", "nul "])
def test_reserved(name: str) -> None:
    assert names.reserved_component(f"C:\\d\\{name}") == name


def test_not_reserved() -> None:
    assert names.reserved_component("C:\\d\\console") is None
    assert names.reserved_component("C:\\d\\com10") is None


def test_max_path() -> None:
    assert not names.exceeds_max_path("C:\\" + "a" * 256)
    assert names.exceeds_max_path("C:\\" + "a" * 257)
    assert names.exceeds_max_path("C:\\" + "a" * 245, directory=True)
    assert not names.exceeds_max_path("\\\\?\\C:\\" + "a" * 400)


def test_win32_path_strips_like_win32() -> None:
    assert names.win32_path("C:\\a.\\b. . ") == "C:\\a\\b"
    assert names.win32_path("plain") == "plain"
    assert names.win32_path("a.\\b") == "a\\b"
    assert names.win32_path("a..\\b") == "a..\\b"  # only a single trailing dot goes
