"""``index.json``: what the project index learnt about each file, kept across runs.

A file's exports (aliases, temp-returning helpers) and whether it calls each searched name
depend on its content alone, so they are cached by content digest, like the results
(:mod:`.demand` checks the digest before using an entry): a warm run reads them instead of
parsing an unchanged module again, and a file touched without a change keeps them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:  # this module is on the warm path: no typing import at run time
    from typing import Any

__all__ = ["IndexCache"]

#: Format of an entry (``[digest, summary JSON or None, {name: calls it}]``), part of the key.
_FORMAT = "facts 2"


class IndexCache:
    """The facts of ``directory/index.json``, stale as a whole when the checker's code changes."""

    def __init__(self, directory: Path | None) -> None:
        self.facts: dict[str, Any] = {}
        self.file = None if directory is None else directory / "index.json"
        self.dirty = False
        if self.file is None:
            return
        from .cache import code_fingerprint

        self.key = code_fingerprint() + "\n" + _FORMAT
        try:
            with self.file.open("rb") as handle:
                loaded = json.load(handle)
        except (OSError, ValueError):
            return
        if isinstance(loaded, dict) and loaded.get("key") == self.key:
            facts = loaded.get("facts")
            if isinstance(facts, dict):
                self.facts = facts

    def update(self, learnt: dict[str, Any]) -> None:
        if learnt:
            self.facts.update(learnt)
            self.dirty = True

    def save(self, seen: Iterable[str]) -> None:
        """Write the facts if they changed; files that no longer exist are forgotten.

        An unwritable directory is reported once, by the results cache.
        """
        if self.file is None or not self.dirty:
            return
        checked = set(seen)
        for path in [path for path in self.facts if path not in checked]:
            if not os.path.exists(path):
                del self.facts[path]
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            from pytest_ocirace import atomic_write

            document = {"key": self.key, "facts": self.facts}
            with atomic_write(self.file, "wb", fsync=False) as handle:
                handle.write(json.dumps(document, separators=(",", ":")).encode("utf-8"))
        except OSError:
            pass
