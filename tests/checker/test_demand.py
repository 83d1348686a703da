"""The demand-built project index: the same findings as the full index, for less work."""

from __future__ import annotations

import os
import re
import sysconfig
import textwrap
from pathlib import Path

import pytest

from ocirace_checker.codes import RULES
from ocirace_checker.demand import (
    DemandIndex,
    demand_index_of_sources,
    module_names,
    text_calls,
    text_words,
)
from ocirace_checker.engine import RunOptions, RunResult, run
from ocirace_checker.lint import lint_source
from ocirace_checker.model import LintSettings
from ocirace_checker.project_index import index_of_sources, module_name_for
from tests.checker.multi_module_examples import MULTI_MODULE
from tests.checker.two_module_project import GUARDED_CALLER, STORE, UNGUARDED_CALLER

ALL = frozenset(RULES)
SETTINGS = LintSettings()


def findings_in(result: RunResult) -> list[tuple[object, ...]]:
    """Everything a reader sees of each finding, so a changed reason counts too."""
    return sorted(
        (str(r.path), f.line, f.column, f.code, f.message, f.why, f.related)
        for r in result.files
        for f in r.findings
    )


def both_ways(paths: list[str]) -> tuple[RunResult, RunResult]:
    root = Path(os.path.commonpath(paths))
    full = run(paths, RunOptions(root, ALL, full_index=True))
    on_demand = run(paths, RunOptions(root, ALL))
    return full, on_demand


GUARDED = GUARDED_CALLER
UNGUARDED = UNGUARDED_CALLER
HELPER = """\
import tempfile
def staged():
    fd, name = tempfile.mkstemp()
    return name
"""
USER = """\
import os
from pkg.helpers import staged
from pkg.util import swap
def f(dst):
    tmp = staged()
    swap(tmp, dst)
"""
#: More multi-module trees, each checked in every one of its modules.
TREES = [
    {"pkg/__init__.py": "", "pkg/store.py": STORE, "pkg/cli.py": GUARDED},
    {"pkg/__init__.py": "", "pkg/store.py": STORE, "pkg/a.py": GUARDED, "pkg/b.py": UNGUARDED},
    {
        "pkg/__init__.py": "",
        "pkg/util.py": "import os\nswap = getattr(os, 'replace', os.rename)\n",
        "pkg/helpers.py": HELPER,
        "pkg/user.py": USER,
    },
]


def test_there_are_multi_module_examples() -> None:
    assert len(MULTI_MODULE) >= 4


def _judged_alike(modules: dict[str, str], path: str) -> None:
    full = lint_source(modules[path], path, SETTINGS, index_of_sources(modules))
    index = demand_index_of_sources(modules)
    on_demand = lint_source(modules[path], path, SETTINGS, index.view_for(path))
    assert on_demand == full
    assert [f.why for f in on_demand] == [f.why for f in full]


@pytest.mark.parametrize("modules", TREES)
def test_every_module_of_these_trees_is_judged_as_with_the_full_index(
    modules: dict[str, str],
) -> None:
    for path in modules:
        _judged_alike(modules, path)


@pytest.mark.parametrize("case", MULTI_MODULE)
def test_every_multi_module_example_is_judged_as_with_the_full_index(case: object) -> None:
    _judged_alike(case.modules, case.checked_path)  # type: ignore[attr-defined]


STDLIB = Path(sysconfig.get_paths()["stdlib"])
#: Standard-library modules with publishes, temps, aliases and a caller chain across modules
#: (importlib's _write_atomic, called by py_compile, called by compileall).
STDLIB_PART = ("py_compile.py", "compileall.py", "importlib", "tempfile.py", "mailbox.py")


def test_a_real_multi_module_tree_is_judged_as_with_the_full_index(tmp_path: Path) -> None:
    import shutil

    for name in STDLIB_PART:
        source = STDLIB / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    paths = sorted(str(p) for p in tmp_path.rglob("*.py"))
    full, on_demand = both_ways(paths)
    assert findings_in(on_demand) == findings_in(full)
    # The chain across three modules is there, so the comparison covers the caller search.
    assert any("compileall.py" in " ".join(f[5]) for f in findings_in(full))  # type: ignore[arg-type]


def _corpus_files() -> list[str]:
    import sys

    here = Path(__file__).resolve().parents[2] / "bench" / "checker_corpus"
    default = Path.home() / ".cache" / "ocirace-corpus"
    tree = Path(os.environ.get("OCIRACE_CORPUS_DIR", default)) / "tree"
    if not tree.is_dir():
        return []
    sys.path.insert(0, str(here))
    try:
        from corpus_model import load_corpus
    finally:
        sys.path.remove(str(here))
    projects, sites = load_corpus(here / "sites.toml")
    files = {tree / projects[site.project].key / site.path for site in sites}
    return sorted(str(f) for f in files if f.is_file())


def test_the_corpus_sites_are_judged_as_with_the_full_index() -> None:
    files = _corpus_files()
    if not files:
        pytest.skip("the corpus is not materialised (bench/checker_corpus/materialise.py)")
    full, on_demand = both_ways(files)
    assert findings_in(on_demand) == findings_in(full)


def write(root: Path, files: dict[str, str]) -> list[str]:
    paths = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every source ``ast.parse`` is given from now on, in order."""
    import ast

    sources: list[str] = []
    real = ast.parse

    def counting(source: str | bytes, *args: object, **kwargs: object) -> ast.Module:
        sources.append(source if isinstance(source, str) else source.decode())
        return real(source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ast, "parse", counting)
    return sources


def test_each_file_is_parsed_at_most_once_and_only_if_reached(
    tmp_path: Path, parsed: list[str]
) -> None:
    files = {
        "pkg/__init__.py": "",
        # Linted before b_db.py names it: its exports come from its own lint's parse.
        "pkg/a_util.py": "import os\nrename = os.rename\n",
        "pkg/b_db.py": (
            "import tempfile\nfrom pkg.a_util import rename\ndef store(dst):\n"
            "    fd, staged = tempfile.mkstemp()\n    rename(staged, dst)\n"
        ),
        # A temp helper nobody imports, in a file the pre-filter rules out: never analysed.
        "pkg/c_helpers.py": "import tempfile\ndef staged():\n    return tempfile.mkstemp()[1]\n",
    }
    paths = write(tmp_path, files)
    result = run(paths, RunOptions(tmp_path, ALL))
    assert [f.code for r in result.files for f in r.findings][:1] == ["ORC001"]
    for text in files.values():
        assert parsed.count(text) <= 1, text
    # The pre-filter's ORC000 check parses c_helpers.py once; its exports were never read.
    assert parsed.count(files["pkg/c_helpers.py"]) == 1


def test_a_caller_searched_before_it_is_named_is_parsed_once(
    tmp_path: Path, parsed: list[str]
) -> None:
    """Regression: a caller parsed for the search was parsed again for its exports."""
    files = {
        "pkg/__init__.py": "",
        # Its publish of a parameter sends the search to b_caller.py before anything names it.
        "pkg/a_store.py": "import os\ndef put(tmp, dst):\n    os.replace(tmp, dst)\n",
        # A caller that also exports a temp helper, which c_user.py names later.
        "pkg/b_caller.py": (
            "import tempfile\nfrom pkg.a_store import put\ndef staged():\n"
            "    fd, name = tempfile.mkstemp()\n    return name\n"
            "def save(dst):\n    put(staged(), dst)\n"
        ),
        "pkg/c_user.py": (
            "import os\nfrom pkg.b_caller import staged\ndef copy(dst):\n"
            "    os.replace(staged(), dst)\n"
        ),
    }
    paths = write(tmp_path, files)
    result = run(paths, RunOptions(tmp_path, ALL, jobs=1))
    found = {(Path(r.path).name, f.code) for r in result.files for f in r.findings}
    assert {("a_store.py", "ORC001"), ("c_user.py", "ORC001")} <= found
    for text in files.values():
        assert parsed.count(text) <= 1, text


def test_module_names_are_those_of_module_name_for(tmp_path: Path) -> None:
    paths = write(
        tmp_path,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/sub/__init__.pyi": "",
            "src/pkg/sub/mod.py": "",
            "src/pkg/x.tar.py": "",
            "script.py": "",
        },
    )
    names = module_names(paths)
    assert names == {path: module_name_for(path) for path in paths}
    assert names[paths[2]] == ("pkg.sub.mod", False)


@pytest.mark.parametrize(
    "text",
    [
        "compile(x)",
        "py_compile.compile (x)",
        "recompile(x)",
        "compile_all(x)",
        "x = compile",
        "f(compile\n  (x))",
        "é compile(x)",
        "compilecompile(compile(",
        "# compile(x) in a comment\n",
        "compile\t\x0c\r\n(x)",
        "compile\u3000(x)",
        "compile\x1c(x)",
        "compileé(x)",
        "compile2(x) compile",
        "_compile(x) compile (",
        "compile",
        "",
    ],
)
def test_text_calls_answers_as_the_index_call_pattern(text: str) -> None:
    pattern = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\s*\(")
    assert text_calls(text, "compile") == ("compile" in pattern.findall(text))


def test_a_name_the_call_pattern_finds_is_one_of_the_words() -> None:
    """The caller search skips a text whose words lack the name: never a call it would find.

    Every identifier of some real modules, asked of texts built to break word boundaries
    (non-ASCII letters and spaces, control characters, a name at the very start or end).
    """
    import random

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [(stdlib / name).read_text(encoding="utf-8") for name in ("shutil.py", "os.py")]
    pieces = ["compile", "é", "\u3000", "\x1c", "(", " ", "\n", "_", "2", "x.", "#", "é("]
    chooser = random.Random(10)
    texts += ["".join(chooser.choice(pieces) for _ in range(12)) for _ in range(2000)]
    names = {"compile", "x", "_", "é"} | set(re.findall(r"[A-Za-z_]\w*", texts[0]))
    for text in texts:
        words = text_words(text)
        for name in names:
            if text_calls(text, name):
                assert not name.isascii() or name.encode() in words, (text, name)


def test_the_word_test_skips_texts_without_the_name(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def publish(x):\n    pass\n", encoding="utf-8")
    (tmp_path / "b.py").write_text("republish(1)\npublish (2)\n", encoding="utf-8")
    (tmp_path / "c.py").write_text("x = 'publish'\npublisher(3)\n", encoding="utf-8")
    paths = [str(tmp_path / n) for n in ("a.py", "b.py", "c.py")]
    index = DemandIndex(paths)
    assert index.callers_of("publish") == paths[:2]
    assert index.callers_of("publisher") == paths[2:]
    assert index.callers_of("republish") == paths[1:2]
    assert index.callers_of("absent") == []


def test_past_the_words_budget_texts_are_searched_without_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ocirace_checker.demand as demand

    texts = {"a.py": "publish(1)\n", "b.py": "x.publish (2)\n", "c.py": "unpublish(3)\n"}
    paths = []
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    monkeypatch.setattr(demand, "_WORDS_BUDGET", len(texts["a.py"]))
    index = DemandIndex(paths)
    assert index.callers_of("publish") == paths[:2]
    assert index.callers_of("unpublish") == paths[2:]


def test_the_caller_search_answers_as_the_text_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every name, every file: the one loop gives :func:`text_calls`'s answer, in order.

    Real modules (words known for some, past the words budget for the others), a
    non-ASCII name, an unreadable file; then a second index answers from the first's facts
    without reading the files, the same answers.
    """
    import ocirace_checker.demand as demand

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    pattern = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\s*\(")
    texts = {
        f"m{i}.py": (stdlib / name).read_text(encoding="utf-8")
        for i, name in enumerate(("shutil.py", "tempfile.py", "os.py"))
    }
    texts["u.py"] = "def é():\n    pass\n\né (1)\ncopy\u3000(2)\n"
    paths = []
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    paths.insert(1, str(tmp_path / "gone.py"))
    monkeypatch.setattr(demand, "_WORDS_BUDGET", len(texts["m0.py"]) + len(texts["m1.py"]))
    names = sorted(set(pattern.findall(texts["m0.py"])) | {"é", "copy", "absent", "rmtree"})
    index = DemandIndex(paths)
    expected = {
        name: [str(tmp_path / f) for f, t in texts.items() if text_calls(t, name)] for name in names
    }
    assert {name: index.callers_of(name) for name in names} == expected
    facts = index.take_facts()
    for name in texts:
        (tmp_path / name).write_text("", encoding="utf-8")  # answers now come from the facts
    again = DemandIndex(paths, facts, {p: facts[p][0] for p in facts})
    assert {name: again.callers_of(name) for name in names} == expected
    assert again.take_facts() == {}  # nothing new learnt
    assert again.callers_of("never_asked") == []  # a new name is read from the (now empty) texts
    assert {p: f[2]["never_asked"] for p, f in again.take_facts().items()} == dict.fromkeys(
        facts, False
    )


def test_an_unreadable_module_exports_nothing(tmp_path: Path) -> None:
    index = DemandIndex([str(tmp_path / "gone.py")])
    assert index.resolve("gone.rename") == "gone.rename"
    assert index.callers_of("f") == []


def test_a_module_lookup_through_by_module_is_recorded_and_filled() -> None:
    index = demand_index_of_sources(
        {"pkg/__init__.py": "", "pkg/util.py": "import os\nrename = os.rename\n", "a.py": ""}
    )
    view = index.view_for("a.py")
    assert "pkg.util" in view.by_module
    assert "pkg.nothing" not in view.by_module
    assert view.by_module["pkg.util"].aliases["rename"] == "os.rename"  # filled on demand
    assert view.deps.modules == {"pkg.util": "pkg/util.py", "pkg.nothing": None}
    assert index.deps_of("a.py")[1] == {"pkg.util": "pkg/util.py", "pkg.nothing": None}


def test_a_callers_package_test_reads_the_text_the_index_holds(tmp_path: Path) -> None:
    # The caller search's cheap test (same top-level package, or the package named in the
    # text) answers from the file as the index read it, as the base index does from disk.
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    own = tmp_path / "pkg" / "store.py"
    own.write_text("def save(): pass\n", encoding="utf-8")
    user = tmp_path / "app.py"
    user.write_text("from pkg.store import save\nsave()\n", encoding="utf-8")
    other = tmp_path / "other.py"
    other.write_text("def save(): pass\nsave()\n", encoding="utf-8")
    index = DemandIndex([str(own), str(user), str(other)])
    assert index.may_import(str(own), "pkg")  # its own package
    assert index.may_import(str(user), "pkg")  # names it
    assert not index.may_import(str(other), "pkg")
    # Unreadable: not ruled out here (the caller's analysis then reports it as unknown).
    assert index.may_import(str(tmp_path / "missing.py"), "pkg")
