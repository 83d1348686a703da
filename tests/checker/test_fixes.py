"""apply_fixes and the fixes the rules build: positions, imports, idempotence, formatting."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ocirace_checker.fixes import apply_fixes
from ocirace_checker.lint import lint_source
from ocirace_checker.model import Edit, Fix, LintSettings
from ocirace_checker.project import import_line_length

SETTINGS = LintSettings()


def fix(*edits: Edit) -> Fix:
    return Fix("test", "safe", edits)


def fix_all(source: str, codes: tuple[str, ...] = ("ORC001",)) -> str:
    findings = lint_source(source, "x.py", SETTINGS)
    return apply_fixes(source, [f.fix for f in findings if f.fix and f.code in codes])


def test_replacement_and_insertion() -> None:
    source = "a = 1\nb = old(2)\n"
    result = apply_fixes(
        source,
        [fix(Edit(2, 4, 2, 7, "new"), Edit(1, 0, 1, 0, "import x\n"))],
    )
    assert result == "import x\na = 1\nb = new(2)\n"


def test_overlapping_fix_is_skipped_whole_and_duplicates_apply_once() -> None:
    source = "call(a, b)\n"
    first = fix(Edit(1, 0, 1, 4, "one"), Edit(1, 0, 1, 0, "# head\n"))
    second = fix(Edit(1, 2, 1, 6, "xx"), Edit(1, 0, 1, 0, "# other\n"))
    third = fix(Edit(1, 0, 1, 0, "# head\n"), Edit(1, 8, 1, 9, "c"))
    assert apply_fixes(source, [first, second, third]) == "# head\none(a, c)\n"


def test_insertions_at_one_point_keep_their_order() -> None:
    source = "x\n"
    fixes = [fix(Edit(1, 0, 1, 0, "a\n")), fix(Edit(1, 0, 1, 0, "b\n"))]
    assert apply_fixes(source, fixes) == "a\nb\nx\n"


def test_columns_are_characters_and_crlf_survives() -> None:
    source = 's = "é€"; os.replace(tmp, dst)\r\nz = 1\r\n'
    column = source.index("os.replace")
    result = apply_fixes(source, [fix(Edit(1, column, 1, column + 10, "publish"))])
    assert result == 's = "é€"; publish(tmp, dst)\r\nz = 1\r\n'


def test_edit_outside_the_file_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="outside the file"):
        apply_fixes("x = 1\n", [fix(Edit(9, 0, 9, 1, ""))])


def test_fix_keeps_comments_and_formatting() -> None:
    source = '''\
"""Blob store."""
from __future__ import annotations

import os  # we need os
import tempfile


def store(dst,   data):  # odd spacing stays
    fd, tmp = tempfile.mkstemp()
    os.write(fd, data)  # write
    # publish it
    os.replace(
        tmp,  # the temp
        dst,  # the target
    )
'''
    fixed = fix_all(source)
    assert fixed == source.replace("os.replace(", "publish(").replace(
        "import tempfile\n", "import tempfile\n\nfrom ocirace_writer import publish\n"
    )
    ast.parse(fixed)
    assert fix_all(fixed) == fixed


def test_import_goes_after_docstring_and_future_import_and_is_added_once() -> None:
    source = '''\
"""Doc."""
from __future__ import annotations
import os, tempfile
def a(dst):
    fd, tmp = tempfile.mkstemp()
    os.write(fd, b"a")
    os.replace(tmp, dst)
def b(dst):
    fd, tmp = tempfile.mkstemp()
    os.write(fd, b"b")
    os.replace(tmp, dst)
'''
    fixed = fix_all(source)
    assert fixed.count("from ocirace_writer import publish") == 1
    assert fixed.splitlines()[2:5] == [
        "import os, tempfile",
        "",
        "from ocirace_writer import publish",
    ]
    assert fixed.count("publish(tmp, dst)") == 2
    assert fix_all(fixed) == fixed


def test_existing_import_is_reused_and_a_taken_name_is_aliased() -> None:
    reused = (
        "import os, tempfile\nfrom pytest_ocirace import publish as pub\n"
        "def f(dst):\n    fd, tmp = tempfile.mkstemp()\n    os.replace(tmp, dst)\n"
    )
    assert fix_all(reused) == reused.replace("os.replace(", "pub(")
    taken = (
        "import os, tempfile\n"
        "def publish(x):\n    return x\n"
        "def f(dst):\n    fd, tmp = tempfile.mkstemp()\n    os.replace(tmp, dst)\n"
    )
    fixed = fix_all(taken)
    assert "from ocirace_writer import publish as _ocirace_publish\n" in fixed
    assert "_ocirace_publish(tmp, dst)" in fixed
    ast.parse(fixed)


def test_file_without_imports_keeps_its_coding_line_first() -> None:
    source = (
        "# -*- coding: utf-8 -*-\n"
        "VERSION = 1\n"
        "import os, tempfile\n"
        "fd, tmp = tempfile.mkstemp()\n"
        "os.replace(tmp, 'shared')\n"
    )
    fixed = fix_all(source)
    assert fixed.startswith(
        "# -*- coding: utf-8 -*-\nfrom ocirace_writer import publish\n\nVERSION = 1\n"
    )
    ast.parse(fixed)


MIXED = """\
import os, shutil, tempfile
from pathlib import Path
def a(dst):
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"x")
        os.rename(tmp, dst)
def b(dst: Path):
    tmp = dst.with_suffix(".part")
    tmp.write_bytes(b"x")
    tmp.replace(dst)
def c(dst):
    f = tempfile.NamedTemporaryFile(delete=False)
    f.close()
    shutil.move(f.name, dst)
def d(tmp, dst):
    if os.path.exists(dst):
        os.remove(dst)
    os.rename(tmp, dst)
"""


def fixes_by_code(source: str, settings: LintSettings = SETTINGS) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in lint_source(source, "x.py", settings):
        if finding.fix is not None:
            found.setdefault(finding.code, set()).add(finding.fix.applicability)
    return found


def converge(source: str, applicable: tuple[str, ...]) -> str:
    """Apply fixes of the given applicabilities round by round, as ``--fix`` does."""
    fixed = source
    for _ in range(10):
        fixes = [
            f.fix
            for f in lint_source(fixed, "x.py", SETTINGS)
            if f.fix is not None and f.fix.applicability in applicable
        ]
        if not fixes:
            return fixed
        fixed = apply_fixes(fixed, fixes)
        ast.parse(fixed)
    raise AssertionError("fixes did not converge")


def test_mixed_file_converges_and_keeps_parsing() -> None:
    found = fixes_by_code(MIXED)
    # Path.replace statement (safe publish), os.rename -> os.replace (safe), close before
    # a rename in a block that does nothing after it (safe), shutil.move (unsafe publish).
    assert found["ORC001"] == {"safe", "unsafe"}
    assert found["ORC003"] == {"safe"}
    assert found["ORC005"] == {"safe"}
    fixed = converge(MIXED, ("safe", "unsafe"))
    assert [f.fix for f in lint_source(fixed, "x.py", SETTINGS) if f.fix is not None] == []


def test_fix_alone_leaves_unsafe_fixes_for_later() -> None:
    fixed = converge(MIXED, ("safe",))
    assert "shutil.move(f.name, dst)" in fixed  # cross-device copy semantics: not safe
    assert "publish(tmp, dst)" in fixed  # b(): Path.replace statement
    # a(): closed first, then os.rename -> os.replace -> publish, each step safe on its own.
    assert "f.close()\n        publish(tmp, dst)\n" in fixed
    assert "os.rename(tmp, dst)" in fixed.split("def d")[1]  # ORC006's fix is unsafe
    remaining = fixes_by_code(fixed)
    assert remaining.get("ORC001") == {"unsafe"}


@pytest.mark.parametrize(
    ("statement", "applicability"),
    [
        ("os.replace(tmp, dst)", "safe"),
        ("os.replace(src=tmp, dst=dst)", "safe"),
        ("done = os.replace(tmp, dst)", "unsafe"),  # the result is used
        ("os.rename(tmp, dst)", "unsafe"),  # FileExistsError semantics on Windows
        ("shutil.move(tmp, dst)", "unsafe"),  # cross-device copy
        ("os.replace(tmp, dst + b'.x')", "unsafe"),  # publish takes text paths only
    ],
)
def test_publish_fix_is_safe_only_for_a_plain_replace_statement(
    statement: str, applicability: str
) -> None:
    source = (
        "import os, shutil, tempfile\n"
        "def store(dst, data):\n"
        "    fd, tmp = tempfile.mkstemp()\n"
        "    os.write(fd, data)\n"
        "    os.close(fd)\n"
        f"    {statement}\n"
    )
    assert fixes_by_code(source)["ORC001"] == {applicability}


def test_publish_fix_is_unsafe_for_a_temp_with_a_bytes_name() -> None:
    source = (
        "import os, tempfile\n"
        "def store(dst, data):\n"
        "    fd, tmp = tempfile.mkstemp(suffix=b'.tmp')\n"
        "    os.write(fd, data)\n"
        "    os.replace(tmp, dst)\n"
    )
    assert fixes_by_code(source)["ORC001"] == {"unsafe"}


def test_path_replace_fix_is_safe_only_as_a_statement_on_a_known_path() -> None:
    statement = (
        "import pathlib\n"
        "def store(target, data):\n"
        "    tmp = pathlib.Path(target).with_suffix('.part')\n"
        "    tmp.write_bytes(data)\n"
        "    tmp.replace(target)\n"
    )
    assert fixes_by_code(statement)["ORC001"] == {"safe"}
    used = statement.replace("    tmp.replace(target)", "    return tmp.replace(target)")
    assert "ORC001" not in fixes_by_code(used)  # Path.replace returns the new path


def test_rename_to_replace_is_unsafe_where_the_code_catches_the_error() -> None:
    source = (
        "import os\n"
        "def store(tmp, dst):\n"
        "    try:\n"
        "        os.rename(tmp, dst)\n"
        "    except OSError:\n"
        "        os.unlink(tmp)\n"
        "        raise\n"
    )
    assert fixes_by_code(source)["ORC003"] == {"unsafe"}
    bare = "import os\ndef store(tmp, dst):\n    os.rename(tmp, dst)\n"
    assert fixes_by_code(bare)["ORC003"] == {"safe"}


@pytest.mark.parametrize(
    ("body", "applicability"),
    [
        ("f.write(data)\nos.replace(tmp, dst)\n", "safe"),
        ("f.write(data)\nos.replace(tmp, dst)\nf.write(b'more')\n", "unsafe"),
        ("for part in data:\n    f.write(part)\n    os.replace(tmp, dst)\n", "unsafe"),
    ],
)
def test_close_fix_is_safe_only_when_the_handle_is_not_used_afterwards(
    body: str, applicability: str
) -> None:
    source = "import os\ndef store(tmp, dst, data):\n    with open(tmp, 'wb') as f:\n"
    source += textwrap.indent(body, " " * 8)
    assert fixes_by_code(source)["ORC005"] == {applicability}


def test_named_temporary_file_that_deletes_on_close_gets_no_close_fix() -> None:
    source = (
        "import os, tempfile\n"
        "def store(dst, data):\n"
        "    with tempfile.NamedTemporaryFile() as tf:\n"
        "        tf.write(data)\n"
        "        os.replace(tf.name, dst)\n"
    )
    findings = [f for f in lint_source(source, "x.py", SETTINGS) if f.code == "ORC005"]
    assert findings
    assert [f.fix for f in findings] == [None]


VENDORED = LintSettings(fix_writer_module="myproject._vendor.ocirace_writer")

STORE = """\
\"\"\"Store.\"\"\"
from __future__ import annotations

import os
import tempfile


def store(dst, data):
    fd, tmp = tempfile.mkstemp()
    os.write(fd, data)
    os.close(fd)
    os.replace(tmp, dst)
"""


def fix_with(source: str, settings: LintSettings) -> str:
    findings = lint_source(source, "x.py", settings)
    return apply_fixes(source, [f.fix for f in findings if f.fix and f.code == "ORC001"])


def test_fixes_import_the_configured_writer_module() -> None:
    fixed = fix_with(STORE, VENDORED)
    lines = fixed.splitlines()
    assert lines[:7] == [
        '"""Store."""',
        "from __future__ import annotations",
        "",
        "import os",
        "import tempfile",
        "",
        "from myproject._vendor.ocirace_writer import publish",
    ]
    assert "    publish(tmp, dst)" in lines
    assert "pytest_ocirace" not in fixed
    # The vendored publish is understood after the fix: nothing left to fix, file unchanged.
    again = lint_source(fixed, "x.py", VENDORED)
    assert [f for f in again if f.code == "ORC001"] == []
    assert fix_with(fixed, VENDORED) == fixed


def test_an_existing_import_of_the_writer_is_reused() -> None:
    imported = STORE.replace(
        "import tempfile\n", "import tempfile\nfrom myproject._vendor import ocirace_writer as w\n"
    )
    fixed = fix_with(imported, VENDORED)
    assert "    w.publish(tmp, dst)" in fixed
    assert fixed.count("import") == imported.count("import")
    module = STORE.replace("import tempfile\n", "import tempfile\nimport pytest_ocirace\n")
    assert "    pytest_ocirace.publish(tmp, dst)" in fix_with(module, SETTINGS)


def test_a_type_checking_only_import_is_not_reused() -> None:
    guarded = STORE.replace(
        "import tempfile\n",
        "import tempfile\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pytest_ocirace import publish as pub\n",
    )
    fixed = fix_with(guarded, SETTINGS)
    assert "    publish(tmp, dst)" in fixed
    assert "\nfrom ocirace_writer import publish\n" in fixed
    ast.parse(fixed)


# --------------------------------------------------------------------------------------------
# --fix on a sample project, in the three set-ups: imports land where isort puts them
# --------------------------------------------------------------------------------------------

RACY_BODY = """

def store(dst, data):
    fd, tmp = tempfile.mkstemp()
    os.write(fd, data)
    os.close(fd)
    os.replace(tmp, dst)
"""

SAMPLE = {
    "store.py": '"""Blob store."""\n\nfrom __future__ import annotations\n\nimport os\n'
    "import tempfile\n\nimport requests\n\nfrom demo import util\n"
    + RACY_BODY
    + "    return requests, util\n",
    "typed.py": '"""Typed."""\n\nfrom __future__ import annotations\n\nimport os\nimport tempfile\n'
    "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pathlib import Path\n"
    + RACY_BODY,
    "merge.py": "import os\nimport tempfile\n\n"
    "from ocirace_writer import atomic_write, write_blob\n"
    + RACY_BODY
    + "    return atomic_write, write_blob\n",
    "wrapped.py": "import os\nimport tempfile\n\nfrom ocirace_writer import (\n    BlobSource,\n"
    "    atomic_write,\n    write_blob,\n)\n"
    + RACY_BODY
    + "    return BlobSource, atomic_write, write_blob\n",
    "stdlib_only.py": '"""Only the standard library."""\n\nimport os\nimport tempfile\n'
    + RACY_BODY,
    # 85 characters: one more member makes it longer than 88, so isort wraps it.
    "long.py": "import os\nimport tempfile\n\n"
    "from ocirace_writer import BlobSource, Digest, atomic_write, parse_digest, write_blob\n"
    + RACY_BODY
    + "    return BlobSource, Digest, atomic_write, parse_digest, write_blob\n",
    "util.py": "VALUE = 1\n",
}

RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


def _sample(root: Path, pyproject: str) -> Path:
    package = root / "src" / "demo"
    (package / "_vendor").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "_vendor" / "__init__.py").write_text("", encoding="utf-8")
    for name, text in SAMPLE.items():
        (package / name).write_text(text, encoding="utf-8")
    (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return package


def _isort_verdict(root: Path) -> str:
    assert RUFF is not None
    result = subprocess.run(
        [RUFF, "check", "--no-cache", "--select", "I", "--output-format", "concise", "src"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def _ocirace(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocirace_checker", "--no-cache", "--jobs", "1", *args, "src"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


SETUPS = {
    # fix-writer-module names a copy written by `ocirace vendor` (first party).
    "configured": ('[project]\nname = "demo"\n', "demo._vendor.ocirace_writer"),
    # The project depends on the writer distribution.
    "installed": (
        '[project]\nname = "demo"\ndependencies = ["ocirace-writer"]\n',
        "ocirace_writer",
    ),
    # Neither: the call is still fixed, and the run says how to get the writer.
    "neither": ('[project]\nname = "demo"\n', "ocirace_writer"),
}


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
@pytest.mark.parametrize("setup", SETUPS)
def test_fix_on_a_sample_project_sorts_like_isort_and_is_idempotent(
    tmp_path: Path, setup: str
) -> None:
    pyproject, module = SETUPS[setup]
    package = _sample(tmp_path, pyproject)
    if setup == "configured":
        vendored = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from ocirace_checker.cli import main; sys.exit(main(sys.argv[1:]))",
                "vendor",
                "src/demo/_vendor/ocirace_writer.py",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert vendored.returncode == 0, vendored.stderr
        assert "fix-writer-module = 'demo._vendor.ocirace_writer'" in vendored.stdout
    assert _isort_verdict(tmp_path) == ""  # the sample starts isort-clean

    diff = _ocirace(tmp_path, "--diff")
    assert diff.returncode == 1, diff.stderr
    assert f"+from {module} import publish\n" in diff.stdout
    assert (package / "store.py").read_text(encoding="utf-8") == SAMPLE["store.py"]

    fixed = _ocirace(tmp_path, "--fix")
    assert "ORC001" not in fixed.stdout, fixed.stdout
    notes = fixed.stderr.count("note: the fixes import publish from ocirace_writer")
    assert notes == (1 if setup == "neither" else 0), fixed.stderr
    if setup == "neither":
        assert "ocirace vendor" in fixed.stderr
        assert 'add "ocirace-writer==' in fixed.stderr
    texts = {name: (package / name).read_text(encoding="utf-8") for name in SAMPLE}
    for name, text in texts.items():
        ast.parse(text, name)
    changed = [name for name in SAMPLE if texts[name] != SAMPLE[name]]
    assert sorted(changed) == sorted(n for n in SAMPLE if n != "util.py")
    assert _isort_verdict(tmp_path) == ""  # where ruff's isort puts them: no I001

    if module == "ocirace_writer":
        assert "from ocirace_writer import atomic_write, publish, write_blob\n" in texts["merge.py"]
        assert "    atomic_write,\n    publish,\n    write_blob,\n" in texts["wrapped.py"]
        assert (
            "from ocirace_writer import (\n    BlobSource,\n    Digest,\n    atomic_write,\n"
            "    parse_digest,\n    publish,\n    write_blob,\n)\n" in texts["long.py"]
        )
        assert (
            "import requests\nfrom ocirace_writer import publish\n\nfrom demo" in texts["store.py"]
        )
    else:
        assert (
            "from demo import util\nfrom demo._vendor.ocirace_writer import publish\n"
            in (texts["store.py"])
        )
    assert "if TYPE_CHECKING:\n    from pathlib import Path\n" in texts["typed.py"]
    assert texts["typed.py"].index(f"from {module} import publish") < texts["typed.py"].index(
        "if TYPE_CHECKING"
    )

    again = _ocirace(tmp_path, "--fix")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {name: (package / name).read_text(encoding="utf-8") for name in SAMPLE} == texts
    assert "note:" not in again.stderr


@pytest.mark.parametrize("module", ["ocirace_writer", "pytest_ocirace", "pytest_ocirace.writer"])
@pytest.mark.parametrize("settings", [SETTINGS, VENDORED], ids=["default", "vendored"])
def test_every_name_of_the_writer_is_understood_as_publish(
    module: str, settings: LintSettings
) -> None:
    # The writer guards the rename, not a temp name every writer shares: ORC002 still applies
    # to its publish under each of its names, whatever module the fixes import from.
    source = (
        f"from {module} import publish\n"
        "def store(dst, data):\n"
        '    tmp = dst + ".tmp"\n'
        '    with open(tmp, "wb") as f:\n'
        "        f.write(data)\n"
        "    publish(tmp, dst)\n"
    )
    codes = [f.code for f in lint_source(source, "x.py", settings)]
    assert codes == ["ORC002"]


# --------------------------------------------------------------------------------------------
# Imports longer than the project's line length are wrapped as isort wraps them
# --------------------------------------------------------------------------------------------


def test_a_new_import_longer_than_the_line_length_is_wrapped() -> None:
    settings = LintSettings(fix_writer_module="myproject._vendor.ocirace_writer", line_length=40)
    fixed = fix_with(STORE, settings)
    assert "from myproject._vendor.ocirace_writer import (\n    publish,\n)\n" in fixed
    assert fix_with(fixed, settings) == fixed
    ast.parse(fixed)


def test_a_merged_import_that_grows_too_long_is_wrapped_with_its_comment() -> None:
    source = STORE.replace(
        "import tempfile\n",
        "import tempfile\n\nfrom ocirace_writer import atomic_write, write_blob  # noqa: F401\n",
    )
    fixed = fix_with(source, LintSettings(line_length=60))
    assert (
        "from ocirace_writer import (  # noqa: F401\n    atomic_write,\n    publish,\n"
        "    write_blob,\n)\n" in fixed
    )
    ast.parse(fixed)
    # Under the default 88 the same merge stays on one line.
    assert "from ocirace_writer import atomic_write, publish, write_blob  # noqa: F401\n" in (
        fix_with(source, SETTINGS)
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, 88),
        ({"pyproject.toml": "[tool.black]\nline-length = 100\n"}, 100),
        (
            {"pyproject.toml": "[tool.ruff]\nline-length = 99\n[tool.black]\nline-length = 100\n"},
            99,
        ),
        (
            {
                "pyproject.toml": "[tool.ruff]\nline-length = 99\n",
                "ruff.toml": "line-length = 79\n",
            },
            79,
        ),
        ({"pyproject.toml": "[tool.isort]\nline_length = 70\n[tool.ruff]\nline-length = 99\n"}, 70),
        ({"pyproject.toml": "[tool.ruff]\nline-length = 'long'\n"}, 88),
        ({"pyproject.toml": "not toml ["}, 88),
    ],
)
def test_the_line_length_is_the_import_sorters(
    tmp_path: Path, files: dict[str, str], expected: int
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert import_line_length(tmp_path) == expected
