"""The wire between participating processes and the coordinator: frames, schema, secret.

Everything a participant says is a JSON object in a length-prefixed frame, checked against
a small schema before the coordinator acts on it, so a malformed or hostile message is
refused with a reason instead of reaching the race model. The three messages sent for
every operation that carry only numbers (a report ``done``, a close ``closed``, and the
coordinator's "proceed") go as compact frames of fixed size instead of JSON: they decode to
the same dictionaries, and pass the same schema check. The per-run secret never crosses
the wire: the coordinator sends a fresh nonce and the participant answers with an HMAC of
it, so a process that only sees the socket (not the environment) cannot join or replay.
"""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False  # not typing's: a joining child imports this module at start-up

if TYPE_CHECKING:
    import _socket
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = [
    "ENV_CONFIG",
    "ENV_SECRET",
    "ENV_SHARED",
    "ENV_SOCKET",
    "ENV_START",
    "MAX_FRAME",
    "FrameReader",
    "ProtocolError",
    "authenticate",
    "closed_frame",
    "done_frame",
    "encode",
    "read_frame",
    "send",
    "validate",
]

#: The environment that makes a process join: where the coordinator listens, the secret,
#: the paths never tracked (JSON), and the start token of a subprocess (its parent's clock).
ENV_SOCKET = "OCIRACE_PROCESS_SOCKET"
ENV_SECRET = "OCIRACE_PROCESS_SECRET"
ENV_CONFIG = "OCIRACE_PROCESS_CONFIG"
ENV_START = "OCIRACE_PROCESS_START"
#: Set by a pytest-xdist controller: its workers share its coordinator (docs/processes.md).
ENV_SHARED = "OCIRACE_PROCESS_SHARED"

#: No legitimate message comes near this (a stack of 40 frames is a few kB).
MAX_FRAME = 1 << 20

#: Each frame starts with a 4-byte header: a tag byte (0 for JSON) and its body's length,
#: 3 bytes big-endian. A JSON frame's header is so its length in 4 bytes (under MAX_FRAME).
_HEADER_SIZE = 4

#: Compact frames (tag, fixed body size). ``done``: the announcement's number (8 bytes),
#: ok (1 byte, 0 or 1), the descriptor plus one (4 bytes; 0 for none). ``closed``: the
#: descriptor (4 bytes) and the closing thread (8 bytes). The coordinator's answer ``{}``,
#: or ``{"handle": h}``: h (8 bytes, 0 for none; handle numbers start at 1).
_DONE, _DONE_SIZE = 1, 13
_CLOSED, _CLOSED_SIZE = 2, 12
_PROCEED, _PROCEED_SIZE = 3, 8
_DONE_HEADER = bytes((_DONE, 0, 0, _DONE_SIZE))
_CLOSED_HEADER = bytes((_CLOSED, 0, 0, _CLOSED_SIZE))
_PROCEED_HEADER = bytes((_PROCEED, 0, 0, _PROCEED_SIZE))
_NO_HANDLE = _PROCEED_HEADER + bytes(_PROCEED_SIZE)
_U32 = 1 << 32
_U63 = 1 << 63
_U64 = 1 << 64


class ProtocolError(ValueError):
    """A frame or message that the coordinator refuses (the reason is the message)."""


#: One encoder and one decoder for every frame: ``json.dumps`` with ``separators`` builds a
#: new encoder per call, and ``json.loads`` of bytes guesses their encoding; both were about
#: a fifth of a child's CPU per operation (docs/performance.md, "Fourth pass").
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_RAW_DECODE = json.JSONDecoder().raw_decode


def _c_encoder() -> Callable[[Any, int], Any] | None:
    """The C encoder ``JSONEncoder.encode`` builds on every call, built once.

    ``encode`` runs twice in Python (``encode``, ``iterencode``) and makes a new C encoder
    and a circular-reference table per message; five messages per write+replace in a child,
    two answers in the coordinator. Messages are ours and never circular, so no table.
    The same bytes as ``_ENCODE`` (tests/realdisk/test_protocol.py).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return None
    quote = json.encoder.encode_basestring_ascii
    default = json.JSONEncoder().default  # what cannot be encoded: the usual TypeError
    made: Callable[[Any, int], Any] = make(None, default, quote, None, ":", ",", False, False, True)
    return made


_C_ENCODE = _c_encoder()


def done_frame(number: int, ok: bool, fd: int | None) -> bytes:
    """The frame of ``{"type": "done", "n": number, "ok": ok, "fd": fd}``, built directly.

    For a participant's own report (``SocketClient.report``): a positive announcement
    number and a descriptor from the OS, so no checks (``encode`` checks a dict's fields).
    """
    return (
        _DONE_HEADER
        + number.to_bytes(8, "big")
        + (b"\x01" if ok else b"\x00")
        + (0 if fd is None else fd + 1).to_bytes(4, "big")
    )


def closed_frame(fd: int, tid: int) -> bytes:
    """The frame of ``{"type": "closed", "fd": fd, "tid": tid}`` (numbers from the OS)."""
    return _CLOSED_HEADER + fd.to_bytes(4, "big") + tid.to_bytes(8, "big")


def _compact(message: Mapping[str, Any]) -> bytes | None:
    """The compact frame of ``message``, or None if it has no compact form.

    Only exact types (what ``done``/``closed``/answers hold when our own code builds them);
    anything else goes as JSON and meets the full schema check, with its reason.
    """
    kind = message.get("type")
    if kind == "done":
        if len(message) == 4:
            n, ok, fd = message.get("n"), message.get("ok"), message.get("fd", _MISSING)
            if (
                type(n) is int
                and 0 <= n < _U63
                and type(ok) is bool
                and (fd is None or (type(fd) is int and 0 <= fd < _U32 - 1))
            ):
                return done_frame(n, ok, fd)
        return None
    if kind == "closed":
        fd, tid = message.get("fd"), message.get("tid")
        if (
            len(message) == 3
            and type(fd) is int
            and 0 <= fd < _U32
            and type(tid) is int
            and 0 <= tid < _U64
        ):
            return closed_frame(fd, tid)
        return None
    if kind is None:  # an answer
        if not message:
            return _NO_HANDLE
        handle = message.get("handle")
        if len(message) == 1 and type(handle) is int and 0 < handle < _U63:
            return _PROCEED_HEADER + handle.to_bytes(8, "big")
    return None


def encode(message: Mapping[str, Any]) -> bytes:
    compact = _compact(message)
    if compact is not None:
        return compact
    if _C_ENCODE is not None:
        body = "".join(_C_ENCODE(message, 0)).encode()
    else:
        body = _ENCODE(message).encode()
    return len(body).to_bytes(_HEADER_SIZE, "big") + body


def send(sock: _socket.socket, message: Mapping[str, Any]) -> None:
    sock.sendall(encode(message))


def _read_exactly(sock: _socket.socket, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            if chunks:
                raise ProtocolError(f"connection closed inside a frame ({size - remaining}/{size})")
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: _socket.socket) -> dict[str, Any] | None:
    """The next message, or None when the peer closed the connection between frames.

    Reads exactly one frame (two ``recv`` calls): for the handshake, before anything else
    may follow. A connection's later frames go through a :class:`FrameReader`.
    """
    header = _read_exactly(sock, _HEADER_SIZE)
    if header is None:
        return None
    size = _size(header)
    body = _read_exactly(sock, size)
    if body is None:
        raise ProtocolError("connection closed after a frame header")
    return _decode(body) if header[0] == 0 else _decode_compact(header[0], body)


def _size(header: bytes | bytearray) -> int:
    size = int.from_bytes(header[1:_HEADER_SIZE], "big")
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes is over the {MAX_FRAME}-byte limit")
    return size


def _decode_compact(tag: int, body: bytes | bytearray) -> dict[str, Any]:
    """The message of a compact frame (see ``_DONE``): a frame of another size is refused."""
    size = len(body)
    if tag == _DONE and size == _DONE_SIZE:
        ok = body[8]
        if ok > 1:
            raise ProtocolError(f"compact 'done' frame: ok byte is {ok}, expected 0 or 1")
        fd = int.from_bytes(body[9:13], "big")
        return {
            "type": "done",
            "n": int.from_bytes(body[:8], "big"),
            "ok": ok == 1,
            "fd": fd - 1 if fd else None,
        }
    if tag == _CLOSED and size == _CLOSED_SIZE:
        return {
            "type": "closed",
            "fd": int.from_bytes(body[:4], "big"),
            "tid": int.from_bytes(body[4:], "big"),
        }
    if tag == _PROCEED and size == _PROCEED_SIZE:
        handle = int.from_bytes(body, "big")
        return {"handle": handle} if handle else {}
    if tag in (_DONE, _CLOSED, _PROCEED):
        raise ProtocolError(f"compact frame of tag {tag} has {size} bytes, not its fixed size")
    raise ProtocolError(f"unknown frame tag {tag} (a frame header starts with 0 to 3)")


def _decode(body: bytes | bytearray) -> dict[str, Any]:
    try:
        # UTF-8 only (what ``encode`` writes; JSON's own rule for text between systems), and
        # no whitespace around the value (``encode`` writes none; ``decode``'s two regular
        # expression matches for it were most of the decoder's Python-level cost).
        text = body.decode()
        message, end = _RAW_DECODE(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if end != len(text):
        raise ProtocolError(f"frame is not JSON: extra data at character {end}")
    if not isinstance(message, dict):
        raise ProtocolError(f"message is a {type(message).__name__}, not an object")
    return message


class FrameReader:
    """The frames of one connection, in as few ``recv`` calls as the peer made writes.

    A participant sends the messages it deferred together with its next one, in one write
    (``client.SocketClient``); reading them one ``recv`` at a time, twice per frame, was a
    system call and a wake-up per header and per body.
    """

    __slots__ = ("_buffer", "_sock", "_start", "compact")

    _CHUNK = 1 << 16

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        #: Where the next frame starts in ``_buffer`` (frames read are not cut out one by
        #: one: a write of three frames is one ``recv`` and three slices).
        self._start = 0
        #: Whether the last message was a participant's compact frame (a report or a close):
        #: its fields have their types by the frame's form, so the coordinator skips the
        #: schema check for it. Not the coordinator's "proceed", which has no type: sent to
        #: the coordinator, it meets the check and is refused.
        self.compact = False

    def next(self) -> dict[str, Any] | None:
        """The next message, or None when the peer closed the connection between frames.

        One loop, not two fills and a size check in calls of their own: it runs for every
        frame of every child (five per write+replace), and the calls were a fifth of it.
        """
        buffer, start = self._buffer, self._start
        while True:
            have = len(buffer) - start
            if have >= _HEADER_SIZE:
                size = int.from_bytes(buffer[start + 1 : start + _HEADER_SIZE], "big")
                if size > MAX_FRAME:
                    raise ProtocolError(f"frame of {size} bytes is over the {MAX_FRAME}-byte limit")
                end = start + _HEADER_SIZE + size
                if have >= end - start:
                    tag = buffer[start]
                    body = buffer[start + _HEADER_SIZE : end]
                    if end == len(buffer):
                        self._buffer, self._start = b"", 0
                    else:
                        self._start = end
                    if tag == 0:
                        self.compact = False
                        return _decode(body)
                    self.compact = tag != _PROCEED
                    return _decode_compact(tag, body)
            chunk = self._sock.recv(self._CHUNK)
            if not chunk:
                if not have:
                    return None
                if have < _HEADER_SIZE:
                    what = f"inside a frame header ({have}/{_HEADER_SIZE})"
                else:
                    what = f"inside a frame ({have}/{end - start})"
                raise ProtocolError(f"connection closed {what}")
            buffer = chunk if not have else buffer[start:] + chunk
            start = 0
            self._buffer, self._start = buffer, 0


def authenticate(secret: bytes, nonce: bytes, pid: int) -> str:
    """The hello's proof: HMAC-SHA256 (RFC 2104) over the coordinator's nonce and the pid.

    Written out over the interpreter's built-in SHA-256 rather than with ``hmac``/``hashlib``:
    those load OpenSSL, which was the largest single cost of a child's start-up after the
    writer (about 15 ms). The result is the same bytes (tests/realdisk/test_protocol.py).
    """
    key = _SHA256(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\0")
    inner = _SHA256(bytes(k ^ 0x36 for k in key) + nonce + str(pid).encode()).digest()
    return str(_SHA256(bytes(k ^ 0x5C for k in key) + inner).hexdigest())


#: SHA-256's block size, in bytes (HMAC pads the key to it).
_BLOCK = 64


def _sha256() -> Callable[[bytes], Any]:
    """The built-in SHA-256 constructor (``_sha256`` up to 3.11, ``_sha2`` since 3.12).

    Looked up once, when this module is imported, never per call: a forked child
    authenticates inside its at-fork handler, and an import there waits forever on a
    module lock that another thread of the parent held at the fork (the coordinator's
    threads authenticate too). That hang was seen in the determinism runs.
    """
    import importlib

    for name in ("_sha2", "_sha256") if sys.version_info >= (3, 12) else ("_sha256",):
        try:
            constructor: Callable[[bytes], Any] = importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    import hashlib

    return hashlib.sha256


_SHA256 = _sha256()


_STR = (str,)
_INT = (int,)
_OPT_STR = (str, type(None))
_LIST = (list,)
_BOOL = (bool,)

#: Per message type: required fields and their types (bool is not accepted as int).
_SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "hello": {"pid": _INT, "mac": _STR, "start": _OPT_STR, "argv": _LIST},
    "before": {"tid": _INT, "tname": _STR, "op": (dict,), "frames": _LIST},
    # an existence check (answered only when the name is really there)
    "check": {"tid": _INT, "tname": _STR, "path": _STR, "present": _BOOL, "frames": _LIST},
    "after": {"tid": _INT, "tname": _STR, "op": (dict,), "ok": _BOOL, "frames": _LIST},
    # the report of the announcement numbered n (the announcement's "n"): did it happen
    "done": {"n": _INT, "ok": _BOOL, "fd": (int, type(None))},
    # a descriptor of this process was closed, by the thread tid (the handle ends at that
    # thread's epoch: persist-queue's consumer closes what the main thread opened)
    "closed": {"fd": _INT, "tid": _INT},
    "release": {"tid": _INT, "tname": _STR, "key": _STR},
    "acquire": {"tid": _INT, "tname": _STR, "key": _STR},
    "lock": {"tid": _INT, "tname": _STR, "key": _STR},
    "unlock": {"tid": _INT, "tname": _STR, "key": _STR},
    "mutex": {"key": _STR},
    # a duplex Pipe(): the two ends of a socket pair (device:inode each)
    "pair": {"a": _STR, "b": _STR},
    # a threading primitive inside one process (threads.py): release or acquire of a key
    "edge": {"tid": _INT, "tname": _STR, "key": _STR, "acquire": _BOOL},
    "start": {"tid": _INT, "tname": _STR, "token": _STR},
    "adopt": {"tid": _INT, "tname": _STR, "token": _STR},
    # a thread started with a token ends: its strand is retired (its ident may be reused)
    "ended": {"tid": _INT, "tname": _STR, "token": _STR},
    "item": {"tid": _INT, "tname": _STR, "token": _STR, "begin": _BOOL},
    # os.exec*: the program is replaced by argv (a start token for the new program), or
    # the exec failed and the program goes on
    "exec": {"tid": _INT, "tname": _STR, "token": _STR, "argv": _LIST},
    "exec-failed": {},
    "spawned": {"tid": _INT, "tname": _STR, "child": _INT, "argv": _LIST},
    "joined": {"tid": _INT, "tname": _STR, "child": _INT},
    "escaped": {"tid": _INT, "tname": _STR, "race": _INT, "text": _STR},
    # pytest-xdist: a worker's test begins; a worker asks for its test's races at the end.
    "test": {"nodeid": _STR},
    "collect": {},
}

#: Optional fields, checked when present: an announcement's number (its report names it).
_OPTIONAL: dict[str, dict[str, tuple[type, ...]]] = {"before": {"n": _INT}}

_OP_SCHEMA: dict[str, tuple[type, ...]] = {
    "kind": _STR,
    "path": _STR,
    "path2": _OPT_STR,
    "fd": (int, type(None)),
    "access": _LIST,
    "creates": _BOOL,
    "exclusive": _BOOL,
}

#: Optional operation fields: the handle number the coordinator gave an open.
_OP_OPTIONAL: dict[str, tuple[type, ...]] = {"handle": (int, type(None))}

_KINDS = frozenset({"open", "close", "rename", "replace", "remove", "rmdir", "link"})


def _check_fields(
    what: str, message: Mapping[str, Any], schema: Mapping[str, tuple[type, ...]]
) -> None:
    for name, types in schema.items():
        if name not in message:
            raise ProtocolError(f"{what} lacks the field {name!r}")
        value = message[name]
        if isinstance(value, bool) and bool not in types:
            raise ProtocolError(f"{what}: field {name!r} must not be a boolean")
        if not isinstance(value, types):
            raise ProtocolError(
                f"{what}: field {name!r} is a {type(value).__name__}, expected "
                + " or ".join(t.__name__ for t in types)
            )


def _exact(types: tuple[type, ...]) -> frozenset[type]:
    """The exact types a JSON value of ``types`` has (no subclasses: JSON makes none)."""
    return frozenset(types)


#: The fast check's tables: per message type, (field, exact types), and whether it carries
#: an operation and frames. A ``bool`` is its own type here, so it never passes for an int.
_FAST: dict[str, tuple[tuple[tuple[str, frozenset[type]], ...], bool, bool]] = {
    kind: (
        tuple((name, _exact(types)) for name, types in schema.items()),
        "op" in schema,
        "frames" in schema,
    )
    for kind, schema in _SCHEMA.items()
}
_FAST_OP = tuple((name, _exact(types)) for name, types in _OP_SCHEMA.items())
_FAST_HANDLE = _exact(_OP_OPTIONAL["handle"])
_MISSING = object()


def _well_formed(message: Mapping[str, Any]) -> str | None:
    """The message's type if it is plainly well formed, else None (then ask ``_explain``).

    The coordinator checks every message of every child, several per operation; the
    field-by-field check with its reasons was a third of its CPU for a write+replace. This
    accepts only what the full check accepts (exact types, a subset of ``isinstance``) and
    leaves every refusal, and its reason, to the full check.
    """
    kind = message.get("type")
    if kind == "before":
        return _before_well_formed(message)
    entry = _FAST.get(kind) if type(kind) is str else None
    if entry is None:
        return None
    fields, has_op, has_frames = entry
    for name, types in fields:
        if type(message.get(name, _MISSING)) not in types:
            return None
    if "n" in message and type(message["n"]) is not int:
        return None
    if has_op:
        op = message["op"]
        for name, types in _FAST_OP:
            if type(op.get(name, _MISSING)) not in types:
                return None
        if "handle" in op and type(op["handle"]) not in _FAST_HANDLE:
            return None
        if op["kind"] not in _KINDS:
            return None
        for access in op["access"]:
            if type(access) is not str:
                return None
    if has_frames and not _frames_well_formed(message["frames"]):
        return None
    return str(kind)


def _frames_well_formed(frames: list[Any]) -> bool:
    """Each frame a ``[file, line, function]`` of exact types (one call per message)."""
    for frame in frames:
        if (
            type(frame) is not list
            or len(frame) != 3
            or type(frame[0]) is not str
            or type(frame[1]) is not int
            or type(frame[2]) is not str
        ):
            return False
    return True


def _before_well_formed(message: Mapping[str, Any]) -> str | None:
    """``_well_formed`` for an announcement, written out (two per operation of a child).

    The same rules as the tables (``_SCHEMA``, ``_OPTIONAL``, ``_OP_SCHEMA``,
    ``_OP_OPTIONAL``), without their loops: exact types, every refusal left to ``_explain``.
    """
    op = message.get("op")
    if (
        type(message.get("tid")) is not int
        or type(message.get("tname")) is not str
        or type(op) is not dict
        or type(message.get("n", 0)) is not int
    ):
        return None
    kind = op.get("kind")
    path2 = op.get("path2", _MISSING)
    fd = op.get("fd", _MISSING)
    access = op.get("access")
    if (
        type(kind) is not str
        or kind not in _KINDS
        or type(op.get("path")) is not str
        or (path2 is not None and type(path2) is not str)
        or (fd is not None and type(fd) is not int)
        or type(access) is not list
        or type(op.get("creates")) is not bool
        or type(op.get("exclusive")) is not bool
    ):
        return None
    if "handle" in op and op["handle"] is not None and type(op["handle"]) is not int:
        return None
    for item in access:
        if type(item) is not str:
            return None
    frames = message.get("frames")
    if type(frames) is not list or not _frames_well_formed(frames):
        return None
    return "before"


def validate(message: Mapping[str, Any]) -> str:
    """The message's type, once its fields are all present and well typed."""
    return _well_formed(message) or _explain(message)


def _explain(message: Mapping[str, Any]) -> str:
    """The full check: the message's type, or a :class:`ProtocolError` saying what is wrong."""
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in _SCHEMA:
        raise ProtocolError(f"unknown message type {kind!r}")
    _check_fields(f"{kind!r} message", message, _SCHEMA[kind])
    optional = _OPTIONAL.get(kind, {})
    _check_fields(f"{kind!r} message", message, {k: t for k, t in optional.items() if k in message})
    if "op" in _SCHEMA[kind]:
        op = message["op"]
        _check_fields(f"{kind!r} operation", op, _OP_SCHEMA)
        _check_fields(f"{kind!r} operation", op, {k: t for k, t in _OP_OPTIONAL.items() if k in op})
        if op["kind"] not in _KINDS:
            raise ProtocolError(f"unknown operation kind {op['kind']!r}")
        if not all(isinstance(a, str) for a in op["access"]):
            raise ProtocolError("operation access must be a list of strings")
    if "frames" in _SCHEMA[kind]:
        for frame in message["frames"]:
            if (
                not isinstance(frame, list)
                or len(frame) != 3
                or not isinstance(frame[0], str)
                or not isinstance(frame[1], int)
                or not isinstance(frame[2], str)
            ):
                raise ProtocolError("frames must be [filename, line, function] triples")
    return kind
