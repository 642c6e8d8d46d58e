"""Every docstring example (`>>>`) in `thinktune` runs: one test per module that has any.

The modules are found without importing them (`pkgutil.iter_modules` over the source folders, and `ast`
for which docstrings hold examples), so collecting this file stays fast; each test imports its module and
runs its examples with `doctest`. A module that needs an optional extra that is not installed (vllm,
llama-cpp-python, …) is skipped with the package's name.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import io
import pkgutil
from pathlib import Path

import pytest

import thinktune

NOT_IMPORTED = {"thinktune.__main__": "runs the CLI when imported"}


def walk(paths: list[str], prefix: str) -> list[tuple[str, Path]]:
    """(module name, source file) of every module under `paths`, packages included, nothing imported."""
    found = []
    for info in pkgutil.iter_modules(paths, prefix):
        path = Path(info.module_finder.path) / info.name.rpartition(".")[2]  # type: ignore[attr-defined]
        if info.ispkg:
            found.append((info.name, path / "__init__.py"))
            found.extend(walk([str(path)], info.name + "."))
        else:
            found.append((info.name, path.with_suffix(".py")))
    return found


def has_examples(source: str) -> bool:
    """True when a docstring doctest reads holds a `>>>` example: the module's, or a class's or function's
    at module level or inside classes (doctest does not look inside functions)."""

    def docstrings(node: ast.AST):
        yield ast.get_docstring(node, clean=False) or ""  # type: ignore[arg-type]
        if isinstance(node, ast.Module | ast.ClassDef):
            for child in node.body:
                if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    yield from docstrings(child)

    return any(">>>" in doc for doc in docstrings(ast.parse(source)))


MODULES = sorted(name for name, path in walk(list(thinktune.__path__), "thinktune.")
                 if path.exists() and has_examples(path.read_text(encoding="utf-8")))


def test_the_modules_with_examples_are_found():
    assert {"thinktune.format", "thinktune.verify", "thinktune.config", "thinktune.data.readers",
            "thinktune.data.validate", "thinktune.inference.voting", "thinktune.sandbox"} <= set(MODULES)
    assert has_examples('def f():\n    """Add.\n\n    >>> 1 + 1\n    2\n    """\n')
    assert has_examples('class A:\n    class B:\n        def f(self):\n            """>>> 1\n            1\n            """\n')
    assert not has_examples('"""No examples."""\nx = ">>> not a docstring"\n')
    assert not has_examples('def f():\n    def g():\n        """>>> 1\n        1\n        """\n')  # doctest skips it


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in NOT_IMPORTED:
        pytest.skip(NOT_IMPORTED[name])
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and not e.name.startswith("thinktune"):
            pytest.skip(f"{name} needs the optional package {e.name!r}")
        raise
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert tests, f"{name}: ast saw `>>>` examples but doctest finds none"
    runner = doctest.DocTestRunner()
    report = io.StringIO()
    for test in sorted(tests, key=lambda t: t.name):
        runner.run(test, out=report.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed\n{report.getvalue()}"
