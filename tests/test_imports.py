"""The import graph of `thinktune`, read from the source with `ast` (nothing is imported, so it is fast and
sees optional-extra modules too).

Every `import` and `from … import` counts: top-level, inside functions (the lazy imports that keep the CLI
fast) and under `if TYPE_CHECKING:`; relative imports are resolved. Two rules:

(a) only the CLI (`thinktune/cli.py`, `thinktune/commands/*`, and the `python -m thinktune` entry point
    `thinktune/__main__.py`) imports `thinktune.cli` or `thinktune.commands…`: library code raises
    `thinktune.errors.UserError` and never needs the CLI;
(b) no import cycle between packages, where a module's package is its first component under `thinktune`
    (`thinktune.recipes.sft` → `recipes`, `thinktune.format` → `format`; `thinktune/__init__.py` and
    `__main__.py` are left out, and imports within one package are not edges).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "thinktune"
CLI_MODULES = ("thinktune.cli", "thinktune.commands")  # a module is in these when it is one or under one
ENTRY_POINTS = ("thinktune.cli", "thinktune.commands", "thinktune.__main__")  # may import the CLI

# Package-level edges ("from", "to") that close a known cycle, in files whose clean-up is pending; each
# entry names the import(s) that make it. They are left out of the cycle check. The goal is an empty set:
# remove an entry as soon as its import is gone (`test_the_allow_list_holds_only_edges_still_in_a_cycle`
# fails while an entry is stale).
KNOWN_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset()


# ------------------------------------------------------------------------------------------ the graph
def module_name(path: Path, src: Path = SRC) -> tuple[str, bool]:
    """(dotted module name, is a package) of a source file under `src`."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


@cache
def modules() -> dict[str, Path]:
    """Every module under src/thinktune, by dotted name."""
    found = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        name, _ = module_name(path, SRC)
        found[name] = path
    return found


def imports_of(name: str, source: str, is_package: bool, known: frozenset[str] | set[str] = frozenset()
               ) -> list[tuple[str, int]]:
    """(imported module, line) for every import in `source`, function-level ones included.

    `from a.b import c` counts as importing `a.b.c` when that is a module in `known`, else `a.b`; relative
    imports are resolved against `name` (a package's own name is its base, a module's is its parent's).
    """
    base = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join([*up, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.append((sub if sub in known else module, node.lineno))
    return found


def package_of(module: str) -> str | None:
    """The first component under `thinktune` (None for `thinktune` itself, `__init__` and `__main__`)."""
    parts = module.split(".")
    if parts[0] != ROOT or len(parts) < 2 or parts[1] in ("__init__", "__main__"):
        return None
    return parts[1]


@cache
def module_edges() -> list[tuple[str, str, str]]:
    """(importing module, imported thinktune module, `file:line`) for every import of thinktune code."""
    known = set(modules())
    edges = []
    for name, path in modules().items():
        is_package = path.name == "__init__.py"
        for target, line in imports_of(name, path.read_text(encoding="utf-8"), is_package, known):
            if target == ROOT or target.startswith(ROOT + "."):
                edges.append((name, target, f"{path.relative_to(SRC.parent)}:{line}"))
    return edges


def package_graph(skip: frozenset[tuple[str, str]] = frozenset()) -> dict[str, dict[str, list[str]]]:
    """{package: {imported package: [file:line, …]}}, self-edges and `skip` left out."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for source, target, where in module_edges():
        a, b = package_of(source), package_of(target)
        if a is None or b is None or a == b or (a, b) in skip:
            continue
        if where not in graph[a][b]:  # `from x import a, b` is one import
            graph[a][b].append(where)
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """A cycle as a path `[a, b, …, a]`, or None when the graph has none (depth-first, sorted: deterministic)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def reachable(graph: dict[str, dict[str, list[str]]], start: str) -> set[str]:
    """The packages `start` imports, directly or not."""
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def describe(cycle: list[str], graph: dict[str, dict[str, list[str]]]) -> str:
    lines = [" -> ".join(cycle)]
    for a, b in zip(cycle, cycle[1:], strict=False):
        lines.append(f"  {a} -> {b}: " + ", ".join(graph[a][b]))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- the rules
def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_only_the_cli_imports_the_cli():
    offenders = [f"{where}: {source} imports {target}" for source, target, where in module_edges()
                 if _in(target, CLI_MODULES) and not _in(source, ENTRY_POINTS)]
    assert not offenders, "library code must not import the CLI (raise thinktune.errors.UserError):\n" + \
        "\n".join(offenders)


def test_no_import_cycle_between_packages():
    graph = package_graph(skip=KNOWN_CYCLE_EDGES)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between packages:\n" + describe(cycle, graph)


def test_the_allow_list_holds_only_edges_still_in_a_cycle():
    graph = package_graph()
    for a, b in sorted(KNOWN_CYCLE_EDGES):
        assert graph.get(a, {}).get(b), f"{a} -> {b} is gone: remove it from KNOWN_CYCLE_EDGES"
        assert a in reachable(graph, b), f"{a} -> {b} closes no cycle any more: remove it from KNOWN_CYCLE_EDGES"


def test_answer_checking_and_the_sandbox_do_not_import_the_rewards():
    """`tasks.check_answer` is the one home of answer checking (evaluation and rewards both use it); the
    sandbox it runs code in is a leaf (only `thinktune.errors`, itself a leaf, for its one user error)."""
    for source, target, where in module_edges():
        if _in(source, ("thinktune.tasks",)):
            assert not _in(target, ("thinktune.rewards",)), f"{where}: {source} imports {target}"
        if source in ("thinktune.sandbox", "thinktune.errors") and target != "thinktune.errors":
            raise AssertionError(f"{where}: {source} imports {target}; it must stay a leaf module")


# ------------------------------------------------------------------------------------ the graph reader
@pytest.mark.parametrize(("name", "is_package", "source", "expected"), [
    ("thinktune.rewards.accuracy", False, "from thinktune.tasks import check_answer",
     [("thinktune.tasks", 1)]),
    ("thinktune.rewards.accuracy", False, "from . import columns\nfrom .format import x",
     [("thinktune.rewards.columns", 1), ("thinktune.rewards.format", 2)]),
    ("thinktune.rewards", True, "from .accuracy import accuracy", [("thinktune.rewards.accuracy", 1)]),
    ("thinktune.inference.engines.hf", False, "from ...format import parse", [("thinktune.format", 1)]),
    ("thinktune.chat", False, "def f():\n    import thinktune.models as m\n    from thinktune import format",
     [("thinktune.models", 2), ("thinktune.format", 3)]),
    ("thinktune.x", False, "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from thinktune.cli import UserError",
     [("typing", 1), ("thinktune.cli", 3)]),
])
def test_imports_are_read_everywhere_and_relative_ones_resolved(name, is_package, source, expected):
    known = {"thinktune.rewards.columns", "thinktune.rewards.format", "thinktune.rewards.accuracy",
             "thinktune.format", "thinktune.models"}
    assert sorted(imports_of(name, source, is_package, known), key=lambda t: t[1]) == expected


def test_the_graph_covers_the_package():
    names = set(modules())
    assert {"thinktune.cli", "thinktune.format", "thinktune.rewards.accuracy", "thinktune.sandbox"} <= names
    assert package_of("thinktune.recipes.sft") == "recipes" and package_of("thinktune.format") == "format"
    assert package_of("thinktune.__main__") is None and package_of("thinktune") is None
    graph = package_graph()
    assert graph["rewards"]["tasks"] and graph["tasks"]["sandbox"]


def test_find_cycle_reports_the_path():
    graph = {"a": {"b": ["a.py:1"]}, "b": {"c": ["b.py:2"]}, "c": {"a": ["c.py:3"]}, "d": {"a": ["d.py:4"]}}
    cycle = find_cycle(graph)
    assert cycle == ["a", "b", "c", "a"]
    assert describe(cycle, graph).splitlines() == ["a -> b -> c -> a", "  a -> b: a.py:1", "  b -> c: b.py:2",
                                                   "  c -> a: c.py:3"]
    assert find_cycle({"a": {"b": []}, "b": {}}) is None
    assert reachable(graph, "d") == {"a", "b", "c"} and reachable(graph, "a") == {"a", "b", "c"}
