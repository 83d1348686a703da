"""The side-effectful half of the harness: sdists, venvs, and bounded pytest runs.

Everything lives in a work directory outside the repository (``~/.cache/ocirace-bench`` by
default), so repeated runs reuse downloads and venvs, and nothing a project's suite writes
can land in this checkout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections import deque
from pathlib import Path
from typing import IO, Any

from .core import HarnessError, Project, RunResult, parse_junit, parse_verbose_log

REPO = Path(__file__).resolve().parents[2]

#: Options given to both runs alike. The project's own ``addopts`` are dropped (coverage
#: gates, doctest collection of the whole package, strict-config of plugins not installed
#: here); what each project needs instead is in projects.toml. ``-v`` puts each test id in
#: the output before it runs, so the tail of a hung run names the test that hung;
#: pytest-timeout fails a test that blocks for 3 minutes and dumps its threads' stacks.
COMMON_ARGS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:xdist",
    "-p",
    "no:randomly",
    "-o",
    "addopts=",
    "-o",
    "faulthandler_timeout=300",
    # pytest-timeout (installed in every venv): one hung test fails alone instead of
    # hanging the run; the harness's own timeout still catches a hang outside tests.
    "--timeout=180",
    "-o",
    "timeout_method=signal",  # the thread method ends the process: no JUnit XML
    "-v",
)

#: How much of a run's combined stdout/stderr is kept on disk (the head) and in memory
#: (the tail). The plugin has printed 660 MB for one suite; the harness must not.
HEAD_BYTES = 4 * 1024 * 1024
TAIL_BYTES = 64 * 1024

#: pytest's closing line ("==== 3 passed, 1 failed in 2.01s ===="). A process still alive
#: this long after printing it has hung at exit (issue 8 saw exactly that).
SUMMARY_LINE = re.compile(rb"\n=+ [^\n]* in [0-9.]+s(?: \([0-9:]+\))? =+\s*$")
EXIT_GRACE = 60.0


def _run(cmd: list[str], cwd: Path | None = None, log: Path | None = None) -> None:
    """Run a setup command; on failure, one line plus where the full output is."""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log or os.devnull, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise HarnessError(f"`{' '.join(cmd[:6])} ...` failed (exit {proc.returncode}); see {log}")


def _sdist_root(unpacked: Path) -> Path:
    entries = [p for p in unpacked.iterdir() if p.is_dir()]
    if len(entries) != 1:
        raise HarnessError(f"{unpacked}: expected one top-level directory in the sdist")
    return entries[0]


def _find_sdists(sdists: Path, project: Project) -> list[Path]:
    # sdist names normalise runs of "-", "_" and "." in the project name to "_" (PEP 625:
    # dogpile.cache's is dogpile_cache-1.5.0.tar.gz), older ones keep the name as typed:
    # compare the name parts normalised (PEP 503), the version as it is.
    wanted = _normalised(project.name)
    marker = f"-{project.version}.".lower()
    found = []
    for path in sdists.iterdir():
        lower = path.name.lower()
        cut = lower.rfind(marker)
        archive = lower[cut + len(marker) :]
        if (
            path.is_file()
            and cut > 0
            and archive in _ARCHIVES
            and _normalised(lower[:cut]) == wanted
        ):
            found.append(path)
    return sorted(found)


_ARCHIVES = frozenset({"tar.gz", "tgz", "tar.bz2", "zip"})


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def prepare_source(project: Project, workdir: Path) -> Path:
    """Download the sdist (once) and unpack a fresh copy of it; returns the source root.

    The copy is fresh each time so that a previous run's leftovers (a suite that writes
    next to its tests) cannot change this run.
    """
    sdists = workdir / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    candidates = _find_sdists(sdists, project)
    if not candidates:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                # Only the project itself from source: its build backends' own build
                # dependencies may be wheels (hatch-vcs from source needs packages that
                # are not on every index).
                "--no-binary",
                project.name,
                "--dest",
                str(sdists),
                project.requirement,
            ],
            log=workdir / "logs" / f"{project.name}-setup.log",
        )
        candidates = _find_sdists(sdists, project)
    if not candidates:
        raise HarnessError(f"no sdist for {project.requirement} in {sdists} after pip download")
    archive = candidates[0]
    dest = workdir / "src" / project.name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            if sys.version_info >= (3, 12):
                tf.extractall(dest, filter="data")
            else:
                tf.extractall(dest)
    return _sdist_root(dest)


def venv_marker(project: Project, repo: Path = REPO) -> str:
    """What a project's venv was built from; a venv whose marker differs is rebuilt.

    The checkout's ``pyproject.toml`` is part of it: its entry points (the ``pytest11``
    plugin module) are written into the venv at install time, and after a layout move a
    stale one failed every run at start-up (``No module named 'pytest_ocirace.plugin'``).
    """
    pyproject = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()[:16]
    return "\n".join([project.requirement, *project.deps, str(repo), pyproject])


def prepare_venv(project: Project, source: Path, workdir: Path, rebuild: bool = False) -> Path:
    """One venv per project, reused while its marker file says the same requirements."""
    venv = workdir / "venvs" / project.name
    python = venv / "bin" / "python"
    marker = venv / "ocirace-bench.txt"
    wanted = venv_marker(project)
    if rebuild and venv.exists():
        shutil.rmtree(venv)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    if venv.exists():
        shutil.rmtree(venv)
    log = workdir / "logs" / f"{project.name}-setup.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(venv)], log=log)
    pip = [str(python), "-m", "pip", "install", "-q"]
    _run([*pip, str(source), "pytest", "pytest-timeout", *project.deps], log=log)
    # This checkout, editable, so the harness always measures the code in front of it; the
    # writer distribution it pins first, from the same checkout (it is not on the index).
    _run([*pip, "-e", str(REPO / "writer"), "-e", str(REPO)], log=log)
    marker.write_text(wanted)
    return python


#: The folders of a checkout that a suite's run imports (the plugin and the writer).
COMPILED = ("pytest_ocirace", "writer/src")


def byte_compile(python: Path | str, checkout: Path) -> None:
    """Write the bytecode of ``checkout``'s plugin and writer for ``python``, once per change.

    The runs set ``PYTHONDONTWRITEBYTECODE`` (a suite's own tree must stay as it was), so a
    checkout nobody byte-compiled was compiled from source inside every run: in the first
    simulated test, which imports the simulation (0.06-0.19 s more than with bytecode:
    1.7 ms of each of configobj's 75 tests, w/pertest). An installed plugin has its bytecode; the
    measured run must too. ``compileall`` writes only what is missing or stale.
    """
    folders = [str(checkout / folder) for folder in COMPILED if (checkout / folder).is_dir()]
    if not folders:
        raise HarnessError(f"{checkout} holds none of {', '.join(COMPILED)}")
    proc = subprocess.run(
        [str(python), "-m", "compileall", "-q", *folders],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    if proc.returncode != 0:
        head = proc.stdout.decode("utf-8", "replace").strip().splitlines()[:1]
        raise HarnessError(
            f"byte-compiling {checkout} with {python} failed (exit {proc.returncode}): "
            + (head[0] if head else "no output")
        )


class _BoundedSink:
    """Keeps the first HEAD_BYTES of a stream in a file and the last TAIL_BYTES in memory."""

    def __init__(self, stream: IO[bytes], path: Path) -> None:
        self.total = 0
        self.summary_at: float | None = None
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._thread = threading.Thread(target=self._pump, args=(stream, path), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes], path: Path) -> None:
        with path.open("wb") as out:
            # os.read returns what the pipe has; a buffered read() would wait for a full
            # chunk, and a quiet hung process would never show its last lines.
            while chunk := os.read(stream.fileno(), 65536):
                if self.total < HEAD_BYTES:
                    out.write(chunk[: HEAD_BYTES - self.total])
                    out.flush()  # the log of a running suite is for watching
                self.total += len(chunk)
                self._tail.append(chunk)
                self._tail_size += len(chunk)
                while self._tail_size - len(self._tail[0]) >= TAIL_BYTES:
                    self._tail_size -= len(self._tail.popleft())
                recent = b"".join(list(self._tail)[-3:])[-4096:]
                if SUMMARY_LINE.search(recent):
                    self.summary_at = time.monotonic()
            if self.total > HEAD_BYTES:
                out.write(f"\n[... {self.total - HEAD_BYTES} bytes not kept ...]\n".encode())

    def finish(self, timeout: float = 30.0) -> str:
        self._thread.join(timeout)
        return b"".join(self._tail)[-TAIL_BYTES:].decode("utf-8", "replace")


def _tree(root: Path) -> set[str]:
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git")]
        rel = os.path.relpath(dirpath, root)
        found.update(os.path.normpath(os.path.join(rel, name)) for name in filenames)
    return found


def run_suite(
    project: Project,
    python: Path,
    source: Path,
    workdir: Path,
    label: str,
    extra: tuple[str, ...],
    timeout: float,
) -> RunResult:
    """One pytest run in its own process group, killed whole if it outlives ``timeout``."""
    runs = workdir / "runs" / project.name
    runs.mkdir(parents=True, exist_ok=True)
    junit = runs / f"{label}.xml"
    log = runs / f"{label}.log"
    basetemp = runs / f"tmp-{label}"
    for stale in (junit,):
        stale.unlink(missing_ok=True)
    if basetemp.exists():
        shutil.rmtree(basetemp, ignore_errors=True)
    cmd = [
        str(python),
        "-m",
        "pytest",
        *COMMON_ARGS,
        f"--junitxml={junit}",
        f"--basetemp={basetemp}",
        *project.args,
        *extra,
    ]
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # stdout is a pipe: unbuffered, so a run killed as hung has shown its last test.
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONHASHSEED"] = "0"
    # Quoted as a shell would read it: a -k expression is one argument ("not TestFileCache").
    (runs / f"{label}.cmd").write_text(shlex.join(cmd) + "\n")
    # What the run leaves in the source tree (its real working directory): under the
    # simulation, anything here was written by something that bypassed the fake filesystem
    # (sqlite3 creates 'C:\\Users\\...\\cache.db' literally in the real cwd).
    before = _tree(source)
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=source,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    sink = _BoundedSink(proc.stdout, log)
    hung = False
    while proc.poll() is None:
        now = time.monotonic()
        late = sink.summary_at is not None and now - sink.summary_at > EXIT_GRACE
        if now - start > timeout or late:
            hung = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.2)
    wall = time.monotonic() - start
    # Children the suite left behind would hold the pipe open.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if hung and sink.summary_at is not None:
        # The tests finished; only the exit hung. Time the work, not the wait.
        wall = sink.summary_at - start
    tail = sink.finish()
    result = RunResult(
        wall=wall,
        returncode=proc.returncode,
        hung=hung,
        hung_after_summary=hung and sink.summary_at is not None,
        output_bytes=sink.total,
        tail=tail,
        stray_files=sorted(_tree(source) - before),
    )
    if junit.exists() and junit.stat().st_size > 0:
        try:
            result.outcomes = parse_junit(junit)
        except HarnessError:
            result.junit_missing = True
    else:
        result.junit_missing = True
    if result.junit_missing:
        # Killed (hung, or pytest-timeout's thread method ending the process) before it
        # wrote its XML: salvage the verdicts -v printed (the log's head).
        result.outcomes = parse_verbose_log(log.read_text(errors="replace") + tail)
    meta = {k: v for k, v in vars(result).items() if k not in ("outcomes", "tail")}
    (runs / f"{label}.json").write_text(json.dumps(meta, indent=1) + "\n")
    (runs / f"{label}.tail").write_text(tail)
    return result


def load_run(project: Project, workdir: Path, label: str) -> RunResult:
    """A finished run read back from its files, to re-classify without running again."""
    runs = workdir / "runs" / project.name
    try:
        meta = json.loads((runs / f"{label}.json").read_text())
    except FileNotFoundError:
        raise HarnessError(
            f"{project.name}: no recorded {label} run in {runs}; run without --from-runs first"
        ) from None
    result = RunResult(**meta)
    tail_file = runs / f"{label}.tail"
    result.tail = tail_file.read_text() if tail_file.exists() else ""
    junit = runs / f"{label}.xml"
    if not result.junit_missing:
        result.outcomes = parse_junit(junit)
    else:
        log = runs / f"{label}.log"
        result.outcomes = parse_verbose_log(log.read_text(errors="replace") + result.tail)
    return result


def recorded_command(runs: Path, run: str, basetemp: Path) -> list[str]:
    """The command of the last ``run`` ("plain"/"ocirace") recorded in ``runs``, to replay.

    Without its JUnit file and with ``basetemp`` for pytest's temporary directories, so that
    a replay overwrites neither the recorded results nor another variant's files.
    """
    return [
        part if not part.startswith("--basetemp") else f"--basetemp={basetemp}"
        for part in shlex.split((runs / f"{run}.cmd").read_text())
        if not part.startswith("--junitxml")
    ]


def prepared_run(workdir: Path, name: str, script: str) -> tuple[Path, Path] | None:
    """The recorded runs and the unpacked source tree of ``name`` in ``workdir``.

    ``None``, said in one line on stderr, when ``bench_suites.py`` has not prepared it.
    """
    runs = workdir / "runs" / name
    sources = sorted((workdir / "src" / name).glob("*/"))
    if not (runs / "plain.cmd").is_file() or not sources:
        print(
            f"{script}: no prepared run of {name!r} in {workdir}; run "
            f"bench/bench_suites.py --workdir {workdir} --only {name} first",
            file=sys.stderr,
        )
        return None
    byte_compile(recorded_python(runs), REPO)
    return runs, sources[0]


def recorded_python(runs: Path) -> str:
    """The venv's python of the recorded runs in ``runs`` (the first word of the command)."""
    return shlex.split((runs / "plain.cmd").read_text())[0]


def measured_run(
    command: list[str], cwd: Path, pythonpath: list[Path], variable: str, script: str
) -> dict[str, Any]:
    """Run ``command`` with a measuring plugin; the last JSON line it wrote.

    The plugin (on ``pythonpath``) writes to the file named by the environment ``variable``.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as out:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        env.pop("PYTEST_ADDOPTS", None)
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
        env[variable] = out.name
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
        lines = out.read().splitlines()
    if not lines:
        raise SystemExit(f"{script}: the run wrote no result: {' '.join(command)}")
    return dict(json.loads(lines[-1]))
