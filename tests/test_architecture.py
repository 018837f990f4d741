"""The shape of the code: no import circles, and the model knows nothing of the solvers.

Walks the import statements of every module under ``optimizer/`` and ``models/`` (those
inside functions too: a deferred import is still a dependency; those under
``if TYPE_CHECKING:`` are not, since they never run) and fails on a circle, naming it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("optimizer", "models")


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the project's packages under ``root``: dotted name -> file."""
    names = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` (at ``path``) imports when it runs."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        # The deepest project module that the dotted name starts with.
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    source = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    source = child.module or ""
                for alias in child.names:
                    submodule = f"{source}.{alias.name}"
                    add(submodule if submodule in modules else source)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def import_graph(root: Path) -> nx.DiGraph:
    modules = module_names(root)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target in imported(name, path, modules))
    return graph


def circles(graph: nx.DiGraph) -> list[list[str]]:
    """One circle through each group of modules that import each other, shortest first."""
    found = []
    for group in nx.strongly_connected_components(graph):
        if len(group) > 1:
            circle = min(nx.simple_cycles(graph.subgraph(group)), key=len)
            first = circle.index(min(circle))  # told from its first module, alphabetically
            found.append(circle[first:] + circle[:first])
    return sorted(found)


def test_no_import_circles() -> None:
    found = circles(import_graph(ROOT))
    assert not found, "modules that import each other: " + "; ".join(
        " -> ".join([*c, c[0]]) for c in found)


# What comes after the model in the flow: the model may depend on none of it.
AFTER_THE_MODEL = ("optimizer.solvers", "optimizer.results", "optimizer.report",
                   "optimizer.cli", "optimizer.bench", "optimizer.pipeline", "optimizer.api")


def backward(graph: nx.DiGraph) -> dict[str, list[str]]:
    """Each module of ``models`` -> the modules after the model it depends on, directly or
    not (none is allowed)."""
    found = {}
    for name in graph:
        if name.startswith("models"):
            bad = sorted(m for m in nx.descendants(graph, name) if m.startswith(AFTER_THE_MODEL))
            if bad:
                found[name] = bad
    return found


def test_the_model_imports_nothing_from_the_solvers_or_what_follows_them() -> None:
    assert backward(import_graph(ROOT)) == {}


@pytest.mark.parametrize("deferred", [False, True])
def test_the_walk_finds_a_circle(tmp_path: Path, deferred: bool) -> None:
    """The check itself: two modules that import each other, at the top or in a function,
    are found; an import under ``TYPE_CHECKING`` is not a circle."""
    (tmp_path / "optimizer").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "optimizer" / "__init__.py").write_text("")
    (tmp_path / "models" / "__init__.py").write_text("")
    (tmp_path / "optimizer" / "a.py").write_text("from optimizer.b import thing\n")
    body = ("def f():\n    from optimizer import a\n" if deferred else "import optimizer.a\n")
    (tmp_path / "optimizer" / "b.py").write_text(body)
    (tmp_path / "models" / "m.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from optimizer import a\n"
        "from optimizer.a import x\n")
    found = circles(import_graph(tmp_path))
    assert found == [["optimizer.a", "optimizer.b"]]


def test_the_walk_finds_the_model_depending_on_a_solver(tmp_path: Path) -> None:
    """A model module that reaches a solver through another module is found."""
    (tmp_path / "optimizer" / "solvers").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    for package in ("optimizer", "optimizer/solvers", "models"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "optimizer" / "solvers" / "route.py").write_text("")
    (tmp_path / "optimizer" / "helper.py").write_text(
        "def f():\n    from optimizer.solvers import route\n")
    (tmp_path / "models" / "m.py").write_text("import optimizer.helper\n")
    (tmp_path / "models" / "fine.py").write_text("import optimizer\n")
    assert backward(import_graph(tmp_path)) == {
        "models.m": ["optimizer.solvers.route"]}
