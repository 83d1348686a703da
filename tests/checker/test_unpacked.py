"""Entries of a directory the function unpacked an archive into: fresh content, like a temp."""

from __future__ import annotations

import ast
import textwrap

import pytest

from ocirace_checker.analysis import ModuleAnalysis, Source
from ocirace_checker.model import LintSettings


def unpacked_source(code: str) -> ast.Call | None:
    """The unpacking call behind the source of the module's only publish call."""
    text = textwrap.dedent(code).lstrip("\n")
    analysis = ModuleAnalysis(ast.parse(text), Source(text), LintSettings())
    (publish,) = analysis.publish_calls
    return analysis.unpacked_entry(publish.src)


@pytest.mark.parametrize(
    "code",
    [
        # shutil.unpack_archive(filename, extract_dir) through a conversion, then `/`
        """
        import os, shutil
        class Tools:
            def install(self, archive):
                shutil.unpack_archive(archive, extract_dir=os.fsdecode(self.base))
                unpacked = self.base / "jdk-17"
                unpacked.rename(self.base / "java")
        """,
        # ZipFile.extractall(path) positionally, then os.path.join
        """
        import os, zipfile
        class Store:
            def fetch(self, archive):
                with zipfile.ZipFile(archive) as z:
                    z.extractall(self.cache.root)
                os.rename(os.path.join(self.cache.root, "data"), self.cache.target)
        """,
    ],
)
def test_entry_of_a_directory_the_object_holds_is_unpacked(code: str) -> None:
    assert unpacked_source(code) is not None


@pytest.mark.parametrize(
    "code",
    [
        # the directory is a parameter: the caller may have made it fresh for this call
        """
        import os, shutil
        def install(archive, dest):
            shutil.unpack_archive(archive, extract_dir=dest)
            os.rename(os.path.join(dest, "go"), os.path.join(dest, ".go"))
        """,
        # unpacked after the rename: the rename does not move what was unpacked
        """
        import shutil
        class Tools:
            def install(self, archive):
                (self.base / "jdk").rename(self.base / "java")
                shutil.unpack_archive(archive, extract_dir=self.base)
        """,
        # unpacked into another directory of the object
        """
        import shutil
        class Tools:
            def install(self, archive):
                shutil.unpack_archive(archive, extract_dir=self.downloads)
                (self.base / "jdk").rename(self.base / "java")
        """,
        # unpacked in another method: not content this function made
        """
        import shutil
        class Tools:
            def unpack(self, archive):
                shutil.unpack_archive(archive, extract_dir=self.base)
            def install(self):
                (self.base / "jdk").rename(self.base / "java")
        """,
    ],
)
def test_other_renames_are_not_unpacked_content(code: str) -> None:
    assert unpacked_source(code) is None
