"""Where a node is in the text: ``ast`` counts UTF-8 bytes, findings count characters."""

from __future__ import annotations

import ast
import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Source:
    """The file's text and positions: ``ast`` counts UTF-8 bytes, findings count characters.

    The lines are split when a position is first asked for: most files of a run are
    analysed without a finding, and splitting every file's text up front was 3 % of a cold
    run.
    """

    __slots__ = ("_lines", "_offsets", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] | None = None
        self._offsets: list[int] = []

    @property
    def lines(self) -> list[str]:
        """The text's lines, each with its line break (CR LF, CR or LF, as ``ast`` counts lines)."""
        lines = self._lines
        if lines is None:
            lines = []
            offsets, text, start = self._offsets, self.text, 0
            for match in _LINE_BREAK.finditer(text):
                lines.append(text[start : match.end()])
                offsets.append(start)
                start = match.end()
            lines.append(text[start:])
            offsets.append(start)
            self._lines = lines
        return lines

    @property
    def offsets(self) -> list[int]:
        """Where each line starts in the text."""
        if self._lines is None:
            self.lines  # noqa: B018 - splits the text, filling the offsets too
        return self._offsets

    def line(self, lineno: int) -> str:
        lines = self.lines
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return ""

    def char_column(self, lineno: int, byte_column: int) -> int:
        line = self.line(lineno)
        return len(line.encode("utf-8")[:byte_column].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> tuple[int, int, int, int]:
        """Character span of ``node``: (line, column, end_line, end_column)."""
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        column = self.char_column(line, getattr(node, "col_offset", 0))
        end_byte = getattr(node, "end_col_offset", None)
        end_column = column if end_byte is None else self.char_column(end_line, end_byte)
        return line, column, end_line, end_column

    def offset(self, line: int, column: int) -> int:
        offsets = self.offsets
        line = max(1, min(line, len(offsets)))
        return offsets[line - 1] + column

    def segment(self, node: ast.AST) -> str:
        line, column, end_line, end_column = self.span(node)
        return self.text[self.offset(line, column) : self.offset(end_line, end_column)]

    def indentation(self, lineno: int) -> str:
        line = self.line(lineno)
        return line[: len(line) - len(line.lstrip(" \t"))]
