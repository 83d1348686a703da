"""Alternate data streams: where ``open("name:stream")`` puts its data.

On NTFS, ``open("blobs/sha256:abc", "w")`` does not fail: it creates an empty file
``sha256`` and writes into its stream ``abc``, which no directory listing shows. pyfakefs
would create a file literally named ``sha256:abc``. The store keeps each stream as a file
in a hidden folder keyed by its base file, creates the empty base file as NTFS does, and
moves or drops the streams when the base file is renamed or deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager

from pyfakefs.fake_filesystem import FakeFilesystem

from pytest_ocirace.winrules import names

__all__ = ["STREAM_STORE", "StreamStore"]

#: Where stream contents live (NTFS hides them; here they live off to the side).
STREAM_STORE = "C:\\$Extend\\ocirace-streams"


class StreamStore:
    """The streams of one simulated filesystem."""

    def __init__(
        self, fs: FakeFilesystem, internal: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self.fs = fs
        self._internal = internal
        #: Whether any stream was ever opened (renames and deletes skip the store otherwise).
        self.used = False

    def folder(self, base: str) -> str:
        digest = hashlib.sha1(names.key(base, self.fs.cwd).encode()).hexdigest()
        return f"{STREAM_STORE}\\{digest}"

    def path(self, base: str, stream: str) -> str:
        return f"{self.folder(base)}\\{stream.encode().hex()}"

    def redirect(self, display: str, *, create: bool = False) -> str:
        """Where pyfakefs should look for ``display``: itself, or its stream's file."""
        base, stream = names.split_stream(display)
        if stream is None:
            return display
        self.used = True
        with self._internal():
            if create and not FakeFilesystem.exists(self.fs, base):
                FakeFilesystem.create_file(self.fs, base)
            if FakeFilesystem.exists(self.fs, base):
                FakeFilesystem.makedirs(self.fs, self.folder(base), exist_ok=True)
        return self.path(base, stream)

    def drop(self, base: str) -> None:
        """Forget the streams of ``base`` (its file was deleted)."""
        if not self.used:
            return
        folder = self.folder(base)
        with self._internal():
            if FakeFilesystem.exists(self.fs, folder):
                for entry in FakeFilesystem.listdir(self.fs, folder):
                    FakeFilesystem.remove(self.fs, f"{folder}\\{entry}")
                FakeFilesystem.rmdir(self.fs, folder)

    def move(self, old: str, new: str) -> None:
        """Carry the streams of ``old`` over to ``new`` (its file was renamed)."""
        if not self.used:
            return
        folder = self.folder(old)
        with self._internal():
            if FakeFilesystem.exists(self.fs, folder):
                FakeFilesystem.rename(self.fs, folder, self.folder(new))
