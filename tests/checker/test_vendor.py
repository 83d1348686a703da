"""``ocirace vendor``: writes the copy, refuses to overwrite an edited one, and ``--check``s."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import ocirace_writer
import pytest

from ocirace_checker.cli import main
from ocirace_checker.vendor import VendorError, module_name_for, set_writer_module

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _project(tmp_path: Path, pyproject: str | None = '[project]\nname = "demo"\n') -> Path:
    package = tmp_path / "src" / "demo" / "_vendor"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("", encoding="utf-8")
    (package / "__init__.py").write_text("", encoding="utf-8")
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return package / "safe_writer.py"


def _vendor(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["vendor", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_a_working_copy_with_header_and_records_the_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _project(tmp_path)
    code, out, err = _vendor(str(target), capsys=capsys)
    assert code == 0, err
    assert "importable as demo._vendor.safe_writer" in out
    text = target.read_text(encoding="utf-8")
    version = ocirace_writer.__version__
    assert f"ocirace-writer {version}" in text.splitlines()[0]
    assert "MIT License" in text
    assert "Permission is hereby granted" in text
    assert f"# ocirace-vendor: ocirace-writer {version} sha256:" in text
    assert text.endswith(Path(ocirace_writer.__file__).read_text(encoding="utf-8"))
    config = tomllib.loads((tmp_path / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["ocirace"]["fix-writer-module"] == "demo._vendor.safe_writer"
    assert config["project"] == {"name": "demo"}
    # The copy works alone, under its own name, importing nothing of ours.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import hashlib, sys
                from demo._vendor import safe_writer as w
                d = b"x"
                w.write_blob("layout", "sha256:" + hashlib.sha256(d).hexdigest(), d)
                assert w.__ocirace_writer_seam__.protocol == 1
                print(sorted(m for m in sys.modules if m.startswith(("pytest", "ocirace"))))
                """
            ),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "src"), "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_check_says_current_then_edited_and_vendor_refuses_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _project(tmp_path)
    assert _vendor(str(target), "--check", capsys=capsys)[0] == 1  # missing
    assert _vendor(str(target), capsys=capsys)[0] == 0
    code, out, _ = _vendor(str(target), "--check", capsys=capsys)
    assert (code, "current" in out) == (0, True)
    # Re-running is a no-op that says so.
    code, out, _ = _vendor(str(target), capsys=capsys)
    assert (code, "already current" in out) == (0, True)

    edited = target.read_text(encoding="utf-8").replace("_CHUNK = 1 << 20", "_CHUNK = 1 << 16")
    target.write_text(edited, encoding="utf-8")
    code, _, err = _vendor(str(target), "--check", capsys=capsys)
    assert code == 1
    assert "edited" in err
    assert "--force" in err
    code, _, err = _vendor(str(target), capsys=capsys)
    assert code == 1
    assert "refusing to overwrite" in err
    assert err.count("\n") == 1
    assert target.read_text(encoding="utf-8") == edited
    assert _vendor(str(target), "--force", capsys=capsys)[0] == 0
    assert _vendor(str(target), "--check", capsys=capsys)[0] == 0


def test_crlf_checkout_is_not_an_edit_but_a_hand_copy_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _project(tmp_path)
    _vendor(str(target), capsys=capsys)
    target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))
    assert _vendor(str(target), "--check", capsys=capsys)[0] == 0
    target.write_text(Path(ocirace_writer.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    code, _, err = _vendor(str(target), "--check", capsys=capsys)
    assert code == 1
    assert "no ocirace vendor header" in err


def test_outdated_copy_is_reported_and_replaced_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ocirace_checker.vendor import render

    target = _project(tmp_path)
    target.write_text(render("# an older writer\n", "0.0.1"), encoding="utf-8")
    code, _, err = _vendor(str(target), "--check", capsys=capsys)
    assert code == 1
    assert "outdated, it is version 0.0.1" in err
    assert _vendor(str(target), capsys=capsys)[0] == 0
    assert _vendor(str(target), "--check", capsys=capsys)[0] == 0


def test_without_a_pyproject_it_says_how_to_configure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _project(tmp_path, pyproject=None)
    code, out, _ = _vendor(str(target), capsys=capsys)
    assert code == 0
    assert "no pyproject.toml above it" in out
    assert 'fix-writer-module = "demo._vendor.safe_writer"' in out


def test_directory_target_and_module_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _project(tmp_path)
    code, out, _ = _vendor(str(target.parent), "--module", "other.name", capsys=capsys)
    assert code == 0
    assert (target.parent / "ocirace_writer.py").is_file()
    assert "importable as other.name" in out
    assert _vendor(str(target.parent), "--check", capsys=capsys)[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere/x.py"], "its directory does not exist"),
        (["notes.txt"], "give the .py file"),
        (["{dir}/x.py", "--module", "a..b"], "--module 'a..b'"),
        (["{dir}/my-writer.py"], "not an importable module name"),
        (["{dir}/ocirace_writer.py"], "would shadow the ocirace-writer distribution"),
    ],
)
def test_bad_input_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "notes.txt").write_text("", encoding="utf-8")
    monkey = [a.replace("{dir}", str(tmp_path)) for a in args]
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code, _, err = _vendor(*monkey, capsys=capsys)
    finally:
        os.chdir(cwd)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert err.startswith("ocirace: error: ")


def test_module_name_follows_packages(tmp_path: Path) -> None:
    target = _project(tmp_path)
    assert module_name_for(target) == "demo._vendor.safe_writer"
    assert module_name_for(tmp_path / "top.py") == "top"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            '[project]\nname = "x"\n',
            '[project]\nname = "x"\n\n[tool.ocirace]\nfix-writer-module = "m.w"\n',
        ),
        ("", '\n[tool.ocirace]\nfix-writer-module = "m.w"\n'),
        (
            '[tool.ocirace]  # ours\nselect = ["ORC001"]\n\n[tool.ruff]\nline-length = 99\n',
            '[tool.ocirace]  # ours\nfix-writer-module = "m.w"\nselect = ["ORC001"]\n\n'
            "[tool.ruff]\nline-length = 99\n",
        ),
        (
            "[tool.ocirace]\r\nfix-writer-module = 'old.w'  # keep\r\n",
            '[tool.ocirace]\r\nfix-writer-module = "m.w"  # keep\r\n',
        ),
        (
            '[tool.ocirace.per-file-ignores]\n"a.py" = ["ORC001"]\n',
            '[tool.ocirace.per-file-ignores]\n"a.py" = ["ORC001"]\n\n'
            '[tool.ocirace]\nfix-writer-module = "m.w"\n',
        ),
        (
            '[tool.ocirace]\nfix-writer-module = "m.w"\n',
            '[tool.ocirace]\nfix-writer-module = "m.w"\n',
        ),
    ],
)
def test_toml_is_edited_one_line_at_a_time(before: str, after: str) -> None:
    assert set_writer_module(before, "m.w") == after


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('tool.ocirace.fix-writer-module = "old"\n', "in a form this command does not edit"),
        ("[tool.ocirace\n", "not valid TOML"),
        ('[tool]\nocirace = { select = ["ORC001"] }\n', "would change more than the one key"),
    ],
)
def test_toml_it_cannot_edit_safely_is_left_alone(text: str, message: str) -> None:
    with pytest.raises(VendorError, match=message):
        set_writer_module(text, "m.w")


def test_pre_commit_hook_runs_the_check() -> None:
    hooks = (Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text(
        encoding="utf-8"
    )
    assert "id: ocirace-vendor-check" in hooks
    assert "entry: ocirace vendor --check" in hooks


def test_the_header_carries_the_distributions_licence_text() -> None:
    from ocirace_checker.vendor import _LICENCE

    licence = Path(__file__).resolve().parents[2] / "writer" / "LICENSE"
    stripped = "\n".join(
        line[2:] if line.startswith("# ") else "" for line in _LICENCE.splitlines()
    )
    assert stripped.strip() == licence.read_text(encoding="utf-8").strip()
