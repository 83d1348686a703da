"""Folders list in NTFS order inside the simulation, the same in every run."""

from __future__ import annotations

import glob
import os
import pathlib

from pytest_ocirace.fakefs.directory_order import ntfs_key
from pytest_ocirace.fakefs.filesystem import simulate

NTFS_ORDER = ["A", "a2", "b", "B1", "c"]


def test_every_listing_is_in_ntfs_order_whatever_the_creation_order() -> None:
    # pyfakefs shuffled os.listdir in every call and listed os.scandir in creation order.
    with simulate():
        os.mkdir("d")
        for name in ["c", "b", "B1", "A", "a2"]:
            with open(os.path.join("d", name), "w"):
                pass
        os.remove(os.path.join("d", "b"))
        with open(os.path.join("d", "b"), "w"):
            pass
        listings = [
            os.listdir("d"),
            [entry.name for entry in os.scandir("d")],
            next(os.walk("d"))[2],
            [path.name for path in pathlib.Path("d").iterdir()],
            [os.path.basename(found) for found in glob.glob(os.path.join("d", "*"))],
        ]
        repeated = [os.listdir("d") for _ in range(5)]
    assert listings == [NTFS_ORDER] * 5
    assert repeated == [NTFS_ORDER] * 5


def test_the_key_upper_cases_character_by_character() -> None:
    assert sorted(["b", "A", "_x", "a"], key=ntfs_key) == ["A", "a", "b", "_x"]
    assert ntfs_key("ß") == "ß".encode("utf-16-be")  # no one-character upper case: kept
    assert ntfs_key(b"abc") == ntfs_key("ABC")
