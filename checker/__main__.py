"""``python -m checker``: the same as ``ocirace check``."""

from __future__ import annotations

import sys

from checker.cli import main

if __name__ == "__main__":
    sys.exit(main(["check", *sys.argv[1:]]))
