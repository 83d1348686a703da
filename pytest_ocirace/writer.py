"""The reference safe writer under its first name: this module *is* ``ocirace_writer``.

The writer lives in the stdlib-only ``ocirace-writer`` distribution so that production code can
depend on it without pytest. ``pytest_ocirace.writer`` keeps importing for code and docs that
use it, and it is not a copy or a re-export: importing it binds the name to the
``ocirace_writer`` module object itself. A re-exporting module would have its own ``_WINDOWS``
and its own globals, so patching one name (as tests do) would not reach the code that runs,
and there would be two objects to keep in step. One object means one set of single-flight
tables, one seam, and ``pytest_ocirace.writer is ocirace_writer``.
"""

from __future__ import annotations

import sys

import ocirace_writer
from ocirace_writer import *  # noqa: F403  (what type checkers and readers see here)
from ocirace_writer import __all__ as __all__

sys.modules[__name__] = ocirace_writer
