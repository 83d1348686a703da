"""ORC004: ``shutil.move`` publishes onto a target that may already exist.

``shutil.move`` tries ``os.rename`` and, on any ``OSError``, falls back to ``copy2`` plus
``unlink``. On Windows an existing target makes the rename fail (183, row 2), so the "move"
silently becomes a non-atomic copy over the target: readers can see a half-written file and
a crash leaves one behind. Nothing is raised, so nobody notices.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, Invalid, Rule, Valid, callee_text, publish_fix

__all__ = ["RULE"]

CODE = "ORC004"


def check(ctx: Context) -> Iterator[Finding]:
    analysis = ctx.analysis
    for publish in analysis.publish_calls:
        if publish.kind != "move":
            continue
        if analysis.temp_info(publish.src) is None:
            continue
        if analysis.temp_info(publish.dst, bindings=False) is not None:
            continue
        if analysis.contains_unique_part(publish.dst):
            continue
        if analysis.windows_excluded(publish.call):
            continue
        if analysis.moves_back(publish):
            continue  # a restore of what another rename moved away: not new content
        if analysis.existence_checked(publish.call, publish.dst):
            continue  # absent unless raced: ORC001's business
        if analysis.is_guarded(publish.call):
            continue  # a lock every writer holds, or the clash accepted/retried (or callers')
        yield ctx.finding(
            CODE,
            publish.call,
            f"{callee_text(ctx, publish)} onto {ctx.text(publish.dst)}: on Windows an "
            "existing target makes the rename fail and shutil.move silently copies over it, "
            "so readers can see a half-written file",
            f"use os.replace() for a move within one directory, or {ctx.writer}.publish(tmp, dst)",
            publish_fix(ctx, publish),
        )


VALID = (
    # The lock is held by the only caller: every writer waits for it.
    Valid(
        """
        import shutil, tempfile
        from filelock import FileLock
        def _store(tmp_dir, dst):
            shutil.move(tmp_dir + "/data.tmp", dst)
        def download(dst):
            tmp_dir = tempfile.mkdtemp()
            with FileLock(dst + ".lock"):
                _store(tmp_dir, dst)
        """
    ),
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
    # Moving a user's file somewhere: not a temp being published.
    Valid(
        """
        import shutil
        def archive(report, folder):
            shutil.move(report, folder)
        """
    ),
    # Moving into a fresh private directory.
    Valid(
        """
        import os, shutil, tempfile
        def stage(tmp_file):
            workdir = tempfile.mkdtemp()
            shutil.move(tmp_file, os.path.join(workdir, "data"))
        """
    ),
    Valid(
        """
        import os, shutil
        def store(tmp_file, dst):
            if not os.path.exists(dst):
                shutil.move(tmp_file, dst)
        """
    ),
)

INVALID = (
    Invalid(
        """
        import shutil, tempfile
        def store(dst, data):
            with tempfile.NamedTemporaryFile(delete=False) as f:
                f.write(data)
            shutil.move(f.name, dst)
        """,
        line=5,
        message="silently copies over it",
        fixed="""
        import shutil, tempfile

        from ocirace_writer import publish
        def store(dst, data):
            with tempfile.NamedTemporaryFile(delete=False) as f:
                f.write(data)
            publish(f.name, dst)
        """,
    ),
    Invalid(
        """
        from shutil import move as mv
        def store(tmp_path, dst):
            mv(tmp_path, dst)
        """,
        line=3,
    ),
    Invalid(
        """
        import shutil as sh
        def store(tmp, dst):
            sh.move(src=tmp, dst=dst)
        """,
        line=3,
        fixed="""
        import shutil as sh

        from ocirace_writer import publish
        def store(tmp, dst):
            publish(src=tmp, dst=dst)
        """,
    ),
    # The alias of the ``os.name == "nt"`` branch is the name on Windows: ``shutil.move``,
    # although an ``else`` rebinds it to ``os.rename`` later in the text (jieba).
    Invalid(
        """
        import os, shutil, tempfile
        if os.name == "nt":
            from shutil import move as _replace_file
        else:
            _replace_file = os.rename
        def dump(cache_file, data):
            fd, fpath = tempfile.mkstemp()
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            _replace_file(fpath, cache_file)
        """,
        line=10,
    ),
)

RULE = Rule(CODE, check, VALID, INVALID)
