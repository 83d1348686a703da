"""The README's quick start, as CI runs it: ``python examples/quickstart.py``.

The script checks its own outcome (the buggy port fails with the expected race, the fixed
writer passes); this test only makes sure it says so, in a fresh interpreter, from any
working directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def test_quickstart_catches_the_race_and_passes_the_fix(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(QUICKSTART)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "race on " in done.stdout
    assert "(concurrent-publish)" in done.stdout
    assert "[WinError 5] Access is denied" in done.stdout
    assert done.stdout.rstrip().endswith("and the reference writer passed.")
