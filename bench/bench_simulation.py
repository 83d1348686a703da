"""What the simulation costs a test, next to pyfakefs' ``fs`` fixture and ``tmp_path``.

Claims (docs/performance.md, "Simulation"): starting the simulation for a test costs no
more than pyfakefs' ``fs`` fixture, and one filesystem operation costs at most what the same
operation costs on pyfakefs in its Linux mode (the host's default here: Windows rules for
free). Each step (open/write/close, stat, exists, listdir, rename, replace onto an existing
file, mkdir, rmdir, remove, a lock file, and zarr's chunk store: publishes into nested
folders, reads, a walk and an ``rmtree`` of the store) runs on the real disk, pyfakefs'
Linux and Windows modes, the simulation alone, with a do-nothing observer and with the
race model (single thread, so it records but never finds a race). All run in this one
process, interleaved round by round, and the script prints medians and ratios (this
machine is noisy: compare ratios, not absolute numbers).

    python bench/bench_simulation.py            # full run (about a minute)
    python bench/bench_simulation.py --quick    # a few seconds, for development
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

from pyfakefs.fake_filesystem import OSType
from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate
from pytest_ocirace.racemodel.clocks import Tracker
from pytest_ocirace.racemodel.events import Answer, FsOp
from pytest_ocirace.racemodel.model import RaceModel
from pytest_ocirace.winrules.options import SimulationOptions


class NullObserver:
    def before(self, op: FsOp) -> Answer:
        return Answer.PROCEED

    def after(self, op: FsOp, error: BaseException | None) -> None:
        return None


def setup_tmp_path() -> None:
    folder = tempfile.mkdtemp(prefix="bench-")
    shutil.rmtree(folder)


def setup_fs() -> None:
    patcher = Patcher()
    patcher.setUp()
    patcher.tearDown()


def setup_fs_windows() -> None:
    patcher = Patcher()
    patcher.setUp()
    assert patcher.fs is not None
    patcher.fs.os = OSType.WINDOWS
    patcher.tearDown()


def setup_simulation() -> None:
    # What the winfs fixture does: its own pyfakefs patcher, Windows from the start.
    with simulate(SimulationOptions()):
        pass


def _publish_loop(count: int) -> None:
    for _ in range(count):
        with open("tmp", "wb") as handle:
            handle.write(b"hello world")
        os.replace("tmp", "blob")


def _write(count: int) -> None:
    for i in range(count):
        with open(f"f{i}", "wb") as handle:
            handle.write(b"hello world")


def _stat(count: int) -> None:
    for i in range(count):
        os.stat(f"f{i}")


def _exists(count: int) -> None:
    for i in range(count):
        os.path.exists(f"f{i}")
        os.path.exists(f"missing{i}")


def _listdir(count: int) -> None:
    for _ in range(count):
        os.listdir("small")


def _rename(count: int) -> None:
    for i in range(count):
        os.rename(f"f{i}", f"g{i}")


def _replace_existing(count: int) -> None:
    # g0 onto g1 (which exists), g1 onto g2, ...: every call replaces an existing file.
    for i in range(count - 1):
        os.replace(f"g{i}", f"g{i + 1}")


def _mkdir(count: int) -> None:
    for i in range(count):
        os.mkdir(f"d{i}")


def _rmdir(count: int) -> None:
    for i in range(count):
        os.rmdir(f"d{i}")


def _remove(count: int) -> None:
    for i in range(count):
        os.remove(f"h{i}")


def _lock_file(count: int) -> None:
    # What filelock's SoftFileLock does per acquisition, uncontended: look at the lock
    # file, make its directory (it exists), create it exclusively, close and delete it.
    for _ in range(count):
        with contextlib.suppress(FileNotFoundError):
            os.stat("locks/app.lock")
        try:
            os.mkdir("locks")
        except FileExistsError:
            os.path.isdir("locks")
        fd = os.open("locks/app.lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC)
        os.close(fd)
        os.remove("locks/app.lock")


def _chunk_folder(i: int) -> str:
    # zarr's NestedDirectoryStore: a chunk key "3.1" is the file store/3/1, folders made
    # on demand; here seven folders of two levels.
    return f"store/{i % 3}/{i % 7}"


def _chunk_publish(count: int) -> None:
    # zarr's DirectoryStore.__setitem__: makedirs, a uuid-named temporary file, os.replace.
    for i in range(count):
        folder = _chunk_folder(i)
        os.makedirs(folder, exist_ok=True)
        temporary = f"{folder}/.{i}.8f3a0c2e.partial"
        with open(temporary, "wb") as handle:
            handle.write(b"chunk")
        os.replace(temporary, f"{folder}/{i}")  # noqa: ORC001, ORC002 - zarr's write, measured


def _chunk_read(count: int) -> None:
    # DirectoryStore.__contains__ then __getitem__: isfile, then open and read.
    for i in range(count):
        path = f"{_chunk_folder(i)}/{i}"
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                handle.read()


def _chunk_walk(count: int) -> None:
    # DirectoryStore's keys (os.walk) and getsize (scandir) of the whole store, once.
    found = sum(len(files) for _, _, files in os.walk("store"))
    with os.scandir("store/0/0") as entries:
        found += sum(1 for entry in entries if entry.is_file())
    assert found >= count


def _chunk_rmtree(count: int) -> None:
    # DirectoryStore.rmdir / clear.
    shutil.rmtree("store")


def _prepare(count: int) -> None:
    """What the timed steps need and do not time: the listed directory, files to remove."""
    os.mkdir("small")
    for i in range(10):
        with open(f"small/s{i}", "wb"):
            pass
    for i in range(count):
        with open(f"h{i}", "wb"):
            pass


#: filelock's uncontended acquisition, per file operation (six per acquisition).
LOCK_STEP = "lock file: stat, mkdir, O_EXCL, close, rm / 6"
#: The timed steps, in order (each uses what the ones before it left).
STEPS: dict[str, Callable[[int], None]] = {
    "publish (open wb, write, close, replace)": _publish_loop,
    "open wb + write + close (new file)": _write,
    "os.stat": _stat,
    "os.path.exists (present + absent) / 2": _exists,
    "os.listdir (10 entries)": _listdir,
    "os.rename (fresh name)": _rename,
    "os.replace onto an existing file": _replace_existing,
    "os.mkdir": _mkdir,
    "os.rmdir": _rmdir,
    "os.remove": _remove,
    LOCK_STEP: _lock_file,
    "chunk store: makedirs, write temp, replace": _chunk_publish,
    "chunk store: isfile, open, read": _chunk_read,
    "chunk store: os.walk + scandir / chunk": _chunk_walk,
    "chunk store: rmtree / chunk": _chunk_rmtree,
}
#: Calls per step iteration (exists makes two).
CALLS = {name: 2 if name.startswith("os.path.exists") else 1 for name in STEPS}
CALLS[LOCK_STEP] = 6
#: The chunk store's steps, per chunk: a publish is makedirs, open, write, close, replace.
CALLS["chunk store: makedirs, write temp, replace"] = 4
CALLS["chunk store: isfile, open, read"] = 2


def _timed_steps(count: int) -> dict[str, float]:
    """Seconds per call of each step, in the current directory of the current mode."""
    _prepare(count)
    result = {}
    for name, step in STEPS.items():
        start = time.perf_counter()
        step(count)
        calls = (count - 1 if step is _replace_existing else count) * CALLS[name]
        result[name] = (time.perf_counter() - start) / calls
    return result


def steps_tmp_path(count: int) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="bench-")
    previous = os.getcwd()
    os.chdir(folder)
    try:
        return _timed_steps(count)
    finally:
        os.chdir(previous)
        shutil.rmtree(folder)


def _steps_fake(count: int, windows: bool, simulate: bool, observer: str) -> dict[str, float]:
    patcher = Patcher()
    patcher.setUp()
    assert patcher.fs is not None
    simulation = None
    try:
        if simulate:
            simulation = WindowsFilesystem.attach(patcher.fs, SimulationOptions())
            if observer == "null":
                simulation.observer = NullObserver()
            elif observer == "model":
                simulation.observer = RaceModel(Tracker())
        else:
            if windows:
                patcher.fs.os = OSType.WINDOWS
            patcher.fs.create_dir("/work")
            os.chdir("/work")
        return _timed_steps(count)
    finally:
        if simulation is not None:
            simulation.detach()
        patcher.tearDown()


def _median_ms(function: Callable[[], None], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (development)")
    args = parser.parse_args()
    setup_rounds, op_count, op_rounds = (10, 100, 3) if args.quick else (40, 300, 7)

    print(f"setup + teardown of one test (median of {setup_rounds}, ms)")
    setups = {
        "tmp_path (mkdtemp + rmtree)": setup_tmp_path,
        "pyfakefs fs fixture (host OS)": setup_fs,
        "pyfakefs fs fixture + Windows": setup_fs_windows,
        "ocirace simulation (winfs)": setup_simulation,
    }
    for function in setups.values():  # warm the import and module caches
        function()
    setup_results: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(setup_rounds):
        for name, function in setups.items():
            start = time.perf_counter()
            function()
            setup_results[name].append((time.perf_counter() - start) * 1000)
    medians = {name: statistics.median(values) for name, values in setup_results.items()}
    for name, value in medians.items():
        print(f"  {name:<34} {value:8.2f}")
    ratio = medians["ocirace simulation (winfs)"] / medians["pyfakefs fs fixture (host OS)"]
    print(f"  simulation / fs fixture: {ratio:.2f}x  (target <= 1.0x)")
    windows = medians["ocirace simulation (winfs)"] / medians["pyfakefs fs fixture + Windows"]
    print(f"  simulation / fs fixture switched to Windows: {windows:.2f}x")

    print(f"\nper call, median of {op_rounds} rounds of {op_count} calls per step (us)")
    modes: dict[str, Callable[[int], dict[str, float]]] = {
        "real disk": steps_tmp_path,
        "pyfakefs Linux": lambda n: _steps_fake(n, False, False, ""),
        "pyfakefs Windows": lambda n: _steps_fake(n, True, False, ""),
        "simulation": lambda n: _steps_fake(n, True, True, ""),
        "sim + null observer": lambda n: _steps_fake(n, True, True, "null"),
        "sim + race model": lambda n: _steps_fake(n, True, True, "model"),
    }
    samples: dict[str, dict[str, list[float]]] = {
        mode: {step: [] for step in STEPS} for mode in modes
    }
    for _ in range(op_rounds):  # interleaved: a burst of load hits every mode alike
        for mode, run in modes.items():
            gc.collect()  # the previous mode's garbage is not this mode's cost
            for step, seconds in run(op_count).items():
                samples[mode][step].append(seconds * 1e6)
    per_call = {
        mode: {step: statistics.median(values) for step, values in steps.items()}
        for mode, steps in samples.items()
    }
    header = "".join(f"{mode:>20}" for mode in modes)
    print(f"  {'step':<42}{header}{'sim/Linux':>11}{'sim/Win':>9}{'model/Linux':>13}")
    for step in STEPS:
        row = "".join(f"{per_call[mode][step]:20.1f}" for mode in modes)
        linux = per_call["pyfakefs Linux"][step]
        sim = per_call["simulation"][step]
        print(
            f"  {step:<42}{row}{sim / linux:10.2f}x"
            f"{sim / per_call['pyfakefs Windows'][step]:8.2f}x"
            f"{per_call['sim + race model'][step] / linux:12.2f}x"
        )
    totals = {mode: sum(per_call[mode].values()) for mode in modes}
    row = "".join(f"{totals[mode]:20.1f}" for mode in modes)
    linux = totals["pyfakefs Linux"]
    print(
        f"  {'all steps, one call each':<42}{row}{totals['simulation'] / linux:10.2f}x"
        f"{totals['simulation'] / totals['pyfakefs Windows']:8.2f}x"
        f"{totals['sim + race model'] / linux:12.2f}x"
    )
    print(
        f"  simulation / pyfakefs Linux, all steps: {totals['simulation'] / linux:.2f}x"
        "  (target <= 1.0x)"
    )
    lock = {mode: per_call[mode][LOCK_STEP] for mode in modes}
    print(
        f"  a lock-file acquisition (filelock's floor): pyfakefs Linux / real disk"
        f" {lock['pyfakefs Linux'] / lock['real disk']:.1f}x, simulation with the race model"
        f" / real disk {lock['sim + race model'] / lock['real disk']:.1f}x"
    )


if __name__ == "__main__":
    main()
