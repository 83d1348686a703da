"""The shared analysis: names through imports, temp provenance, uniqueness, guards, positions."""

from __future__ import annotations

import ast
import textwrap

import pytest

from ocirace_checker.analysis import ModuleAnalysis, PublishCall, Source
from ocirace_checker.model import LintSettings


def analyse(code: str, settings: LintSettings | None = None) -> ModuleAnalysis:
    text = textwrap.dedent(code).lstrip("\n")
    return ModuleAnalysis(ast.parse(text), Source(text), settings or LintSettings())


def only_publish(analysis: ModuleAnalysis) -> PublishCall:
    assert len(analysis.publish_calls) == 1, analysis.publish_calls
    return analysis.publish_calls[0]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import os\nos.replace(a, b)", "os.replace"),
        ("import os.path\nos.replace(a, b)", "os.replace"),
        ("import os as o\no.rename(a, b)", "os.rename"),
        ("from os import replace as r\nr(a, b)", "os.replace"),
        ("import shutil as sh\nsh.move(a, b)", "shutil.move"),
        ("from shutil import move\nmove(src=a, dst=b)", "shutil.move"),
        ("def f(a, b):\n    import os\n    os.renames(a, b)", "os.renames"),
        ("from pathlib import Path\nPath(a).replace(b)", "pathlib.Path.replace"),
        ("import pathlib\npathlib.Path(a).with_suffix('.x').rename(b)", "pathlib.Path.rename"),
        ("from pathlib import Path\ndef f(p: Path, q):\n    p.replace(q)", "pathlib.Path.replace"),
        ("import asyncio, os\nasyncio.to_thread(os.replace, a, b)", "os.replace"),
        ("import os\nloop.run_in_executor(None, os.replace, a, b)", "os.replace"),
        ("import os\npool.submit(os.rename, a, b)", "os.rename"),
        ("import os, threading\nthreading.Thread(target=os.replace, args=(a, b))", "os.replace"),
        ("from pytest_ocirace import publish\npublish(a, b)", "pytest_ocirace.publish"),
        # Only a path is divided by a string, whatever the left side is (briefcase's
        # `(self.cmdline_tools_path.parent / "cmdline-tools").rename(...)`).
        ("(self.tools.parent / 'cmdline-tools').rename(b)", "pathlib.Path.rename"),
        ("(self.root / f'{name}.part').replace(b)", "pathlib.Path.replace"),
    ],
)
def test_publish_calls_resolve_through_imports_and_aliases(code: str, expected: str) -> None:
    assert only_publish(analyse(code)).qualified_name == expected


@pytest.mark.parametrize(
    "code",
    [
        "text.replace('a', 'b')",
        "s = 'x'.replace('a', 'b', 1)",
        "from myproject.fs import replace\nreplace(a, b)",
        "def f(os):\n    os.replace(a, b)",
        "frame.rename(columns)",
        "when.replace(year)",
        "(self.count / 2).replace(b)",
        "import os\nos.replace(*pair)",
        "import os\nos.remove(a)",
    ],
)
def test_things_that_are_not_publish_calls(code: str) -> None:
    assert analyse(code).publish_calls == []


def test_source_positions_count_characters_not_bytes() -> None:
    text = 'x = "é€"; os.replace(a, b)\n'
    tree = ast.parse(text)
    call = tree.body[1].value  # type: ignore[attr-defined]
    line, column, end_line, end_column = Source(text).span(call)
    assert (line, end_line) == (1, 1)
    assert text[column:end_column] == "os.replace(a, b)"


@pytest.mark.parametrize(
    ("assignment", "kind", "unique", "created"),
    [
        ("fd, tmp = tempfile.mkstemp()", "mkstemp", True, True),
        ("tmp = tempfile.mkstemp()[1]", "mkstemp", True, True),
        ("tmp = tempfile.mktemp()", "mktemp", True, False),
        ("tmp = dst + '.tmp'", "derived", False, False),
        ("tmp = f'{dst}.{uuid.uuid4().hex}.tmp'", "derived", True, False),
        ("tmp = '%s.%d.part' % (dst, os.getpid())", "derived", True, False),
        ("tmp = os.path.join(tempfile.mkdtemp(), 'x')", "tempdir", True, False),
        ("tmp = compute()", "name", False, False),
    ],
)
def test_temp_provenance(assignment: str, kind: str, unique: bool, created: bool) -> None:
    analysis = analyse(f"import os, tempfile, uuid\n{assignment}\nos.replace(tmp, dst)\n")
    info = analysis.temp_info(only_publish(analysis).src)
    assert info is not None
    assert (info.kind, info.unique, info.created) == (kind, unique, created)


def test_named_temporary_file_name_is_a_created_temp() -> None:
    analysis = analyse(
        """
        import os, tempfile
        with tempfile.NamedTemporaryFile(delete=False) as handle:
            pass
        os.replace(handle.name, dst)
        """
    )
    info = analysis.temp_info(only_publish(analysis).src)
    assert info is not None
    assert info.kind == "named"


def test_plain_names_are_not_temps() -> None:
    analysis = analyse("import os\nos.replace(source, target)\n")
    publish = only_publish(analysis)
    assert analysis.temp_info(publish.src) is None


@pytest.mark.parametrize(
    ("wrapper", "guarded"),
    [
        ("with LOCK:", True),
        ("with self._lock:", True),
        ("with filelock.FileLock(p):", True),
        ("with portalocker.Lock(p):", True),
        ("with fasteners.InterProcessLock(p):", True),
        ("with write_mutex:", True),
        ("with blocking_io():", False),
        ("with clock:", False),
        ("with open(log) as f:", False),
        ("with contextlib.suppress(PermissionError):", True),
        ("with contextlib.suppress(KeyError):", False),
    ],
)
def test_with_guards(wrapper: str, guarded: bool) -> None:
    analysis = analyse(
        f"import os, contextlib\ndef f(self):\n    {wrapper}\n        os.replace(a, b)\n"
    )
    assert analysis.is_guarded(only_publish(analysis).call) is guarded


@pytest.mark.parametrize(
    ("handler", "guarded"),
    [
        ("except PermissionError:\n        time.sleep(1)", True),
        ("except (FileExistsError, PermissionError):\n        pass", True),
        ("except OSError as e:\n        if e.winerror != 5:\n            raise", True),
        ("except FileExistsError:\n        raise Busy(b)", True),
        ("except OSError:\n        os.unlink(a)\n        raise", False),
        ("except OSError:\n        raise RuntimeError('x')", False),
        ("except KeyError:\n        pass", False),
    ],
)
def test_try_except_guards(handler: str, guarded: bool) -> None:
    code = f"import os, time\ndef f():\n    try:\n        os.replace(a, b)\n    {handler}\n"
    analysis = analyse(code)
    assert analysis.is_guarded(only_publish(analysis).call) is guarded


def test_explicit_acquire_and_release_and_decorators_guard() -> None:
    acquired = analyse(
        "import os\ndef f(lock):\n    lock.acquire()\n    try:\n        os.replace(a, b)\n"
        "    finally:\n        lock.release()\n"
    )
    assert acquired.is_guarded(only_publish(acquired).call)
    for decorator in (
        "@tenacity.retry",
        "@backoff.on_exception(backoff.expo, OSError)",
        "@retrying.retry()",
        "@with_retries(3)",
    ):
        decorated = analyse(
            f"import os, tenacity, backoff, retrying\n{decorator}\ndef f():\n    os.replace(a, b)\n"
        )
        assert decorated.is_guarded(only_publish(decorated).call), decorator
    plain = analyse("import os, functools\n@functools.cache\ndef f():\n    os.replace(a, b)\n")
    assert not plain.is_guarded(only_publish(plain).call)


def test_settings_extend_lock_names_and_guard_functions() -> None:
    code = (
        "import os\nfrom acme import safely\n"
        "@safely\ndef f():\n    with gate:\n        os.replace(a, b)\n"
    )
    plain = analyse(code)
    assert not plain.is_guarded(only_publish(plain).call)
    with_lock = analyse(code, LintSettings(extra_lock_names=("gate",)))
    assert with_lock.is_guarded(only_publish(with_lock).call)
    with_guard = analyse(code, LintSettings(extra_guard_functions=("acme.safely",)))
    assert with_guard.is_guarded(only_publish(with_guard).call)


def test_windows_excluded_branches() -> None:
    code = (
        "import os, sys\n"
        "if sys.platform != 'win32':\n    os.rename(a, b)\n"
        "if os.name == 'nt':\n    pass\nelse:\n    os.rename(c, d)\n"
        "if os.name == 'nt':\n    os.rename(e, f)\n"
    )
    analysis = analyse(code)
    excluded = [analysis.windows_excluded(p.call) for p in analysis.publish_calls]
    assert sorted(excluded) == [False, True, True]


def test_a_name_shadowed_in_a_class_body_is_not_the_import() -> None:
    text = "import os\nclass C:\n    os = object()\n    os.replace(a, b)\nos.replace(c, d)\n"
    analysis = ModuleAnalysis(ast.parse(text), Source(text), LintSettings())
    assert [p.call.lineno for p in analysis.publish_calls] == [5]


def test_a_method_does_not_see_its_class_body_names() -> None:
    text = "import os\nclass C:\n    os = object()\n    def f(self):\n        os.replace(a, b)\n"
    analysis = ModuleAnalysis(ast.parse(text), Source(text), LintSettings())
    assert [p.call.lineno for p in analysis.publish_calls] == [5]


def test_a_name_rebound_after_its_import_is_not_the_import() -> None:
    text = "import os\nos.replace(a, b)\nos = Fake()\nos.replace(c, d)\n"
    analysis = ModuleAnalysis(ast.parse(text), Source(text), LintSettings())
    assert [p.call.lineno for p in analysis.publish_calls] == [2]


@pytest.mark.parametrize(
    "alias",
    [
        "safe_rename = getattr(os, 'replace', os.rename)",
        "safe_rename = os.replace",
        "safe_rename = os.replace if hasattr(os, 'replace') else os.rename",
        "import nt as _os\nsafe_rename = _os.replace",
    ],
)
def test_module_level_aliases_of_rename_functions(alias: str) -> None:
    text = f"import os\n{alias}\ndef f(a, b):\n    safe_rename(a, b)\n"
    analysis = ModuleAnalysis(ast.parse(text), Source(text), LintSettings())
    assert [p.qualified_name for p in analysis.publish_calls] == ["os.replace"]


def test_a_module_kept_as_an_attribute_under_its_own_name() -> None:
    text = "def f(self, a, b):\n    self.tools.shutil.move(a, b)\n"
    analysis = ModuleAnalysis(ast.parse(text), Source(text), LintSettings())
    assert [p.qualified_name for p in analysis.publish_calls] == ["shutil.move"]


def test_digest_sites() -> None:
    analysis = analyse(
        """
        import os
        from pathlib import Path
        a = os.path.join(root, "sha256:" + h)
        b = Path(root) / f"{algorithm}:{hexdigest}"
        c = os.path.join(root, ":".join([alg, hexd]))
        d = "sha256:" + h
        e = os.path.join(host + ":" + port)
        f = open("blobs/sha512:" + h)
        """
    )
    assert sorted(site.node.lineno for site in analysis.digest_sites) == [3, 4, 5, 8]


def test_the_reasons_of_a_call_do_not_depend_on_the_order_they_were_noted() -> None:
    # meson's introspection.py:364 showed its two notes either way round from run to run
    # (which search asked first followed the string hash seed): JSON and SARIF changed.
    code = "import os\ndef f(a, b):\n    os.replace(a, b)\n"
    first, second = analyse(code), analyse(code)
    call_1, call_2 = first.publish_calls[0].call, second.publish_calls[0].call
    for reason in ("unknown: callers more than 3 calls up", "not guarded: the caller at 9"):
        first.note(call_1, reason)
    for reason in ("not guarded: the caller at 9", "unknown: callers more than 3 calls up"):
        second.note(call_2, reason)
    assert first.reasons(call_1) == second.reasons(call_2)
    assert len(first.reasons(call_1)) == 2
