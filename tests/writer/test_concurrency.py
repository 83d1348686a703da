"""Real threads and real processes writing the same and different blobs at once."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ocirace import writer

from .conftest import Blob, make_blob, temps_under
from .storm_worker import storm


def run_threads(count: int, target: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # collected, asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def all_blob_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "blobs").rglob("*") if p.is_file())


def test_32_threads_one_digest_write_it_once(tmp_path: Path) -> None:
    blob = make_blob(1 << 20, seed=7)
    fetched: list[int] = []
    paths: list[Path] = []

    def fetch() -> bytes:
        fetched.append(1)
        return blob.data

    errors = run_threads(32, lambda i: paths.append(writer.write_blob(tmp_path, blob.text, fetch)))
    assert errors == []
    assert len(fetched) == 1, "single-flight: identical concurrent writes are written once"
    assert set(paths) == {writer.blob_path(tmp_path, blob.digest)}
    assert paths[0].read_bytes() == blob.data
    assert all_blob_files(tmp_path) == [blob.digest.encoded]
    assert temps_under(tmp_path) == []


def test_32_threads_overlapping_digests(tmp_path: Path) -> None:
    blobs = [make_blob(size, seed=i) for i, size in enumerate([0, 1, 4096, 65536, 300_000] * 2)]

    def work(i: int) -> None:
        for blob in blobs[i % 10 :] + blobs[: i % 10]:
            assert (
                writer.write_blob(tmp_path, blob.digest, iter([blob.data])).read_bytes()
                == blob.data
            )

    assert run_threads(32, work) == []
    assert all_blob_files(tmp_path) == sorted({b.digest.encoded for b in blobs})
    assert temps_under(tmp_path) == []


def test_a_failed_leader_lets_a_follower_write(tmp_path: Path) -> None:
    blob = make_blob(10_000, seed=3)
    calls: list[int] = []
    lock = threading.Lock()

    def fetch() -> bytes:
        with lock:
            calls.append(1)
            first = len(calls) == 1
        if first:
            time.sleep(0.05)  # give followers time to queue up behind us (not asserted)
            raise ConnectionError("leader's download failed")
        return blob.data

    errors = run_threads(8, lambda i: writer.write_blob(tmp_path, blob.digest, fetch))
    assert [type(e) for e in errors] == [ConnectionError]
    assert len(calls) == 2, "exactly one follower takes over; the rest reuse its blob"
    assert writer.blob_path(tmp_path, blob.digest).read_bytes() == blob.data
    assert temps_under(tmp_path) == []


def test_readers_see_nothing_or_the_whole_blob(tmp_path: Path) -> None:
    blobs = [make_blob(200_000, seed=100 + i) for i in range(15)]
    stop = threading.Event()
    torn: list[str] = []

    def read() -> None:
        while not stop.is_set():
            for blob in blobs:
                try:
                    data = writer.blob_path(tmp_path, blob.digest).read_bytes()
                except FileNotFoundError:
                    continue
                if data != blob.data:
                    torn.append(f"{blob.text}: {len(data)} bytes")

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        errors = run_threads(
            6, lambda i: [writer.write_blob(tmp_path, b.digest, b.data, fsync=False) for b in blobs]
        )
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
    assert torn == []


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_4_processes_x_8_threads(tmp_path: Path, method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    ctx = multiprocessing.get_context(method)
    processes = 4
    for round_ in range(2):
        root = str(tmp_path / f"round{round_}")
        shared = [
            make_blob(size, seed=1000 * round_ + i)
            for i, size in enumerate([0, 4096, 262_144, 17, 65536, 100_000])
        ]
        results = ctx.Queue()
        barrier = ctx.Barrier(processes)
        procs = []
        for p in range(processes):
            own = [make_blob(5000, seed=10_000 * (round_ + 1) + p)]
            blobs = [(b.text, b.data) for b in shared + own]
            procs.append(ctx.Process(target=storm, args=(root, blobs, 8, barrier, results)))
        for proc in procs:
            proc.start()
        reports = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0
        for errors, fetched in reports:
            assert errors == []
            assert all(n == 1 for n in fetched.values()), f"written twice in one process: {fetched}"
        for blob in shared:
            total = sum(fetched.get(blob.text, 0) for _, fetched in reports)
            assert 1 <= total <= processes
            assert writer.blob_path(root, blob.digest).read_bytes() == blob.data
        assert len(all_blob_files(Path(root))) == len(shared) + processes
        assert temps_under(Path(root)) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_while_a_leader_is_in_flight(tmp_path: Path, blob: Blob) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_fetch() -> bytes:
        entered.set()
        release.wait(30)
        return blob.data

    leader = threading.Thread(target=writer.write_blob, args=(tmp_path, blob.digest, slow_fetch))
    leader.start()
    try:
        assert entered.wait(30)
        pid = os.fork()
        if pid == 0:  # child: the parent's leader thread does not exist here
            code = 1
            try:
                writer.write_blob(tmp_path, blob.digest, blob.data)
                code = 0
            finally:
                os._exit(code)
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("the forked child hung waiting for the parent's in-flight write")
            time.sleep(0.01)
        assert os.waitstatus_to_exitcode(status) == 0
        assert writer.blob_path(tmp_path, blob.digest).read_bytes() == blob.data
    finally:
        release.set()
        leader.join()
    assert writer.blob_path(tmp_path, blob.digest).read_bytes() == blob.data
    assert temps_under(tmp_path) == []
