from __future__ import annotations

from pytest_ocirace.fakefs.handles import Handle, HandleTable


def _handle(table: HandleTable, fd: int, file: object, **kwargs: bool) -> Handle:
    handle = Handle(table.new_id(), fd, file, "k", "d", frozenset({"read"}), **kwargs)
    table.add(handle)
    return handle


def test_python_handles_block_delete_until_closed() -> None:
    table, file = HandleTable(), object()
    handle = _handle(table, 3, file)
    assert table.blocking_delete(file) is handle
    table.remove(3)
    assert table.blocking_delete(file) is None
    assert table.on(file) == []


def test_delete_sharing_handle_does_not_block() -> None:
    table, file = HandleTable(), object()
    _handle(table, 3, file, share_delete=True)
    assert table.blocking_delete(file) is None


def test_counts_tell_sharing_and_delete_access_apart() -> None:
    # What the decision table reads: plain handles, DELETE-sharing ones, DELETE access.
    table, file = HandleTable(), object()
    assert table.counts(file) == (0, 0, 0)
    temporary = Handle(table.new_id(), 4, file, "k", "d", frozenset({"delete"}), True, True)
    table.add(temporary)
    assert table.counts(file) == (0, 1, 1)
    _handle(table, 5, file)
    assert table.counts(file) == (1, 1, 1)
    table.remove(4)
    assert table.counts(file) == (1, 0, 0)


def test_ids_are_not_reused() -> None:
    table = HandleTable()
    assert table.new_id() != table.new_id()
