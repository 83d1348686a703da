"""pyfakefs' open-file objects read their own attributes at half the cost, same answers.

pyfakefs' ``FakeBinaryFileWrapper`` and ``FakeTextFileWrapper`` (since w/aio the raw file
object under what ``open()`` returns inside the simulation, ``buffered.py``; and what
pyfakefs' own ``os`` functions open) define ``__getattribute__`` to send every name
``FakeFileWrapper`` does not know to the wrapped stream. It asks ``name in self.__dict__``,
and reading ``self.__dict__`` goes through the same ``__getattribute__`` again (a second
call and a second ``hasattr``): every attribute the wrapper's own methods read
(``self._io``, ``self.file_object``...) costs two Python calls and two class lookups. In a
body that writes a file per operation (persist-queue's ``Queue.put``: open, write, flush,
close, ``os.replace``) it was about a tenth of the test's CPU under a profiler.

While a simulation runs, both classes get a ``__getattribute__`` that reads the instance
dictionary directly and asks the class only for names that are not in it. The decision is
the same (a name is the wrapper's own if the instance or ``FakeFileWrapper`` has it, else
``__getattr__`` delegates it), the attribute is read by the same
``FakeFileWrapper.__getattribute__``, and ``__getattr__`` is found as pyfakefs finds it.
"""

from __future__ import annotations

from typing import Any

from pyfakefs.fake_file import FakeBinaryFileWrapper, FakeFileWrapper, FakeTextFileWrapper

__all__ = ["plan"]

_instance_dict = object.__getattribute__

#: pyfakefs' own ``__getattribute__`` of each wrapper class (what :func:`plan` replaces).
_ORIGINALS: dict[type, Any] = {
    cls: vars(cls)["__getattribute__"]
    for cls in (FakeBinaryFileWrapper, FakeTextFileWrapper)
    if "__getattribute__" in vars(cls)
}


#: ``FakeFileWrapper.__getattribute__``, which is ``object``'s while pyfakefs' base class
#: defines none (:func:`plan` checks): read from a global, not looked up on the class.
_wrapper_getattribute = _instance_dict


def _getattribute(self: Any, name: str) -> Any:
    if name in _instance_dict(self, "__dict__") or hasattr(FakeFileWrapper, name):
        return _wrapper_getattribute(self, name)
    return _wrapper_getattribute(self, "__getattr__")(name)


def plan() -> list[tuple[object, str, object]]:
    """The direct lookup on both wrapper classes, as ``(class, name, value)`` patches.

    Only where pyfakefs' own lookup is in place: another version of pyfakefs (or another
    patch) that changed it keeps its own.
    """
    if FakeFileWrapper.__getattribute__ is not object.__getattribute__:
        return []  # a pyfakefs whose base class reads its attributes its own way
    return [
        (cls, "__getattribute__", _getattribute)
        for cls, original in _ORIGINALS.items()
        if original.__qualname__ == f"{cls.__name__}.__getattribute__"
    ]
