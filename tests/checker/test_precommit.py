"""The pre-commit hook, for real: pre-commit installs this project as a hook and runs it.

Slow-ish (pre-commit builds the hook environment with pip, about 10 s) but kept in the suite:
it is the only test that proves ``.pre-commit-hooks.yaml`` and the packaging work together.

The test does what ``pre-commit try-repo`` does (a config naming the repository at its HEAD
commit and the one hook, then ``pre-commit run``) but with one store for both runs: try-repo
builds its store in a throwaway folder, so each call would rebuild the same environment from
the same commit. A user's ``.pre-commit-config.yaml`` takes this same path.

pre-commit installs from a commit, so the test first snapshots the project's current files
(tracked and untracked, minus what .gitignore names) into a fresh repository: it tests the code
as it is on disk, not as it was last committed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# tests/checker/test_precommit.py -> the project root.
PROJECT = Path(__file__).resolve().parents[2]
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which(
    "pre-commit"
)

RACY = """\
import os


def store(data, target):
    tmp = target + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.rename(tmp, target)
"""

pytestmark = [
    pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(
        not (PROJECT / ".pre-commit-hooks.yaml").is_file(), reason="not a source checkout"
    ),
]


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    completed = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout


def snapshot(destination: Path) -> Path:
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = PROJECT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(destination, "init", "-q")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "snapshot")
    return destination


def hook_config(repo: Path, destination: Path) -> Path:
    """The config try-repo writes: this repository at its HEAD, the one hook. JSON is YAML."""
    revision = git(repo, "rev-parse", "HEAD").strip()
    config = {"repos": [{"repo": str(repo), "rev": revision, "hooks": [{"id": "ocirace-check"}]}]}
    destination.write_text(json.dumps(config), encoding="utf-8")
    return destination


def run_hook(config: Path, work: Path) -> subprocess.CompletedProcess[str]:
    assert PRE_COMMIT is not None
    env = {**os.environ, "PRE_COMMIT_HOME": str(work.parent / "pre-commit-home")}
    env.pop("PRE_COMMIT", None)
    return subprocess.run(
        [PRE_COMMIT, "run", "--config", str(config), "ocirace-check", "--all-files"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_hook_fails_on_the_race_and_passes_when_it_is_gone(tmp_path: Path):
    repo = snapshot(tmp_path / "ocirace")
    config = hook_config(repo, tmp_path / "pre-commit-config.yaml")
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    (work / "pyproject.toml").write_text(
        '[tool.ocirace]\nextend-exclude = ["vendored"]\n', encoding="utf-8"
    )
    (work / "store.py").write_text(RACY, encoding="utf-8")
    (work / "vendored").mkdir()
    (work / "vendored" / "theirs.py").write_text(RACY, encoding="utf-8")
    (work / "clean.py").write_text("def f(s):\n    return s.replace('a', 'b')\n", encoding="utf-8")
    git(work, "add", "-A")

    failing = run_hook(config, work)
    report = failing.stdout + failing.stderr
    assert failing.returncode == 1, report
    assert "ocirace check" in report
    assert "Failed" in report
    assert "store.py:8:5: ORC001" in report
    # pre-commit named vendored/theirs.py explicitly; --force-exclude kept it out.
    assert "theirs.py" not in report

    (work / "store.py").write_text(
        "from pytest_ocirace import write_blob\n\n\ndef store(data, target):\n"
        "    write_blob(target, data)\n",
        encoding="utf-8",
    )
    git(work, "add", "-A")
    passing = run_hook(config, work)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "Passed" in passing.stdout
