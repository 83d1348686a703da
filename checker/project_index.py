"""The whole-project index: what each checked module exports to the others.

The within-module analysis answers "is this ``os.replace``?", "is this a temp?", "is this
guarded?" from one file. Real code spreads those answers over modules: ``rename = os.rename``
in ``pkg/util.py`` used as ``from pkg.util import rename``; a helper in another module that
returns a ``mkstemp`` name; the ``except OSError: pass`` around a call in a caller elsewhere.
The index is built once per run, over the checked files, from a small summary of each one
(:func:`summarise`), and handed to every lint (and every worker) so the same machinery
(:mod:`.names`, :mod:`.temps`, :mod:`.guards`) resolves across modules
(:mod:`.crossmodule`).

A summary is plain data (it is cached with the results, keyed by the file's stat signature
like them) and only a file that could hold a publish, an alias of one or a temp maker is
parsed for it: every other file contributes the names it calls, found by a regular
expression over its text, so that a caller can be found without parsing it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "ModuleSummary",
    "ProjectIndex",
    "build_index",
    "index_of_sources",
    "module_name_for",
    "summarise",
]

#: Words a module must contain to define a temp-returning helper worth summarising.
_TEMP_MAKERS = ("mkstemp", "NamedTemporaryFile", "mkdtemp", "mktemp")
_CALLED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
#: A module-level alias or re-export of a rename function (``rename = os.rename``,
#: ``from os import replace``): only such a module needs its names resolved for the index.
_ALIAS_LINE = re.compile(
    r"^(?:[A-Za-z_]\w*[ \t]*=|from[ \t]|import[ \t])[^\n]*\b(?:rename|renames|replace|move)\b",
    re.M,
)
_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(\w+)", re.M)
#: A call that may publish: os/shutil's functions, a ``.rename(``, a bare name (an alias).
_PUBLISH_CALL = re.compile(
    r"(?:\b(?:os|shutil|_os|nt|posix)\.(?:rename|renames|replace|move)"
    r"|\.rename|(?<![.\w])(?:rename|renames|replace|move|publish))\s*\("
)


def _publishers_in_text(text: str) -> list[str]:
    """Names of the functions whose text holds a call that may publish (the nearest def)."""
    defs = [(match.start(), match.group(1)) for match in _DEF.finditer(text)]
    if not defs:
        return []
    found = set()
    index = 0
    for call in _PUBLISH_CALL.finditer(text):
        while index + 1 < len(defs) and defs[index + 1][0] < call.start():
            index += 1
        if defs[index][0] < call.start():
            found.add(defs[index][1])
    return sorted(found)


#: Summary format version: part of the cached entry so an old summary is never misread.
_VERSION = 2


def module_name_for(path: str | Path) -> tuple[str, bool]:
    """The dotted module name of a file, found by walking up the ``__init__.py`` packages.

    Independent of the checked root: ``src/pkg/util.py`` with ``src/pkg/__init__.py`` is
    ``pkg.util`` however the run was started. ``(name, is_package)``.
    """
    file = Path(path)
    stem = file.stem
    is_package = stem == "__init__"
    parts = [] if is_package else [stem]
    directory = file.parent
    while (directory / "__init__.py").exists() or (directory / "__init__.pyi").exists():
        parts.append(directory.name)
        if directory.parent == directory:
            break
        directory = directory.parent
    return ".".join(reversed(parts)), is_package


class ModuleSummary:
    """What one module tells the others; plain data, JSON round-trips."""

    __slots__ = (
        "aliases",
        "calls",
        "functions",
        "is_package",
        "module",
        "path",
        "publishers",
        "signature",
        "temps",
    )

    def __init__(
        self,
        path: str,
        module: str,
        is_package: bool,
        aliases: dict[str, str] | None = None,
        temps: dict[str, list[Any]] | None = None,
        publishers: list[str] | None = None,
        calls: list[str] | None = None,
        functions: list[str] | None = None,
    ) -> None:
        self.path = path
        self.module = module
        self.is_package = is_package
        #: Module-level names bound to a dotted name (``rename`` -> ``os.rename``).
        self.aliases = aliases or {}
        #: Functions (``name`` or ``Class.name``) returning a temp: [kind, unique].
        self.temps = temps or {}
        #: Names of the functions that contain a publish call.
        self.publishers = publishers or []
        #: Every identifier the module calls (``name(`` or ``.name(``).
        self.calls = calls or []
        #: Every function and method name of a module that publishes (else empty).
        self.functions = functions or []
        #: The file's (mtime_ns, size) when read from disk: callers' guards live there.
        self.signature: list[int] = []

    def to_json(self) -> list[Any]:
        return [
            _VERSION,
            self.module,
            self.is_package,
            self.aliases,
            self.temps,
            self.publishers,
            self.calls,
            self.functions,
        ]

    @classmethod
    def from_json(cls, path: str, raw: list[Any]) -> ModuleSummary | None:
        if not isinstance(raw, list) or len(raw) != 8 or raw[0] != _VERSION:
            return None
        return cls(path, raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7])


def summarise(text: str, path: str, module: str | None = None) -> ModuleSummary:
    """The summary of one module's text (never raises: a bad file exports nothing).

    ``module`` is the dotted name; by default it is found from the packages on disk.
    """
    if module is None:
        module, is_package = module_name_for(path)
    else:
        is_package = path.endswith("__init__.py")
    calls = sorted(set(_CALLED.findall(text)))
    from .prefilter import might_match

    if not (might_match(text) or any(word in text for word in _TEMP_MAKERS)):
        return ModuleSummary(path, module, is_package, calls=calls)
    needs_names = _ALIAS_LINE.search(text) or (
        "return" in text and any(word in text for word in _TEMP_MAKERS)
    )
    if not needs_names:
        # Nothing another module could import from it: which functions publish is read from
        # the text (over-approximated: it only says where to look for callers), no parse.
        publishers = _publishers_in_text(text)
        defined = sorted(set(_DEF.findall(text))) if publishers else []
        return ModuleSummary(
            path, module, is_package, publishers=publishers, calls=calls, functions=defined
        )
    import ast  # only files that changed are parsed; a warm run never needs it

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ModuleSummary(path, module, is_package, calls=calls)
    from .analysis import ModuleAnalysis, Source
    from .model import LintSettings

    try:
        analysis = ModuleAnalysis(
            tree, Source(text), LintSettings(), None, module, is_package, path
        )
        return _from_analysis(analysis, path, module, is_package, calls)
    except RecursionError:
        return ModuleSummary(path, module, is_package, calls=calls)


def _from_analysis(
    analysis: Any, path: str, module: str, is_package: bool, calls: list[str]
) -> ModuleSummary:
    import ast

    tree = analysis.tree
    top = analysis.scopes[tree]
    aliases: dict[str, str] = {}
    for name in top.bound | set(top.imports):
        target = analysis.qualified_name(ast.Name(id=name, lineno=10**9), top)
        if target is not None and target != f"{module}.{name}":
            aliases[name] = target
    temps: dict[str, list[Any]] = {}
    lines = analysis.source.text.splitlines()
    for node in tree.body:
        functions = [node] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else []
        prefix = ""
        if isinstance(node, ast.ClassDef):
            prefix = node.name + "."
            functions = [
                n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            ]
        for function in functions:
            body = "\n".join(lines[function.lineno - 1 : function.end_lineno])
            if "return" not in body or not any(word in body for word in _TEMP_MAKERS):
                continue  # judging every return of every function is the index's cost
            info = analysis.returned_temp(function, 0)
            if info is not None:
                temps[prefix + function.name] = [info.kind, info.unique]
    publishers = sorted(
        {
            function.name
            for call in analysis.publish_calls
            if (function := analysis.function_of(call.call)) is not None
        }
    )
    defined = sorted(
        {
            node.name
            for node in analysis.scopes
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        if publishers
        else ()
    )
    return ModuleSummary(path, module, is_package, aliases, temps, publishers, calls, defined)


class ProjectIndex:
    """Every checked module's summary, and the cross-module questions the rules ask."""

    def __init__(
        self, summaries: Iterable[ModuleSummary], texts: dict[str, str] | None = None
    ) -> None:
        #: Sources held in memory (multi-module examples); other files are read when needed.
        self.texts = texts or {}
        self._analyses: dict[tuple[str, str], Any] = {}
        self._mentions: dict[tuple[str, str], bool] = {}
        self.by_module: dict[str, ModuleSummary] = {}
        self.by_path: dict[str, ModuleSummary] = {}
        for summary in summaries:
            self.by_path[summary.path] = summary
            if summary.module:
                self.by_module.setdefault(summary.module, summary)
        #: Which files call each publishing function's name (for the caller search).
        wanted = {name for s in self.by_path.values() for name in s.publishers}
        # ... and every function of a module that publishes (the callers' callers).
        wanted |= {name for s in self.by_path.values() if s.publishers for name in s.functions}
        self.callers: dict[str, list[str]] = {name: [] for name in wanted}
        for summary in self.by_path.values():
            for name in wanted.intersection(summary.calls):
                self.callers[name].append(summary.path)

    def __getstate__(self) -> dict[str, Any]:
        """Workers get the summaries and texts, never another process's parsed modules."""
        state = dict(self.__dict__)
        state["_analyses"] = {}
        state["_mentions"] = {}
        return state

    def resolve(self, name: str, depth: int = 0) -> str:
        """What a dotted name really is, following aliases of the checked modules.

        ``pkg.util.rename`` with ``rename = os.rename`` in ``pkg/util.py`` is ``os.rename``;
        a name the index does not know is returned as it is.
        """
        for _ in range(8 - depth):
            module, _, attribute = name.rpartition(".")
            summary = self.by_module.get(module)
            if summary is None or attribute not in summary.aliases:
                return name
            name = summary.aliases[attribute]
        return name

    def returned_temp(self, name: str) -> list[Any] | None:
        """[kind, unique] when ``name`` (``pkg.mod.func``) is a helper returning a temp."""
        module, _, function = name.rpartition(".")
        summary = self.by_module.get(module)
        if summary is None:
            owner, _, cls = module.rpartition(".")  # pkg.mod.Class.method
            summary = self.by_module.get(owner)
            function = f"{cls}.{function}"
        if summary is None:
            return None
        return summary.temps.get(function)

    def analysis_of(self, path: str, settings: Any) -> Any:
        """The analysis of another checked module (for its calls), or None if unreadable.

        Built once per process and module; in-memory texts (multi-module examples) win over
        the file on disk.
        """
        key = (path, repr(settings))
        if key in self._analyses:
            return self._analyses[key]
        import ast

        from .analysis import ModuleAnalysis, Source
        from .decoding import SourceProblem, decode_source

        analysis = None
        try:
            text = self.texts.get(path)
            if text is None:
                with open(path, "rb") as handle:
                    text = decode_source(handle.read()).text
            tree = ast.parse(text)
            summary = self.by_path.get(path)
            module, is_package = (
                (summary.module, summary.is_package) if summary else module_name_for(path)
            )
            analysis = ModuleAnalysis(tree, Source(text), settings, self, module, is_package, path)
        except (OSError, SourceProblem, SyntaxError, ValueError, RecursionError):
            analysis = None
        self._analyses[key] = analysis
        return analysis

    def may_import(self, path: str, package: str) -> bool:
        """Cheap test before parsing a caller: same top-level package, or its name in the text."""
        key = (path, package)
        known = self._mentions.get(key)
        if known is None:
            known = self._mentions[key] = self._may_import(path, package)
        return known

    def _may_import(self, path: str, package: str) -> bool:
        summary = self.by_path.get(path)
        if summary is not None and summary.module.split(".")[0] == package:
            return True
        text = self.texts.get(path)
        if text is None:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                return True  # unreadable: analysis_of reports it as unknown
            return package.encode() in data
        return package in text

    def caller_paths(self, function: str, path: str) -> list[str]:
        """The other checked files that call a function of this name."""
        paths = self.callers.get(function)
        if paths is None:  # a caller's caller in a module that does not publish
            paths = [s.path for s in self.by_path.values() if function in s.calls]
            self.callers[function] = paths
        return [p for p in paths if p != path]

    def fingerprint(self) -> str:
        """Changes whenever an answer of the index could change (part of the results key).

        The answers themselves, as compact JSON: compared as text like the rest of the key,
        so a warm run hashes nothing.
        """
        answers = [
            [path, summary.to_json()[:6]]
            for path, summary in sorted(self.by_path.items())
            if summary.aliases or summary.temps or summary.publishers
        ]
        callers = sorted((name, paths) for name, paths in self.callers.items() if paths)
        # A caller's guard can change without its summary changing: its signature counts.
        reached = sorted({path for _, paths in callers for path in paths})
        signatures = [self.by_path[path].signature for path in reached]
        return json.dumps([answers, callers, signatures], separators=(",", ":"))


def index_of_sources(sources: dict[str, str]) -> ProjectIndex:
    """The index of in-memory modules by relative path (``pkg/util.py``): examples, tests."""
    summaries = []
    for path, text in sources.items():
        parts = path.removesuffix(".pyi").removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts.pop()
        summaries.append(summarise(text, path, ".".join(parts)))
    return ProjectIndex(summaries, dict(sources))


def build_index(paths: Iterable[str], cache_dir: Path | None) -> ProjectIndex:
    """The index of ``paths``; summaries come from ``cache_dir/index.json`` when unchanged."""
    from .decoding import SourceProblem, decode_source

    cached: dict[str, Any] = {}
    file = None if cache_dir is None else cache_dir / "index.json"
    if file is not None:
        try:
            with file.open("rb") as handle:
                loaded = json.load(handle)
            if isinstance(loaded, dict):
                cached = loaded
        except (OSError, ValueError):
            pass
    fresh: dict[str, Any] = {}
    summaries = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            continue
        entry = cached.get(path)
        if (
            isinstance(entry, list)
            and len(entry) == 3
            and entry[0] == stat.st_mtime_ns
            and entry[1] == stat.st_size
        ):
            summary = ModuleSummary.from_json(path, entry[2])
            if summary is not None:
                summary.signature = [stat.st_mtime_ns, stat.st_size]
                summaries.append(summary)
                fresh[path] = entry
                continue
        try:
            with open(path, "rb") as handle:
                text = decode_source(handle.read()).text
        except (OSError, SourceProblem):
            continue
        summary = summarise(text, path)
        summary.signature = [stat.st_mtime_ns, stat.st_size]
        summaries.append(summary)
        fresh[path] = [stat.st_mtime_ns, stat.st_size, summary.to_json()]
    if file is not None and fresh != cached:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            from pytest_ocirace import atomic_write

            with atomic_write(file, "wb", fsync=False) as handle:
                handle.write(json.dumps(fresh, separators=(",", ":")).encode("utf-8"))
        except OSError:
            pass  # the results cache reports an unwritable directory once
    return ProjectIndex(summaries)
