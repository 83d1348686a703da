"""publish(): the guarded os.replace, and publish-if-absent that never loses data."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from pytest_ocirace import writer


def make(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_overwrite_replaces_like_os_replace(tmp_path: Path) -> None:
    src, dst = make(tmp_path / "src", b"new"), make(tmp_path / "dst", b"old")
    assert writer.publish(src, dst) is True
    assert dst.read_bytes() == b"new"
    assert not src.exists()


def test_if_absent_publishes_when_dst_is_missing(tmp_path: Path) -> None:
    src = make(tmp_path / "src", b"new")
    assert writer.publish(src, tmp_path / "dst", overwrite=False) is True
    assert (tmp_path / "dst").read_bytes() == b"new"
    assert not src.exists()


def test_if_absent_identical_dst_is_success_and_src_is_removed(tmp_path: Path) -> None:
    src, dst = make(tmp_path / "src", b"same"), make(tmp_path / "dst", b"same")
    inode = dst.stat().st_ino
    assert writer.publish(src, dst, overwrite=False) is False
    assert not src.exists()
    assert dst.stat().st_ino == inode


def test_if_absent_different_dst_raises_and_keeps_both(tmp_path: Path) -> None:
    src, dst = make(tmp_path / "src", b"mine"), make(tmp_path / "dst", b"theirs")
    with pytest.raises(FileExistsError, match=r"different content.*was kept") as info:
        writer.publish(src, dst, overwrite=False)
    assert info.value.errno == errno.EEXIST
    assert src.read_bytes() == b"mine"
    assert dst.read_bytes() == b"theirs"


def test_if_absent_same_size_different_bytes_is_different(tmp_path: Path) -> None:
    src, dst = make(tmp_path / "src", b"a" * 5000), make(tmp_path / "dst", b"a" * 4999 + b"b")
    with pytest.raises(FileExistsError):
        writer.publish(src, dst, overwrite=False)
    assert src.exists()


def test_if_absent_onto_itself_keeps_the_file(tmp_path: Path) -> None:
    path = make(tmp_path / "f", b"data")
    assert writer.publish(path, path, overwrite=False) is False
    assert path.read_bytes() == b"data"
    link = tmp_path / "hardlink"
    os.link(path, link)
    assert writer.publish(link, path, overwrite=False) is False
    assert link.exists()
    assert path.read_bytes() == b"data"


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK])
def test_filesystems_without_hard_links_still_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    def no_links(src: object, dst: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "link", no_links)
    src = make(tmp_path / "src", b"v1")
    assert writer.publish(src, tmp_path / "dst", overwrite=False) is True
    assert (tmp_path / "dst").read_bytes() == b"v1"
    src = make(tmp_path / "src", b"v1")
    assert writer.publish(src, tmp_path / "dst", overwrite=False) is False
    src = make(tmp_path / "src", b"v2")
    with pytest.raises(FileExistsError):
        writer.publish(src, tmp_path / "dst", overwrite=False)
    assert src.exists()


def test_real_link_errors_are_not_mistaken_for_missing_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(src: object, dst: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "link", full)
    src = make(tmp_path / "src", b"v1")
    with pytest.raises(OSError, match="No space") as info:
        writer.publish(src, tmp_path / "dst", overwrite=False)
    assert info.value.errno == errno.ENOSPC
    assert src.exists()
    assert not (tmp_path / "dst").exists()


def test_missing_src_is_file_not_found(tmp_path: Path) -> None:
    for overwrite in (True, False):
        with pytest.raises(FileNotFoundError):
            writer.publish(tmp_path / "nope", tmp_path / "dst", overwrite=overwrite)


def test_fsync_true_syncs_the_file_and_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    src = make(tmp_path / "src", b"x")
    writer.publish(src, tmp_path / "dst")
    assert synced == []
    src = make(tmp_path / "src", b"y")
    writer.publish(src, tmp_path / "dst", fsync=True)
    assert synced == [str(src), str(tmp_path)]


def test_bytes_paths_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="decode bytes paths"):
        writer.publish(b"a", b"b")  # type: ignore[arg-type]


def test_concurrent_if_absent_publishers_exactly_one_wins(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    sources = [make(tmp_path / f"src{i}", b"identical payload") for i in range(16)]
    barrier = threading.Barrier(len(sources))
    results: list[bool] = []
    errors: list[BaseException] = []

    def run(src: Path) -> None:
        barrier.wait()
        try:
            results.append(writer.publish(src, dst, overwrite=False))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 15 + [True]
    assert [p.name for p in tmp_path.iterdir()] == ["dst"]
    assert dst.read_bytes() == b"identical payload"
