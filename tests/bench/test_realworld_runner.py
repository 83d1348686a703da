"""The harness's process handling: bounded output and hung runs (real processes)."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path

import pytest

from bench.realworld import runner
from bench.realworld.core import Project

PROJECT = Project("demo", "1.0", (), (), "")


def _fake_python(tmp_path: Path, body: str) -> Path:
    """An executable standing in for a venv's python: it ignores pytest's arguments."""
    script = tmp_path / "fakepy"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_output_is_bounded_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "HEAD_BYTES", 1000)
    monkeypatch.setattr(runner, "TAIL_BYTES", 500)
    python = _fake_python(
        tmp_path,
        """
        import sys
        for i in range(20000):
            sys.stdout.write(f"race entry {i:06d}\\n")
        sys.stdout.write("LAST LINE\\n")
        """,
    )
    result = runner.run_suite(PROJECT, python, tmp_path, tmp_path / "w", "plain", (), 60)
    assert result.output_bytes == 20000 * 18 + 10
    assert not result.hung
    assert result.returncode == 0
    assert result.tail.endswith("LAST LINE\n")
    assert len(result.tail) <= 500
    log = (tmp_path / "w" / "runs" / "demo" / "plain.log").read_bytes()
    assert log.startswith(b"race entry 000000")
    assert len(log) < 1100
    assert b"bytes not kept" in log
    assert result.junit_missing


def test_hang_after_summary_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "EXIT_GRACE", 0.5)
    python = _fake_python(
        tmp_path,
        """
        import sys, time
        print("tests/test_x.py::test_a PASSED", flush=True)
        print("============ 1 passed in 0.01s ============", flush=True)
        time.sleep(120)
        """,
    )
    result = runner.run_suite(PROJECT, python, tmp_path, tmp_path / "w", "ocirace", (), 60)
    assert result.hung
    assert result.hung_after_summary
    assert result.wall < 30


def test_hang_during_tests_hits_the_timeout(tmp_path: Path) -> None:
    python = _fake_python(
        tmp_path,
        """
        import time
        print("tests/test_x.py::test_a ", flush=True)
        time.sleep(120)
        """,
    )
    result = runner.run_suite(PROJECT, python, tmp_path, tmp_path / "w", "ocirace", (), 1.0)
    assert result.hung
    assert not result.hung_after_summary
    assert "test_a" in result.tail


def test_files_left_in_the_source_tree_are_reported(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "existing.txt").write_text("x")
    python = _fake_python(
        tmp_path,
        """
        open("C:\\\\Users\\\\ocirace\\\\cache.db", "w").close()
        """,
    )
    result = runner.run_suite(PROJECT, python, source, tmp_path / "w", "ocirace", (), 60)
    assert result.stray_files == ["C:\\Users\\ocirace\\cache.db"]


def test_venv_marker_changes_with_the_checkouts_pyproject(tmp_path: Path) -> None:
    # A venv built before a layout move kept the old pytest11 entry point and failed every
    # run at start-up: the checkout's pyproject.toml is part of what a venv was built from.
    (tmp_path / "pyproject.toml").write_text("[project.entry-points.pytest11]\nx = 'a'\n")
    before = runner.venv_marker(PROJECT, tmp_path)
    assert runner.venv_marker(PROJECT, tmp_path) == before
    (tmp_path / "pyproject.toml").write_text("[project.entry-points.pytest11]\nx = 'b'\n")
    assert runner.venv_marker(PROJECT, tmp_path) != before


@pytest.mark.parametrize(
    ("name", "files", "found"),
    [
        # PEP 625 names: "." and "-" in the project name become "_" (dogpile.cache's sdist
        # was not found, and the harness said "no sdist ... after pip download").
        ("dogpile.cache", ["dogpile_cache-1.5.0.tar.gz"], ["dogpile_cache-1.5.0.tar.gz"]),
        ("persist-queue", ["persist_queue-1.1.0.tar.gz"], ["persist_queue-1.1.0.tar.gz"]),
        # Older sdists keep the name as typed, in any case.
        ("Chameleon", ["Chameleon-4.5.4.tar.gz"], ["Chameleon-4.5.4.tar.gz"]),
        # Another version, or a project whose name only starts alike, is not it.
        ("zict", ["zict-3.0.1.tar.gz", "zict_extra-3.0.0.tar.gz"], []),
        ("zict", ["zict-3.0.0.tar.gz", "zict-3.0.0.1.tar.gz"], ["zict-3.0.0.tar.gz"]),
    ],
)
def test_sdists_are_found_by_their_normalised_name(
    tmp_path: Path, name: str, files: list[str], found: list[str]
) -> None:
    for file in files:
        (tmp_path / file).write_bytes(b"")
    versions = {"dogpile.cache": "1.5.0", "persist-queue": "1.1.0", "Chameleon": "4.5.4"}
    project = Project(name, versions.get(name, "3.0.0"), (), (), "")
    assert [p.name for p in runner._find_sdists(tmp_path, project)] == found


def test_a_recorded_command_replays_with_its_arguments_whole(tmp_path: Path) -> None:
    # requests-cache's args hold `-k "not TestFileCache"`: split on spaces, the replay in
    # compare_suites.py and suite_phases.py passed "not" and "TestFileCache" apart.
    project = Project("demo", "1.0", (), ("tests", "-k", "not TestFileCache"), "")
    source = tmp_path / "src"
    source.mkdir()
    python = _fake_python(tmp_path, "pass\n")
    runner.run_suite(project, python, source, tmp_path / "w", "ocirace", (), 60)
    runs = tmp_path / "w" / "runs" / "demo"
    command = runner.recorded_command(runs, "ocirace", tmp_path / "replay")
    assert command[command.index("-k") + 1] == "not TestFileCache"
    assert f"--basetemp={tmp_path / 'replay'}" in command
    assert not any(part.startswith("--junitxml") for part in command)


def test_byte_compile_writes_the_checkouts_bytecode_once(tmp_path: Path) -> None:
    # The runs set PYTHONDONTWRITEBYTECODE: without this, a fresh checkout was compiled from
    # source inside every measured run (its first simulated test, w/pertest).
    package = tmp_path / "pytest_ocirace"
    package.mkdir()
    (package / "mod.py").write_text("X = 1\n")
    runner.byte_compile(sys.executable, tmp_path)
    compiled = list((package / "__pycache__").glob("mod.*.pyc"))
    assert len(compiled) == 1
    stamp = compiled[0].stat().st_mtime_ns
    runner.byte_compile(sys.executable, tmp_path)
    assert compiled[0].stat().st_mtime_ns == stamp  # up to date: not written again


def test_byte_compile_names_a_checkout_without_the_plugin(tmp_path: Path) -> None:
    with pytest.raises(runner.HarnessError, match="holds none of pytest_ocirace"):
        runner.byte_compile(sys.executable, tmp_path)


def test_byte_compile_reports_a_file_that_does_not_compile(tmp_path: Path) -> None:
    package = tmp_path / "pytest_ocirace"
    package.mkdir()
    (package / "broken.py").write_text("def (:\n")
    with pytest.raises(runner.HarnessError, match=r"byte-compiling .* failed"):
        runner.byte_compile(sys.executable, tmp_path)
