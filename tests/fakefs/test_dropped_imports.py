"""A module a simulated test imports is imported once more at most, not in every test.

pyfakefs drops every module first imported while its patcher runs (or since it resumed
from a pause). Each test runs a script in a fresh interpreter with the module on a real
``sys.path`` entry; the module counts its own executions in a holder module.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_SCRIPT = textwrap.dedent(
    """
    import os, sys, types
    sys.path.insert(0, sys.argv[1])
    holder = sys.modules["executions"] = types.ModuleType("executions")
    holder.count = {}
    from pyfakefs.fake_filesystem_unittest import Patcher
    from pytest_ocirace.fakefs.filesystem import simulate

    def executed(name):
        return holder.count.get(name, 0)

    for round in range(3):
        with simulate():
            loaded_at_start = "lazily_imported" in sys.modules
            os.makedirs("C:\\\\data", exist_ok=True)
            with open("C:\\\\data\\\\only-here", "w") as f:
                f.write("fake")
            import lazily_imported
            import needs_a_fake_file
            if round == 1:  # a pause (pyfakefs' around a report) drops what was imported
                import imported_before_a_pause
                Patcher.PATCHER.pause()
                Patcher.PATCHER.resume()
            if round == 2:
                assert "imported_before_a_pause" in sys.modules
            # Loaded before the patcher or not, the module works on the fake filesystem.
            sees = lazily_imported.exists("C:\\\\data\\\\only-here")
            reads = needs_a_fake_file.CONTENT
        print(
            round, loaded_at_start, executed("lazily_imported"), sees, reads,
            executed("needs_a_fake_file"), executed("imported_before_a_pause"),
        )
    """
)

_COUNT = "import executions\nexecutions.count[__name__] = executions.count.get(__name__, 0) + 1\n"


def _run(tmp_path: Path) -> list[str]:
    (tmp_path / "lazily_imported.py").write_text(
        _COUNT + "import os\n\ndef exists(path):\n    return os.path.exists(path)\n"
    )
    # Its import reads a file that exists only inside the simulation: outside, it fails.
    (tmp_path / "needs_a_fake_file.py").write_text(
        _COUNT + "with open('C:\\\\data\\\\only-here') as f:\n    CONTENT = f.read()\n"
    )
    (tmp_path / "imported_before_a_pause.py").write_text(_COUNT)
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_a_module_imported_in_a_simulation_is_loaded_before_the_next_one(
    tmp_path: Path,
) -> None:
    rounds = [line.split() for line in _run(tmp_path)]
    # round, loaded when the simulation started, executions so far, exists() on the fake
    # file, content
    assert [r[:5] for r in rounds] == [
        ["0", "False", "1", "True", "fake"],  # first imported inside the simulation
        ["1", "True", "2", "True", "fake"],  # loaded again once, before the patcher
        ["2", "True", "2", "True", "fake"],  # and never again
    ]


def test_a_module_whose_import_fails_outside_is_left_to_the_test(tmp_path: Path) -> None:
    rounds = [line.split() for line in _run(tmp_path)]
    # needs_a_fake_file's import raises on the real disk: tried once before round 1 (an
    # execution that raised), then imported inside each simulation as before.
    assert [r[5] for r in rounds] == ["1", "3", "4"]


def test_a_module_dropped_at_a_pause_is_loaded_again_too(tmp_path: Path) -> None:
    rounds = [line.split() for line in _run(tmp_path)]
    assert [r[6] for r in rounds] == ["0", "1", "2"]
