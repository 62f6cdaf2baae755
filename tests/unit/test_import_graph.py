"""The package's modules import each other without a cycle, and every one of them imports.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import`` of a
module, wherever it stands — at module level, inside a function (a lazy import is still a
dependency a reader follows) and under ``if TYPE_CHECKING:`` (a type-only import still ties two
modules together). ``from . import name`` counts as an import of the submodule ``name`` when there
is one, else of the package.

Not counted: the edge from a submodule to its own package that Python adds by running the
package's ``__init__`` first (``jupyter_jobs.handlers.jobs`` → ``jupyter_jobs.handlers``). That
is how packages work, not a dependency of the submodule's code; a submodule that does use a name
of its package's ``__init__`` imports it explicitly, and that import is counted.
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "jupyter_jobs"


def modules(root: pathlib.Path) -> dict[str, tuple[pathlib.Path, bool]]:
    """Dotted name → (file, is a package), for every Python module under ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if "labextension" in parts or "node_modules" in parts:
            continue
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def imported(name: str, is_package: bool, node: ast.AST, known: set[str]) -> list[str]:
    """The modules of ``known`` that one import statement of module ``name`` imports."""
    targets: list[str] = []
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        for alias in node.names:
            sub = f"{prefix}.{alias.name}"
            targets.append(sub if sub in known else prefix)
    out = []
    for target in targets:
        while target and target not in known:  # ``a.b.c`` of an attribute: its module
            target = target.rpartition(".")[0]
        if target and target != name:
            out.append(target)
    return out


def import_graph(root: pathlib.Path) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, (path, is_package) in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            graph[name].update(imported(name, is_package, node, known))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if colour[start] != WHITE:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        colour[start] = GREY
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = BLACK
                stack.pop()
            elif colour[nxt] == GREY:
                return [*path[path.index(nxt) :], nxt]
            elif colour[nxt] == WHITE:
                colour[nxt] = GREY
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert "jupyter_jobs.handlers.base" in graph and "jupyter_jobs.client" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles(tmp_path):
    """The check above can fail: a package with a cycle (one import function-local, one from a
    package's ``__init__``) is caught, and the same package without it passes."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("from .b import thing\n")
    (pkg / "sub" / "b.py").write_text("def thing():\n    from ..a import x\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    (pkg / "sub" / "b.py").write_text("def thing():\n    import json\n")
    assert find_cycle(import_graph(pkg)) is None


def test_the_client_does_not_import_the_server():
    """The CLI and notebooks import the client: it must not pull in tornado's handlers."""
    graph = import_graph(PACKAGE)
    seen, todo = set(), ["jupyter_jobs.client"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    assert not {n for n in seen if n.startswith(("jupyter_jobs.handlers", "jupyter_jobs.manager"))}
    assert "jupyter_jobs.api_paths" in seen


@pytest.mark.parametrize("name", sorted(modules(PACKAGE)))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_only_the_server_extension_imports_the_handlers():
    """The handlers are the top layer: manager, spawners, kernels, client... never import them
    (a reader goes from a handler down to its manager method, spawner and runner)."""
    graph = import_graph(PACKAGE)
    importers = {
        name
        for name, targets in graph.items()
        if any(
            t == "jupyter_jobs.handlers" or t.startswith("jupyter_jobs.handlers.") for t in targets
        )
        and not name.startswith("jupyter_jobs.handlers")
    }
    assert importers == {"jupyter_jobs.app"}, importers
