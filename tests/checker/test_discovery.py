from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ocirace_checker.config import DEFAULT_EXCLUDE
from ocirace_checker.discovery import PathError, PathMatcher, discover

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n", encoding="utf-8")


def rel(paths: list[str], root: Path) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


def test_finds_python_files_and_skips_default_excludes(tmp_path: Path):
    touch(
        tmp_path,
        "a.py",
        "pkg/b.py",
        "pkg/c.pyi",
        "pkg/notes.txt",
        ".venv/lib/x.py",
        "dist/gen.py",
        "pkg/__pycache__/skip.txt",
        "node_modules/m.py",
    )
    found = discover([tmp_path], root=tmp_path, exclude=DEFAULT_EXCLUDE)
    assert rel(found, tmp_path) == ["a.py", "pkg/b.py", "pkg/c.pyi"]


def test_a_package_named_build_is_checked_as_ruff_checks_it(tmp_path: Path):
    # Regression: the default list had "build", which silently skipped real packages such as
    # pip/_internal/operations/build/. The ruff default list this matches has no "build".
    touch(tmp_path, "pip/_internal/operations/build/wheel.py", "build/lib/copy.py")
    found = discover([tmp_path], root=tmp_path, exclude=DEFAULT_EXCLUDE)
    assert rel(found, tmp_path) == [
        "build/lib/copy.py",
        "pip/_internal/operations/build/wheel.py",
    ]
    assert all(Path(p).is_absolute() and isinstance(p, str) for p in found)


def test_name_and_path_patterns(tmp_path: Path):
    touch(tmp_path, "src/x_pb2.py", "src/ok.py", "src/gen/y.py", "gen/z.py", "deep/a/b/c.py")
    found = discover([tmp_path], root=tmp_path, exclude=["*_pb2.py", "src/gen", "deep/**/c.py"])
    # "src/gen" is a path pattern: the top-level gen/ stays.
    assert rel(found, tmp_path) == ["gen/z.py", "src/ok.py"]


def test_patterns_are_relative_to_the_project_root_not_the_argument(tmp_path: Path):
    touch(tmp_path, "src/gen/y.py", "src/ok.py")
    found = discover([tmp_path / "src"], root=tmp_path, exclude=["src/gen"])
    assert rel(found, tmp_path) == ["src/ok.py"]


def test_explicit_files_are_checked_unless_force_exclude(tmp_path: Path):
    touch(tmp_path, "dist/gen.py", "notes.txt")
    explicit = [tmp_path / "dist" / "gen.py", tmp_path / "notes.txt"]
    assert rel(discover(explicit, root=tmp_path, exclude=DEFAULT_EXCLUDE), tmp_path) == [
        "dist/gen.py",
        "notes.txt",
    ]
    forced = discover(explicit, root=tmp_path, exclude=DEFAULT_EXCLUDE, force_exclude=True)
    assert rel(forced, tmp_path) == ["notes.txt"]


def test_an_explicitly_named_excluded_directory_is_walked(tmp_path: Path):
    touch(tmp_path, "build/gen.py")
    assert rel(discover([tmp_path / "build"], root=tmp_path, exclude=["build"]), tmp_path) == [
        "build/gen.py"
    ]
    assert (
        discover([tmp_path / "build"], root=tmp_path, exclude=["build"], force_exclude=True) == []
    )


def test_duplicates_are_reported_once(tmp_path: Path):
    touch(tmp_path, "a.py")
    assert len(discover([tmp_path, tmp_path / "a.py"], root=tmp_path, exclude=())) == 1


def test_missing_path_is_an_error(tmp_path: Path):
    with pytest.raises(PathError, match="no such file or directory"):
        discover([tmp_path / "nope.py"], root=tmp_path, exclude=())


def test_gitignore_outside_a_work_tree_is_not_read(tmp_path: Path):
    touch(tmp_path, "ignored.py", "kept.py")
    (tmp_path / ".gitignore").write_text("ignored.py\n", encoding="utf-8")
    assert rel(discover([tmp_path], root=tmp_path, exclude=()), tmp_path) == [
        "ignored.py",
        "kept.py",
    ]


@needs_git
def test_gitignore_is_honoured_inside_a_work_tree(tmp_path: Path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    touch(
        tmp_path,
        "kept.py",
        "ignored.py",
        "logs/x.py",
        "sub/inner.py",
        "sub/secret.py",
        "sub/negated.py",
        "build/tracked.py",
    )
    (tmp_path / ".gitignore").write_text("ignored.py\nlogs/\n*.py\n!kept.py\n", encoding="utf-8")
    (tmp_path / "sub" / ".gitignore").write_text("!inner.py\n!negated.py\n", encoding="utf-8")
    info = tmp_path / ".git" / "info" / "exclude"
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_text("negated.py\n", encoding="utf-8")
    found = discover([tmp_path], root=tmp_path, exclude=DEFAULT_EXCLUDE)
    # sub/.gitignore re-includes both, but nested files still obey the configured excludes.
    assert rel(found, tmp_path) == ["kept.py", "sub/inner.py", "sub/negated.py"]


@needs_git
def test_tracked_files_are_checked_even_if_a_pattern_now_ignores_them(tmp_path: Path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    touch(tmp_path, "tracked.py")
    subprocess.run(["git", "-C", str(tmp_path), "add", "tracked.py"], check=True)
    (tmp_path / ".gitignore").write_text("*.py\n", encoding="utf-8")
    assert rel(discover([tmp_path], root=tmp_path, exclude=()), tmp_path) == ["tracked.py"]


@needs_git
def test_configured_excludes_apply_to_git_listings(tmp_path: Path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    touch(tmp_path, "a.py", "vendor/lib/b.py", "src/gen/c.py", "src/d.py")
    found = discover([tmp_path], root=tmp_path, exclude=["vendor", "src/gen"])
    assert rel(found, tmp_path) == ["a.py", "src/d.py"]


def test_path_matcher_glob_semantics():
    matcher = PathMatcher(["*.gen.py", "docs/*.py", "a/**/z.py", "./lead/"])
    assert matcher.matches_rel("pkg/x.gen.py")
    assert matcher.matches_rel("docs/conf.py")
    assert not matcher.matches_rel("docs/sub/conf.py")  # * stops at /
    assert matcher.matches_rel("a/z.py")
    assert matcher.matches_rel("a/b/c/z.py")
    assert matcher.matches_rel("lead/anything.py")
    assert not matcher.matches_rel("other/lead.py")
    assert not PathMatcher([])


@needs_git
def test_no_respect_gitignore_walks_ignored_directories(tmp_path: Path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    touch(tmp_path, "env/lib/dep.py", "kept.py")
    (tmp_path / ".gitignore").write_text("env/\n", encoding="utf-8")
    assert discover([tmp_path / "env"], root=tmp_path, exclude=()) == []
    found = discover([tmp_path / "env"], root=tmp_path, exclude=(), respect_gitignore=False)
    assert rel(found, tmp_path) == ["env/lib/dep.py"]
