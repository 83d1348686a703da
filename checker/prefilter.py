"""Stage 1 of the checker: a text test that rules out most files before they are analysed.

The analysis (scopes, names, guards) costs several times the parse, and on a typical code
base only a few percent of files mention a rename at all. ``might_match`` must
never say ``False`` for a file that could hold a finding, so the patterns are deliberately
loose: word boundaries keep ``remove`` from matching ``move``, but ``replace`` still matches
``str.replace`` - the ``ast`` stage sorts those out.

A file that fails this test is still parsed (``lint.syntax_problems``): a syntax error in it
is reported as ORC000, because a file that was not checked must never look like a clean one.
"""

from __future__ import annotations

import re

__all__ = ["might_match"]

# Every publish call the rules look at (ORC001-ORC006) has one of these words as its callee:
# os.rename/renames/replace, shutil.move, Path.rename/replace, pytest_ocirace.publish, or a
# name imported from them (an alias still needs the word in its import statement). Whole
# words only: "move" inside "remove" does not count. str.find plus a boundary test is ~10x
# faster than a regex alternation, which cannot skip ahead on a literal prefix.
_WORDS = ("rename", "replace", "move", "publish")


def _is_identifier_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _has_word(text: str, word: str) -> bool:
    start = text.find(word)
    size = len(word)
    while start >= 0:
        end = start + size
        if text.startswith("s", end) and word == "rename":
            end += 1  # os.renames
        before_ok = start == 0 or not _is_identifier_char(text[start - 1])
        if before_ok and (end == len(text) or not _is_identifier_char(text[end])):
            return True
        start = text.find(word, start + 1)
    return False


# ORC007 needs a colon inside a name: an algorithm literal ("sha256:"), or a ':' joining two
# parts (":".join, a + ":" + b, f"{alg}:{hex}", "%s:%s", "{}:{}"). Plain substring tests run
# first: they are ~30x faster than a case-insensitive alternation over the whole file.
_JOIN_MARKS = ('":"', "':'", "}:{", "%s:%", "%d:%")
_ALGORITHM_MARKS = ("sha", "SHA", "Sha", "md5", "MD5", "blake", "BLAKE", "Blake")
_ALGORITHM = re.compile(r"(?:sha(?:1|224|256|384|512)|sha3_\d+|md5|blake2[bs]|blake3)[:\"'}]")


def might_match(text: str) -> bool:
    """Say whether ``text`` could contain any finding; ``False`` is a promise that it cannot."""
    if any(_has_word(text, word) for word in _WORDS):
        return True
    if "MoveFileEx" in text:  # kernel32's replace through ctypes (.winmove)
        return True
    if any(mark in text for mark in _JOIN_MARKS):
        return True
    if not any(mark in text for mark in _ALGORITHM_MARKS):
        return False
    return _ALGORITHM.search(text.lower()) is not None
