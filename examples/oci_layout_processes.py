"""go-containerregistry's ``layout.WriteImage`` race with one *process* per layer.

The same port as ``oci_layout.py`` (the bug included), but each layer is written by its own
worker process, as a multi-process build (or several ``crane``/``porter`` runs sharing one
layout directory) would. The fake filesystem cannot see this: it lives in one process. The
process mode (``pytest --ocirace-processes``, or ``@pytest.mark.ocirace(processes=True)``)
does: the duplicate empty layers' renames race across processes, and the loser fails with
``[WinError 5] Access is denied`` in every run. ``write_image_fixed`` publishes each blob
with the reference writer and passes.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from oci_layout import Image, _digest, _write_blob, _write_index

from pytest_ocirace import write_blob

__all__ = ["write_image", "write_image_fixed"]


def _pool(image: Image) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=len(image.layers), mp_context=multiprocessing.get_context("fork")
    )


def write_image(root: str, image: Image) -> None:
    """``layout.WriteImage`` with a process per layer, no deduplication of digests."""
    with _pool(image) as pool:
        futures = [
            pool.submit(_write_blob, root, hashlib.sha256(layer).hexdigest(), layer)
            for layer in image.layers
        ]
        for future in futures:
            future.result()
    _write_blob(root, hashlib.sha256(image.config).hexdigest(), image.config)
    manifest = image.manifest()
    _write_blob(root, hashlib.sha256(manifest).hexdigest(), manifest)
    _write_index(root, manifest)


def write_image_fixed(root: str, image: Image) -> None:
    """The same processes, every blob through the reference safe writer."""
    with _pool(image) as pool:
        futures = [pool.submit(write_blob, root, _digest(layer), layer) for layer in image.layers]
        for future in futures:
            future.result()
    write_blob(root, _digest(image.config), image.config)
    manifest = image.manifest()
    write_blob(root, _digest(manifest), manifest)
    _write_index(root, manifest)
