"""``python -m ocirace_checker``: the same as ``ocirace check``.

``--version`` as ``ocirace --version``.
"""

from __future__ import annotations

import sys

from .cli import command

if __name__ == "__main__":
    arguments = sys.argv[1:]
    command(arguments if arguments == ["--version"] else ["check", *arguments])
