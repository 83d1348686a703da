"""ORC007: a digest such as ``sha256:...`` is used as a file name component.

``:`` is reserved in Windows file names, but ``open("blobs/sha256:ab...", "w")`` does not
fail on NTFS: the colon selects an alternate data stream, so an empty file ``sha256`` appears
and the data hides in a stream of it; renaming onto such a name fails with
``OSError [WinError 123]`` (row 15). The OCI image layout stores ``blobs/<algorithm>/<hex>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, Invalid, Rule, Valid

__all__ = ["RULE"]

CODE = "ORC007"


def check(ctx: Context) -> Iterator[Finding]:
    for site in ctx.analysis.digest_sites:
        yield ctx.finding(
            CODE,
            site.node,
            f"{ctx.text(site.node)} puts a digest with ':' into a file name: ':' is reserved "
            "on Windows, where NTFS writes the data to an alternate data stream instead "
            "(and a rename onto the name fails with OSError [WinError 123])",
            "store blobs as <algorithm>/<hex> (the OCI layout), e.g. "
            "os.path.join(root, 'blobs', algorithm, hex); ocirace_writer.write_blob does this",
        )


VALID = (
    Valid(
        """
        import os
        def blob_path(root, digest):
            algorithm, _, encoded = digest.partition(":")
            return os.path.join(root, "blobs", algorithm, encoded)
        """
    ),
    # A digest string that is not a file name: a log line, a dict key, an HTTP header.
    Valid(
        """
        import hashlib, logging
        def describe(data, headers):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            headers["Docker-Content-Digest"] = digest
            logging.info("stored %s", digest)
            return {"digest": digest}
        """
    ),
    # host:port joined with ':' is not a digest and not a path.
    Valid(
        """
        import os
        def address(host, port, root):
            url = host + ":" + str(port)
            return os.path.join(root, "servers.txt"), url
        """
    ),
)

INVALID = (
    Invalid(
        """
        import hashlib, os
        def store(root, data):
            name = "sha256:" + hashlib.sha256(data).hexdigest()
            with open(os.path.join(root, "blobs", name), "wb") as f:
                f.write(data)
        """,
        line=4,
        message="alternate data stream",
    ),
    Invalid(
        """
        from pathlib import Path
        def blob_path(root: Path, algorithm, hexdigest):
            return root / "blobs" / f"{algorithm}:{hexdigest}"
        """,
        line=3,
    ),
    Invalid(
        """
        import os
        def blob_path(root, alg, hex_value):
            return os.path.join(root, ":".join([alg, hex_value]))
        """,
        line=3,
    ),
    Invalid(
        """
        def open_blob():
            return open("cache/sha256:e3b0c44298fc1c149afbf4c8996fb924", "rb")
        """,
        line=2,
    ),
    Invalid(
        """
        from pathlib import Path
        def blob(root, digest_hex):
            return Path(root, "%s:%s" % ("sha256", digest_hex))
        """,
        line=3,
    ),
)

RULE = Rule(CODE, check, VALID, INVALID)
