"""Both backends answer every scenario as the one decision table does.

Each scenario puts a source and a target name in a state (absent, in a missing directory,
a file, read-only, a directory, a directory with entries, a file this process holds open)
and runs one operation. The fake filesystem runs it for real inside the simulation; the
real-disk backend's judge is asked, on real files in ``tmp_path`` (a held file is really
open in this process and announced, as a participant announces it). Both verdicts must be
the table's verdict on the intended state: a backend that decides anything on its own, or
reads a name's state wrongly, fails here.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.realdisk.judge import Judge
from pytest_ocirace.winrules import errors
from pytest_ocirace.winrules.decisions import ABSENT, NameState, Request, verdict

#: A verdict in one shape for both backends: None (proceed), ("win", winerror) for Win32
#: calls, ("crt", errno) for ``open()``.
Verdict = tuple[str, int] | None

STATES: dict[str, NameState] = {
    "absent": ABSENT,
    "no-parent": NameState(parent_missing=True),
    "file": NameState(exists=True),
    "read-only": NameState(exists=True, read_only=True),
    "dir": NameState(exists=True, is_dir=True),
    "full-dir": NameState(exists=True, is_dir=True, has_entries=True),
    "held": NameState(exists=True, open_handles=1),
}

OPEN_KINDS = {"open-read": Request("open"), "open-write": Request("open", writing=True)}
OPEN_KINDS["open-exclusive"] = Request("open", writing=True, exclusive=True)


class Scenario(NamedTuple):
    kind: str
    source: str
    target: str

    @property
    def id(self) -> str:
        if self.kind in ("rename", "replace", "link"):
            return f"{self.kind}-{self.source}-onto-{self.target}"
        return f"{self.kind}-{self.target}"

    def request(self) -> Request:
        return OPEN_KINDS.get(self.kind) or Request(self.kind)

    def expected(self) -> Verdict:
        code = verdict(self.request(), STATES[self.target], STATES[self.source])
        if code is None:
            return None
        if self.kind.startswith("open"):
            return ("crt", errors.WINERROR_TO_ERRNO[code])
        return ("win", code)


def _host_decides(kind: str, source: str, target: str) -> bool:
    """Cases the table leaves to the host (which answers after it, in its own words)."""
    if kind in ("rename", "replace", "link"):
        return target == "no-parent" and source not in ("absent", "no-parent")
    if kind == "rmdir":
        return target not in ("dir", "full-dir")
    if kind.startswith("open"):
        return target == "no-parent" or (target == "absent" and kind == "open-read")
    return False


def _scenarios() -> Iterator[Scenario]:
    sources = ("absent", "no-parent", "file", "read-only", "dir", "held")
    for kind, source, target in itertools.product(("rename", "replace", "link"), sources, STATES):
        if not _host_decides(kind, source, target):
            yield Scenario(kind, source, target)
    for kind in ("remove", "rmdir", *OPEN_KINDS):
        for target in STATES:
            if not _host_decides(kind, "absent", target):
                yield Scenario(kind, "absent", target)


SCENARIOS = list(_scenarios())

_NOT_THERE = "the real disk leaves a missing name to the host (FileNotFoundError, errno 2)"

#: Where the backends differ on purpose, with the reason: each is checked as it is.
DESIGNED = {
    **{(kind, "absent"): _NOT_THERE for kind in ("rename", "replace", "link", "remove")},
    **{(kind, "no-parent"): _NOT_THERE for kind in ("rename", "replace", "link", "remove")},
    # The process mode runs code's POSIX branches, which open directories to fsync them.
    ("open-read", "dir"): "the real disk leaves a directory's open to the host",
    ("open-read", "full-dir"): "the real disk leaves a directory's open to the host",
    ("open-write", "dir"): "the real disk leaves a directory's open to the host",
    ("open-write", "full-dir"): "the real disk leaves a directory's open to the host",
}


def _name(state: str, base: str) -> str:
    return os.path.join("missing", base) if state == "no-parent" else base


@contextmanager
def _made(root: str, state: str, base: str, holder: Any = None) -> Iterator[str]:
    """``base`` under ``root`` in ``state``; ``holder(path, handle)`` announces a held file."""
    path = os.path.join(root, _name(state, base))
    if state in ("file", "read-only", "held"):
        with open(path, "wb") as handle:
            handle.write(b"data")
    if state == "read-only":
        os.chmod(path, 0o444)
    if state in ("dir", "full-dir"):
        os.mkdir(path)
    if state == "full-dir":
        with open(os.path.join(path, "entry"), "wb"):
            pass
    if state != "held":
        yield path
        return
    with open(path, "rb") as handle:
        if holder is not None:
            holder(path, handle)
        yield path


def _run(kind: str, source: str, target: str) -> None:
    if kind == "rename":
        os.rename(source, target)
    elif kind == "replace":
        os.replace(source, target)
    elif kind == "link":
        os.link(source, target)
    elif kind == "remove":
        os.remove(target)
    elif kind == "rmdir":
        os.rmdir(target)
    else:
        mode = {"open-read": "rb", "open-write": "wb", "open-exclusive": "xb"}[kind]
        open(target, mode).close()


def fake_verdict(scenario: Scenario) -> Verdict:
    """Run the scenario in the fake filesystem: the exception it raises, as a verdict."""
    with simulate() as sim, ExitStack() as stack:
        root = sim.options.workdir
        os.mkdir(os.path.join(root, "case"))
        root = os.path.join(root, "case")
        source = stack.enter_context(_made(root, scenario.source, "tmp"))
        target = stack.enter_context(_made(root, scenario.target, "blob"))
        try:
            _run(scenario.kind, source, target)
        except OSError as exc:
            winerror = getattr(exc, "winerror", None)
            return ("crt", exc.errno or 0) if winerror is None else ("win", int(winerror))
        return None


def _op(kind: str, path: str, path2: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "path": path,
        "path2": path2,
        "fd": extra.pop("fd", None),
        "access": extra.pop("access", []),
        "creates": extra.pop("creates", False),
        "exclusive": extra.pop("exclusive", False),
        **extra,
    }


def disk_verdict(scenario: Scenario, root: Path) -> Verdict:
    """Ask the real-disk judge, as a participant announces the operation."""
    judge = Judge()
    me = os.getpid()

    def hold(path: str, handle: Any) -> None:
        answer = judge.before(me, 1, "T", _op("open", path, access=["read"]), [])
        judge.after(me, 1, "T", _op("open", path, fd=handle.fileno(), **answer), True, [])

    with ExitStack() as stack:
        source = stack.enter_context(_made(str(root), scenario.source, "tmp", hold))
        target = stack.enter_context(_made(str(root), scenario.target, "blob", hold))
        kind = scenario.kind
        if kind in ("rename", "replace", "link"):
            op = _op(kind, source, target)
        elif kind.startswith("open"):
            op = _op(
                "open",
                target,
                access=["read"] if kind == "open-read" else ["write"],
                creates=kind != "open-read",
                exclusive=kind == "open-exclusive",
            )
        else:
            op = _op(kind, target)
        error = judge.before(me, 1, "T", op, []).get("error")
        if error is None:
            return None
        if error["crt"]:
            return ("crt", errors.WINERROR_TO_ERRNO[error["winerror"]])
        return ("win", error["winerror"])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_both_backends_give_the_table_s_verdict(scenario: Scenario, tmp_path: Path) -> None:
    expected = scenario.expected()
    fake = fake_verdict(scenario)
    disk = disk_verdict(scenario, tmp_path)
    assert fake == expected, f"the fake filesystem diverges from the table: {fake}"
    side = scenario.target if scenario.kind in ("remove", *OPEN_KINDS) else scenario.source
    if (scenario.kind, side) in DESIGNED:
        assert disk is None, DESIGNED[(scenario.kind, side)]
        return
    assert disk == expected, f"the real-disk judge diverges from the table: {disk}"


def test_the_scenarios_cover_the_table_s_rows() -> None:
    # docs/windows-semantics.md's rows that both backends can set up: 2, 3, 4, 7, 9-12,
    # 17-19, and the remove/rmdir/open rows of directories and missing names.
    ids = {s.id: s.expected() for s in SCENARIOS}
    assert ids["rename-file-onto-file"] == ("win", 183)
    assert ids["replace-file-onto-file"] is None
    assert ids["replace-file-onto-held"] == ("win", 5)
    assert ids["replace-held-onto-absent"] == ("win", 32)
    assert ids["rename-file-onto-dir"] == ("win", 183)
    assert ids["replace-file-onto-dir"] == ("win", 5)
    assert ids["replace-dir-onto-file"] == ("win", 5)
    assert ids["replace-file-onto-read-only"] == ("win", 5)
    assert ids["open-exclusive-file"] == ("crt", 17)
    assert ids["link-file-onto-file"] == ("win", 183)
    assert ids["remove-held"] == ("win", 32)
    assert ids["rmdir-full-dir"] == ("win", 145)
    assert ids["rename-absent-onto-file"] == ("win", 2)
    assert ids["remove-no-parent"] == ("win", 3)
    assert ids["open-write-read-only"] == ("crt", 13)
