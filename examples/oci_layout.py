"""A Python port of go-containerregistry's ``layout.WriteImage``, with its Windows race.

go-containerregistry (pkg/v1/layout/write.go) writes an image into an OCI image layout by
starting one goroutine per layer (an errgroup) without removing duplicate digests. Each
writer skips the blob if it already exists, otherwise writes a unique temp file
(``os.CreateTemp(dir, hex)``) and renames it onto ``blobs/sha256/<hex>``; Go's ``os.Rename``
is ``MoveFileEx(..., MOVEFILE_REPLACE_EXISTING)`` on Windows, i.e. Python's ``os.replace``.
Images built with several identical empty layers (Dockerfile ``ENV``/``WORKDIR`` steps) make
two writers rename onto one target at once, and on Windows the loser fails with
``PermissionError: [WinError 5] Access is denied`` about every other run
(go-containerregistry #1794 / #1920, porter #2917). On Linux it never fails.

``write_image`` is the faithful port (the bug included); ``write_image_fixed`` publishes each
blob with :func:`ocirace_writer.write_blob`, which tolerates a concurrent identical writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ocirace_writer import write_blob

__all__ = ["EMPTY_LAYER", "Image", "example_image", "write_image", "write_image_fixed"]

#: The empty tar archive (1024 zero bytes): what every metadata-only layer contains.
EMPTY_LAYER = b"\0" * 1024


@dataclass(frozen=True)
class Image:
    config: bytes
    layers: tuple[bytes, ...]

    def manifest(self) -> bytes:
        def descriptor(media_type: str, data: bytes) -> dict[str, object]:
            return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}

        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": descriptor("application/vnd.oci.image.config.v1+json", self.config),
                "layers": [
                    descriptor("application/vnd.oci.image.layer.v1.tar", layer)
                    for layer in self.layers
                ],
            },
            sort_keys=True,
        ).encode()


def example_image() -> Image:
    """An image like the one porter built: real layers plus duplicate empty ones."""
    return Image(
        config=b'{"architecture":"amd64","os":"windows"}',
        layers=(b"base layer", EMPTY_LAYER, b"app layer", EMPTY_LAYER, EMPTY_LAYER),
    )


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- the port, bug included ------------------------------------------------------------------


def _write_blob(root: str, hex_digest: str, data: bytes) -> None:
    """``layout.WriteBlob``: skip if present, else temp file then rename onto the blob."""
    directory = os.path.join(root, "blobs", "sha256")
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, hex_digest)
    if os.path.exists(target):  # "blob already exists": a check, then an act
        return
    fd, temp = tempfile.mkstemp(dir=directory, prefix=hex_digest)  # os.CreateTemp(dir, hex)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temp, target)  # noqa: ORC001 - the bug, ported: Go's os.Rename = MoveFileEx


def write_image(root: str, image: Image) -> None:
    """``layout.WriteImage``: one worker per layer, no deduplication of digests."""
    with ThreadPoolExecutor(max_workers=len(image.layers)) as pool:
        futures = [
            pool.submit(_write_blob, root, hashlib.sha256(layer).hexdigest(), layer)
            for layer in image.layers
        ]
        for future in futures:
            future.result()  # errgroup.Wait(): the first error fails the whole write
    _write_blob(root, hashlib.sha256(image.config).hexdigest(), image.config)
    manifest = image.manifest()
    _write_blob(root, hashlib.sha256(manifest).hexdigest(), manifest)
    _write_index(root, manifest)


# -- the same writer, fixed ------------------------------------------------------------------


def write_image_fixed(root: str, image: Image) -> None:
    """The same concurrency, but every blob goes through the reference safe writer."""
    with ThreadPoolExecutor(max_workers=len(image.layers)) as pool:
        futures = [pool.submit(write_blob, root, _digest(layer), layer) for layer in image.layers]
        for future in futures:
            future.result()
    write_blob(root, _digest(image.config), image.config)
    manifest = image.manifest()
    write_blob(root, _digest(manifest), manifest)
    _write_index(root, manifest)


def _write_index(root: str, manifest: bytes) -> None:
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _digest(manifest),
                "size": len(manifest),
            }
        ],
    }
    with open(os.path.join(root, "oci-layout"), "w") as handle:
        json.dump({"imageLayoutVersion": "1.0.0"}, handle)
    with open(os.path.join(root, "index.json"), "w") as handle:
        json.dump(index, handle)
