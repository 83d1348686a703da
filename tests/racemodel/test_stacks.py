"""The race model's recorded stacks: the same frames as built afresh, shared when repeated."""

from __future__ import annotations

import sys

import pytest

from pytest_ocirace.racemodel import stacks
from pytest_ocirace.racemodel.stacks import Frame


def _naive(skip: int, limit: int) -> tuple[Frame, ...]:
    """What the model built before frames were shared (one new tuple per frame)."""
    frames: list[Frame] = []
    frame = sys._getframe(skip + 1)
    while frame is not None and len(frames) < limit:
        code = frame.f_code
        frames.append((code.co_filename, frame.f_lineno, code.co_name))
        frame = frame.f_back  # type: ignore[assignment]
    frames.reverse()
    return tuple(frames)


def _both(limit: int) -> tuple[tuple[Frame, ...], tuple[Frame, ...]]:
    return stacks.current_stack(1, limit), _naive(1, limit)  # the same line: one frame


def _recurse(depth: int, limit: int) -> tuple[tuple[Frame, ...], tuple[Frame, ...]]:
    if depth:
        return _recurse(depth - 1, limit)
    return _both(limit)


@pytest.mark.parametrize("limit", [1, 5, 40, 1000])
@pytest.mark.parametrize("depth", [0, 3, 60])
def test_the_stack_is_the_one_built_frame_by_frame(limit: int, depth: int) -> None:
    ours, naive = _recurse(depth, limit)
    assert ours == naive
    assert len(ours) == min(limit, len(naive))
    assert ours[-1][2] == "_recurse"


def test_a_repeated_stack_is_the_same_object_and_so_are_its_frames() -> None:
    first = [_recurse(2, 40)[0] for _ in range(3)]
    assert first[0] is first[1] is first[2]
    other = _recurse(3, 40)[0]  # one frame deeper: another stack, its outer frames shared
    assert other != first[0]
    assert other[0] is first[0][0]


def test_the_tables_are_emptied_when_full_and_answers_stay_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stacks, "LIMIT", 3)
    stacks.clear()
    for depth in range(10):  # ten different stacks and code lines through a table of 3
        ours, naive = _recurse(depth, 40)
        assert ours == naive
    assert len(stacks._STACKS) <= 3
    assert len(stacks._FRAMES) <= 3


def test_equal_code_in_two_files_keeps_each_files_name() -> None:
    # Code objects compare equal by contents without their file name: pytester runs the
    # same test file from two folders (a report named the first folder's file).
    source = "def relay(inner):\n    return inner()\n"
    relays = []
    for filename in ("/one/test_racy.py", "/two/test_racy.py"):
        namespace: dict[str, object] = {}
        exec(compile(source, filename, "exec"), namespace)
        relays.append(namespace["relay"])
    assert relays[0].__code__ == relays[1].__code__  # type: ignore[attr-defined]
    for relay, filename in zip(relays, ("/one/test_racy.py", "/two/test_racy.py"), strict=True):
        stack = relay(lambda: stacks.current_stack(0, 40))  # type: ignore[operator]
        assert stack[-2][0] == filename
