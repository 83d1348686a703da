"""Names that only another checked module explains: ``from M import *``.

Real files and the engine in this process, as a user's runs would go: what a star import
binds comes from the project index, and a cached result that rested on it must follow a
change of the star-imported module.
"""

from __future__ import annotations

from pathlib import Path

from tests.checker.test_cache import check, found, tree

COMMON = """\
import os
def log(message):
    print(message)
"""
EXTRACTOR = """\
from .common import *
def url_save(data, filepath):
    temp_filepath = filepath + ".download"
    with open(temp_filepath, "wb") as output:
        output.write(data)
    if os.access(filepath, os.W_OK):
        os.remove(filepath)
    os.rename(temp_filepath, filepath)
"""
REPORTED = [("extractor.py", 8, "ORC006")]


def test_a_name_from_a_star_import_is_what_that_module_binds(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"common.py": COMMON, "extractor.py": EXTRACTOR})
    assert found(check(paths, tmp_path)) == REPORTED


def test_alone_a_star_imported_name_is_unknown(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"extractor.py": EXTRACTOR})
    assert found(check(paths, tmp_path)) == []  # pkg.common is not in the tree


def test_a_star_import_is_followed_through_a_changed_module(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"common.py": COMMON, "extractor.py": EXTRACTOR})
    assert found(check(paths, tmp_path)) == REPORTED
    # The module stops exporting os (an __all__ without it): the cached result of the
    # importer rested on that module and must not be served again.
    paths[1].write_text('import os\n__all__ = ["log"]\n' + COMMON, encoding="utf-8")
    assert found(check(paths, tmp_path)) == []
    paths[1].write_text(COMMON, encoding="utf-8")
    assert found(check(paths, tmp_path)) == REPORTED
