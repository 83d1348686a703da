"""The whole-project index: built over real files by the engine, with and without workers."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from ocirace_checker.codes import RULES
from ocirace_checker.engine import RunOptions, RunResult, run
from ocirace_checker.project_index import (
    _ALIAS_LINE,
    ModuleSummary,
    _has_alias_line,
    build_index,
    index_of_sources,
    module_name_for,
    summarise,
)
from tests.checker.two_module_project import (
    ALIASED_STORE,
    GUARDED_CALLER,
    RENAME_ALIAS,
    STORE,
    UNGUARDED_CALLER,
)

ALL = frozenset(RULES)

UTIL = RENAME_ALIAS
DB = ALIASED_STORE
CALLER = UNGUARDED_CALLER


def package(root: Path, files: dict[str, str]) -> list[Path]:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    paths = [root / "src" / "pkg" / "__init__.py"]
    for name, text in files.items():
        path = root / "src" / "pkg" / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        paths.append(path)
    return paths


def check(paths: list[Path], root: Path, **overrides: object) -> RunResult:
    settings: dict[str, object] = {"selected": ALL, "jobs": 1, **overrides}
    return run(paths, RunOptions(root=root, **settings))  # type: ignore[arg-type]


def found(result: RunResult, code: str = "ORC001") -> list[tuple[str, int]]:
    return sorted((r.path.name, f.line) for r in result.files for f in r.findings if f.code == code)


def test_module_name_follows_packages_not_the_root(tmp_path: Path) -> None:
    paths = package(tmp_path, {"util.py": UTIL})
    assert module_name_for(paths[1]) == ("pkg.util", False)
    assert module_name_for(paths[0]) == ("pkg", True)
    assert module_name_for(tmp_path / "script.py") == ("script", False)


@pytest.mark.parametrize("jobs", [1, 2])
def test_alias_in_another_module_is_resolved(tmp_path: Path, jobs: int) -> None:
    # Four files or more go to the worker pool with --jobs 2: the index reaches the workers.
    paths = package(tmp_path, {"util.py": UTIL, "db.py": DB, "a.py": "x = 1\n", "b.py": ""})
    assert found(check(paths, tmp_path, jobs=jobs)) == [("db.py", 7)]


def test_alone_the_alias_is_not_known(tmp_path: Path) -> None:
    paths = package(tmp_path, {"db.py": DB})
    assert found(check(paths, tmp_path)) == []


def test_guard_in_a_caller_in_another_module(tmp_path: Path) -> None:
    paths = package(tmp_path, {"store.py": STORE, "cli.py": GUARDED_CALLER})
    assert found(check(paths, tmp_path)) == []
    paths[2].write_text(CALLER, encoding="utf-8")
    assert found(check(paths, tmp_path)) == [("store.py", 6)]


def test_cached_results_follow_a_guard_added_in_another_module(tmp_path: Path) -> None:
    paths = package(tmp_path, {"store.py": STORE, "cli.py": CALLER})
    cache = tmp_path / ".ocirace_cache"
    assert found(check(paths, tmp_path, cache_dir=cache)) == [("store.py", 6)]
    assert (cache / "index.json").exists()
    warm = check(paths, tmp_path, cache_dir=cache)
    assert found(warm) == [("store.py", 6)]
    assert warm.cached == len(paths)
    # Only the caller changes (same size would fool a stat check: make it differ).
    paths[2].write_text(GUARDED_CALLER, encoding="utf-8")
    assert found(check(paths, tmp_path, cache_dir=cache)) == []


def test_a_caller_that_cannot_be_parsed_is_unknown_not_a_guard(tmp_path: Path) -> None:
    paths = package(tmp_path, {"store.py": STORE, "cli.py": GUARDED_CALLER})
    index = build_index([str(p) for p in paths], None)
    paths[2].write_text("def main(:\n    save(1, 2)\n", encoding="utf-8")  # after indexing
    analysis = index.analysis_of(str(paths[1]), RunOptions(tmp_path, ALL).lint)
    call = analysis.publish_calls[0].call
    assert analysis.guard(call) is None
    assert any("unknown" in reason for reason in analysis.why[call])


def test_one_unguarded_caller_among_guarded_ones_is_not_a_guard() -> None:
    index = index_of_sources(
        {
            "pkg/__init__.py": "",
            "pkg/store.py": STORE,
            "pkg/a.py": GUARDED_CALLER,
            "pkg/b.py": CALLER,
        }
    )
    from ocirace_checker.lint import lint_source
    from ocirace_checker.model import LintSettings

    findings = lint_source(STORE, "pkg/store.py", LintSettings(), index)
    assert [f.line for f in findings if f.code == "ORC001"] == [6]
    assert any("pkg/b.py:3" in reason for f in findings for reason in f.why)


def test_summary_round_trips_and_rejects_other_versions() -> None:
    summary = index_of_sources({"pkg/util.py": UTIL}).by_path["pkg/util.py"]
    assert summary.aliases["rename"] == "os.rename"
    again = ModuleSummary.from_json("pkg/util.py", summary.to_json())
    assert again is not None
    assert again.aliases == summary.aliases
    assert ModuleSummary.from_json("x.py", [0, "x"]) is None


def test_index_file_is_reused_when_nothing_changed(tmp_path: Path) -> None:
    paths = package(tmp_path, {"util.py": UTIL, "db.py": DB})
    cache = tmp_path / "cache"
    build_index([str(p) for p in paths], cache)
    before = os.stat(cache / "index.json").st_mtime_ns
    index = build_index([str(p) for p in paths], cache)
    assert os.stat(cache / "index.json").st_mtime_ns == before
    assert index.resolve("pkg.util.rename") == "os.rename"


def test_each_function_returning_a_temp_is_summarised_whichever_maker_it_uses() -> None:
    """Functions are judged only when their body holds a temp maker the text holds."""
    text = textwrap.dedent(
        """\
        import os, tempfile

        def a(d):
            fd, name = tempfile.mkstemp(dir=d)
            os.close(fd)
            return name

        def b(d):
            return tempfile.NamedTemporaryFile(dir=d, delete=False).name

        def c(d):
            return os.path.join(d, "x")

        class K:
            def m(self, d):
                return tempfile.mktemp(dir=d)
        """
    )
    assert summarise(text, "pkg/h.py", "pkg.h").temps == {
        "a": ["helper", True],
        "b": ["helper", True],
        "K.m": ["helper", True],
    }
    # Without a return in the whole text, nothing is judged (and nothing is a temp).
    assert summarise(text.replace("return", "yield"), "pkg/h.py", "pkg.h").temps == {}


def test_the_alias_line_test_answers_as_the_pattern() -> None:
    """Testing only the lines that hold a word of the pattern finds what the pattern finds.

    Every module of the standard library's top level, and texts built to put the words at
    the very start or end, after ``\\r``, inside other words and on lines of every kind.
    """
    import random
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in stdlib.glob("*.py")]
    pieces = ["rename", "replace", "move", "s", "x =", "=", "from ", "import ", "\n", "\r\n"]
    pieces += [" ", "\t", "_", "os.", "é", "(", "#", " = "]
    chooser = random.Random(3)
    texts += [
        "".join(chooser.choice(pieces) for _ in range(chooser.randrange(1, 12)))
        for _ in range(20000)
    ]
    answers = [_has_alias_line(text) for text in texts]
    assert answers == [bool(_ALIAS_LINE.search(text)) for text in texts]
    assert 1000 < sum(answers) < len(texts) - 1000  # both answers, many times
