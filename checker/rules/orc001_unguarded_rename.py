"""ORC001: a freshly written temp file is published onto a shared target with no guard.

The go-containerregistry bug in one line: two writers ``os.replace`` their own temp files onto
one blob path at the same time and, on Windows, the loser gets ``PermissionError: [WinError 5]
Access is denied`` (rows 5 and 6 of the decision table). Each writer's code is correct alone,
so nothing but a reviewer - or this rule - sees it before it fails on a Windows runner.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from ..temps import TempInfo
from .base import Context, Invalid, Rule, Valid, callee_text, publish_fix

__all__ = ["RULE"]

CODE = "ORC001"


def check(ctx: Context) -> Iterator[Finding]:
    analysis = ctx.analysis
    for publish in analysis.publish_calls:
        if publish.kind == "publish":
            continue  # the reference writer retries the Windows errors itself
        info = analysis.temp_info(publish.src)
        if info is None or not analysis.is_fresh(publish.src, info, publish.call):
            continue
        dst_info = analysis.temp_info(publish.dst, bindings=False)
        if dst_info is not None or analysis.contains_unique_part(publish.dst):
            continue  # renaming into another private name: nobody else writes there
        if analysis.windows_excluded(publish.call) or analysis.is_guarded(publish.call):
            continue
        if publish.kind == "rename" and (
            analysis.asserted_absent(publish.call, publish.dst)
            or analysis.chosen_no_replace(publish.call, publish.src, publish.dst)
        ):
            continue  # exclusive create on purpose: an existing target must fail
        if analysis.removal_before(publish) is not None:
            continue  # remove-then-rename: ORC006 reports it, more precisely
        if analysis.moves_back(publish):
            continue  # a restore of what another rename moved away: not new content
        callee = callee_text(ctx, publish)
        yield ctx.finding(
            CODE,
            publish.call,
            f"{callee} publishes the freshly written temp file {ctx.text(publish.src)} onto "
            f"{ctx.text(publish.dst)} with no lock, retry or publish-if-absent: when another "
            "writer publishes the same target at once, Windows fails the loser with "
            "PermissionError [WinError 5]",
            f"use {ctx.writer}.publish(tmp, dst), which retries the Windows errors, or hold "
            "one lock shared by every writer around the rename",
            publish_fix(ctx, publish),
            why=(*_source_why(info), *analysis.reasons(publish.call)),
        )


def _source_why(info: TempInfo) -> tuple[str, ...]:
    """Where a parameter's temp came from, so a reviewer can check the caller."""
    return (f"source: a parameter; {info.via}",) if info.via else ()


VALID = (
    # MoveFileExW without MOVEFILE_REPLACE_EXISTING fails on an existing target: code written
    # against the Windows API that leaves the flag out asks for publish-if-absent.
    Valid(
        """
        import os, tempfile
        from ctypes import windll
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            windll.kernel32.MoveFileExW(tmp, dst, 0x8)
        """
    ),
    # A handler that accepts the existing target when it is current, and raises otherwise.
    Valid(
        """
        import os, tempfile
        def extract(real_path, data, is_current):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.rename(tmp, real_path)
            except OSError:
                if os.path.isfile(real_path) and is_current(real_path):
                    return real_path
                raise
        """
    ),
    # The rename handed to a local helper that retries the Windows errors.
    Valid(
        """
        import os, tempfile, time
        class Cache:
            def _run_safely(self, fn, *args):
                for _ in range(10):
                    try:
                        return fn(*args)
                    except PermissionError:
                        time.sleep(0.01)
            def put(self, dst, data):
                fd, tmp = tempfile.mkstemp()
                os.write(fd, data)
                os.close(fd)
                self._run_safely(os.replace, tmp, dst)
        """
    ),
    # Guarded two callers up: a context manager that swallows EACCES around the save.
    Valid(
        """
        import contextlib, errno, os, uuid
        class Cache:
            @contextlib.contextmanager
            def _guard(self):
                try:
                    yield
                except OSError as e:
                    if e.errno != errno.EACCES:
                        raise
            def save(self, data):
                with self._guard():
                    self._save(data)
            def _save(self, data):
                self._write(self.path, data)
            def _write(self, path, data):
                tmp = f"{path}.tmp.{uuid.uuid4().hex}"
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
        """
    ),
    # Exclusive create on purpose: the target is asserted absent and os.rename must fail.
    Valid(
        """
        import os, tempfile
        def create(filename, data):
            assert not os.path.exists(filename)
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            os.rename(tmp, filename)
        """
    ),
    # A broad handler that gives up silently: a best-effort cache write whose loss is fine.
    Valid(
        """
        import os, tempfile
        def cache(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
            except OSError:
                pass
        """
    ),
    # Swallowing the Windows errnos is an accept.
    Valid(
        """
        import errno, os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
            except OSError as error:
                if error.errno not in (errno.EACCES, errno.EEXIST):
                    raise
        """
    ),
    # A lock shared by every writer (threading, filelock, a name containing "lock").
    Valid(
        """
        import os, tempfile, threading
        _lock = threading.Lock()
        def store(root, dst, data):
            fd, tmp = tempfile.mkstemp(dir=root)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            with _lock:
                os.replace(tmp, dst)
        """
    ),
    Valid(
        """
        import os, tempfile
        from filelock import FileLock
        def store(root, dst, data):
            fd, tmp = tempfile.mkstemp(dir=root)
            os.write(fd, data)
            os.close(fd)
            with FileLock(dst + ".lock"):
                os.replace(tmp, dst)
        """
    ),
    Valid(
        """
        import os, tempfile
        class Cache:
            def put(self, dst, data):
                fd, tmp = tempfile.mkstemp()
                os.write(fd, data)
                os.close(fd)
                with self._write_mutex:
                    os.replace(tmp, dst)
        """
    ),
    # Explicit acquire ... try/finally release.
    Valid(
        """
        import os, tempfile
        def store(lock, dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            lock.acquire()
            try:
                os.replace(tmp, dst)
            finally:
                lock.release()
        """
    ),
    # The Windows error is retried or accepted.
    Valid(
        """
        import os, tempfile, time
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            for attempt in range(5):
                try:
                    os.replace(tmp, dst)
                    break
                except PermissionError:
                    time.sleep(0.01 * 2 ** attempt)
        """
    ),
    Valid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
            except OSError:
                if not os.path.exists(dst):
                    raise
                os.unlink(tmp)  # an identical blob is already there: fine
        """
    ),
    Valid(
        """
        import contextlib, os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            with contextlib.suppress(PermissionError, FileExistsError):
                os.replace(tmp, dst)
        """
    ),
    # Retry decorators.
    Valid(
        """
        import os, tempfile
        from tenacity import retry, stop_after_attempt
        @retry(stop=stop_after_attempt(5))
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            os.replace(tmp, dst)
        """
    ),
    Valid(
        """
        import backoff, os, tempfile
        @backoff.on_exception(backoff.expo, PermissionError, max_tries=5)
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            os.replace(tmp, dst)
        """
    ),
    # A target unique per writer.
    Valid(
        """
        import os, tempfile, uuid
        def store(root, data):
            fd, tmp = tempfile.mkstemp(dir=root)
            os.write(fd, data)
            os.close(fd)
            os.replace(tmp, os.path.join(root, f"result-{uuid.uuid4().hex}"))
        """
    ),
    Valid(
        """
        import os, tempfile
        def store(root, data):
            fd, tmp = tempfile.mkstemp(dir=root)
            os.write(fd, data)
            os.close(fd)
            out = os.path.join(root, "out-%d" % os.getpid())
            os.replace(tmp, out)
        """
    ),
    # Publish-if-absent with os.link is not a rename.
    Valid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.link(tmp, dst)
            except FileExistsError:
                pass
            os.unlink(tmp)
        """
    ),
    # A wrapper in the same module whose every caller holds the lock.
    Valid(
        """
        import os, tempfile, threading
        LOCK = threading.RLock()
        def _store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            os.replace(tmp, dst)
        def store(dst, data):
            with LOCK:
                _store(dst, data)
        """
    ),
    # A project helper named replace: the checker cannot see into it, so it says nothing.
    Valid(
        """
        from myproject.fs import replace
        def store(tmp, dst):
            with open(tmp, "wb") as f:
                f.write(b"x")
            replace(tmp, dst)
        """
    ),
    # The reference writer is the fix.
    Valid(
        """
        import tempfile
        from pytest_ocirace import publish
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            with open(fd, "wb") as f:
                f.write(data)
            publish(tmp, dst)
        """
    ),
    # String methods are never findings.
    Valid(
        """
        def clean(text, tmp):
            with open(tmp, "w") as f:
                f.write(text.replace("a", "b"))
            return tmp.replace(".tmp", "")
        """
    ),
    # Nothing says the source is a temp file written here.
    Valid(
        """
        import os
        def archive(log, archived):
            os.replace(log, archived)
        """
    ),
    # A shadowing local named os is not the os module.
    Valid(
        """
        import os, tempfile
        def store(os, dst):
            fd, tmp = tempfile.mkstemp()
            os.replace(tmp, dst)
        """
    ),
    # POSIX-only branch: the Windows failure cannot happen there.
    Valid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            if os.name == "posix":
                os.replace(tmp, dst)
        """
    ),
    # A callable handed to a retry helper (extra-guard-functions names your own).
    Valid(
        """
        import os, tempfile
        from myproject.retry import retry_call
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            retry_call(os.replace, tmp, dst)
        """
    ),
    # Multi-module (the project index): the retry is in a caller in another module.
    Valid(
        {
            "pkg/__init__.py": "",
            "pkg/cli.py": """
                import time
                from pkg.store import save
                def main(dst, data):
                    for attempt in range(5):
                        try:
                            save(dst, data)
                            return
                        except PermissionError:
                            time.sleep(0.1)
                """,
            "pkg/store.py": """
                import os, tempfile
                def save(dst, data):
                    fd, tmp = tempfile.mkstemp()
                    os.write(fd, data)
                    os.close(fd)
                    os.replace(tmp, dst)
                """,
        }
    ),
    # A parameter no caller (here or in another module) passes a temp to: a move of the
    # caller's own file, not a publish of a temp.
    Valid(
        {
            "pkg/__init__.py": "",
            "pkg/cli.py": """
                from pkg.files import move_into
                def main(src, dst):
                    move_into(src, dst)
                """,
            "pkg/files.py": """
                import os
                def move_into(src, dst):
                    os.replace(src, dst)
                """,
        },
        path="pkg/files.py",
    ),
    # A silent handler that really gives up (nothing runs after the try) is a best-effort
    # write, as before.
    Valid(
        """
        import os, tempfile
        def cache(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
                return
            except OSError:
                pass
        """
    ),
    # A wrapper whose only temp-passing caller is the rollback in a handler that re-raises
    # (restoring the backup it made): a restore, not a publish.
    Valid(
        """
        import os, shutil
        def replace_file(src, dst):
            os.replace(src, dst)
        def writing(path, data):
            tmp_path = path + ".~tmp"
            shutil.copy2(path, tmp_path)
            try:
                with open(path, "wb") as f:
                    f.write(data)
            except BaseException:
                replace_file(tmp_path, path)
                raise
        """
    ),
    # Multi-module: the lock is two callers up (meson's BuildDirLock). ``app.generate()`` on
    # an object built from this module's own ``MesonApp`` class reaches MesonApp.generate,
    # not the backend's ``generate``: it is not counted as an (unguarded) caller.
    Valid(
        {
            "pkg/__init__.py": "",
            "pkg/setup.py": """
                from pkg.locks import BuildDirLock
                class MesonApp:
                    def generate(self):
                        with BuildDirLock(self.build_dir):
                            return self._generate()
                    def _generate(self):
                        self.backend.generate()
                def run():
                    app = MesonApp()
                    app.generate()
                """,
            "pkg/locks.py": """
                class BuildDirLock:
                    def __init__(self, path):
                        self.path = path
                """,
            "pkg/backend.py": """
                import os
                class NinjaBackend:
                    def generate(self):
                        tempfilename = self.outfilename + "~"
                        with open(tempfilename, "w") as f:
                            f.write("rules")
                        os.replace(tempfilename, self.outfilename)
                """,
        }
    ),
    # A retry loop stays a retry: the loop variable counts attempts and the body does not use
    # it, so the same rename runs again after the handler.
    Valid(
        """
        import os, tempfile, time
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            for attempt in range(5):
                try:
                    os.replace(tmp, dst)
                    break
                except PermissionError:
                    time.sleep(0.1)
        """
    ),
    # The only caller of the module's `copyfile` holds the lock; `shutil.copyfile(a, b)` is
    # a call of the import, not another (unguarded) caller of the module's function.
    Valid(
        """
        import os, shutil, tempfile, threading
        _lock = threading.Lock()
        def copyfile(source, dest):
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest))
            os.close(fd)
            shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
        def install(source, dest):
            with _lock:
                copyfile(source, dest)
        def mirror(a, b):
            shutil.copyfile(a, b)
        """
    ),
    # A private temp directory that nothing was handed before the move holds nothing
    # written by this run: only the directory's own name is built (no publish of a file).
    Valid(
        """
        import os, shutil, tempfile
        def layout(dst):
            with tempfile.TemporaryDirectory() as tmpdir:
                os.makedirs(os.path.join(tmpdir, "sub"))
                shutil.move(os.path.join(tmpdir, "sub"), dst)
        """
    ),
    # A name inside a private temp directory that nothing wrote (a parameter typed as a
    # temp directory, but no entry listed from it and no call handed it): not a fresh temp.
    Valid(
        """
        import os
        from tempfile import TemporaryDirectory
        def publish_one(build: TemporaryDirectory, dst):
            os.replace(os.path.join(build.name, "out.bin"), dst)
        """
    ),
    # The file object a caller passes is opened at the caller's own path, not at a temp:
    # ``f.name`` is not a temp file, whatever the function does with it.
    Valid(
        """
        import os
        class Writer:
            def __init__(self, path):
                self._path = path
            def get_fileobject(self):
                return open(self._path + ".out", "w")
            def open(self):
                return self._open(self.get_fileobject)
            def _open(self, get_fileobject):
                with get_fileobject() as f:
                    f.write("data")
                self.commit(f)
            def commit(self, f):
                os.replace(f.name, self._path)
        """
    ),
    # A function defined in a POSIX-only branch does not exist on Windows.
    Valid(
        """
        import os, sys, tempfile
        if sys.platform != "win32":
            def _replace_atomic(src, dst):
                os.rename(src, dst)
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            _replace_atomic(tmp, dst)
        """
    ),
    # ``.path`` of an object from a factory that says nothing of a temp: not known.
    Valid(
        """
        import os
        class FilePath:
            def set_content(self, content):
                sib = self.sibling("data")
                with sib.open("w") as f:
                    f.write(content)
                os.rename(sib.path, self.path)
        """
    ),
    # A loop that tries again: the handler ``continue``s before the ``break`` that ends a
    # successful pass (a bounded retry on the Windows error).
    Valid(
        """
        import os, tempfile, time
        def store(dst, data):
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dst))
            os.write(fd, data)
            os.close(fd)
            for attempt in range(5):
                try:
                    os.replace(tmp, dst)
                except PermissionError:
                    time.sleep(0.1)
                    continue
                break
        """
    ),
    # An attribute that the class's methods only ever bind to the target itself is no temp:
    # publishing it onto another name is not a temp publish.
    Valid(
        """
        import os
        class Mover:
            def build_path(self, target):
                self.realpath = target
                self.temppath = self.realpath
            def open(self, mode="wb"):
                return open(self.temppath, mode)
            def finalize(self, done):
                os.replace(self.temppath, done)
        """
    ),
    # Moving back what ``__init__`` moved away is a restore of the original file, not a
    # publish of new content (GitPython's ``TemporaryFileSwap``), though the "temp" is an
    # mkstemp name the class bound.
    Valid(
        """
        import os, tempfile
        class Swap:
            def __init__(self, path):
                self.path = path
                fd, self.aside = tempfile.mkstemp(dir=os.path.dirname(path))
                os.close(fd)
                os.replace(self.path, self.aside)
            def __exit__(self, *args):
                os.replace(self.aside, self.path)
        """
    ),
    # An attribute bound to what a helper returns is not a temp by construction: the helper
    # may return a private dir on one path and the user's checkout on another (pip's
    # ``self.source_dir``).
    Valid(
        """
        import shutil, tempfile
        class Requirement:
            def build_location(self):
                return tempfile.mkdtemp()
            def prepare(self, link):
                if link:
                    self.source_dir = link
                else:
                    self.source_dir = self.build_location()
            def move_to(self, dest):
                shutil.move(self.source_dir, dest)
        """
    ),
    # The inner loop over attempts is a retry: its variable is not what is published.
    Valid(
        """
        import os, time
        def publish_all(names, root):
            for name in names:
                tmp = os.path.join(root, name + ".tmp")
                with open(tmp, "w") as f:
                    f.write(name)
                target = os.path.join(root, name)
                for attempt in range(5):
                    try:
                        os.replace(tmp, target)
                        break
                    except PermissionError:
                        time.sleep(0.1)
        """
    ),
    # ``None`` on one branch and a value that is no temp on the other: the name is the
    # caller's backup, not the mkstemp file the function also made (only a name every
    # other binding of which is a temp holds a temp).
    Valid(
        """
        import os, tempfile
        def restore(backup, dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            src = None
            if os.path.exists(backup):
                src = backup
            if src is not None:
                os.replace(src, dst)
            os.unlink(tmp)
        """
    ),
    # ``self.attr = param`` in ``__init__``: the one constructor call passes the caller's own
    # file (no temp), so the attribute is what callers make of the object, not a temp.
    Valid(
        """
        import os
        class Swap:
            def __init__(self, staged, target):
                self._staged = staged
                self._target = target
            def close(self):
                os.replace(self._staged, self._target)
        def promote(path, target):
            Swap(path, target).close()
        """
    ),
    # The no-replace branch of a parameter's choice is publish-if-absent on purpose.
    Valid(
        """
        import os, tempfile
        from ocirace_writer import publish
        def store(dst, data, overwrite=False):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            if not overwrite:
                os.rename(tmp, dst)
            else:
                publish(tmp, dst)
        """
    ),
)

INVALID = (
    # Multi-module: the temp is an attribute that the class's ``__init__`` binds to an
    # mkstemp name (hatchling's ``WheelArchive.path``); the caller hands it to a wrapper in
    # another module whose handler falls back to a copy: reported at the wrapper.
    Invalid(
        {
            "pkg/__init__.py": "",
            "pkg/wheel.py": """
                import os, tempfile
                from pkg.utils import replace_file
                class WheelArchive:
                    def __init__(self):
                        raw_fd, self.path = tempfile.mkstemp(suffix=".whl")
                        self.fd = os.fdopen(raw_fd, "w+b")
                    def __enter__(self):
                        return self
                    def __exit__(self, *args):
                        self.fd.close()
                def build(target):
                    with WheelArchive() as archive:
                        archive.fd.write(b"zip")
                    replace_file(archive.path, target)
                """,
            "pkg/utils.py": """
                import os, shutil
                def replace_file(src, dst):
                    try:
                        os.replace(src, dst)
                    except OSError:
                        shutil.copy2(src, dst)
                        os.remove(src)
                """,
        },
        line=4,
        path="pkg/utils.py",
    ),
    # Multi-module: a function of the project handed a private temp directory (pip's
    # ``TempDirectory(...).path``) returns a file it wrote there; moving it into the shared
    # cache with a handler that only logs is unguarded (pip's wheel_builder).
    Invalid(
        {
            "pkg/__init__.py": "",
            "pkg/build.py": """
                import os
                def build_wheel(name, tempd):
                    path = os.path.join(tempd, name + ".whl")
                    with open(path, "wb") as f:
                        f.write(b"wheel")
                    return os.path.basename(path)
                """,
            "pkg/builder.py": """
                import logging, os, shutil
                from pkg.build import build_wheel
                from pkg.temp_dir import TempDirectory
                def build_one(name, output_dir):
                    with TempDirectory(kind="wheel") as temp_dir:
                        wheel_path = build_wheel(name, tempd=temp_dir.path)
                        dest_path = os.path.join(output_dir, os.path.basename(wheel_path))
                        try:
                            shutil.move(wheel_path, dest_path)
                        except Exception:
                            logging.warning("building %s failed", name)
                """,
        },
        line=9,
    ),
    # The temp comes back in a tuple through a retrying wrapper (meson's
    # get_data_with_backoff -> get_data), from a NamedTemporaryFile rebound by
    # ``with tmpfile as tmpfile:``.
    Invalid(
        """
        import os, tempfile
        class Wrap:
            def get_data(self, url):
                tmpfile = tempfile.NamedTemporaryFile(delete=False)
                with tmpfile as tmpfile:
                    tmpfile.write(url.encode())
                    return "hash", tmpfile.name
            def get_data_with_backoff(self, url):
                for delay in (1, 2):
                    try:
                        return self.get_data(url)
                    except OSError:
                        pass
                return self.get_data(url)
            def download(self, url, ofname):
                dhash, tmpfile = self.get_data_with_backoff(url)
                os.rename(tmpfile, ofname)
        """,
        line=17,
    ),
    # Multi-module: a wrapper publishes its own parameter; a caller in another module hands
    # it a fresh mkstemp temp (Django's file_move_safe from the file-based cache). One such
    # caller makes it a publish of a temp; the finding is at the wrapper's rename, and the
    # JSON ``why`` names the caller.
    Invalid(
        {
            "pkg/__init__.py": "",
            "pkg/cache.py": """
                import os, tempfile
                from pkg.move import move_safe
                def put(fname, data):
                    fd, tmp_path = tempfile.mkstemp()
                    os.write(fd, data)
                    os.close(fd)
                    move_safe(tmp_path, fname)
                """,
            "pkg/move.py": """
                import os
                def move_safe(old, new):
                    os.replace(old, new)
                """,
        },
        line=3,
        path="pkg/move.py",
        message="publishes the freshly written temp file old",
    ),
    # One caller in the module passes a temp, another its own file: the temp's path is a
    # publish whatever the other caller does.
    Invalid(
        """
        import os, tempfile
        def replace_file(src, dst):
            os.replace(src, dst)
        def save(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            replace_file(tmp, dst)
        def adopt(path, dst):
            replace_file(path, dst)
        """,
        line=3,
    ),
    # A silent handler after which the function goes on writing the target another way
    # (rename, else copy) does not give up: not a best-effort guard.
    Invalid(
        """
        import os, shutil, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.rename(tmp, dst)
                return
            except OSError:
                pass
            shutil.copyfile(tmp, dst)
        """,
        line=7,
    ),
    # A temporary file returned in a tuple by a local helper, bound to None until then.
    Invalid(
        """
        import os, shutil, tempfile
        def map_rows(rows, cache_file, update):
            def start():
                tmp = None
                if update:
                    tmp = tempfile.NamedTemporaryFile("wb", delete=False)
                return open(os.devnull, "wb"), tmp
            writer, tmp = None, None
            for row in rows:
                writer, tmp = start()
            if tmp is not None:
                tmp.close()
                shutil.move(tmp.name, cache_file)
        """,
        line=13,
    ),
    # MoveFileExW with MOVEFILE_REPLACE_EXISTING is os.replace, called through ctypes.
    Invalid(
        """
        import os, tempfile
        from ctypes import windll
        MOVEFILE_REPLACE_EXISTING = 0x1
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            windll.kernel32.MoveFileExW(tmp, dst, MOVEFILE_REPLACE_EXISTING | 0x8)
        """,
        line=8,
        message="MoveFileExW()",
    ),
    # ... and through a kernel32 handle loaded by name.
    Invalid(
        """
        import ctypes, os, tempfile
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            kernel32.MoveFileExW(tmp, dst, 1)
        """,
        line=7,
    ),
    # The temp is made by the only caller and passed in.
    Invalid(
        """
        import os, tempfile
        def _publish(tmp, dst):
            os.replace(tmp, dst)
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            _publish(tmp, dst)
        """,
        line=3,
    ),
    # A handler that hands the failure to an error reporter is not a guard.
    Invalid(
        """
        import os, tempfile
        def extract(manager, dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
            except OSError:
                manager.extraction_error()
        """,
        line=7,
    ),
    # A broad handler that reports the failure is not a guard: the clash becomes an error.
    Invalid(
        """
        import os, tempfile, logging
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
            except Exception:
                logging.warning("could not store %s", dst)
        """,
        line=7,
    ),
    # A handler that falls back to a copy over the target writes it non-atomically.
    Invalid(
        """
        import os, shutil, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
            except OSError:
                shutil.copy2(tmp, dst)
        """,
        line=7,
    ),
    # Re-raising exactly the errors that matter on Windows is not a guard.
    Invalid(
        """
        import errno, os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
            except OSError as error:
                if error.errno != errno.ENOENT:
                    raise
        """,
        line=7,
    ),
    # The temp comes from a helper of the same module, through tuple unpacking.
    Invalid(
        """
        import os, tempfile
        def _make_temp(directory):
            return tempfile.mkstemp(dir=directory)
        def store(dst, data):
            fd, tmp = _make_temp(os.path.dirname(dst))
            os.write(fd, data)
            os.close(fd)
            os.replace(tmp, dst)
        """,
        line=8,
    ),
    # fp.name of a plain open() of a uuid name is a fresh temp file.
    Invalid(
        """
        import os, uuid
        def store(dst, data):
            with open(f"{dst}.{uuid.uuid4().hex}", "wb") as fp:
                fp.write(data)
            os.replace(fp.name, dst)
        """,
        line=5,
    ),
    # The rename function behind a module-level alias.
    Invalid(
        """
        import os, tempfile
        safe_rename = getattr(os, "replace", os.rename)
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            safe_rename(tmp, dst)
        """,
        line=7,
    ),
    Invalid(
        """
        import os, tempfile
        def store(root, dst, data):
            fd, tmp = tempfile.mkstemp(dir=root)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        """,
        line=6,
        message="PermissionError [WinError 5]",
        applicability="safe",
        fixed="""
        import os, tempfile

        from ocirace_writer import publish
        def store(root, dst, data):
            fd, tmp = tempfile.mkstemp(dir=root)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            publish(tmp, dst)
        """,
    ),
    # Aliases: from os import replace as r.
    Invalid(
        """
        from os import replace as r
        import tempfile
        def store(dst, data):
            with tempfile.NamedTemporaryFile(delete=False) as f:
                f.write(data)
            r(f.name, dst)
        """,
        line=6,
        applicability="safe",
        fixed="""
        from os import replace as r
        import tempfile

        from ocirace_writer import publish
        def store(dst, data):
            with tempfile.NamedTemporaryFile(delete=False) as f:
                f.write(data)
            publish(f.name, dst)
        """,
    ),
    # import os as _os; a function-level import; a temp named by its variable and written here.
    Invalid(
        """
        def store(dst, data):
            import os as _os
            tmp_path = dst + ".tmp"
            with open(tmp_path, "wb") as f:
                f.write(data)
            _os.rename(tmp_path, dst)
        """,
        line=6,
        applicability="unsafe",  # rename raises FileExistsError on Windows; publish replaces
    ),
    # import shutil as sh.
    Invalid(
        """
        import shutil as sh
        import tempfile
        def store(dst, data):
            f = tempfile.NamedTemporaryFile(delete=False)
            f.write(data)
            f.close()
            sh.move(f.name, dst)
        """,
        line=7,
        applicability="unsafe",  # shutil.move copies across devices; publish does not
    ),
    # pathlib: Path(...).replace and pathlib.Path.
    Invalid(
        """
        import pathlib
        def store(target, data):
            tmp = pathlib.Path(target).with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(target)
        """,
        line=5,
        applicability="safe",
        fixed="""
        import pathlib

        from ocirace_writer import publish
        def store(target, data):
            tmp = pathlib.Path(target).with_suffix(".part")
            tmp.write_bytes(data)
            publish(tmp, target)
        """,
    ),
    Invalid(
        """
        from pathlib import Path
        import tempfile
        def store(root: Path, name, data):
            fd, tmp = tempfile.mkstemp(dir=root)
            Path(tmp).replace(root / name)
        """,
        line=5,
    ),
    # Calls passed as callables.
    Invalid(
        """
        import asyncio, os, tempfile
        async def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            await asyncio.to_thread(os.replace, tmp, dst)
        """,
        line=5,
        applicability="unsafe",  # a callable handed on: its result may be used
        fixed="""
        import asyncio, os, tempfile

        from ocirace_writer import publish
        async def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            await asyncio.to_thread(publish, tmp, dst)
        """,
    ),
    Invalid(
        """
        import asyncio, os, tempfile
        async def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, os.replace, tmp, dst)
        """,
        line=6,
    ),
    Invalid(
        """
        import os, tempfile
        def store(executor, dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            return executor.submit(os.replace, tmp, dst)
        """,
        line=5,
        applicability="unsafe",
    ),
    # A handler that only cleans up and re-raises is not a guard.
    Invalid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            try:
                os.replace(tmp, dst)
            except BaseException:
                os.unlink(tmp)
                raise
        """,
        line=7,
    ),
    # An existence check is not a guard: both writers see "absent".
    Invalid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            if not os.path.exists(dst):
                os.replace(tmp, dst)
        """,
        line=6,
    ),
    # A wrapper with one unguarded caller is still racy.
    Invalid(
        """
        import os, tempfile, threading
        LOCK = threading.Lock()
        def _store(dst, data):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.replace(tmp, dst)
        def store(dst, data):
            with LOCK:
                _store(dst, data)
        def store_fast(dst, data):
            _store(dst, data)
        """,
        line=6,
    ),
    # Module-level code counts too.
    Invalid(
        """
        import os, tempfile
        fd, tmp = tempfile.mkstemp()
        os.write(fd, b"x")
        os.replace(tmp, "shared.bin")
        """,
        line=4,
    ),
    # Multi-module: ``rename`` is another module's alias of os.rename, imported here.
    Invalid(
        {
            "pkg/__init__.py": "",
            "pkg/util.py": """
                import os
                rename = os.rename
                """,
            "pkg/db.py": """
                import tempfile
                from pkg.util import rename
                def store(dst, data):
                    fd, staged = tempfile.mkstemp()
                    with open(fd, "wb") as f:
                        f.write(data)
                    rename(staged, dst)
                """,
        },
        line=7,
    ),
    # Multi-module: the temp is written by a helper in another module.
    Invalid(
        {
            "pkg/__init__.py": "",
            "pkg/files.py": """
                import os, tempfile
                def write_staged(data):
                    fd, staged = tempfile.mkstemp()
                    os.write(fd, data)
                    os.close(fd)
                    return staged
                """,
            "pkg/cache.py": """
                import os
                from pkg.files import write_staged
                def put(dst, data):
                    staged = write_staged(data)
                    os.replace(staged, dst)
                """,
        },
        line=5,
    ),
    # Multi-module: the only guard is four callers up, beyond interprocedural-depth (3): the
    # callers in between are unknown, and unknown is never a guard.
    Invalid(
        {
            "pkg/__init__.py": "",
            "pkg/app.py": """
                from pkg.store import level3
                def main(dst, data):
                    try:
                        level3(dst, data)
                    except PermissionError:
                        pass
                """,
            "pkg/store.py": """
                import os, tempfile
                def save(dst, data):
                    fd, tmp = tempfile.mkstemp()
                    os.write(fd, data)
                    os.close(fd)
                    os.replace(tmp, dst)
                def level1(dst, data):
                    save(dst, data)
                def level2(dst, data):
                    level1(dst, data)
                def level3(dst, data):
                    level2(dst, data)
                """,
        },
        line=6,
    ),
    # What a call handed a private temp directory returns is a file it wrote there.
    Invalid(
        """
        import os, tempfile
        def fetch(finder, link, path):
            with tempfile.TemporaryDirectory() as dirname:
                downloaded = finder.download(link, dirname)
                os.replace(downloaded, path)
        """,
        line=5,
    ),
    # Whatever opens a path for writing by the (path, "wb") convention writes the file there.
    Invalid(
        """
        import gzip, os, shutil, tempfile
        def cache(fsrc, local_path, name):
            with tempfile.TemporaryDirectory() as tmpdir:
                opener = gzip.GzipFile
                with opener(os.path.join(tmpdir, name), "wb") as fdst:
                    shutil.copyfileobj(fsrc, fdst)
                os.replace(fdst.name, local_path)
        """,
        line=7,
    ),
    # A temp named with tempfile.gettempprefix() (Babel's update_catalog), renamed per catalog
    # in a loop over the catalogs: the loop goes on to the next file, it never tries this
    # rename again, and the handler falls back to a copy - not a retry, not a guard.
    Invalid(
        """
        import os, shutil, tempfile
        def update(catalogs, render):
            for filename in catalogs:
                tmpname = os.path.join(
                    os.path.dirname(filename),
                    tempfile.gettempprefix() + os.path.basename(filename),
                )
                with open(tmpname, "wb") as tmpfile:
                    tmpfile.write(render(filename))
                try:
                    os.rename(tmpname, filename)
                except OSError:
                    os.remove(filename)
                    shutil.copy(tmpname, filename)
                    os.remove(tmpname)
        """,
        line=11,
        message="publishes the freshly written temp file",
    ),
    # Written through a conversion: open(str(tmp_path), "wb") writes tmp_path (jax's
    # compilation cache, a shared `_temp_{key}` name).
    Invalid(
        """
        import os
        from pathlib import Path
        class Cache:
            def __init__(self, path):
                self._path = Path(path)
            def put(self, key, value):
                tmp_path = self._path / f"_temp_{key}"
                with open(str(tmp_path), "wb") as f:
                    f.write(value)
                os.replace(tmp_path, self._path / key)
        """,
        line=10,
    ),
    # A file in a private temp directory is written by whatever was handed the directory
    # (matplotlib's LaTeX run with --output-directory): publishing it is unguarded.
    Invalid(
        """
        import subprocess
        from pathlib import Path
        from tempfile import TemporaryDirectory
        def make_dvi(texfile, dvifile):
            with TemporaryDirectory(dir=Path(dvifile).parent) as tmpdir:
                tmppath = Path(tmpdir)
                subprocess.run(["latex", f"--output-directory={tmppath.name}", texfile])
                (tmppath / Path(dvifile).name).replace(dvifile)
        """,
        line=8,
    ),
    # A record returned by a call handed a private temp directory names a file it made there
    # (jupyterlab's `info = self._extract_package(source, tempdir)`, `info["path"]`).
    Invalid(
        """
        import shutil, tempfile
        class App:
            def install(self, source, target):
                with tempfile.TemporaryDirectory() as tempdir:
                    info = self._pack(source, tempdir)
                    shutil.move(info["path"], target)
        """,
        line=6,
    ),
    # The entries listed from a private temp directory (a parameter typed as one) are files
    # the writer put there: each is published onto a shared name with no guard.
    Invalid(
        """
        import os
        from tempfile import TemporaryDirectory
        def publish_all(build: TemporaryDirectory, target_dir):
            for item in os.listdir(build.name):
                os.replace(os.path.join(build.name, item), os.path.join(target_dir, item))
        """,
        line=5,
    ),
    # The temp is ``f.name`` of a file-object parameter: the caller opens it from a callable
    # parameter, which its own caller binds to a method returning ``open(**kwargs)`` of an
    # mkstemp name; the publish goes through two wrappers and a helper that hands its
    # argument back decoded (atomicwrites' AtomicWriter.commit -> replace_atomic ->
    # _replace_atomic -> MoveFileExW). Reported at the wrapper's publish.
    Invalid(
        """
        import io, os, sys, tempfile
        from ctypes import windll
        def _path_to_unicode(x):
            if not isinstance(x, str):
                return x.decode(sys.getfilesystemencoding())
            return x
        def _replace_atomic(src, dst):
            windll.kernel32.MoveFileExW(_path_to_unicode(src), _path_to_unicode(dst), 0x1)
        def replace_atomic(src, dst):
            return _replace_atomic(src, dst)
        class AtomicWriter:
            def __init__(self, path):
                self._path = path
            def open(self):
                return self._open(self.get_fileobject)
            def _open(self, get_fileobject):
                with get_fileobject(**{}) as f:
                    yield f
                self.commit(f)
            def get_fileobject(self, dir=None, **kwargs):
                descriptor, name = tempfile.mkstemp(dir=dir)
                os.close(descriptor)
                kwargs["file"] = name
                kwargs["mode"] = "w"
                return io.open(**kwargs)
            def commit(self, f):
                replace_atomic(f.name, self._path)
        """,
        line=8,
    ),
    # ``.path`` of an object a factory whose name says temporary made (Twisted's
    # ``FilePath.temporarySibling()``), written, then renamed onto the shared path.
    Invalid(
        """
        import os
        class FilePath:
            def set_content(self, content):
                sib = self.temporarySibling(".new")
                with sib.open("w") as f:
                    f.write(content)
                os.rename(sib.path, self.path)
        """,
        line=7,
    ),
    # The temp is an attribute another method binds (``self.temppath += ".part"``) and
    # another method writes (gallery-dl's ``PathFormat``); the ``while True`` around the
    # publish is no retry: the handler falls back to a copy and the ``break`` after the
    # ``try`` ends the loop.
    Invalid(
        """
        import os, shutil
        class PathFormat:
            def build_path(self, target):
                self.realpath = target
                self.temppath = self.realpath
                self.temppath += ".part"
            def open(self, mode="wb"):
                return open(self.temppath, mode)
            def finalize(self):
                while True:
                    try:
                        os.replace(self.temppath, self.realpath)
                    except FileNotFoundError:
                        os.makedirs(os.path.dirname(self.realpath))
                        continue
                    except OSError:
                        shutil.copyfile(self.temppath, self.realpath)
                        os.unlink(self.temppath)
                    break
        """,
        line=12,
    ),
    # An mkstemp name bound by ``__init__``, written by one method and published by
    # another: the class's methods make it a temp, wherever each runs.
    Invalid(
        """
        import os, tempfile
        class Saver:
            def __init__(self, path):
                self.path = path
                fd, self.tmp = tempfile.mkstemp(dir=os.path.dirname(path))
                self.fd = fd
            def write(self, data):
                os.write(self.fd, data)
                os.close(self.fd)
            def commit(self):
                os.replace(self.tmp, self.path)
        """,
        line=11,
    ),
    # A target attribute that the class binds to an mkstemp name only when no path was
    # given (gunicorn's pidfile) is the shared path on the other branch: no excuse for the
    # publish onto it.
    Invalid(
        """
        import os, tempfile
        class Pidfile:
            def __init__(self, fname):
                self.fname = fname
            def create(self, pid):
                fd, fname = tempfile.mkstemp(dir=os.path.dirname(self.fname or "."))
                os.write(fd, str(pid).encode())
                if self.fname:
                    os.rename(fname, self.fname)
                else:
                    self.fname = fname
                os.close(fd)
        """,
        line=9,
    ),
    # A ``for`` loop over the files to publish is no retry, also when the ``try`` uses the
    # loop variable only through names the body binds from it (nilearn's ``movetree``): the
    # handler that logs is not a guard.
    Invalid(
        """
        import logging, os
        log = logging.getLogger(__name__)
        def publish_all(names, root):
            for name in names:
                tmp = os.path.join(root, name + ".tmp")
                with open(tmp, "w") as f:
                    f.write(name)
                target = os.path.join(root, name)
                try:
                    os.replace(tmp, target)
                except OSError:
                    log.warning("could not publish %s", target)
        """,
        line=10,
    ),
    # A name bound to ``None`` on one branch and to an mkstemp name on the other (an
    # ``atomic_open`` that also reads): a rename of ``None`` would raise, so at the rename the
    # name holds the temp, although the ``None`` is the binding last in the text.
    Invalid(
        """
        import os, tempfile
        from contextlib import contextmanager
        @contextmanager
        def atomic_open(filename, mode="r"):
            if "r" not in mode:
                fd, tmp_filename = tempfile.mkstemp(dir=os.path.dirname(filename))
                f = os.fdopen(fd, mode)
            else:
                f = open(filename, mode)
                tmp_filename = None
            yield f
            f.close()
            if tmp_filename is not None:
                os.replace(tmp_filename, filename)
        """,
        line=14,
    ),
    # ``self.attr = param`` in ``__init__``, and a constructor call of the module passes a
    # fresh temp (a temp-looking name with a per-writer random part, created with
    # ``os.open(..., O_CREAT | O_EXCL)``): click's ``_AtomicFile``, whose ``close``
    # replaces the target.
    Invalid(
        """
        import os, random
        def open_atomic(filename):
            tmp_filename = os.path.join(
                os.path.dirname(filename), f".__atomic-write{random.randrange(1 << 32):08x}"
            )
            fd = os.open(tmp_filename, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            return _AtomicFile(open(fd, "w"), tmp_filename, os.path.realpath(filename))
        class _AtomicFile:
            def __init__(self, f, tmp_filename, real_filename):
                self._f = f
                self._tmp_filename = tmp_filename
                self._real_filename = real_filename
            def close(self):
                self._f.close()
                os.replace(self._tmp_filename, self._real_filename)
        """,
        line=15,
    ),
    # A temp-looking name with a per-writer part (``uuid``), written, then handed to a
    # wrapper that publishes its parameter: a temp by the rule for parameters (SCons'
    # ``CachePushFunc`` and ``FS.rename``); a temp-looking word alone would not be followed.
    Invalid(
        """
        import os, uuid
        def _publish(src, dst):
            os.replace(src, dst)
        def save(dst, data):
            tempfile = "%s.%s" % (dst, uuid.uuid4().hex)
            with open(tempfile, "wb") as f:
                f.write(data)
            _publish(tempfile, dst)
        """,
        line=3,
    ),
    # The rename in the branch where the parameter is *true* is not the no-replace choice:
    # ``if replace_existing: os.rename(...)`` still races.
    Invalid(
        """
        import os, tempfile
        def store(dst, data, replace_existing=True):
            fd, tmp = tempfile.mkstemp()
            os.write(fd, data)
            os.close(fd)
            if replace_existing:
                os.rename(tmp, dst)
            else:
                os.link(tmp, dst)
        """,
        line=7,
    ),
)

RULE = Rule(CODE, check, VALID, INVALID)
