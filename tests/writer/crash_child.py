"""Child process for the kill -9 test: writes one blob slowly, announcing each chunk.

Usage: python crash_child.py ROOT DIGEST SEED CHUNKS CHUNK_SIZE [inplace]. Before handing chunk N to
the writer it prints ``chunk N`` and waits for a line on stdin (lock-step, so the parent
knows exactly how far the write got); it prints ``done`` once ``write_blob`` returned, then
waits to be killed. The content is ``random.Random(SEED)`` bytes, so the parent knows the
digest. ``inplace`` writes straight into the final name instead (go-containerregistry's
``WriteBlob``), the control that shows the harness does detect torn blobs.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator

from pytest_ocirace.writer import blob_path, write_blob


def chunks(seed: int, count: int, size: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for index in range(count):
        print(f"chunk {index}", flush=True)
        sys.stdin.readline()
        yield rng.randbytes(size)


def write_in_place(root: str, digest: str, data: Iterator[bytes]) -> None:
    path = blob_path(root, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for chunk in data:
            handle.write(chunk)
            handle.flush()


def main() -> None:
    root, digest, seed, count, size = sys.argv[1:6]
    data = chunks(int(seed), int(count), int(size))
    if sys.argv[6:] == ["inplace"]:
        write_in_place(root, digest, data)
    else:
        write_blob(root, digest, data, fsync=True)
    print("done", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
