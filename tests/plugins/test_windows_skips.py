"""A test its authors skip on Windows is skipped in the simulation too (``windows_skips``).

On Linux a ``skipif(sys.platform == "win32")`` condition is false at import, so the test
ran against Windows' rules and failed or hung as Windows would (zict's
``test_stress_same_key_threadsafe`` ran into the per-test timeout), although the suite's
own Windows run skips it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

_MARKED = """
import os
import platform
import sys

from pathlib import Path

import pytest

WIN32 = sys.platform == "win32"
DERIVED = WIN32 or platform.system() == "Windows"
posix_only = pytest.mark.skipif(os.name == "nt", reason="posix only")
from helpers import IMPORTED_FLAG, SET_LATER as LATER


@pytest.mark.skipif(sys.platform == "win32", reason="Can't delete file with open fd")
def test_direct():
    pass

@pytest.mark.skipif(WIN32, reason="a module flag")
def test_flag():
    pass

@pytest.mark.skipif(DERIVED, reason="a flag from a flag")
def test_derived_flag():
    pass

@posix_only
def test_named_mark():
    pass

@pytest.mark.skipif("sys.platform.startswith('win')", reason="a string condition")
def test_string():
    pass

@pytest.mark.skipif(sys.version_info < (3, 0), reason="not a platform")
def test_unrelated():
    pass

@pytest.mark.skipif(IMPORTED_FLAG, reason="a flag of another module")
def test_imported_flag():
    pass

@pytest.mark.skipif(LATER, reason="a flag of another module, bound by no assignment")
def test_imported_flag_bound_otherwise():
    pass

@pytest.mark.skipif(sys.platform != "win32", reason="Windows only")
def test_windows_only():
    pass

class TestWithPytestmark:
    pytestmark = [pytest.mark.skipif(os.name == "nt", reason="a class's pytestmark")]

    def test_in_class(self):
        pass

@pytest.mark.skipif(os.name == "nt", reason="a class decorator")
class TestDecorated:
    @pytest.mark.parametrize("x", [1, 2])
    def test_param(self, x):
        pass

def test_unmarked():
    pass
"""

_MODULE_SKIP = """
import os
from pathlib import Path

import pytest

if os.name != "posix":
    pytest.skip("posix family only", allow_module_level=True)

def test_in_a_posix_module():
    pass
"""


def _suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marked=_MARKED,
        test_module_skip=_MODULE_SKIP,
        # click: ``from click._compat import WIN``, ``WIN = sys.platform.startswith("win")``.
        helpers=(
            "import os\nimport sys\n"
            "IMPORTED_FLAG = sys.platform.startswith('win')\n"
            "globals()['SET_LATER'] = os.name == 'nt'\n"
        ),
    )


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    outcomes = {}
    for line in result.outlines:
        for word in ("PASSED", "SKIPPED", "FAILED", "ERROR"):
            if f" {word}" in line and "::" in line:
                outcomes[line.split(" ")[0].split("::", 1)[1]] = word
    return outcomes


def test_a_test_skipped_on_windows_by_its_marker_is_skipped_in_the_simulation(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester)
    result = pytester.runpytest("--ocirace", "-p", "no:randomly", "-v", "-rs")
    assert _outcomes(result) == {
        "test_direct": "SKIPPED",
        "test_flag": "SKIPPED",
        "test_derived_flag": "SKIPPED",
        "test_named_mark": "SKIPPED",
        "test_string": "SKIPPED",
        "test_unrelated": "PASSED",
        # Another module's flag is read again in that module's own source.
        "test_imported_flag": "SKIPPED",
        # ... but only from an assignment there: anything else would be a guess.
        "test_imported_flag_bound_otherwise": "PASSED",
        "test_windows_only": "SKIPPED",  # pytest's own skip: the simulation cannot un-skip
        "TestWithPytestmark::test_in_class": "SKIPPED",
        "TestDecorated::test_param[1]": "SKIPPED",
        "TestDecorated::test_param[2]": "SKIPPED",
        "test_unmarked": "PASSED",
        "test_in_a_posix_module": "SKIPPED",
    }
    result.stdout.fnmatch_lines(
        [
            "*test_marked.py:*: Can't delete file with open fd "
            "(skipped on Windows by its marker; run it with windows_skips=run)",
            "*test_module_skip.py:*: posix family only (skipped on Windows by its marker*",
        ]
    )


def test_windows_skips_run_runs_them_against_windows_rules(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest(
        "--ocirace", "--ocirace-windows-skips=run", "-p", "no:randomly", "-v"
    )
    outcomes = _outcomes(result)
    assert outcomes["test_direct"] == outcomes["test_in_a_posix_module"] == "PASSED"
    assert outcomes["test_windows_only"] == "SKIPPED"
    result.assert_outcomes(passed=13, skipped=1)


def test_without_the_simulation_nothing_changes(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=13, skipped=1)


def test_a_bad_value_is_one_line_naming_the_choices(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest("--ocirace", "--ocirace-windows-skips=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*windows_skips='maybe' is not valid: use one of 'skip', 'run'*"])


def test_the_process_mode_skips_them_too(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest_subprocess("--ocirace-processes", "-p", "no:randomly", "-v")
    outcomes = _outcomes(result)
    assert outcomes["test_direct"] == outcomes["test_in_a_posix_module"] == "SKIPPED"
    assert outcomes["test_imported_flag"] == "SKIPPED"
    assert outcomes["test_unmarked"] == outcomes["test_imported_flag_bound_otherwise"] == "PASSED"


def test_a_test_module_is_parsed_with_the_collector_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CPython 3.11 keeps the AST conversion's state per interpreter: a collection during
    # the conversion ran a finalizer, switched threads, and a leftover worker's traceback
    # parse interleaved: "SystemError: AST constructor recursion depth mismatch" at the
    # setup of aiofiles' next test.
    import ast
    import gc

    from pytest_ocirace.plugins import windows_skips

    module = tmp_path / "test_marked.py"
    module.write_text(
        "import sys, pytest\n"
        "@pytest.mark.skipif(sys.platform == 'win32', reason='r')\n"
        "def test_one():\n    pass\n"
    )
    collector_on: list[bool] = []
    real_parse = ast.parse

    def parse(*args: Any, **kwargs: Any) -> Any:
        collector_on.append(gc.isenabled())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", parse)
    windows_skips._parsed_module.cache_clear()
    tree = windows_skips._module_tree(str(module))
    assert tree is not None
    assert collector_on == [False]
    assert gc.isenabled()


def test_a_module_that_cannot_skip_is_not_parsed(tmp_path: Path) -> None:
    from pytest_ocirace.plugins import windows_skips

    module = tmp_path / "test_plain.py"
    module.write_text("def test_plain():\n    pass\n")
    assert windows_skips._module_tree(str(module)) is None
