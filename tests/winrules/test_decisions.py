"""The one decision table, row by row, and the order its checks are made in."""

import pytest

from pytest_ocirace.winrules.decisions import (
    ABSENT,
    KINDS,
    NameState,
    Request,
    name_lingers,
    verdict,
)
from pytest_ocirace.winrules.options import SimulationOptions

FILE = NameState(exists=True)
OPEN = NameState(exists=True, open_handles=1)
#: Held with O_TEMPORARY: DELETE access, shares DELETE.
SHARED = NameState(exists=True, shared_handles=1, delete_handles=1)
PENDING = NameState(exists=True, shared_handles=1, delete_handles=1, delete_pending=True)
READ_ONLY = NameState(exists=True, read_only=True)
DIRECTORY = NameState(exists=True, is_dir=True)
NO_PARENT = NameState(parent_missing=True)


@pytest.mark.parametrize(
    ("kind", "target", "source", "expected"),
    [
        ("rename", ABSENT, FILE, None),  # row 1
        ("rename", FILE, FILE, 183),  # row 2: Linux overwrites; Windows refuses
        ("rename", OPEN, FILE, 183),
        ("replace", FILE, FILE, None),  # row 3
        ("replace", OPEN, FILE, 5),  # row 4
        ("replace", SHARED, FILE, 5),  # row 4: any handle, even one sharing DELETE
        ("replace", ABSENT, OPEN, 32),  # row 7: moving an open file away
        ("replace", FILE, SHARED, None),  # row 8: O_TEMPORARY shares DELETE
        ("rename", DIRECTORY, FILE, 183),  # row 9
        ("replace", DIRECTORY, FILE, 5),  # row 10
        ("replace", FILE, DIRECTORY, 5),  # row 11 (option directory_onto_file=deny)
        ("replace", READ_ONLY, FILE, 5),  # row 12
        ("replace", PENDING, FILE, 5),  # row 13
        ("rename", PENDING, FILE, 183),  # the name lingers: it exists
        ("replace", ABSENT, PENDING, 5),
        ("replace", NameState(rename_in_flight=True), FILE, 5),  # row 6 (process mode)
        ("link", FILE, FILE, 183),  # row 18
        ("link", ABSENT, FILE, None),
        ("link", ABSENT, DIRECTORY, 5),
    ],
)
def test_renames_and_links(
    kind: str, target: NameState, source: NameState, expected: int | None
) -> None:
    assert verdict(kind, target, source) == expected


@pytest.mark.parametrize(
    ("kind", "target", "expected"),
    [
        ("remove", ABSENT, 2),
        ("remove", NO_PARENT, 3),
        ("remove", FILE, None),
        ("remove", OPEN, 32),  # row 19
        ("remove", SHARED, None),  # row 20: allowed, the name may linger
        ("remove", PENDING, 5),  # deleting it again
        ("remove", READ_ONLY, 5),
        ("remove", DIRECTORY, 5),
        ("rmdir", NameState(exists=True, is_dir=True, has_entries=True), 145),
        ("rmdir", DIRECTORY, None),
        ("rmdir", ABSENT, None),  # the host says which: not found, or path not found
        ("rmdir", FILE, None),  # the host: ERROR_DIRECTORY
        ("mkdir", ABSENT, None),  # existence is the host's (EEXIST -> 183)
        ("open", ABSENT, None),
        ("open", FILE, None),
        ("open", OPEN, None),  # CPython shares read and write
        ("open", PENDING, 5),  # row 13 for opens
        ("open", DIRECTORY, 5),
        ("open", SHARED, 32),  # N7: NamedTemporaryFile cannot be reopened by name
    ],
)
def test_names(kind: str, target: NameState, expected: int | None) -> None:
    assert verdict(kind, target) == expected


@pytest.mark.parametrize(
    ("request_", "target", "expected"),
    [
        (Request("open", exclusive=True), FILE, 80),  # row 17 (errno 17 from the CRT)
        (Request("open", exclusive=True), ABSENT, None),
        # A pending delete is found before the disposition is looked at: 5, the CRT's
        # EACCES (filelock's SoftFileLock on win32 expects it), not 80.
        (Request("open", exclusive=True), PENDING, 5),
        (Request("open", writing=True), READ_ONLY, 5),
        (Request("open"), READ_ONLY, None),
        (Request("open", temporary=True), OPEN, 32),  # asks DELETE, a handle does not share
        (Request("open", temporary=True), SHARED, None),
        (Request("open", too_long=True), FILE, 206),  # CRT: ENOENT
        (Request("open", invalid_name=True), ABSENT, 123),  # CRT: EINVAL
        (Request("mkdir", too_long=True), ABSENT, 206),
        (Request("mkdir", invalid_name=True), ABSENT, 123),
        (Request("remove", too_long=True), OPEN, 206),
    ],
)
def test_how_the_operation_was_asked(
    request_: Request, target: NameState, expected: int | None
) -> None:
    assert verdict(request_, target) == expected


@pytest.mark.parametrize(
    ("request_", "target", "source", "expected"),
    [
        # Each check wins over every later one (the table's order, as on Windows).
        (Request("rename", too_long=True), FILE, ABSENT, 206),
        (Request("rename", invalid_name=True), FILE, ABSENT, 2),  # missing source first
        (Request("rename"), FILE, NO_PARENT, 3),
        (Request("rename", invalid_name=True), FILE, OPEN, 123),  # row 15, N2, N3
        (Request("replace", other_volume=True), OPEN, PENDING, 5),
        (Request("replace", other_volume=True), OPEN, OPEN, 32),
        (Request("rename", other_volume=True), FILE, FILE, 17),  # row 14
        (Request("rename", same_file=True), FILE, FILE, None),  # a case-only rename
        (Request("link", invalid_name=True), FILE, FILE, 123),
        (Request("link", other_volume=True), FILE, FILE, 183),
        (Request("link", other_volume=True), ABSENT, FILE, 17),
    ],
)
def test_order_of_the_checks(
    request_: Request, target: NameState, source: NameState, expected: int | None
) -> None:
    assert verdict(request_, target, source) == expected


def test_unverified_rows_are_options() -> None:
    replace = SimulationOptions(directory_onto_file="replace")
    assert verdict("replace", FILE, DIRECTORY, replace) is None
    assert verdict("replace", FILE, DIRECTORY) == 5


def test_a_delete_lingers_only_under_classic_semantics_with_a_handle_open() -> None:
    posix = SimulationOptions(delete_semantics="posix")
    assert name_lingers(SHARED)
    assert not name_lingers(FILE)
    assert not name_lingers(SHARED, posix)


def test_every_kind_has_an_answer_for_an_absent_name() -> None:
    for kind in KINDS:
        assert verdict(kind, ABSENT, FILE) in (None, 2)
