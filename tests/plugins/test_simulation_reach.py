"""What real suites do that the simulation must reach, run as a user would: ``--ocirace``.

Each case is a pattern seen failing on real projects' suites (issue 8): paths spelt with and
without a drive, real descriptors (pipes, ``dup2`` onto the standard streams), ``Path``
objects made at import, embedded NUL bytes. They must pass under ``--ocirace`` as they pass
plain, and a race must be found whatever spelling each thread used.
"""

from __future__ import annotations

import sys

import pytest

pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    return pytester.runpytest_inprocess(*quiet, *args)


REACH = r"""
import os
import pathlib
import pickle
import sys
import threading

import pytest

DATA = pathlib.Path("data")  # relative: the plain run must stay in its directory


def test_abspath_of_tmp_path_and_its_posix_spelling_are_one_drive(tmp_path):
    directory = os.path.abspath(tmp_path)
    assert directory.startswith("C:\\") == (os.sep == "\\")
    temporary = os.path.join(directory, ".tmp_x")
    with open(temporary, "w") as handle:
        handle.write("x")
    os.replace(temporary, str(tmp_path) + "/nx")
    with open(os.path.join(str(tmp_path), "nx")) as handle:
        assert handle.read() == "x"
    if os.sep == "\\":
        assert os.path.exists("\\\\?\\" + os.path.join(directory, "nx"))


BASES = [pathlib.Path("rel"), DATA, DATA / "sub"]


@pytest.mark.parametrize("base", BASES)
def test_paths_made_at_import(base):
    target = base / "file.txt"
    os.makedirs(target.parent, exist_ok=True)
    with open(target, "w") as handle:
        handle.write("x")
    assert pathlib.Path(str(target)).read_text() == "x"
    assert pickle.loads(pickle.dumps(base)) == base


# Before 3.11 such a Path's own methods use the real disk (docs/plugin.md says so).
@pytest.mark.skipif(sys.version_info < (3, 11), reason="pathlib binds os at import")
def test_methods_of_paths_made_at_import():
    for base in BASES:
        (base / "d").mkdir(parents=True)
        (base / "d" / "f").write_text("y")
        assert (base / "d" / "f").read_text() == "y"
        assert (base / "d" / "f").exists()


PATH_CLASS = {"Path": pathlib.Path}


def test_the_path_class_captured_at_import_still_makes_paths():
    path = PATH_CLASS["Path"]("made") / "here"
    os.makedirs(str(path))
    assert os.path.isdir(str(path))


def test_pipe_and_fd_redirection_in_threads():
    read_end, write_end = os.pipe()

    def work():
        print("from a thread")
        os.write(write_end, b"x")

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read() == b"xxx"
    saved = os.dup(1)
    os.dup2(saved, 1)
    os.close(saved)
    sys.stdout.write("still captured\n")


def test_embedded_null_byte():
    with pytest.raises(ValueError, match="embedded null"):
        os.open("\x00", os.O_RDONLY)
    with pytest.raises(ValueError, match="embedded null"):
        open("a\x00b")
    assert not os.path.exists("a\x00b")
"""


def test_real_suite_patterns_pass_under_ocirace(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reach=REACH)
    skipped = 1 if sys.version_info < (3, 11) else 0
    plain = _run(pytester)
    plain.assert_outcomes(passed=8 - skipped, skipped=skipped)
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(passed=8 - skipped, skipped=skipped)


def test_a_race_between_two_spellings_of_one_file_is_found(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_spellings=r"""
import os
import threading


def publish(temporary, target):
    with open(temporary, "wb") as handle:
        handle.write(b"layer")
    os.replace(temporary, target)


def test_two_spellings(tmp_path):
    directory = os.path.abspath(tmp_path)
    threads = [
        threading.Thread(target=publish, args=(str(tmp_path) + "/a.tmp", str(tmp_path) + "/blob")),
        threading.Thread(
            target=publish, args=(directory + "\\b.tmp", "\\\\?\\" + directory + "\\BLOB")
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
"""
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*race on *test_two_spellings0?[Bb][Ll][Oo][Bb] (concurrent-publish)*"]
    )
