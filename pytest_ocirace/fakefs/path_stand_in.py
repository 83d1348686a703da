"""What a module's ``Path`` global is inside the simulation: a class, as ``pathlib.Path`` is.

pyfakefs replaces every module global ``Path`` (``from pathlib import Path``) with an
*instance* of ``FakePathlibPathModule`` that forwards calls and attributes to the fake
``Path`` class. Code that uses ``Path`` as a type, not a constructor, then breaks:
``functools.singledispatch`` refuses it as a key (cattrs registers ``Path`` in every
``Converter()``: ``TypeError: Invalid first argument to `register()`... is not a class``,
every test of requests-cache's filesystem backend), and so do ``issubclass(x, Path)``,
``typing`` unions and subclassing it.

Inside the simulation that global is instead a class made for this filesystem whose
metaclass gives it the stand-in's behaviour: calling it makes the fake filesystem's
``WindowsPath``; reading or setting an attribute reads or sets it on the fake ``Path``
class (``monkeypatch.setattr(Path, "unlink", ...)`` reaches the paths made inside);
``isinstance`` accepts every path (pyfakefs #666: paths made before the simulation too);
and it is a virtual base class of the fake and the real ``Path`` classes, as an ABC is, so
a ``singledispatch`` registry keyed on it dispatches the paths made inside to its entry.
"""

from __future__ import annotations

import pathlib
from typing import Any

__all__ = ["PathStandInType", "make"]

# The real classes, captured at import: pyfakefs replaces pathlib's globals while it runs.
_PURE_PATH: type = pathlib.PurePath
_REAL_PATH: type = pathlib.PosixPath.__bases__[0]

#: Attributes of the stand-in class itself (set by the patcher or by Python), never
#: forwarded to the fake ``Path``.
_OWN = frozenset({"_ocirace_fake_path", "__module__", "__qualname__", "__doc__"})


class PathStandInType(type):
    """The stand-in's behaviour, on the class itself."""

    _ocirace_fake_path: type

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._ocirace_fake_path(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(cls._ocirace_fake_path, name)

    def __setattr__(cls, name: str, value: Any) -> None:
        if name in _OWN:
            type.__setattr__(cls, name, value)
        else:
            setattr(cls._ocirace_fake_path, name, value)

    def __delattr__(cls, name: str) -> None:
        if name in _OWN:
            type.__delattr__(cls, name)
        else:
            delattr(cls._ocirace_fake_path, name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, _PURE_PATH)

    def __subclasscheck__(cls, subclass: Any) -> bool:
        if subclass is cls:
            return True
        return isinstance(subclass, type) and issubclass(
            subclass, (cls._ocirace_fake_path, _REAL_PATH)
        )

    def __repr__(cls) -> str:
        return "<class 'pathlib.Path' (pytest-ocirace: the simulation's Path)>"


def make(fs: Any) -> type:
    """The ``Path`` stand-in for one fake filesystem (pyfakefs' factory signature)."""
    from pyfakefs.fake_pathlib import FakePathlibModule

    fake_path: type = FakePathlibModule(fs, from_patcher=True).Path  # type: ignore[no-untyped-call]
    namespace = {"__module__": "pathlib", "__qualname__": "Path", "__doc__": fake_path.__doc__}
    stand_in = PathStandInType("Path", (), namespace)
    type.__setattr__(stand_in, "_ocirace_fake_path", fake_path)
    return stand_in
