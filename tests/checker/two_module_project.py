"""One small project shared by the index, demand and cache tests: a helper module publishes,
a caller module guards (or does not guard) the publish.

The three test modules each had their own copy of these sources.
"""

from __future__ import annotations

__all__ = ["ALIASED_STORE", "GUARDED_CALLER", "RENAME_ALIAS", "STORE", "UNGUARDED_CALLER"]

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
#: pkg/util.py: a module-level alias of the rename function.
RENAME_ALIAS = "import os\nrename = os.rename\n"
#: pkg/db.py: a publish through that alias, imported from pkg.util.
ALIASED_STORE = """\
import tempfile
from pkg.util import rename
def store(dst, data):
    fd, staged = tempfile.mkstemp()
    with open(fd, "wb") as f:
        f.write(data)
    rename(staged, dst)
"""
