"""The coordinator's view of the disk reads the real disk, whatever the test patched."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

from pytest_ocirace.realdisk.diskstate import DiskState


class _BogusStat:
    st_nlink = 3  # flufl.lock's test returns this from a patched os.stat


def test_a_test_patching_os_stat_does_not_reach_the_coordinator(tmp_path: Path) -> None:
    # The coordinator is a thread of the test's own process: flufl.lock's
    # test_unexpected_st_nlink patches os.stat while a child holds the lock file, and the
    # coordinator's lookup got the test's object ("no attribute 'st_dev'").
    held = tmp_path / "test.lck"
    held.write_text("x")
    real = os.stat(held)
    state = DiskState()
    with mock.patch("os.stat", return_value=_BogusStat()):
        handle = state.opened(4242, 7, str(held))
    assert (handle.device, handle.inode) == (real.st_dev, real.st_ino)
