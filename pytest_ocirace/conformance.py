"""The Windows decision table as runnable scenarios, against the simulation or a real OS.

The simulation is only as good as its agreement with Windows. Each row of
``docs/windows-semantics.md`` is a :class:`Scenario` here: a few file operations in a fresh
directory and the outcome Windows gives (exception class, errno, winerror, message, or
success plus a check). ``python -m pytest_ocirace.conformance`` runs them on the machine it
is started on (on Windows: against NTFS) or, with ``--simulate``, inside the simulation,
and prints every row where the outcome differs from the table. Our own tests run the same
scenarios inside the simulation, so the table, the docs and the simulation cannot drift.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

__all__ = ["SCENARIOS", "Outcome", "Scenario", "main", "run_all", "run_scenario"]


@dataclass(frozen=True)
class Outcome:
    """What a scenario's last step did: raised (class, errno, winerror, text) or returned."""

    error_class: str | None = None
    errno: int | None = None
    winerror: int | None = None
    message: str | None = None
    result: object = None

    def describe(self) -> str:
        if self.error_class is None:
            return f"success ({self.result!r})"
        return f"{self.error_class}(errno={self.errno}, winerror={self.winerror}): {self.message}"


def _ok(result: object = None) -> Outcome:
    return Outcome(result=result)


def _err(cls: str, err: int, winerror: int | None, message: str) -> Outcome:
    return Outcome(cls, err, winerror, message)


@dataclass(frozen=True)
class Scenario:
    """One row of the decision table or one name rule."""

    id: str
    title: str
    action: Callable[[], object]
    expected: Outcome
    #: Simulation options the row needs (rows that are options of the simulation).
    options: dict[str, object] = field(default_factory=dict)
    #: Why the row cannot run on this machine, or None.
    needs: Callable[[], str | None] = lambda: None
    unverified: bool = False


# -- helpers used inside scenarios (they run with the current directory set to a fresh one)


def _write(name: str, data: bytes = b"data") -> None:
    with open(name, "wb") as handle:
        handle.write(data)


def _read(name: str) -> bytes:
    with open(name, "rb") as handle:
        return handle.read()


def _o_temporary() -> int:
    value = getattr(os, "O_TEMPORARY", None)
    if value is None:
        raise RuntimeError("os.O_TEMPORARY is missing: not Windows and not simulated")
    return int(value)


def _other_volume() -> str | None:
    """A writable directory on another drive, for row 14."""
    if os.environ.get("OCIRACE_OTHER_VOLUME"):
        return os.environ["OCIRACE_OTHER_VOLUME"]
    return "D:\\" if _simulated() else None


def _simulated() -> bool:
    return type(os).__name__ != "module"


# -- the rows ------------------------------------------------------------------------------


def _row1() -> object:
    _write("tmp", b"new")
    os.rename("tmp", "blob")
    return _read("blob")


def _row2() -> object:
    _write("tmp")
    _write("blob")
    os.rename("tmp", "blob")
    return None


def _row3() -> object:
    _write("tmp", b"new")
    _write("blob", b"old")
    os.replace("tmp", "blob")
    return (_read("blob"), os.path.exists("tmp"))


def _row4() -> object:
    _write("tmp")
    _write("blob")
    with open("blob", "rb"):
        os.replace("tmp", "blob")
        return None


def _row4_unchanged() -> object:
    _write("tmp", b"new")
    _write("blob", b"old")
    with open("blob", "rb"), suppress(PermissionError):
        os.replace("tmp", "blob")
    return (_read("blob"), _read("tmp"))


def _row7() -> object:
    _write("blob", b"old")
    with open("tmp", "wb") as handle:
        handle.write(b"new")
        try:
            os.replace("tmp", "blob")  # noqa: ORC005 - row 7 is this very mistake
            return None
        finally:
            assert _read("blob") == b"old", "a failed replace must leave the target alone"


def _row8() -> object:
    fd = os.open("tmp", os.O_RDWR | os.O_CREAT | _o_temporary())
    os.write(fd, b"new")
    os.replace("tmp", "blob")
    present_while_open = os.path.exists("blob")
    os.close(fd)
    return (present_while_open, os.path.exists("blob"))


def _row9() -> object:
    _write("tmp")
    os.mkdir("blob")
    os.rename("tmp", "blob")
    return None


def _row10() -> object:
    _write("tmp")
    os.mkdir("blob")
    os.replace("tmp", "blob")
    return None


def _row11() -> object:
    os.mkdir("tmp")
    _write("blob")
    os.replace("tmp", "blob")
    return None


def _row12() -> object:
    _write("tmp")
    _write("blob")
    os.chmod("blob", stat.S_IREAD)
    os.replace("tmp", "blob")
    return None


def _row13() -> object:
    fd = os.open("blob", os.O_RDWR | os.O_CREAT | _o_temporary())
    try:
        os.remove("blob")  # allowed: the only handle shares DELETE; the name lingers
        with open("tmp", "wb") as handle:
            handle.write(b"new")
        os.replace("tmp", "blob")
        return None
    finally:
        os.close(fd)


def _row14() -> object:
    other = _other_volume()
    assert other is not None
    _write("tmp")
    os.rename("tmp", os.path.join(other, "blob"))
    return None


def _row15() -> object:
    _write("tmp")
    os.rename("tmp", "blob?")
    return None


def _row16() -> object:
    _write("tmp")
    os.rename("tmp", "b" * 255)
    return None


def _row17() -> object:
    _write("blob")
    return open("blob", "x")


def _row18() -> object:
    _write("tmp")
    _write("blob")
    os.link("tmp", "blob")
    return None


def _row19() -> object:
    _write("blob")
    with open("blob", "rb"):
        os.remove("blob")
        return None


def _row20() -> object:
    fd = os.open("blob", os.O_RDWR | os.O_CREAT | _o_temporary())
    try:
        os.remove("blob")
        return "blob" in os.listdir(".")
    finally:
        os.close(fd)


def _name_stream() -> object:
    _write("sha256:abc", b"hidden")
    return (sorted(os.listdir(".")), _read("sha256"), _read("sha256:abc"))


def _name_stream_rename() -> object:
    _write("tmp")
    os.rename("tmp", "sha256:abc")  # noqa: ORC007 - the name rule under test
    return None


def _name_reserved() -> object:
    _write("tmp")
    os.rename("tmp", "nul")
    return None


def _name_trailing() -> object:
    _write("blob. .", b"x")
    return (sorted(os.listdir(".")), os.path.exists("blob"))


def _name_case() -> object:
    _write("ABC")
    _write("tmp")
    os.rename("tmp", "abc")
    return None


def _name_max_path_mkdir() -> object:
    base = os.getcwd()
    os.mkdir(os.path.join(base, "d" * (248 - len(base) - 1)))
    return None


def _name_named_temporary() -> object:
    with tempfile.NamedTemporaryFile() as handle:
        return open(handle.name, "rb")


def _long_paths_enabled() -> str | None:
    if _simulated() or os.name != "nt":
        return None
    try:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        with winreg.OpenKey(  # type: ignore[attr-defined,unused-ignore]
            winreg.HKEY_LOCAL_MACHINE,  # type: ignore[attr-defined,unused-ignore]
            r"SYSTEM\CurrentControlSet\Control\FileSystem",
        ) as key:
            value = winreg.QueryValueEx(key, "LongPathsEnabled")[0]  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return None
    return "long paths are enabled on this machine (LongPathsEnabled=1)" if value else None


def _needs_other_volume() -> str | None:
    if _other_volume() is None:
        return "needs a second volume: set OCIRACE_OTHER_VOLUME to a directory on another drive"
    return None


_ACCESS = "Access is denied"
_SHARING = "The process cannot access the file because it is being used by another process"
_EXISTS = "Cannot create a file when that file already exists"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("1", "rename, target absent", _row1, _ok(b"new")),
    Scenario(
        "2",
        "os.rename onto an existing file",
        _row2,
        _err("FileExistsError", 17, 183, f"[WinError 183] {_EXISTS}: 'tmp' -> 'blob'"),
    ),
    Scenario("3", "os.replace onto a closed file", _row3, _ok((b"new", False))),
    Scenario(
        "4",
        "os.replace onto a file open elsewhere",
        _row4,
        _err("PermissionError", 13, 5, f"[WinError 5] {_ACCESS}: 'tmp' -> 'blob'"),
    ),
    Scenario("4b", "a failed replace changes nothing", _row4_unchanged, _ok((b"old", b"new"))),
    Scenario(
        "7",
        "os.replace whose source is still open",
        _row7,
        _err("PermissionError", 13, 32, f"[WinError 32] {_SHARING}: 'tmp' -> 'blob'"),
    ),
    Scenario(
        "8",
        "rename of an O_TEMPORARY source; delete-on-close follows it",
        _row8,
        _ok((True, False)),
        unverified=True,
    ),
    Scenario(
        "9",
        "os.rename onto an existing directory",
        _row9,
        _err("FileExistsError", 17, 183, f"[WinError 183] {_EXISTS}: 'tmp' -> 'blob'"),
    ),
    Scenario(
        "10",
        "os.replace onto an existing directory",
        _row10,
        _err("PermissionError", 13, 5, f"[WinError 5] {_ACCESS}: 'tmp' -> 'blob'"),
    ),
    Scenario(
        "11",
        "os.replace of a directory onto a file",
        _row11,
        _err("PermissionError", 13, 5, f"[WinError 5] {_ACCESS}: 'tmp' -> 'blob'"),
        unverified=True,
    ),
    Scenario(
        "12",
        "os.replace onto a read-only file",
        _row12,
        _err("PermissionError", 13, 5, f"[WinError 5] {_ACCESS}: 'tmp' -> 'blob'"),
    ),
    Scenario(
        "13",
        "os.replace onto a delete-pending name (classic delete)",
        _row13,
        _err("PermissionError", 13, 5, f"[WinError 5] {_ACCESS}: 'tmp' -> 'blob'"),
        options={"delete_semantics": "classic"},
    ),
    Scenario(
        "13p",
        "os.replace onto a deleted-while-open name (POSIX delete)",
        _row13,
        _ok(None),
        options={"delete_semantics": "posix"},
    ),
    Scenario(
        "14",
        "rename to another volume",
        _row14,
        _err(
            "OSError",
            18,
            17,
            # The target's spelling depends on the volume used: compare up to it.
            "[WinError 17] The system cannot move the file to a different disk drive: 'tmp' -> ",
        ),
        needs=_needs_other_volume,
    ),
    Scenario(
        "15",
        "invalid character in a rename target",
        _row15,
        _err(
            "OSError",
            22,
            123,
            "[WinError 123] The filename, directory name, or volume label syntax is "
            "incorrect: 'tmp' -> 'blob?'",
        ),
    ),
    Scenario(
        "16",
        "path over MAX_PATH",
        _row16,
        _err(
            "FileNotFoundError",
            2,
            206,
            f"[WinError 206] The filename or extension is too long: 'tmp' -> '{'b' * 255}'",
        ),
        needs=_long_paths_enabled,
    ),
    Scenario(
        "17",
        "exclusive create of an existing name (C runtime: errno only)",
        _row17,
        _err("FileExistsError", 17, None, "[Errno 17] File exists: 'blob'"),
    ),
    Scenario(
        "18",
        "os.link onto an existing name",
        _row18,
        _err("FileExistsError", 17, 183, f"[WinError 183] {_EXISTS}: 'tmp' -> 'blob'"),
    ),
    Scenario(
        "19",
        "os.remove of a file open without DELETE sharing",
        _row19,
        _err("PermissionError", 13, 32, f"[WinError 32] {_SHARING}: 'blob'"),
    ),
    Scenario(
        "20",
        "os.remove of a file held with DELETE sharing: the name lingers (classic)",
        _row20,
        _ok(True),
        options={"delete_semantics": "classic"},
    ),
    Scenario(
        "20p",
        "os.remove of a file held with DELETE sharing: the name goes (POSIX delete)",
        _row20,
        _ok(False),
        options={"delete_semantics": "posix"},
    ),
    Scenario(
        "N1",
        "':' in open() creates an alternate data stream",
        _name_stream,
        _ok((["sha256"], b"", b"hidden")),
    ),
    Scenario(
        "N2",
        "':' in a rename target",
        _name_stream_rename,
        _err(
            "OSError",
            22,
            123,
            "[WinError 123] The filename, directory name, or volume label syntax is "
            "incorrect: 'tmp' -> 'sha256:abc'",
        ),
    ),
    Scenario(
        "N3",
        "rename onto a reserved device name",
        _name_reserved,
        _err(
            "OSError",
            22,
            123,
            "[WinError 123] The filename, directory name, or volume label syntax is "
            "incorrect: 'tmp' -> 'nul'",
        ),
        unverified=True,
    ),
    Scenario(
        "N4",
        "trailing dots and spaces are stripped",
        _name_trailing,
        _ok((["blob"], True)),
    ),
    Scenario(
        "N5",
        "names are case-insensitive",
        _name_case,
        _err("FileExistsError", 17, 183, f"[WinError 183] {_EXISTS}: 'tmp' -> 'abc'"),
    ),
    Scenario(
        "N6",
        "directory path over 248 characters",
        _name_max_path_mkdir,
        _err("FileNotFoundError", 2, 206, "[WinError 206] The filename or extension is too long"),
        needs=_long_paths_enabled,
        unverified=True,
    ),
    Scenario(
        "N7",
        "NamedTemporaryFile(delete=True) cannot be reopened by name",
        _name_named_temporary,
        _err("PermissionError", 13, None, "[Errno 13] Permission denied"),
    ),
)


def _outcome(action: Callable[[], object]) -> Outcome:
    try:
        result = action()
    except OSError as exc:
        return Outcome(
            type(exc).__name__,
            exc.errno,
            getattr(exc, "winerror", None),
            str(exc),
        )
    if hasattr(result, "close"):
        result.close()
        result = "<file>"
    return Outcome(result=result)


def _matches(expected: Outcome, actual: Outcome) -> bool:
    if expected.error_class is None:
        return actual.error_class is None and actual.result == expected.result
    return (
        expected.error_class == actual.error_class
        and expected.errno == actual.errno
        and expected.winerror == actual.winerror
        and actual.message is not None
        and expected.message is not None
        and actual.message.startswith(expected.message)
    )


@contextmanager
def _fresh_directory(root: str) -> Iterator[None]:
    previous = os.getcwd()
    folder = tempfile.mkdtemp(prefix="oc-", dir=root)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
        shutil.rmtree(folder, onerror=_make_writable)


def _make_writable(function: Callable[..., object], path: str, _info: object) -> None:
    try:
        os.chmod(path, stat.S_IWRITE)
        function(path)
    except OSError:
        pass


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    actual: Outcome | None
    skipped: str | None = None

    @property
    def agrees(self) -> bool:
        return self.actual is not None and _matches(self.scenario.expected, self.actual)


def run_scenario(scenario: Scenario, *, simulate: bool) -> Result:
    """Run one scenario in a fresh directory (inside a new simulation if ``simulate``)."""
    if simulate:
        from pytest_ocirace.fakefs.filesystem import simulate as simulation
        from pytest_ocirace.winrules.options import SimulationOptions

        options = SimulationOptions().merged(scenario.options, source=f"scenario {scenario.id}")
        with simulation(options) as sim, _fresh_directory(sim.options.workdir):
            reason = scenario.needs()
            if reason:
                return Result(scenario, None, reason)
            return Result(scenario, _outcome(scenario.action))
    reason = scenario.needs()
    if reason:
        return Result(scenario, None, reason)
    if scenario.options.get("delete_semantics") == "posix" and not os.environ.get(
        "OCIRACE_POSIX_DELETE"
    ):
        return Result(scenario, None, "POSIX delete row: set OCIRACE_POSIX_DELETE=1 to run it")
    with _fresh_directory(tempfile.gettempdir()):
        return Result(scenario, _outcome(scenario.action))


def run_all(*, simulate: bool, scenarios: Sequence[Scenario] = SCENARIOS) -> list[Result]:
    return [run_scenario(scenario, simulate=simulate) for scenario in scenarios]


def main(argv: Sequence[str] | None = None, scenarios: Sequence[Scenario] = SCENARIOS) -> int:
    """Print the rows where this machine (or the simulation) disagrees with the table."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_ocirace.conformance",
        description="Check the Windows decision table against this machine or the simulation.",
    )
    parser.add_argument(
        "--simulate", action="store_true", help="run inside the simulation (any OS)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="print every row")
    args = parser.parse_args(argv)
    if not args.simulate and os.name != "nt":
        print(
            "conformance: this machine is not Windows; run it on Windows, or pass --simulate "
            "to check the simulation",
            file=sys.stderr,
        )
        return 2
    target = "simulation" if args.simulate else f"this machine ({sys.platform})"
    results = run_all(simulate=args.simulate, scenarios=scenarios)
    disagreements = 0
    for result in results:
        scenario = result.scenario
        label = f"row {scenario.id:>3} {scenario.title}"
        if result.skipped:
            if args.verbose:
                print(f"SKIP     {label}: {result.skipped}")
            continue
        assert result.actual is not None
        if result.agrees:
            if args.verbose:
                print(f"OK       {label}")
            continue
        disagreements += 1
        flag = " (unverified row)" if scenario.unverified else ""
        print(f"DISAGREE {label}{flag}")
        print(f"         table:  {scenario.expected.describe()}")
        print(f"         actual: {result.actual.describe()}")
    ran = sum(1 for result in results if not result.skipped)
    print(f"conformance against {target}: {ran} rows run, {disagreements} disagree")
    return 1 if disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
