"""The ``ocirace`` command line: argument parsing and exit codes, nothing else.

Exit codes follow ruff: 0 clean, 1 findings, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _version() -> str:
    # Read from the installed metadata so that the command and the package never disagree;
    # fall back to the package attribute when running from a source tree.
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("pytest-ocirace")
    except PackageNotFoundError:  # pragma: no cover - only in an uninstalled checkout
        from pytest_ocirace import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocirace",
        description=(
            "Find and fix code that publishes a file by writing a temp file and renaming it "
            "onto a target, which fails on Windows when two writers race."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ocirace {_version()}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    parser.print_help()
    return 0
