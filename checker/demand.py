"""The project index built on demand, recording what each module's analysis asked of it.

Building every module's summary before the first lint (:func:`.project_index.build_index`)
parsed every file that might publish, and the lint parsed most of them again: on the
standard library that doubled a cold run, although a lint asks about few modules - the ones
its imports name, and the callers of the functions whose publish it cannot judge alone.
:class:`DemandIndex` answers the same questions with the same answers, computing each one
when it is first asked:

- ``resolve``/``returned_temp``: a module's exports (aliases of rename functions,
  temp-returning helpers) are read from its text when another module first names it, and
  only a text that may hold them is parsed (:func:`.project_index.exports`); the analysis
  made then is kept for that module's own lint, so it is still parsed once;
- ``caller_paths``: the files that call a function of a name are found when a caller search
  first asks for that name, from the text (a word search, then the index's own call pattern
  on the few files that hold the word), not from a parse of every file.

Every answer is recorded on the asking module's :class:`IndexView` - which modules it looked
up and which file answered, which callers a name had, whose analyses it used - so a cached
result can be re-validated on its own (:meth:`DemandIndex.still_valid`): a change in a
helper module invalidates exactly the files whose analysis used it, and nothing else.

What was learnt about a file (its exports, and whether it calls each searched name) is
plain data keyed by the file's content (``facts``), cached across runs by
:mod:`.index_cache`: a warm run never parses an unchanged module for the index.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence

from .project_index import ModuleSummary, ProjectIndex, exports, may_export

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DemandIndex",
    "Deps",
    "IndexView",
    "content_digest",
    "demand_index_of_sources",
    "module_names",
    "text_calls",
    "text_words",
]


def content_digest(data: bytes) -> str:
    """The key of a file's content (results and index facts are both keyed by it)."""
    import hashlib  # only files that changed are hashed; a warm run never needs it

    return hashlib.blake2b(data, digest_size=16).hexdigest()


def module_names(paths: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """``(dotted name, is_package)`` of each path, exactly as :func:`.module_name_for`.

    The package chain of each directory is looked up once (two ``stat`` calls per directory,
    not per file), on strings rather than ``Path`` objects: this runs on every warm run.
    """
    exists = os.path.exists
    join = os.path.join
    chains: dict[str, list[str]] = {}

    def chain(directory: str) -> list[str]:
        """The package names from ``directory`` up, innermost first."""
        known = chains.get(directory)
        if known is None:
            known = []
            if exists(join(directory, "__init__.py")) or exists(join(directory, "__init__.pyi")):
                known = [os.path.basename(directory)]
                parent = os.path.dirname(directory) or "."
                if parent != directory:
                    known = known + chain(parent)
            chains[directory] = known
        return known

    names: dict[str, tuple[str, bool]] = {}
    for path in paths:
        directory, name = os.path.split(path)
        dot = name.rfind(".")
        stem = name[:dot] if 0 < dot < len(name) - 1 else name  # PurePath.stem
        is_package = stem == "__init__"
        parts = ([] if is_package else [stem]) + chain(directory or ".")
        names[path] = (".".join(reversed(parts)), is_package)
    return names


class Deps:
    """What one module's analysis asked the index (and so what its findings rest on)."""

    __slots__ = ("callers", "files", "modules", "uses")

    def __init__(self) -> None:
        #: Files whose content an answer came from.
        self.files: set[str] = set()
        #: Module names looked up, and the file that answered (None: not a checked module).
        self.modules: dict[str, str | None] = {}
        #: Names whose callers were searched, and the files found.
        self.callers: dict[str, list[str]] = {}
        #: Files whose analyses were used (a caller's guard): what they asked counts too.
        self.uses: set[str] = set()


class IndexView:
    """The shared index as the analysis of one file sees it: every answer is recorded.

    Each module's analysis is bound to its own view for its lifetime, so an answer it
    memoises was recorded on its own :class:`Deps`, whichever lint first needed it.
    """

    def __init__(self, shared: DemandIndex, path: str) -> None:
        self._shared = shared
        self.path = path
        self.deps = Deps()

    def __getattr__(self, name: str) -> Any:
        # by_path, texts...: plain data of the shared index.
        return getattr(self._shared, name)

    @property
    def by_module(self) -> _RecordedModules:
        """The checked modules by name, each lookup recorded (and its summary filled)."""
        return _RecordedModules(self)

    def _ask(self, method: Any, *args: Any) -> Any:
        shared = self._shared
        previous = shared.asking
        shared.asking = self.deps
        try:
            return method(*args)
        finally:
            shared.asking = previous

    def resolve(self, name: str, depth: int = 0) -> str:
        result: str = self._ask(self._shared.resolve, name, depth)
        return result

    def returned_temp(self, name: str) -> list[Any] | None:
        result: list[Any] | None = self._ask(self._shared.returned_temp, name)
        return result

    def caller_paths(self, function: str, path: str) -> list[str]:
        result: list[str] = self._ask(self._shared.caller_paths, function, path)
        return result

    def may_import(self, path: str, package: str) -> bool:
        self.deps.files.add(path)
        return self._shared.may_import(path, package)

    def analysis_of(self, path: str, settings: Any) -> Any:
        self.deps.files.add(path)
        self.deps.uses.add(path)
        return self._shared.analysis_of(path, settings)

    def without_sites(self, path: str, name: str, package: str) -> bool:
        # Recorded as asking for the analysis would be: the answer rests on the same things.
        self.deps.files.add(path)
        self.deps.uses.add(path)
        return self._shared.without_sites(path, name, package)

    def analysis_for(self, path: str, text: str, settings: Any) -> Any:
        return self._shared.analysis_for(path, text, settings)

    def remember(self, path: str, settings: Any, analysis: Any) -> None:
        self._shared.remember(path, settings, analysis)

    def view_for(self, path: str) -> IndexView:
        return self._shared.view_for(path)


class _RecordedModules(Mapping[str, ModuleSummary]):
    """``by_module`` as one module's analysis sees it: a lookup is an answer it rests on.

    ``name in index.by_module`` (is this a checked module?) changes when a module is added,
    and ``index.by_module[name]`` is a summary filled on demand: both go through
    :meth:`DemandIndex.summary_of_module` and are recorded on the view.
    """

    def __init__(self, view: IndexView) -> None:
        self._view = view

    def __getitem__(self, module: str) -> ModuleSummary:
        summary: ModuleSummary | None = self._view._ask(
            self._view._shared.summary_of_module, module
        )
        if summary is None:
            raise KeyError(module)
        return summary

    def __contains__(self, module: object) -> bool:
        if not isinstance(module, str):
            return False
        found = self._view._shared.by_module.get(module)
        self._view.deps.modules[module] = None if found is None else found.path
        return found is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._view._shared.by_module)

    def __len__(self) -> int:
        return len(self._view._shared.by_module)


_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
#: Bytes that are not ASCII word characters (as :data:`_WORD` counts them) become spaces.
_SPLIT_WORDS = bytes(c if chr(c) in _WORD else 0x20 for c in range(256))
#: Characters of text whose words the caller search keeps (some 16 MB of words): a larger
#: tree's other texts are searched for each name as they were before.
_WORDS_BUDGET = 8 * 2**20


def text_words(text: str) -> frozenset[bytes]:
    """Every run of ASCII word characters in ``text``: what :func:`text_calls` can find.

    A name :func:`text_calls` finds starts after a non-word character and ends before
    whitespace or ``(``, so it is one of these words: a name that is not among them is
    not called, and the text need not be searched for it. Splitting a text once costs
    what three searches of it cost; the caller search asks some seventy names of every
    text on the corpus, most of which a text does not hold as a word at all.
    (Non-ASCII characters, which :data:`_WORD` does not count, become separators.)
    """
    return frozenset(text.encode("ascii", "replace").translate(_SPLIT_WORDS).split())


def text_calls(text: str, name: str) -> bool:
    """Whether ``name`` is among the names the index's call pattern finds in ``text``.

    The same answer as ``name in _CALLED.findall(text)`` of :mod:`.project_index` (an
    identifier starting at a word start, then whitespace, then ``(``), without collecting
    every called name: each occurrence of the literal is found with ``str.find`` and tested
    in place, and the search stops at the first call. (A regular expression per name made
    a second pass over every text that holds the name: the caller search asks this for
    every name and every file.)
    """
    find = text.find
    size = len(text)
    start = find(name)
    while start >= 0:
        if start == 0 or text[start - 1] not in _WORD:
            end = start + len(name)
            while end < size and text[end].isspace():  # what ``\s`` matches in a str pattern
                end += 1
            if end < size and text[end] == "(":
                return True
        start = find(name, start + 1)
    return False


#: Facts of a summary that are the module's own business, not exports: where it is, what
#: it is called, and the calls it makes (the demand-built index finds callers from text).
_OWN_FACTS = frozenset(
    {"path", "module", "is_package", "calls", "publishers", "functions", "signature"}
)


class DemandIndex(ProjectIndex):
    """The project index over ``paths``, each answer computed when first asked.

    ``facts`` are what earlier runs learnt, by path: ``[digest, summary or None, {name:
    calls it}]``, used only for a file whose content still has that digest. ``digests`` are
    the digests the engine already trusts (unchanged stat signature); any other file is
    hashed when its content is needed. ``texts`` are in-memory modules (tests).
    """

    def __init__(
        self,
        paths: Sequence[str],
        facts: dict[str, Any] | None = None,
        digests: dict[str, str] | None = None,
        texts: dict[str, str] | None = None,
        modules: dict[str, tuple[str, bool]] | None = None,
    ) -> None:
        names = module_names(paths) if modules is None else modules
        super().__init__((ModuleSummary(p, *names[p]) for p in paths), texts)
        self._paths = list(dict.fromkeys(paths))
        self._cached_facts = facts or {}
        self._digests = dict(digests or {})
        #: Facts valid for the current content, by path; ``changed`` ones are saved.
        self._facts: dict[str, list[Any]] = {}
        self.changed: set[str] = set()
        self._exported: set[str] = set()
        self._found: dict[str, list[str]] = {}
        #: The words of each text the caller search read (:func:`text_words`), and the
        #: characters of the texts they were taken from.
        self._words: dict[str, frozenset[bytes]] = {}
        self._worded = 0
        self._read: dict[str, str | None] = {}
        self._views: dict[str, IndexView] = {}
        #: The Deps of the view whose question is being answered (see IndexView._ask).
        self.asking: Deps | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_views"] = {}
        state["_read"] = {}
        state["_words"] = {}
        state["_worded"] = 0
        state["asking"] = None
        return state

    def release(self) -> None:
        super().release()
        self._views.clear()
        self._read.clear()
        self._words.clear()
        self._worded = 0

    # ---------------------------------------------------------------- content and facts

    def known_digest(self, path: str, digest: str) -> None:
        """The digest of ``path`` as the lint read it (the worker hashed it already)."""
        self._digests[path] = digest

    def _text(self, path: str) -> str | None:
        if path in self._read:
            return self._read[path]
        text = self.texts.get(path)
        if text is not None:
            self._digests.setdefault(path, content_digest(text.encode("utf-8")))
        else:
            from .decoding import SourceProblem, decode_source

            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                data = None
            if data is not None:
                self._digests[path] = content_digest(data)
                try:
                    text = decode_source(data).text
                except SourceProblem:
                    text = None
        self._read[path] = text
        return text

    def digest(self, path: str) -> str | None:
        """The digest of a file's content now (None: unreadable)."""
        known = self._digests.get(path)
        if known is None:
            self._text(path)
            known = self._digests.get(path)
        return known

    def _entry(self, path: str) -> list[Any] | None:
        """The facts about ``path``'s current content (None: unreadable)."""
        entry = self._facts.get(path)
        if entry is not None:
            return entry
        cached = self._cached_facts.get(path)
        digest = self._digests.get(path)
        if digest is None and cached is not None:
            digest = self.digest(path)
        if (
            isinstance(cached, list)
            and len(cached) == 3
            and cached[0] == digest
            and isinstance(cached[2], dict)
        ):
            entry = [cached[0], cached[1], dict(cached[2])]
        else:
            if self._text(path) is None:
                return None
            entry = [self._digests[path], None, {}]
            self.changed.add(path)
        self._facts[path] = entry
        return entry

    def take_facts(self) -> dict[str, list[Any]]:
        """Facts learnt since the last call (for the engine to cache)."""
        taken = {path: self._facts[path] for path in self.changed if path in self._facts}
        self.changed = set()
        return taken

    # ---------------------------------------------------------------- the answers

    def view_for(self, path: str) -> IndexView:
        view = self._views.get(path)
        if view is None:
            view = self._views[path] = IndexView(self, path)
        return view

    def summary_of_module(self, module: str) -> ModuleSummary | None:
        summary = self.by_module.get(module)
        asking = self.asking
        if asking is not None:
            asking.modules[module] = None if summary is None else summary.path
        if summary is None:
            return None
        if asking is not None:
            asking.files.add(summary.path)
        if summary.path not in self._exported:
            self._export(summary)
        return summary

    def _export(self, summary: ModuleSummary, may: bool | None = None) -> None:
        """Fill the summary of a module another one named, from the cache or its text.

        Every fact of the full summary is copied except those about the module's own calls
        (callers are found from the text): a fact added to :class:`ModuleSummary` reaches
        the rules through this index without a change here.
        """
        path = summary.path
        self._exported.add(path)
        entry = self._entry(path)
        if entry is None:
            return  # unreadable: it exports nothing
        full = None
        if entry[1] is not None:
            full = ModuleSummary.from_json(path, entry[1])
        if full is None:
            text = self._text(path)
            if text is None:
                return
            full, analysis = exports(text, path, summary.module, summary.is_package, may)
            if analysis is not None:
                self.keep(path, analysis)  # its own lint reuses the parse
            entry[1] = full.to_json()
            self.changed.add(path)
        for name in ModuleSummary.__slots__:
            if name not in _OWN_FACTS:
                setattr(summary, name, getattr(full, name))

    def analysis_of(self, path: str, settings: Any) -> Any:
        """Another module's analysis for the caller search, its exports read from the same parse.

        A caller that may export something is parsed here through :meth:`_export` (its
        analysis kept, then attached to the run's settings): parsed for the search first,
        it would be parsed a second time when a module later names it (a tenth of the
        corpus site files were, and those parses were most of the index's share).
        """
        if (path, repr(settings)) not in self._analyses and path not in self._parsed:
            summary = self.by_path.get(path)
            if (
                summary is not None
                and path not in self._exported
                and self.by_module.get(summary.module) is summary
            ):
                text = self._text(path)
                if text is not None and may_export(text):
                    self._export(summary, may=True)
        return super().analysis_of(path, settings)

    def before_lint(self, path: str, text: str) -> None:
        """Read a module's exports from the parse its own lint is about to reuse.

        A module that may export something and is linted before another module names it
        would otherwise be parsed twice (for its lint, then for its exports); read here, the
        summary's analysis is kept and its lint attaches it. Only texts that may export are
        read (:func:`.project_index.may_export`): every other lint pays nothing.
        """
        summary = self.by_path.get(path)
        if (
            summary is None
            or path in self._exported
            or self.by_module.get(summary.module) is not summary
            or not may_export(text)
        ):
            return
        self._read.setdefault(path, text)
        self._export(summary, may=True)

    def _may_import(self, path: str, package: str) -> bool:
        """The base test, on the text this index already read (not the file read again)."""
        summary = self.by_path.get(path)
        if summary is not None and summary.module.split(".")[0] == package:
            return True
        text = self._text(path)
        return True if text is None else package in text

    def _has_word(self, path: str, text: str, name: str) -> bool:
        """Whether ``name`` may be called in ``text``: one of its words (:func:`text_words`).

        The words take about twice the memory of the text: past :data:`_WORDS_BUDGET`
        characters of worded texts, a text is searched without them (every answer the same).
        """
        if not name.isascii():
            return True
        words = self._words.get(path)
        if words is None:
            if self._worded + len(text) > _WORDS_BUDGET:
                return True
            self._worded += len(text)
            words = self._words[path] = text_words(text)
        return name.encode("ascii") in words

    def callers_of(self, name: str) -> list[str]:
        """Every checked file that calls a function of this name, in the run's order."""
        found = self._found.get(name)
        if found is None:
            found = self._found[name] = self._callers(name)
            self._caller_files.update(found)
        return found

    def _callers(self, name: str) -> list[str]:
        """Whether each file calls ``name`` (by the index's call pattern), known or worked out.

        An answer not known yet is read from the file's text (:func:`text_calls`) unless its
        words say no (:meth:`_has_word`), and becomes a fact of the file. The loop is the
        caller search's inner loop - every name asked of every file, some six thousand
        times on the corpus, nearly all answered "no" by a text's words - so the usual
        case (the facts and words known, the name not among the words) is answered here,
        without a method call per file.
        """
        word = name.encode("ascii") if name.isascii() else None
        facts = self._facts
        words_of = self._words
        found = []
        for path in self._paths:
            entry = facts.get(path)
            if entry is None:
                entry = self._entry(path)
                if entry is None:
                    continue  # unreadable: it calls nothing
            answers = entry[2]
            answer = answers.get(name)
            if answer is None:
                words = words_of.get(path)
                if word is not None and words is not None and word not in words:
                    answer = False
                else:
                    text = self._text(path)
                    answer = (
                        text is not None
                        and self._has_word(path, text, name)
                        and text_calls(text, name)
                    )
                answers[name] = answer
                self.changed.add(path)
            if answer:
                found.append(path)
        return found

    def caller_paths(self, function: str, path: str) -> list[str]:
        self._note_search(function, path)
        found = self.callers_of(function)
        asking = self.asking
        if asking is not None:
            asking.callers[function] = found
            asking.files.update(found)
        return [p for p in found if p != path]

    # ---------------------------------------------------------------- cached results

    def deps_of(self, path: str) -> list[Any]:
        """What the findings of ``path`` rest on, through every analysis they used.

        ``[{file: digest}, {module: file or None}, {name: caller files}]``, plain data for
        the results cache; :meth:`still_valid` checks it against the tree of a later run.
        """
        files: dict[str, str | None] = {}
        modules: dict[str, str | None] = {}
        callers: dict[str, list[str]] = {}
        seen: set[str] = set()
        stack = [path]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            view = self._views.get(current)
            if view is None:
                continue
            deps = view.deps
            for file in deps.files:
                files[file] = self.digest(file)
            modules.update(deps.modules)
            callers.update(deps.callers)
            stack.extend(deps.uses)
        files.pop(path, None)  # its own content is the entry's key
        return [files, modules, callers]

    def still_valid(self, deps: Any) -> bool:
        """Whether every answer recorded in ``deps`` (:meth:`deps_of`) is still the same."""
        if deps is None:
            return True  # never asked the index (e.g. ruled out by the pre-filter)
        try:
            files, modules, callers = deps
            for path, digest in files.items():
                if path not in self.by_path or self.digest(path) != digest:
                    return False
            for module, path in modules.items():
                summary = self.by_module.get(module)
                if (None if summary is None else summary.path) != path:
                    return False
            return all(self.callers_of(name) == paths for name, paths in callers.items())
        except (TypeError, ValueError, AttributeError):
            return False  # not the shape this version writes


def demand_index_of_sources(sources: dict[str, str]) -> DemandIndex:
    """The demand-built index of in-memory modules by relative path (examples, tests).

    Module names come from the paths as :func:`.project_index.index_of_sources` reads them.
    """
    modules = {}
    for path in sources:
        parts = path.removesuffix(".pyi").removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts.pop()
        modules[path] = (".".join(parts), path.endswith("__init__.py"))
    return DemandIndex(list(sources), texts=dict(sources), modules=modules)
