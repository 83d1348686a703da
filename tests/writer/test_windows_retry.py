"""The Windows code paths, exercised on any OS by raising what CPython on Windows raises.

``windows`` flips the writer onto its Windows branch (no-clobber ``os.rename``, retries, no
directory fsync); the failures come from ``windows_error``, which builds exceptions shaped
exactly like CPython's on Windows. Clocks are fake: nothing here really sleeps.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_ocirace import writer
from pytest_ocirace.winrules.errors import windows_error

from .conftest import Blob, FakeClock, make_blob, temps_under

pytestmark = pytest.mark.usefixtures("windows")


class Flaky:
    """Wraps an ``os`` function: the first ``failures`` calls raise WinError ``code``."""

    def __init__(self, real: Callable[..., None], code: int, failures: float) -> None:
        self.real, self.code, self.failures, self.calls = real, code, failures, 0

    def __call__(self, src: str, dst: str, *args: object, **kwargs: object) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise windows_error(self.code, src, dst)
        self.real(src, dst, *args, **kwargs)


_real_replace = os.replace


def rename_like_windows(src: str, dst: str) -> None:
    """Windows ``os.rename`` never replaces: an existing target is WinError 183."""
    if os.path.lexists(dst):
        raise windows_error(183, src, dst)
    _real_replace(src, dst)


@pytest.mark.parametrize("code", [5, 32, 33])
def test_write_blob_survives_transient_sharing_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, blob: Blob, code: int
) -> None:
    writer.init_layout(tmp_path)  # so that only the blob's own rename is counted
    flaky = Flaky(rename_like_windows, code, failures=3)
    monkeypatch.setattr(os, "rename", flaky)
    path = writer.write_blob(tmp_path, blob.digest, blob.data, retry=fake_clock.policy())
    assert path.read_bytes() == blob.data
    assert flaky.calls == 4
    assert len(fake_clock.sleeps) == 3
    assert temps_under(tmp_path) == []


def test_atomic_write_survives_transient_errors_from_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    target = tmp_path / "index.json"
    target.write_text("old")
    monkeypatch.setattr(os, "replace", Flaky(os.replace, 32, failures=2))
    with writer.atomic_write(target, "w", retry=fake_clock.policy()) as handle:
        handle.write("new")
    assert target.read_text() == "new"
    assert len(fake_clock.sleeps) == 2


def test_publish_survives_transient_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    dst.write_bytes(b"old")
    monkeypatch.setattr(os, "replace", Flaky(os.replace, 5, failures=5))
    assert writer.publish(src, dst, retry=fake_clock.policy()) is True
    assert dst.read_bytes() == b"new"


def test_permanent_error_gives_a_clear_error_after_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    dst.write_bytes(b"old")
    flaky = Flaky(os.replace, 5, failures=float("inf"))
    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(writer.PublishTimeoutError) as info:
        writer.publish(src, dst, retry=fake_clock.policy(budget=2.0))
    error = info.value
    assert isinstance(error, PermissionError)
    assert error.winerror == 5  # type: ignore[attr-defined]
    assert error.errno == errno.EACCES
    message = str(error)
    assert "[WinError 5] Access is denied" in message
    assert str(src) in message
    assert str(dst) in message
    assert "retry=RetryPolicy(budget=" in message
    assert isinstance(error.__cause__, PermissionError)
    # Bounded: the fake clock says ~2 s were spent, in growing, capped, jittered pauses.
    assert 1.9 <= fake_clock.now <= 2.0
    assert fake_clock.sleeps[0] <= 0.001
    assert max(fake_clock.sleeps) <= 0.1
    assert fake_clock.sleeps[5] > fake_clock.sleeps[0]
    assert flaky.calls == len(fake_clock.sleeps) + 1
    # No data lost: the source is still there, the target untouched.
    assert src.read_bytes() == b"new"
    assert dst.read_bytes() == b"old"


def test_permanent_error_in_atomic_write_leaves_target_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "replace", Flaky(os.replace, 32, failures=float("inf")))

    def write() -> None:
        with writer.atomic_write(target, retry=fake_clock.policy(budget=0.5)) as handle:
            handle.write(b"new")

    with pytest.raises(writer.PublishTimeoutError, match="WinError 32"):
        write()
    assert target.read_bytes() == b"old"
    assert temps_under(tmp_path) == []


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(lambda s, d: windows_error(1224, s, d), id="other-winerror"),
        pytest.param(lambda s, d: PermissionError(errno.EACCES, "denied"), id="no-winerror"),
        pytest.param(lambda s, d: OSError(errno.ENOSPC, "No space left on device"), id="ENOSPC"),
        pytest.param(lambda s, d: OSError(errno.EIO, "I/O error"), id="EIO"),
    ],
)
def test_other_errors_are_never_retried(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_clock: FakeClock,
    error: Callable[[str, str], OSError],
) -> None:
    def failing(src: str, dst: str) -> None:
        raise error(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    src = tmp_path / "src"
    src.write_bytes(b"x")
    expected = error("a", "b")
    with pytest.raises(type(expected), match=expected.strerror) as info:
        writer.publish(src, tmp_path / "dst", retry=fake_clock.policy())
    assert info.value.errno == expected.errno
    assert not isinstance(info.value, writer.PublishTimeoutError)
    assert fake_clock.sleeps == []


def test_posix_never_retries_even_a_windows_shaped_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    monkeypatch.setattr(writer, "_WINDOWS", False)
    monkeypatch.setattr(os, "replace", Flaky(os.replace, 5, failures=1))
    src = tmp_path / "src"
    src.write_bytes(b"x")
    with pytest.raises(PermissionError):
        writer.publish(src, tmp_path / "dst", retry=fake_clock.policy())
    assert fake_clock.sleeps == []


def test_existing_blob_at_rename_time_is_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    blob = make_blob(5000)
    path = writer.blob_path(tmp_path, blob.digest)
    monkeypatch.setattr(os, "rename", rename_like_windows)

    def source() -> Iterator[bytes]:
        yield blob.data[:100]
        path.write_bytes(blob.data)  # another process publishes while we stream
        yield blob.data[100:]

    inode = None
    assert writer.write_blob(tmp_path, blob.digest, source(), retry=fake_clock.policy()) == path
    inode = path.stat().st_ino
    assert path.read_bytes() == blob.data
    assert temps_under(tmp_path) == []
    writer.write_blob(tmp_path, blob.digest, blob.data)
    assert path.stat().st_ino == inode


def test_truncated_blob_found_at_rename_time_is_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    blob = make_blob(5000)
    path = writer.blob_path(tmp_path, blob.digest)
    monkeypatch.setattr(os, "rename", rename_like_windows)
    replace = Flaky(os.replace, 5, failures=2)
    monkeypatch.setattr(os, "replace", replace)

    def source() -> Iterator[bytes]:
        yield blob.data[:100]
        path.write_bytes(blob.data[:100])  # an in-place writer crashed here
        yield blob.data[100:]

    writer.write_blob(tmp_path, blob.digest, source(), retry=fake_clock.policy())
    assert path.read_bytes() == blob.data
    assert replace.calls == 3, "the repair is a replace, retried like any other"
    assert temps_under(tmp_path) == []


def test_target_published_by_someone_else_during_retries_ends_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, blob: Blob
) -> None:
    path = writer.blob_path(tmp_path, blob.digest)
    writer.init_layout(tmp_path)
    calls: list[str] = []

    def busy_then_someone_else_wins(src: str, dst: str) -> None:
        calls.append(src)
        if len(calls) == 1:
            raise windows_error(5, src, dst)
        Path(dst).write_bytes(blob.data)  # the other writer's rename completes...
        raise windows_error(5, src, dst)  # ...while ours is refused again

    monkeypatch.setattr(os, "rename", busy_then_someone_else_wins)
    assert writer.write_blob(tmp_path, blob.digest, blob.data, retry=fake_clock.policy()) == path
    assert len(calls) == 2
    assert len(fake_clock.sleeps) == 1
    assert path.read_bytes() == blob.data
    assert temps_under(tmp_path) == []


def test_replace_onto_a_directory_fails_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    def windows_replace(src: str, dst: str) -> None:
        if os.path.isdir(dst):
            raise windows_error(5, src, dst)  # decision table row 10
        os.rename(src, dst)

    monkeypatch.setattr(os, "replace", windows_replace)
    (tmp_path / "dir").mkdir()
    src = tmp_path / "src"
    src.write_bytes(b"x")
    with pytest.raises(IsADirectoryError, match="cannot replace directory"):
        writer.publish(src, tmp_path / "dir", retry=fake_clock.policy())
    assert fake_clock.sleeps == []
    assert src.exists()


def test_publish_if_absent_uses_rename_and_accepts_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    monkeypatch.setattr(os, "rename", rename_like_windows)

    def no_links(*args: object, **kwargs: object) -> None:
        raise AssertionError("Windows branch must not use os.link")

    monkeypatch.setattr(os, "link", no_links)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"v")
    assert writer.publish(src, dst, overwrite=False, retry=fake_clock.policy()) is True
    src.write_bytes(b"v")
    assert writer.publish(src, dst, overwrite=False, retry=fake_clock.policy()) is False
    assert not src.exists()
    src.write_bytes(b"w")
    with pytest.raises(FileExistsError):
        writer.publish(src, dst, overwrite=False, retry=fake_clock.policy())
    assert src.read_bytes() == b"w"


def test_no_directory_fsync_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blob: Blob
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "rename", rename_like_windows)
    writer.write_blob(tmp_path, blob.digest, blob.data)
    assert synced, "the file itself is still fsynced"
    assert not any(os.path.isdir(p) for p in synced)


def test_delete_pending_temp_name_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blob: Blob
) -> None:
    real_open = os.open
    refused: list[str] = []

    def open_with_one_pending_name(path: str, flags: int, mode: int = 0o777) -> int:
        if writer.is_temp_name(os.path.basename(path)) and not refused:
            refused.append(path)
            raise windows_error(5, path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", open_with_one_pending_name)
    monkeypatch.setattr(os, "rename", rename_like_windows)
    writer.write_blob(tmp_path, blob.digest, blob.data)
    assert len(refused) == 1
    assert writer.blob_path(tmp_path, blob.digest).read_bytes() == blob.data


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="first_delay"):
        writer.RetryPolicy(first_delay=0)
    with pytest.raises(ValueError, match="budget"):
        writer.RetryPolicy(budget=-1)


def test_verifying_an_existing_blob_waits_out_a_sharing_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, blob: Blob
) -> None:
    path = writer.write_blob(tmp_path, blob.digest, blob.data)
    inode = path.stat().st_ino
    refusals: list[str] = []

    def open_busy_twice(file: str, mode: str = "r", *args: object, **kwargs: object) -> object:
        if file == str(path) and len(refusals) < 2:
            refusals.append(file)
            raise windows_error(32, file)  # another writer's rename holds the name
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(writer, "open", open_busy_twice, raising=False)
    result = writer.write_blob(
        tmp_path, blob.digest, blob.data, verify_existing=True, retry=fake_clock.policy()
    )
    assert result == path
    assert len(refusals) == 2
    assert len(fake_clock.sleeps) == 2
    assert path.stat().st_ino == inode, "verified in place, not rewritten"
