"""A content-addressed cache shared by every pytest-xdist worker: the bug, and the fix.

Many real cases of the temp-write-then-rename bug are a cache directory that parallel
processes fill at once: pytest's own ``.pytest_cache``, pip's wheel cache, numba's index,
triton's kernels. ``store`` is the usual writer: a temp file, then ``os.replace`` onto the
entry's name. On Linux two workers storing the same entry both succeed; on Windows the
replace that meets the other worker's in-flight replace fails with ``[WinError 5]``. The
process mode with pytest-xdist (``pytest -n 2 --ocirace-processes``) treats tests on
different workers as concurrent, so it fails one of them in every run. ``store_fixed``
publishes through the reference writer, which tolerates a concurrent identical writer.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pytest_ocirace import write_blob

__all__ = ["store", "store_fixed"]


def store(cache_dir: str, data: bytes) -> str:
    """Store ``data`` under its SHA-256 in ``cache_dir``; the entry's path (racy on Windows)."""
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(cache_dir, exist_ok=True)
    entry = os.path.join(cache_dir, digest)
    tmp = f"{entry}.{os.getpid()}.tmp"  # one temp name per process: only the replace races
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, entry)  # noqa: ORC001 - the bug this example shows
    return entry


def store_fixed(cache_dir: str, data: bytes) -> str:
    """The same entry, published with ``write_blob`` (``cache_dir/blobs/sha256/<hex>``)."""
    path: Path = write_blob(cache_dir, "sha256:" + hashlib.sha256(data).hexdigest(), data)
    return str(path)
