"""The ocirace checker: a linter for unguarded temp-write-then-rename code.

It never imports the pytest plugin; it may point users (and its autofixes) at the
reference writer in ``pytest_ocirace.writer``.
"""

from __future__ import annotations

__all__: list[str] = []
