"""``mock.patch("os.path.isdir")`` in a simulated test patches what the code under test calls.

While pyfakefs patches, ``sys.modules`` holds its fake modules under their own names
(``os``, ``posixpath``, ``io``...), but not under the alias ``os.path``. ``unittest.mock``
finds a string target with :func:`pkgutil.resolve_name`, which imports ``os.path`` and so
answered the real ``posixpath``, while the code under test calls the fake ``os.path``: the
mock was never called and the test failed where it passes on every real OS (minimalkv
1.11.2's ``test_concurrent_mkdir`` mocks ``os.makedirs``, which it reached through the fake
``os``, and ``os.path.isdir``, which it did not, so the two disagreed).

So while a simulation runs, a module that ``pkgutil.resolve_name`` answers is swapped for
what ``sys.modules`` holds under that module's own name, when that is one of the
patcher's fake modules: where the code looks. A stub module a test put in ``sys.modules``
is left alone. While pyfakefs is paused ``sys.modules`` holds the real module
again, and nothing is swapped. A target inside a module (``os.environ``) resolves as before.
"""

from __future__ import annotations

import functools
import pkgutil
import sys
import types
from collections.abc import Iterable
from typing import Any

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["install"]


def install(patches: ClassPatches, fakes: Iterable[object]) -> None:
    """Swap ``pkgutil.resolve_name`` while ``patches`` last; ``fakes``: the patcher's."""
    original = vars(pkgutil)["resolve_name"]
    fake_ids = frozenset(map(id, fakes))

    @functools.wraps(original)
    def resolve_name(name: str) -> Any:
        found = original(name)
        if isinstance(found, types.ModuleType):
            registered = sys.modules.get(found.__name__)
            if registered is not found and id(registered) in fake_ids:
                return registered
        return found

    patches.set(pkgutil, "resolve_name", resolve_name)
