"""The small node helpers every part of the analysis shares."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest

from ocirace_checker.nodes import statements, words

NESTED = textwrap.dedent(
    """\
    def outer(path):
        x = [lambda: 1 for _ in range(3)]
        try:
            with open(path) as handle:
                return handle.read()
        except OSError as error:
            if error.errno:
                raise
            for item in x:
                while item:
                    break
                else:
                    pass
        else:
            y = 1
        finally:
            z = 2
        match path:
            case "a":
                return 1
            case _:
                class Inner:
                    def method(self):
                        self.value = 1
                        return self.value
        async def inner():
            async with lock:
                async for item in source:
                    yield item
    """
)


def _walked_statements(tree: ast.AST) -> list[ast.AST]:
    kinds = (ast.stmt, ast.excepthandler, ast.match_case)
    return [node for node in ast.walk(tree) if node is tree or isinstance(node, kinds)]


@pytest.mark.parametrize(
    "source",
    [NESTED, inspect.getsource(ast), inspect.getsource(inspect), inspect.getsource(textwrap)],
    ids=["nested", "ast", "inspect", "textwrap"],
)
def test_statements_are_what_ast_walk_yields_of_them_in_its_order(source: str):
    tree = ast.parse(source)
    assert list(statements(tree)) == _walked_statements(tree)
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assert list(statements(function)) == _walked_statements(function)


def test_words_split_identifiers_and_give_the_same_answer_again():
    assert words("tmpFileName") == {"tmp", "file", "name"}
    assert words("_write_atomic") == {"write", "atomic"}
    assert words("tmpFileName") == {"tmp", "file", "name"}  # from the memo
    assert words("") == frozenset()
