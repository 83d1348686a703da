"""ORC002: the temp name is derived from the target with no per-writer unique part.

``dst + ".tmp"`` is the same name for every writer of ``dst``: two writers open, truncate and
write one temp file, and one of them publishes the other's half-written data. This fails on
every OS, not only Windows (where it also adds WinError 32, row 7, when one writer renames
the temp the other still holds open).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..model import Finding
from .base import Context, Invalid, Rule, Valid

__all__ = ["RULE"]

CODE = "ORC002"


def _names(ctx: Context, node: ast.expr, expand: bool) -> set[str]:
    """Local names in ``node`` (modules such as ``os`` excluded), optionally one level deep."""
    names = {
        n.id
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and ctx.analysis.qualified_name(n) is None
    }
    if expand:
        for name in list(names):
            value = ctx.analysis.assignment_before(name, node)
            if value is not None:
                names |= _names(ctx, value, expand=False)
    return names


def check(ctx: Context) -> Iterator[Finding]:
    analysis = ctx.analysis
    for publish in analysis.publish_calls:
        origin = _origin(ctx, publish.src)
        if origin is None:
            continue
        if not analysis.is_derived_name(origin) or analysis.contains_unique_part(origin):
            continue
        target_names = _names(ctx, publish.dst, expand=True)
        if not (_names(ctx, origin, expand=False) & (target_names | {_text(publish.dst)})):
            continue
        lock = analysis.lock_held(publish.call)
        if lock is not None and (
            _contains(lock, origin) or lock is analysis.object_life_lock(publish.call)
        ):
            continue  # the whole write happens under one lock: writers take turns
        if (
            lock is None
            and analysis.function_of(publish.call) is not None
            and analysis.lock_everywhere(publish.call)
        ):
            continue  # every caller holds a lock around the whole function
        # Reported at the publish (issue 10: one location per publish), the name's
        # construction a related location: a reviewer reads the publish and sees both.
        yield ctx.finding(
            CODE,
            publish.call,
            f"temp name {ctx.text(origin)} is derived from the target "
            f"{ctx.text(publish.dst)} with no per-writer unique part: concurrent writers "
            "write the same temp file and one publishes the other's half-written data",
            "create the temp with tempfile.mkstemp(dir=os.path.dirname(dst)), or add "
            "uuid.uuid4().hex or os.getpid() to its name (ocirace_writer.atomic_write does)",
            related=[(origin, "the temp name every writer shares is built here")],
        )


def _origin(ctx: Context, src: ast.expr) -> ast.expr | None:
    node = src
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        name = ctx.analysis.qualified_name(node.func) or ""
        if name in ("builtins.str", "os.fspath") or name.startswith("pathlib."):
            node = node.args[0]
    if isinstance(node, ast.Name):
        return ctx.analysis.assignment_before(node.id, node)
    return node


def _text(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else ""


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(part is inner for part in ast.walk(outer))


VALID = (
    Valid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dst))
            os.write(fd, data)
            os.close(fd)
            os.replace(tmp, dst)
        """
    ),
    Valid(
        """
        import os, uuid
        def store(dst, data):
            tmp = f"{dst}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        """
    ),
    Valid(
        """
        import os
        def store(dst, data):
            tmp = "%s.%d.tmp" % (dst, os.getpid())
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        """
    ),
    Valid(
        """
        import os, threading
        def store(dst, data):
            suffix = f".{os.getpid()}.{threading.get_ident()}.tmp"
            tmp = dst + suffix
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        """
    ),
    # One lock held around the whole write: writers take turns.
    Valid(
        """
        import os, threading
        LOCK = threading.Lock()
        def store(dst, data):
            with LOCK:
                tmp = dst + ".tmp"
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, dst)
        """
    ),
    # Derived from something else than the target.
    Valid(
        """
        import os
        def rotate(log, archive):
            tmp = log + ".tmp"
            os.replace(tmp, archive)
        """
    ),
    # str.replace with a suffix is not a rename.
    Valid(
        """
        def final_name(tmp):
            name = tmp + ".tmp"
            return name.replace(".tmp", "")
        """
    ),
    # Every caller holds one lock around the whole function (nengo's index, meson's build
    # dir): writers take turns, so the shared temp name is safe.
    Valid(
        """
        import os, threading
        _lock = threading.Lock()
        def _write(dst, data):
            tmp = dst + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        def save(dst, data):
            with _lock:
                _write(dst, data)
        """
    ),
    # A lock taken when the object is made and held for its life: ``__init__`` makes it,
    # the class releases it in close() and never acquires it (ZODB's zc.lockfile), so
    # every method runs under it and writers take turns.
    Valid(
        """
        import os
        from zc.lockfile import LockFile
        class Storage:
            def __init__(self, name):
                self.name = name
                self._lock_file = LockFile(name + ".lock")
            def save_index(self, data):
                tmp = self.name + ".index_tmp"
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, self.name + ".index")
            def close(self):
                self._lock_file.close()
        """
    ),
)

INVALID = (
    # One caller holds the lock, the other does not: writers can still collide.
    Invalid(
        """
        import os, threading
        _lock = threading.Lock()
        def _write(dst, data):
            tmp = dst + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        def save(dst, data):
            with _lock:
                _write(dst, data)
        def save_fast(dst, data):
            _write(dst, data)
        """,
        line=7,
    ),
    Invalid(
        """
        import os
        def store(dst, data):
            tmp = dst + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        """,
        line=6,
        message="no per-writer unique part",
    ),
    Invalid(
        """
        from pathlib import Path
        def store(path: Path, data):
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        """,
        line=5,
    ),
    Invalid(
        """
        import os
        def store(dst, data):
            tmp = f"{dst}.partial"
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, dst)
        """,
        line=6,
    ),
    Invalid(
        """
        import os
        def store(root, name, data):
            final = os.path.join(root, name)
            tmp = os.path.join(root, name + ".incomplete")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, final)
        """,
        line=7,
    ),
    Invalid(
        """
        import shutil
        def store(dst, data):
            with open("{}.tmp".format(dst), "wb") as f:
                f.write(data)
            shutil.move("{}.tmp".format(dst), dst)
        """,
        line=5,
    ),
    # The reference writer guards the rename, not a temp name every writer shares.
    Invalid(
        """
        from pytest_ocirace import publish
        def store(dst, data):
            tmp = dst + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            publish(tmp, dst)
        """,
        line=6,
    ),
    Invalid(
        """
        import os
        def store(dst, data):
            tmp = "%s~" % dst
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        """,
        line=6,
    ),
    # A lock made in ``__init__`` that the class acquires where it needs it is not held for
    # the object's life: a publish outside its ``with`` is not under it.
    Invalid(
        """
        import os, threading
        class Storage:
            def __init__(self, name):
                self.name = name
                self._lock = threading.Lock()
            def save_index(self, data):
                tmp = self.name + ".index_tmp"
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, self.name + ".index")
            def clear(self):
                with self._lock:
                    self.cache = {}
        """,
        line=10,
    ),
)

RULE = Rule(CODE, check, VALID, INVALID)
