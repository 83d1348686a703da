"""pyfakefs' "is this ``open`` called from a skipped module?", without reading source lines.

pyfakefs' fake ``open`` asks :func:`pyfakefs.helpers.is_called_from_skipped_module` on
every call, and with any skip name (pytest's own modules are always among them) that
function takes ``traceback.extract_stack(limit=6)``: a ``FrameSummary`` per frame, each
with its source line looked up through ``linecache`` (a ``stat`` of the file per frame, to
check the cache), about 20-25 us per ``open``. It only reads each frame's file name, and
one frame's name and source line for the ``open_code`` case. This does the same with the
frames themselves: the same frames (the innermost six, this function's own in the place of
pyfakefs' helper), the same tests in the same order, and the one source line read only
where pyfakefs would compare it. ``tests/fakefs/test_skip_check.py`` compares both answers.

Installed with the simulation's class patches (:func:`install`), for the fake ``open``'s
module only (the other callers pass no skip names and return at once); a pyfakefs whose
helper is not the one this mirrors is left alone.
"""

from __future__ import annotations

import linecache
import sys
from types import CodeType, FrameType
from typing import Any

from pyfakefs import fake_open, helpers

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["MIRRORED", "install", "is_called_from_skipped_module", "mirrors"]

_ORIGINAL = helpers.is_called_from_skipped_module

#: What the code of pyfakefs' helper this mirrors (pyfakefs 6.3) holds, its nested code
#: included: its constants and the global names it reads. A helper without all of them is
#: another one, and is left in place.
MIRRORED: frozenset[object] = frozenset(
    {
        "open_code",
        "return self._io_module.open_code(path)",
        "<frozen ",
        "extract_stack",
        "STDLIB_PATH",
        "PYFAKEFS_PATH",
        "PYFAKEFS_TEST_PATHS",
    }
)

#: How many frames pyfakefs' helper looks at (``extract_stack(limit=6)``).
_DEPTH = 6
#: The line of pyfakefs' ``FakeIoModule.open_code`` that calls the real ``open_code``.
_OPEN_CODE_LINE = "return self._io_module.open_code(path)"


def _contents(code: CodeType) -> set[object]:
    """The string constants and names of ``code`` and of the code nested in it."""
    found: set[object] = {name for name in code.co_names}
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            found |= _contents(constant)
        elif isinstance(constant, str):
            found.add(constant)
    return found


def mirrors(function: Any) -> bool:
    """Whether ``function`` is the pyfakefs helper this module's function mirrors."""
    code = getattr(function, "__code__", None)
    return isinstance(code, CodeType) and _contents(code) >= MIRRORED


def is_called_from_skipped_module(
    skip_names: list[str] | set[str], case_sensitive: bool, check_open_code: bool = False
) -> bool:
    """The answer of pyfakefs' helper of the same name (see the module's docstring)."""
    if not skip_names and not check_open_code:
        return False
    # pyfakefs' stack[-2] to stack[-6]: the five frames outside its helper (its own,
    # stack[-1], is always passed over). Not this frame itself: a list of frames held by
    # the frame it lists is a reference cycle, and would keep the callers' locals (the
    # filesystem) for the cyclic collector.
    frames: list[FrameType] = []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and len(frames) < _DEPTH - 1:
        frames.append(frame)
        frame = frame.f_back
    if check_open_code:
        if len(frames) < 3:
            return bool(_ORIGINAL(skip_names, case_sensitive, check_open_code))
        outer = frames[2]  # pyfakefs' stack[-4]
        if outer.f_code.co_name == "open_code" and _line(outer) == _OPEN_CODE_LINE:
            return True
    if not skip_names:
        return False

    prefixes = (case_sensitive, helpers.STDLIB_PATH, helpers.PYFAKEFS_PATH)
    test_paths = helpers.PYFAKEFS_TEST_PATHS
    if _CALLERS.get(_PREFIXES) != (prefixes, test_paths):
        _CALLERS.clear()
        _CALLERS[_PREFIXES] = (prefixes, list(test_paths))
    caller_filename = None
    for outer in frames:
        filename = outer.f_code.co_filename
        is_caller = _CALLERS.get(filename)
        if is_caller is None:
            is_caller = _is_caller(filename, case_sensitive, test_paths)
            if len(_CALLERS) >= _LIMIT:
                _CALLERS.clear()
                _CALLERS[_PREFIXES] = (prefixes, list(test_paths))
            _CALLERS[filename] = is_caller
        if is_caller:
            caller_filename = filename
            break
    if caller_filename:
        # The ``os`` pyfakefs' helper sees (this module's own is the fake one meanwhile).
        host: Any = vars(helpers)["os"]
        caller_module_name = host.path.splitext(caller_filename)[0]
        caller_module_name = caller_module_name.replace(host.sep, ".")
        if any(
            caller_module_name == name or caller_module_name.endswith("." + name)
            for name in skip_names
        ):
            return True
    return False


#: Whether a frame's file is the one pyfakefs takes for the caller, per file name, for
#: the prefixes and test paths stored under :data:`_PREFIXES` (a change of either empties
#: it): a pure function of the name, asked for five frames on every ``open``.
_CALLERS: dict[object, Any] = {}
_PREFIXES = object()
_LIMIT = 4096


def _is_caller(filename: str, case_sensitive: bool, test_paths: list[str]) -> bool:
    """Whether pyfakefs takes this frame's file for the caller: not frozen, stdlib, pyfakefs."""

    def starts_with(path: str, string: str) -> bool:
        if case_sensitive:
            return path.startswith(string)
        return path.lower().startswith(string.lower())

    return (
        not filename.startswith("<frozen ")
        and not starts_with(filename, helpers.STDLIB_PATH)
        and (
            not starts_with(filename, helpers.PYFAKEFS_PATH)
            or any(starts_with(filename, test_path) for test_path in test_paths)
        )
    )


def _line(frame: FrameType) -> str:
    """The frame's source line as ``traceback.FrameSummary.line`` gives it."""
    filename = frame.f_code.co_filename
    linecache.checkcache(filename)
    return linecache.getline(filename, frame.f_lineno, frame.f_globals).strip()


def install(patches: ClassPatches) -> None:
    """The fake ``open``'s check replaced until ``patches`` are undone (a known pyfakefs)."""
    current = vars(fake_open).get("is_called_from_skipped_module")
    if current is _ORIGINAL and mirrors(_ORIGINAL):
        patches.set(fake_open, "is_called_from_skipped_module", is_called_from_skipped_module)
