"""Run the rules over a whole library tree and summarise: crashes, ORC000s, findings per rule.

Not collected by pytest (the bounded sample in ``test_lint.py`` is). Full run over the
standard library, about a minute on one core::

    .venv/bin/python tests/checker/stdlib_sweep.py                 # the stdlib
    .venv/bin/python tests/checker/stdlib_sweep.py PATH ... --show ORC001

It exits 1 if ``lint_source`` raised or reported an internal error on any file.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
import sysconfig
import time

from ocirace_checker.lint import lint_source, might_match
from ocirace_checker.model import LintSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="*", default=[sysconfig.get_paths()["stdlib"]])
    parser.add_argument("--show", action="append", default=[], help="print findings of CODE")
    args = parser.parse_args(argv)
    files = sorted(
        p
        for root in args.paths
        for p in pathlib.Path(root).rglob("*.py")
        if "site-packages" not in p.parts or any("site-packages" in r for r in args.paths)
    )
    counts: collections.Counter[str] = collections.Counter()
    internal = 0
    kept = 0
    started = time.process_time()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            counts["unreadable"] += 1
            continue
        if not might_match(text):
            continue
        kept += 1
        for finding in lint_source(text, str(path), LintSettings()):
            counts[finding.code] += 1
            if "checker failed" in finding.message:
                internal += 1
                print(f"INTERNAL {path}: {finding.message}")
            if finding.code in args.show:
                print(f"{path}:{finding.line}:{finding.column}: {finding.code} {finding.message}")
    cpu = time.process_time() - started
    print(f"{len(files)} files, {kept} past the pre-filter, {cpu:.1f} CPU-s")
    for code, count in sorted(counts.items()):
        print(f"  {code}: {count}")
    return 1 if internal else 0


if __name__ == "__main__":
    sys.exit(main())
