"""The start-up hook as installed: a wheel puts the ``.pth`` at the root of site-packages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_ocirace.realdisk.protocol import ENV_SOCKET

ROOT = Path(__file__).resolve().parents[2]
PTH = ROOT / "pytest_ocirace" / "realdisk" / "pytest_ocirace_processes.pth"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only this checkout's wheel (no pip, no dependencies).

    The writer, which ``import pytest_ocirace`` needs, comes from the source tree through
    ``PYTHONPATH`` (see :func:`_run`): tests/test_package.py builds its wheel already.
    """
    base = tmp_path_factory.mktemp("wheel-install")
    wheels = base / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    venv = base / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True
    )
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check",
         "install", "-q", "--no-index", "--no-deps", *map(str, wheels.glob("*.whl"))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    return python


def _run(python: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import sys; print(sorted(m for m in sys.modules if m.startswith('pytest_ocirace')))"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OCIRACE_")}
    clean["PYTHONPATH"] = str(ROOT / "writer" / "src")
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env={**clean, **env}, check=False
    )


@pytest.mark.skipif(sys.platform == "win32", reason="the process mode runs on POSIX")
def test_the_wheel_puts_the_hook_in_site_packages_and_it_costs_nothing_unset(
    installed: Path,
) -> None:
    site = next(installed.parent.parent.glob("lib/python*/site-packages"))
    assert (site / PTH.name).read_bytes() == PTH.read_bytes()
    result = _run(installed, {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # nothing of ours imported without the variable


@pytest.mark.skipif(sys.platform == "win32", reason="the process mode runs on POSIX")
def test_a_process_that_cannot_reach_the_coordinator_says_so_in_one_line_and_runs_on(
    installed: Path, tmp_path: Path
) -> None:
    result = _run(installed, {ENV_SOCKET: str(tmp_path / "gone.sock")})
    assert result.returncode == 0, result.stderr
    assert "pytest_ocirace.realdisk.bootstrap" in result.stdout
    lines = [line for line in result.stderr.splitlines() if "pytest-ocirace" in line]
    assert len(lines) == 1, result.stderr
    assert "could not join" in lines[0]


#: What a joining child must not import for us (each was part of its start-up cost once).
HEAVY = {
    "ocirace_writer", "logging", "dataclasses", "inspect", "hashlib", "hmac", "_hashlib",
    "typing", "socket", "tempfile", "shutil", "importlib.resources", "queue",
    "concurrent.futures", "multiprocessing", "subprocess", "fcntl",
}  # fmt: skip


def _modules(python: Path, env: dict[str, str], code: str) -> set[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OCIRACE_")}
    clean["PYTHONPATH"] = str(ROOT / "writer" / "src")
    script = code + "\nimport sys; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, env={**clean, **env}
    )
    assert result.returncode == 0, result.stderr
    assert "could not join" not in result.stderr, result.stderr
    return set(result.stdout.split())


@pytest.mark.skipif(sys.platform == "win32", reason="the process mode runs on POSIX")
@pytest.mark.parametrize("code", ["pass", "import threading"])
def test_joining_imports_only_what_a_participant_needs(installed: Path, code: str) -> None:
    """A child's start with the hook stays cheap: no module of ours pulls in heavy ones.

    What the program imports itself (``threading`` here) is instrumented when it arrives;
    ``queue`` and ``concurrent.futures`` wait for their own import.
    """
    from pytest_ocirace.realdisk.bootstrap import environment
    from pytest_ocirace.realdisk.coordinator import Coordinator

    coordinator = Coordinator()
    try:
        env = environment(coordinator.path, coordinator.secret_hex, [sys.prefix])
        bare = _modules(installed, {}, code)
        joined = _modules(installed, env, code)
        with coordinator.lock:
            hellos = [p for p in coordinator.judge.processes.values() if p.joined]
    finally:
        coordinator.close()
    assert len(hellos) == 1  # it did join
    assert "pytest_ocirace.realdisk.interpose" in joined
    assert (joined - bare) & HEAVY == set()
