"""ORC006: the target is removed and then the temp renamed onto it.

The classic workaround for ``os.rename`` failing on Windows: delete the target first. It
opens a window in which readers find no file, the removal can leave a delete-pending name that
makes the rename fail with ``PermissionError [WinError 5]`` (rows 13 and 19), and if the
rename then fails the old data is already gone. ``os.replace`` does both steps as one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..analysis import PublishCall
from ..model import Edit, Finding, Fix
from .base import Context, Invalid, Rule, Valid

__all__ = ["RULE"]

CODE = "ORC006"


def check(ctx: Context) -> Iterator[Finding]:
    analysis = ctx.analysis
    reported: set[ast.AST] = set()
    for publish in analysis.publish_calls:
        if analysis.temp_info(publish.src) is None and analysis.unpacked_entry(publish.src) is None:
            continue  # rotating logs or backups is not publishing a temp file (what the
            # function just unpacked into a location its object holds is fresh content)
        removal = analysis.removal_before(publish)
        if removal is None or removal in reported:
            continue
        if analysis.windows_excluded(publish.call) and analysis.windows_excluded(removal):
            continue
        if analysis.lock_everywhere(publish.call):
            continue  # no other writer can publish or read-modify in the window (here or
            # in every caller: datasets' incomplete_dir under download_and_prepare's lock)
        reported.add(removal)
        yield ctx.finding(
            CODE,
            publish.call,
            f"{ctx.text(publish.src)} is renamed onto {ctx.text(publish.dst)} after the target "
            f"was removed (line {removal.lineno}): readers see no file in between, "
            "Windows can fail the rename on the delete-pending name (PermissionError "
            "[WinError 5]), and the data is lost if the rename fails",
            f"drop the removal and use os.replace() or {ctx.writer}.publish(tmp, dst), "
            "which replace the target in one step",
            _fix(ctx, removal, publish),
            related=[(removal, f"{ctx.text(publish.dst)} is removed here")],
        )


def _removal_statement(ctx: Context, removal: ast.Call) -> ast.stmt | None:
    """The statement to delete: the bare call, or its ``if exists:``/``try``/``suppress`` shell."""
    statement = ctx.analysis.statement_of(removal)
    if not isinstance(statement, ast.Expr) or statement.value is not removal:
        return None
    parent = ctx.analysis.parents.get(statement)
    if (
        isinstance(parent, ast.If)
        and parent.body == [statement]
        and not parent.orelse
        and ("exists" in ast.unparse(parent.test) or "isfile" in ast.unparse(parent.test))
    ):
        return parent
    if (
        isinstance(parent, ast.Try)
        and parent.body == [statement]
        and not parent.orelse
        and not parent.finalbody
        and all(len(h.body) == 1 and isinstance(h.body[0], ast.Pass) for h in parent.handlers)
    ):
        return parent
    if (
        isinstance(parent, ast.With)
        and parent.body == [statement]
        and "suppress" in ast.unparse(parent.items[0].context_expr)
    ):
        return parent
    return statement


def _fix(ctx: Context, removal: ast.Call, publish: PublishCall) -> Fix | None:
    if publish.kind == "move" or publish.via is not None:
        return None
    statement = _removal_statement(ctx, removal)
    if statement is None:
        return None
    source = ctx.source
    start, end = statement.lineno, statement.end_lineno or statement.lineno
    if source.char_column(start, statement.col_offset) != len(source.indentation(start)):
        return None
    tail = source.line(end)[source.char_column(end, statement.end_col_offset or 0) :]
    if tail.strip() and not tail.strip().startswith("#"):
        return None
    parent = ctx.analysis.parents.get(statement)
    siblings = getattr(parent, "body", None)
    edits: list[Edit] = []
    if isinstance(siblings, list) and siblings == [statement]:
        column = len(source.indentation(start))
        end_column = len(source.line(end).rstrip("\r\n"))
        edits.append(Edit(start, column, end, end_column, "pass"))
    elif end < len(source.lines):
        edits.append(Edit(start, 0, end + 1, 0, ""))
    else:
        return None
    if publish.kind == "publish":
        pass  # publish() already replaces the target: only the removal goes
    elif publish.kind == "rename" and isinstance(publish.callee, ast.Attribute):
        _, _, line, column = source.span(publish.callee)
        if source.line(line)[column - 6 : column] != "rename":
            return None
        edits.append(Edit(line, column - 6, line, column, "replace"))
    elif publish.kind == "rename":
        return None
    return Fix("Remove the deletion and replace the target in one step", "unsafe", tuple(edits))


VALID = (
    Valid(
        """
        import os
        def store(tmp, dst):
            os.replace(tmp, dst)
        """
    ),
    # The removal is on a path that returns: the rename happens on the other path.
    Valid(
        """
        import os
        def store(tmp, dst, cancelled):
            if cancelled:
                os.remove(dst)
                return
            os.replace(tmp, dst)
        """
    ),
    # The removal and the rename are on different branches.
    Valid(
        """
        import os, tempfile
        def copy_entry(source, target):
            if os.path.isdir(source):
                if os.path.islink(target):
                    os.unlink(target)
                os.makedirs(target, exist_ok=True)
            else:
                fd, temp_path = tempfile.mkstemp()
                os.replace(temp_path, target)
        """
    ),
    # Removing the temp, not the target.
    Valid(
        """
        import os
        def store(tmp, dst):
            os.replace(tmp, dst)
            if os.path.exists(tmp):
                os.remove(tmp)
        """
    ),
    # The lock is held by every caller of the context manager that removes and renames.
    Valid(
        """
        import contextlib, os, shutil
        from filelock import FileLock
        class Builder:
            @contextlib.contextmanager
            def incomplete_dir(self, dirname):
                tmp_dir = dirname + ".incomplete"
                os.makedirs(tmp_dir)
                yield tmp_dir
                if os.path.isdir(dirname):
                    shutil.rmtree(dirname)
                shutil.move(tmp_dir, dirname)
            def prepare(self, output_dir):
                with FileLock(output_dir + "_builder.lock"):
                    with self.incomplete_dir(output_dir) as tmp:
                        open(os.path.join(tmp, "data"), "wb").close()
        """
    ),
    # A loop over a list that also holds a directory that is not a private temp (a
    # parameter the caller names): its entries are the caller's files, not temps.
    Valid(
        """
        import os, shutil, tempfile
        def install(target_dir, src_dir):
            work = tempfile.mkdtemp()
            dirs = [work]
            dirs.append(src_dir)
            for d in dirs:
                for item in os.listdir(d):
                    dst = os.path.join(target_dir, item)
                    if os.path.exists(dst):
                        shutil.rmtree(dst)
                    shutil.move(os.path.join(d, item), dst)
        """
    ),
    # Handed to a call that writes but says nothing of a temp: the caller's own file.
    Valid(
        """
        import os, sys
        class Persistent:
            def save(self, finalname):
                filename = finalname + "-2"
                self._save(filename, self.dump)
                if sys.platform == "win32" and os.path.isfile(finalname):
                    os.remove(finalname)
                os.rename(filename, finalname)
        """
    ),
    # The entry was unpacked into a directory the caller hands in, which may be a fresh
    # one of this call: the function alone does not say anyone else publishes there.
    Valid(
        """
        import os, shutil
        def install(archive, dest, target):
            shutil.unpack_archive(archive, extract_dir=dest)
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(os.path.join(dest, "tools"), target)
        """
    ),
    # Multi-module: the star-imported module declares ``__all__`` without ``os``, so the
    # star import does not bind it: ``os`` is unknown here, and nothing is a rename.
    Valid(
        {
            "pkg/__init__.py": "",
            "pkg/common.py": """
                import os
                __all__ = ["log"]
                def log(message):
                    print(message)
            """,
            "pkg/extractor.py": """
                from .common import *
                def url_save(data, filepath):
                    temp_filepath = filepath + ".download"
                    with open(temp_filepath, "wb") as output:
                        output.write(data)
                    if os.access(filepath, os.W_OK):
                        os.remove(filepath)
                    os.rename(temp_filepath, filepath)
            """,
        }
    ),
)

INVALID = (
    # Multi-module: ``os`` comes from ``from .common import *`` (you-get's extractors): a
    # name the module never binds is what the star-imported checked module binds it to.
    Invalid(
        {
            "pkg/__init__.py": "",
            "pkg/common.py": """
                import os
                def log(message):
                    print(message)
            """,
            "pkg/extractor.py": """
                from .common import *
                def url_save(data, filepath):
                    temp_filepath = filepath + ".download"
                    with open(temp_filepath, "wb") as output:
                        output.write(data)
                    if os.access(filepath, os.W_OK):
                        os.remove(filepath)
                    os.rename(temp_filepath, filepath)
            """,
        },
        line=8,
    ),
    Invalid(
        """
        import os
        def store(tmp, dst):
            if os.path.exists(dst):
                os.remove(dst)
            os.rename(tmp, dst)
        """,
        line=5,
        message="after the target was removed",
        fixed="""
        import os
        def store(tmp, dst):
            os.replace(tmp, dst)
        """,
    ),
    Invalid(
        """
        import os
        def store(tmp, dst):
            try:
                os.unlink(dst)
            except FileNotFoundError:
                pass
            os.replace(tmp, dst)
        """,
        line=7,
        fixed="""
        import os
        def store(tmp, dst):
            os.replace(tmp, dst)
        """,
    ),
    Invalid(
        """
        from pathlib import Path
        def store(tmp: Path, target: Path):
            target.unlink(missing_ok=True)
            tmp.rename(target)
        """,
        line=4,
    ),
    Invalid(
        """
        import os
        def store(tmp, dst):
            try:
                os.rename(tmp, dst)
            except FileExistsError:
                os.remove(dst)
                os.rename(tmp, dst)
        """,
        line=7,
    ),
    # Multi-module: a parameter typed as a temp-directory object, a record that a function of
    # the project makes from it (``scheme.purelib``), a list of those built by appends, and
    # the entries listed from each (pip's ``--target`` install): every entry is a file the
    # writer put in its private directory, moved onto a removed target.
    Invalid(
        {
            "pkg/__init__.py": "",
            "pkg/locations.py": """
                import os
                class Scheme:
                    def __init__(self, purelib, data):
                        self.purelib = purelib
                        self.data = data
                def get_scheme(name, home):
                    return Scheme(os.path.join(home, "lib"), os.path.join(home, "data"))
                """,
            "pkg/install.py": """
                import os, shutil
                from pkg.locations import get_scheme
                from pkg.temp_dir import TempDirectory
                def handle_target_dir(target_dir, target_temp_dir: TempDirectory):
                    lib_dir_list = []
                    scheme = get_scheme("", home=target_temp_dir.path)
                    purelib_dir = scheme.purelib
                    data_dir = scheme.data
                    if os.path.exists(purelib_dir):
                        lib_dir_list.append(purelib_dir)
                    if os.path.exists(data_dir):
                        lib_dir_list.append(data_dir)
                    for lib_dir in lib_dir_list:
                        for item in os.listdir(lib_dir):
                            target_item_dir = os.path.join(target_dir, item)
                            if os.path.exists(target_item_dir):
                                shutil.rmtree(target_item_dir)
                            shutil.move(os.path.join(lib_dir, item), target_item_dir)
                """,
        },
        line=18,
    ),
    # A path handed to a method whose name says it writes a temp (Twisted's
    # ``Persistent.save``: ``self._saveTemp(filename, dump)``) is a temp; the Windows branch
    # removes the target before the rename.
    Invalid(
        """
        import os, sys
        class Persistent:
            def save(self, finalname):
                filename = finalname + "-2"
                self._saveTemp(filename, self.dump)
                if sys.platform == "win32" and os.path.isfile(finalname):
                    os.remove(finalname)
                os.rename(filename, finalname)
        """,
        line=8,
    ),
    # Fresh content unpacked into a location the object holds (the same for every run),
    # renamed onto the name just removed: a running tool holding files there fails it.
    Invalid(
        """
        import shutil
        class Sdk:
            def install(self, archive):
                shutil.unpack_archive(archive, extract_dir=self.tools_path.parent)
                if self.tools_path.exists():
                    shutil.rmtree(self.tools_path)
                (self.tools_path.parent / "cmdline-tools").rename(self.tools_path)
        """,
        line=7,
    ),
)

RULE = Rule(CODE, check, VALID, INVALID)
