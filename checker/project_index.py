"""The whole-project index: what each checked module exports to the others.

The within-module analysis answers "is this ``os.replace``?", "is this a temp?", "is this
guarded?" from one file. Real code spreads those answers over modules: ``rename = os.rename``
in ``pkg/util.py`` used as ``from pkg.util import rename``; a helper in another module that
returns a ``mkstemp`` name; the ``except OSError: pass`` around a call in a caller elsewhere.
The index is built over the checked files from a small summary of each one
(:func:`summarise`), and handed to every lint (and every worker) so the same machinery
(:mod:`.names`, :mod:`.temps`, :mod:`.guards`) resolves across modules
(:mod:`.crossmodule`). A run builds it on demand (:mod:`.demand`: only what its lints ask);
:func:`build_index` summarises every file first, for ``--explain`` and as the reference the
demand-built index is tested against.

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

    from .outline import Outline

__all__ = [
    "ModuleSummary",
    "ProjectIndex",
    "build_index",
    "called_in_text",
    "exports",
    "index_of_sources",
    "may_export",
    "module_name_for",
    "summarise",
]

#: Words a module must contain to define a temp-returning helper worth summarising.
_TEMP_MAKERS = ("mkstemp", "NamedTemporaryFile", "mkdtemp", "mktemp")
#: A called name. The look-behind makes a match start only at the start of a word: without
#: it the engine retried from every character inside every identifier (a third of the index).
_CALLED = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\s*\(")
#: A module-level alias or re-export of a rename function (``rename = os.rename``,
#: ``from os import replace``): only such a module needs its names resolved for the index.
_ALIAS_LINE = re.compile(
    r"^(?:[A-Za-z_]\w*[ \t]*=|from[ \t]|import[ \t])[^\n]*\b(?:rename|renames|replace|move)\b",
    re.M,
)
#: What a line matching it must hold ("renames" holds "rename").
_ALIAS_WORDS = ("rename", "replace", "move")
#: Characters of source whose analyses the index keeps for the lint (about 45 bytes of memory
#: per character: 8 M is ~350 MB, some 200,000 lines of candidate files). A larger tree's
#: remaining files are parsed again by the lint: memory stays bounded, and the first 8 M
#: characters are still parsed once.
_KEEP_BUDGET = 8 * 2**20

#: Summary format version: part of the cached entry so an old summary is never misread.
_VERSION = 3


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
    return _summarise(text, path, module)[0]


def exports(
    text: str, path: str, module: str, is_package: bool, may: bool | None = None
) -> tuple[ModuleSummary, Any]:
    """What another module can ask of this one: its summary, and the analysis behind it.

    The same answers as :func:`summarise` for everything other modules ask, for a fraction
    of the files: a text that :func:`may_export` rules out exports nothing and is not parsed.
    The index built on demand (:mod:`.demand`) asks this of the modules a lint reaches and
    keeps the analysis for the lint of the same text. (``calls``, ``publishers`` and
    ``functions`` are not what other modules ask: the demand-built index finds callers
    from the text.) ``may``: what :func:`may_export` said of the text, when the caller
    already asked it (the regular expression is a pass over the whole text).
    """
    if not (may_export(text) if may is None else may):
        return ModuleSummary(path, module, is_package), None
    return _summarise(text, path, module, is_package, own_facts=False, may_export_names=True)


def may_export(text: str) -> bool:
    """Whether a module's text may hold anything another module asks about.

    An alias or re-export of a rename function, or a function returning a temp. A new kind
    of fact other modules ask for must be admitted here, or the demand-built index will not
    see it (``tests/checker/test_demand.py`` compares it with the full index).
    """
    return _has_alias_line(text) or _may_return_temp(text)


def _has_alias_line(text: str) -> bool:
    r"""Whether a line of ``text`` matches :data:`_ALIAS_LINE` (``bool(_ALIAS_LINE.search)``).

    Only a line holding one of its words can: each such line is tested alone, instead of
    the pattern tried at every line start of the text (a pass over every text a run lints,
    0.15 ms each on the corpus). A line is a ``\n``-separated run, as ``^`` and ``[^\n]``
    see it, and its end is a word boundary as the newline is.
    """
    match = _ALIAS_LINE.match
    find = text.find
    for word in _ALIAS_WORDS:
        start = find(word)
        while start >= 0:
            begin = text.rfind("\n", 0, start) + 1
            end = find("\n", start)
            if end < 0:
                end = len(text)
            if match(text, begin, end):
                return True
            start = find(word, end)
    return False


def _may_return_temp(text: str) -> bool:
    return "return" in text and any(word in text for word in _TEMP_MAKERS)


def _summarise(
    text: str,
    path: str,
    module: str | None,
    is_package: bool | None = None,
    own_facts: bool = True,
    may_export_names: bool | None = None,
) -> tuple[ModuleSummary, Any]:
    """The summary, and the analysis it was read from when the file had to be parsed.

    ``own_facts=False`` leaves out what only the full index uses (the names the module
    calls, its publishing functions): :func:`exports` is asked for what other modules see.

    A file that may publish or make a temp is parsed here, once: the analysis is kept by the
    index and the lint of the same text reuses the parse and the walk
    (:meth:`ProjectIndex.analysis_for`), so the summary costs only what is read from the
    analysis. Any other file is read as text (the names it calls); the lint parses it only
    to report a syntax error.
    """
    if module is None:
        module, is_package = module_name_for(path)
    elif is_package is None:
        is_package = path.endswith("__init__.py")
    from .prefilter import might_match

    if not (might_match(text) or any(word in text for word in _TEMP_MAKERS)):
        return ModuleSummary(path, module, is_package, calls=called_in_text(text)), None
    import ast  # only files that changed are parsed; a warm run never needs it
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not ours
            tree = ast.parse(text, filename=path, type_comments=False)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ModuleSummary(path, module, is_package, calls=called_in_text(text)), None
    from .analysis import ModuleAnalysis, Source
    from .model import LintSettings

    try:
        analysis = ModuleAnalysis(
            tree, Source(text), LintSettings(), None, module, is_package, path
        )
        needs_names = may_export(text) if may_export_names is None else may_export_names
        summary = _from_analysis(analysis, path, module, is_package, needs_names, own_facts)
        return summary, analysis
    except RecursionError:
        return ModuleSummary(path, module, is_package, calls=called_in_text(text)), None


def called_in_text(text: str) -> list[str]:
    """Every name the text calls (``name(`` or ``.name(``), sorted: a module's ``calls``."""
    return sorted(set(_CALLED.findall(text)))


#: Calls that may publish however the callee resolves (an alias of another module, a path
#: method): their functions are publishers for the caller search, as the text would say.
_PUBLISH_WORDS = frozenset({"rename", "renames", "replace", "move", "publish"})
_OS_MODULES = frozenset({"os", "shutil", "_os", "nt", "posix"})


def _may_publish(call: Any) -> bool:
    import ast

    func = call.func
    if isinstance(func, ast.Name):
        return func.id in _PUBLISH_WORDS
    if isinstance(func, ast.Attribute):
        if func.attr == "rename":
            return True
        return (
            func.attr in _PUBLISH_WORDS
            and isinstance(func.value, ast.Name)
            and func.value.id in _OS_MODULES
        )
    return False


def _from_analysis(
    analysis: Any,
    path: str,
    module: str,
    is_package: bool,
    needs_names: bool,
    own_facts: bool = True,
) -> ModuleSummary:
    """The summary of a parsed module.

    Aliases and temp-returning helpers only when the text may hold them (``needs_names``):
    resolving every module-level name and judging returns is the index's cost. Publishers
    over-approximate (any call named like a publish, as well as the resolved publish calls):
    they only say where to look for callers, and a caller missed there would let a cached
    result outlive the guard it rested on.
    """
    import ast

    from .nodes import last_identifier

    tree = analysis.tree
    top = analysis.scopes[tree]
    aliases: dict[str, str] = {}
    temps: dict[str, list[Any]] = {}
    if needs_names:
        for name in top.bound | set(top.imports):
            target = analysis.qualified_name(ast.Name(id=name, lineno=10**9), top)
            if target is not None and target != f"{module}.{name}":
                aliases[name] = target
        # No function can return a temp when the whole text cannot (the test below, on all
        # of it): the text is then neither split into lines nor its functions visited. A
        # function's body is searched only for the temp makers the whole text holds.
        text = analysis.source.text
        makers = [word for word in _TEMP_MAKERS if word in text] if "return" in text else []
        lines = text.splitlines() if makers else []
        for node in tree.body if lines else ():
            functions = [node] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else []
            prefix = ""
            if isinstance(node, ast.ClassDef):
                prefix = node.name + "."
                functions = [
                    n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                ]
            for function in functions:
                body = "\n".join(lines[function.lineno - 1 : function.end_lineno])
                if "return" not in body or not any(word in body for word in makers):
                    continue  # judging every return of every function is the index's cost
                info = analysis.returned_temp(function, 0)
                if info is not None:
                    temps[prefix + function.name] = [info.kind, info.unique]
    if not own_facts:
        # Walking every call of the module (a tenth of the index's work on the corpus) for
        # facts the demand-built index drops (``_OWN_FACTS`` of :mod:`.demand`).
        return ModuleSummary(path, module, is_package, aliases, temps)
    called: set[str] = set()
    publishing: set[str] = set()
    for scope in analysis.scopes.values():
        for call in scope.calls:
            name = last_identifier(call.func)
            if name is not None:
                called.add(name)
            if _may_publish(call) and (function := analysis.function_of(call)) is not None:
                publishing.add(function.name)
    for publish in analysis.publish_calls:
        if (function := analysis.function_of(publish.call)) is not None:
            publishing.add(function.name)
    publishers = sorted(publishing)
    defined = sorted(
        {
            node.name
            for node in analysis.scopes
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        if publishers
        else ()
    )
    return ModuleSummary(
        path, module, is_package, aliases, temps, publishers, sorted(called), defined
    )


class ProjectIndex:
    """Every checked module's summary, and the cross-module questions the rules ask."""

    def __init__(
        self, summaries: Iterable[ModuleSummary], texts: dict[str, str] | None = None
    ) -> None:
        #: Sources held in memory (multi-module examples); other files are read when needed.
        self.texts = texts or {}
        self._analyses: dict[tuple[str, str], Any] = {}
        #: Analyses made for the summaries (default settings, no index yet), by path: the
        #: lint of the same text attaches and reuses them instead of parsing again.
        self._parsed: dict[str, Any] = {}
        self._mentions: dict[tuple[str, str], bool] = {}
        #: What the caller search may ask of each linted module, kept or not (:mod:`.outline`).
        self._outlines: dict[str, Outline] = {}
        #: The caller searches made so far: function name -> packages of the modules asking.
        self._searched: dict[str, set[str]] = {}
        #: Let go of a linted module's analysis unless a search made so far would use it
        #: (:meth:`_worth_keeping`) or a package it reaches is still to be linted
        #: (:meth:`_linted`). Set by a run that returns to its caller, which must
        #: free what it kept: a process that ends with the run keeps them all, as freeing
        #: them one by one costs what the memory they hold costs in page faults.
        self.lets_go = False
        #: Analyses held until the file at that position is linted (see :meth:`_linted`).
        self._held: dict[int, list[tuple[str, str]]] = {}
        self._positions: dict[str, int] = {}
        self._last: dict[str, int] = {}
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
        #: Files the caller search may analyse: only their analyses are worth keeping.
        self._caller_files = {path for paths in self.callers.values() for path in paths}
        #: Characters of source whose analyses are kept (bounded by _KEEP_BUDGET).
        self._kept = 0

    def __getstate__(self) -> dict[str, Any]:
        """Workers get the summaries and texts, never another process's parsed modules."""
        state = dict(self.__dict__)
        state["_analyses"] = {}
        state["_parsed"] = {}
        state["_kept"] = 0
        state["_mentions"] = {}
        state["_outlines"] = {}
        state["_searched"] = {}
        state["_held"] = {}
        return state

    def release(self) -> None:
        """Drop the analyses this process kept.

        They point back at the index: a cycle that only a full collection would free.
        """
        self._analyses.clear()
        self._parsed.clear()
        self._outlines.clear()
        self._searched.clear()
        self._held.clear()
        self._kept = 0

    def keep(self, path: str, analysis: Any) -> None:
        """Remember the analysis a summary was read from, for the lint of the same text.

        Within the memory budget only: past it the lint parses the file again.
        """
        size = len(analysis.source.text)
        if self._kept + size <= _KEEP_BUDGET:
            self._kept += size
            self._parsed[path] = analysis

    def parsed(self, path: str, text: str) -> bool:
        """Whether this process already parsed ``text`` at ``path`` (for the caller search).

        A file the pre-filter rules out is parsed only to report a syntax error; one the
        search already parsed has none.
        """
        kept = self._parsed.get(path)
        if kept is not None and kept.source.text == text:
            return True
        return any(
            key[0] == path and analysis is not None and analysis.source.text == text
            for key, analysis in self._analyses.items()
        )

    def analysis_for(self, path: str, text: str, settings: Any) -> Any:
        """An analysis of ``text`` at ``path`` made earlier in this process, or None.

        Made for the summary (then attached to this index and ``settings``), or for the
        caller search, or by the lint itself: whichever came first, the file is parsed and
        walked once. Only an analysis of the very same text counts.
        """
        key = (path, repr(settings))
        analysis = self._analyses.get(key)
        if analysis is None:
            analysis = self._parsed.pop(path, None)
            if analysis is None or analysis.source.text != text:
                return None
            analysis.attach(settings, self.view_for(path))
            self._analyses[key] = analysis  # counted when it was kept
        if analysis.source.text != text:
            return None
        self._linted(key, analysis)
        return analysis

    def _linted(self, key: tuple[str, str], analysis: Any) -> None:
        """Outline a module its lint is about to judge; keep its analysis only if worth it.

        Only an index that lets go (:attr:`lets_go`) does either.
        """
        if not self.lets_go:
            return
        from .outline import Outline  # not on the warm path: only a run that lints needs it

        path = key[0]
        outline = self._outlines[path] = Outline.of(analysis)
        here = self._position(path)
        for due in [due for due in self._held if due < here]:
            for held in self._held.pop(due):
                self._analyses.pop(held, None)  # its size stays counted: the budget shrinks
        if self._worth_keeping(path):
            return
        # Searches come from the modules of the packages it reaches: it is held while one of
        # them is still to be linted (a run's files come package by package), then let go.
        last = max((self._last_of().get(p, -1) for p in outline.packages()), default=-1)
        if last > here and key in self._analyses:
            self._held.setdefault(last, []).append(key)
        else:
            self._analyses.pop(key, None)

    def _position(self, path: str) -> int:
        """Where ``path`` comes in the run's order (-1: not a checked file)."""
        if not self._positions:
            self._positions = {p: i for i, p in enumerate(self.by_path)}
        return self._positions.get(path, -1)

    def _last_of(self) -> dict[str, int]:
        """The position of the last checked file of each top-level package."""
        if not self._last:
            for path, summary in self.by_path.items():
                self._last[summary.module.split(".")[0]] = self._position(path)
        return self._last

    def _worth_keeping(self, path: str) -> bool:
        """Whether a linted module's analysis is kept for the caller searches still to come.

        Only when a search already made (a function name, from a package) would find a call
        in it: searches for one name come again (another function of that name, another
        depth), and a module found once is likely to be asked again. Any other analysis is
        let go once its lint ends - keeping every linted module's tree held a cold run's
        memory at four times what the lint needs, paid in page faults - and its outline
        answers the searches that find nothing there; one that does find a call parses the
        module again (:meth:`analysis_of`).
        """
        outline = self._outlines[path]
        called = outline.called  # a search for a name not called here finds nothing
        return any(
            not outline.without_sites(name, package)
            for name, packages in self._searched.items()
            if name in called
            for package in packages
        )

    def _note_search(self, function: str, path: str) -> None:
        """A caller search for ``function``, asked by the module at ``path``."""
        summary = self.by_path.get(path)
        module = summary.module if summary is not None else module_name_for(path)[0]
        self._searched.setdefault(function, set()).add(module.split(".")[0])

    def without_sites(self, path: str, name: str, package: str) -> bool:
        """Whether the caller search for ``name`` of ``package`` finds nothing in ``path``.

        Answered from the module's outline (:mod:`.outline`) when its lint made one, so a
        module whose analysis was let go is not parsed again to learn that; False when
        only the analysis can tell.
        """
        outline = self._outlines.get(path)
        return outline is not None and outline.without_sites(name, package)

    def remember(self, path: str, settings: Any, analysis: Any) -> None:
        """Keep the lint's analysis of a file the caller search may need, not to parse it twice.

        Only those: every analysis kept alive is memory, and time for the garbage collector.
        """
        key = (path, repr(settings))
        if key in self._analyses:
            self._analyses[key] = analysis  # a newer text of a kept file: already counted
        else:
            size = len(analysis.source.text)
            if path in self._caller_files and self._kept + size <= _KEEP_BUDGET:
                self._kept += size
                self._analyses[key] = analysis
        self._linted(key, analysis)

    def summary_of_module(self, module: str) -> ModuleSummary | None:
        """The summary of a checked module by dotted name (a demand-built index fills it here)."""
        return self.by_module.get(module)

    def view_for(self, path: str) -> Any:
        """The index as the analysis of ``path`` sees it; this one answers every module alike.

        The demand-built index (:mod:`.demand`) records there what each module asked.
        """
        return self

    def resolve(self, name: str, depth: int = 0) -> str:
        """What a dotted name really is, following aliases of the checked modules.

        ``pkg.util.rename`` with ``rename = os.rename`` in ``pkg/util.py`` is ``os.rename``;
        a name the index does not know is returned as it is.
        """
        for _ in range(8 - depth):
            module, _, attribute = name.rpartition(".")
            summary = self.summary_of_module(module)
            if summary is None or attribute not in summary.aliases:
                return name
            name = summary.aliases[attribute]
        return name

    def returned_temp(self, name: str) -> list[Any] | None:
        """[kind, unique] when ``name`` (``pkg.mod.func``) is a helper returning a temp."""
        module, _, function = name.rpartition(".")
        summary = self.summary_of_module(module)
        if summary is None:
            owner, _, cls = module.rpartition(".")  # pkg.mod.Class.method
            summary = self.summary_of_module(owner)
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
        parsed = self._parsed.pop(path, None)
        if parsed is not None:
            parsed.attach(settings, self.view_for(path))
            self._analyses[key] = parsed  # counted when it was kept
            return parsed
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
            analysis = ModuleAnalysis(
                tree, Source(text), settings, self.view_for(path), module, is_package, path
            )
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
        self._note_search(function, path)
        paths = self.callers.get(function)
        if paths is None:  # a caller's caller in a module that does not publish
            paths = [s.path for s in self.by_path.values() if function in s.calls]
            self.callers[function] = paths
            self._caller_files.update(paths)
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
    parsed = {}
    for path, text in sources.items():
        parts = path.removesuffix(".pyi").removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts.pop()
        summary, analysis = _summarise(text, path, ".".join(parts))
        summaries.append(summary)
        if analysis is not None:
            parsed[path] = analysis
    index = ProjectIndex(summaries, dict(sources))
    for path, analysis in parsed.items():
        index.keep(path, analysis)
    return index


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
    parsed: dict[str, Any] = {}
    kept = 0
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
        summary, analysis = _summarise(text, path, None)
        if analysis is not None and kept + len(text) <= _KEEP_BUDGET:
            parsed[path] = analysis  # past the budget it is freed now, not after the loop
            kept += len(text)
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
    index = ProjectIndex(summaries)
    for path, analysis in parsed.items():
        index.keep(path, analysis)
    return index
