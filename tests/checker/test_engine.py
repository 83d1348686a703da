"""The engine with a controlled stand-in for the rules, and end to end with the real ones.

The stand-in ("fake rules") makes the engine's own behaviour - cache, noqa, selection, the fix
loop, robustness - testable with exact expectations, independent of how clever the real
rules are; the tests at the end run the real rules through the same engine.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocirace_checker.codes import RULES
from ocirace_checker.discovery import PathMatcher
from ocirace_checker.engine import (
    RunOptions,
    RunResult,
    SourceProblem,
    apply_noqa,
    decode_source,
    run,
)
from ocirace_checker.model import Edit, Finding, Fix, LintSettings

ALL = frozenset(RULES)


class FakeRules:
    """Flags ``os.rename(`` (safe fix), ``shutil.move(`` (unsafe fix); can break on demand."""

    def __init__(self) -> None:
        self.linted: list[str] = []
        self.settings: list[LintSettings] = []

    def might_match(self, text: str) -> bool:
        return any(word in text for word in ("rename", "move", "BREAK", "RECURSE", "CRASH", "DIE"))

    def lint_source(
        self, source: str, path: str, settings: LintSettings, index: object = None
    ) -> list[Finding]:
        self.linted.append(Path(path).name)
        self.settings.append(settings)
        if "RECURSE" in source:
            raise RecursionError("maximum recursion depth exceeded")
        if "CRASH" in source:
            raise KeyError("boom")
        if "DIE" in source:
            os._exit(3)  # what a segfault in a parser looks like to the pool
        findings = []
        for number, line in enumerate(source.splitlines(), 1):
            for needle, code, applicability, replacement in (
                ("os.rename(", "ORC003", "safe", "os.replace("),
                ("shutil.move(", "ORC004", "unsafe", "publish("),
                ("BREAK(", "ORC001", "safe", "BREAK(("),
            ):
                column = line.find(needle)
                if column < 0:
                    continue
                end = column + len(needle)
                edit = Edit(number, column, number, end, replacement)
                fix = Fix(f"use {replacement}", applicability, (edit,))  # type: ignore[arg-type]
                findings.append(
                    Finding(code, f"{needle} found", number, column, number, end, "", fix)
                )
        return findings


@pytest.fixture
def fake_rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRules]:
    rules = FakeRules()
    module = types.ModuleType("ocirace_checker.lint")
    module.might_match = rules.might_match  # type: ignore[attr-defined]
    module.lint_source = rules.lint_source  # type: ignore[attr-defined]
    module.syntax_problems = lambda text, path: []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ocirace_checker.lint", module)
    # The package object the engine will see, whatever pytest put on sys.path.
    monkeypatch.setattr(sys.modules["ocirace_checker"], "lint", module, raising=False)
    return rules


def engine(paths: list[Path], root: Path, **overrides: object) -> RunResult:
    settings: dict[str, object] = {"selected": ALL, "jobs": 1, **overrides}
    return run(paths, RunOptions(root=root, **settings))  # type: ignore[arg-type]


def codes(result: RunResult) -> list[tuple[str, int, str]]:
    return [(r.path.name, f.line, f.code) for r in result.files for f in r.findings]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- noqa


@pytest.mark.parametrize(
    ("comment", "suppressed", "warning"),
    [
        ("# noqa", True, None),
        ("# NOQA", True, None),
        ("#noqa:ORC003", True, None),
        ("# noqa: ORC001, ORC003", True, None),
        ("# noqa: E501 ORC003", True, None),
        ("# noqa: ORC001", False, None),
        ("# noqa: E501", False, None),
        ("# noqa: ORC999", False, "unknown rule code ORC999"),
        ("# noqa:", False, "without codes suppresses nothing"),
        ("# a comment", False, None),
    ],
)
def test_noqa_on_the_reported_line(comment: str, suppressed: bool, warning: str | None):
    finding = Finding("ORC003", "m", 2, 4, 2, 10)
    kept, warnings = apply_noqa([finding], ["x = 1", f"    os.rename(a, b)  {comment}"])
    assert (kept == []) is suppressed
    messages = [message for line, message in warnings if line == 2]
    assert len(messages) == len(warnings) == (1 if warning else 0)
    if warning:
        assert warning in messages[0]


def test_noqa_elsewhere_does_not_suppress():
    finding = Finding("ORC003", "m", 2, 0, 3, 1)
    kept, _ = apply_noqa([finding], ["# noqa", "os.rename(", "  a, b)  # noqa"])
    assert kept == [finding]


def test_run_applies_noqa_and_warns_about_bad_comments(tmp_path: Path, fake_rules: FakeRules):
    path = write(
        tmp_path / "a.py",
        """\
        os.rename(a, b)  # noqa: ORC003
        os.rename(a, b)  # noqa: ORC030
        os.rename(a, b)
        """,
    )
    result = engine([path], tmp_path)
    assert codes(result) == [("a.py", 2, "ORC003"), ("a.py", 3, "ORC003")]
    assert result.files[0].warnings == [
        f"{path}:2: unknown rule code ORC030 in '# noqa'; valid: " + ", ".join(RULES)
    ]


# ---------------------------------------------------------------------------- selection


def test_selection_and_per_file_ignores(tmp_path: Path, fake_rules: FakeRules):
    (tmp_path / "tests").mkdir()
    src = write(tmp_path / "a.py", "os.rename(a, b)\nshutil.move(a, b)\n")
    test = write(tmp_path / "tests" / "t.py", "os.rename(a, b)\nshutil.move(a, b)\n")
    result = engine(
        [src, test],
        tmp_path,
        selected=frozenset({"ORC000", "ORC003", "ORC004"}),
        per_file_ignores=((PathMatcher(["tests/**"]), frozenset({"ORC004"})),),
    )
    assert codes(result) == [("a.py", 1, "ORC003"), ("a.py", 2, "ORC004"), ("t.py", 1, "ORC003")]
    only = engine([src], tmp_path, selected=frozenset({"ORC004"}))
    assert codes(only) == [("a.py", 2, "ORC004")]


def test_settings_reach_the_rules(tmp_path: Path, fake_rules: FakeRules):
    path = write(tmp_path / "a.py", "os.rename(a, b)\n")
    settings = LintSettings(extra_lock_names=("gate",), extra_guard_functions=("p.q",))
    engine([path], tmp_path, lint=settings)
    assert fake_rules.settings == [settings]


# ---------------------------------------------------------------------------- cache


def test_warm_run_answers_from_the_cache(tmp_path: Path, fake_rules: FakeRules):
    cache = tmp_path / ".ocirace_cache"
    files = [
        write(tmp_path / f"m{i}.py", "os.rename(a, b)\n" if i else "x = 1\n") for i in range(3)
    ]
    cold = engine(files, tmp_path, cache_dir=cache)
    assert sorted(fake_rules.linted) == ["m1.py", "m2.py"]
    assert (cold.cached, cold.linted) == (0, 2)
    assert (cache / "CACHEDIR.TAG").read_text(encoding="ascii").startswith("Signature: 8a477f59")
    (entries,) = cache.glob("results*.json")
    assert len(json.loads(entries.read_text(encoding="utf-8"))["files"]) == 3

    fake_rules.linted.clear()
    warm = engine(files, tmp_path, cache_dir=cache)
    assert fake_rules.linted == []
    assert warm.cached == 3
    assert codes(warm) == codes(cold)


def test_cache_is_keyed_by_content_not_timestamps(tmp_path: Path, fake_rules: FakeRules):
    cache = tmp_path / "c"
    path = write(tmp_path / "a.py", "os.rename(a, b)\n")
    engine([path], tmp_path, cache_dir=cache)
    fake_rules.linted.clear()
    os.utime(path, ns=(1, 1))  # touched, same bytes
    assert codes(engine([path], tmp_path, cache_dir=cache)) == [("a.py", 1, "ORC003")]
    assert fake_rules.linted == []
    write(path, "os.rename(a, b)\nos.rename(c, d)\n")
    os.utime(path, ns=(1, 1))  # changed bytes, same timestamp: the size differs
    assert codes(engine([path], tmp_path, cache_dir=cache)) == [
        ("a.py", 1, "ORC003"),
        ("a.py", 2, "ORC003"),
    ]
    assert fake_rules.linted == ["a.py"]


def test_cache_is_keyed_by_settings(tmp_path: Path, fake_rules: FakeRules):
    cache = tmp_path / "c"
    path = write(tmp_path / "a.py", "os.rename(a, b)\n")
    engine([path], tmp_path, cache_dir=cache)
    engine([path], tmp_path, cache_dir=cache, lint=LintSettings(extra_lock_names=("x",)))
    assert fake_rules.linted == ["a.py", "a.py"]
    # Fixes name the writer module, so a cached fix for another module must not be served.
    vendored = LintSettings(extra_lock_names=("x",), fix_writer_module="app._vendor.writer")
    engine([path], tmp_path, cache_dir=cache, lint=vendored)
    engine([path], tmp_path, cache_dir=cache, lint=vendored)
    assert fake_rules.linted == ["a.py", "a.py", "a.py"]
    assert fake_rules.settings[-1].fix_writer_module == "app._vendor.writer"


def test_noqa_and_selection_changes_need_no_relint(tmp_path: Path, fake_rules: FakeRules):
    cache = tmp_path / "c"
    path = write(tmp_path / "a.py", "os.rename(a, b)\n")
    engine([path], tmp_path, cache_dir=cache)
    assert codes(engine([path], tmp_path, cache_dir=cache, selected=frozenset({"ORC001"}))) == []
    assert fake_rules.linted == ["a.py"]


def test_cache_forgets_deleted_files_but_keeps_unseen_ones(tmp_path: Path, fake_rules: FakeRules):
    cache = tmp_path / "c"
    kept = write(tmp_path / "kept.py", "os.rename(a, b)\n")
    gone = write(tmp_path / "gone.py", "os.rename(a, b)\n")
    engine([kept, gone], tmp_path, cache_dir=cache)
    gone.unlink()
    other = write(tmp_path / "other.py", "os.rename(a, b)\n")
    engine([other], tmp_path, cache_dir=cache)  # like pre-commit: one file at a time
    files = json.loads((cache / "results.json").read_text(encoding="utf-8"))["files"]
    assert sorted(Path(key).name for key in files) == ["kept.py", "other.py"]


def test_a_corrupt_cache_is_rebuilt(tmp_path: Path, fake_rules: FakeRules):
    cache = tmp_path / "c"
    path = write(tmp_path / "a.py", "os.rename(a, b)\n")
    engine([path], tmp_path, cache_dir=cache)
    (entries,) = cache.glob("results*.json")
    entries.write_text("{not json", encoding="utf-8")
    assert codes(engine([path], tmp_path, cache_dir=cache)) == [("a.py", 1, "ORC003")]
    assert json.loads(entries.read_text(encoding="utf-8"))


def test_no_cache_writes_nothing(tmp_path: Path, fake_rules: FakeRules):
    path = write(tmp_path / "a.py", "os.rename(a, b)\n")
    engine([path], tmp_path, cache_dir=None)
    engine([path], tmp_path, cache_dir=None)
    assert fake_rules.linted == ["a.py", "a.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


def test_an_unwritable_cache_is_a_warning(tmp_path: Path, fake_rules: FakeRules):
    blocker = write(tmp_path / "blocker", "a file where the cache directory should be")
    path = write(tmp_path / "a.py", "os.rename(a, b)\n")
    result = engine([path], tmp_path, cache_dir=blocker / "cache")
    assert codes(result) == [("a.py", 1, "ORC003")]
    assert len(result.warnings) == 1
    assert "could not write the cache" in result.warnings[0]


# ---------------------------------------------------------------- bytes that are not text


def test_encodings(tmp_path: Path, fake_rules: FakeRules):
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9'\nos.rename(a, b)\n")
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"x = 1\ny = '\xe9'\n")
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\x00\x01\x02rename")
    empty = tmp_path / "empty.py"
    empty.write_bytes(b"")
    result = engine([latin, bad, binary, empty], tmp_path)
    by_name = {r.path.name: r.findings for r in result.files}
    assert [f.code for f in by_name["latin.py"]] == ["ORC003"]
    (bad_finding,) = by_name["bad.py"]
    assert (bad_finding.code, bad_finding.line, bad_finding.column) == ("ORC000", 2, 5)
    assert "not valid utf-8 (byte 0xe9)" in bad_finding.message
    assert "PEP 263" in bad_finding.message
    (binary_finding,) = by_name["binary.py"]
    assert binary_finding.code == "ORC000"
    assert "binary file" in binary_finding.message
    assert "empty.py" not in by_name
    assert fake_rules.linted == ["latin.py"]


def test_decode_source_knows_boms_and_cookies():
    assert decode_source(b"\xef\xbb\xbfx = 1\n").text == "x = 1\n"
    with pytest.raises(SourceProblem, match="unknown encoding: klingon"):
        decode_source(b"# coding: klingon\nx = 1\n")


def test_a_vanished_file_is_reported_not_raised(tmp_path: Path, fake_rules: FakeRules):
    gone = tmp_path / "gone.py"
    (finding,) = engine([gone], tmp_path).files[0].findings
    assert finding.code == "ORC000"
    assert "cannot read the file" in finding.message


@pytest.mark.parametrize(
    ("marker", "expected"), [("RECURSE", "too deeply nested"), ("CRASH", "internal error")]
)
def test_a_rule_crash_is_an_orc000_for_that_file_only(
    tmp_path: Path, fake_rules: FakeRules, marker: str, expected: str
):
    broken = write(tmp_path / "broken.py", f"{marker}\n")
    fine = write(tmp_path / "fine.py", "os.rename(a, b)\n")
    result = engine([broken, fine], tmp_path)
    assert codes(result) == [("broken.py", 1, "ORC000"), ("fine.py", 1, "ORC003")]
    assert expected in result.files[0].findings[0].message


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="the fake rules reach workers by fork"
)
def test_a_worker_that_dies_costs_one_orc000(tmp_path: Path, fake_rules: FakeRules):
    paths = [write(tmp_path / f"ok{i}.py", "os.rename(a, b)\n") for i in range(7)]
    paths.append(write(tmp_path / "killer.py", "DIE\n"))
    result = engine(sorted(paths), tmp_path, jobs=2)
    by_name = {name: code for name, _, code in codes(result)}
    assert by_name.pop("killer.py") == "ORC000"
    assert by_name == {f"ok{i}.py": "ORC003" for i in range(7)}
    (killer,) = [r for r in result.files if r.path.name == "killer.py"]
    assert "worker process checking this file died" in killer.findings[0].message


# ---------------------------------------------------------------------------- fixes


def test_fix_writes_safe_fixes_atomically_keeping_mode_and_bytes(
    tmp_path: Path, fake_rules: FakeRules
):
    path = tmp_path / "a.py"
    path.write_bytes(
        b"\xef\xbb\xbfimport os\r\nos.rename(a, b)  # keep me\r\nshutil.move(a, b)\r\n"
    )
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    result = engine([path], tmp_path, fix=True)
    assert path.read_bytes() == (
        b"\xef\xbb\xbfimport os\r\nos.replace(a, b)  # keep me\r\nshutil.move(a, b)\r\n"
    )
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert result.files[0].fixed == 1
    assert codes(result) == [("a.py", 3, "ORC004")]  # the unsafe one remains


def test_fix_is_idempotent_and_unsafe_needs_opting_in(tmp_path: Path, fake_rules: FakeRules):
    path = write(tmp_path / "a.py", "os.rename(a, b)\nshutil.move(a, b)\n")
    engine([path], tmp_path, fix=True)
    once = path.read_text(encoding="utf-8")
    second = engine([path], tmp_path, fix=True)
    assert path.read_text(encoding="utf-8") == once
    assert [r.fixed for r in second.files] == [0]
    engine([path], tmp_path, fix=True, unsafe_fixes=True)
    assert path.read_text(encoding="utf-8") == "os.replace(a, b)\npublish(a, b)\n"


def test_fix_skips_suppressed_and_unselected_findings(tmp_path: Path, fake_rules: FakeRules):
    text = "os.rename(a, b)  # noqa\nos.rename(c, d)\n"
    path = write(tmp_path / "a.py", text)
    engine([path], tmp_path, fix=True, selected=frozenset({"ORC001"}))
    assert path.read_text(encoding="utf-8") == text
    engine([path], tmp_path, fix=True)
    assert path.read_text(encoding="utf-8") == "os.rename(a, b)  # noqa\nos.replace(c, d)\n"


def test_diff_shows_safe_and_unsafe_fixes_without_writing(tmp_path: Path, fake_rules: FakeRules):
    text = "os.rename(a, b)\nshutil.move(a, b)\n"
    path = write(tmp_path / "a.py", text)
    result = engine([path], tmp_path, diff=True)
    assert path.read_text(encoding="utf-8") == text
    diff = result.files[0].diff
    assert diff.endswith(
        "-os.rename(a, b)\n-shutil.move(a, b)\n+os.replace(a, b)\n+publish(a, b)\n"
    )
    assert diff.startswith("--- ")


def test_a_fix_that_breaks_the_code_is_not_written(tmp_path: Path, fake_rules: FakeRules):
    text = "BREAK(a)\n"
    path = write(tmp_path / "a.py", text)
    result = engine([path], tmp_path, fix=True)
    assert path.read_text(encoding="utf-8") == text
    assert "would leave invalid Python" in result.files[0].warnings[0]
    assert codes(result) == [("a.py", 1, "ORC001")]


def test_fixing_updates_the_cache(tmp_path: Path, fake_rules: FakeRules):
    cache = tmp_path / "c"
    path = write(tmp_path / "a.py", "os.rename(a, b)\n")
    engine([path], tmp_path, cache_dir=cache)
    engine([path], tmp_path, cache_dir=cache, fix=True)
    fake_rules.linted.clear()
    assert codes(engine([path], tmp_path, cache_dir=cache)) == []
    assert fake_rules.linted == []


# ---------------------------------------------------------------------------- the real rules

REAL_BAD = """\
import os


def store(data, target):
    tmp = target + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.rename(tmp, target)
"""


def real_rules_available() -> bool:
    try:
        import ocirace_checker.lint  # noqa: F401
    except ImportError:
        return False
    return True


needs_real_rules = pytest.mark.skipif(
    not real_rules_available(), reason="ocirace_checker.lint not built yet"
)


@needs_real_rules
def test_parallel_run_matches_serial_run(tmp_path: Path):
    for index in range(12):
        write(tmp_path / f"bad{index}.py", REAL_BAD)
        write(tmp_path / f"clean{index}.py", "def f(s):\n    return s.replace('a', 'b')\n")
    write(tmp_path / "broken.py", "os.rename(\n")
    paths = sorted(tmp_path.glob("*.py"))
    serial = run(paths, RunOptions(root=tmp_path, selected=ALL, jobs=1))
    parallel = run(paths, RunOptions(root=tmp_path, selected=ALL, jobs=2))
    assert codes(parallel) == codes(serial)
    found = {code for _, _, code in codes(serial)}
    assert "ORC000" in found
    assert found & {"ORC001", "ORC002", "ORC003"}
    assert not any(name.startswith("clean") for name, _, _ in codes(serial))


@needs_real_rules
def test_warm_run_does_not_import_libcst(tmp_path: Path):
    for index in range(3):
        write(tmp_path / f"bad{index}.py", REAL_BAD)
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from ocirace_checker.codes import RULES
        from ocirace_checker.engine import RunOptions, run
        paths = sorted(Path({str(tmp_path)!r}).glob("*.py"))
        options = RunOptions(root=Path({str(tmp_path)!r}), selected=frozenset(RULES),
                             cache_dir=Path({str(tmp_path / "cache")!r}))
        result = run(paths, options)
        print(sum(len(r.findings) for r in result.files), result.cached, "libcst" in sys.modules)
        """
    )
    cold = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    warm = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    cold_count, cold_cached, _ = cold.stdout.split()
    warm_count, warm_cached, warm_libcst = warm.stdout.split()
    assert int(cold_count) >= 3
    assert cold_cached == "0"
    assert (warm_count, warm_cached, warm_libcst) == (cold_count, "3", "False")


def test_each_file_is_parsed_once_per_run_and_the_collector_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The index's summaries and the lint share one parse of each file (issue 10)."""
    import ast
    import gc

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "util.py").write_text("import os\nrename = os.rename\n", encoding="utf-8")
    (package / "store.py").write_text(
        "import os, tempfile\n"
        "from pkg.util import rename\n"
        "def put(dst, data):\n"
        "    fd, tmp = tempfile.mkstemp()\n"
        "    os.write(fd, data)\n"
        "    os.close(fd)\n"
        "    rename(tmp, dst)\n",
        encoding="utf-8",
    )
    (package / "cli.py").write_text(
        "from pkg.store import put\ndef main(dst):\n    put(dst, b'x')  # no guard: replace\n",
        encoding="utf-8",
    )
    parsed: list[str] = []
    real_parse = ast.parse

    def counting_parse(source: Any, filename: str = "<unknown>", *args: Any, **kw: Any) -> Any:
        parsed.append(filename)
        return real_parse(source, filename, *args, **kw)

    monkeypatch.setattr(ast, "parse", counting_parse)
    paths = sorted(str(p) for p in package.glob("*.py"))
    result = run(paths, RunOptions(root=tmp_path, selected=ALL, jobs=1))
    codes = {f.code for r in result.files for f in r.findings}
    assert "ORC003" in codes  # the cross-module alias was resolved: the index took part
    named = [name for name in parsed if name != "<unknown>"]
    assert sorted(named) == sorted(set(named)), f"a file was parsed twice: {named}"
    assert gc.isenabled()
