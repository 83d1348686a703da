"""ORC003: ``os.rename``/``Path.rename`` publishes onto a target that may already exist.

On POSIX ``rename`` silently replaces the target, so code written there assumes it always
succeeds. On Windows ``os.rename`` is ``MoveFileExW`` without ``MOVEFILE_REPLACE_EXISTING``:
an existing target fails with ``FileExistsError [WinError 183]`` (rows 2 and 9) on the second
run, with a single writer and no race at all.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, Invalid, Rule, Valid, callee_text, rename_to_replace_fix

__all__ = ["RULE"]

CODE = "ORC003"


def check(ctx: Context) -> Iterator[Finding]:
    analysis = ctx.analysis
    for publish in analysis.publish_calls:
        if publish.kind != "rename":
            continue
        unpacked = analysis.unpacked_entry(publish.src)
        if analysis.temp_info(publish.src) is None and unpacked is None:
            continue  # moving a file away (logs, backups) is not publishing it; what the
            # function just unpacked into a location its object holds is fresh content
        if analysis.temp_info(publish.dst, bindings=False) is not None:
            continue
        if analysis.contains_unique_part(publish.dst):
            continue
        if analysis.handles_windows_errors(publish.call) or analysis.windows_excluded(publish.call):
            continue
        if analysis.asserted_absent(publish.call, publish.dst) or analysis.chosen_no_replace(
            publish.call, publish.src, publish.dst
        ):
            continue  # exclusive create on purpose: an existing target must fail
        if analysis.existence_checked(publish.call, publish.dst) or analysis.removal_before(
            publish
        ):
            continue  # absent unless raced (ORC001) or removed first (ORC006)
        if analysis.moves_back(publish):
            continue  # a restore of what another rename moved away: not new content
        yield ctx.finding(
            CODE,
            publish.call,
            f"{callee_text(ctx, publish)} onto {ctx.text(publish.dst)} fails with "
            "FileExistsError [WinError 183] on Windows whenever the target already exists, "
            "even with a single writer",
            "use os.replace() to overwrite the target, or "
            f"{ctx.writer}.publish(tmp, dst, overwrite=False) to keep an existing one",
            # An unpacked entry is usually a directory, which os.replace cannot put over an
            # existing one either: no automatic fix.
            None if unpacked is not None else rename_to_replace_fix(ctx, publish),
        )


VALID = (
    # Exclusive create on purpose: the target is asserted absent, so failing is the contract.
    Valid(
        """
        import os, tempfile
        def create(filename, data):
            assert not os.path.exists(filename), filename
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            os.rename(tmp, filename)
        """
    ),
    Valid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            os.replace(tmp, dst)
        """
    ),
    # Publish-if-absent on purpose: an existing target is accepted.
    Valid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.rename(tmp, dst)
            except FileExistsError:
                os.unlink(tmp)
        """
    ),
    # Renaming a log away to a unique name, or onto another private name.
    Valid(
        """
        import os, time
        def rotate(log):
            os.rename(log, f"{log}.{time.time_ns()}")
        """
    ),
    Valid(
        """
        import os
        def rotate(log, backup):
            os.rename(log, backup)
        """
    ),
    # Only runs on POSIX, where rename replaces.
    Valid(
        """
        import os, sys
        def store(tmp_name, dst):
            if sys.platform != "win32":
                os.rename(tmp_name, dst)
        """
    ),
    Valid(
        """
        import os
        def store(tmp_name, dst):
            if os.name == "nt":
                os.replace(tmp_name, dst)
            else:
                os.rename(tmp_name, dst)
        """
    ),
    # Windows returned early (reduced from virtualenv's app_data/cache_migration.py): the
    # rename and its copy fallback only run on POSIX, where rename replaces.
    Valid(
        """
        import os, shutil, tempfile
        def move_cache(old_dir, new_dir):
            if os.name != "posix":
                shutil.move(old_dir, new_dir)
                return
            try:
                os.rename(old_dir, new_dir)
            except OSError:
                staging = tempfile.mkdtemp(prefix=".migration-", dir=os.path.dirname(new_dir))
                try:
                    shutil.copytree(old_dir, staging, symlinks=True, dirs_exist_ok=True)
                    os.rename(staging, new_dir)
                except BaseException:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise
                shutil.rmtree(old_dir)
        """
    ),
    # Not a path method: str has no one-argument rename.
    Valid(
        """
        def relabel(frame, tmp_columns):
            return frame.rename(tmp_columns)
        """
    ),
    # Unpacked into a directory the caller hands in (it may have made it fresh for this
    # call): the function alone does not say the location is shared.
    Valid(
        """
        import os, shutil
        def install(archive, dest):
            shutil.unpack_archive(archive, extract_dir=dest)
            os.rename(os.path.join(dest, "go"), os.path.join(dest, ".go"))
        """
    ),
    # On Windows the alias is the import of the ``os.name == "nt"`` branch (``shutil.move``,
    # ORC004's business); the ``os.rename`` of the ``else`` never runs there.
    Valid(
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
        """
    ),
    # The caller chooses: ``overwrite`` replaces, otherwise ``os.rename`` fails on an
    # existing target, which is what a caller passing ``overwrite=False`` asked for
    # (boltons' ``atomic_rename``).
    Valid(
        """
        import os, tempfile
        def atomic_rename(src, dst, overwrite=False):
            if overwrite:
                os.replace(src, dst)
            else:
                os.rename(src, dst)
        def save(dst, data, overwrite):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            atomic_rename(tmp, dst, overwrite=overwrite)
        """
    ),
)

INVALID = (
    # A content hash computed over an mkstemp descriptor names the content, not the writer:
    # two writers of one content collide on the target.
    Invalid(
        """
        import hashlib, os, tempfile
        def pack(base_dir, chunks):
            fd, tmp = tempfile.mkstemp(dir=base_dir)
            digest = hashlib.sha1()
            for chunk in chunks:
                digest.update(chunk)
                os.write(fd, chunk)
            os.close(fd)
            final = os.path.join(base_dir, "pack-%s" % digest.hexdigest())
            os.rename(tmp, final)
        """,
        line=10,
    ),
    # The system temp directory is shared by every writer: not a per-writer name.
    Invalid(
        """
        import os, tempfile
        def store(name, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            os.rename(tmp, os.path.join(tempfile.gettempdir(), name))
        """,
        line=6,
    ),
    # The same fallback without the early return for Windows: if the first rename failed
    # because new_dir exists, so does the second (WinError 183).
    Invalid(
        """
        import os, shutil, tempfile
        def move_cache(old_dir, new_dir):
            try:
                os.rename(old_dir, new_dir)
            except OSError:
                staging = tempfile.mkdtemp(dir=os.path.dirname(new_dir))
                shutil.copytree(old_dir, staging, dirs_exist_ok=True)
                os.rename(staging, new_dir)
                shutil.rmtree(old_dir)
        """,
        line=8,
        applicability="safe",
    ),
    # An early return for something else does not make the rest POSIX-only.
    Invalid(
        """
        import os
        def store(tmp, dst, data):
            if not data:
                return
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, dst)
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
            os.rename(tmp, dst)
        """,
        line=6,
        message="FileExistsError [WinError 183]",
        applicability="safe",
        fixed="""
        import os
        def store(dst, data):
            tmp = dst + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        """,
    ),
    Invalid(
        """
        from pathlib import Path
        import tempfile
        def store(target: Path, data):
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as f:
                f.write(data)
            Path(f.name).rename(target)  # publish
        """,
        line=6,
        fixed="""
        from pathlib import Path
        import tempfile
        def store(target: Path, data):
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as f:
                f.write(data)
            Path(f.name).replace(target)  # publish
        """,
    ),
    Invalid(
        """
        from os import rename
        def store(tmp_file, dst):
            rename(tmp_file, dst)
        """,
        line=3,
        fixed="""
        import os
        from os import rename
        def store(tmp_file, dst):
            os.replace(tmp_file, dst)
        """,
    ),
    Invalid(
        """
        import os as o
        def store(partial, dst):
            o.rename(partial, dst)
        """,
        line=3,
        fixed="""
        import os as o
        def store(partial, dst):
            o.replace(partial, dst)
        """,
    ),
    # A try/except that re-raises does not handle the existing target.
    Invalid(
        """
        import os
        def store(tmp, dst):
            try:
                os.rename(tmp, dst)
            except OSError:
                os.unlink(tmp)
                raise
        """,
        line=4,
        applicability="unsafe",  # the handler may be there for rename's FileExistsError
    ),
    # Fresh content the function unpacked into a location its object holds (the same for
    # every run), renamed onto a fixed name there: the second install fails (WinError 183).
    Invalid(
        """
        import os, shutil
        class Tools:
            def install(self, archive):
                shutil.unpack_archive(archive, extract_dir=os.fsdecode(self.base_path))
                unpacked = self.base_path / "jdk-17.0.9"
                unpacked.rename(self.base_path / "java17")
        """,
        line=6,
    ),
    # The branch tests the world (does the target exist?), not a caller's choice: two
    # writers can both see no target, and the second rename fails with WinError 183.
    Invalid(
        """
        import os, tempfile
        def save(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            if os.path.exists(dst):
                os.replace(tmp, dst)
            else:
                os.rename(tmp, dst)
        """,
        line=9,
    ),
)

RULE = Rule(CODE, check, VALID, INVALID)
