r"""``pathlib.Path`` itself, captured before the simulation, still makes paths inside it.

Before Python 3.12, ``pathlib.Path.__new__`` picks the concrete class with
``if cls is Path: cls = WindowsPath if os.name == 'nt' else PosixPath``, reading ``Path``
from the ``pathlib`` module's globals. While pyfakefs runs, that global is its fake ``Path``,
so the *real* class (held by anything bound at import: a ``parametrize`` argument, a
``from pathlib import Path`` in a module pyfakefs skips, a library's type table) is no longer
``Path`` to its own constructor, and ``Path("x")`` fails with ``AttributeError: type object
'Path' has no attribute '_flavour'`` (pyfakefs issues #553, #600).

Inside the simulation the real ``pathlib.Path(...)`` therefore builds what
``pathlib.Path(...)`` builds there: the fake filesystem's ``WindowsPath``. Python 3.12 and
later dispatch through ``cls`` itself and need nothing.

A real path made before the simulation is a ``PosixPath`` (the host's class), while
``pathlib`` inside it makes Windows paths: ``Path(".").iterdir()`` yields
``WindowsPath('one')``, which never equalled a module-level ``FILENAME = Path("one")``
(safer: ``[WindowsPath('one')] == [PosixPath('one')]`` failed). On Windows that module-level
path would have been a ``WindowsPath`` too. Inside the simulation a real POSIX path
therefore compares (``==``, ``!=``) as the Windows path of its text when the other side is a
Windows path: case-insensitively, ``/`` and ``\`` alike. Hashes are left alone (a real
path caches its hash), so a set of both kinds can still hold the two.

pyfakefs puts a stand-in object, not a class, where a module had ``Path``; reading an
attribute from it reads the fake ``Path`` class, but setting one set it on the stand-in
only, so ``monkeypatch.setattr(Path, "unlink", fail)`` never reached a path's ``unlink``
(safer's cleanup test saw no call). Inside the simulation, setting or deleting an
attribute of the stand-in sets or deletes it on the fake ``Path`` class, as it would on
``pathlib.Path``.

``PurePath(...)`` itself makes a ``PureWindowsPath`` inside the simulation, as it does on
Windows (the host's ``os.name`` picked ``PurePosixPath``).

The same replaced globals break ``pickle`` of a real path (``pickle`` finds a class by its
module and name and refuses another object there; caches pickle their keys): a real path
pickles by name through :func:`rebuild` instead, on every version.
"""

from __future__ import annotations

import sys
from typing import Any

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["install", "rebuild"]

# Captured at import, before any simulation (filesystem.py imports this module): in a dict,
# because pyfakefs replaces module globals that are pathlib classes.
# If this module is first imported while a pyfakefs patcher runs (a test's ``fs`` fixture
# started first), ``sys.modules["pathlib"]`` is pyfakefs' stand-in, which keeps the real
# module as ``pathlib_module``, and the real module's ``Path`` global is the fake class:
# the real ``Path`` is then found as the first base of ``PosixPath``, which pyfakefs leaves.
_REAL: dict[str, Any] = {"pathlib": sys.modules.get("pathlib")}
if _REAL["pathlib"] is None:  # pragma: no cover - pytest has always imported pathlib
    import pathlib as _pathlib

    _REAL["pathlib"] = _pathlib
_REAL["pathlib"] = getattr(_REAL["pathlib"], "pathlib_module", _REAL["pathlib"])
_REAL["PurePath"] = vars(_REAL["pathlib"])["PurePath"]
_REAL["PosixPath"] = vars(_REAL["pathlib"])["PosixPath"]
_REAL["Path"] = _REAL["PosixPath"].__bases__[0]


#: The real pathlib classes by ``(module, qualified name)``, as pickle names them.
_CLASSES: dict[tuple[str, str], type] = {
    (cls.__module__, cls.__qualname__): cls
    for cls in (
        vars(_REAL["pathlib"])[name]
        for name in ("PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath")
    )
}


def rebuild(module: str, name: str, text: str) -> Any:
    """Unpickle a real path as the same real class (equal to the one pickled)."""
    cls = _CLASSES.get((module, name))
    if cls is None:
        cls = getattr(sys.modules[module], name)
    return cls(text)


def install(patches: ClassPatches) -> None:
    """Route the real ``pathlib.Path`` constructor to the fake ``Path`` (before 3.12 only)."""
    _install_reduce(patches)
    _install_eq(patches)
    _install_resolve(patches)
    _install_stand_in_setattr(patches)
    _install_pure_path(patches)
    if sys.version_info >= (3, 12):
        return
    real_path = _REAL["Path"]
    module = _REAL["pathlib"]
    original = vars(real_path)["__new__"]

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        current = vars(module).get("Path")
        if cls is real_path and current is not None and current is not real_path:
            return current(*args, **kwargs)
        return original(cls, *args, **kwargs)

    patches.set(real_path, "__new__", staticmethod(__new__))


def _install_pure_path(patches: ClassPatches) -> None:
    r"""``PurePath(...)`` makes a ``PureWindowsPath`` inside the simulation, as on Windows.

    ``PurePath.__new__`` picks by the host's ``os.name`` on every version, and pyfakefs
    leaves pure paths alone: ``PurePath(tmp_path / "a")`` (filelock's ``path_type``
    parameter) made a ``PurePosixPath`` of the Windows path's parts,
    ``C:\/root/.../a``, which names no file (``FileNotFoundError``). The concrete classes
    (``PurePosixPath``, ``PureWindowsPath``) keep their own meaning.
    """
    pure_path = _REAL["PurePath"]
    windows = vars(_REAL["pathlib"])["PureWindowsPath"]
    original = vars(pure_path)["__new__"]

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        if cls is pure_path:  # the simulation's own class (pyfakefs' while it patches)
            return getattr(sys.modules.get("pathlib"), "PureWindowsPath", windows)(*args)
        return original(cls, *args, **kwargs)

    patches.set(pure_path, "__new__", staticmethod(__new__))


def _install_reduce(patches: ClassPatches) -> None:
    pure_path = _REAL["PurePath"]
    original = vars(pure_path)["__reduce__"]

    def __reduce__(self: Any) -> Any:
        cls = type(self)
        module = sys.modules.get(cls.__module__)
        if module is not None and getattr(module, cls.__qualname__, cls) is not cls:
            return (rebuild, (cls.__module__, cls.__qualname__, str(self)))
        return original(self)

    patches.set(pure_path, "__reduce__", __reduce__)


def _separator(path: Any) -> str | None:
    flavour = getattr(path, "parser", None) or getattr(path, "_flavour", None)
    return getattr(flavour, "sep", None)


def _is_real_posix(path: Any) -> bool:
    """A concrete host path (``PosixPath``): on Windows it would have been a ``WindowsPath``.

    A ``PurePosixPath`` is POSIX on Windows too, and stays unequal to Windows paths.
    """
    return _REAL["PosixPath"] in type(path).__mro__


def _install_eq(patches: ClassPatches) -> None:
    pure_path = _REAL["PurePath"]
    original = vars(pure_path)["__eq__"]

    def __eq__(self: Any, other: Any) -> Any:
        result = original(self, other)
        if result is not False:
            return result
        if _is_real_posix(self) and _separator(other) == "\\":
            return _same_windows_path(original, other, str(self))
        if _is_real_posix(other) and _separator(self) == "\\":
            return _same_windows_path(original, self, str(other))
        return False

    patches.set(pure_path, "__eq__", __eq__)


def _same_windows_path(equal: Any, windows: Any, text: str) -> Any:
    r"""Whether a real path's ``text`` names ``windows``: as spelled, or on its drive.

    ``/tmp/x`` is read from the current drive's root, so it is ``C:\tmp\x`` when that
    is the drive (``resolve()`` inside the simulation gives the drive).
    """
    if equal(type(windows)(text), windows):
        return True
    drive = getattr(windows, "drive", "")
    if drive and text.startswith("/"):
        return equal(type(windows)(drive + text), windows)
    return False


def _install_resolve(patches: ClassPatches) -> None:
    r"""A real path's ``resolve()``/``absolute()`` inside the simulation: the Windows path.

    They ask the fake ``os.path`` (Windows' answers) and wrapped its ``C:\tmp\x`` in the
    host's ``PosixPath``, a path of one odd name whose ``parent`` is ``.``: pytest's
    ``tmp_path_factory.mktemp("x")`` compares ``(base / "x").resolve().parent`` with its
    base and refused every name inside a simulated test ("not a normalized and relative
    path"). Inside the simulation they give what the same call gives on the simulation's
    own path of that text, a ``WindowsPath``, which compares equal to the real path it
    names.
    """
    real_path = _REAL["Path"]
    for name in ("resolve", "absolute"):
        original = vars(real_path)[name]

        def windows(self: Any, *args: Any, __name: str = name, __original: Any = original) -> Any:
            current = getattr(sys.modules.get("pathlib"), "Path", None)
            if _is_real_posix(self) and current is not None and current is not real_path:
                return getattr(current(str(self)), __name)(*args)
            return __original(self, *args)

        windows.__name__ = name
        patches.set(real_path, name, windows)


#: The stand-in's own attributes (pyfakefs sets them), kept on the stand-in.
_STAND_IN_OWN = frozenset({"fake_pathlib", "skip_names"})


def _install_stand_in_setattr(patches: ClassPatches) -> None:
    from pyfakefs.fake_pathlib import FakePathlibPathModule

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if name in _STAND_IN_OWN or self.fake_pathlib is None:
            object.__setattr__(self, name, value)
        else:
            setattr(self.fake_pathlib.Path, name, value)

    def __delattr__(self: Any, name: str) -> None:
        if name in _STAND_IN_OWN or self.fake_pathlib is None:
            object.__delattr__(self, name)
        else:
            delattr(self.fake_pathlib.Path, name)

    patches.set(FakePathlibPathModule, "__setattr__", __setattr__)
    patches.set(FakePathlibPathModule, "__delattr__", __delattr__)
