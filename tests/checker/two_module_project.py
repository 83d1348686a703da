"""One small project shared by the index, demand and cache tests: a helper module publishes,
a caller module guards (or does not guard) the publish.

The three test modules each had their own copy of these sources.
"""

from __future__ import annotations

__all__ = ["GUARDED_CALLER", "STORE", "UNGUARDED_CALLER"]

#: pkg/store.py: the publish, unguarded where it is.
STORE = """\
import os, tempfile
def save(dst, data):
    fd, tmp = tempfile.mkstemp()
    os.write(fd, data)
    os.close(fd)
    os.replace(tmp, dst)
"""
#: A caller that guards the publish two modules away.
GUARDED_CALLER = """\
from pkg.store import save
def main(dst, data):
    try:
        save(dst, data)
    except PermissionError:
        pass
"""
#: The same caller without its guard.
UNGUARDED_CALLER = "from pkg.store import save\ndef main(dst, data):\n    save(dst, data)\n"
