"""write_blob, one caller at a time: sources, layout, verification, repair, hygiene."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ocirace import writer

from .conftest import Blob, make_blob, temps_under

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def chunked(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


SOURCES = {
    "bytes": lambda b: b.data,
    "bytearray": lambda b: bytearray(b.data),
    "memoryview": lambda b: memoryview(b.data),
    "bytesio": lambda b: io.BytesIO(b.data),
    "generator": lambda b: chunked(b.data),
    "list-of-mixed-chunks": lambda b: [
        b.data[:10],
        bytearray(b.data[10:20]),
        memoryview(b.data[20:]),
    ],
    "callable-generator": lambda b: lambda: chunked(b.data, 7),
}


@pytest.mark.parametrize("source", SOURCES.values(), ids=list(SOURCES))
def test_every_source_kind_stores_the_exact_bytes(tmp_path: Path, blob: Blob, source) -> None:  # type: ignore[no-untyped-def]
    path = writer.write_blob(tmp_path, blob.text, source(blob))
    assert path == writer.blob_path(tmp_path, blob.text)
    assert path.read_bytes() == blob.data
    assert temps_under(tmp_path) == []


def test_real_binary_file_source_and_callable_source_is_closed(tmp_path: Path, blob: Blob) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(blob.data)
    with source.open("rb") as handle:
        writer.write_blob(tmp_path / "a", blob.digest, handle)
    opened: list[io.BufferedReader] = []

    def open_source() -> io.BufferedReader:
        opened.append(source.open("rb"))
        return opened[-1]

    path = writer.write_blob(tmp_path / "b", blob.digest, open_source)
    assert path.read_bytes() == blob.data
    assert len(opened) == 1
    assert opened[0].closed


def test_file_object_is_read_in_bounded_chunks(tmp_path: Path) -> None:
    big = make_blob(3 * 1024 * 1024 + 5)

    class NoReadAll(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            assert size is not None, "read() without a size would slurp the file"
            assert 0 < size <= 1 << 20, f"read({size}) would slurp the file"
            return super().read(size)

    path = writer.write_blob(tmp_path, big.digest, NoReadAll(big.data))
    assert path.read_bytes() == big.data


def test_creates_a_valid_oci_layout(tmp_path: Path, blob: Blob) -> None:
    root = tmp_path / "deep" / "layout"
    writer.write_blob(root, blob.digest, blob.data)
    assert json.loads((root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((root / "index.json").read_text())
    assert index["schemaVersion"] == 2
    assert index["manifests"] == []
    assert sorted(p.name for p in root.iterdir()) == ["blobs", "index.json", "oci-layout"]


def test_never_clobbers_existing_layout_files(tmp_path: Path, blob: Blob) -> None:
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0", "mine": true}')
    (tmp_path / "index.json").write_text('{"schemaVersion": 2, "manifests": [{"x": 1}]}')
    writer.write_blob(tmp_path, blob.digest, blob.data)
    writer.init_layout(tmp_path)
    assert "mine" in (tmp_path / "oci-layout").read_text()
    assert '"x": 1' in (tmp_path / "index.json").read_text()


def test_init_layout_alone(tmp_path: Path) -> None:
    assert writer.init_layout(tmp_path / "l") == tmp_path / "l"
    assert (tmp_path / "l" / "blobs").is_dir()
    assert (tmp_path / "l" / "index.json").is_file()


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_both_registered_algorithms(tmp_path: Path, algorithm: str) -> None:
    blob = make_blob(100, algorithm=algorithm)
    path = writer.write_blob(tmp_path, blob.text, blob.data)
    assert path.parent.name == algorithm
    assert path.read_bytes() == blob.data


def test_empty_blob(tmp_path: Path) -> None:
    assert writer.write_blob(tmp_path, EMPTY, b"").read_bytes() == b""
    assert writer.write_blob(tmp_path, EMPTY, iter([])).stat().st_size == 0


def test_digest_mismatch_publishes_nothing(tmp_path: Path, blob: Blob) -> None:
    wrong = make_blob(3000, seed=99)
    with pytest.raises(writer.DigestMismatchError, match="nothing was published") as info:
        writer.write_blob(tmp_path, blob.digest, chunked(wrong.data))
    assert info.value.expected == blob.text
    assert info.value.actual == wrong.text
    assert not writer.blob_path(tmp_path, blob.digest).exists()
    assert temps_under(tmp_path) == []


def test_longer_than_declared_size_stops_before_writing_the_excess(tmp_path: Path) -> None:
    blob = make_blob(5000)
    pulled: list[int] = []

    def source() -> Iterator[bytes]:
        for chunk in chunked(blob.data):
            pulled.append(len(chunk))
            yield chunk

    with pytest.raises(writer.SizeMismatchError, match="longer than the declared size 2500"):
        writer.write_blob(tmp_path, blob.digest, source(), size=2500)
    assert sum(pulled) == 3000, "the stream must be abandoned at the first chunk past size"
    assert not writer.blob_path(tmp_path, blob.digest).exists()
    assert temps_under(tmp_path) == []


def test_shorter_than_declared_size(tmp_path: Path, blob: Blob) -> None:
    with pytest.raises(writer.SizeMismatchError) as info:
        writer.write_blob(tmp_path, blob.digest, blob.data, size=len(blob.data) + 1)
    assert isinstance(info.value, writer.DigestMismatchError)
    assert (info.value.expected_size, info.value.actual_size) == (3001, 3000)
    assert temps_under(tmp_path) == []


def test_failing_source_leaves_nothing(tmp_path: Path, blob: Blob) -> None:
    def source() -> Iterator[bytes]:
        yield blob.data[:100]
        raise ConnectionError("network went away")

    with pytest.raises(ConnectionError):
        writer.write_blob(tmp_path, blob.digest, source())
    assert not writer.blob_path(tmp_path, blob.digest).exists()
    assert temps_under(tmp_path) == []


def test_existing_blob_is_not_rewritten_and_data_not_read(tmp_path: Path, blob: Blob) -> None:
    path = writer.write_blob(tmp_path, blob.digest, blob.data)
    before = path.stat()

    def must_not_be_called() -> bytes:
        raise AssertionError("data fetched for a blob that already exists")

    assert writer.write_blob(tmp_path, blob.digest, must_not_be_called) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_verify_existing_repairs_a_same_size_corrupt_blob(tmp_path: Path, blob: Blob) -> None:
    path = writer.write_blob(tmp_path, blob.digest, blob.data)
    path.chmod(0o644)
    path.write_bytes(bytes(len(blob.data)))  # same size, wrong bytes
    # Without verification the size matches, so the blob is trusted (documented).
    writer.write_blob(tmp_path, blob.digest, blob.data)
    assert path.read_bytes() != blob.data
    writer.write_blob(tmp_path, blob.digest, blob.data, verify_existing=True)
    assert path.read_bytes() == blob.data
    assert temps_under(tmp_path) == []


def test_verify_existing_keeps_a_good_blob(tmp_path: Path, blob: Blob) -> None:
    path = writer.write_blob(tmp_path, blob.digest, blob.data)
    inode = path.stat().st_ino
    writer.write_blob(tmp_path, blob.digest, chunked(blob.data), verify_existing=True)
    assert path.stat().st_ino == inode


def test_truncated_blob_is_repaired_when_the_size_is_known(tmp_path: Path, blob: Blob) -> None:
    path = writer.blob_path(tmp_path, blob.digest)
    path.parent.mkdir(parents=True)
    path.write_bytes(blob.data[:10])  # what an in-place writer leaves after a crash
    writer.write_blob(tmp_path, blob.digest, blob.data)
    assert path.read_bytes() == blob.data
    path.write_bytes(blob.data[:10])
    writer.write_blob(tmp_path, blob.digest, chunked(blob.data), size=len(blob.data))
    assert path.read_bytes() == blob.data


def test_symlink_at_blob_path_is_replaced_by_a_real_file(tmp_path: Path, blob: Blob) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    path = writer.blob_path(tmp_path / "l", blob.digest)
    path.parent.mkdir(parents=True)
    path.symlink_to(outside)
    writer.write_blob(tmp_path / "l", blob.digest, blob.data)
    assert not path.is_symlink()
    assert path.read_bytes() == blob.data
    assert outside.read_bytes() == b"secret"


def test_directory_at_blob_path_is_a_clear_error(tmp_path: Path, blob: Blob) -> None:
    path = writer.blob_path(tmp_path, blob.digest)
    path.mkdir(parents=True)
    with pytest.raises(OSError, match="cannot publish blob") as info:
        writer.write_blob(tmp_path, blob.digest, blob.data)
    assert info.value.errno is not None
    assert temps_under(tmp_path) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("text", "blob data is str"),
        (42, "blob data is int"),
        (["ok", b"x"], None),
    ],
)
def test_unusable_data_is_rejected_clearly(
    tmp_path: Path, blob: Blob, data: object, message: str | None
) -> None:
    root = tmp_path / "l"
    with pytest.raises(TypeError, match=message or "chunk 0 of the blob data is str"):
        writer.write_blob(root, blob.digest, data)  # type: ignore[arg-type]
    assert temps_under(tmp_path) == []
    if message is not None:
        assert not root.exists(), "type errors are caught before touching the disk"


def test_text_mode_file_is_rejected(tmp_path: Path, blob: Blob) -> None:
    with pytest.raises(TypeError, match="binary mode"):
        writer.write_blob(tmp_path, blob.digest, io.StringIO("abc"))  # type: ignore[arg-type]
    assert temps_under(tmp_path) == []


@pytest.mark.parametrize("size", [-1, 1.5, True, "3"])
def test_bad_size_is_rejected(tmp_path: Path, blob: Blob, size: object) -> None:
    with pytest.raises(ValueError, match="size must be a non-negative int"):
        writer.write_blob(tmp_path, blob.digest, blob.data, size=size)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_bytes_root_is_rejected(tmp_path: Path, blob: Blob) -> None:
    with pytest.raises(TypeError, match="decode bytes paths"):
        writer.write_blob(os.fsencode(tmp_path), blob.digest, blob.data)  # type: ignore[arg-type]


def test_blob_mode_is_0644_minus_umask(tmp_path: Path, blob: Blob) -> None:
    old = os.umask(0o027)
    try:
        path = writer.write_blob(tmp_path, blob.digest, blob.data)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_temp_lives_next_to_the_target_outside_the_digest_grammar(tmp_path: Path) -> None:
    blob = make_blob(4000)
    seen: list[list[str]] = []
    blobs_dir = writer.blob_path(tmp_path, blob.digest).parent

    def source() -> Iterator[bytes]:
        yield blob.data[:2000]
        seen.append(os.listdir(blobs_dir))
        yield blob.data[2000:]

    writer.write_blob(tmp_path, blob.digest, source())
    (names,) = seen
    assert len(names) == 1
    (name,) = names
    assert writer.is_temp_name(name)
    assert name.startswith(".")
    assert name.endswith(".ocirace-tmp")
    assert str(os.getpid()) in name.split(".")
    with pytest.raises(writer.InvalidDigestError):
        writer.parse_digest(f"sha256:{name}")
    assert os.listdir(blobs_dir) == [blob.digest.encoded]


def test_layout_deleted_between_writes_is_recreated(tmp_path: Path) -> None:
    first, second, third = make_blob(10, seed=1), make_blob(10, seed=2), make_blob(10, seed=3)
    root = tmp_path / "layout"
    writer.write_blob(root, first.digest, first.data)
    shutil.rmtree(root)  # e.g. a cache cleaner ran while this process was alive
    assert writer.write_blob(root, second.digest, second.data).read_bytes() == second.data
    assert (root / "oci-layout").is_file()
    assert (root / "index.json").is_file()
    shutil.rmtree(root / "blobs" / "sha256")
    assert writer.write_blob(root, third.digest, third.data).read_bytes() == third.data


def test_relative_root_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: creating the layout walked up a relative root to "" and tried to mkdir("").
    monkeypatch.chdir(tmp_path)
    blob = make_blob(64, seed=7)
    path = writer.write_blob("layout", blob.digest, blob.data)
    assert path == Path("layout", "blobs", "sha256", blob.digest.encoded)
    assert (tmp_path / path).read_bytes() == blob.data
