"""Runs inside each process of the multi-process storm (importable for the spawn method)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from pytest_ocirace import writer


def storm(
    root: str, blobs: list[tuple[str, bytes]], threads: int, barrier: Any, results: Any
) -> None:
    """Hammer ``root`` with ``threads`` threads writing every blob; report to ``results``."""
    errors: list[str] = []
    fetched: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def run(offset: int) -> None:
        order = blobs[offset % len(blobs) :] + blobs[: offset % len(blobs)]
        start.wait()
        for digest, data in order:

            def fetch(digest: str = digest, data: bytes = data) -> bytes:
                with lock:
                    fetched[digest] += 1
                return data

            try:
                path = writer.write_blob(root, digest, fetch, fsync=False)
                with open(path, "rb") as handle:
                    if handle.read() != data:
                        errors.append(f"wrong content at {path}")
            except BaseException as exc:  # collected and reported to the parent
                errors.append(repr(exc))

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    barrier.wait()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    results.put((errors, dict(fetched)))
