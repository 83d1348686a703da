import json
import socket
import struct

import pytest

from pytest_ocirace.realdisk.protocol import (
    MAX_FRAME,
    FrameReader,
    ProtocolError,
    authenticate,
    encode,
    read_frame,
    validate,
)

OP = {
    "kind": "replace",
    "path": "/a",
    "path2": "/b",
    "fd": None,
    "access": [],
    "creates": False,
    "exclusive": False,
}
BEFORE = {"type": "before", "tid": 1, "tname": "MainThread", "op": OP, "frames": [["f", 1, "g"]]}


def pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def test_a_frame_round_trips() -> None:
    left, right = pair()
    with left, right:
        left.sendall(encode(BEFORE))
        assert read_frame(right) == BEFORE
        left.close()
        assert read_frame(right) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (struct.pack(">I", MAX_FRAME + 1), "over the"),
        (struct.pack(">I", 3) + b"{{{", "not JSON"),
        (struct.pack(">I", 2) + b"[]", "not an object"),
        (struct.pack(">I", 10) + b"{}", "inside a frame"),
        (struct.pack(">I", 6) + "{}".encode("utf-16"), "not JSON"),
        (struct.pack(">I", 4) + b"{}{}", "extra data"),
    ],
)
def test_bad_frames_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    _refused_by_both_readers(raw, reason)


def _refused_by_both_readers(raw: bytes, reason: str) -> None:
    """``raw``, sent and the line shut, is refused with ``reason`` by each way of reading."""
    for read in (read_frame, lambda sock: FrameReader(sock).next()):
        left, right = pair()
        with left, right:
            left.sendall(raw)
            left.shutdown(socket.SHUT_WR)
            with pytest.raises(ProtocolError, match=reason):
                read(right)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "nope"}, "unknown message type"),
        ({**BEFORE, "tid": "1"}, "field 'tid' is a str"),
        ({**BEFORE, "tid": True}, "must not be a boolean"),
        ({k: v for k, v in BEFORE.items() if k != "op"}, "lacks the field 'op'"),
        ({**BEFORE, "op": {**OP, "kind": "format-disk"}}, "unknown operation kind"),
        ({**BEFORE, "op": {**OP, "access": [1]}}, "list of strings"),
        ({**BEFORE, "frames": [["f", "1", "g"]]}, "triples"),
        ({**BEFORE, "n": "7"}, "field 'n' is a str"),
        ({"type": "done", "n": 7, "ok": True}, "lacks the field 'fd'"),
        ({"type": "done", "n": 7, "ok": 1, "fd": None}, "field 'ok' is a int"),
        ({"type": "closed", "tid": 1, "tname": "T", "fd": None}, "field 'fd' is a NoneType"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(message: dict[str, object], reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        validate(message)


@pytest.mark.parametrize(
    "message",
    [
        BEFORE,
        {**BEFORE, "op": {**OP, "handle": 3}},
        {**BEFORE, "op": {**OP, "handle": None}},
        {**BEFORE, "frames": [["f", True, "g"]]},  # a bool is an int to the full check
        {**BEFORE, "extra": object()},  # unknown fields are ignored
        {"type": "collect"},
        {**BEFORE, "n": 7},
        {"type": "done", "n": 7, "ok": False, "fd": None},
        {"type": "done", "n": 7, "ok": True, "fd": 3},
        {"type": "closed", "tid": 1, "tname": "T", "fd": 3},
    ],
)
def test_the_fast_check_and_the_full_check_agree_on_good_messages(
    message: dict[str, object],
) -> None:
    assert validate(message) == message["type"]


def test_the_proof_depends_on_secret_nonce_and_pid() -> None:
    proof = authenticate(b"s" * 32, b"n" * 16, 42)
    assert proof == authenticate(b"s" * 32, b"n" * 16, 42)
    assert proof != authenticate(b"t" * 32, b"n" * 16, 42)
    assert proof != authenticate(b"s" * 32, b"m" * 16, 42)
    assert proof != authenticate(b"s" * 32, b"n" * 16, 43)


@pytest.mark.parametrize("secret", [b"k" * 32, b"x" * 100, b""])
def test_the_proof_is_hmac_sha256(secret: bytes) -> None:
    import hashlib
    import hmac

    expected = hmac.new(secret, b"nonce" + b"4242", hashlib.sha256).hexdigest()
    assert authenticate(secret, b"nonce", 4242) == expected


def test_the_proof_imports_nothing() -> None:
    """A forked child authenticates in its at-fork handler: an import there can hang.

    (On a module lock another thread of the parent held at the fork: seen once, when the
    SHA-256 constructor was looked up per call.) Checked in a fresh interpreter with an
    audit hook, which sees every import and cannot be removed again.
    """
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pytest_ocirace.realdisk.protocol import authenticate\n"
        "seen = []\n"
        "sys.addaudithook(lambda event, args: event == 'import' and seen.append(args[0]))\n"
        "authenticate(b's' * 32, b'n', 1)\n"
        "print(seen)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_reader_takes_frames_written_together_or_split() -> None:
    """A participant sends its deferred messages with the next one, in one write."""
    left, right = pair()
    with left, right:
        together = encode({"n": 1}) + encode({"n": 2}) + encode({"n": 3})
        left.sendall(together[:3])  # inside the first header
        reader = FrameReader(right)
        left.sendall(together[3:20])
        left.sendall(together[20:])
        assert [reader.next() for _ in range(3)] == [{"n": 1}, {"n": 2}, {"n": 3}]
        left.close()
        assert reader.next() is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (struct.pack(">I", MAX_FRAME + 1), "over the"),
        (struct.pack(">I", 3) + b"{{{", "not JSON"),
        (struct.pack(">I", 2) + b"[]", "not an object"),
        (struct.pack(">I", 10) + b"{}", "inside a frame"),
        (b"\x00\x00", "inside a frame header"),
    ],
)
def test_a_reader_refuses_bad_frames_with_a_reason(raw: bytes, reason: str) -> None:
    left, right = pair()
    with left, right:
        left.sendall(encode({"n": 1}) + raw)
        left.shutdown(socket.SHUT_WR)
        reader = FrameReader(right)
        assert reader.next() == {"n": 1}
        with pytest.raises(ProtocolError, match=reason):
            reader.next()


@pytest.mark.parametrize(
    "message",
    [
        BEFORE,
        {"type": "after", "ok": True, "op": {**OP, "fd": 3, "handle": 12}, "frames": []},
        {"path": '/tmp/caf\u00e9/\u65e5\u672c/"quoted"\\back\n', "big": 2**70, "neg": -1},
        {"nested": [[], {}, [None, True, False]], "tuple": (1, "two")},
    ],
)
def test_a_frame_is_the_json_that_json_dumps_writes(message: dict[str, object]) -> None:
    """``encode`` calls the C encoder directly: the bytes are still ``json.dumps``'s."""
    body = json.dumps(message, separators=(",", ":")).encode()
    assert encode(message) == len(body).to_bytes(4, "big") + body


def test_what_json_cannot_encode_is_json_s_type_error() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode({"type": "before", "bad": {1, 2}})


@pytest.mark.parametrize(
    "message",
    [
        {"type": "done", "n": 1, "ok": True, "fd": 3},
        {"type": "done", "n": 2**63 - 1, "ok": False, "fd": None},
        {"type": "done", "n": 0, "ok": True, "fd": 0},
        {"type": "closed", "fd": 7, "tid": 140065777563328},
        {"type": "closed", "fd": 0, "tid": 2**64 - 1},
        {},
        {"handle": 12},
    ],
)
def test_the_hot_messages_go_compact_and_come_back_the_same(message: dict[str, object]) -> None:
    """A report, a close and the coordinator's "proceed": a fixed-size frame, not JSON."""
    frame = encode(message)
    assert frame[0] != 0  # a tag, not a JSON frame's length
    assert len(frame) <= 4 + 13
    left, right = pair()
    with left, right:
        left.sendall(frame + frame)
        assert read_frame(right) == message
        assert FrameReader(right).next() == message
    if "type" in message:
        assert validate(message) == message["type"]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "done", "n": True, "ok": True, "fd": 3},  # a bool is not a number
        {"type": "done", "n": -1, "ok": True, "fd": 3},
        {"type": "done", "n": 1, "ok": 1, "fd": 3},
        {"type": "done", "n": 1, "ok": True},  # no fd
        {"type": "done", "n": 1, "ok": True, "fd": "3"},
        {"type": "closed", "fd": None, "tid": 1},
        {"type": "closed", "fd": 3},  # no closing thread: refused by the schema
        {"type": "closed", "tid": 1, "tname": "T", "fd": 3},  # a longer form
        {"handle": None},
        {"handle": 0},
        {"error": {"winerror": 5, "crt": False}},
    ],
)
def test_what_has_no_compact_form_goes_as_json(message: dict[str, object]) -> None:
    """And so meets the full schema check, which refuses the bad ones with their reason."""
    body = json.dumps(message, separators=(",", ":")).encode()
    assert encode(message) == len(body).to_bytes(4, "big") + body


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x01\x00\x00\x0c" + bytes(12), "tag 1 has 12 bytes"),
        (b"\x01\x00\x00\x0d" + bytes(8) + b"\x02" + bytes(4), "ok byte is 2"),
        (b"\x02\x00\x00\x05" + bytes(5), "tag 2 has 5 bytes"),
        (b"\x03\x00\x00\x00", "tag 3 has 0 bytes"),
        (b"\x07\x00\x00\x00", "unknown frame tag 7"),
        (b"\xff\xff\xff\xff", "over the"),
    ],
)
def test_bad_compact_frames_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    _refused_by_both_readers(raw, reason)


@pytest.mark.parametrize(
    "change",
    [
        {"tid": "1"},
        {"tid": True},
        {"tname": None},
        {"op": None},
        {"op": []},
        {"n": "7"},
        {"n": False},
        {"frames": None},
        {"frames": [["f", 1]]},
        {"frames": [("f", 1, "g")]},
        {"frames": [["f", 1.0, "g"]]},
        {"op": {**OP, "kind": ["open"]}},
        {"op": {**OP, "kind": "format-disk"}},
        {"op": {**OP, "path": None}},
        {"op": {**OP, "path2": 3}},
        {"op": {**OP, "fd": "3"}},
        {"op": {**OP, "fd": False}},
        {"op": {**OP, "access": "write"}},
        {"op": {**OP, "access": [1]}},
        {"op": {**OP, "creates": 0}},
        {"op": {**OP, "exclusive": None}},
        {"op": {**OP, "handle": "3"}},
        {"op": {k: v for k, v in OP.items() if k != "fd"}},
        {"op": {k: v for k, v in OP.items() if k != "path2"}},
    ],
)
def test_every_malformed_announcement_is_refused(change: dict[str, object]) -> None:
    """The announcement has a fast check of its own: what it lets through skips the full
    check, so each of these must still be refused (by the full check, with a reason)."""
    with pytest.raises(ProtocolError):
        validate({**BEFORE, **change})
