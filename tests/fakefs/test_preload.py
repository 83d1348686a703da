"""What a simulation imports stays imported: nothing is compiled again for every test.

pyfakefs drops every module first imported while its patcher runs. Each test runs in a
fresh interpreter, where nothing of the simulation is loaded yet, as in a user's session.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

from pytest_ocirace.fakefs import preload

_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[1])
    from pytest_ocirace.fakefs.filesystem import simulate
    from pytest_ocirace.winrules.options import SimulationOptions

    def ours():
        return {
            name for name in sys.modules
            if name.startswith("pytest_ocirace.") or name == "named_by_the_user"
        }

    options = SimulationOptions(windows_platform_modules=("named_by_the_user",))
    for _ in range(2):
        with simulate(options):
            os.makedirs("C:\\\\data", exist_ok=True)
            with open("C:\\\\data\\\\x.tmp", "w") as f:
                f.write("x")
            os.replace("C:\\\\data\\\\x.tmp", "C:\\\\data\\\\x")
            inside = ours()
        dropped = inside - ours()
        print(sorted(dropped))
    """
)


def test_no_module_used_inside_a_simulation_is_dropped_when_it_ends(tmp_path: Path) -> None:
    # The named module is not imported by anything before the simulation starts: the
    # platform view imports it (a test's own module, a lazily imported library).
    (tmp_path / "named_by_the_user.py").write_text("import os\nWINDOWS = os.name == 'nt'\n")
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[]", "[]"], proc.stdout


def test_the_list_names_every_module_of_the_simulation_packages() -> None:
    on_disk = set()
    for package_name in (
        "pytest_ocirace.winrules",
        "pytest_ocirace.racemodel",
        "pytest_ocirace.fakefs",
    ):
        package = importlib.import_module(package_name)
        on_disk.add(package_name)
        on_disk.update(
            f"{package_name}.{info.name}" for info in pkgutil.iter_modules(package.__path__)
        )
    assert set(preload.SIMULATION_MODULES) == on_disk


def test_the_list_holds_no_module_of_the_pytest_glue() -> None:
    assert not [n for n in preload.SIMULATION_MODULES if n.startswith("pytest_ocirace.plugins")]


def test_a_named_module_that_cannot_be_imported_is_left_to_its_option() -> None:
    # platform.PlatformError names it when the option is applied; preloading stays quiet.
    preload.load_before_patching(("no_such_module_for_ocirace_preload",))
    assert "no_such_module_for_ocirace_preload" not in sys.modules


_POOL_TEST = textwrap.dedent(
    """
    import asyncio, os, sys, tempfile

    def test_work_items_follow_their_submitter(tmp_path):
        async def main():
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, os.getcwd)  # the worker exists from here on
            fd, tmp = tempfile.mkstemp(dir=tmp_path)
            os.close(fd)
            await loop.run_in_executor(None, os.replace, tmp, str(tmp_path / "info"))
        asyncio.run(main())

    def test_platform_answers_without_starting_a_process():
        # platform.uname().processor runs `uname -p` once per process, on first read: a
        # first read inside a simulated test was a refused process start (cookiecutter).
        import platform

        assert platform.platform()
    """
)


def test_a_thread_pool_first_used_inside_a_simulated_test_is_instrumented(
    tmp_path: Path,
) -> None:
    # persist-queue 1.1.0: nothing imported concurrent.futures.thread before the first
    # simulated test, the instrumented module was dropped at pyfakefs' pause after the
    # set-up report, and asyncio's executor came from a fresh, uninstrumented import: the
    # replace in the worker raced the submitter's close ([WinError 32], every put).
    (tmp_path / "test_pool_first_used.py").write_text(_POOL_TEST)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *("-p", "no:cacheprovider", "-p", "no:xdist"),
            *("-p", "no:randomly", "--ocirace", "-q", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout, proc.stdout
    assert "no races found" in proc.stdout, proc.stdout
