import pytest

from pytest_ocirace.winrules.decisions import ABSENT, NameState, verdict

FILE = NameState(exists=True)
OPEN = NameState(exists=True, open_handles=1)
SHARED = NameState(exists=True, shared_handles=1)


@pytest.mark.parametrize(
    ("kind", "target", "source", "expected"),
    [
        ("rename", ABSENT, FILE, None),
        ("rename", FILE, FILE, 183),  # Linux overwrites; Windows refuses
        ("replace", FILE, FILE, None),
        ("replace", OPEN, FILE, 5),
        ("replace", SHARED, FILE, None),  # O_TEMPORARY shares DELETE
        ("replace", NameState(exists=True, read_only=True), FILE, 5),
        ("replace", NameState(exists=True, is_dir=True), FILE, 5),
        ("replace", NameState(delete_pending=True), FILE, 5),
        ("replace", ABSENT, OPEN, 32),  # moving an open file away
        ("replace", FILE, NameState(exists=True, shared_handles=1), None),
        ("replace", NameState(rename_in_flight=True), FILE, 5),
        ("link", FILE, FILE, 183),
        ("link", ABSENT, FILE, None),
    ],
)
def test_renames(kind: str, target: NameState, source: NameState, expected: int | None) -> None:
    assert verdict(kind, target, source) == expected


@pytest.mark.parametrize(
    ("kind", "target", "expected"),
    [
        ("remove", ABSENT, None),  # the host raises FileNotFoundError itself
        ("remove", FILE, None),
        ("remove", OPEN, 32),
        ("remove", SHARED, None),
        ("remove", NameState(exists=True, read_only=True), 5),
        ("remove", NameState(exists=True, is_dir=True), 5),
        ("rmdir", NameState(exists=True, is_dir=True, has_entries=True), 145),
        ("rmdir", NameState(exists=True, is_dir=True), None),
        ("open", FILE, None),
        ("open", OPEN, None),  # CPython shares read and write
        ("open", NameState(exists=True, delete_pending=True), 5),
    ],
)
def test_names(kind: str, target: NameState, expected: int | None) -> None:
    assert verdict(kind, target) == expected
