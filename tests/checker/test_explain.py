"""``--explain``: the same reasoning with the demand-built index as with the full one.

The command line explains with the index built on demand (what a run uses); these tests
hold it to the answers of the index that summarises every module first, on real files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ocirace_checker.codes import RULES
from ocirace_checker.demand import DemandIndex
from ocirace_checker.explain import explain
from ocirace_checker.model import LintSettings
from ocirace_checker.project_index import build_index
from tests.checker.multi_module_examples import MULTI_MODULE

SETTINGS = LintSettings()
#: The rules whose findings depend on other modules (temps, callers, guards, aliases).
CODES = ("ORC001", "ORC002", "ORC003", "ORC004", "ORC006")
PUBLISH_WORDS = ("rename", "replace", "move", "MoveFile")


def _write(tmp_path: Path, modules: dict[str, str]) -> list[str]:
    paths = []
    for relative, text in modules.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        paths.append(str(target))
    return paths


def test_the_codes_compared_are_rules() -> None:
    assert set(CODES) <= set(RULES)
    assert len(MULTI_MODULE) >= 4


@pytest.mark.parametrize("case", MULTI_MODULE)
def test_every_multi_module_example_is_explained_as_with_the_full_index(
    case: object, tmp_path: Path
) -> None:
    modules: dict[str, str] = case.modules  # type: ignore[attr-defined]
    paths = _write(tmp_path, modules)
    compared = 0
    for path in paths:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for number, text in enumerate(lines, start=1):
            if not any(word in text for word in PUBLISH_WORDS):
                continue
            for code in CODES:
                full = explain(code, path, number, SETTINGS, build_index(paths, None))
                on_demand = explain(code, path, number, SETTINGS, DemandIndex(paths))
                assert on_demand == full, (path, number, code)
                compared += 1
    assert compared, "the example has no publish line to explain"


def test_the_demand_index_crosses_modules_when_explaining(tmp_path: Path) -> None:
    """A guard in a caller of another module is found, as in a run over the project."""
    paths = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/store.py": (
                "import os, tempfile\n"
                "def save(dst, data):\n"
                "    fd, tmp = tempfile.mkstemp()\n"
                "    os.write(fd, data)\n"
                "    os.close(fd)\n"
                "    os.replace(tmp, dst)\n"
            ),
            "pkg/cli.py": (
                "from filelock import FileLock\n"
                "from pkg.store import save\n"
                "def main(dst):\n"
                "    with FileLock(dst + '.lock'):\n"
                "        save(dst, b'x')\n"
            ),
        },
    )
    store = paths[1]
    lines = explain("ORC001", store, 6, SETTINGS, DemandIndex(paths))
    assert any("cli.py" in line and "lock" in line for line in lines), lines
    assert lines == explain("ORC001", store, 6, SETTINGS, build_index(paths, None))


def test_the_caller_named_is_the_one_passing_the_temp_not_an_import_of_the_same_name(
    tmp_path: Path,
) -> None:
    """``os.rename(src, dst)`` inside a wrapper named ``rename`` is not a call of the wrapper.

    Regression: the explanation credited the wrapper's own ``os.rename`` line with passing
    the temp, instead of the caller in another module (salt's ``salt.utils.files.rename``).
    """
    paths = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/files.py": (
                "import os\n"
                "def rename(src, dst):\n"
                "    try:\n"
                "        os.rename(src, dst)\n"
                "    except FileExistsError:\n"
                "        os.remove(dst)\n"
                "        os.rename(src, dst)\n"
            ),
            "pkg/client.py": (
                "import pkg.files\n"
                "def fetch(dest, data):\n"
                "    dest_tmp = '{}.part'.format(dest)\n"
                "    with open(dest_tmp, 'wb') as fp:\n"
                "        fp.write(data)\n"
                "    pkg.files.rename(dest_tmp, dest)\n"
            ),
        },
    )
    lines = explain("ORC006", paths[1], 7, SETTINGS, DemandIndex(paths))
    source = next(line for line in lines if line.startswith("  source src"))
    assert "client.py:6 passes dest_tmp" in source, lines
    assert any(line.startswith("  reported") for line in lines), lines
