"""The pytest plugin's entry point (registered as ``pytest11: ocirace``).

pytest imports this module in every session of every project that has pytest-ocirace
installed, so it must cost nothing for suites that do not use it: heavy imports happen only
inside the hooks that need them.
"""

from __future__ import annotations
