"""``ocirace check`` end to end, with the real rules, as a user runs it."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from ocirace_checker.cli import main

BAD = """\
import os


def store(data, target):
    tmp = target + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.rename(tmp, target)
"""

CLEAN = """\
def shout(text):
    return text.replace("a", "A")
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a configured pyproject.toml, one racy and one clean module; cwd inside."""
    (tmp_path / "pyproject.toml").write_text("[tool.ocirace]\n", encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "store.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "pkg" / "util.py").write_text(CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_findings_exit_1_with_ruff_like_text(project: Path, capsys: pytest.CaptureFixture[str]):
    code, out, err = check(capsys)
    assert code == 1
    assert "pkg/store.py:8:5: ORC001 " in out
    assert "8 |     os.rename(tmp, target)" in out
    assert "= help: " in out
    assert "Found 3 errors." in out.splitlines()
    assert "util.py" not in out
    assert err == ""


def test_clean_exit_0(project: Path, capsys: pytest.CaptureFixture[str]):
    code, out, _ = check(capsys, "pkg/util.py")
    assert (code, out) == (0, "All checks passed!\n")


def test_output_format_as_ruff_spells_it_and_format_is_its_alias(
    project: Path, capsys: pytest.CaptureFixture[str]
):
    ruff_style = check(capsys, "--exit-zero", "--output-format", "concise")
    alias = check(capsys, "--exit-zero", "--format", "concise")
    assert ruff_style == alias
    assert ruff_style[1].splitlines()[0].split(": ")[1].startswith("ORC")


def test_exit_zero_and_concise(project: Path, capsys: pytest.CaptureFixture[str]):
    code, out, _ = check(capsys, "--exit-zero", "--format", "concise")
    assert code == 0
    # All three at the publish line (ORC002's name is a related location), by code.
    lines = out.splitlines()[:3]
    assert [line.split(": ")[1].split()[0] for line in lines] == ["ORC001", "ORC002", "ORC003"]
    assert {line.split(":")[1] for line in lines} == {"8"}


def test_json_output_to_a_file(project: Path, capsys: pytest.CaptureFixture[str]):
    code, out, _ = check(capsys, "--format", "json", "-o", "report.json")
    assert (code, out) == (1, "")
    records = json.loads((project / "report.json").read_text(encoding="utf-8"))
    assert {r["code"] for r in records} == {"ORC001", "ORC002", "ORC003"}
    assert {r["path"] for r in records} == {"pkg/store.py"}
    assert all(r["column"] >= 1 and r["end_line"] >= r["line"] for r in records)


def test_sarif_and_github_end_to_end(project: Path, capsys: pytest.CaptureFixture[str]):
    schema_path = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    code, out, _ = check(capsys, "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    run = log["runs"][0]
    assert {r["ruleId"] for r in run["results"]} == {"ORC001", "ORC002", "ORC003"}
    locations = [r["locations"][0]["physicalLocation"] for r in run["results"]]
    assert {loc["artifactLocation"]["uri"] for loc in locations} == {"pkg/store.py"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    code, out, _ = check(capsys, "--format", "github")
    assert code == 1
    assert out.startswith("::error file=pkg/store.py,line=")
    assert len(out.splitlines()) == 3


def test_select_ignore_and_statistics(project: Path, capsys: pytest.CaptureFixture[str]):
    code, out, _ = check(capsys, "--select", "ORC001,ORC002", "--ignore", "ORC002", "--statistics")
    assert code == 1
    assert out == "1\tORC001\tunguarded-rename-race\n"
    code, out, _ = check(capsys, "--select", "ORC007")
    assert (code, out) == (0, "All checks passed!\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--select", "ORC42"], "unknown rule code 'ORC42' in --select"),
        (["--ignore", "X1"], "unknown rule code 'X1' in --ignore"),
        (["missing.py"], "missing.py: no such file or directory"),
        (["--config", "nope.toml"], "--config nope.toml: no such file"),
        (["-o", "missing/report.json"], "its directory does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
):
    code, out, err = check(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("ocirace: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_bad_jobs_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as caught:
        main(["check", "--jobs", "0"])
    assert caught.value.code == 2
    assert "--jobs: 0 processes: give 1 or more" in capsys.readouterr().err


def test_configuration_is_read_and_validated(project: Path, capsys: pytest.CaptureFixture[str]):
    (project / "pyproject.toml").write_text(
        '[tool.ocirace]\nignore = ["ORC002"]\n'
        '[tool.ocirace.per-file-ignores]\n"pkg/*" = ["ORC003"]\n',
        encoding="utf-8",
    )
    code, out, _ = check(capsys, "--format", "concise")
    assert code == 1
    assert [line.split()[1] for line in out.splitlines() if line.startswith("pkg/")] == ["ORC001"]
    (project / "pyproject.toml").write_text("[tool.ocirace]\nselects = []\n", encoding="utf-8")
    code, _, err = check(capsys)
    assert code == 2
    assert "unknown key 'selects'" in err
    assert "valid keys:" in err


def test_noqa_end_to_end(project: Path, capsys: pytest.CaptureFixture[str]):
    store = project / "pkg" / "store.py"
    # ORC002 is reported at the publish: a noqa on the temp name's line no longer hides it.
    store.write_text(
        BAD.replace(
            "os.rename(tmp, target)", "os.rename(tmp, target)  # noqa: ORC001, ORC003"
        ).replace('".tmp"', '".tmp"  # noqa'),
        encoding="utf-8",
    )
    code, out, _ = check(capsys, "--format", "concise")
    assert code == 1
    assert [line.split(": ")[1].split()[0] for line in out.splitlines()[:1]] == ["ORC002"]
    store.write_text(
        BAD.replace(
            "os.rename(tmp, target)", "os.rename(tmp, target)  # noqa: ORC001 ORC002,ORC003"
        ),
        encoding="utf-8",
    )
    assert check(capsys)[0] == 0
    store.write_text(BAD.replace("os.rename(tmp, target)", "os.rename(tmp, target)  # noqa"))
    assert check(capsys)[0] == 0


def test_force_exclude_applies_to_explicit_files(project: Path, capsys: pytest.CaptureFixture[str]):
    (project / "pyproject.toml").write_text(
        '[tool.ocirace]\nextend-exclude = ["pkg/store.py"]\n', encoding="utf-8"
    )
    assert check(capsys, "pkg/store.py")[0] == 1
    assert check(capsys, "--force-exclude", "--allow-empty", "pkg/store.py")[0] == 0
    assert check(capsys)[0] == 0  # excluded from discovery too


def test_nothing_to_check_is_an_error_not_a_clean_run(
    project: Path, capsys: pytest.CaptureFixture[str]
):
    (project / "pyproject.toml").write_text(
        '[tool.ocirace]\nextend-exclude = ["pkg/store.py"]\n', encoding="utf-8"
    )
    code, out, err = check(capsys, "--force-exclude", "pkg/store.py")
    assert (code, out) == (2, "")
    assert err.startswith("ocirace: error: no file to check: ")
    assert "--allow-empty" in err
    assert len(err.splitlines()) == 1


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_directory_git_ignores_is_an_error_that_says_so(
    project: Path, capsys: pytest.CaptureFixture[str]
):
    # Regression: `ocirace check vendor/` in a repository that ignores vendor/ printed
    # "All checks passed!" and exited 0 - nothing had been checked.
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text("vendored/\n", encoding="utf-8")
    (project / "vendored").mkdir()
    (project / "vendored" / "store.py").write_text(BAD, encoding="utf-8")
    code, out, err = check(capsys, "vendored")
    assert (code, out) == (2, "")
    assert "ignored by git" in err
    assert "--no-respect-gitignore" in err
    assert check(capsys, "--no-respect-gitignore", "vendored")[0] == 1
    assert check(capsys, "--allow-empty", "vendored")[0] == 0


def test_a_file_that_does_not_parse_is_reported_even_without_a_rename(
    project: Path, capsys: pytest.CaptureFixture[str]
):
    (project / "pkg" / "broken.py").write_text("def f(:\n    pass\n", encoding="utf-8")
    code, out, _ = check(capsys, "--output-format", "concise", "--no-cache", "pkg/broken.py")
    assert code == 1
    assert "pkg/broken.py:1:7: ORC000" in out


def test_unreadable_bytes_are_reported_not_raised(
    project: Path, capsys: pytest.CaptureFixture[str]
):
    (project / "pkg" / "latin.py").write_bytes(b"x = '\xe9'  # rename\n")
    (project / "pkg" / "blob.py").write_bytes(b"\x00\x01binary")
    (project / "pkg" / "syntax.py").write_text("import os\nos.rename(a,\n", encoding="utf-8")
    code, out, err = check(
        capsys, "--format", "concise", "pkg/latin.py", "pkg/blob.py", "pkg/syntax.py"
    )
    assert code == 1
    assert "Traceback" not in out + err
    lines = sorted(out.splitlines()[:-1])
    assert [line.split(":")[0] for line in lines] == [
        "pkg/blob.py",
        "pkg/latin.py",
        "pkg/syntax.py",
    ]
    assert all(" ORC000 " in line for line in lines)


def test_fix_is_atomic_idempotent_and_keeps_comments(
    project: Path, capsys: pytest.CaptureFixture[str]
):
    store = project / "pkg" / "store.py"
    store.write_text(
        BAD.replace("handle.write(data)", "handle.write(data)  # the payload"), encoding="utf-8"
    )
    before = store.read_text(encoding="utf-8")

    code, out, _ = check(capsys, "--diff")
    assert code == 1
    assert store.read_text(encoding="utf-8") == before
    assert "+from ocirace_writer import" in out

    code, out, _ = check(capsys, "--fix", "--unsafe-fixes")
    fixed = store.read_text(encoding="utf-8")
    assert fixed != before
    assert "# the payload" in fixed
    assert "from ocirace_writer import" in fixed
    ast.parse(fixed)
    assert "fixed" in out

    check(capsys, "--fix", "--unsafe-fixes")
    assert store.read_text(encoding="utf-8") == fixed


def test_fix_alone_applies_safe_fixes_and_leaves_unsafe_ones(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = project / "pkg" / "store.py"
    mover = project / "pkg" / "mover.py"
    moved = (
        "import shutil, tempfile\n\n\ndef store(data, target):\n"
        "    handle = tempfile.NamedTemporaryFile(delete=False)\n"
        "    handle.write(data)\n    handle.close()\n    shutil.move(handle.name, target)\n"
    )
    mover.write_text(moved, encoding="utf-8")

    code, out, _ = check(capsys, "--fix")
    fixed = store.read_text(encoding="utf-8")
    # os.rename -> os.replace -> publish: each step keeps the code's meaning.
    assert "    publish(tmp, target)\n" in fixed
    assert "from ocirace_writer import publish\n" in fixed
    assert mover.read_text(encoding="utf-8") == moved  # shutil.move's fix is unsafe
    assert code == 1  # ORC002 (no fix) and the unsafe ORC001/ORC004 remain
    assert "fixed" in out
    assert "fixable with `--fix --unsafe-fixes`" in out

    (project / "pyproject.toml").write_text(
        '[tool.ocirace]\nfix-writer-module = "pkg._vendor.writer"\n', encoding="utf-8"
    )
    check(capsys, "--fix", "--unsafe-fixes")
    assert "from pkg._vendor.writer import publish\n" in mover.read_text(encoding="utf-8")
    assert store.read_text(encoding="utf-8") == fixed  # already fixed stays as it is

    (project / "pyproject.toml").write_text(
        '[tool.ocirace]\nfix-writer-module = "pkg/_vendor/writer.py"\n', encoding="utf-8"
    )
    code, _, err = check(capsys, "--fix")
    assert code == 2
    assert "'fix-writer-module' must be a dotted module name" in err
    assert len(err.strip().splitlines()) == 1


def test_cache_lives_at_the_project_root(project: Path, capsys: pytest.CaptureFixture[str]):
    assert check(capsys, "pkg")[0] == 1
    assert (project / ".ocirace_cache" / "CACHEDIR.TAG").is_file()
    code, _out, err = check(capsys, "-v", "pkg")
    assert code == 1
    assert "2 from the cache, 0 parsed by the rules" in err
    code, _, err = check(capsys, "-v", "--no-cache", "pkg")
    assert "0 from the cache, 2 parsed by the rules" in err


def test_python_m_checker_and_console_script(project: Path):
    module = subprocess.run(
        [sys.executable, "-m", "ocirace_checker", "--format", "concise", "--no-cache"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert module.returncode == 1, module.stderr
    assert "Found 3 errors." in module.stdout.splitlines()
    version = subprocess.run(
        [sys.executable, "-m", "ocirace_checker", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("ocirace 0.")
    script = Path(sys.executable).with_name("ocirace")
    if script.exists():  # the console script of the installed package
        command = [str(script), "check", "--format", "concise", "--no-cache"]
        scripted = subprocess.run(command, capture_output=True, text=True, check=False)
        assert scripted.returncode == 1
        assert scripted.stdout == module.stdout


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]):
    assert main([]) == 0
    assert "check" in capsys.readouterr().out


def test_help_wraps_to_the_terminal_width(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def help_lines(columns: int) -> list[str]:
        monkeypatch.setenv("COLUMNS", str(columns))
        with pytest.raises(SystemExit):
            main(["check", "--help"])
        return capsys.readouterr().out.splitlines()

    wide, narrow = help_lines(140), help_lines(60)
    assert "--unsafe-fixes" in "\n".join(narrow)
    assert max(len(line) for line in wide) <= 140
    assert max(len(line) for line in wide) > 100  # it uses the width it has
    assert len(narrow) > len(wide)


def test_default_is_the_current_directory(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(project / "pkg")
    code, out, _ = check(capsys, "--format", "concise", "--no-cache")
    assert code == 1
    assert out.startswith("store.py:")


def test_warm_run_imports_nothing_it_does_not_need(tmp_path: Path) -> None:
    """A warm run is Python start-up plus a cache lookup: no parser, no pool, no hashing."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "store.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "pkg" / "util.py").write_text(CLEAN, encoding="utf-8")
    heavy = (
        "libcst",
        "ast",
        "dataclasses",
        "inspect",
        "shutil",
        "concurrent.futures",
        "multiprocessing",
        "hashlib",
        "difflib",
        "tomllib",
    )
    probe = (
        "import sys\n"
        "from ocirace_checker.cli import main\n"
        "code = main(['check', '.', '--exit-zero', '-q', '-v'])\n"
        f"print(' '.join(m for m in {heavy!r} + ('typing',) if m in sys.modules) or '-')\n"
    )
    command = [sys.executable, "-I", "-c", probe]
    # A file read within a timestamp tick of its last change is compared by content on the
    # next run (it could change again in that tick): let the files age past that first.
    time.sleep(0.2)
    subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    warm = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "2 from the cache, 0 parsed by the rules" in warm.stderr
    imported = warm.stdout.split()
    assert [name for name in imported if name in heavy] == []
    if not any((parent / "pyproject.toml").exists() for parent in tmp_path.parents):
        assert "typing" not in imported  # only tomllib needs it, and there is no config


def test_explain_says_which_guards_were_considered(
    project: Path, capsys: pytest.CaptureFixture[str]
):
    (project / "pkg" / "cache.py").write_text(
        "import logging, os, tempfile\n"
        "def put(dst, data):\n"
        "    fd, tmp = tempfile.mkstemp()\n"
        "    os.write(fd, data)\n"
        "    os.close(fd)\n"
        "    try:\n"
        "        os.replace(tmp, dst)\n"
        "    except Exception:\n"
        "        logging.warning('lost %s', dst)\n",
        encoding="utf-8",
    )
    code, out, _ = check(capsys, "--explain", "ORC001", "pkg/cache.py:7")
    assert code == 0
    assert "publish call: os.replace (replace)" in out
    assert "a broad handler that reports the failure (except at line 8)" in out
    assert "reported: os.replace() publishes" in out
    assert check(capsys, "--explain", "ORC042", "pkg/cache.py:7")[0] == 2
    assert check(capsys, "--explain", "ORC001", "pkg/cache.py")[0] == 2


def test_explain_says_a_move_without_the_replace_flag_is_publish_if_absent(
    project: Path, capsys: pytest.CaptureFixture[str]
):
    (project / "pkg" / "win.py").write_text(
        "import os, tempfile\n"
        "from ctypes import windll\n"
        "def put(dst, data):\n"
        "    fd, tmp = tempfile.mkstemp()\n"
        "    os.write(fd, data)\n"
        "    os.close(fd)\n"
        "    windll.kernel32.MoveFileExW(tmp, dst, 0x8)\n"
        "    windll.kernel32.MoveFileExW(tmp, dst, 0x8 | 0x1)\n",
        encoding="utf-8",
    )
    code, out, _ = check(capsys, "--explain", "ORC001", "pkg/win.py:7")
    assert code == 0
    assert "MoveFileEx without MOVEFILE_REPLACE_EXISTING" in out
    assert "ORC001 is not reported here" in out
    code, out, _ = check(capsys, "--explain", "ORC001", "pkg/win.py:8")
    assert "publish call: kernel32.MoveFileExW (replace)" in out
    assert "reported: windll.kernel32.MoveFileExW() publishes" in out


def _command(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m ocirace_checker`` (the executable's path: :func:`.cli.command`)."""
    return subprocess.run(
        [sys.executable, "-m", "ocirace_checker", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_ends_with_the_exit_code_and_every_line_written(project: Path):
    # The command skips the interpreter's clean-up at the end (os._exit): the report must
    # still be complete, the cache written, and the exit code that of main().
    for _ in range(20):  # enough findings that the report outgrows any pipe buffer
        (project / "pkg" / f"copy{_}.py").write_text(BAD, encoding="utf-8")
    done = _command(project, "--format", "json", "--output-file", "report.json")
    assert done.returncode == 1, done.stderr
    printed = _command(project, "--format", "json")
    assert printed.returncode == 1, printed.stderr
    records = json.loads(printed.stdout)
    assert len(records) == 3 * 21
    assert json.loads((project / "report.json").read_text(encoding="utf-8")) == records
    assert (project / ".ocirace_cache").is_dir()
    verbose = _command(project, "-v", "--exit-zero", "--format", "concise")
    assert verbose.returncode == 0, verbose.stderr
    assert "22 from the cache" in verbose.stderr


def test_the_command_keeps_usage_errors_and_clean_exits(project: Path):
    (project / "pkg" / "store.py").write_text(CLEAN, encoding="utf-8")
    clean = _command(project)
    assert (clean.returncode, clean.stdout) == (0, "All checks passed!\n"), clean.stderr
    bad = _command(project, "--select", "NOPE")
    assert bad.returncode == 2
    assert "NOPE" in bad.stderr
