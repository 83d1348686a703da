"""The reference safe writer: publish files so that concurrent writers and crashes are harmless.

Why this module exists: "write a temp file, then ``os.replace`` it onto the target" is atomic
on POSIX but not on Windows. There, two writers replacing one target at once make the loser
fail with ``PermissionError: [WinError 5] Access is denied``, and readers, antivirus scanners
and indexers holding the target cause the same error (see go-containerregistry #1920, pip,
conda, zarr). This module is what production code calls instead:

* :func:`write_blob` stores content-addressed blobs in an OCI image layout. Blobs are
  immutable, so it never replaces an existing one: it publishes with a no-clobber primitive
  (``os.link`` on POSIX, ``os.rename`` on Windows) and treats "someone else already published
  it" as success. That removes the Windows replace race for blobs instead of retrying it.
* :func:`atomic_write` and :func:`publish` cover mutable files (``index.json``, caches), where
  a replace is unavoidable: they close before renaming and retry Windows' transient sharing
  errors (winerror 5, 32, 33 only) with a bounded, jittered backoff.

The module uses only the standard library and is one file: it is the ``ocirace-writer``
distribution (``import ocirace_writer``), re-exported by ``pytest_ocirace``, and ``ocirace vendor``
copies it verbatim into projects that take no dependency. Every copy carries the declared seam
``__ocirace_writer_seam__`` (see the end of the module), through which pytest-ocirace's Windows
simulation switches it to its Windows code paths and clears its per-process caches. Tests
exercise the Windows code paths on any OS by setting the module-level ``_WINDOWS`` flag and
injecting a :class:`RetryPolicy` with a fake clock.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import random
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    BinaryIO,
    Literal,
    NoReturn,
    TextIO,
    Union,
    cast,
    overload,
)

if TYPE_CHECKING:
    from typing import Protocol

    class _Hasher(Protocol):
        def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

        def hexdigest(self) -> str: ...


__all__ = [
    "BlobSource",
    "Digest",
    "DigestMismatchError",
    "InvalidDigestError",
    "PublishTimeoutError",
    "RetryPolicy",
    "SizeMismatchError",
    "UnsupportedAlgorithmError",
    "atomic_write",
    "blob_path",
    "init_layout",
    "is_temp_name",
    "parse_digest",
    "publish",
    "sweep_temps",
    "write_blob",
]

#: The one place the version is written: pytest-ocirace's version and its pin on this
#: distribution are read from here, and ``ocirace vendor`` stamps it into the copies it writes.
__version__ = "0.1.0"

_log = logging.getLogger(__name__)

#: Whether to use the Windows code paths (no-clobber ``os.rename``, retries, no directory
#: fsync). A module global rather than a parameter so tests can flip it with monkeypatch.
_WINDOWS = os.name == "nt"

#: Win32 errors that mean "someone else has the file open right now": access denied (5, also
#: what a replace onto a busy or delete-pending target reports), sharing violation (32) and
#: lock violation (33). Everything else is either permanent or not ours to second-guess.
_TRANSIENT_WINERRORS = frozenset({5, 32, 33})

#: Read size for file-object sources and for verification: large enough to amortise the
#: syscall and hashing overhead, small enough that memory use does not grow with blob size.
_CHUNK = 1 << 20

_StrPath = Union[str, "os.PathLike[str]"]
#: What :func:`write_blob` accepts as content.
BlobSource = (
    bytes
    | bytearray
    | memoryview
    | BinaryIO
    | Iterable[bytes | bytearray | memoryview]
    | Callable[[], Any]
)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class InvalidDigestError(ValueError):
    """The digest text is not a digest this writer can safely turn into a path.

    Raised before any filesystem access, so hostile input (``sha256:../../x``) never reaches
    ``open`` or ``mkdir``.
    """


class UnsupportedAlgorithmError(InvalidDigestError):
    """The digest is grammatical but uses an algorithm the writer cannot verify.

    The OCI spec lets readers accept unknown algorithms, but a writer that promises verified
    content cannot store bytes under a hash it cannot compute.
    """


class DigestMismatchError(ValueError):
    """The content does not hash to the digest it was stored under; nothing was published."""

    def __init__(self, message: str, *, expected: str, actual: str | None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class SizeMismatchError(DigestMismatchError):
    """The content is longer or shorter than the declared size; nothing was published.

    A subclass of :class:`DigestMismatchError` because either way the bytes are not the blob
    the caller described, and callers usually handle both the same way.
    """

    def __init__(self, message: str, *, expected: str, expected_size: int, actual_size: int):
        super().__init__(message, expected=expected, actual=None)
        self.expected_size = expected_size
        self.actual_size = actual_size


class PublishTimeoutError(PermissionError):
    """A Windows rename kept failing with a sharing error for the whole retry budget.

    It is a ``PermissionError`` with the last ``winerror`` preserved, so code that already
    handles the raw Windows error keeps working; the message names the paths and the fix.
    """


# --------------------------------------------------------------------------------------------
# Digests
# --------------------------------------------------------------------------------------------

_ALGORITHMS: dict[str, tuple[int, Callable[[], _Hasher]]] = {
    "sha256": (64, hashlib.sha256),
    "sha512": (128, hashlib.sha512),
}
_ALGORITHM_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*", re.ASCII)
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)
_MAX_DIGEST_LENGTH = 256


def _show(text: str) -> str:
    """Quote untrusted text for an error message without letting it flood the message."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _example() -> str:
    return "'sha256:' followed by 64 lowercase hex characters"


def _validate(algorithm: object, encoded: object) -> None:
    if not isinstance(algorithm, str) or not isinstance(encoded, str):
        raise InvalidDigestError(
            "digest parts must be str, got "
            f"{type(algorithm).__name__} and {type(encoded).__name__}; expected {_example()}"
        )
    text = f"{algorithm}:{encoded}"
    if len(text) > _MAX_DIGEST_LENGTH:
        raise InvalidDigestError(
            f"digest is {len(text)} characters long, longer than any supported digest; "
            f"expected {_example()}"
        )
    if not algorithm:
        raise InvalidDigestError(
            f"digest {_show(text)} has an empty algorithm; expected {_example()}"
        )
    if not encoded:
        raise InvalidDigestError(
            f"digest {_show(text)} has an empty hex part; expected {_example()}"
        )
    if not _ALGORITHM_RE.fullmatch(algorithm):
        hint = " (algorithms are lowercase)" if algorithm.lower() in _ALGORITHMS else ""
        raise InvalidDigestError(
            f"digest {_show(text)} has an invalid algorithm {_show(algorithm)}{hint}; "
            f"expected {_example()}"
        )
    spec = _ALGORITHMS.get(algorithm)
    if spec is None:
        raise UnsupportedAlgorithmError(
            f"digest algorithm {_show(algorithm)} is not supported: the writer must verify "
            f"content and can only hash {' and '.join(sorted(_ALGORITHMS))}; "
            f"expected {_example()}"
        )
    length = spec[0]
    if not _LOWER_HEX_RE.fullmatch(encoded):
        bad = next((c for c in encoded if c not in "0123456789abcdef"), "?")
        hint = " (hex must be lowercase)" if bad in "ABCDEF" else ""
        raise InvalidDigestError(
            f"digest {_show(text)} contains {bad!r}, which is not a lowercase hex "
            f"character{hint}; expected '{algorithm}:' followed by {length} characters "
            "from 0-9a-f"
        )
    if len(encoded) != length:
        raise InvalidDigestError(
            f"{algorithm} digest {_show(text)} has {len(encoded)} hex characters; "
            f"expected exactly {length}"
        )


@dataclass(frozen=True)
class Digest:
    """A validated OCI digest (``algorithm:encoded``) that is safe to use as a path.

    Construction validates, so a ``Digest`` can only hold a registered algorithm with the
    right amount of lowercase hex: it cannot contain separators, dots, NUL or upper case.
    """

    algorithm: str
    encoded: str

    def __post_init__(self) -> None:
        _validate(self.algorithm, self.encoded)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview, algorithm: str = "sha256") -> Digest:
        """Compute the digest of in-memory ``data`` (handy for callers and tests)."""
        spec = _ALGORITHMS.get(algorithm)
        if spec is None:
            raise UnsupportedAlgorithmError(
                f"algorithm {_show(str(algorithm))} is not supported; use "
                f"{' or '.join(sorted(_ALGORITHMS))}"
            )
        hasher = spec[1]()
        hasher.update(data)
        return cls(algorithm, hasher.hexdigest())

    def _hasher(self) -> _Hasher:
        return _ALGORITHMS[self.algorithm][1]()


def parse_digest(text: str | Digest) -> Digest:
    """Parse ``text`` with the OCI digest grammar, accepting only sha256 and sha512.

    Anchored, ASCII-only checks (never ``re.match`` with ``$``, ``int(x, 16)`` or
    ``bytes.fromhex``, which accept newlines, underscores, full-width digits or upper case),
    because the result becomes a file name.
    """
    if isinstance(text, Digest):
        return Digest(text.algorithm, text.encoded)
    if not isinstance(text, str):
        raise InvalidDigestError(
            f"digest must be a str, got {type(text).__name__}; expected {_example()}"
        )
    if len(text) > _MAX_DIGEST_LENGTH:
        raise InvalidDigestError(
            f"digest is {len(text)} characters long, longer than any supported digest; "
            f"expected {_example()}"
        )
    algorithm, sep, encoded = text.partition(":")
    if not sep:
        raise InvalidDigestError(
            f"digest {_show(text)} has no ':' between algorithm and hex; expected {_example()}"
        )
    if ":" in encoded:
        raise InvalidDigestError(
            f"digest {_show(text)} has more than one ':'; expected {_example()}"
        )
    return Digest(algorithm, encoded)


# --------------------------------------------------------------------------------------------
# Retrying Windows sharing errors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep retrying a rename that Windows refuses with a sharing error.

    Defaults follow Go's ``cmd/go/internal/robustio``: start at 1 ms, double with jitter (so
    competing processes do not retry in lock-step), cap each pause, give up after a 2 s
    budget. ``sleep``, ``clock`` and ``jitter`` are injectable so tests run in zero wall time.
    The policy only matters on Windows: on POSIX nothing is ever retried.
    """

    budget: float = 2.0
    first_delay: float = 0.001
    max_delay: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if not (self.budget >= 0 and self.first_delay > 0 and self.max_delay >= self.first_delay):
            raise ValueError(
                "RetryPolicy needs budget >= 0 and 0 < first_delay <= max_delay, got "
                f"budget={self.budget}, first_delay={self.first_delay}, "
                f"max_delay={self.max_delay}"
            )


_DEFAULT_RETRY = RetryPolicy()


def _is_transient(exc: OSError) -> bool:
    return (
        _WINDOWS
        and isinstance(exc, PermissionError)
        and getattr(exc, "winerror", None) in _TRANSIENT_WINERRORS
    )


def _retrying(
    operation: Callable[[], None],
    what: str,
    src: str,
    dst: str | None,
    policy: RetryPolicy,
    settled: Callable[[], bool],
) -> bool:
    """Run ``operation`` (``what``: a rename, open or remove), retrying transient Windows errors.

    ``settled`` is consulted after every transient failure: if it says the target is already
    what we wanted (another writer published it), we stop and return False - the git-lfs rule
    that a present, valid target is success. It may also raise to abort (e.g. the target is a
    directory, which no amount of waiting fixes). Returns True if ``operation`` succeeded.
    """
    start = policy.clock()
    delay = policy.first_delay
    attempts = 0
    while True:
        attempts += 1
        try:
            operation()
            return True
        except OSError as exc:
            if not _is_transient(exc):
                raise
            last = exc
        if settled():
            return False
        elapsed = policy.clock() - start
        if elapsed >= policy.budget:
            winerror = getattr(last, "winerror", None)
            timeout = PublishTimeoutError(
                errno.EACCES,
                f"{what} still failing after {attempts} attempts over {elapsed:.2f}s with "
                f"[WinError {winerror}] {last.strerror}; another process (a reader, an "
                "antivirus scanner or an indexer) holds one of the files open - close it, or "
                "pass retry=RetryPolicy(budget=...) to wait longer",
                src,
                None,
                dst,
            )
            timeout.winerror = winerror  # type: ignore[attr-defined]
            raise timeout from last
        pause = min(delay, policy.budget - elapsed) * (0.5 + 0.5 * policy.jitter())
        _log.debug("retrying rename %r -> %r after %s in %.4fs", src, dst, last, pause)
        policy.sleep(pause)
        delay = min(delay * 2, policy.max_delay)


def _never_settled() -> bool:
    return False


def _replace(src: str, dst: str, policy: RetryPolicy) -> None:
    """``os.replace`` that survives Windows' transient sharing errors (last writer wins)."""

    def settled() -> bool:
        if os.path.isdir(dst):
            raise IsADirectoryError(
                errno.EISDIR, f"cannot replace directory {dst!r} with file {src!r}", dst
            )
        return False

    _retrying(lambda: os.replace(src, dst), "rename", src, dst, policy, settled)


#: errno values meaning "this filesystem cannot make hard links" (FAT, some SMB/FUSE mounts).
_NO_HARDLINK_ERRNOS = frozenset(
    e
    for e in (
        errno.EPERM,
        errno.EMLINK,
        errno.ENOSYS,
        getattr(errno, "ENOTSUP", None),
        getattr(errno, "EOPNOTSUPP", None),
    )
    if e is not None
)


def _publish_absent(src: str, dst: str, policy: RetryPolicy, settled: Callable[[], bool]) -> bool:
    """Move ``src`` to ``dst`` only if ``dst`` does not exist; True if we published.

    On False, ``src`` is still in place (the caller decides whether the existing ``dst`` is
    acceptable). Windows: ``os.rename`` never replaces. POSIX: ``os.link`` fails with EEXIST
    if the name exists; on filesystems without hard links we fall back to check-then-rename,
    whose tiny window can only replace a file that appeared in between.
    """
    if _WINDOWS:
        try:
            return _retrying(lambda: os.rename(src, dst), "rename", src, dst, policy, settled)
        except FileExistsError:
            return False
    try:
        os.link(src, dst)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_HARDLINK_ERRNOS:
            raise
        if os.path.lexists(dst):
            return False
        os.rename(src, dst)
        return True
    _remove_quietly(src, policy)
    return True


# --------------------------------------------------------------------------------------------
# Temp files, writing, syncing
# --------------------------------------------------------------------------------------------

_TEMP_SUFFIX = ".ocirace-tmp"
#: Our temp names: a leading dot (outside the OCI digest grammar, hidden from strict layout
#: walkers), up to 32 characters of the target's name for humans, the writer's pid and 48
#: random bits (unique per writer), and a suffix nobody else uses (so sweeping is safe).
_TEMP_RE = re.compile(r"\.(?s:.{0,32})\.[0-9]+\.[0-9a-f]{12}" + re.escape(_TEMP_SUFFIX))
_TEMP_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOINHERIT", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def is_temp_name(name: str) -> bool:
    """Whether ``name`` (a file name, not a path) is a temp file this module creates."""
    return _TEMP_RE.fullmatch(name) is not None


def _create_temp(directory: str, stem: str) -> tuple[int, str]:
    """Create a new, exclusively owned temp file next to its target; return (fd, path).

    ``O_EXCL`` and mode 0o644 (so the kernel applies the umask atomically and published
    files are readable like any other file, unlike ``mkstemp``'s 0600).
    """
    stem = stem[:32]
    last: OSError | None = None
    for _ in range(100):
        name = f".{stem}.{os.getpid()}.{random.getrandbits(48):012x}{_TEMP_SUFFIX}"
        path = os.path.join(directory, name)
        try:
            return os.open(path, _TEMP_FLAGS, 0o644), path
        except FileExistsError as exc:
            last = exc
        except PermissionError as exc:
            # Windows reports a delete-pending name as access denied; like tempfile, try
            # another name - but only while the directory itself is fine.
            if not (_is_transient(exc) and os.path.isdir(directory)):
                raise
            last = exc
    assert last is not None
    raise last


def _open_read(path: str, policy: RetryPolicy) -> io.BufferedReader:
    """``open(path, "rb")`` that waits out a Windows sharing violation (e.g. mid-rename)."""
    opened: list[io.BufferedReader] = []

    def attempt() -> None:
        opened.append(open(path, "rb"))  # noqa: SIM115 - the caller closes it

    _retrying(attempt, "open", path, None, policy, _never_settled)
    return opened[0]


def _remove_quietly(path: str, policy: RetryPolicy = _DEFAULT_RETRY) -> None:
    """Best-effort removal of our temp; whatever survives is for :func:`sweep_temps`."""
    with contextlib.suppress(OSError):
        _retrying(lambda: os.unlink(path), "remove", path, None, policy, _never_settled)


def _reraise(exc: OSError, context: str) -> NoReturn:
    """Re-raise ``exc`` with a message saying what we were doing; errno/winerror are kept.

    Errors that already say what happened (ours, or a retry timeout) pass through as they
    are, so nested operations do not stack prefixes.
    """
    if isinstance(exc, PublishTimeoutError) or getattr(exc, "_ocirace_explained", False):
        raise exc
    new = OSError(exc.errno, f"{context}: {exc.strerror or exc}", exc.filename, None, exc.filename2)
    winerror = getattr(exc, "winerror", None)
    if winerror is not None:
        new.winerror = winerror  # type: ignore[attr-defined]
    new._ocirace_explained = True  # type: ignore[attr-defined]
    raise new from exc


def _write_all(fd: int, chunk: memoryview) -> None:
    while chunk:
        written = os.write(fd, chunk)
        chunk = chunk[written:]


def _fsync_dir(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX only; Windows cannot fsync directories)."""
    if _WINDOWS:
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems (and some network mounts) reject fsync on directories.
        if exc.errno not in (errno.EINVAL, getattr(errno, "ENOTSUP", errno.EINVAL)):
            raise
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    flags = (os.O_RDWR if _WINDOWS else os.O_RDONLY) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs(path: str, fsync: bool) -> None:
    """``os.makedirs(exist_ok=True)`` that also makes new directory entries durable."""
    missing: list[str] = []
    current = path
    # ``current`` becomes "" when a relative path runs out of parents: the working directory
    # exists, so stop there rather than trying to create "".
    while current and not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise NotADirectoryError(
                    errno.ENOTDIR,
                    f"{directory!r} exists but is not a directory; move it away",
                    directory,
                ) from None
            continue
        if fsync:
            _fsync_dir(os.path.dirname(directory) or ".")


# --------------------------------------------------------------------------------------------
# The OCI layout
# --------------------------------------------------------------------------------------------

_OCI_LAYOUT = b'{"imageLayoutVersion": "1.0.0"}\n'
_EMPTY_INDEX = (
    json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [],
        },
        indent=2,
    ).encode()
    + b"\n"
)


def _root_text(root: _StrPath) -> str:
    text = os.fspath(root)
    if not isinstance(text, str):
        raise TypeError(
            f"root must be a str or os.PathLike[str], got {type(text).__name__}; "
            "decode bytes paths first"
        )
    if not text:
        raise ValueError("root must not be empty; pass '.' for the current directory")
    return text


def blob_path(root: _StrPath, digest: str | Digest) -> Path:
    """Where the blob ``digest`` lives under ``root`` (validation only; touches no files)."""
    parsed = parse_digest(digest)
    return Path(_root_text(root), "blobs", parsed.algorithm, parsed.encoded)


def _create_if_absent(path: str, content: bytes, fsync: bool, policy: RetryPolicy) -> None:
    """Publish a small file only if nothing is at ``path`` yet; an existing one is kept."""
    if os.path.lexists(path):
        return
    directory, name = os.path.split(path)
    fd, tmp = _create_temp(directory, name)
    published = False
    try:
        try:
            _write_all(fd, memoryview(content))
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        published = _publish_absent(tmp, path, policy, lambda: os.path.lexists(path))
    finally:
        if not published:
            _remove_quietly(tmp, policy)
    if published and fsync:
        _fsync_dir(directory)


def init_layout(root: _StrPath, *, fsync: bool = True, retry: RetryPolicy | None = None) -> Path:
    """Create an OCI image layout at ``root``: ``blobs/``, ``oci-layout`` and ``index.json``.

    The spec says both files MUST exist. Each is published only if absent, so an existing
    layout (with a real ``index.json``) is never clobbered and concurrent callers all succeed.
    Idempotent; :func:`write_blob` calls it before storing a new blob.
    """
    text = _root_text(root)
    policy = _DEFAULT_RETRY if retry is None else retry
    _ensure_layout(text, os.path.join(text, "blobs"), fsync, policy)
    return Path(text)


def _ensure_layout(root: str, directory: str, fsync: bool, policy: RetryPolicy) -> None:
    try:
        if not os.path.isdir(directory):
            _makedirs(directory, fsync)
        _create_if_absent(os.path.join(root, "oci-layout"), _OCI_LAYOUT, fsync, policy)
        _create_if_absent(os.path.join(root, "index.json"), _EMPTY_INDEX, fsync, policy)
    except OSError as exc:
        _reraise(exc, f"cannot prepare the OCI layout at {root!r}")


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def _as_view(chunk: object, index: int) -> memoryview:
    if isinstance(chunk, str):
        raise TypeError(
            f"chunk {index} of the blob data is str; blob data must be bytes - encode it "
            "(e.g. text.encode('utf-8')) or open files in binary mode ('rb')"
        )
    try:
        view = memoryview(chunk)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"chunk {index} of the blob data is {type(chunk).__name__}, not bytes-like"
        ) from None
    if view.ndim != 1 or view.format not in ("B", "b", "c"):
        view = view.cast("B")
    return view


def _check_data(data: object) -> None:
    """Reject unusable data before any filesystem access, with a message naming the fix."""
    if isinstance(data, str):
        raise TypeError(
            "blob data is str; it must be bytes, a binary file object or an iterable of bytes "
            "chunks - encode it first (e.g. text.encode('utf-8'))"
        )
    if isinstance(data, (bytes, bytearray, memoryview)) or hasattr(data, "read"):
        return
    if callable(data) or hasattr(data, "__iter__"):
        return
    raise TypeError(
        f"blob data is {type(data).__name__}; expected bytes, a binary file object, an "
        "iterable of bytes chunks, or a zero-argument callable returning one of those"
    )


def _known_size(data: object) -> int | None:
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, memoryview):
        return data.nbytes
    return None


def _chunks(data: object) -> Iterator[memoryview]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield _as_view(data, 0)
        return
    read = getattr(data, "read", None)
    if read is not None:
        index = 0
        while True:
            chunk = read(_CHUNK)
            if not chunk:  # b"" at EOF; None from a non-blocking raw stream with no data
                if chunk is None:
                    raise TypeError(
                        "the blob data file object is non-blocking; pass a blocking one"
                    )
                if isinstance(chunk, str):
                    raise TypeError(
                        "the blob data file object is in text mode; open it in binary mode ('rb')"
                    )
                return
            yield _as_view(chunk, index)
            index += 1
    for index, chunk in enumerate(cast("Iterable[object]", data)):
        yield _as_view(chunk, index)


# --------------------------------------------------------------------------------------------
# Single-flight: identical concurrent writes in one process are written once
# --------------------------------------------------------------------------------------------

_flights_lock = threading.Lock()


class _Flight:
    """One in-process write of one blob; followers wait on ``done``.

    An ``Event`` rather than a lock to wait on: setting an event and waiting for it is
    ordering (happens-before) in any model of threads, including pytest-ocirace's race model,
    whereas a lock only says two things did not overlap. A follower that waits here is
    provably after the leader's publish, so its re-check is not a check-then-act race.
    """

    __slots__ = ("done", "landed")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.landed = False


#: (root, digest) -> the write in progress.
_flights: dict[tuple[str, str], _Flight] = {}
#: (root, digest) -> recently completed writes, oldest first, at most ``_LANDED_MAX``.
#: A caller whose fast-path check missed (in a race model's schedule, or because it looked
#: a hair too early) is handed the landed flight by :func:`_join_flight`, waits on its
#: finished event (free: it is set) and re-checks, ordered after the write that made the file.
_landed: dict[tuple[str, str], _Flight] = {}
_LANDED_MAX = 1024
#: Roots whose layout files this process has already created or seen (saves three stats per
#: write; if the layout is deleted later, temp creation fails and the entry is dropped).
_layouts_ready: set[str] = set()


def _reset_flights_after_fork() -> None:
    # A forked child has copies of the parent's flights, possibly unfinished, but none of its
    # threads: waiting on them would hang forever, and the table lock may be mid-use.
    global _flights_lock, _flights, _landed
    _flights_lock = threading.Lock()
    _flights = {}
    _landed = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_flights_after_fork)


def _join_flight(key: tuple[str, str], stale: _Flight | None = None) -> tuple[_Flight, bool]:
    """Become the leader for ``key`` (True) or get a flight to wait on (False).

    The flight to wait on is the one in progress or, failing that, the one that last landed
    ``key``: a caller that missed the previous leader by a hair is still ordered after it.
    ``stale`` is a landed flight the caller already waited on and found its result gone
    (deleted or corrupted since): it is forgotten, so the caller can lead a new write.
    """
    with _flights_lock:
        flight = _flights.get(key)
        if flight is not None:
            return flight, False
        landed = _landed.get(key)
        if landed is not None:
            if landed is not stale:
                return landed, False
            del _landed[key]
        flight = _Flight()
        _flights[key] = flight
        return flight, True


def _leave_flight(key: tuple[str, str], flight: _Flight, landed: bool) -> None:
    with _flights_lock:
        if _flights.get(key) is flight:
            del _flights[key]
        if landed:
            flight.landed = True
            _landed.pop(key, None)
            _landed[key] = flight
            if len(_landed) > _LANDED_MAX:
                del _landed[next(iter(_landed))]
    flight.done.set()


# --------------------------------------------------------------------------------------------
# write_blob
# --------------------------------------------------------------------------------------------

_ABSENT, _OK, _CORRUPT = 0, 1, 2


def _hash_file(path: str, digest: Digest, policy: RetryPolicy) -> str | None:
    """Hex digest of the file at ``path``, or None if it vanished meanwhile."""
    hasher = digest._hasher()
    try:
        with _open_read(path, policy) as handle:
            buffer = bytearray(_CHUNK)
            view = memoryview(buffer)
            while True:
                count = handle.readinto(buffer)
                if not count:
                    break
                hasher.update(view[:count])
    except FileNotFoundError:
        return None
    return hasher.hexdigest()


def _inspect(target: str, size: int | None, verify: Digest | None, policy: RetryPolicy) -> int:
    """Classify what is at ``target``: absent, a good blob, or something to repair."""
    try:
        info = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return _ABSENT
    if not stat.S_ISREG(info.st_mode):
        return _CORRUPT
    if size is not None and info.st_size != size:
        return _CORRUPT
    if verify is not None:
        actual = _hash_file(target, verify, policy)
        if actual is None:
            return _ABSENT
        if actual != verify.encoded:
            return _CORRUPT
    return _OK


def _prepare_layout(root: str, directory: str, fsync: bool, policy: RetryPolicy) -> None:
    """:func:`_ensure_layout`, once per root at a time in this process (single-flight).

    Concurrent first writes into a new layout would otherwise all race to publish
    ``oci-layout`` and ``index.json``. That race is harmless (publish-if-absent), but it costs
    a temp file each and, unordered, it is exactly the check-then-act that a race detector
    must report; waiting on the first preparer's event makes the others provably after it.
    """
    # Blob keys pair the root with a digest, which always contains ":"; "oci-layout" does
    # not, so the two kinds of keys share one table without colliding.
    key = (os.path.normcase(os.path.abspath(root)), "oci-layout")
    while True:
        flight, leader = _join_flight(key)
        if not leader:
            flight.done.wait()
            if flight.landed:
                # Ordered after a preparation that succeeded: this sees its files and
                # creates nothing, unless the layout was deleted since.
                _ensure_layout(root, directory, fsync, policy)
                return
            continue  # the leader failed: try ourselves, and raise its error if it recurs
        landed_ok = False
        try:
            _ensure_layout(root, directory, fsync, policy)
            landed_ok = True
            return
        finally:
            _leave_flight(key, flight, landed_ok)


def _open_blob_temp(
    root: str, directory: str, digest: Digest, fsync: bool, policy: RetryPolicy
) -> tuple[int, str]:
    """Create the blob's temp file, preparing the layout first if this process has not yet.

    The layout check (three stats) is skipped for roots already prepared by this process;
    if the layout vanished since, temp creation fails with ENOENT and we prepare it again.
    """
    key = os.path.abspath(root)
    known = key in _layouts_ready
    if not known:
        _prepare_layout(root, directory, fsync, policy)
    try:
        try:
            fd_tmp = _create_temp(directory, digest.encoded)
        except FileNotFoundError:
            if not known:
                raise
            _layouts_ready.discard(key)
            _prepare_layout(root, directory, fsync, policy)
            fd_tmp = _create_temp(directory, digest.encoded)
    except OSError as exc:
        _reraise(exc, f"cannot create a temp file in {directory!r}")
    _layouts_ready.add(key)
    return fd_tmp


def _write_temp(
    fd: int, tmp: str, directory: str, digest: Digest, data: object, size: int | None, fsync: bool
) -> int:
    """Stream ``data`` into the temp file ``fd`` while hashing; return the size if verified.

    The temp is closed before returning (Windows cannot rename an open file) and removed on
    any failure, so a mismatch or a full disk leaves nothing behind. Errors raised by the
    source itself propagate unchanged; our own I/O errors get a message saying what failed.
    """
    where = f"cannot write blob {digest} in {directory!r} (nothing was published)"
    ok = False
    try:
        try:
            written = _stream(fd, digest, data, size, where)
            if fsync:
                try:
                    os.fsync(fd)
                except OSError as exc:
                    _reraise(exc, where)
        finally:
            try:
                os.close(fd)
            except OSError as exc:
                # close() can report a deferred write error (NFS, full disk): not durable.
                _reraise(exc, where)
        ok = True
    finally:
        if not ok:
            _remove_quietly(tmp)
    return written


def _stream(fd: int, digest: Digest, data: object, size: int | None, where: str) -> int:
    """Copy ``data`` to ``fd``, hashing on the way; raise unless it is exactly the blob."""
    owned = data
    written = 0
    try:
        if callable(data) and not hasattr(data, "read"):
            owned = data()
            _check_data(owned)
        hasher = digest._hasher()
        for view in _chunks(owned):
            if size is not None and written + view.nbytes > size:
                raise SizeMismatchError(
                    f"blob data for {digest} is longer than the declared size {size}; "
                    "nothing was published",
                    expected=str(digest),
                    expected_size=size,
                    actual_size=written + view.nbytes,
                )
            hasher.update(view)
            try:
                _write_all(fd, view)
            except OSError as exc:
                _reraise(exc, where)
            written += view.nbytes
    finally:
        if owned is not data:
            close = getattr(owned, "close", None)
            if close is not None:
                close()
    if size is not None and written != size:
        raise SizeMismatchError(
            f"blob data for {digest} is {written} bytes but the declared size is "
            f"{size}; nothing was published",
            expected=str(digest),
            expected_size=size,
            actual_size=written,
        )
    actual = hasher.hexdigest()
    if actual != digest.encoded:
        raise DigestMismatchError(
            f"blob data hashes to {digest.algorithm}:{actual}, not {digest}; nothing "
            "was published - check that the data and the digest belong together",
            expected=str(digest),
            actual=f"{digest.algorithm}:{actual}",
        )
    return written


def _store(
    root: str,
    directory: str,
    target: str,
    digest: Digest,
    data: object,
    size: int | None,
    fsync: bool,
    verify: Digest | None,
    repair: bool,
    policy: RetryPolicy,
) -> None:
    fd, tmp = _open_blob_temp(root, directory, digest, fsync, policy)
    written = _write_temp(fd, tmp, directory, digest, data, size, fsync)
    published = False
    try:
        try:
            if not repair:
                published = _publish_absent(
                    tmp, target, policy, lambda: _inspect(target, written, verify, policy) == _OK
                )
            if not published and (repair or _inspect(target, written, verify, policy) != _OK):
                # The target is corrupt (wrong size, wrong bytes, not a file): our verified
                # bytes replace it. This is the only case where a blob name is replaced.
                _replace(tmp, target, policy)
                published = True
        except OSError as exc:
            _reraise(exc, f"cannot publish blob {digest} at {target!r}")
    finally:
        if not published:
            _remove_quietly(tmp, policy)
    if published and fsync:
        _fsync_dir(directory)


def write_blob(
    root: _StrPath,
    digest: str | Digest,
    data: BlobSource,
    *,
    size: int | None = None,
    fsync: bool = True,
    verify_existing: bool = False,
    retry: RetryPolicy | None = None,
) -> Path:
    """Store a blob at ``root/blobs/<algorithm>/<hex>`` in an OCI image layout; return its path.

    ``data`` is bytes, a binary file object, an iterable of bytes chunks, or a zero-argument
    callable returning one of those (only called if the blob must actually be written, and
    closed afterwards if it has ``close``). It is streamed and hashed on the way to a temp
    file; the temp is published only if it matches ``digest`` (and ``size``, if given).

    If a regular file of the right size (when known) is already there, the call succeeds
    without reading ``data``; ``verify_existing=True`` re-hashes it and atomically repairs a
    corrupt one. Safe with any number of threads and processes writing the same or different
    blobs; identical concurrent calls in one process are written once.

    Raises :class:`InvalidDigestError` (before touching the filesystem),
    :class:`DigestMismatchError` / :class:`SizeMismatchError` (nothing published), or
    ``OSError`` with the original errno (full disk, read-only root, ...).
    """
    parsed = parse_digest(digest)
    _check_data(data)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ValueError(f"size must be a non-negative int or None, got {size!r}")
    root_text = _root_text(root)
    policy = _DEFAULT_RETRY if retry is None else retry
    expected = size if size is not None else _known_size(data)
    verify = parsed if verify_existing else None
    directory = os.path.join(root_text, "blobs", parsed.algorithm)
    target = os.path.join(directory, parsed.encoded)

    state = _inspect(target, expected, verify, policy)
    if state == _OK:
        return Path(target)
    # abspath, not realpath: no syscalls on the hot path. Two spellings of one root through
    # a symlink are then not deduplicated in-process - still correct, just written twice.
    key = (os.path.normcase(os.path.abspath(root_text)), str(parsed))
    stale: _Flight | None = None
    while True:
        flight, leader = _join_flight(key, stale)
        if not leader:
            # Someone in this process is writing (or has just written) the same blob: wait,
            # then look again. If the leader failed, or what it wrote is gone, the blob is
            # still absent and one of us becomes the next leader.
            flight.done.wait()
            state = _inspect(target, expected, verify, policy)
            if state == _OK:
                return Path(target)
            stale = flight if flight.landed else stale
            continue
        landed_ok = False
        try:
            state = _inspect(target, expected, verify, policy)
            if state != _OK:
                _store(
                    root_text,
                    directory,
                    target,
                    parsed,
                    data,
                    size,
                    fsync,
                    verify,
                    state == _CORRUPT,
                    policy,
                )
            landed_ok = True
            return Path(target)
        finally:
            _leave_flight(key, flight, landed_ok)


# --------------------------------------------------------------------------------------------
# atomic_write
# --------------------------------------------------------------------------------------------

_TEXT_MODES = ("w", "wt")
_BINARY_MODES = ("wb",)


@overload
def atomic_write(
    path: _StrPath,
    mode: Literal["wb"] = ...,
    *,
    fsync: bool = ...,
    retry: RetryPolicy | None = ...,
) -> AbstractContextManager[BinaryIO]: ...


@overload
def atomic_write(
    path: _StrPath,
    mode: Literal["w", "wt"],
    *,
    fsync: bool = ...,
    encoding: str | None = ...,
    errors: str | None = ...,
    newline: str | None = ...,
    retry: RetryPolicy | None = ...,
) -> AbstractContextManager[TextIO]: ...


def atomic_write(
    path: _StrPath,
    mode: str = "wb",
    *,
    fsync: bool = True,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    retry: RetryPolicy | None = None,
) -> AbstractContextManager[IO[Any]]:
    """Write a whole file so that readers see the old or the new content, never a mix.

    Yields a file object on a unique temp file in the target's directory. On a clean exit the
    temp is flushed, fsynced (``fsync=True``), closed and then renamed onto ``path`` with
    ``os.replace`` - retried on Windows' transient sharing errors, so concurrent writers
    never raise and the last one wins. On an exception the temp is removed and ``path`` is
    untouched. An existing target's permission bits are kept (POSIX); new files get
    0o644 minus the umask. ``mode`` is ``"wb"`` (default), ``"w"`` or ``"wt"``.
    """
    if mode not in _TEXT_MODES + _BINARY_MODES:
        raise ValueError(
            f"atomic_write mode must be 'wb', 'w' or 'wt', got {mode!r}; to append, read "
            "the old content and write all of it"
        )
    if mode in _BINARY_MODES and (encoding, errors, newline) != (None, None, None):
        raise ValueError("encoding, errors and newline are only valid with text modes 'w'/'wt'")
    text = os.fspath(path)
    if not isinstance(text, str) or not text:
        raise TypeError(f"path must be a non-empty str or os.PathLike[str], got {path!r}")
    policy = _DEFAULT_RETRY if retry is None else retry
    return _atomic_write(os.path.abspath(text), mode, fsync, encoding, errors, newline, policy)


@contextlib.contextmanager
def _atomic_write(
    target: str,
    mode: str,
    fsync: bool,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
    policy: RetryPolicy,
) -> Iterator[IO[Any]]:
    directory, name = os.path.split(target)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, "atomic_write target is a directory", target)
    try:
        fd, tmp = _create_temp(directory, name)
    except OSError as exc:
        hint = (
            " (the directory does not exist; create it first)"
            if not os.path.isdir(directory)
            else ""
        )
        _reraise(exc, f"cannot create a temp file for {target!r}{hint}")
    published = False
    handle: IO[Any] | None = None
    try:
        if not _WINDOWS and hasattr(os, "fchmod"):
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode))
        # Not a with-block: the handle must outlive the yield and is closed before publishing.
        handle = open(fd, mode, encoding=encoding, errors=errors, newline=newline)  # noqa: SIM115
        yield handle
        try:
            if handle.closed:
                if fsync:
                    _fsync_file(tmp)
            else:
                handle.flush()
                if fsync:
                    os.fsync(handle.fileno())
                handle.close()
            _replace(tmp, target, policy)
            published = True
        except OSError as exc:
            _reraise(exc, f"cannot write {target!r} (left unchanged)")
    finally:
        if not published:
            if handle is None:
                with contextlib.suppress(OSError):
                    os.close(fd)
            else:
                with contextlib.suppress(OSError, ValueError):
                    handle.close()
            _remove_quietly(tmp, policy)
    if fsync:
        _fsync_dir(directory)


# --------------------------------------------------------------------------------------------
# publish
# --------------------------------------------------------------------------------------------


def _same_content(a: str, b: str, policy: RetryPolicy) -> bool:
    """Whether ``a`` and ``b`` are regular files with identical bytes (False if one is gone)."""
    try:
        info_a, info_b = os.stat(a), os.stat(b)
    except FileNotFoundError:
        return False
    if not (stat.S_ISREG(info_a.st_mode) and stat.S_ISREG(info_b.st_mode)):
        return False
    if info_a.st_size != info_b.st_size:
        return False
    with _open_read(a, policy) as file_a, _open_read(b, policy) as file_b:
        while True:
            chunk = file_a.read(_CHUNK)
            if chunk != file_b.read(_CHUNK):
                return False
            if not chunk:
                return True


def publish(
    src: _StrPath,
    dst: _StrPath,
    *,
    overwrite: bool = True,
    fsync: bool = False,
    retry: RetryPolicy | None = None,
) -> bool:
    """The guarded replacement for a bare ``os.replace(src, dst)``; True if ``src`` was moved.

    ``overwrite=True``: ``os.replace`` retried on Windows' transient sharing errors (5, 32,
    33) with a bounded backoff, then :class:`PublishTimeoutError`. ``overwrite=False``:
    publish-if-absent. If ``dst`` already exists with identical bytes, that is success:
    ``src`` is removed and the result is False. If it exists with *different* bytes,
    ``FileExistsError`` is raised and both files are left as they are, so no data is lost.
    ``fsync=True`` also fsyncs ``src`` before and the directory after the rename; close
    ``src`` before calling (Windows cannot rename an open file).
    """
    source, target = os.fspath(src), os.fspath(dst)
    if not isinstance(source, str) or not isinstance(target, str):
        raise TypeError("publish takes str or os.PathLike[str] paths; decode bytes paths first")
    policy = _DEFAULT_RETRY if retry is None else retry
    if fsync:
        _fsync_file(source)
    if overwrite:
        _replace(source, target, policy)
    else:
        info = os.lstat(source)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(info, os.lstat(target)):
                return False  # src already is dst: nothing to move, nothing to remove

        def settled() -> bool:
            if not os.path.lexists(target):
                return False
            if _same_content(source, target, policy):
                return True
            raise _differs(source, target)

        if not _publish_absent(source, target, policy, settled):
            if not _same_content(source, target, policy):
                raise _differs(source, target)
            _remove_quietly(source, policy)
            return False
    if fsync:
        _fsync_dir(os.path.dirname(os.path.abspath(target)))
    return True


def _differs(source: str, target: str) -> FileExistsError:
    return FileExistsError(
        errno.EEXIST,
        f"{target!r} already exists with different content; {source!r} was kept - use "
        "overwrite=True to replace it, or decide which file to keep",
        target,
    )


# --------------------------------------------------------------------------------------------
# sweep_temps
# --------------------------------------------------------------------------------------------


def sweep_temps(root: _StrPath, *, older_than: float = 3600.0) -> list[Path]:
    """Remove this module's temp files under ``root`` not modified for ``older_than`` seconds.

    A crash (kill -9, power loss) can leave temps behind. They are harmless - they never
    carry a target's name - but take space. Only names matching :func:`is_temp_name` are
    touched; the age threshold protects writes still in progress (a temp's mtime advances
    while it is written). Returns the removed paths.
    """
    text = _root_text(root)
    if isinstance(older_than, bool) or not isinstance(older_than, (int, float)) or older_than < 0:
        raise ValueError(f"older_than must be a non-negative number of seconds, got {older_than!r}")
    if not os.path.isdir(text):
        raise NotADirectoryError(errno.ENOTDIR, "sweep_temps root is not a directory", text)
    now = time.time()
    removed: list[Path] = []
    for directory, _dirs, files in os.walk(text):
        for name in files:
            if not is_temp_name(name):
                continue
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < older_than:
                    continue
                os.unlink(path)
            except (FileNotFoundError, PermissionError):
                continue  # gone already, or (Windows) still open by its writer
            removed.append(Path(path))
    return removed


# --------------------------------------------------------------------------------------------
# The simulation seam
# --------------------------------------------------------------------------------------------


class _SimulationSeam:
    """What a simulation of another platform may ask of this copy of the writer; nothing else.

    Whether to take the Windows code paths is decided once, at import (``_WINDOWS``), and
    single-flight remembers landed blobs and ready layouts per process. A simulation that runs
    Windows rules on Linux, or gives each test a fresh fake filesystem, must change both, and
    must reach every copy: this package, the ``pytest_ocirace.writer`` name, and any file that
    ``ocirace vendor`` wrote under a project's own module name. So every copy declares this
    object as the module attribute ``__ocirace_writer_seam__``, and pytest-ocirace looks for
    that attribute among loaded modules instead of for a module name or a private function.

    Protocol 1 (new methods may be added; none is ever removed or changed):

    * ``use_windows(enabled) -> bool``: take the Windows code paths (no-clobber rename,
      retries on winerror 5/32/33, no directory fsync) or the host's; returns the previous
      setting so that the caller can restore it.
    * ``forget_filesystem()``: drop what this process remembers about the filesystem (landed
      writes, ready layouts). Memories of blobs on a previous filesystem would be wrong, and
      waiting on their events orders nothing.
    """

    __slots__ = ()

    protocol = 1

    def use_windows(self, enabled: bool) -> bool:
        global _WINDOWS
        previous = _WINDOWS
        _WINDOWS = bool(enabled)
        return previous

    def forget_filesystem(self) -> None:
        with _flights_lock:
            _landed.clear()
            _layouts_ready.clear()

    def __repr__(self) -> str:
        return f"<ocirace writer seam of {__name__} {__version__}>"


__ocirace_writer_seam__ = _SimulationSeam()
