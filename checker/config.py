"""``[tool.ocirace]`` settings and rule selection.

Configuration is read from one file: the nearest ``pyproject.toml`` (walking up from where the
paths being checked live) that has a ``[tool.ocirace]`` table, as ruff does; a
``pyproject.toml`` without the table does not stop the walk, so a sub-package of a monorepo
inherits the root's settings. The directory of that file is the *project root*: exclude and
per-file-ignore patterns are relative to it, and the result cache lives there.

Mistakes in the file are errors, not warnings: a misspelt key silently ignored is a rule the
user believes is on. Every error is one line naming the key or code and the valid choices.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .codes import RULES
from .model import DEFAULT_DEPTH, DEFAULT_WRITER_MODULE, LintSettings
from .project import first_party_modules, import_line_length

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms of a warm run; annotations are strings anyway
    from typing import Any

__all__ = [
    "DEFAULT_EXCLUDE",
    "Config",
    "ConfigError",
    "find_config",
    "load_config",
    "parse_selectors",
    "parse_table",
    "select_rules",
]

#: Directories nobody wants linted; the same list ruff skips by default.
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".ocirace_cache",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pypackages__",
    "_build",
    "buck-out",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)

_LIST_KEYS = (
    "select",
    "ignore",
    "extend-select",
    "exclude",
    "extend-exclude",
    "extra-lock-names",
    "extra-guard-functions",
)
_VALID_KEYS = (*_LIST_KEYS, "per-file-ignores", "fix-writer-module", "interprocedural-depth")
#: The most callers up a guard is looked for: past that the answer is "unknown" anyway.
MAX_DEPTH = 10


class ConfigError(Exception):
    """A configuration or selection mistake; ``str()`` is the one-line message for the user."""


class Config:
    """Everything ``[tool.ocirace]`` says, validated, plus where it came from."""

    # A plain class: a dataclass would cost a millisecond of start-up on every run.
    __slots__ = (
        "exclude",
        "extend_exclude",
        "extend_select",
        "ignore",
        "lint",
        "per_file_ignores",
        "root",
        "select",
        "source",
    )

    def __init__(
        self,
        root: Path,
        source: Path | None = None,
        select: tuple[str, ...] | None = None,
        ignore: tuple[str, ...] = (),
        extend_select: tuple[str, ...] = (),
        per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = (),
        exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
        extend_exclude: tuple[str, ...] = (),
        lint: LintSettings | None = None,
    ) -> None:
        #: Directory that patterns and the cache are relative to.
        self.root = root
        #: The file the settings came from, or None when defaults apply.
        self.source = source
        self.select = select
        self.ignore = ignore
        self.extend_select = extend_select
        #: (glob relative to root, codes) pairs, in file order.
        self.per_file_ignores = per_file_ignores
        self.exclude = exclude
        self.extend_exclude = extend_exclude
        self.lint = LintSettings() if lint is None else lint

    @property
    def all_excludes(self) -> tuple[str, ...]:
        return (*self.exclude, *self.extend_exclude)


def _selector_choices() -> str:
    codes = ", ".join(RULES)
    return f"ALL, a code ({codes}), a code prefix such as ORC00, or a rule name"


def _match_selector(selector: str) -> tuple[frozenset[str], int]:
    """The codes a selector names and how specific it is (longer prefix wins, as in ruff)."""
    text = selector.strip()
    if text.upper() == "ALL":
        return frozenset(RULES), 0
    upper = text.upper()
    by_prefix = frozenset(code for code in RULES if code.startswith(upper))
    if by_prefix and upper.startswith("ORC"):
        return by_prefix, len(upper)
    by_name = frozenset(info.code for info in RULES.values() if info.name == text.lower())
    if by_name:
        return by_name, len(next(iter(by_name)))
    return frozenset(), -1


def parse_selectors(values: Iterable[str], where: str) -> tuple[str, ...]:
    """Split comma lists and validate every selector, so a typo fails before any file is read."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            selector = part.strip()
            if not selector:
                continue
            if _match_selector(selector)[1] < 0:
                raise ConfigError(
                    f"unknown rule code {selector!r} in {where}; valid: {_selector_choices()}"
                )
            out.append(selector)
    return tuple(out)


def select_rules(
    config: Config,
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
) -> frozenset[str]:
    """The codes to report, after the config file and then the command line.

    As in ruff: a command-line ``--select`` starts over (the file's ``ignore`` no longer
    applies); otherwise command-line ``--ignore``/``--extend-select`` add to the file's.
    Within one layer the most specific selector wins, and ``ignore`` wins a tie.
    ``ORC000`` (a file we could not read or parse) stays on unless ignored by its exact code,
    because silently skipping a file is worse than any noise it makes.
    """
    if select is not None:
        selected: Sequence[str] = select
        ignored: Sequence[str] = ignore
        extended: Sequence[str] = extend_select
    else:
        selected = config.select if config.select is not None else ("ALL",)
        ignored = (*config.ignore, *ignore)
        extended = (*config.extend_select, *extend_select)
    result: set[str] = set()
    scored_select = [_match_selector(s) for s in (*selected, *extended)]
    scored_ignore = [_match_selector(s) for s in ignored]
    for code in RULES:
        best_select = max((n for codes, n in scored_select if code in codes), default=-1)
        best_ignore = max((n for codes, n in scored_ignore if code in codes), default=-1)
        if best_select >= 0 and best_select > best_ignore:
            result.add(code)
    if "ORC000" not in {s.strip().upper() for s in ignored}:
        result.add("ORC000")
    return frozenset(result)


def _codes_for(selectors: Iterable[str]) -> tuple[str, ...]:
    codes: set[str] = set()
    for selector in selectors:
        codes |= _match_selector(selector)[0]
    return tuple(sorted(codes))


def find_config(start: Path) -> tuple[Path | None, Path | None]:
    """The nearest pyproject.toml with ``[tool.ocirace]``, and the nearest pyproject.toml.

    The second one only decides the project root when no file configures us.
    """
    nearest: Path | None = None
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / "pyproject.toml"
        if not candidate.is_file():
            continue
        if nearest is None:
            nearest = candidate
        if "ocirace" in _read_toml(candidate).get("tool", {}):
            return candidate, nearest
    return None, nearest


def _read_toml(path: Path) -> dict[str, Any]:
    # Imported here: a run without any pyproject.toml above it never pays for the parser.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python < 3.11 only
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}; fix the file or pass --config"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _string_list(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"{where}: '{key}' must be a list of strings, got {type(value).__name__} {value!r}"
        )
    return tuple(value)


def _writer_module(table: Mapping[str, Any], where: str) -> str:
    """``fix-writer-module``: a dotted module name fixes import ``publish`` from."""
    key = "fix-writer-module"
    if key not in table:
        return DEFAULT_WRITER_MODULE
    value = table[key]
    parts = value.split(".") if isinstance(value, str) else []
    if not parts or not all(part.isidentifier() and not _is_keyword(part) for part in parts):
        raise ConfigError(
            f"{where}: '{key}' must be a dotted module name such as "
            f'"myproject._vendor.ocirace_writer", got {value!r}'
        )
    return str(value)


def parse_depth(value: object, where: str) -> int:
    """``interprocedural-depth`` / ``--interprocedural-depth``: 0 (this function only) to 10."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DEPTH:
        raise ConfigError(
            f"{where}: 'interprocedural-depth' must be an integer from 0 to {MAX_DEPTH} "
            f"(how many callers up a guard is looked for), got {value!r}"
        )
    return value


def _is_keyword(word: str) -> bool:
    import keyword

    return keyword.iskeyword(word)


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """Find and validate the settings that apply to files under ``start``.

    ``explicit`` (``--config``) names the file directly: a pyproject.toml or any TOML file
    with a ``[tool.ocirace]`` table; its directory becomes the project root.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"--config {explicit}: no such file; pass a pyproject.toml")
        source: Path | None = explicit.resolve()
        nearest: Path | None = source
    else:
        source, nearest = find_config(start.resolve())
    if source is None:
        root = nearest.parent if nearest is not None else Path.cwd()
        lint = LintSettings(
            first_party=first_party_modules(root), line_length=import_line_length(root)
        )
        return Config(root=root, lint=lint)
    table = _read_toml(source).get("tool", {}).get("ocirace", {})
    return parse_table(table, source)


def parse_table(table: Any, source: Path) -> Config:
    """Validate one ``[tool.ocirace]`` table (split out so tests need no file)."""
    where = f"[tool.ocirace] in {source}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    for key in table:
        if key not in _VALID_KEYS:
            raise ConfigError(
                f"unknown key {key!r} in {where}; valid keys: {', '.join(_VALID_KEYS)}"
            )
    lists = {key: _string_list(table, key, where) for key in _LIST_KEYS}
    select = lists["select"]
    per_file: list[tuple[str, tuple[str, ...]]] = []
    raw_per_file = table.get("per-file-ignores", {})
    if not isinstance(raw_per_file, dict):
        raise ConfigError(f"{where}: 'per-file-ignores' must be a table of glob = [codes]")
    for pattern, codes in raw_per_file.items():
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ConfigError(
                f"{where}: per-file-ignores[{pattern!r}] must be a list of rule codes"
            )
        selectors = parse_selectors(codes, f"per-file-ignores[{pattern!r}] of {where}")
        per_file.append((pattern, _codes_for(selectors)))
    exclude = lists["exclude"]
    return Config(
        root=source.parent,
        source=source,
        select=None if select is None else parse_selectors(select, f"'select' of {where}"),
        ignore=parse_selectors(lists["ignore"] or (), f"'ignore' of {where}"),
        extend_select=parse_selectors(lists["extend-select"] or (), f"'extend-select' of {where}"),
        per_file_ignores=tuple(per_file),
        exclude=DEFAULT_EXCLUDE if exclude is None else exclude,
        extend_exclude=lists["extend-exclude"] or (),
        lint=LintSettings(
            extra_lock_names=lists["extra-lock-names"] or (),
            extra_guard_functions=lists["extra-guard-functions"] or (),
            fix_writer_module=_writer_module(table, where),
            first_party=first_party_modules(source.parent),
            line_length=import_line_length(source.parent),
            interprocedural_depth=parse_depth(
                table.get("interprocedural-depth", DEFAULT_DEPTH), where
            ),
        ),
    )
