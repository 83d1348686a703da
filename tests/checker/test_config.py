from __future__ import annotations

from pathlib import Path

import pytest

from ocirace_checker.codes import RULES
from ocirace_checker.config import (
    DEFAULT_EXCLUDE,
    ConfigError,
    find_config,
    load_config,
    parse_selectors,
    parse_table,
    select_rules,
)
from ocirace_checker.model import LintSettings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_no_pyproject_means_defaults_rooted_at_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(tmp_path)
    assert config.source is None
    assert config.root == tmp_path
    assert config.exclude == DEFAULT_EXCLUDE
    assert select_rules(config) == frozenset(RULES)


def test_every_key_is_read(tmp_path: Path):
    source = write(
        tmp_path / "pyproject.toml",
        """
[tool.ocirace]
select = ["ORC00"]
ignore = ["ORC002"]
extend-select = ["ORC007"]
exclude = ["vendored"]
extend-exclude = ["generated/*.py"]
extra-lock-names = ["gate"]
extra-guard-functions = ["myproj.io.publish_once"]
fix-writer-module = "myproj._vendor.ocirace_writer"

[tool.ocirace.per-file-ignores]
"tests/**" = ["ORC001", "shared-temp-name"]
""",
    )
    config = load_config(tmp_path / "src")
    assert config.source == source.resolve()
    assert config.root == tmp_path.resolve()
    assert config.exclude == ("vendored",)
    assert config.all_excludes == ("vendored", "generated/*.py")
    assert config.per_file_ignores == (("tests/**", ("ORC001", "ORC002")),)
    assert config.lint == LintSettings(
        extra_lock_names=("gate",),
        extra_guard_functions=("myproj.io.publish_once",),
        fix_writer_module="myproj._vendor.ocirace_writer",
    )
    assert "ORC002" not in select_rules(config)
    assert "ORC001" in select_rules(config)


def test_nearest_configured_pyproject_wins_and_unconfigured_ones_are_skipped(tmp_path: Path):
    write(tmp_path / "pyproject.toml", '[tool.ocirace]\nignore = ["ORC007"]\n')
    write(tmp_path / "pkg" / "pyproject.toml", '[project]\nname = "pkg"\n')
    configured, nearest = find_config(tmp_path / "pkg" / "mod")
    assert configured == tmp_path / "pyproject.toml"
    assert nearest == tmp_path / "pkg" / "pyproject.toml"
    assert load_config(tmp_path / "pkg").root == tmp_path.resolve()

    write(tmp_path / "pkg" / "pyproject.toml", '[tool.ocirace]\nignore = ["ORC001"]\n')
    inner = load_config(tmp_path / "pkg")
    assert inner.ignore == ("ORC001",)


def test_unconfigured_pyproject_still_sets_the_root(tmp_path: Path):
    write(tmp_path / "proj" / "pyproject.toml", '[project]\nname = "x"\n')
    config = load_config(tmp_path / "proj" / "src")
    assert config.source is None
    assert config.root == (tmp_path / "proj").resolve()


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('selct = ["ORC001"]', "unknown key 'selct'"),
        ('select = ["ORC999"]', "unknown rule code 'ORC999'"),
        ('ignore = ["E501"]', "unknown rule code 'E501'"),
        ('select = "ORC001"', "'select' must be a list of strings"),
        ("exclude = [1]", "'exclude' must be a list of strings"),
        ('per-file-ignores = ["x"]', "'per-file-ignores' must be a table"),
        ('[tool.ocirace.per-file-ignores]\n"a.py" = ["ORC01x"]', "unknown rule code 'ORC01x'"),
        ('fix-writer-module = "my-project.writer"', "'fix-writer-module' must be a dotted"),
        ('fix-writer-module = "pkg..writer"', "'fix-writer-module' must be a dotted"),
        ('fix-writer-module = "pkg.class"', "'fix-writer-module' must be a dotted"),
        ('fix-writer-module = ""', "'fix-writer-module' must be a dotted"),
        ("fix-writer-module = 3", "got 3"),
    ],
)
def test_mistakes_are_one_line_errors_naming_the_problem(tmp_path: Path, table: str, expected: str):
    write(tmp_path / "pyproject.toml", f"[tool.ocirace]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert str(tmp_path) in message


def test_unknown_key_lists_the_valid_ones(tmp_path: Path):
    write(tmp_path / "pyproject.toml", "[tool.ocirace]\nlock-names = []\n")
    with pytest.raises(ConfigError, match="valid keys: select, ignore, extend-select"):
        load_config(tmp_path)


def test_invalid_toml_is_a_config_error(tmp_path: Path):
    write(tmp_path / "pyproject.toml", "[tool.ocirace\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(tmp_path)


def test_explicit_config_file(tmp_path: Path):
    other = write(tmp_path / "elsewhere" / "ci.toml", '[tool.ocirace]\nselect = ["ORC003"]\n')
    config = load_config(tmp_path, explicit=other)
    assert config.root == other.parent.resolve()
    assert select_rules(config) == {"ORC000", "ORC003"}
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path, explicit=tmp_path / "missing.toml")


def test_selectors_accept_codes_prefixes_names_and_all():
    assert parse_selectors(["ORC001, orc002", "ALL", "digest-in-file-name", "ORC"], "x") == (
        "ORC001",
        "orc002",
        "ALL",
        "digest-in-file-name",
        "ORC",
    )
    with pytest.raises(ConfigError, match="unknown rule code 'ORC1' in --select"):
        parse_selectors(["ORC1"], "--select")


def test_more_specific_selector_wins_and_ignore_wins_ties(tmp_path: Path):
    config = load_config(tmp_path)
    assert select_rules(config, select=["ORC001"], ignore=["ORC"]) == {"ORC000", "ORC001"}
    assert select_rules(config, select=["ORC00"], ignore=["ORC001"]) == set(RULES) - {"ORC001"}
    assert select_rules(config, select=["ORC001"], ignore=["ORC001"]) == {"ORC000"}


def test_command_line_select_starts_over_but_ignore_adds(tmp_path: Path):
    write(tmp_path / "pyproject.toml", '[tool.ocirace]\nignore = ["ORC002"]\n')
    config = load_config(tmp_path)
    assert "ORC002" not in select_rules(config)
    assert "ORC003" not in select_rules(config, ignore=["ORC003"])
    assert "ORC007" in select_rules(config, ignore=["ORC003"], extend_select=["ORC007"])
    # A command-line --select replaces the file's whole selection, its ignores included.
    assert select_rules(config, select=["ORC002"]) == {"ORC000", "ORC002"}


def test_orc000_stays_on_unless_ignored_by_exact_code(tmp_path: Path):
    config = load_config(tmp_path)
    assert "ORC000" in select_rules(config, select=["ORC007"])
    assert "ORC000" in select_rules(config, ignore=["ORC"])
    assert "ORC000" not in select_rules(config, ignore=["ORC000"])


def test_writer_module_defaults_to_the_writer_distribution(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.ocirace]\n")
    assert load_config(tmp_path).lint.fix_writer_module == "ocirace_writer"


def test_interprocedural_depth_is_validated(tmp_path: Path) -> None:
    config = parse_table({"interprocedural-depth": 1}, tmp_path / "pyproject.toml")
    assert config.lint.interprocedural_depth == 1
    assert parse_table({}, tmp_path / "pyproject.toml").lint.interprocedural_depth == 3
    for bad in (-1, 11, "2", True):
        with pytest.raises(ConfigError, match="interprocedural-depth"):
            parse_table({"interprocedural-depth": bad}, tmp_path / "pyproject.toml")
