"""The fake ``open``'s skipped-module check answers as pyfakefs' own, on the same stacks."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyfakefs import fake_open, helpers

from pytest_ocirace.fakefs import skip_check
from pytest_ocirace.fakefs.locking import ClassPatches

Check = Callable[..., bool]

PYFAKEFS_FILE = os.path.join(helpers.PYFAKEFS_PATH, "fake_open.py")
STDLIB_FILE = os.path.join(helpers.STDLIB_PATH, "shutil.py")
SITE = os.path.join(os.sep, "venv", "site-packages")


def _relay(filename: str, inner: Callable[..., bool]) -> Callable[..., bool]:
    """A function whose frame shows ``filename``, calling ``inner`` with its arguments."""
    namespace: dict[str, Any] = {"inner": inner}
    exec(compile("def relay(*args):\n    return inner(*args)\n", filename, "exec"), namespace)
    relay: Callable[..., bool] = namespace["relay"]
    return relay


def _through(filenames: list[str], check: Check) -> Check:
    """``check`` called through frames of ``filenames``, the first one outermost."""
    function: Check = check
    for filename in reversed(filenames):
        function = _relay(filename, function)
    return function


STACKS = {
    "skipped caller": [os.path.join(SITE, "_pytest", "pathlib.py")],
    "skipped behind pyfakefs and stdlib": [
        os.path.join(SITE, "_pytest", "pathlib.py"),
        STDLIB_FILE,
        PYFAKEFS_FILE,
    ],
    "user caller before a skipped one": [
        os.path.join(SITE, "_pytest", "pathlib.py"),
        os.path.join(SITE, "mine", "code.py"),
    ],
    "frozen frames passed over": ["<frozen importlib._bootstrap>", "<frozen codecs>"],
    "skipped too far out": [
        os.path.join(SITE, "_pytest", "pathlib.py"),
        STDLIB_FILE,
        STDLIB_FILE,
        STDLIB_FILE,
        STDLIB_FILE,
        STDLIB_FILE,
    ],
    "other case": [os.path.join(SITE, "_PyTest", "PathLib.py")],
    "name as a suffix only": [os.path.join(SITE, "not_pytest", "pathlib.py")],
    "pyfakefs test file": [os.path.join(helpers.PYFAKEFS_PATH, "tests", "x_test.py")],
}
SKIP_NAMES: list[set[str]] = [set(), {"_pytest.pathlib"}, {"pathlib", "code"}, {"x_test"}]


@pytest.mark.parametrize("stack", sorted(STACKS))
@pytest.mark.parametrize("skip_names", SKIP_NAMES, ids=["none", "dotted", "short", "tests"])
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_the_same_answer_as_pyfakefs_on_the_same_stack(
    stack: str, skip_names: set[str], case_sensitive: bool
) -> None:
    frames = STACKS[stack]
    ours = _through(frames, skip_check.is_called_from_skipped_module)(skip_names, case_sensitive)
    theirs = _through(frames, helpers.is_called_from_skipped_module)(skip_names, case_sensitive)
    assert ours == theirs


def test_a_skipped_caller_is_found_and_a_user_caller_is_not() -> None:
    # The comparison above could hold with both always False: the cases that differ.
    skipped = _through(STACKS["skipped caller"], skip_check.is_called_from_skipped_module)
    user = _through(
        STACKS["user caller before a skipped one"], skip_check.is_called_from_skipped_module
    )
    assert skipped({"_pytest.pathlib"}, False) is True
    assert user({"_pytest.pathlib"}, False) is False


def test_the_open_code_call_is_recognised_by_its_line(tmp_path: Path) -> None:
    source = tmp_path / "fake_io_like.py"
    source.write_text(
        textwrap.dedent(
            """
            class Io:
                def open_code(self, path):
                    return self._io_module.open_code(path)

            class Elsewhere:
                def open_code(self, path):
                    return self._io_module.open_code(path)  # another line
            """
        )
    )
    namespace: dict[str, Any] = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    answers = []
    for cls in ("Io", "Elsewhere"):
        for check in (
            skip_check.is_called_from_skipped_module,
            helpers.is_called_from_skipped_module,
        ):
            io = namespace[cls]()
            inner = _relay(str(tmp_path / "inner.py"), lambda path, c=check: c(set(), False, True))
            # open_code, then inner, then the lambda: pyfakefs' stack[-4] is open_code.
            io._io_module = type("M", (), {"open_code": staticmethod(inner)})
            answers.append(io.open_code("x"))
    assert answers == [True, True, False, False]


def test_installed_for_the_fake_open_only_and_undone() -> None:
    original = vars(fake_open)["is_called_from_skipped_module"]
    assert skip_check.mirrors(original)
    patches = ClassPatches()
    skip_check.install(patches)
    try:
        assert fake_open.is_called_from_skipped_module is skip_check.is_called_from_skipped_module
    finally:
        patches.undo()
    assert vars(fake_open)["is_called_from_skipped_module"] is original


def test_another_helper_is_left_in_place() -> None:
    def other(skip_names: Any, case_sensitive: bool, check_open_code: bool = False) -> bool:
        return bool(sys.modules)

    assert not skip_check.mirrors(other)
    patches = ClassPatches()
    patches.set(fake_open, "is_called_from_skipped_module", other)
    try:
        skip_check.install(ClassPatches())
        assert fake_open.is_called_from_skipped_module is other
    finally:
        patches.undo()


@pytest.mark.parametrize("case_sensitive", [False, True])
def test_remembered_callers_follow_a_change_of_pyfakefs_prefixes(
    monkeypatch: pytest.MonkeyPatch, case_sensitive: bool
) -> None:
    # Each frame's file is judged once and remembered; another stdlib prefix must judge
    # it again (and the first prefix again after that), as pyfakefs' helper does per call.
    frames = [os.path.join(SITE, "_pytest", "pathlib.py"), os.path.join(SITE, "mine", "x.py")]
    skip_names = {"_pytest.pathlib"}
    stdlib = helpers.STDLIB_PATH

    def both() -> tuple[bool, bool]:
        ours = _through(frames, skip_check.is_called_from_skipped_module)
        theirs = _through(frames, helpers.is_called_from_skipped_module)
        return ours(skip_names, case_sensitive), theirs(skip_names, case_sensitive)

    assert both() == (False, False)  # mine/x.py is the caller
    monkeypatch.setattr(helpers, "STDLIB_PATH", os.path.join(SITE, "mine"))
    assert both() == (True, True)  # mine/x.py is "stdlib" now: pytest's frame is the caller
    monkeypatch.setattr(helpers, "STDLIB_PATH", stdlib)
    assert both() == (False, False)
