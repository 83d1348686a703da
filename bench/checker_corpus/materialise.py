"""Lay the pinned PyPI projects of the corpus out as a tree ready to lint.

    python bench/checker_corpus/materialise.py [--cache DIR] [--out DIR] [--only NAME ...]

Downloads each project's archive once with pip (``pip download --no-deps``, sdist unless the
site file says ``source = "wheel"``) into the cache, unpacks it, checks every site's
fingerprint at its line, and copies the project's package directories (whole packages, since
a whole-project analysis needs the sibling modules) into ``OUT/<name>-<version>/...``.  Both
directories default to ``~/.cache/ocirace-corpus`` - outside any git work tree, so that no
``.gitignore`` of ours hides the files from the tools.  Exit 1 on any drifted fingerprint,
with one line per problem.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_model import CorpusError, Project, Site, check_fingerprint, load_corpus

HERE = Path(__file__).resolve().parent
SITES = HERE / "sites.toml"
DEFAULT_ROOT = Path(os.environ.get("OCIRACE_CORPUS_DIR", Path.home() / ".cache" / "ocirace-corpus"))
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".zip", ".whl")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _find_archive(cache: Path, project: Project) -> Path | None:
    for entry in sorted(cache.iterdir()) if cache.is_dir() else []:
        suffix = next((s for s in _ARCHIVE_SUFFIXES if entry.name.endswith(s)), None)
        if suffix is None or (suffix == ".whl") != (project.source == "wheel"):
            continue
        stem = entry.name[: -len(suffix)]
        if suffix == ".whl":
            name, _, rest = stem.partition("-")
            version = rest.split("-")[0]
        else:
            name, _, version = stem.rpartition("-")
        if _normal(name) == _normal(project.name) and version == project.version:
            return entry
    return None


def download(cache: Path, project: Project) -> Path:
    """The project's archive in the cache, fetched with pip the first time."""
    found = _find_archive(cache, project)
    if found is not None:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    kind = ["--only-binary", ":all:"] if project.source == "wheel" else ["--no-binary", ":all:"]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *kind]
    command += [f"{project.name}=={project.version}", "--dest", str(cache)]
    print(f"downloading {project.name}=={project.version} ({project.source})", file=sys.stderr)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = _find_archive(cache, project)
    if done.returncode != 0 or found is None:
        last = (done.stderr.strip().splitlines() or ["no archive appeared"])[-1]
        raise CorpusError(
            f"{project.name}=={project.version}: pip download failed ({last}); "
            "check the network to PyPI, or pin another version in sites.toml"
        )
    return found


def unpack(archive: Path, into: Path) -> Path:
    """Unpack once; return the directory that site paths are relative to."""
    marker = into / ".complete"
    if not marker.exists():
        if into.exists():
            shutil.rmtree(into)
        into.mkdir(parents=True)
        if archive.name.endswith((".zip", ".whl")):
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(into)
        else:
            with tarfile.open(archive) as tarred:
                if hasattr(tarfile, "data_filter"):
                    tarred.extractall(into, filter="data")
                else:  # pragma: no cover - Pythons without PEP 706
                    tarred.extractall(into)
        marker.touch()
    if archive.name.endswith(".whl"):
        return into
    tops = [p for p in into.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise CorpusError(f"{archive.name}: expected one top directory in the sdist, got {tops}")
    return tops[0]


def _copy_package(top: Path, package: str, dest_root: Path, exclude: Sequence[str] = ()) -> int:
    source = top / package
    if not source.exists():
        raise CorpusError(f"{top.name}: package path {package!r} is not in the archive")
    files = [source] if source.is_file() else sorted(source.rglob("*"))
    copied = 0
    for file in files:
        if not file.is_file() or file.suffix not in (".py", ".pyi"):
            continue
        relative = file.relative_to(top).as_posix()
        if any(relative == skip or relative.startswith(skip + "/") for skip in exclude):
            continue
        target = dest_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
        copied += 1
    return copied


def materialise(
    projects: dict[str, Project],
    sites: Sequence[Site],
    cache: Path,
    out: Path,
    only: Sequence[str] = (),
) -> list[str]:
    """Lay out every selected project under `out`; return the fingerprint problems."""
    unknown = [name for name in only if name not in projects]
    if unknown:
        raise CorpusError(f"--only: unknown project(s) {unknown}; see the names in sites.toml")
    problems: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    for project in projects.values():
        if only and project.name not in only:
            continue
        archive = download(cache / "archives", project)
        top = unpack(archive, cache / "unpacked" / project.key)
        dest = out / project.key
        if dest.exists():
            shutil.rmtree(dest)
        count = sum(
            _copy_package(top, package, dest, project.exclude) for package in project.packages
        )
        for site in sites:
            if site.project != project.name:
                continue
            file = dest / site.path
            if not file.is_file():
                problems.append(f"{project.name} {site.path}: no such file in the archive")
                continue
            problem = check_fingerprint(site, file.read_text(encoding="utf-8", errors="replace"))
            if problem:
                problems.append(problem)
        print(f"{project.key}: {count} files", file=sys.stderr)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=Path, default=SITES, help="the site file")
    parser.add_argument("--cache", type=Path, default=DEFAULT_ROOT / "cache")
    parser.add_argument("--out", type=Path, default=DEFAULT_ROOT / "tree")
    parser.add_argument("--only", action="append", default=[], metavar="PROJECT")
    args = parser.parse_args(argv)
    try:
        projects, sites = load_corpus(args.sites)
        problems = materialise(projects, sites, args.cache, args.out, args.only)
    except CorpusError as exc:
        print(f"materialise: error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"materialise: drift: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(str(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
