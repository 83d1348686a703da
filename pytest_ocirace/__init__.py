"""pytest-ocirace: make the Windows temp-write-then-rename race visible, and fix it.

Importing this package must stay cheap and must not import pytest, pyfakefs or libcst:
production code imports the reference safe writer from here. The pytest plugin lives in
``pytest_ocirace.plugin`` and is loaded by pytest through its entry point, not from here.
"""

from __future__ import annotations

from pytest_ocirace.writer import (
    Digest,
    DigestMismatchError,
    InvalidDigestError,
    atomic_write,
    parse_digest,
    publish,
    write_blob,
)

__version__ = "0.1.0"

__all__ = [
    "Digest",
    "DigestMismatchError",
    "InvalidDigestError",
    "__version__",
    "atomic_write",
    "parse_digest",
    "publish",
    "write_blob",
]
