"""Open files inside the simulation read their attributes as pyfakefs' own lookup does."""

from __future__ import annotations

import io
import types
from typing import Any

import pytest
from pyfakefs.fake_file import FakeBinaryFileWrapper, FakeTextFileWrapper
from pyfakefs.fake_open import _OPEN_MODE_MAP, FakeFileOpen
from pyfakefs.helpers import _OpenModes

from pytest_ocirace.fakefs import wrapper_attributes
from pytest_ocirace.fakefs.filesystem import simulate

#: The wrapper's own names (methods, instance attributes, properties), names it hands to
#: the wrapped stream, names of ``io``'s base classes, and names nobody has.
NAMES = (
    "read",
    "write",
    "close",
    "flush",
    "seek",
    "tell",
    "fileno",
    "name",
    "mode",
    "closed",
    "file_object",
    "filedes",
    "_io",
    "encoding",
    "errors",
    "newlines",
    "buffer",
    "readinto",
    "readinto1",
    "detach",
    "getvalue",
    "isatty",
    "readable",
    "writable",
    "seekable",
    "__dict__",
    "__class__",
    "__getattr__",
    "__enter__",
    "no_such_attribute",
)


def _answer(handle: Any, name: str) -> tuple[str, object]:
    """What reading ``name`` gives: a value (methods by their function), or the error."""
    try:
        value = getattr(handle, name)
    except Exception as exc:  # compared by type and message
        return ("error", (type(exc), str(exc)))
    function = getattr(value, "__func__", None)
    if function is not None:
        return ("method", (function, getattr(value, "__self__", None) is handle))
    if callable(value) and hasattr(value, "__self__"):
        return ("bound", (getattr(value, "__name__", None), type(value.__self__)))
    if isinstance(value, types.FunctionType):  # pyfakefs makes some afresh on each read
        return ("function", value.__qualname__)
    if name == "__dict__":
        return ("dict", sorted(value))
    return ("value", value if not isinstance(value, io.IOBase) else type(value))


def _answers_with_and_without(handle: Any) -> tuple[list[Any], list[Any]]:
    ours = [_answer(handle, name) for name in NAMES]
    cls = type(handle)
    patched = vars(cls)["__getattribute__"]
    original = wrapper_attributes._ORIGINALS[cls]
    type.__setattr__(cls, "__getattribute__", original)
    try:
        theirs = [_answer(handle, name) for name in NAMES]
    finally:
        type.__setattr__(cls, "__getattribute__", patched)
    return ours, theirs


@pytest.mark.parametrize("mode", ["rb", "wb", "ab+", "r+b"])
def test_the_file_object_under_open_answers_every_name_as_pyfakefs_would(mode: str) -> None:
    # open() returns CPython's io objects (buffered.py) over one pyfakefs binary object.
    with simulate() as sim:
        with open("data.txt", "w", encoding="utf-8") as setup:
            setup.write("line one\nline two\n")
        with open("data.txt", mode) as stream:
            handle = sim.fs.get_open_file(stream.fileno())
            assert type(handle) is FakeBinaryFileWrapper
            _check_answers(handle, mode)


@pytest.mark.parametrize("mode", ["r", "w", "a+"])
def test_a_text_file_object_answers_every_name_as_pyfakefs_would(mode: str) -> None:
    # pyfakefs' text objects: what its open() returns on a filesystem with no simulation,
    # and (asked with explicit open modes, as pyfakefs' own os functions ask) inside one.
    with simulate() as sim:
        with open("data.txt", "w", encoding="utf-8") as setup:
            setup.write("line one\nline two\n")
        modes = _OpenModes(*_OPEN_MODE_MAP[mode])
        handle = FakeFileOpen(sim.fs).call("data.txt", mode, open_modes=modes)
        try:
            assert type(handle) is FakeTextFileWrapper
            _check_answers(handle, mode)
        finally:
            handle.close()


def _check_answers(handle: Any, mode: str) -> None:
    handle.instance_attribute = 42
    ours, theirs = _answers_with_and_without(handle)
    assert ours == theirs
    assert getattr(handle, "instance_attribute") == 42  # noqa: B009
    if "r" in mode:
        assert handle.read()[:4] in ("line", b"line")


def test_the_lookup_is_the_direct_one_only_while_a_simulation_runs() -> None:
    before = {cls: vars(cls)["__getattribute__"] for cls in wrapper_attributes._ORIGINALS}
    with simulate():
        for cls in before:
            assert vars(cls)["__getattribute__"] is wrapper_attributes._getattribute
    for cls, original in before.items():
        assert vars(cls)["__getattribute__"] is original
