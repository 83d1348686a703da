"""The ``ocirace`` command line: argument parsing and exit codes, nothing else.

Exit codes follow ruff: 0 clean, 1 findings, 2 usage or configuration error. The work is
done by :mod:`.config`, :mod:`.discovery`, :mod:`.engine` and :mod:`.output`; this module
only wires them to arguments, streams and exit codes.
Importing it must stay cheap (no libcst, no importlib.metadata on the hot path): a warm
``ocirace check`` is mostly Python start-up.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms of a warm run; annotations are strings anyway
    from typing import Any, TextIO

    from .model import LintSettings
    from .project_index import ProjectIndex

__all__ = ["build_parser", "command", "main"]

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def _version() -> str:
    # Read from the installed metadata so that the command and the package never disagree;
    # fall back to the package attribute when running from a source tree.
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("pytest-ocirace")
    except PackageNotFoundError:  # pragma: no cover - only in an uninstalled checkout
        from pytest_ocirace import __version__

        return __version__


class _VersionAction(argparse.Action):
    """``--version`` that reads the installed metadata only when asked (it costs ~10 ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        sys.stdout.write(f"ocirace {_version()}\n")
        parser.exit()


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter without its ``import shutil`` (~2 ms, for the terminal width).

    argparse builds a formatter for every ``add_argument`` call, so the default one imports
    ``shutil`` (and with it ``bz2``, ``lzma``, ``zlib``) on every run, help or not.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
        **kwargs: Any,  # newer Pythons add keywords (3.14: color)
    ) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` with the same fallback, from ``os`` alone."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} processes: give 1 or more")
    return value


def _default_jobs() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1  # pragma: no cover - macOS and Windows


def build_parser() -> argparse.ArgumentParser:
    from .output import FORMATS

    parser = argparse.ArgumentParser(
        prog="ocirace",
        formatter_class=_Formatter,
        description=(
            "Find and fix code that publishes a file by writing a temp file and renaming it "
            "onto a target, which fails on Windows when two writers race."
        ),
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        formatter_class=_Formatter,
        help="check Python files for the temp-write-then-rename race",
        description=(
            "Check Python files (default: the current directory). Exit 0 when clean, 1 when "
            "something was found, 2 on a usage or configuration error."
        ),
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or directories")
    check.add_argument(
        "--output-format",
        "--format",
        dest="format",
        choices=FORMATS,
        default="text",
        help="output format, as ruff's --output-format (default: text); --format is an alias",
    )
    check.add_argument("-o", "--output-file", type=Path, help="write the report to this file")
    for name, what in (
        ("--select", "check only these rules (codes, prefixes, names or ALL; comma list)"),
        ("--extend-select", "check these rules in addition to the selected ones"),
        ("--ignore", "do not report these rules"),
    ):
        check.add_argument(name, action="append", default=None, metavar="CODES", help=what)
    check.add_argument("--fix", action="store_true", help="apply safe fixes, atomically")
    check.add_argument(
        "--unsafe-fixes", action="store_true", help="with --fix, apply unsafe fixes too"
    )
    check.add_argument(
        "--diff",
        action="store_true",
        help="print the fixes (safe and unsafe) as a unified diff instead of writing them",
    )
    check.add_argument("--statistics", action="store_true", help="print counts per rule")
    check.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when something was found"
    )
    check.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    check.add_argument("--cache-dir", type=Path, help="cache directory (default: .ocirace_cache)")
    check.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="processes to lint with (default: the number of cores)",
    )
    check.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply the configured excludes to files named on the command line (pre-commit)",
    )
    check.add_argument(
        "--no-respect-gitignore",
        action="store_true",
        help="check files that .gitignore names, too",
    )
    check.add_argument(
        "--explain",
        nargs=2,
        metavar=("CODE", "PATH:LINE"),
        help="say why CODE was or was not reported at PATH:LINE (guards considered, temp, target)",
    )
    check.add_argument(
        "--interprocedural-depth",
        type=int,
        metavar="N",
        help="how many callers up to look for a guard (default 3, or the configured value)",
    )
    check.add_argument(
        "--allow-empty",
        action="store_true",
        help="exit 0 when no file is left to check (otherwise that is an error, exit 2)",
    )
    check.add_argument("--config", type=Path, help="the pyproject.toml to read [tool.ocirace] from")
    check.add_argument("-q", "--quiet", action="store_true", help="print findings only")
    check.add_argument(
        "-v", "--verbose", action="store_true", help="say how many files were checked and how"
    )
    vendor = commands.add_parser(
        "vendor",
        formatter_class=_Formatter,
        help="copy the reference writer into your project as one file",
        description=(
            "Write the reference writer to PATH (a .py file, or a directory for "
            "ocirace_writer.py) with a header naming its version, licence and hash, and point "
            "fix-writer-module in [tool.ocirace] at it. Refuses to overwrite an edited copy "
            "unless --force. With --check: exit 0 if the copy is current, 1 if not (pre-commit)."
        ),
    )
    vendor.add_argument("path", type=Path, metavar="PATH", help="where to write the copy")
    vendor.add_argument("--check", action="store_true", help="only say whether PATH is current")
    vendor.add_argument("--force", action="store_true", help="replace an edited copy")
    vendor.add_argument(
        "--module", metavar="NAME", help="the dotted name PATH is imported by (default: derived)"
    )
    return parser


def _error(message: str) -> int:
    sys.stderr.write(f"ocirace: error: {message}\n")
    return EXIT_ERROR


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _config_start(paths: Sequence[Path]) -> Path:
    absolute = [os.path.abspath(p) for p in paths]
    try:
        common = Path(os.path.commonpath(absolute))
    except ValueError:  # pragma: no cover - paths on different Windows drives
        common = Path(absolute[0])
    return common if common.is_dir() else common.parent


def _summary(findings: int, fixed: int, safe: int, unsafe: int, fix: bool) -> str:
    if findings == 0 and fixed == 0:
        return "All checks passed!\n"
    if fixed:
        text = (
            f"Found {_plural(findings + fixed, 'error')} ({fixed} fixed, {findings} remaining).\n"
        )
    else:
        text = f"Found {_plural(findings, 'error')}.\n"
    if safe and not fix:
        text += f"[*] {safe} fixable with the `--fix` option.\n"
    if unsafe:
        more = " more" if safe and not fix else ""
        text += f"({unsafe}{more} fixable with `--fix --unsafe-fixes`; see them with `--diff`)\n"
    return text


def _explain(arguments: list[str], lint: LintSettings, index: ProjectIndex) -> int:
    from .codes import RULES
    from .explain import explain

    code, where = arguments
    path, _, number = where.rpartition(":")
    if code.upper() not in RULES:
        return _error(f"--explain: unknown rule code {code!r}; valid: {', '.join(RULES)}")
    if not path or not number.isdigit():
        return _error(f"--explain: expected PATH:LINE, got {where!r} (e.g. src/store.py:12)")
    try:
        lines = explain(code.upper(), path, int(number), lint, index)
    except ValueError as exc:
        return _error(str(exc))
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_CLEAN


def _check(args: argparse.Namespace, process_ends: bool = False) -> int:
    from . import config as config_module
    from .discovery import PathError, PathMatcher, discover
    from .engine import CACHE_DIR_NAME, RunOptions, run
    from .model import LintSettings
    from .output import Report, render, render_statistics

    paths: list[Path] = args.paths or [Path(os.curdir)]
    if args.explain is not None and not args.paths:
        # The settings that apply are the ones of the explained file's project.
        paths = [Path(args.explain[1].rpartition(":")[0] or os.curdir)]
    try:
        config = config_module.load_config(_config_start(paths), args.config)
        select = None
        if args.select is not None:
            select = config_module.parse_selectors(args.select, "--select")
        ignore = config_module.parse_selectors(args.ignore or (), "--ignore")
        extend = config_module.parse_selectors(args.extend_select or (), "--extend-select")
        lint = config.lint
        if args.interprocedural_depth is not None:
            depth = config_module.parse_depth(args.interprocedural_depth, "--interprocedural-depth")
            lint = LintSettings(
                lint.extra_lock_names,
                lint.extra_guard_functions,
                lint.fix_writer_module,
                lint.first_party,
                depth,
            )
        selected = config_module.select_rules(
            config, select=select, ignore=ignore, extend_select=extend
        )
        files = discover(
            [config.root] if args.explain is not None else paths,
            root=config.root,
            exclude=config.all_excludes,
            force_exclude=args.force_exclude,
            respect_gitignore=not args.no_respect_gitignore,
        )
    except (config_module.ConfigError, PathError) as exc:
        return _error(str(exc))
    if args.explain is not None:
        from .demand import DemandIndex

        # The whole project, as a run over it sees it: callers and aliases in other modules,
        # each answer computed when the explained lint asks (as a run does), not every
        # module summarised first.
        return _explain(args.explain, lint, DemandIndex([str(f) for f in files]))
    if args.output_file is not None and not args.output_file.resolve().parent.is_dir():
        return _error(
            f"--output-file {args.output_file}: its directory does not exist; create it first"
        )
    if not files and not args.allow_empty:
        from .discovery import why_nothing

        reason = why_nothing(paths, respect_gitignore=not args.no_respect_gitignore)
        return _error(f"no file to check: {reason}; pass --allow-empty if that is expected")
    cache_dir = None
    if not args.no_cache:
        cache_dir = args.cache_dir if args.cache_dir is not None else config.root / CACHE_DIR_NAME
    options = RunOptions(
        root=config.root,
        selected=selected,
        lint=lint,
        per_file_ignores=tuple(
            (PathMatcher([pattern]), frozenset(codes)) for pattern, codes in config.per_file_ignores
        ),
        jobs=args.jobs or _default_jobs(),
        cache_dir=cache_dir,
        fix=args.fix,
        unsafe_fixes=args.unsafe_fixes,
        diff=args.diff,
        process_ends=process_ends,
    )
    result = run(files, options)
    if (args.fix or args.diff) and config.lint.fix_writer_module == "ocirace_writer":
        from .project import writer_notice

        fixed_texts = [_read(r.path) for r in result.files if r.fixed]
        note = writer_notice(config.root, fixed_texts, [r.diff for r in result.files if r.diff])
        if note is not None:
            sys.stderr.write(note + "\n")
    for warning in result.warnings:
        sys.stderr.write(warning + "\n")
    for file_result in result.files:
        for warning in file_result.warnings:
            sys.stderr.write(f"warning: {warning}\n")
    if args.verbose:
        sys.stderr.write(
            f"checked {_plural(len(files), 'file')}: {result.cached} from the cache, "
            f"{result.linted} parsed by the rules\n"
        )
    cwd = Path.cwd()
    if args.diff:
        diffs = [r.diff for r in result.files if r.diff]
        if not _emit(args.output_file, "".join(diffs)):
            return EXIT_ERROR
        if not args.quiet:
            sys.stderr.write(
                f"Would fix {_plural(len(diffs), 'file')}.\n" if diffs else "No fixes available.\n"
            )
        return EXIT_FINDINGS if diffs and not args.exit_zero else EXIT_CLEAN
    reports = [
        Report(
            file_result.path,
            finding,
            file_result.lines[finding.line - 1]
            if 0 < finding.line <= len(file_result.lines)
            else "",
        )
        for file_result in result.files
        for finding in file_result.findings
    ]
    if args.statistics:
        text = render_statistics(args.format, reports)
    else:
        text = render(
            args.format, reports, cwd=cwd, root=config.root, version=_sarif_version(args.format)
        )
    fixed = sum(r.fixed for r in result.files)
    if args.format in ("text", "concise") and not args.quiet and not args.statistics:
        safe = sum(1 for r in reports if r.finding.fix and r.finding.fix.applicability == "safe")
        unsafe = sum(
            1 for r in reports if r.finding.fix and r.finding.fix.applicability == "unsafe"
        )
        text += ("\n" if reports and args.format == "text" else "") + _summary(
            len(reports), fixed, safe, unsafe, args.fix
        )
    if not _emit(args.output_file, text):
        return EXIT_ERROR
    return EXIT_FINDINGS if reports and not args.exit_zero else EXIT_CLEAN


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _sarif_version(fmt: str) -> str:
    return _version() if fmt == "sarif" else ""


def _emit(output_file: Path | None, text: str) -> bool:
    """Write the report; False (after a one-line error) if the output file cannot be written."""
    if output_file is not None:
        try:
            output_file.write_text(text, encoding="utf-8")
        except OSError as exc:
            _error(f"cannot write the report to {output_file}: {exc.strerror}")
            return False
        return True
    stream: TextIO = sys.stdout
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.write(
            text.encode(stream.encoding or "ascii", "backslashreplace").decode(
                stream.encoding or "ascii"
            )
        )
    stream.flush()
    return True


def command(argv: Sequence[str] | None = None) -> None:
    """The ``ocirace`` executable (and ``python -m ocirace_checker``): :func:`main`, then exit.

    The process ends right after the report, so what the run built - every parsed module the
    project index kept, the analyses, the interpreter's own modules - is not freed object by
    object: a cold run spent 0.1 s of its 1.7 s on that (mypy ends the same way, in its
    ``util.hard_exit``). The streams are flushed first and the exit code kept; a caller that
    imports :func:`main` (tests, other tools) gets an ordinary return instead.
    """
    code = main(argv, process_ends=True)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the normal exit would report it the same way
        sys.exit(code)
    os._exit(code)


def main(argv: Sequence[str] | None = None, *, process_ends: bool = False) -> int:
    """Run the command line ``argv``; the exit code is returned.

    ``process_ends``: the process exits right after (:func:`command`), so the run need not
    free what it kept.
    """
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help()
        return EXIT_CLEAN
    try:
        if args.command == "vendor":
            from .vendor import main as vendor_main

            return vendor_main(
                args.path, check_only=args.check, force=args.force, module=args.module
            )
        return _check(args, process_ends)
    except KeyboardInterrupt:
        return 130
