"""What the checked project is made of: its own modules, and whether it depends on the writer.

Both questions are about the *checked* project, not the interpreter running ``ocirace``. That
interpreter always has the writer (pytest-ocirace depends on ocirace-writer, in a pre-commit
environment too), so ``importlib.util.find_spec("ocirace_writer")`` there says nothing about the
project. What puts the writer into the project's own environments - its CI, its users'
installs - is its declared dependencies, so that is what is read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:  # this module is on the warm path: no typing import at run time
    from typing import Any

__all__ = [
    "WRITER_DISTRIBUTIONS",
    "declares_writer",
    "first_party_modules",
    "import_line_length",
]

#: Distributions that bring ``ocirace_writer`` at run time (pytest-ocirace depends on it).
WRITER_DISTRIBUTIONS = frozenset({"ocirace-writer", "pytest-ocirace"})

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def first_party_modules(root: Path) -> tuple[str, ...]:
    """Top-level modules of the project, as ruff's default ``src = [".", "src"]`` sees them.

    A directory or a ``.py``/``.pyi`` file directly in the root or in ``src/`` is first party.
    """
    names: set[str] = set()
    for base in (root, root / "src"):
        try:
            entries = list(os.scandir(base))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            stem = name
            if not entry.is_dir():
                stem, dot, suffix = name.rpartition(".")
                if not dot or suffix not in ("py", "pyi"):
                    continue
            if stem.isidentifier():
                names.add(stem)
    return tuple(sorted(names))


def import_line_length(root: Path) -> int:
    """The line length at which the project's import sorter wraps an import.

    isort's own ``line_length`` wins (it is what wraps imports when isort runs), then ruff's
    ``line-length`` (ruff's ``I`` rules wrap at it; ``ruff.toml``/``.ruff.toml`` before
    pyproject, as ruff reads them), then black's; 88, the default of all three, otherwise.
    """
    from .model import DEFAULT_LINE_LENGTH

    document = _pyproject(root) or {}
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        tool = {}
    candidates: list[Any] = [_table(tool, "isort").get("line_length")]
    for name in ("ruff.toml", ".ruff.toml"):
        candidates.append(_toml(root / name).get("line-length"))
    candidates.append(_table(tool, "ruff").get("line-length"))
    candidates.append(_table(tool, "black").get("line-length"))
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_LINE_LENGTH


def _table(tool: dict[str, Any], name: str) -> dict[str, Any]:
    table = tool.get(name)
    return table if isinstance(table, dict) else {}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: list[Any]) -> set[str]:
    found = set()
    for line in lines:
        if isinstance(line, str):
            match = _NAME.match(line)
            if match:
                found.add(_normalise(match.group(1)))
    return found


def declares_writer(root: Path, pyproject: dict[str, Any] | None) -> bool:
    """Whether the project's runtime dependencies bring ``ocirace_writer``.

    Read: ``[project].dependencies`` and ``[tool.poetry.dependencies]`` of its pyproject.toml,
    and ``requirements.txt`` / ``requirements.in`` in its root. The project *being* one of the
    writer's distributions counts too. Optional and development dependencies do not: the fixed
    code runs in production, where only runtime dependencies are installed.
    """
    names: set[str] = set()
    if pyproject:
        project = pyproject.get("project")
        if isinstance(project, dict):
            if isinstance(project.get("name"), str):
                names.add(_normalise(project["name"]))
            dependencies = project.get("dependencies")
            if isinstance(dependencies, list):
                names |= _requirement_names(dependencies)
        poetry = pyproject.get("tool", {}).get("poetry", {})
        if isinstance(poetry, dict) and isinstance(poetry.get("dependencies"), dict):
            names |= {_normalise(name) for name in poetry["dependencies"]}
    for requirements in ("requirements.txt", "requirements.in"):
        try:
            text = (root / requirements).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        names |= _requirement_names(
            [line for line in text.splitlines() if not line.lstrip().startswith(("#", "-"))]
        )
    return bool(names & WRITER_DISTRIBUTIONS)


_WRITER_IMPORT = re.compile(
    r"^\+?[ \t]*(?:from[ \t]+ocirace_writer[ \t]+import|import[ \t]+ocirace_writer)\b", re.M
)


def _pyproject(root: Path) -> dict[str, Any] | None:
    return _toml(root / "pyproject.toml") or None


def _toml(path: Path) -> dict[str, Any]:
    """The TOML document at ``path``, or an empty one when it is missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    return document


def writer_notice(root: Path, fixed_texts: list[str], diffs: list[str]) -> str | None:
    """The once-per-run note when fixes import ``ocirace_writer`` and the project lacks it.

    ``fixed_texts`` are the files ``--fix`` rewrote, ``diffs`` what ``--diff`` printed. The
    fix is still made (the call really is racy); the note says how to make the import resolve.
    """
    added = any(_WRITER_IMPORT.search(text) for text in fixed_texts) or any(
        line.startswith("+") and _WRITER_IMPORT.match(line)
        for diff in diffs
        for line in diff.splitlines()
    )
    if not added or declares_writer(root, _pyproject(root)):
        return None
    from ocirace_writer import __version__

    return (
        "note: the fixes import publish from ocirace_writer, which this project does not "
        f'declare; add "ocirace-writer=={__version__}" to [project] dependencies (stdlib only, '
        "nothing else comes with it), or copy it in with `ocirace vendor "
        "src/<package>/_vendor/ocirace_writer.py` (which points later fixes at the copy; "
        "change imports already written to its name)"
    )
