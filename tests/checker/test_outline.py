"""The outline of a linted module answers the caller search as its analysis would.

An index that lets go of analyses (a run that returns to its caller) skips a caller module
from its outline alone; these tests hold the outline to the analysis's answers, and the
run that lets go to the findings of the run that keeps everything.
"""

from __future__ import annotations

import ast
import gc
import sysconfig
import textwrap
from pathlib import Path

import pytest

from ocirace_checker.analysis import ModuleAnalysis, Source
from ocirace_checker.codes import RULES
from ocirace_checker.engine import RunOptions, RunResult, run
from ocirace_checker.model import LintSettings
from ocirace_checker.outline import Outline, reaches

STDLIB = Path(sysconfig.get_paths()["stdlib"])
ALL = frozenset(RULES)


def analysed(text: str, module: str) -> ModuleAnalysis:
    return ModuleAnalysis(ast.parse(text), Source(text), LintSettings(), None, module, False, "")


NAMES = ("replace", "rename", "move", "copy", "write", "put", "save", "f", "nothing_calls_this")
PACKAGES = ("", "os", "shutil", "importlib", "email", "pkg", "tempfile", "py_compile")


@pytest.mark.parametrize("name", ["shutil.py", "tempfile.py", "py_compile.py", "mailbox.py"])
def test_the_outline_answers_as_the_analysis(name: str) -> None:
    text = (STDLIB / name).read_text(encoding="utf-8")
    analysis = analysed(text, name.removesuffix(".py"))
    outline = Outline.of(analysis)
    for package in PACKAGES:
        for called in NAMES:
            finds_nothing = (package != "" and not analysis.can_reach(package)) or not (
                analysis.calls_named(called)
            )
            assert outline.without_sites(called, package) == finds_nothing, (called, package)


def test_reaching_a_package_is_being_in_it_or_importing_from_it() -> None:
    assert reaches("pkg.sub.mod", (), "pkg")
    assert reaches("other", ("pkg",), "pkg")
    assert reaches("other", ("pkg.util.rename",), "pkg")
    assert not reaches("other", ("pkgs.util", "os.path"), "pkg")
    assert not reaches("pkgs.mod", (), "pkg")


def checked(tmp_path: Path, files: dict[str, str], process_ends: bool) -> RunResult:
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        paths.append(str(path))
    collecting = gc.isenabled()
    try:
        return run(paths, RunOptions(tmp_path, ALL, jobs=1, process_ends=process_ends))
    finally:
        if collecting:
            gc.enable()  # a run that ends the process leaves the collector off


def findings(result: RunResult) -> list[tuple[object, ...]]:
    return sorted(
        (Path(r.path).name, f.line, f.code, f.message, f.why)
        for r in result.files
        for f in r.findings
    )


#: b_store.py's search for ``put``'s callers comes after a_caller.py and other/a_other.py
#: were linted. other/a_other.py calls a ``put`` and names the package in a comment, but
#: imports nothing of it: a run that lets go has let it go, and its outline rules it out
#: without parsing it again (a run that keeps only callers found so far parses it again).
TREE = {
    "other/__init__.py": "",
    "other/a_other.py": """\
        import os
        # not pkg's put
        def other_main(box, tmp, dst):
            box.put(1)
            os.replace(tmp, dst)
        """,
    "pkg/__init__.py": "",
    "pkg/a_caller.py": """\
        from pkg.b_store import put
        def main(dst):  # linted: the word rename passes the pre-filter
            try:
                put(dst)
            except PermissionError:
                pass  # a writer won the race: theirs is as good
        """,
    "pkg/b_store.py": """\
        import os, tempfile
        def put(dst):
            fd, tmp = tempfile.mkstemp()
            os.close(fd)
            os.replace(tmp, dst)
        """,
    "pkg/c_unguarded.py": """\
        from pkg.b_store import put
        def again(dst):
            put(dst)
        """,
}


def parses(tree: dict[str, str], parsed: list[str]) -> dict[str, int]:
    return {path: parsed.count(textwrap.dedent(text)) for path, text in tree.items() if text}


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every source ``ast.parse`` is given from now on, in order."""
    sources: list[str] = []
    real = ast.parse

    def counting(source: str | bytes, *args: object, **kwargs: object) -> ast.Module:
        sources.append(source if isinstance(source, str) else source.decode())
        return real(source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ast, "parse", counting)
    return sources


def test_a_run_that_lets_go_judges_as_one_that_keeps_everything(
    tmp_path: Path, parsed: list[str]
) -> None:
    kept = checked(tmp_path, TREE, process_ends=True)
    kept_parses = parses(TREE, parsed)
    parsed.clear()
    let_go = checked(tmp_path, TREE, process_ends=False)
    assert findings(let_go) == findings(kept)
    assert ("b_store.py", 5, "ORC001") in [f[:3] for f in findings(kept)]
    # No module is parsed more often; the one the outline rules out is parsed once where
    # the run that keeps analyses (only those of callers found so far) parses it twice.
    let_go_parses = parses(TREE, parsed)
    assert all(let_go_parses[p] <= kept_parses[p] for p in let_go_parses), let_go_parses
    assert (kept_parses["other/a_other.py"], let_go_parses["other/a_other.py"]) == (2, 1)


#: lib/names.py is let go once linted (nothing of its package is left, and it imports
#: nothing of zapp); zapp/main.py's star import then needs its analysis: parsed again.
STAR = {
    "lib/__init__.py": "",
    "lib/names.py": """\
        import os
        swap = os.replace  # what zapp calls rename
        """,
    "zapp/__init__.py": "",
    "zapp/main.py": """\
        import tempfile
        from lib.names import *
        def save(dst):  # swap is a rename
            fd, tmp = tempfile.mkstemp()
            swap(tmp, dst)
        """,
}


def test_a_module_let_go_is_parsed_again_when_a_later_module_needs_it(
    tmp_path: Path, parsed: list[str]
) -> None:
    kept = checked(tmp_path, STAR, process_ends=True)
    assert parses(STAR, parsed)["lib/names.py"] == 1
    parsed.clear()
    let_go = checked(tmp_path, STAR, process_ends=False)
    assert findings(let_go) == findings(kept)
    assert ("main.py", 5, "ORC001") in [f[:3] for f in findings(kept)]
    assert parses(STAR, parsed)["lib/names.py"] == 2
