"""Install ``pytest_ocirace_processes.pth`` next to the package (see docs/processes.md).

Everything else is in pyproject.toml. The process mode needs a start-up hook in every
Python process (as coverage.py's subprocess measurement does): a ``.pth`` file at the root
of site-packages. setuptools has no declarative way to put one there, so the wheel build
copies it to the root of ``build_lib``, and the editable build writes it into the editable
wheel beside setuptools' own ``__editable__`` files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = Path(__file__).parent / "pytest_ocirace" / "realdisk" / "pytest_ocirace_processes.pth"


class BuildPyWithPth(build_py):
    """``build_py`` that also puts the hook at the root of the wheel (site-packages)."""

    def run(self) -> None:
        super().run()
        self.copy_file(str(PTH), str(Path(self.build_lib) / PTH.name), preserve_mode=False)


class _StrategyWithPth:
    """setuptools' editable strategy, plus the hook written into the editable wheel."""

    def __init__(self, strategy: Any) -> None:
        self._strategy = strategy

    def __enter__(self) -> Any:
        return self._strategy.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self._strategy.__exit__(*exc)

    def __call__(self, wheel: Any, files: Any, mapping: Any) -> None:
        self._strategy(wheel, files, mapping)
        wheel.writestr(PTH.name, PTH.read_bytes())


class EditableWheelWithPth(editable_wheel):
    """``pip install -e .``: the editable wheel carries the hook too."""

    def _select_strategy(self, *args: Any, **kwargs: Any) -> Any:
        return _StrategyWithPth(super()._select_strategy(*args, **kwargs))


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
