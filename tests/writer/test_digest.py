"""Digest validation: everything hostile is rejected before the writer touches the disk."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_ocirace import writer

HEX64 = "0123456789abcdef" * 4
HEX128 = HEX64 * 2
GOOD256 = "sha256:" + HEX64
GOOD512 = "sha512:" + HEX128

# (crafted input, fragment the error message must contain)
CRAFTED: list[tuple[object, str]] = [
    ("sha256:../../../outside", "'.'"),
    ("sha256:..", "'.'"),
    ("sha256:" + HEX64[:32] + "/" + HEX64[:31], "'/'"),
    ("sha256:" + HEX64[:32] + "\\" + HEX64[:31], "'\\\\'"),
    ("sha256:/" + HEX64[:63], "'/'"),
    ("sha256:" + HEX64.upper(), "hex must be lowercase"),
    ("SHA256:" + HEX64, "algorithms are lowercase"),
    ("sha256:" + HEX64[:63], "has 63 hex characters; expected exactly 64"),
    ("sha256:" + HEX64 + "a", "has 65 hex characters"),
    (GOOD256 + "\n", "'\\n'"),
    (GOOD256 + " ", "' '"),
    (GOOD256[:-1] + "\x00", "'\\x00'"),
    ("sha256:" + "\uff11" * 64, "not a lowercase hex"),
    ("sha256:" + "0x" + HEX64[:62], "'x'"),
    ("sha256:" + "g" * 64, "'g'"),
    ("sha512:" + HEX64, "has 64 hex characters; expected exactly 128"),
    ("sha256:" + HEX128, "expected exactly 64"),
    ("md5:" + HEX64[:32], "'md5' is not supported"),
    ("blake3:" + HEX64, "'blake3' is not supported"),
    ("multihash+base58:QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "not supported"),
    ("con:nul", "'con' is not supported"),
    ("/etc/passwd", "has no ':'"),
    ("", "has no ':'"),
    (":" + HEX64, "empty algorithm"),
    ("sha256:", "empty hex part"),
    ("sha256::" + HEX64, "more than one ':'"),
    ("sha256:" + HEX64 + ":" + HEX64, "more than one ':'"),
    (" sha256:" + HEX64, "invalid algorithm"),
    ("sha256 :" + HEX64, "invalid algorithm"),
    ("sha-256:" + HEX64, "'sha-256' is not supported"),
    ("sha256:" + "a" * 100_000, "characters long"),
    ("C:\\blobs:" + HEX64, "more than one ':'"),
    ("C|blobs:" + HEX64, "invalid algorithm"),
    (b"sha256:" + HEX64.encode(), "must be a str, got bytes"),
    (None, "must be a str, got NoneType"),
    (256, "must be a str, got int"),
]

_watch = threading.local()


def _audit(event: str, args: tuple[object, ...]) -> None:
    events = getattr(_watch, "events", None)
    if events is not None and (event == "open" or event.startswith(("os.", "shutil."))):
        events.append(event)


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one is inert unless armed


@contextlib.contextmanager
def no_filesystem(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail on any filesystem call made by the code inside the block (this thread)."""
    events: list[str] = []

    def forbid(name: str) -> object:
        def call(*args: object, **kwargs: object) -> object:
            raise AssertionError(f"os.{name}{args} called before the digest was validated")

        return call

    with monkeypatch.context() as patch:
        for name in (
            "stat",
            "lstat",
            "open",
            "mkdir",
            "makedirs",
            "rename",
            "replace",
            "link",
            "unlink",
            "remove",
            "listdir",
            "scandir",
        ):
            if hasattr(os, name):
                patch.setattr(os, name, forbid(name))
        for name in ("exists", "lexists", "isdir", "isfile", "realpath"):
            patch.setattr(os.path, name, forbid("path." + name))
        _watch.events = events
        try:
            yield events
        finally:
            _watch.events = None


@pytest.mark.parametrize(("text", "fragment"), CRAFTED, ids=[repr(t)[:40] for t, _ in CRAFTED])
def test_crafted_digest_is_rejected_before_any_filesystem_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: object, fragment: str
) -> None:
    root = tmp_path / "layout"
    for call in (
        lambda: writer.write_blob(root, text, b"data"),  # type: ignore[arg-type]
        lambda: writer.blob_path(root, text),  # type: ignore[arg-type]
        lambda: writer.parse_digest(text),  # type: ignore[arg-type]
    ):
        with no_filesystem(monkeypatch) as events, pytest.raises(writer.InvalidDigestError) as info:
            call()
        assert events == []
        assert fragment in str(info.value)
        assert len(str(info.value)) < 400, "untrusted input must not flood the message"
        assert isinstance(info.value, ValueError)
    assert not root.exists()


def test_the_table_is_big_enough() -> None:
    assert len(CRAFTED) >= 20


@pytest.mark.parametrize("text", ["md5:" + HEX64[:32], "blake3:" + HEX64, "sha384:" + HEX128[:96]])
def test_grammatical_but_unknown_algorithm_says_unsupported(text: str) -> None:
    with pytest.raises(writer.UnsupportedAlgorithmError, match=r"not supported.*sha256 and sha512"):
        writer.parse_digest(text)


@pytest.mark.parametrize("text", [GOOD256, GOOD512])
def test_valid_digest_round_trips(text: str) -> None:
    digest = writer.parse_digest(text)
    assert str(digest) == text
    assert writer.parse_digest(digest) == digest
    assert digest.algorithm == text.split(":")[0]


def test_digest_of_matches_hashlib() -> None:
    assert str(writer.Digest.of(b"")) == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert writer.Digest.of(b"x", "sha512").algorithm == "sha512"
    with pytest.raises(writer.UnsupportedAlgorithmError):
        writer.Digest.of(b"x", "md5")


def test_constructing_a_digest_directly_validates_too(tmp_path: Path) -> None:
    with pytest.raises(writer.InvalidDigestError):
        writer.Digest("sha256", "../../etc/passwd")
    forged = writer.Digest("sha256", HEX64)
    object.__setattr__(forged, "encoded", "../../escape")  # bypass frozen on purpose
    with pytest.raises(writer.InvalidDigestError):
        writer.write_blob(tmp_path, forged, b"")
    assert list(tmp_path.iterdir()) == []


def test_blob_path_layout(tmp_path: Path) -> None:
    assert writer.blob_path(tmp_path, GOOD512) == tmp_path / "blobs" / "sha512" / HEX128
    assert not (tmp_path / "blobs").exists()


_CANONICAL = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
_NASTY = "/\\.:\x00\n \tAZ\uff10\u00e9%~*?"


def _mutated(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from([GOOD256, GOOD512]))
    position = draw(st.integers(0, len(base)))
    char = draw(st.sampled_from(_NASTY))
    replace = draw(st.booleans())
    return base[:position] + char + base[position + (1 if replace else 0) :]


mutated = st.composite(_mutated)().filter(lambda text: text not in (GOOD256, GOOD512))
candidates = st.one_of(
    st.from_regex(_CANONICAL, fullmatch=True),
    st.text(max_size=140),
    st.from_regex(r"[a-z0-9+._-]{1,10}:[a-zA-Z0-9=_./-]{0,130}", fullmatch=True),
    mutated,
)


@settings(max_examples=300, deadline=None)
@given(candidates)
def test_every_accepted_digest_maps_inside_root_blobs(text: str) -> None:
    root = Path("/srv/layout")
    try:
        digest = writer.parse_digest(text)
    except writer.InvalidDigestError:
        assert not _CANONICAL.fullmatch(text)
        return
    assert _CANONICAL.fullmatch(text), f"accepted a non-canonical digest {text!r}"
    path = writer.blob_path(root, digest)
    blobs = os.path.abspath(root / "blobs")
    resolved = os.path.normpath(os.path.abspath(path))
    assert os.path.commonpath([blobs, resolved]) == blobs
    assert Path(resolved).parent.parent == Path(blobs)
    assert Path(resolved).name == digest.encoded
    assert str(digest) == text


@settings(max_examples=200, deadline=None)
@given(mutated)
def test_any_single_character_corruption_is_rejected(text: str) -> None:
    with pytest.raises(writer.InvalidDigestError):
        writer.parse_digest(text)


def test_the_guard_itself_catches_filesystem_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Proves the table above can fail: a valid digest does reach the filesystem.
    with no_filesystem(monkeypatch), pytest.raises(AssertionError, match="called before"):
        writer.write_blob(tmp_path, GOOD256, b"data")
    with no_filesystem(monkeypatch) as events:
        open(os.devnull, "rb").close()
    assert events == ["open"]
