"""The package's promises to production code: cheap import, full public API, vendorable writer."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import ocirace_writer
import pytest

import pytest_ocirace

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_import_does_not_load_pytest_pyfakefs_or_libcst() -> None:
    result = _run(
        """
        import sys
        import pytest_ocirace
        pytest_ocirace.write_blob  # the writer, resolved on first use
        heavy = [m for m in ("pytest", "_pytest", "pyfakefs", "libcst") if m in sys.modules]
        print(heavy)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_public_name_resolves() -> None:
    for name in pytest_ocirace.__all__:
        assert getattr(pytest_ocirace, name) is not None, name


def test_unknown_attribute_is_a_clear_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        pytest_ocirace.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_declared_ordering_api_is_a_no_op_outside_a_test() -> None:
    # Production code may keep these calls: with no active race model they do nothing.
    pytest_ocirace.happens_before("k")
    pytest_ocirace.happens_after("k")
    with pytest_ocirace.ordered("k"), pytest_ocirace.exclusive("k"):
        pass


def test_writer_module_works_when_copied_alone(tmp_path: Path) -> None:
    shutil.copy(ocirace_writer.__file__, tmp_path / "vendored_writer.py")
    result = _run(
        """
        import hashlib, sys
        sys.path.insert(0, ".")
        import vendored_writer as w
        data = b"hello"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = w.write_blob("layout", digest, data)
        assert path.read_bytes() == data
        with w.atomic_write("layout/index.json") as f:
            f.write(b"{}")
        print(sorted(m for m in sys.modules if m.startswith("pytest_ocirace")))
        """,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_one_version_everywhere() -> None:
    # Written once, in the writer distribution; the plugin's metadata reads it from there and
    # its pin on the writer must be exactly that version (version-locked).
    from importlib.metadata import requires, version

    assert version("pytest-ocirace") == ocirace_writer.__version__ == pytest_ocirace.__version__
    assert version("ocirace-writer") == ocirace_writer.__version__
    pins = [r for r in requires("pytest-ocirace") or [] if r.startswith("ocirace-writer")]
    assert pins == [f"ocirace-writer=={ocirace_writer.__version__}"]
    assert "ocirace-writer==" + ocirace_writer.__version__ in (ROOT / "pyproject.toml").read_text(
        encoding="utf-8"
    )


def test_package_reexports_the_distribution() -> None:
    for name in ocirace_writer.__all__:
        assert getattr(pytest_ocirace, name) is getattr(ocirace_writer, name), name
    assert set(ocirace_writer.__all__) <= set(pytest_ocirace.__all__)


def test_writer_distribution_installs_alone_and_publishes(tmp_path: Path) -> None:
    # The production promise: the writer's wheel, installed into a fresh virtualenv, pulls in
    # nothing, and works. Offline: the wheel is built here without build isolation.
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(ROOT / "writer")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("ocirace_writer-*.whl")
    venv = tmp_path / "venv"
    # --without-pip: ensurepip is most of the cost; this environment's pip installs into the
    # fresh one with --python, so the fresh one holds nothing but what the wheel brings.
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True
    )
    python = venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    install = subprocess.run(
        [*pip, "install", "-q", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    listed = subprocess.run(
        [*pip, "list", "--format=json"], capture_output=True, text=True, check=True
    )
    names = {entry["name"].lower() for entry in json.loads(listed.stdout)}
    assert names == {"ocirace-writer"}  # not even pip: nothing but the wheel
    code = (
        "import hashlib, sys, ocirace_writer as w\n"
        "d = b'hello'\n"
        "p = w.write_blob('layout', 'sha256:' + hashlib.sha256(d).hexdigest(), d)\n"
        "assert p.read_bytes() == d and w.__version__ == sys.argv[1]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pytest', 'pytest_ocirace', 'pyfakefs', 'libcst')))\n"
    )
    run = subprocess.run(
        [str(python), "-c", code, ocirace_writer.__version__],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    assert (tmp_path / "layout" / "oci-layout").is_file()


def test_ocirace_version_and_help() -> None:
    exe = Path(sys.executable).with_name("ocirace")
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0
    assert version.stdout.strip() == f"ocirace {pytest_ocirace.__version__}"
    helptext = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert helptext.returncode == 0
    assert "check" in helptext.stdout


def test_readme_python_example_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```python\n")[1:]
    assert blocks, "README.md has no python example"
    code = "\n".join(block.split("```", 1)[0] for block in blocks)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "layout" / "oci-layout").is_file()


def test_our_own_code_passes_our_checker(tmp_path: Path) -> None:
    # Dogfood: the checker found our JSON report's hand-rolled temp-then-replace (fixed with
    # atomic_write); what remains racy on purpose (the ported bug, benchmark baselines,
    # conformance scenarios) carries a noqa comment with its ORC code and its reason.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocirace_checker",
            "--no-cache",
            "--format",
            "concise",
            *(str(ROOT / d) for d in ("writer", "pytest_ocirace", "checker", "examples", "bench")),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_package_folder_is_installed() -> None:
    # pyproject.toml lists its packages (the checker folder installs under another name, and
    # setuptools cannot mix that with package discovery): a new sub-package left off the list
    # would work from a checkout and be missing from every installed wheel.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    folders = {name: ROOT / name for name in ("pytest_ocirace",)}
    folders |= {installed: ROOT / path for installed, path in setuptools["package-dir"].items()}
    found = set()
    for installed, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((installed, *relative)))
    assert sorted(setuptools["packages"]) == sorted(found)


#: The layers of pytest_ocirace, bottom first (docs/architecture.md): a module may import
#: its own layer and the layers below it, never above; the two backends never each other.
LAYERS = {"winrules": 0, "racemodel": 1, "fakefs": 2, "realdisk": 2, "plugins": 3}


def _imported_subpackages(source: str) -> set[str]:
    """Every ``pytest_ocirace.<sub>`` a module imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            parts = name.split(".")
            if parts[0] == "pytest_ocirace" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_layers_import_downwards_only() -> None:
    package = Path(__file__).resolve().parents[1] / "pytest_ocirace"
    wrong = []
    for layer, rank in LAYERS.items():
        for module in sorted((package / layer).rglob("*.py")):
            for imported in _imported_subpackages(module.read_text(encoding="utf-8")):
                if imported == layer:
                    continue
                if LAYERS[imported] >= rank:
                    wrong.append(f"{module.relative_to(package)} imports {imported}")
    assert wrong == []
