"""How a process joins by itself: the start-up hook the ``.pth`` file calls.

``pytest_ocirace_processes.pth`` (installed next to the package, see ``setup.py``) holds one
line that costs a dictionary lookup when the variable is unset, the way coverage.py's
``COVERAGE_PROCESS_START`` hook does. With the variable set (the test process sets it for
its children), :func:`join_from_environment` connects to the coordinator, installs the
interposition, reconnects after every ``fork``, and reports an escaping injected error.
"""

from __future__ import annotations

import json
import os
import sys

from pytest_ocirace.realdisk.client import Client, JoinError, SocketClient
from pytest_ocirace.realdisk.interpose import Interposition, active
from pytest_ocirace.realdisk.protocol import ENV_CONFIG, ENV_SECRET, ENV_SOCKET, ENV_START

TYPE_CHECKING = False  # not typing's: this module runs in every joining child's start-up

if TYPE_CHECKING:
    from typing import Any

__all__ = ["environment", "join_from_environment", "start_child"]

_registered = [False]
#: The pid that already tried to join from the environment.
_attempted: list[int | None] = [None]
#: The start token the last ``fork`` released in the parent (the child inherits it).
_fork_token: list[str | None] = [None]


def environment(socket_path: str, secret_hex: str, exclude: list[str]) -> dict[str, str]:
    """The variables that make a Python process join this coordinator."""
    return {
        ENV_SOCKET: socket_path,
        ENV_SECRET: secret_hex,
        ENV_CONFIG: json.dumps({"exclude": exclude}),
    }


def _exclusions() -> list[str]:
    try:
        config = json.loads(os.environ.get(ENV_CONFIG, "{}"))
    except ValueError:
        return []
    exclude = config.get("exclude", []) if isinstance(config, dict) else []
    return [str(p) for p in exclude if isinstance(p, str)]


def _connect(start: str | None) -> Client:
    path = os.environ[ENV_SOCKET]
    try:
        secret = bytes.fromhex(os.environ.get(ENV_SECRET, ""))
    except ValueError:
        raise JoinError(f"{ENV_SECRET} is not hex") from None
    return SocketClient(path, secret, start=start)


def start_child(start: str | None = None) -> Interposition | None:
    """Join the coordinator named in the environment; None (and one stderr line) if not."""
    try:
        client = _connect(start)
    except (JoinError, KeyError) as exc:
        sys.stderr.write(f"pytest-ocirace: process {os.getpid()} could not join: {exc}\n")
        return None
    ip = Interposition(client, _exclusions())
    ip.environment = {
        name: os.environ[name]
        for name in (ENV_SOCKET, ENV_SECRET, ENV_CONFIG)
        if name in os.environ
    }
    return ip.install()


def _before_fork() -> None:
    """The parent's past comes before everything a forked child does."""
    _fork_token[0] = None
    current = active()
    if current is None or current.busy():
        return
    from pytest_ocirace.realdisk.interpose import new_token

    token = new_token()
    try:
        current.send("start", token=token)
    except Exception:
        return
    _fork_token[0] = token


def _after_fork() -> None:
    """A forked child is a new participant: drop the parent's line, open its own."""
    current = active()
    if current is None:
        return
    client = current.client
    abandon = getattr(client, "abandon", None)
    if abandon is not None:
        abandon()
    current.remove()
    if ENV_SOCKET in os.environ:
        start_child(_fork_token[0])


def _excepthook(previous: Any) -> Any:
    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        current = active()
        if current is not None:
            current.escaped(value)
        previous(kind, value, tb)

    return hook


def join_from_environment() -> None:
    """The ``.pth`` hook: join if the environment says so (once per process).

    Once: a venv whose ``lib64`` links to ``lib`` has its site-packages, and so the
    ``.pth`` file, processed twice.
    """
    if _attempted[0] == os.getpid() or active() is not None or ENV_SOCKET not in os.environ:
        return
    _attempted[0] = os.getpid()
    if not _registered[0]:
        _registered[0] = True
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork)
        sys.excepthook = _excepthook(sys.excepthook)
    start_child(os.environ.get(ENV_START))


def register_fork_hook() -> None:
    """For the test process: its forked children join as themselves."""
    if not _registered[0]:
        _registered[0] = True
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork)
