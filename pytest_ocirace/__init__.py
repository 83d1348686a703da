"""pytest-ocirace: make the Windows temp-write-then-rename race visible, and fix it.

Importing this package must stay cheap and must not import pytest, pyfakefs or libcst:
production code imports the reference safe writer from here. The writer itself is the
stdlib-only ``ocirace_writer`` distribution; this package re-exports it (and
``pytest_ocirace.writer`` is that module under its first name). The pytest plugin lives in
``pytest_ocirace.plugins.fakefs`` and is loaded by pytest through its entry point, not from here.

The declared-ordering API (``happens_before``, ``happens_after``, ``ordered``, ``exclusive``)
may stay in production code: outside an ocirace test it does nothing. It is imported lazily,
so code that only writes files does not pay for the race model's modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocirace_writer import (
    BlobSource,
    Digest,
    DigestMismatchError,
    InvalidDigestError,
    PublishTimeoutError,
    RetryPolicy,
    SizeMismatchError,
    UnsupportedAlgorithmError,
    __version__,
    atomic_write,
    blob_path,
    init_layout,
    is_temp_name,
    parse_digest,
    publish,
    sweep_temps,
    write_blob,
)

if TYPE_CHECKING:
    from pytest_ocirace.racemodel.model import (
        exclusive,
        happens_after,
        happens_before,
        ordered,
    )

_LAZY = {"exclusive", "happens_after", "happens_before", "ordered"}

__all__ = [
    "BlobSource",
    "Digest",
    "DigestMismatchError",
    "InvalidDigestError",
    "PublishTimeoutError",
    "RetryPolicy",
    "SizeMismatchError",
    "UnsupportedAlgorithmError",
    "__version__",
    "atomic_write",
    "blob_path",
    "exclusive",
    "happens_after",
    "happens_before",
    "init_layout",
    "is_temp_name",
    "ordered",
    "parse_digest",
    "publish",
    "sweep_temps",
    "write_blob",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from pytest_ocirace.racemodel import model

        return getattr(model, name)
    raise AttributeError(f"module 'pytest_ocirace' has no attribute {name!r}")
