"""The race model on the real Windows filesystem layer, with the go-containerregistry port.

The other tests drive the model through a small stand-in layer; this one installs it on the
simulation the plugin uses (the ``winfs`` fixture) and runs ``examples/oci_layout.py``: the
port of ``layout.WriteImage`` fails with WinError 5 in every run, the fixed writer never.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pytest_ocirace.racemodel.model import RaceModel

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "oci_layout.py")


@pytest.fixture(scope="module")
def oci_layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ocirace_example_oci_layout", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# Races on purpose: declared, so that the suite's summary does not count them as alarms.
@pytest.mark.ocirace(expect_races=True)
def test_write_image_fails_in_every_run(oci_layout: ModuleType, model: RaceModel) -> None:
    for run in range(5):
        with pytest.raises(PermissionError) as caught:
            oci_layout.write_image(f"C:\\layouts\\{run}", oci_layout.example_image())
        assert caught.value.winerror == 5
        assert model.note_escaped(caught.value)
    rules = {r.rule for r in model.races}
    assert "concurrent-publish" in rules
    assert all(r.identical for r in model.races if r.rule == "concurrent-publish")


def test_fixed_writer_passes_in_every_run(oci_layout: ModuleType, model: RaceModel) -> None:
    for run in range(5):
        root = f"C:\\layouts\\{run}"
        oci_layout.write_image_fixed(root, oci_layout.example_image())
        blobs = os.listdir(os.path.join(root, "blobs", "sha256"))
        assert len(blobs) == 5  # 3 distinct layers + config + manifest, no temp left
    assert model.unhandled == []


def _pathlib_publish(target: str, data: bytes, index: int) -> None:
    temp = Path(f"{target}.{index}.tmp")
    temp.write_bytes(data)
    temp.replace(target)


@pytest.mark.ocirace(expect_races=["concurrent-publish"])
@pytest.mark.parametrize("switch_interval", [None, 1e-6])
def test_pathlib_writers_fail_and_reference_writer_passes_in_every_run(
    model: RaceModel, switch_interval: float | None
) -> None:
    from pytest_ocirace import write_blob

    old = sys.getswitchinterval()
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    try:
        outcomes = []
        for run in range(10):
            os.makedirs(f"C:\\runs\\{run}", exist_ok=True)
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = [
                    pool.submit(_pathlib_publish, f"C:\\runs\\{run}\\blob", b"x", i)
                    for i in range(2)
                ]
            errors = [f.exception() for f in futures]
            outcomes.append(sorted(getattr(e, "winerror", None) or 0 for e in errors))
            digest = "sha256:" + hashlib.sha256(b"x").hexdigest()
            with ThreadPoolExecutor(max_workers=2) as pool:
                for f in [pool.submit(write_blob, f"C:\\runs\\{run}", digest, b"x")] * 2:
                    f.result()
    finally:
        sys.setswitchinterval(old)
    assert outcomes == [[0, 5]] * 10
    assert sum(1 for r in model.races if r.winerror == 5) == 10


def test_report_frames_are_filtered_while_the_simulation_is_active(winfs: Any) -> None:
    # Regression: the filter used os.path, which pyfakefs patches inside a simulated test
    # (Windows separators, the fake working directory): plugin frames leaked into reports.
    from pytest_ocirace.racemodel import report

    frames = [
        (threading.__file__, 1, "run"),
        (report.__file__, 1, "format_race"),
        (__file__, 10, "test"),
    ]
    assert report.user_frames(frames) == [(__file__, 10, "test")]


@pytest.mark.ocirace(expect_races=["open-while-renaming"])
def test_a_lock_file_made_by_exclusive_create_orders_its_next_holder(model: RaceModel) -> None:
    # Regression (filelock's SoftFileLock hung under --ocirace): a holder's delete of the
    # lock file looked unordered with the previous holder's and was failed with WinError
    # 32, which such locks swallow, so the lock file stayed and every thread polled for
    # ever. An exclusive create can only succeed once the name is gone: it is ordered
    # after that removal, and it never writes another thread's file (no shared writers).
    os.makedirs("C:\\work", exist_ok=True)  # the simulated cwd is the real one now
    lock = "C:\\work\\app.lock"
    removes_failed: list[OSError] = []

    def hold() -> None:
        for _ in range(5000):  # bounded: a lock file left behind must fail, not hang
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
                break
            except (FileExistsError, PermissionError):  # held, or its delete is pending
                time.sleep(0.001)
        else:
            raise AssertionError(f"the lock file was never freed: {removes_failed}")
        os.close(fd)
        try:
            os.remove(lock)
        except OSError as exc:
            removes_failed.append(exc)

    def work() -> None:
        for _ in range(5):
            hold()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert removes_failed == []
    assert not os.path.exists(lock)
    assert {r.rule for r in model.races} == {"open-while-renaming"}


@pytest.mark.ocirace(expect_races=["open-while-renaming", "remove-open-file", "shared-writers"])
def test_a_failure_is_injected_once_per_pair_of_threads_not_once_per_operation(
    model: RaceModel,
) -> None:
    # Regression (filelock's polling tests took minutes): each new delete of a lock file
    # failed the next open of every other thread again, and each failure cost a poll
    # interval. Two threads that conflict on one name fail each other once; later
    # conflicts of the same kind are recorded, as races, but not failed again.
    os.makedirs("C:\\work", exist_ok=True)  # the simulated cwd is the real one now
    name = "C:\\work\\lockfile"
    step = [0]
    failures = {"remove": 0, "open": 0}

    deadline = time.monotonic() + 30
    errors: list[BaseException] = []

    def wait_for(n: int) -> None:
        while step[0] != n:  # a plain variable and sleep: no edge the model sees
            if errors or time.monotonic() > deadline:
                raise TimeoutError(f"step {n} never came (now {step[0]})")
            time.sleep(0.001)

    def recording(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # the other thread must stop waiting, and we report it
                errors.append(exc)

        return run

    def retry(kind: str, action: Callable[[], object]) -> None:
        while True:
            try:
                action()
                return
            except PermissionError:
                failures[kind] += 1

    def writer() -> None:
        for round_ in range(3):
            wait_for(2 * round_)
            with open(name, "w") as handle:
                handle.write("x")
            retry("remove", lambda: os.remove(name))
            step[0] += 1

    def reader() -> None:
        for round_ in range(3):
            wait_for(2 * round_ + 1)
            retry("open", lambda: open(name, "a").close())
            step[0] += 1

    threads = [
        threading.Thread(target=recording(writer)),
        threading.Thread(target=recording(reader)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert failures == {"remove": 1, "open": 1}
    assert len([r for r in model.races if r.rule == "open-while-renaming"]) == 3


def _windows_file_lock(path: str) -> tuple[Callable[[], int], Callable[[int], None]]:
    """``WindowsFileLock``'s polling, as filelock 3.16 does it on Windows."""
    from pytest_ocirace.fakefs import filelocks

    locking = filelocks.active_msvcrt_locking()
    assert locking is not None

    def acquire() -> int:
        for _ in range(2000):  # bounded: a lock never freed fails the test, never hangs it
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            except PermissionError:  # its delete is in flight: WindowsFileLock polls on
                time.sleep(0.005)
                continue
            try:
                locking(fd, filelocks.LK_NBLCK, 1)
                return fd
            except PermissionError:
                os.close(fd)
                time.sleep(0.005)
        raise AssertionError(f"{path} was never free")

    def release(fd: int) -> None:
        locking(fd, filelocks.LK_UNLCK, 1)
        os.close(fd)
        with contextlib.suppress(OSError):  # a poller holds it open: WindowsFileLock swallows
            os.remove(path)

    return acquire, release


def _run_threads(target: Callable[[int], None], count: int) -> None:
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread never finished"
    assert errors == [], errors[:3]


# The lock file's own opens and deletes race by nature (each poller opens it unordered).
@pytest.mark.ocirace(expect_races=True)
def test_a_polling_storm_serialises_what_the_file_lock_protects(model: RaceModel) -> None:
    # filelock's 100-thread tests, scaled down past the storm threshold (four pollers):
    # the storm makes pollers wait for releases, and what each holder does under the
    # lock is still ordered by it: no race on the data, and no update lost.
    os.makedirs("storm", exist_ok=True)
    acquire, release = _windows_file_lock("storm\\app.lock")
    with open("storm\\count", "w") as counter:
        counter.write("0")

    def work(_index: int) -> None:
        for _ in range(3):
            fd = acquire()
            try:
                with open("storm\\count") as counter:
                    value = int(counter.read())
                with open("storm\\count", "w") as counter:
                    counter.write(str(value + 1))
            finally:
                release(fd)

    _run_threads(work, 12)
    with open("storm\\count") as counter:
        assert counter.read() == "36"
    assert [r for r in model.races if r.key.endswith("count")] == []


@pytest.mark.ocirace(expect_races=True)
def test_a_real_race_beside_a_stormed_file_lock_is_still_reported(model: RaceModel) -> None:
    # The storm only delays pollers; it orders nothing. A publish done after the lock was
    # released races with the others' and is failed as on Windows.
    os.makedirs("storm", exist_ok=True)
    acquire, release = _windows_file_lock("storm\\app.lock")
    failed: list[OSError] = []

    def work(index: int) -> None:
        release(acquire())
        with open(f"storm\\blob.{index}", "w") as temp:
            temp.write("x")
        try:
            os.replace(f"storm\\blob.{index}", "storm\\blob")  # outside the lock
        except PermissionError as exc:
            failed.append(exc)

    _run_threads(work, 12)
    assert any(r.rule == "concurrent-publish" for r in model.races)
    assert failed, "no publish was failed as Windows fails it"
