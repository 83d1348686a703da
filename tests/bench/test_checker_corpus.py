"""The real-world corpus' pure parts: site file parsing, fingerprints, matching, naive matcher.

The real run (download, materialise, score) is manual, in bench/; these tests keep the parts
that decide the numbers from rotting silently.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

CORPUS_DIR = Path(__file__).resolve().parents[2] / "bench" / "checker_corpus"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(CORPUS_DIR))
    try:
        spec = importlib.util.spec_from_file_location(name, CORPUS_DIR / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(CORPUS_DIR))


corpus = _load("corpus_model")
materialise = _load("materialise")

SITES = """
format = 1

[[project]]
name = "demo"
version = "1.0"
source = "sdist"
packages = ["src/demo"]

[[site]]
project = "demo"
path = "src/demo/store.py"
line = 4
call = "os.replace(tmp, dst)"
label = "UNGUARDED"
causes = ["direct"]
reason = "no retry"

[[site]]
project = "demo"
path = "src/demo/store.py"
line = 6
call = "os.rename(tmp, dst)"
label = "GUARDED"
causes = ["exclusive-create"]
reason = "FileExistsError accepted"

[[site]]
project = "demo"
path = "src/demo/store.py"
line = 8
call = "shutil.move(a, b)"
label = "NOT_APPLICABLE"
causes = ["user-move"]
reason = "user's own move"

[[site]]
project = "demo"
path = "src/demo/store.py"
line = 10
call = "publish("
label = "UNGUARDED"
causes = ["alias"]
reason = "multi-line call through an alias"
"""

STORE = """import os, shutil
from os import rename as publish
def f(tmp, dst, a, b):
    os.replace(tmp, dst)
    try:
        os.rename(tmp, dst)
    except FileExistsError: pass
    shutil.move(a, b)
    "x".replace("a", "b"); dst.replace("c")
    publish(
        tmp, dst)
"""


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(SITES, encoding="utf-8")
    return path


def test_the_shipped_site_file_is_valid_and_big_enough() -> None:
    projects, sites = corpus.load_corpus(CORPUS_DIR / "sites.toml")
    assert len(sites) >= 40
    assert {s.label for s in sites} == set(corpus.LABELS)
    assert all(s.project in projects for s in sites)


def test_the_held_out_site_file_is_valid_and_disjoint_from_the_corpus() -> None:
    """The held-out set measures the checker honestly only on projects it was not tuned on."""
    projects, sites = corpus.load_corpus(CORPUS_DIR / "heldout.toml")
    tuned_on, _ = corpus.load_corpus(CORPUS_DIR / "sites.toml")
    assert len(sites) >= 20
    assert all(s.project in projects for s in sites)
    assert not {p.name for p in projects.values()} & {p.name for p in tuned_on.values()}


def test_the_second_held_out_site_file_is_valid_and_disjoint_from_both_others() -> None:
    """heldout2.toml was labelled before its session changed rules: its projects must be new."""
    projects, sites = corpus.load_corpus(CORPUS_DIR / "heldout2.toml")
    seen = {
        p.name
        for f in ("sites.toml", "heldout.toml")
        for p in corpus.load_corpus(CORPUS_DIR / f)[0].values()
    }
    assert len(sites) >= 20
    assert {s.label for s in sites} == set(corpus.LABELS)
    assert all(s.project in projects for s in sites)
    assert not {p.name for p in projects.values()} & seen


def test_the_third_held_out_site_file_is_valid_and_disjoint_from_the_others() -> None:
    """heldout3.toml was labelled and scored before its session changed rules: new projects only."""
    projects, sites = corpus.load_corpus(CORPUS_DIR / "heldout3.toml")
    seen = {
        p.name.lower()
        for f in ("sites.toml", "heldout.toml", "heldout2.toml")
        for p in corpus.load_corpus(CORPUS_DIR / f)[0].values()
    }
    assert 15 <= len(sites) <= 25
    assert {s.label for s in sites} == set(corpus.LABELS)
    assert all(s.project in projects for s in sites)
    assert not {p.name.lower() for p in projects.values()} & seen


def test_the_fourth_held_out_site_file_is_valid_and_disjoint_from_the_others() -> None:
    """heldout4.toml measures the rules of the session that added it: new projects only."""
    projects, sites = corpus.load_corpus(CORPUS_DIR / "heldout4.toml")
    seen = {
        p.name.lower()
        for f in ("sites.toml", "heldout.toml", "heldout2.toml", "heldout3.toml")
        for p in corpus.load_corpus(CORPUS_DIR / f)[0].values()
    }
    assert 15 <= len(sites) <= 25
    assert {s.label for s in sites} == set(corpus.LABELS)
    assert all(s.project in projects for s in sites)
    assert not {p.name.lower() for p in projects.values()} & seen


def test_the_fifth_held_out_site_file_is_valid_and_disjoint_from_the_others() -> None:
    """heldout5.toml was scored before its session changed rules: new projects only."""
    projects, sites = corpus.load_corpus(CORPUS_DIR / "heldout5.toml")
    seen = {
        p.name.lower()
        for f in ("sites.toml", "heldout.toml", "heldout2.toml", "heldout3.toml", "heldout4.toml")
        for p in corpus.load_corpus(CORPUS_DIR / f)[0].values()
    }
    assert 15 <= len(sites) <= 25
    assert {s.label for s in sites} == set(corpus.LABELS)
    assert all(s.project in projects for s in sites)
    assert not {p.name.lower() for p in projects.values()} & seen


def test_the_sixth_held_out_site_file_is_valid_and_disjoint_from_the_others() -> None:
    """heldout6.toml was labelled and committed before any scoring: new projects only."""
    projects, sites = corpus.load_corpus(CORPUS_DIR / "heldout6.toml")
    earlier = ("sites.toml", *(f"heldout{n}.toml" for n in ("", 2, 3, 4, 5)))
    seen = {p.name.lower() for f in earlier for p in corpus.load_corpus(CORPUS_DIR / f)[0].values()}
    assert len(sites) >= 20
    assert len({s.project for s in sites}) >= 8
    assert sum(s.label == "UNGUARDED" for s in sites) >= 8
    assert {s.label for s in sites} == set(corpus.LABELS)
    assert all(s.project in projects for s in sites)
    assert not {p.name.lower() for p in projects.values()} & seen


def test_load_corpus_parses_projects_and_sites(site_file: Path) -> None:
    projects, sites = corpus.load_corpus(site_file)
    assert projects["demo"].key == "demo-1.0"
    assert [s.line for s in sites] == [4, 6, 8, 10]
    assert sites[0].tree_path(projects) == "demo-1.0/src/demo/store.py"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('label = "GUARDED"', 'label = "SAFE"', "label 'SAFE' is not one of"),
        ('causes = ["direct"]', 'causes = ["dirct"]', "bad: ['dirct']"),
        ('reason = "no retry"', 'reason = ""', "reason must be one non-empty line"),
        ("line = 4", 'line = "4"', "'line' must be a int"),
        ('path = "src/demo/store.py"\nline = 4', 'path = "../x.py"\nline = 4', "must be relative"),
        (
            'path = "src/demo/store.py"\nline = 4',
            'path = "lib/x.py"\nline = 4',
            "outside the project",
        ),
        ("line = 6", "line = 4", "labelled twice"),
        (
            'project = "demo"\npath = "src/demo/store.py"\nline = 4',
            'project = "nope"\npath = "x"\nline = 4',
            "has no [[project]]",
        ),
        ("format = 1", "format = 2", "'format = 1' expected"),
        ('source = "sdist"', 'source = "git"', "source must be"),
    ],
)
def test_load_corpus_rejects_bad_input_in_one_line(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(SITES.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match=None) as info:
        corpus.load_corpus(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_fingerprint_detects_drift(site_file: Path) -> None:
    _, sites = corpus.load_corpus(site_file)
    assert corpus.check_fingerprint(sites[0], STORE) is None
    assert corpus.check_fingerprint(sites[0], "\n" + STORE) is not None
    problem = corpus.check_fingerprint(sites[0], "x = 1\n")
    assert problem is not None
    assert "only 1 lines" in problem


def test_score_counts_tp_fp_fn_and_unlabelled(site_file: Path) -> None:
    projects, sites = corpus.load_corpus(site_file)
    file = "demo-1.0/src/demo/store.py"
    spans = {(file, s.line): corpus.site_span(STORE, s.line) for s in sites}
    assert spans[(file, 10)] == (10, 11)
    findings = [
        corpus.Finding(file, 4, "ORC001"),
        corpus.Finding(file, 4, "ORC003"),  # a second code at one site counts once
        corpus.Finding(file, 6, "ORC003"),
        corpus.Finding(file, 11, "ORC001"),  # inside the multi-line call of line 10
        corpus.Finding(file, 9, "ORC001"),
        corpus.Finding("other/x.py", 4, "ORC001"),
    ]
    result = corpus.score("tool", sites, projects, findings, spans)
    assert [s.line for s in result.tp] == [4, 10]
    assert [(s.line, f.code) for s, f in result.fp] == [(6, "ORC003")]
    assert result.fn == []
    assert [s.line for s in result.tn] == [8]
    assert [(f.path, f.line) for f in result.unlabelled] == [
        ("demo-1.0/src/demo/store.py", 9),
        ("other/x.py", 4),
    ]
    assert result.recall == 1.0
    assert result.precision == pytest.approx(2 / 3)

    missed = corpus.score("tool", sites, projects, [], spans)
    assert [s.line for s in missed.fn] == [4, 10]
    assert missed.recall == 0.0
    assert missed.precision == 0.0


def test_naive_matcher_finds_rename_like_calls_only() -> None:
    lines = [f.line for f in corpus.naive_findings("x.py", STORE)]
    # os.replace, os.rename, shutil.move, dst.replace("c") (one argument), publish (alias)
    assert sorted(lines) == [4, 6, 8, 9, 10]
    assert list(corpus.naive_findings("x.py", "def (:\n")) == []


def test_materialise_unpacks_checks_and_lays_out(tmp_path: Path, site_file: Path) -> None:
    source = tmp_path / "demo-1.0"
    (source / "src" / "demo").mkdir(parents=True)
    (source / "src" / "demo" / "store.py").write_text(STORE, encoding="utf-8")
    (source / "src" / "demo" / "data.txt").write_text("not python", encoding="utf-8")
    (source / "src" / "demo" / "_vendor").mkdir()
    (source / "src" / "demo" / "_vendor" / "big.py").write_text("x = 1\n", encoding="utf-8")
    archives = tmp_path / "cache" / "archives"
    archives.mkdir(parents=True)
    with tarfile.open(archives / "demo-1.0.tar.gz", "w:gz") as tar:
        tar.add(source, arcname="demo-1.0")
    site_file.write_text(
        SITES.replace(
            'packages = ["src/demo"]', 'packages = ["src/demo"]\nexclude = ["src/demo/_vendor"]'
        ),
        encoding="utf-8",
    )
    projects, sites = corpus.load_corpus(site_file)
    out = tmp_path / "tree"
    assert materialise.materialise(projects, sites, tmp_path / "cache", out) == []
    assert (out / "demo-1.0" / "src" / "demo" / "store.py").read_text(encoding="utf-8") == STORE
    assert not (out / "demo-1.0" / "src" / "demo" / "data.txt").exists()
    assert not (out / "demo-1.0" / "src" / "demo" / "_vendor").exists()

    drifted = [corpus.Site(**{**sites[0].__dict__, "line": 5})]
    problems = materialise.materialise(projects, drifted, tmp_path / "cache", out)
    assert len(problems) == 1
    assert "drifted" in problems[0]


def test_materialise_cli_reports_a_bad_site_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "sites.toml"
    bad.write_text("format = 1\n[[site]]\nproject = 'x'\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(CORPUS_DIR / "materialise.py"), "--sites", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "materialise: error:" in done.stderr


FAKE_OCIRACE = """import json, sys
assert sys.argv[1:5] == ["check", "--format", "json", "--no-cache"], sys.argv
related = [{"path": "demo-1.0/src/demo/store.py", "line": 3, "message": "temp made here"}]
print(json.dumps([
    {"path": "demo-1.0/src/demo/store.py", "line": 4, "column": 5, "code": "ORC001",
     "message": "m", "related": related, "why": "no guard"},
    {"path": "demo-1.0/src/demo/store.py", "line": 8, "column": 5, "code": "ORC004",
     "message": "m", "related": []},
]))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="the scorer runs ruff (dev extra)"
)
def test_score_end_to_end_with_a_checker_whose_json_grew(
    tmp_path: Path, site_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    score = _load("score")
    tree = tmp_path / "tree"
    (tree / "demo-1.0" / "src" / "demo").mkdir(parents=True)
    (tree / "demo-1.0" / "src" / "demo" / "store.py").write_text(STORE, encoding="utf-8")
    fake = tmp_path / "fake_ocirace.py"
    fake.write_text(FAKE_OCIRACE, encoding="utf-8")
    command = f'"{sys.executable}" "{fake}"'
    argv = ["--sites", str(site_file), "--tree", str(tree), "--ocirace", command, "--json"]
    assert score.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    tools = {t["tool"]: t for t in report["tools"]}
    assert (tools["ocirace"]["tp"], tools["ocirace"]["fp"], tools["ocirace"]["fn"]) == (1, 1, 1)
    assert [m["line"] for m in tools["ocirace"]["misses"]] == [10]
    assert tools["naive"]["tp"] == 2
    assert report["labels"] == {"UNGUARDED": 2, "GUARDED": 1, "NOT_APPLICABLE": 1}


def test_score_reports_a_drifted_tree_in_one_line(
    tmp_path: Path, site_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    score = _load("score")
    tree = tmp_path / "tree"
    (tree / "demo-1.0" / "src" / "demo").mkdir(parents=True)
    (tree / "demo-1.0" / "src" / "demo" / "store.py").write_text("\n" + STORE, encoding="utf-8")
    assert score.main(["--sites", str(site_file), "--tree", str(tree)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "run bench/checker_corpus/materialise.py" in err
