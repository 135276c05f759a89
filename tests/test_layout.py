"""The package's outer shape: the root holds only the entry points and the errors, and no module of
src/ imports another that (directly or through others) imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

import litvision

SRC = Path(litvision.__file__).resolve().parent


def module_name(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """module -> the litvision modules it imports anywhere in its text (lazy imports inside functions too)."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import module` names a module; `from module import name` names its module
                candidates = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            found |= {c for c in candidates if c in modules and c != name}
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import circle through each module that is on one (depth-first search)."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circles_in_the_package():
    graph = import_graph()
    assert not cycles(graph), cycles(graph)


def test_the_cycle_finder_finds_a_circle(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_root_holds_the_entry_points_and_the_errors_only():
    modules = sorted(p.name for p in SRC.glob("*.py"))
    assert modules == ["__init__.py", "cli.py", "errors.py"]


def test_only_the_cli_runs_as_a_program():
    mains = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "__main__" in p.read_text() and p.name != "cli.py"]
    assert not mains
