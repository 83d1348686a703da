"""The go-containerregistry race across processes, caught and fixed in the process mode.

``pytest examples/test_oci_layout_processes.py``: the marker puts both tests in the process
mode; the port fails in every run with ``[WinError 5]`` and an ``ocirace`` section naming
both worker processes, the fixed writer passes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from oci_layout import example_image
from oci_layout_processes import write_image, write_image_fixed

pytestmark = pytest.mark.ocirace(processes=True)


def _assert_complete(root: str) -> None:
    image = example_image()
    blobs = os.path.join(root, "blobs", "sha256")
    for data in {*image.layers, image.config, image.manifest()}:
        with open(os.path.join(blobs, hashlib.sha256(data).hexdigest()), "rb") as handle:
            assert handle.read() == data


def test_write_image_one_process_per_layer(tmp_path: Path) -> None:
    """The port as shipped: fails in the process mode (duplicate empty layers race)."""
    write_image(str(tmp_path), example_image())
    _assert_complete(str(tmp_path))


def test_write_image_fixed_one_process_per_layer(tmp_path: Path) -> None:
    write_image_fixed(str(tmp_path), example_image())
    _assert_complete(str(tmp_path))
