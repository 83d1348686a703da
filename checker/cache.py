"""The result cache: findings per file, keyed by content, settings and the checker's code."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from .model import Edit, Finding, Fix, LintSettings, Related

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms of a warm run; annotations are strings anyway
    from typing import Any

__all__ = [
    "CACHE_DIR_NAME",
    "ResultCache",
    "code_fingerprint",
    "finding_from_json",
    "finding_to_json",
    "signature",
]

CACHE_DIR_NAME = ".ocirace_cache"

#: A file whose time is this close to the moment it was read may still change within the
#: same timestamp tick: its signature is not trusted, and the next run compares its content
#: (git's "racily clean" entries). Whole-second times (FAT, HFS+, some network file systems)
#: get two seconds; finer ones (ext4, NTFS, APFS: a tick of a few milliseconds at most) 0.1 s.
_RACY_COARSE_NS = 2_000_000_000
_RACY_FINE_NS = 100_000_000


def signature(stat: os.stat_result, read_at_ns: int | None = None) -> list[int]:
    """What stands for a file's content on a warm run, so that an unchanged file is not read.

    The modification time and size, as ruff keys its cache; and the change time and inode,
    which no program can set back: a file rewritten with the same size and its old
    modification time restored (``touch -r``, an archive, ``os.utime``) still has a new
    change time, so its content is compared. ``read_at_ns`` is when the content was read;
    a file changed within a tick of that moment gets no signature (``[]``, never equal), so
    a second change in the same tick cannot hide. (Windows has no change time: there
    ``st_ctime`` is the creation time, and only size and times count.)
    """
    if read_at_ns is not None:
        latest = max(stat.st_mtime_ns, stat.st_ctime_ns)
        racy = _RACY_COARSE_NS if stat.st_mtime_ns % 1_000_000_000 == 0 else _RACY_FINE_NS
        if latest >= read_at_ns - racy:
            return []
    return [stat.st_mtime_ns, stat.st_size, stat.st_ctime_ns, stat.st_ino]


def finding_to_json(finding: Finding) -> list[Any]:
    fix = None
    if finding.fix is not None:
        fix = [
            finding.fix.message,
            finding.fix.applicability,
            [[e.line, e.column, e.end_line, e.end_column, e.content] for e in finding.fix.edits],
        ]
    return [
        finding.code,
        finding.message,
        finding.line,
        finding.column,
        finding.end_line,
        finding.end_column,
        finding.hint,
        fix,
        [[r.line, r.column, r.end_line, r.end_column, r.message] for r in finding.related],
        list(finding.why),
    ]


def finding_from_json(raw: list[Any]) -> Finding:
    code, message, line, column, end_line, end_column, hint, fix, related, why = raw
    return Finding(
        code,
        message,
        line,
        column,
        end_line,
        end_column,
        hint,
        None if fix is None else Fix(fix[0], fix[1], tuple(Edit(*edit) for edit in fix[2])),
        tuple(Related(*r) for r in related),
        tuple(why),
    )


def code_fingerprint() -> str:
    """Changes whenever the checker's code changes, even without a version bump (dev installs)."""
    # The files' sizes and times stand in for the version: a new release installs new files.
    package = Path(__file__).parent
    parts = [sys.version.split()[0]]
    stack = [package]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir() and not entry.name.startswith((".", "__pycache__")):
                    stack.append(Path(entry.path))
                elif entry.name.endswith(".py"):
                    st = entry.stat()
                    parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


class ResultCache:
    """``results.json``: {"key": ..., "files": {path: [signature, digest, findings, deps]}}.

    An entry stands while the file's content has its ``digest`` (the :func:`signature`
    answers that without reading the file) and every answer of the project index it rested
    on, ``deps`` (:meth:`.demand.DemandIndex.deps_of`), is still the same.

    ``key`` (the checker's code and the lint settings) is stored in the file and compared as
    text rather than hashed into the file name: no hashing on the warm path. A different key
    means the whole cache is stale. Written atomically with the project's own writer so two
    concurrent runs (pre-commit and an editor) leave one's cache or the other's, never a
    torn file.
    """

    def __init__(self, directory: Path | None, settings: LintSettings, project: str = "") -> None:
        self.directory = directory
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        self.file: Path | None = None
        if directory is None:
            return
        #: ``project`` says how other modules were seen (with the project index or not).
        self.key = code_fingerprint() + "\n" + repr(settings) + "\n" + project
        self.file = directory / "results.json"
        try:
            with self.file.open("rb") as handle:
                loaded = json.load(handle)
        except (OSError, ValueError):
            return  # no cache yet, or a corrupt one: start afresh
        if isinstance(loaded, dict) and loaded.get("key") == self.key:
            files = loaded.get("files")
            if isinstance(files, dict):
                self.entries = files

    def save(self, seen: Iterable[str]) -> str | None:
        """Write the cache if it changed; a warning for stderr if it could not be written.

        Entries of files this run did not see are kept (pre-commit checks a few files at a
        time) unless the file no longer exists, so deleted files do not pile up.
        """
        if self.file is None or self.directory is None or not self.dirty:
            return None
        from pytest_ocirace import atomic_write

        checked = set(seen)
        for key in [key for key in self.entries if key not in checked]:
            if not os.path.exists(key):
                del self.entries[key]

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tag = self.directory / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_text(
                    "Signature: 8a477f597d28d172789f06886806bc55\n"
                    "# This file is a cache directory tag created by ocirace.\n",
                    encoding="ascii",
                )
                (self.directory / ".gitignore").write_text("*\n", encoding="ascii")
            document = {"key": self.key, "files": self.entries}
            with atomic_write(self.file, "wb", fsync=False) as handle:
                handle.write(json.dumps(document, separators=(",", ":")).encode("utf-8"))
        except OSError as exc:
            return f"warning: could not write the cache in {self.directory}: {exc}; use --no-cache"
        return None
