"""The fake ``os`` reports Windows' capabilities, and ``access`` takes what Windows takes.

pid 3.0.4 asks ``os.access in os.supports_effective_ids`` before each ``access`` call: with
the host's answer (yes) and pyfakefs' Windows refusal of any ``effective_ids``, 36 of its
41 tests failed inside the simulation.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


def test_the_capability_sets_are_windows_ones(sim: WindowsFilesystem) -> None:
    assert os.supports_effective_ids == set()
    assert os.supports_dir_fd == set()
    assert os.access not in os.supports_effective_ids
    assert os.stat in os.supports_follow_symlinks
    assert os.stat in os.supports_fd
    assert os.truncate in os.supports_fd
    assert os.open not in os.supports_fd
    assert (os.chmod in os.supports_fd) is (sys.version_info >= (3, 13))


def test_access_asked_the_documented_way_works(sim: WindowsFilesystem) -> None:
    with open("present", "w") as handle:
        handle.write("x")
    assert os.access("present", os.W_OK, effective_ids=os.access in os.supports_effective_ids)
    assert os.access("present", os.R_OK, effective_ids=False, follow_symlinks=True)
    assert not os.access("absent", os.F_OK, effective_ids=False)


def test_access_ignores_the_execute_bit_as_windows_does(sim: WindowsFilesystem) -> None:
    # nt.access checks existence (and the read-only attribute for W_OK): any file passes
    # X_OK, which shutil.which asks of every candidate.
    with open("tool.exe", "w") as handle:
        handle.write("x")
    os.chmod("tool.exe", 0o444)  # the read-only attribute
    assert os.access("tool.exe", os.X_OK)
    assert os.access("tool.exe", os.R_OK | os.X_OK)
    assert not os.access("tool.exe", os.W_OK | os.X_OK)
    assert not os.access("absent.exe", os.X_OK)


@pytest.mark.parametrize(
    ("keywords", "name"),
    [
        ({"effective_ids": True}, "effective_ids"),
        ({"follow_symlinks": False}, "follow_symlinks"),
        ({"dir_fd": 3}, "dir_fd"),
    ],
)
def test_access_refuses_what_windows_cannot_do(
    sim: WindowsFilesystem, keywords: dict[str, object], name: str
) -> None:
    with pytest.raises(NotImplementedError, match=f"access: {name} unavailable on this platform"):
        os.access(".", os.F_OK, **keywords)  # type: ignore[arg-type]


def test_the_host_sets_are_back_after(tmp_path: object) -> None:
    with simulate():
        pass
    assert os.access in os.supports_effective_ids
    assert os.access(str(tmp_path), os.W_OK, effective_ids=True)
