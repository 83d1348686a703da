"""lint_source and might_match as the engine uses them: never a raise, cheap imports, stdlib."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocirace_checker.fixes import apply_fixes
from ocirace_checker.lint import lint_source, might_match
from ocirace_checker.model import Finding, LintSettings
from ocirace_checker.prefilter import _WORDS, _has_word

SETTINGS = LintSettings()

RACY = """\
import os, tempfile
def store(dst, data):
    fd, tmp = tempfile.mkstemp()
    os.write(fd, data)
    os.replace(tmp, dst)
"""


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


@pytest.mark.parametrize(
    "text",
    [
        "os.replace(a, b)",
        "shutil.move(a, b)",
        "from os import rename as r",
        "p.rename(q)",
        "os.renames(a, b)",
        "name = 'sha256:' + h",
        'path = f"{alg}:{hexdigest}"',
        'name = ":".join(parts)',
        "x = '%s:%s' % (a, b)",
    ],
)
def test_prefilter_keeps_possible_findings(text: str) -> None:
    assert might_match(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "os.remove(path)\nremoved = True\n",
        "def replaced(): return movement\n",
        "import os\nprint(os.getcwd())\n",
        "x = {'a': 1}\n",
    ],
)
def test_prefilter_rules_out_files_without_candidates(text: str) -> None:
    assert not might_match(text)


def test_syntax_error_is_one_orc000_at_its_position() -> None:
    findings = lint_source("import os\nos.replace(a, b\n", "bad.py", SETTINGS)
    assert codes(findings) == ["ORC000"]
    assert (findings[0].line, findings[0].column) == (2, 10)
    assert "could not be parsed" in findings[0].message


def test_nul_bytes_are_orc000_not_a_crash() -> None:
    findings = lint_source("os.replace(a, b)\x00\n", "nul.py", SETTINGS)
    assert codes(findings) == ["ORC000"]


def test_deep_nesting_never_raises() -> None:
    deep = "import os, tempfile\nfd, tmp = tempfile.mkstemp()\nx = " + "+".join(["a"] * 50_000)
    deep += "\nos.replace(tmp, 'dst')\n"
    findings = lint_source(deep, "deep.py", SETTINGS)
    assert set(codes(findings)) <= {"ORC000", "ORC001"}
    assert findings


def test_code_libcst_rejects_is_analysed_fully() -> None:
    # Valid Python (ast accepts it) that libcst 1.x rejects, as in the 3.11 stdlib: the
    # analysis runs on ast alone, so the file is checked like any other.
    source = RACY + "(pars): bool = True\n"
    findings = lint_source(source, "odd.py", SETTINGS)
    assert codes(findings) == ["ORC001"]


def test_a_shadowed_name_is_not_a_publish_call() -> None:
    # `os` is imported at module level, but the class attribute named os shadows it inside
    # the class body.
    source = (
        "import os, tempfile\n"
        "class Store:\n"
        "    os = FakeOs()\n"
        "    fd, tmp = tempfile.mkstemp()\n"
        "    os.replace(tmp, 'dst')\n"
    )
    assert "ORC001" not in codes(lint_source(source, "shadow.py", SETTINGS))


def test_findings_are_sorted_and_inside_the_file() -> None:
    source = RACY + "def other(dst):\n    os.remove(dst)\n    os.rename(dst + '.tmp', dst)\n"
    findings = lint_source(source, "x.py", SETTINGS)
    assert findings == sorted(findings, key=lambda f: (f.line, f.column, f.code))
    lines = source.splitlines()
    for finding in findings:
        assert 1 <= finding.line <= finding.end_line <= len(lines)
        assert 0 <= finding.column <= len(lines[finding.line - 1])


def test_extra_lock_names_and_guard_functions_from_settings() -> None:
    locked = RACY.replace(
        "    os.replace(tmp, dst)", "    with guard_store:\n        os.replace(tmp, dst)"
    )
    assert "ORC001" in codes(lint_source(locked, "x.py", SETTINGS))
    settings = LintSettings(extra_lock_names=("guard_store",))
    assert "ORC001" not in codes(lint_source(locked, "x.py", settings))

    wrapped = RACY.replace("import os, tempfile", "import os, tempfile\nfrom acme import careful")
    wrapped = wrapped.replace("def store", "@careful.publishing\ndef store")
    assert "ORC001" in codes(lint_source(wrapped, "x.py", SETTINGS))
    settings = LintSettings(extra_guard_functions=("acme.careful.publishing",))
    assert "ORC001" not in codes(lint_source(wrapped, "x.py", settings))


def test_import_is_cheap_and_libcst_stays_unloaded() -> None:
    script = (
        "import sys\n"
        "import ocirace_checker.lint as lint\n"
        "from ocirace_checker.model import LintSettings\n"
        "assert 'libcst' not in sys.modules, 'import ocirace_checker.lint loaded libcst'\n"
        "assert lint.lint_source('x = 1\\n', 'a.py', LintSettings()) == []\n"
        "assert lint.lint_source('s = t.replace(\"a\", \"b\")\\n', 'a.py', LintSettings()) == []\n"
        "assert 'libcst' not in sys.modules, 'libcst loaded without a candidate'\n"
        f"found = lint.lint_source({RACY!r}, 'a.py', LintSettings())\n"
        "assert [f.code for f in found] == ['ORC001'], found\n"
        "assert 'libcst' not in sys.modules, 'the analysis of a finding loaded libcst'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def _stdlib_sample() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    return files[::40]


def test_never_raises_on_a_sample_of_the_standard_library() -> None:
    # The full run: `python tests/checker/stdlib_sweep.py` (see its docstring).
    sample = _stdlib_sample()
    assert len(sample) > 20
    for path in sample:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        findings = lint_source(text, str(path), SETTINGS)
        assert not [f for f in findings if "checker failed" in f.message], path
        for finding in findings:
            assert finding.code in {f"ORC00{n}" for n in range(8)}


_WORD_REGEX = re.compile(r"\b(?:rename|renames|replace|move|publish)\b")


@given(
    st.lists(
        st.sampled_from(
            [
                "rename",
                "renames",
                "replace",
                "move",
                "remove",
                "publish",
                "_",
                "x",
                "s",
                ".",
                " ",
                "(",
                "\n",
                "é",
                "moved",
                "1",
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_word_prefilter_agrees_with_a_word_boundary_regex(text: str) -> None:
    expected = _WORD_REGEX.search(text) is not None
    assert any(_has_word(text, word) for word in _WORDS) == expected


def test_a_byte_order_mark_is_accepted_and_fixes_land_after_it() -> None:
    source = "\ufeffVERSION = 1\nimport os, tempfile\nfd, tmp = tempfile.mkstemp()\n"
    source += "os.replace(tmp, 'dst')\n"
    findings = lint_source(source, "bom.py", SETTINGS)
    assert codes(findings) == ["ORC001"]
    fixed = apply_fixes(source, [f.fix for f in findings if f.fix is not None])
    assert fixed.startswith("\ufefffrom ocirace_writer import publish\n\nVERSION = 1\n")
    assert lint_source("\ufeffos.replace(a, b\n", "bom.py", SETTINGS)[0].column == 11


def test_the_depth_bounds_how_far_up_a_guard_is_looked_for() -> None:
    source = (
        "import os, tempfile\n"
        "def _write(dst, data):\n"
        "    fd, tmp = tempfile.mkstemp()\n"
        "    os.write(fd, data)\n"
        "    os.close(fd)\n"
        "    os.replace(tmp, dst)\n"
        "def _save(dst, data):\n"
        "    _write(dst, data)\n"
        "def save(dst, data):\n"
        "    try:\n"
        "        _save(dst, data)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    assert "ORC001" not in codes(lint_source(source, "x.py", SETTINGS))
    shallow = LintSettings(interprocedural_depth=1)
    assert "ORC001" in codes(lint_source(source, "x.py", shallow))
