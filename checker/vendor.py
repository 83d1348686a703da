"""``ocirace vendor PATH``: copy the reference writer into a project that takes no dependency.

The copy is the ``ocirace_writer`` module verbatim, under a header that names the version, the
licence and a hash of the body. The hash is what makes "did someone edit the copy?" decidable:
``vendor`` refuses to overwrite an edited copy (their change would be lost silently) unless
``--force``, and ``--check`` tells pre-commit whether the copy is the one this version writes.
Line endings are normalised before hashing, so a checkout with ``core.autocrlf`` is not "edited".

After writing, ``fix-writer-module`` in ``[tool.ocirace]`` is pointed at the copy, so that
``--fix`` imports from it. The TOML is edited as text, one line, and the result is parsed back
and compared with the original before anything is written: tomli/tomllib only read, and a
round-trip through a TOML writer would reformat the user's file.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from .config import ConfigError, find_config

__all__ = [
    "EditedCopyError",
    "VendorError",
    "body_hash",
    "check",
    "module_name_for",
    "render",
    "vendor",
]

_MARKER = "# ocirace-vendor:"
_MARKER_RE = re.compile(
    r"^# ocirace-vendor: ocirace-writer (?P<version>\S+) sha256:(?P<hash>[0-9a-f]{64})$",
    re.MULTILINE,
)
_HEADER_END = "# --- end of the ocirace vendor header ---"
_LICENCE = """\
# MIT License
#
# Copyright (c) pytest-ocirace developers
#
# Permission is hereby granted, free of charge, to any person obtaining a copy of this software
# and associated documentation files (the "Software"), to deal in the Software without
# restriction, including without limitation the rights to use, copy, modify, merge, publish,
# distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
# Software is furnished to do so, subject to the following conditions:
#
# The above copyright notice and this permission notice shall be included in all copies or
# substantial portions of the Software.
#
# THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
# BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
# NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
# DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
# OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""

EXIT_OK = 0
EXIT_NOT_CURRENT = 1
EXIT_ERROR = 2


class VendorError(Exception):
    """A one-line reason the copy cannot be written or checked, with the way out."""


class EditedCopyError(VendorError):
    """The copy at the path was edited; overwriting it would lose the edit silently."""


def _writer_source() -> tuple[str, str]:
    """The writer's own text and version: the module this ocirace runs with."""
    import ocirace_writer

    path = Path(ocirace_writer.__file__ or "")
    return path.read_text(encoding="utf-8"), ocirace_writer.__version__


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def body_hash(body: str) -> str:
    return hashlib.sha256(_normalise(body).encode("utf-8")).hexdigest()


def render(body: str, version: str) -> str:
    """The vendored file: header (version, licence, hash, how to update), then ``body``."""
    header = (
        f"# The reference safe writer of pytest-ocirace (ocirace-writer {version}), vendored by\n"
        "# `ocirace vendor`. Do not edit: `ocirace vendor --check PATH` reports an edited copy,\n"
        "# and `ocirace vendor PATH` replaces it with the current version (refusing an edited\n"
        "# copy unless --force). Or depend on the distribution instead: ocirace-writer.\n"
        "#\n"
        f"{_LICENCE}"
        "#\n"
        f"{_MARKER} ocirace-writer {version} sha256:{body_hash(body)}\n"
        f"{_HEADER_END}\n"
    )
    return header + body


def _split(text: str) -> tuple[str, str, str] | None:
    """(version, recorded hash, body) of a vendored file, or None if it has no header."""
    match = _MARKER_RE.search(text)
    end = text.find(_HEADER_END)
    if match is None or end < 0 or match.start() > end:
        return None
    body_start = text.find("\n", end)
    body = "" if body_start < 0 else text[body_start + 1 :]
    return match["version"], match["hash"], body


def module_name_for(path: Path) -> str | None:
    """The dotted name ``path`` is imported by: its file stem under every enclosing package.

    Packages are directories with an ``__init__.py``; the first directory without one is the
    import root (a ``src/`` folder, the project root). Namespace packages cannot be told from
    plain folders, hence ``--module``.
    """
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file():
        parts.append(directory.name)
        if directory.parent == directory:
            break
        directory = directory.parent
    name = ".".join(reversed(parts))
    return name if _is_module_name(name) else None


def _is_module_name(name: str) -> bool:
    import keyword

    return all(part.isidentifier() and not keyword.iskeyword(part) for part in name.split("."))


def _state(path: Path, body: str) -> tuple[str, str]:
    """("missing" | "current" | "outdated" | "edited", detail) for the copy at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "missing", ""
    except (OSError, UnicodeDecodeError) as exc:
        raise VendorError(f"cannot read {path}: {exc}") from None
    parts = _split(text)
    if parts is None:
        return "edited", "it has no ocirace vendor header (not written by `ocirace vendor`)"
    version, recorded, found_body = parts
    if body_hash(found_body) != recorded:
        return "edited", f"it was edited after `ocirace vendor` wrote version {version}"
    if recorded != body_hash(body):
        return "outdated", f"it is version {version}"
    return "current", version


def _target(path: Path) -> Path:
    """The file meant by ``path``: a ``.py`` file, or ``ocirace_writer.py`` in a directory."""
    if path.suffix == ".py":
        return path
    if path.is_dir():
        return path / "ocirace_writer.py"
    raise VendorError(
        f"{path}: give the .py file to write (e.g. src/myproject/_vendor/ocirace_writer.py)"
        " or an existing directory"
    )


def check(path: Path) -> tuple[int, str]:
    """Exit code and one line saying whether the copy at ``path`` is what ``vendor`` writes."""
    path = _target(path)
    body, version = _writer_source()
    state, detail = _state(path, body)
    if state == "current":
        return EXIT_OK, f"{path}: current (ocirace-writer {version})"
    if state == "missing":
        return EXIT_NOT_CURRENT, f"{path}: no vendored writer here; run `ocirace vendor {path}`"
    if state == "outdated":
        return (
            EXIT_NOT_CURRENT,
            f"{path}: outdated, {detail}; run `ocirace vendor {path}` for {version}",
        )
    return (
        EXIT_NOT_CURRENT,
        f"{path}: {detail}; undo the edit, or run `ocirace vendor {path} --force` to replace it "
        f"with {version}",
    )


def vendor(path: Path, *, force: bool = False, module: str | None = None) -> list[str]:
    """Write the copy (unless it is current) and point ``fix-writer-module`` at it.

    Returns the lines to tell the user; raises :class:`VendorError` when nothing was done.
    """
    path = _target(path)
    if not path.parent.is_dir():
        raise VendorError(f"{path}: its directory does not exist; create the package first")
    if module is not None and not _is_module_name(module):
        raise VendorError(f"--module {module!r}: give a dotted module name such as a.b.c")
    name = module or module_name_for(path)
    if name is None:
        raise VendorError(
            f"{path}: its path is not an importable module name; rename it or give --module"
        )
    if name.split(".")[0] == "ocirace_writer":
        raise VendorError(
            f"{path}: as module {name!r} it would shadow the ocirace-writer distribution; put "
            "it inside your own package (src/myproject/_vendor/ocirace_writer.py) or give --module"
        )
    body, version = _writer_source()
    state, detail = _state(path, body)
    if state == "edited" and not force:
        raise EditedCopyError(
            f"{path}: {detail}; refusing to overwrite it (pass --force to replace it)"
        )
    messages: list[str] = []
    if state == "current":
        messages.append(f"{path}: already current (ocirace-writer {version})")
    else:
        from ocirace_writer import atomic_write

        with atomic_write(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(render(body, version))
        messages.append(f"wrote {path} (ocirace-writer {version}), importable as {name}")
    messages.append(_record(path.parent, name))
    return messages


def _record(start: Path, module: str) -> str:
    """Set ``fix-writer-module`` in the pyproject.toml the checker reads for ``start``."""
    try:
        source, nearest = find_config(start.resolve())
    except ConfigError as exc:  # pragma: no cover - find_config only walks directories
        raise VendorError(str(exc)) from None
    target = source or nearest
    snippet = f'[tool.ocirace]\nfix-writer-module = "{module}"'
    if target is None:
        return (
            "no pyproject.toml above it: to make `ocirace check --fix` import from the copy, "
            f"add to your pyproject.toml:\n{snippet}"
        )
    text = target.read_text(encoding="utf-8")
    try:
        new_text = set_writer_module(text, module)
    except VendorError as exc:
        return f"{target}: {exc}; set it by hand:\n{snippet}"
    if new_text == text:
        return f"{target}: fix-writer-module is already {module!r}"
    from ocirace_writer import atomic_write

    with atomic_write(target, "w", encoding="utf-8", newline="") as handle:
        handle.write(new_text)
    return f"{target}: fix-writer-module = {module!r} ([tool.ocirace]): --fix imports from the copy"


_HEADER_RE = re.compile(r"^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*ocirace[ \t]*\][ \t]*(#.*)?$")
_ANY_HEADER_RE = re.compile(r"^[ \t]*\[")
_KEY_RE = re.compile(
    r"""^(?P<lead>[ \t]*(?:fix-writer-module|"fix-writer-module"|'fix-writer-module')"""
    r"""[ \t]*=[ \t]*)"""
    r"""(?P<value>"[^"\\\n]*"|'[^'\n]*')(?P<tail>[ \t]*(?:#.*)?)$"""
)


def _parse(text: str) -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        document: dict[str, object] = tomllib.loads(text)
        return document
    except tomllib.TOMLDecodeError as exc:
        raise VendorError(f"it is not valid TOML ({exc})") from None


def _table(document: dict[str, object]) -> dict[str, object] | None:
    tool = document.get("tool")
    table = tool.get("ocirace") if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None


def set_writer_module(text: str, module: str) -> str:
    """``text`` with ``[tool.ocirace] fix-writer-module = "<module>"``, changing one line.

    The key's line is rewritten in place when it exists; otherwise the line goes right under
    the ``[tool.ocirace]`` header, or a new table is appended. Whatever was done, the result
    must parse to the original document plus (or with) that one key, or nothing is changed.
    """
    before = _parse(text)
    table = _table(before)
    if table is not None and table.get("fix-writer-module") == module:
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    header = next(
        (i for i, line in enumerate(lines) if _HEADER_RE.match(line.rstrip("\r\n"))), None
    )
    value = f'"{module}"'
    if header is not None:
        end = next(
            (
                i
                for i in range(header + 1, len(lines))
                if _ANY_HEADER_RE.match(lines[i]) and not lines[i].lstrip().startswith("#")
            ),
            len(lines),
        )
        for i in range(header + 1, end):
            match = _KEY_RE.match(lines[i].rstrip("\r\n"))
            if match:
                ending = lines[i][len(lines[i].rstrip("\r\n")) :]
                lines[i] = f"{match['lead']}{value}{match['tail']}{ending}"
                break
        else:
            lines.insert(header + 1, f"fix-writer-module = {value}{newline}")
        new_text = "".join(lines)
    elif table is not None and "fix-writer-module" in table:
        raise VendorError("fix-writer-module is set in a form this command does not edit")
    else:
        separator = "" if not text or text.endswith(("\n", "\r")) else newline
        new_text = (
            f"{text}{separator}{newline}[tool.ocirace]{newline}fix-writer-module = {value}{newline}"
        )
    try:
        after = _parse(new_text)
    except VendorError:
        raise VendorError(
            "editing [tool.ocirace] as text would change more than the one key"
        ) from None
    expected_table = dict(table or {})
    expected_table["fix-writer-module"] = module
    expected = dict(before)
    tool = dict(before.get("tool", {}) if isinstance(before.get("tool"), dict) else {})  # type: ignore[call-overload]
    tool["ocirace"] = expected_table
    expected["tool"] = tool
    if after != expected:
        raise VendorError("editing [tool.ocirace] as text would change more than the one key")
    return new_text


def main(path: Path, *, check_only: bool, force: bool, module: str | None) -> int:
    """The ``ocirace vendor`` command: exit 0 done/current, 1 not current/refused, 2 error."""
    try:
        if check_only:
            code, line = check(path)
            (sys.stdout if code == EXIT_OK else sys.stderr).write(line + "\n")
            return code
        for line in vendor(path, force=force, module=module):
            sys.stdout.write(line + "\n")
        return EXIT_OK
    except VendorError as exc:
        sys.stderr.write(f"ocirace: error: {exc}\n")
        return EXIT_NOT_CURRENT if isinstance(exc, EditedCopyError) else EXIT_ERROR
    except OSError as exc:
        sys.stderr.write(f"ocirace: error: cannot write {exc.filename or path}: {exc.strerror}\n")
        return EXIT_ERROR
