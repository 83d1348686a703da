from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ocirace_checker.codes import RULES
from ocirace_checker.model import Edit, Finding, Fix, Related
from ocirace_checker.output import FORMATS, Report, display_path, render, render_statistics

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

ROOT = Path("/proj").resolve()
SAFE = Fix("Use os.replace", "safe", (Edit(3, 4, 3, 13, "os.replace"),))
UNSAFE = Fix("Publish with write_blob", "unsafe", (Edit(3, 4, 3, 23, "publish(tmp, dst)"),))


def reports() -> list[Report]:
    return [
        Report(
            ROOT / "pkg" / "store.py",
            Finding(
                "ORC003",
                "os.rename onto a target that may exist",
                3,
                4,
                3,
                13,
                "use os.replace",
                SAFE,
            ),
            "    os.rename(tmp, dst)",
        ),
        Report(
            ROOT / "pkg" / "store.py",
            Finding(
                "ORC001",
                'unguarded rename, says "who", 100%',
                7,
                7,
                9,
                5,
                "",
                UNSAFE,
                (Related(5, 4, 5, 18, "dst is removed here"),),
                ("not guarded: except OSError at 9 re-raises",),
            ),
            "\tif x: os.replace(tmp, dst)",
        ),
        Report(ROOT / "other.py", Finding("ORC000", "cannot parse", 1, 0, 1, 0), "def ("),
    ]


def test_text_is_ruff_like_with_line_caret_and_hint():
    text = render("text", reports(), cwd=ROOT, root=ROOT, version="0")
    first = text.split("\n\n")[0].splitlines()
    assert first == [
        "pkg/store.py:3:5: ORC003 [*] os.rename onto a target that may exist",
        "  |",
        "3 |     os.rename(tmp, dst)",
        "  |     ^^^^^^^^^ ORC003",
        "  |",
        "  = help: use os.replace",
    ]
    # Tabs are expanded consistently in the line and under it; a multi-line span runs to the end.
    second = text.split("\n\n")[1].splitlines()
    assert second[2] == "7 |     if x: os.replace(tmp, dst)"
    assert second[3] == "  |           " + "^" * 20 + " ORC001"
    # An unsafe fix is not advertised with [*]; related locations follow the snippet.
    assert "[*]" not in second[0]
    assert second[-1] == "  = related: pkg/store.py:5:5: dst is removed here"


def test_concise_is_one_line_each():
    text = render("concise", reports(), cwd=ROOT, root=ROOT, version="0")
    assert text.splitlines() == [
        "pkg/store.py:3:5: ORC003 [*] os.rename onto a target that may exist",
        'pkg/store.py:7:8: ORC001 unguarded rename, says "who", 100%',
        "other.py:1:1: ORC000 cannot parse",
    ]


def test_paths_outside_the_working_directory_are_absolute(tmp_path: Path):
    assert display_path(ROOT / "a.py", tmp_path) == str(ROOT / "a.py")
    assert display_path(ROOT / "a" / "b.py", ROOT) == "a/b.py"


def test_json_has_the_documented_fields_with_one_based_columns():
    records = json.loads(render("json", reports(), cwd=ROOT, root=ROOT, version="0"))
    assert records[0] == {
        "path": "pkg/store.py",
        "line": 3,
        "column": 5,
        "end_line": 3,
        "end_column": 14,
        "code": "ORC003",
        "name": "rename-onto-existing",
        "message": "os.rename onto a target that may exist",
        "hint": "use os.replace",
        "url": RULES["ORC003"].help_url,
        "related": [],
        "why": [],
        "fix": {
            "message": "Use os.replace",
            "applicability": "safe",
            "edits": [
                {"line": 3, "column": 5, "end_line": 3, "end_column": 14, "content": "os.replace"}
            ],
        },
    }
    assert records[2]["fix"] is None
    assert json.loads(render("json", [], cwd=ROOT, root=ROOT, version="0")) == []


def test_github_annotations_escape_data_and_properties(tmp_path: Path):
    weird = Report(
        tmp_path / "a,b:c.py",
        Finding("ORC001", "50% of\nwriters", 2, 0, 2, 3, "hint"),
        "x",
    )
    lines = render("github", [*reports(), weird], cwd=tmp_path, root=tmp_path, version="0")
    first, *_, last = lines.splitlines()
    assert first.startswith(
        "::error file="
        + str(ROOT / "pkg" / "store.py").replace(":", "%3A").replace(",", "%2C")
        + ",line=3,col=5,endLine=3,endColumn=14,title=ORC003::"
    )
    assert last == (
        "::error file=a%2Cb%3Ac.py,line=2,col=1,endLine=2,endColumn=4,title=ORC001::"
        "a,b:c.py:2:1: ORC001 50%25 of%0Awriters%0Ahint"
    )


def sarif(items: list[Report], root: Path = ROOT) -> dict:
    return json.loads(render("sarif", items, cwd=root, root=root, version="1.2.3"))


def test_json_has_related_locations_and_why():
    records = json.loads(render("json", reports(), cwd=ROOT, root=ROOT, version="0"))
    assert records[1]["related"] == [
        {
            "path": "pkg/store.py",
            "line": 5,
            "column": 5,
            "end_line": 5,
            "end_column": 19,
            "message": "dst is removed here",
        }
    ]
    assert records[1]["why"] == ["not guarded: except OSError at 9 re-raises"]


def test_sarif_has_related_locations():
    result = sarif(reports())["runs"][0]["results"][1]
    (related,) = result["relatedLocations"]
    assert related["message"]["text"] == "dst is removed here"
    assert related["physicalLocation"]["region"]["startLine"] == 5


def test_sarif_validates_against_the_2_1_0_schema():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    validator.validate(sarif(reports()))
    validator.validate(sarif([]))
    # The schema is not vacuous: a result without a message is rejected.
    broken = sarif(reports())
    del broken["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_sarif_has_what_github_code_scanning_needs():
    log = sarif(reports())
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ocirace"
    assert driver["semanticVersion"] == "1.2.3"
    assert [rule["id"] for rule in driver["rules"]] == list(RULES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["helpUri"] == RULES[rule["id"]].help_url
        assert "security-severity" not in rule["properties"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.as_uri() + "/"
    first = run["results"][0]
    assert driver["rules"][first["ruleIndex"]]["id"] == first["ruleId"] == "ORC003"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "pkg/store.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 14}
    assert first["level"] == "error"
    assert run["results"][2]["level"] == "warning"  # ORC000: not checked, not a race


def test_sarif_fingerprints_are_stable_and_distinct():
    same_line_twice = [reports()[0], reports()[0]]
    prints = [
        r["partialFingerprints"]["primaryLocationLineHash"]
        for r in sarif(same_line_twice)["runs"][0]["results"]
    ]
    assert prints[0] != prints[1]
    assert prints[0].split(":")[0] == prints[1].split(":")[0]
    # Moving the finding to another line (code above it changed) keeps the fingerprint.
    moved = Report(reports()[0].path, Finding("ORC003", "m", 30, 4, 30, 13), reports()[0].line_text)
    moved_print = sarif([moved])["runs"][0]["results"][0]["partialFingerprints"]
    assert moved_print["primaryLocationLineHash"] == prints[0]


def test_sarif_uses_file_uris_outside_the_root(tmp_path: Path):
    outside = Report(tmp_path / "x.py", Finding("ORC007", "m", 1, 0, 1, 1), "x")
    location = sarif([outside], root=ROOT)["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": (tmp_path / "x.py").as_uri()}


def test_statistics_count_per_rule_most_frequent_first():
    items = [*reports(), reports()[1]]
    assert render_statistics("text", items).splitlines() == [
        "2\tORC001\tunguarded-rename-race",
        "1\tORC000\tsyntax-error",
        "1\tORC003\t[*] rename-onto-existing",
    ]
    assert json.loads(render_statistics("json", items))[0] == {
        "code": "ORC001",
        "name": "unguarded-rename-race",
        "count": 2,
        "fixable": False,
    }


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("text", ""), ("concise", ""), ("github", ""), ("json", "[]\n")],
)
def test_an_empty_report_is_empty(fmt: str, expected: str):
    assert fmt in FORMATS
    assert render(fmt, [], cwd=ROOT, root=ROOT, version="0") == expected
    assert sarif([])["runs"][0]["results"] == []
