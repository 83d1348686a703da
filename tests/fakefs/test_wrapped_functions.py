"""Wrappers of ``os`` functions keep their own behaviour inside the simulation."""

from __future__ import annotations

import functools
import os
import textwrap

import pytest

from pytest_ocirace.fakefs.wrapped_functions import rebound_wrapper

_WRAPPERS = textwrap.dedent(
    """
    import asyncio, functools, os

    CALLS = []

    def wrap(func):  # aiofiles.ospath.wrap, as aiofiles.os builds its functions
        @functools.wraps(func)
        async def run(*args, loop=None, executor=None, **kwargs):
            loop = loop or asyncio.get_running_loop()
            return await loop.run_in_executor(executor, functools.partial(func, *args, **kwargs))
        return run

    def counted(func):  # a synchronous decorator that adds behaviour (a retry, a log)
        @functools.wraps(func)
        def run(*args, **kwargs):
            CALLS.append(func.__name__)
            return func(*args, **kwargs)
        return run

    replace = wrap(os.replace)
    remove = wrap(os.remove)
    counted_replace = counted(os.replace)
    renames = wrap(os.renames)  # os.py's own Python code, absent from FakeOsModule.dir()
    from os import renames as plain_renames
    from os import truncate
    """
)

_TESTS = textwrap.dedent(
    """
    import asyncio, inspect, os
    import ocirace_wrappers as w

    def test_async_wrappers_stay_awaitable_and_reach_the_fake_disk(tmp_path):
        assert str(tmp_path).startswith("C:")  # inside the simulation
        (tmp_path / "a").write_text("x")
        assert inspect.iscoroutinefunction(w.replace)
        asyncio.run(w.replace(str(tmp_path / "a"), str(tmp_path / "b")))
        assert (tmp_path / "b").read_text() == "x"
        asyncio.run(w.remove(str(tmp_path / "b")))
        assert not (tmp_path / "b").exists()

    def test_functions_pyfakefs_does_not_list_reach_the_fake_disk(tmp_path):
        # aiofiles' test_renames: os.renames, captured at import, renamed on the real disk.
        (tmp_path / "a").write_text("x")
        asyncio.run(w.renames(str(tmp_path / "a"), str(tmp_path / "sub" / "b")))
        assert (tmp_path / "sub" / "b").read_text() == "x"
        w.plain_renames(str(tmp_path / "sub" / "b"), str(tmp_path / "other" / "c"))
        assert not (tmp_path / "sub").exists()  # emptied, so removed
        w.truncate(str(tmp_path / "other" / "c"), 0)
        assert (tmp_path / "other" / "c").read_text() == ""

    def test_a_synchronous_wrapper_keeps_what_it_adds(tmp_path):
        (tmp_path / "a").write_text("x")
        w.counted_replace(str(tmp_path / "a"), str(tmp_path / "b"))
        assert w.CALLS == ["replace"]
        assert (tmp_path / "b").read_text() == "x"
    """
)


def test_wrappers_of_os_functions_run_their_own_code_on_the_fake_filesystem(
    pytester: pytest.Pytester,
) -> None:
    # persist-queue 1.1.0 awaits aiofiles.os.replace on every put: pyfakefs took the
    # wrapper (``functools.wraps`` gives it os.replace's name and module) for os.replace
    # and swapped in the synchronous fake, and ``await`` raised "object NoneType can't be
    # used in 'await' expression" (plain pyfakefs does the same).
    pytester.makepyfile(ocirace_wrappers=_WRAPPERS, test_wrapped=_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(passed=3)


def test_the_wrappers_are_put_back_after_the_simulation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ocirace_wrappers=_WRAPPERS,
        test_back=textwrap.dedent(
            """
            import pytest
            import ocirace_wrappers as w

            ORIGINAL = w.replace

            def test_inside(winfs):
                assert w.replace is not ORIGINAL  # the copy on the fake disk

            def test_after():
                assert w.replace is ORIGINAL
            """
        ),
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_a_copy_holds_the_fake_where_the_original_held_the_real_function() -> None:
    calls: list[str] = []

    def real(x: str) -> str:
        return f"real {x}"

    def fake(x: str) -> str:
        calls.append(x)
        return f"fake {x}"

    @functools.wraps(real)
    def wrapper(x: str, *, suffix: str = "!") -> str:
        return real(x) + suffix

    copy = rebound_wrapper(wrapper, real, fake)
    assert copy is not None
    assert copy("a") == "fake a!"
    assert calls == ["a"]
    assert wrapper("a") == "real a!"  # the original is untouched
    assert copy.__wrapped__ is real  # type: ignore[attr-defined]
    assert copy.__name__ == wrapper.__name__
    assert copy.__kwdefaults__ == {"suffix": "!"}


def test_no_copy_when_the_closure_does_not_hold_the_function() -> None:
    @functools.wraps(os.replace)
    def looks_up_at_call_time(a: str, b: str) -> None:
        os.replace(a, b)

    assert rebound_wrapper(looks_up_at_call_time, os.replace, print) is None
