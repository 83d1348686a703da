"""Positions in the text: lines are split on first use, as ``ast`` counts them."""

from __future__ import annotations

import ast

from ocirace_checker.positions import Source


def test_lines_and_offsets_follow_every_kind_of_line_break():
    text = "a = 1\r\nb = 'é'\rc = 3\nd = 4"
    source = Source(text)
    assert source.lines == ["a = 1\r\n", "b = 'é'\r", "c = 3\n", "d = 4"]
    assert source.offsets == [0, 7, 15, 21]
    assert source.line(2) == "b = 'é'\r"
    assert source.line(9) == ""
    assert text[source.offset(3, 0) :].startswith("c = 3")


def test_offsets_alone_split_the_text_and_spans_count_characters():
    text = "x = 'é'\ny = x.replace('a', 'b')\n"
    source = Source(text)
    assert source.offset(2, 4) == len("x = 'é'\n") + 4  # before any line was asked for
    call = ast.parse(text).body[1].value  # type: ignore[attr-defined]
    assert source.segment(call) == "x.replace('a', 'b')"
    value = ast.parse(text).body[0].value  # type: ignore[attr-defined]
    assert source.span(value) == (1, 4, 1, 7)  # characters, though 'é' is two bytes
