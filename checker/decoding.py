"""Source text: bytes decoded as Python decodes them, and written back the same way."""

from __future__ import annotations

import codecs
import re

from .model import Finding
from .unchecked import unchecked

__all__ = ["Source", "SourceProblem", "decode_source", "encode_source", "split_lines"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Source:
    """Decoded text plus what is needed to write it back the way it was (encoding, BOM)."""

    # Plain classes rather than dataclasses here and below: each dataclass costs ~1 ms of
    # import time, and a warm run is mostly import time.
    __slots__ = ("bom", "encoding", "text")

    def __init__(self, text: str, encoding: str, bom: bool) -> None:
        self.text = text
        self.encoding = encoding
        self.bom = bom


class SourceProblem(Exception):
    """The bytes are not Python source text; carries the ORC000 finding to report instead."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def decode_source(data: bytes) -> Source:
    """Decode as Python would (BOM, PEP 263 cookie, else UTF-8); raise SourceProblem if not text."""
    if b"\0" in data:
        raise SourceProblem(
            unchecked(
                "binary file (contains NUL bytes) is not Python source and was not checked; "
                "exclude it or give it another extension"
            )
        )
    bom = data.startswith(codecs.BOM_UTF8)
    encoding = "utf-8"
    if bom or b"coding" in data[:500]:
        import io
        import tokenize

        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            raise SourceProblem(
                unchecked(
                    f"invalid encoding declaration ({exc}); nothing was checked - declare an "
                    "encoding Python knows, such as '# -*- coding: utf-8 -*-'"
                )
            ) from None
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        column = exc.start - (body.rfind(b"\n", 0, exc.start) + 1)
        raise SourceProblem(
            unchecked(
                f"file is not valid {codec} (byte 0x{body[exc.start]:02x}) and was not checked; "
                "save it as UTF-8 or declare its encoding in a PEP 263 coding comment",
                line,
                column,
            )
        ) from None
    return Source(text=text, encoding=codec, bom=bom)


def encode_source(source: Source, text: str) -> bytes:
    """``text`` in the file's original encoding, with its BOM if it had one."""
    data = text.encode(source.encoding)
    return codecs.BOM_UTF8 + data if source.bom else data


def split_lines(text: str) -> list[str]:
    """Physical lines as Python counts them (``str.splitlines`` also splits on form feeds)."""
    return _LINE_BREAK.split(text)
