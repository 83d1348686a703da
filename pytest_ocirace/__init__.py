"""pytest-ocirace: make the Windows temp-write-then-rename race visible, and fix it.

Importing this package must stay cheap and must not import pytest, pyfakefs or libcst:
production code imports the reference safe writer from here. The writer itself is the
stdlib-only ``ocirace_writer`` distribution; this package re-exports it (and
``pytest_ocirace.writer`` is that module under its first name). The pytest plugin lives in
``pytest_ocirace.plugins.fakefs`` and is loaded by pytest through its entry point, not from here.

Every public name is resolved on first use (a module ``__getattr__``), not at import:
Python imports this ``__init__`` before any submodule, and the process mode's start-up hook
(``realdisk/bootstrap.py``, run from a ``.pth`` file in every child of a test) must not pay
for the writer's imports (``logging``, ``dataclasses``, ``hashlib``: most of a joining
child's start-up cost before this was lazy). ``from pytest_ocirace import write_blob`` and
``pytest_ocirace.write_blob`` work as before and give the writer's own objects.

The declared-ordering API (``happens_before``, ``happens_after``, ``ordered``, ``exclusive``)
may stay in production code: outside an ocirace test it does nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs a joining child start-up time

if TYPE_CHECKING:
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

    from pytest_ocirace.racemodel.model import (
        exclusive,
        happens_after,
        happens_before,
        ordered,
    )

_ORDERING = {"exclusive", "happens_after", "happens_before", "ordered"}

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


def __getattr__(name: str) -> object:
    if name in _ORDERING:
        from pytest_ocirace.racemodel import model

        return getattr(model, name)
    if name in __all__:
        import ocirace_writer

        return getattr(ocirace_writer, name)
    raise AttributeError(f"module 'pytest_ocirace' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
