"""The modules of common/ depend on each other one way: no import cycle, counting the imports
inside functions (which hide a cycle from Python but not from a reader)."""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMON = os.path.join(ROOT, "common")


def imported_modules(source: str, package: str = "common") -> set[str]:
    """The modules of `package` that a module's source imports anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom):  # relative: from . import x, from .x import y
            names = [f"{package}.{node.module or alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == package and len(parts) > 1:
                found.add(parts[1])
    return found


def import_graph(folder: str = COMMON) -> dict[str, set[str]]:
    graph = {}
    for filename in sorted(os.listdir(folder)):
        if filename.endswith(".py") and filename != "__init__.py":
            with open(os.path.join(folder, filename), encoding="utf-8") as f:
                graph[filename[:-3]] = imported_modules(f.read())
    return {module: {d for d in deps if d in graph and d != module} for module, deps in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path of module names (its first name repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                return path[path.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep, path + [dep])):
                return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [module])):
            return cycle
    return None


def test_common_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in common/: " + " -> ".join(cycle or [])


def test_an_import_inside_a_function_counts():
    source = "from common import log\n\ndef run():\n    from common import services\n    import common.notify\n"
    assert imported_modules(source) == {"log", "services", "notify"}


def test_a_cycle_is_found_and_named():
    graph = {"services": {"taskqueue"}, "taskqueue": {"log", "services"}, "log": set()}
    assert find_cycle(graph) == ["services", "taskqueue", "services"]
    assert find_cycle({"services": {"taskqueue"}, "taskqueue": {"log"}, "log": set()}) is None
