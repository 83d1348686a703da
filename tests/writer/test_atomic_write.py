"""atomic_write: whole-file replacement that readers and other writers can live with."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from pytest_ocirace import writer

from .conftest import temps_under


def test_binary_write(tmp_path: Path) -> None:
    target = tmp_path / "cache.bin"
    with writer.atomic_write(target) as handle:
        handle.write(b"\x00\x01")
        assert not target.exists(), "nothing is visible before the block ends"
    assert target.read_bytes() == b"\x00\x01"
    assert temps_under(tmp_path) == []


def test_text_write_honours_encoding_and_newline(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    with writer.atomic_write(target, "w", encoding="utf-16-le", newline="\r\n") as handle:
        handle.write("é\n")
    assert target.read_bytes() == "é\r\n".encode("utf-16-le")
    with writer.atomic_write(str(target), "wt", encoding="utf-8") as handle:
        handle.write("x")
    assert target.read_text() == "x"


def test_exception_leaves_the_old_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def fail_halfway() -> None:
        with writer.atomic_write(target) as handle:
            handle.write(b"half of the new")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_halfway()
    assert target.read_bytes() == b"old"
    assert temps_under(tmp_path) == []


def test_exception_on_a_new_file_creates_nothing(tmp_path: Path) -> None:
    def interrupted() -> None:
        with writer.atomic_write(tmp_path / "f", "w") as handle:
            handle.write("partial")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert list(tmp_path.iterdir()) == []


def test_existing_permissions_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_bytes(b"old")
    target.chmod(0o600)
    with writer.atomic_write(target) as handle:
        handle.write(b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_new_file_mode_is_0644_minus_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with writer.atomic_write(tmp_path / "f") as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_closing_the_handle_inside_the_block_still_publishes(tmp_path: Path) -> None:
    with writer.atomic_write(tmp_path / "f") as handle:
        handle.write(b"done")
        handle.close()
    assert (tmp_path / "f").read_bytes() == b"done"


@pytest.mark.parametrize(
    ("mode", "kwargs", "message"),
    [
        ("a", {}, "mode must be 'wb', 'w' or 'wt'"),
        ("r+b", {}, "mode must be"),
        ("wb", {"encoding": "utf-8"}, "only valid with text modes"),
    ],
)
def test_bad_arguments_are_rejected_before_creating_anything(
    tmp_path: Path, mode: str, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        writer.atomic_write(tmp_path / "f", mode, **kwargs)  # type: ignore[call-overload]
    assert list(tmp_path.iterdir()) == []


def test_missing_directory_says_so(tmp_path: Path) -> None:
    with (
        pytest.raises(FileNotFoundError, match="create it first"),
        writer.atomic_write(tmp_path / "nope" / "f"),
    ):
        pass


def test_directory_target_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError), writer.atomic_write(tmp_path):
        pass
    assert temps_under(tmp_path) == []


def test_fsync_covers_file_then_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    with writer.atomic_write(tmp_path / "f") as handle:
        handle.write(b"x")
    assert len(synced) == 2
    assert writer.is_temp_name(os.path.basename(synced[0].removesuffix(" (deleted)")))
    assert synced[1] == str(tmp_path)
    synced.clear()
    with writer.atomic_write(tmp_path / "f", fsync=False) as handle:
        handle.write(b"y")
    assert synced == []


def test_readers_see_old_or_new_never_a_mix(tmp_path: Path) -> None:
    target = tmp_path / "state"
    versions = [bytes([65 + i]) * 200_000 for i in range(4)]
    target.write_bytes(versions[0])
    stop = threading.Event()
    seen: set[bytes] = set()
    bad: list[bytes] = []

    def read() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            if data in versions:
                seen.add(data[:1])
            else:
                bad.append(data[:20] + b"..." + data[-20:])

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for i in range(60):
            with writer.atomic_write(target, fsync=False) as handle:
                for start in range(0, 200_000, 50_000):  # several writes: a mix is possible
                    handle.write(versions[i % 4][start : start + 50_000])
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert bad == []
    assert len(seen) >= 2


def test_concurrent_writers_never_raise_and_last_writer_wins(tmp_path: Path) -> None:
    target = tmp_path / "shared"
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []
    payloads = [f"writer {i}\n".encode() * 1000 for i in range(16)]

    def run(i: int) -> None:
        barrier.wait()
        try:
            for _ in range(10):
                with writer.atomic_write(target, fsync=False) as handle:
                    handle.write(payloads[i])
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() in payloads
    assert temps_under(tmp_path) == []
