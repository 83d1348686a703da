"""Crashes and hostile disks: kill -9 mid-write, full disk, file-size limits, read-only roots."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem
from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace import writer

from .conftest import make_blob, temps_under

CHILD = Path(__file__).with_name("crash_child.py")
CHUNKS, CHUNK_SIZE = 48, 64 * 1024  # a 3 MiB blob


def expected_blob(seed: int) -> tuple[str, bytes]:
    rng = random.Random(seed)
    data = b"".join(rng.randbytes(CHUNK_SIZE) for _ in range(CHUNKS))
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def crash_once(
    root: Path, seed: int, kill_at: int, ack_last: bool, jitter: float, *mode: str
) -> None:
    """Run a writer in lock-step and SIGKILL it at chunk ``kill_at`` (``CHUNKS`` = done).

    The child waits for our ack before each chunk, so at chunk ``k`` it cannot be further
    than writing chunk ``k``; with ``ack_last`` it is let go and killed ``jitter`` seconds
    later, somewhere in writing, hashing, fsync or publishing.
    """
    digest, _ = expected_blob(seed)
    args = [sys.executable, str(CHILD), str(root), digest, str(seed), str(CHUNKS), str(CHUNK_SIZE)]
    args += mode
    child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdin is not None
        assert child.stdout is not None
        wanted = "done" if kill_at >= CHUNKS else f"chunk {kill_at}"
        for line in child.stdout:
            if line.strip() == wanted:
                break
            child.stdin.write("go\n")
            child.stdin.flush()
        else:
            pytest.fail(f"child exited early with {child.wait()}")
        if ack_last and kill_at < CHUNKS:
            child.stdin.write("go\n")
            child.stdin.flush()
            time.sleep(jitter)  # land at different instants of the write
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


def test_kill_9_at_random_points_leaves_nothing_or_the_whole_blob(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    master = random.randrange(1 << 30)
    rng = random.Random(master)
    # Spread over the whole write: early, mid-stream, around the last chunk (hash, fsync,
    # publish, directory fsync) and after completion; the child cannot outrun us (lock-step).
    points = [
        0,
        rng.randrange(1, CHUNKS - 2),
        rng.randrange(1, CHUNKS - 2),
        CHUNKS - 2,
        CHUNKS - 1,
        CHUNKS - 1,
        CHUNKS,
        rng.randrange(0, CHUNKS + 1),
    ]
    for run, point in enumerate(points):
        seed = master + run
        crash_once(root, seed, point, rng.random() < 0.7, rng.choice([0, 0.0005, 0.002, 0.005]))
        digest, data = expected_blob(seed)
        path = writer.blob_path(root, digest)
        context = f"master seed {master}, run {run}, killed after {point}"
        if path.exists():
            assert path.read_bytes() == data, f"corrupt blob at its content address ({context})"
        if point <= CHUNKS - 2:
            assert not path.exists(), f"published before the last chunk ({context})"
        if point >= CHUNKS:
            assert path.exists(), context
    leftovers = temps_under(root)
    assert len(leftovers) >= sum(1 for p in points if p <= CHUNKS - 2)
    # Sweeping removes exactly our temps, and only stale ones.
    blobs_dir = root / "blobs" / "sha256"
    (blobs_dir / ".not-ours.tmp").write_bytes(b"keep")
    (root / "notes.txt").write_bytes(b"keep")
    assert writer.sweep_temps(root, older_than=3600) == []
    removed = writer.sweep_temps(root, older_than=0)
    assert sorted(map(str, removed)) == leftovers
    assert temps_under(root) == []
    assert (blobs_dir / ".not-ours.tmp").exists()
    assert (root / "notes.txt").exists()
    # A later write of every blob succeeds.
    for run in range(len(points)):
        digest, data = expected_blob(master + run)
        assert writer.write_blob(root, digest, data).read_bytes() == data
    assert temps_under(root) == []


def test_the_harness_catches_an_in_place_writer(tmp_path: Path) -> None:
    # The control group: writing straight into the content address (no temp, no verify)
    # leaves torn blobs that the assertions above would reject.
    torn = 0
    for run, point in enumerate([3, CHUNKS // 2]):
        crash_once(tmp_path, run, point, False, 0, "inplace")
        digest, data = expected_blob(run)
        path = writer.blob_path(tmp_path, digest)
        torn += path.exists() and path.read_bytes() != data
    assert torn == 2


def test_sweep_keeps_young_temps_and_rejects_bad_input(tmp_path: Path) -> None:
    young = tmp_path / f".x.{os.getpid()}.0123456789ab.ocirace-tmp"
    old = tmp_path / "sub" / ".y.1.0123456789ab.ocirace-tmp"
    old.parent.mkdir()
    young.write_bytes(b"")
    old.write_bytes(b"")
    os.utime(old, (1, 1))
    assert writer.sweep_temps(tmp_path, older_than=60) == [old]
    assert young.exists()
    with pytest.raises(ValueError, match="older_than"):
        writer.sweep_temps(tmp_path, older_than=-1)
    with pytest.raises(NotADirectoryError):
        writer.sweep_temps(tmp_path / "missing")


def test_full_disk_gives_enospc_and_leaves_nothing(fs: FakeFilesystem) -> None:
    fs.create_dir("/layout")
    writer.init_layout("/layout")
    fs.set_disk_usage(1_000_000)
    big, small = make_blob(2_000_000, seed=1), make_blob(1000, seed=2)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big.data), 100_000):
            yield big.data[start : start + 100_000]

    with pytest.raises(OSError, match="nothing was published") as info:
        writer.write_blob("/layout", big.digest, chunks())
    assert info.value.errno == errno.ENOSPC
    assert not os.path.exists(writer.blob_path("/layout", big.digest))
    assert temps_under(Path("/layout")) == []
    # Space is not leaked: a blob that fits still goes through.
    assert writer.write_blob("/layout", small.digest, small.data).read_bytes() == small.data


def test_full_disk_during_atomic_write_keeps_the_old_file(fs: FakeFilesystem) -> None:
    fs.create_file("/data/state", contents=b"old")
    fs.set_disk_usage(100_000)

    def write() -> None:
        with writer.atomic_write("/data/state") as handle:
            handle.write(b"x" * 200_000)

    with pytest.raises(OSError) as info:  # noqa: PT011 - the errno is the assertion
        write()
    assert info.value.errno == errno.ENOSPC
    assert Path("/data/state").read_bytes() == b"old"
    assert os.listdir("/data") == ["state"]


def test_file_size_limit_gives_efbig_in_a_real_process(tmp_path: Path) -> None:
    def limit() -> None:
        resource.setrlimit(
            resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1])
        )
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    blob = make_blob(3 << 20, seed=5)
    code = (
        "import sys, errno\n"
        "from pytest_ocirace.writer import write_blob\n"
        "data = open(sys.argv[2], 'rb').read()\n"
        "try:\n"
        "    write_blob(sys.argv[1], sys.argv[3], iter([data[:1<<19], data[1<<19:]]))\n"
        "except OSError as exc:\n"
        "    print(errno.errorcode[exc.errno], exc)\n"
    )
    source = tmp_path / "source.bin"
    source.write_bytes(blob.data)
    root = tmp_path / "layout"
    result = subprocess.run(
        [sys.executable, "-c", code, str(root), str(source), blob.text],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.startswith("EFBIG "), result.stdout + result.stderr
    assert "cannot write blob" in result.stdout
    assert "nothing was published" in result.stdout
    assert not writer.blob_path(root, blob.digest).exists()
    assert temps_under(root) == []


def test_read_only_root_is_a_clear_permission_error() -> None:
    blob = make_blob(100)
    with Patcher(allow_root_user=False) as patcher:
        patcher.fs.create_dir("/ro", perm_bits=0o555)
        with pytest.raises(PermissionError, match="cannot prepare the OCI layout at '/ro'") as info:
            writer.write_blob("/ro", blob.digest, blob.data)
        assert info.value.errno == errno.EACCES
        assert os.listdir("/ro") == []
        patcher.fs.create_dir("/layout")
        writer.init_layout("/layout")
        os.chmod("/layout/blobs", 0o555)
        with pytest.raises(PermissionError, match="cannot"):
            writer.write_blob("/layout", blob.digest, blob.data)
        assert temps_under(Path("/layout")) == []


def test_read_only_filesystem_keeps_erofs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer.init_layout(tmp_path)
    (tmp_path / "blobs" / "sha256").mkdir()
    real_open = os.open

    def read_only(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", read_only)
    blob = make_blob(10)
    with pytest.raises(OSError, match="cannot create a temp file") as info:
        writer.write_blob(tmp_path, blob.digest, blob.data)
    assert info.value.errno == errno.EROFS


def test_fsync_failure_is_not_retried_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer.init_layout(tmp_path)
    (tmp_path / "blobs" / "sha256").mkdir()
    calls: list[int] = []

    def broken_fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", broken_fsync)
    blob = make_blob(1000)
    with pytest.raises(OSError, match="nothing was published") as info:
        writer.write_blob(tmp_path, blob.digest, blob.data)
    assert info.value.errno == errno.EIO
    assert len(calls) == 1
    assert not writer.blob_path(tmp_path, blob.digest).exists()
    assert temps_under(tmp_path) == []
