"""Which files a run checks: ``*.py``/``*.pyi`` under the given paths, minus what is excluded.

Two sources of exclusion:

- ``.gitignore``: inside a git work tree we ask git itself
  (``git ls-files --cached --others --exclude-standard``) instead of re-implementing
  gitignore, so nested ``.gitignore`` files, ``.git/info/exclude``, the global excludes file
  and negations behave exactly as in ``git status``. Outside a work tree (or without git)
  ``.gitignore`` files mean nothing to git and are not read.
- the configured ``exclude``/``extend-exclude`` globs (ruff's semantics): a pattern without
  ``/`` matches any path component by name (``build``, ``*_pb2.py``); a pattern with ``/`` is
  matched against the path relative to the project root and excludes everything below a
  matching directory. ``*`` and ``?`` stop at ``/``; ``**`` crosses it.

Files named explicitly on the command line are always checked, as in ruff, unless
``--force-exclude`` is given: pre-commit passes every staged file explicitly, and without the
flag the configured excludes would be bypassed. ``--no-respect-gitignore`` (ruff's flag)
walks directories without asking git, e.g. to check an ignored virtualenv's site-packages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["PathError", "PathMatcher", "discover", "glob_to_regex", "why_nothing"]

SOURCE_SUFFIXES = (".py", ".pyi")


class PathError(Exception):
    """A path on the command line that does not exist; ``str()`` is the one-line message."""


def glob_to_regex(pattern: str) -> str:
    """Translate one glob into a regex body: ``*`` and ``?`` within a component, ``**`` across."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                out.append(re.escape(char))
                i += 1
                continue
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


class PathMatcher:
    """A set of exclude-style globs compiled into two regexes (by name, by relative path)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        names: list[str] = []
        paths: list[str] = []
        for raw in patterns:
            pattern = raw.strip().rstrip("/")
            if pattern.startswith("./"):
                pattern = pattern[2:]
            if not pattern:
                continue
            (paths if "/" in pattern else names).append(glob_to_regex(pattern))
        self._name = re.compile("(?:" + "|".join(names) + r")\Z") if names else None
        self._path = re.compile("(?:" + "|".join(paths) + r")\Z") if paths else None
        self.has_path_patterns = self._path is not None

    def __bool__(self) -> bool:
        return self._name is not None or self._path is not None

    def matches_name(self, name: str) -> bool:
        return self._name is not None and self._name.match(name) is not None

    def matches_path(self, rel: str) -> bool:
        """Whether a path-style pattern matches the root-relative posix path ``rel`` exactly."""
        return self._path is not None and self._path.match(rel) is not None

    def matches_rel(self, rel: str) -> bool:
        """Whether the root-relative path ``rel`` (posix), or one of its parents, matches."""
        parts = rel.split("/")
        return any(
            self.matches_name(part) or self.matches_path("/".join(parts[: index + 1]))
            for index, part in enumerate(parts)
        )


def _relative(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` in posix form ("" for the root), or None if outside.

    Both are absolute and normalised here, so string slicing is exact - and much cheaper
    than ``os.path.relpath`` on the warm path, where discovery is a large share of the run.
    """
    if path == root:
        return ""
    prefix = root if root.endswith(os.sep) else root + os.sep
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix) :]
    return rel if os.sep == "/" else rel.replace(os.sep, "/")


def _is_excluded(path: str, root: str, matcher: PathMatcher) -> bool:
    """Whether ``path`` itself (not its parents) is excluded, by name or root-relative path."""
    if matcher.matches_name(os.path.basename(path)):
        return True
    if not matcher.has_path_patterns:
        return False
    rel = _relative(path, root)
    return rel is not None and rel != "" and matcher.matches_path(rel)


def _excluded_entry(name: str, path: str, root: str, matcher: PathMatcher) -> bool:
    """:func:`_is_excluded` for a directory entry whose name is already known (hot loop)."""
    if matcher.matches_name(name):
        return True
    if not matcher.has_path_patterns:
        return False
    rel = _relative(path, root)
    return rel is not None and rel != "" and matcher.matches_path(rel)


def _is_excluded_anywhere(path: str, root: str, matcher: PathMatcher) -> bool:
    """Whether ``path`` or any directory above it (up to the root) is excluded."""
    rel = _relative(path, root)
    if rel is None:
        return any(matcher.matches_name(part) for part in Path(path).parts[1:])
    return rel != "" and matcher.matches_rel(rel)


def _inside_work_tree(directory: str) -> bool:
    """A ``.git`` entry here or above: only then is spawning git worth its ~5 ms."""
    current = directory
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return True
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent


def _git_files(directory: str) -> list[str] | None:
    """Files git does not ignore under ``directory``, or None when it is not a work tree."""
    if not _inside_work_tree(directory):
        return None
    import subprocess

    try:
        completed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=directory,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if completed.returncode != 0:
        return None
    names = completed.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [os.path.join(directory, name) for name in sorted(set(names)) if name]


def _walk(
    directory: str, root: str, matcher: PathMatcher, respect_gitignore: bool
) -> Iterable[str]:
    git_listing = _git_files(directory) if respect_gitignore else None
    if git_listing is not None:
        verdicts: dict[str, bool] = {directory: False}

        def excluded_dir(path: str) -> bool:
            # Only the components below the walked directory: it was named explicitly.
            if path not in verdicts:
                parent = os.path.dirname(path)
                verdicts[path] = excluded_dir(parent) or _is_excluded(path, root, matcher)
            return verdicts[path]

        for path in git_listing:
            if not path.endswith(SOURCE_SUFFIXES):
                continue
            if matcher and (
                excluded_dir(os.path.dirname(path)) or _is_excluded(path, root, matcher)
            ):
                continue
            if os.path.isfile(path):
                yield path
        return
    found: list[str] = []
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            entries = os.scandir(current)
        except OSError:
            continue  # vanished or unreadable directory: nothing to check in it
        with entries:
            for entry in entries:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not (matcher and _excluded_entry(name, entry.path, root, matcher)):
                        stack.append(entry.path)
                elif (
                    name.endswith(SOURCE_SUFFIXES)
                    and entry.is_file()
                    and not (matcher and _excluded_entry(name, entry.path, root, matcher))
                ):
                    found.append(entry.path)
    yield from found


def discover(
    paths: Sequence[Path],
    *,
    root: Path,
    exclude: Sequence[str],
    force_exclude: bool = False,
    respect_gitignore: bool = True,
) -> list[str]:
    """Absolute paths of the files to check, sorted and without duplicates.

    Strings, not ``Path`` objects: building thousands of those is measurable on a warm run.

    Raises :class:`PathError` for a path that does not exist: a typo on the command line
    must not look like a clean run.
    """
    matcher = PathMatcher(exclude)
    root_text = os.path.normpath(os.path.abspath(root))
    found: dict[str, None] = {}
    for given in paths:
        absolute = os.path.abspath(given)
        if os.path.isdir(absolute):
            if force_exclude and matcher and _is_excluded_anywhere(absolute, root_text, matcher):
                continue
            for path in _walk(absolute, root_text, matcher, respect_gitignore):
                found[path] = None
        elif os.path.exists(absolute):
            if force_exclude and matcher and _is_excluded_anywhere(absolute, root_text, matcher):
                continue
            found[absolute] = None
        else:
            raise PathError(f"{given}: no such file or directory; pass an existing path")
    return sorted(found)


def _ignored_by_git(path: str) -> bool:
    if not _inside_work_tree(os.path.dirname(path) or os.curdir):
        return False
    import subprocess

    try:
        completed = subprocess.run(
            ["git", "check-ignore", "-q", os.path.basename(path) or os.curdir],
            cwd=os.path.dirname(path) or os.curdir,
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return completed.returncode == 0


def why_nothing(paths: Sequence[Path], *, respect_gitignore: bool) -> str:
    """Why :func:`discover` found nothing, in words a user can act on.

    The usual surprise is a directory that an enclosing git repository ignores (a build
    tree, a vendored checkout): git lists nothing in it, so the run would check nothing and
    look clean.
    """
    for given in paths:
        absolute = os.path.normpath(os.path.abspath(given))
        if respect_gitignore and _ignored_by_git(absolute):
            return (
                f"{given} is ignored by git (.gitignore), so nothing in it is listed; "
                "use --no-respect-gitignore to check it anyway"
            )
    names = ", ".join(str(p) for p in paths)
    return f"no *.py or *.pyi file under {names} that the excludes in [tool.ocirace] leave"
