"""The go-containerregistry race, caught and fixed. Run with ``pytest --ocirace examples``.

Without ``--ocirace`` both tests pass on Linux: the race needs Windows, and even there it
shows up only in some runs. Under ``pytest --ocirace`` the port of ``layout.WriteImage``
fails in every run with ``[WinError 5] Access is denied`` and an ``ocirace`` report section
naming both renames, and the fixed writer passes. ``python examples/quickstart.py`` runs
this and checks exactly that.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from oci_layout import example_image, write_image, write_image_fixed


@pytest.fixture
def layout_root() -> Iterator[str]:
    # A path of our own rather than tmp_path: under --ocirace it lives in the simulated
    # Windows filesystem, which starts empty.
    root = os.path.join(tempfile.gettempdir(), f"oci-layout-{uuid.uuid4().hex[:8]}")
    yield root
    for directory, _, files in os.walk(root, topdown=False):
        for name in files:
            os.remove(os.path.join(directory, name))
        os.rmdir(directory)


def _assert_complete(root: str) -> None:
    image = example_image()
    blobs = os.path.join(root, "blobs", "sha256")
    for data in {*image.layers, image.config, image.manifest()}:
        with open(os.path.join(blobs, hashlib.sha256(data).hexdigest()), "rb") as handle:
            assert handle.read() == data
    assert not [name for name in os.listdir(blobs) if len(name) != 64]  # no temp left behind
    with open(os.path.join(root, "index.json")) as handle:
        assert json.load(handle)["manifests"][0]["size"] == len(image.manifest())


def test_write_image_with_duplicate_empty_layers(layout_root: str) -> None:
    """The port as shipped: fails under --ocirace (duplicate empty layers race)."""
    write_image(layout_root, example_image())
    _assert_complete(layout_root)


def test_write_image_fixed_with_the_reference_writer(layout_root: str) -> None:
    write_image_fixed(layout_root, example_image())
    _assert_complete(layout_root)
