"""PLACEHOLDER - the writer helper replaces this whole file (issue 2)."""
from __future__ import annotations
Digest = DigestMismatchError = InvalidDigestError = atomic_write = parse_digest = publish = write_blob = None
