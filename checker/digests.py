"""Digests in file names: ``<algorithm>:<hex>`` reaching a path (ORC007)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .names import _PATH_CLASSES, NameIndex
from .nodes import flatten_add, last_identifier, unparsed

_DIGEST_ALGORITHM = re.compile(
    r"(?:sha(?:1|224|256|384|512)|sha3_\d+|md5|blake2[bs]|blake3):", re.IGNORECASE
)
_DIGEST_PART_WORDS = re.compile(r"alg|hash|digest|hex|sha|md5|blake|checksum", re.IGNORECASE)


@dataclass
class DigestSite:
    """An expression that puts ``<algorithm>:<hex>`` into a file name."""

    node: ast.expr
    sink: ast.AST
    description: str


class Digests(NameIndex):
    """Finds the digest sites of a module."""

    def _find_digest_sites(self) -> Iterator[DigestSite]:
        seen: set[ast.AST] = set()
        for scope in self.scopes.values():
            for call in scope.calls:
                for arg, sink in self._path_components(call):
                    site = self._digest_site(arg, sink)
                    if site is not None and site.node not in seen:
                        seen.add(site.node)
                        yield site
        for node in self.divisions:
            if self.is_pathlike(node.left):
                site = self._digest_site(node.right, node)
                if site is not None and site.node not in seen:
                    seen.add(site.node)
                    yield site

    def _path_components(self, call: ast.Call) -> Iterator[tuple[ast.expr, ast.AST]]:
        name = self.call_name(call) or ""
        func = call.func
        if name in ("os.path.join", "posixpath.join", "ntpath.join") or name in _PATH_CLASSES:
            for arg in call.args:
                yield arg, call
        elif name in (
            "builtins.open",
            "io.open",
            "os.open",
            "os.makedirs",
            "os.mkdir",
            "os.rename",
            "os.replace",
            "shutil.move",
            "shutil.copy",
            "shutil.copyfile",
            "shutil.copy2",
        ):
            for arg in call.args[:2]:
                yield arg, call
        elif isinstance(func, ast.Attribute) and func.attr in ("joinpath", "with_name"):
            for arg in call.args:
                yield arg, call

    def _digest_site(self, node: ast.expr, sink: ast.AST, depth: int = 0) -> DigestSite | None:
        if depth > 3:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _DIGEST_ALGORITHM.search(node.value):
                return DigestSite(node, sink, repr(node.value))
            return None
        if isinstance(node, ast.JoinedStr):
            values = node.values
            for index, part in enumerate(values):
                if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                    continue
                if _DIGEST_ALGORITHM.search(part.value):
                    return DigestSite(node, sink, unparsed(node))
                if (
                    part.value.endswith(":")
                    and index > 0
                    and index + 1 < len(values)
                    and (self._digestish(values[index - 1]) or self._digestish(values[index + 1]))
                ):
                    return DigestSite(node, sink, unparsed(node))
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = flatten_add(node)
            for index, part in enumerate(parts):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    if _DIGEST_ALGORITHM.search(part.value):
                        return DigestSite(node, sink, unparsed(node))
                    if (
                        part.value == ":"
                        and 0 < index < len(parts) - 1
                        and (self._digestish(parts[index - 1]) or self._digestish(parts[index + 1]))
                    ):
                        return DigestSite(node, sink, unparsed(node))
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            left = node.left
            if isinstance(left, ast.Constant) and isinstance(left.value, str):
                algorithm = _DIGEST_ALGORITHM.search(left.value) is not None
                if algorithm or (":" in left.value and self._digestish(node.right)):
                    return DigestSite(node, sink, unparsed(node))
            return None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Constant) and isinstance(receiver.value, str):
                if (
                    node.func.attr == "join"
                    and receiver.value == ":"
                    and node.args
                    and self._digestish(node.args[0])
                ):
                    return DigestSite(node, sink, unparsed(node))
                digestish = _DIGEST_ALGORITHM.search(receiver.value) is not None or any(
                    self._digestish(arg) for arg in node.args
                )
                if node.func.attr == "format" and ":" in receiver.value and digestish:
                    return DigestSite(node, sink, unparsed(node))
            return None
        if isinstance(node, ast.Name):
            value = self.assignment_before(node.id, node)
            if value is not None:
                inner = self._digest_site(value, sink, depth + 1)
                if inner is not None:
                    return DigestSite(node, sink, inner.description)
        return None

    def _digestish(self, node: ast.AST) -> bool:
        for part in ast.walk(node):
            if isinstance(part, ast.FormattedValue):
                continue
            identifier = None
            if isinstance(part, (ast.Name, ast.Attribute)):
                identifier = last_identifier(part)
            if identifier and _DIGEST_PART_WORDS.search(identifier):
                return True
            if (
                isinstance(part, ast.Constant)
                and isinstance(part.value, str)
                and re.fullmatch(r"sha\d+|md5|blake2[bs]|sha3_\d+", part.value, re.I)
            ):
                return True
        return False
