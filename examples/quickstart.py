"""The quick start, runnable and checked: ``python examples/quickstart.py``.

It runs ``pytest --ocirace examples/test_oci_layout.py`` in a subprocess and shows its
output: the port of go-containerregistry's ``layout.WriteImage`` fails with the race caught
and explained, and the same writer fixed with the reference writer passes. A quick start that
only *looks* right is worse than none, so this script also checks the outcome and exits 0
only if the buggy test failed with the expected race (an unhandled ``concurrent-publish`` of
identical bytes onto a blob, ``[WinError 5]``) and the fixed one passed. CI runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent
TEST_FILE = "examples/test_oci_layout.py"
BUGGY = f"{TEST_FILE}::test_write_image_with_duplicate_empty_layers"
FIXED = f"{TEST_FILE}::test_write_image_fixed_with_the_reference_writer"


def run_pytest(workdir: Path) -> tuple[int, str, Path, Path]:
    report = workdir / "races.json"
    junit = workdir / "junit.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--ocirace",
        TEST_FILE,
        f"--ocirace-report={report}",
        f"--junitxml={junit}",
        "-p",
        "no:cacheprovider",
    ]
    print("$ " + " ".join(["pytest", *command[3:5]]), flush=True)
    done = subprocess.run(command, cwd=EXAMPLES.parent, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr, report, junit


def outcomes(junit: Path) -> dict[str, str]:
    """nodeid -> "passed"/"failed"/"error"/"skipped" from the junit XML."""
    result: dict[str, str] = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        nodeid = f"{path}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if tag in kinds:
                outcome = "failed" if tag == "failure" else tag
        result[nodeid] = outcome
    return result


def problems(exit_code: int, verdicts: dict[str, str], document: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if exit_code != 1:
        found.append(f"pytest exited with {exit_code}, expected 1 (one test failed)")
    if verdicts.get(BUGGY) != "failed":
        found.append(f"{BUGGY} should fail under --ocirace, but {verdicts.get(BUGGY)}")
    if verdicts.get(FIXED) != "passed":
        found.append(f"{FIXED} should pass, but {verdicts.get(FIXED)}")
    samples = [g["sample"] for g in document.get("groups", []) if g["sample"] is not None]
    expected = [
        race
        for race in samples
        if race["test"] == BUGGY
        and race["rule"] == "concurrent-publish"
        and race["winerror"] == 5
        and race["handled"] is False
        and race["identical"] is True
        and "blobs\\sha256\\" in race["path"]
    ]
    if not expected:
        found.append(
            "the race report has no unhandled concurrent-publish of identical bytes onto a "
            "blob (WinError 5) for the buggy port"
        )
    if any(g["test"] == FIXED and g["unhandled"] for g in document["groups"]):
        found.append("the fixed writer let an injected error escape")
    return found


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ocirace-quickstart-") as directory:
        exit_code, output, report, junit = run_pytest(Path(directory))
        print(output)
        if not report.exists() or not junit.exists():
            print("quickstart: FAILED: pytest wrote no race report or junit XML (see above)")
            return 1
        document = json.loads(report.read_text(encoding="utf-8"))
        found = problems(exit_code, outcomes(junit), document)
    if found:
        print("quickstart: FAILED:\n  " + "\n  ".join(found))
        return 1
    print(
        "quickstart: OK: the port of layout.WriteImage failed with the Windows rename race "
        "(WinError 5, explained above), and the reference writer passed."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
