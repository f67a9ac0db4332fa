"""The layout rules of README's "Layout" section, read from the source: lower folders never import `stages/`,
and no module imports one that (directly or through others) imports it back, lazy imports inside functions
included."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "distill"
LOWER = ("llm", "checks", "data", "store", "views", "runtime")
KERNEL = ("types", "recipe", "errors", "registry", "suggest", "scaffold", "redaction", "metrics", "eval_stats")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the distill modules it imports anywhere in its source (``from distill.x import y`` counts
    ``distill.x.y`` when that is a module, else ``distill.x``)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("distill"):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    found.add(target if target in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("distill"))
        # The root package is the lazy facade (``distill.run`` ...) and the home of __version__: importing
        # the version from it is not a dependency on what its functions import when called.
        graph[name] = {target for target in found if target in modules and target not in (name, "distill")}
    return graph


def test_lower_layers_never_import_stages() -> None:
    graph = _imports()
    offenders = sorted((module, target) for module, targets in graph.items() for target in targets
                       if target.startswith("distill.stages") and module != "distill" and (
                           module.split(".")[1] in LOWER or module.split(".")[-1] in KERNEL))
    assert offenders == []


def test_no_import_circles() -> None:
    graph = _imports()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # A package's __init__ importing its own submodules is how registries fill; that is not a circle of stages.
    real = [cycle for cycle in cycles if not all(part.startswith(cycle[0].rsplit(".", 1)[0]) for part in cycle)
            or any(".stages." in part for part in cycle)]
    assert real == []


def test_the_top_level_holds_only_the_kernel() -> None:
    files = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem not in ("__init__", "__main__"))
    assert files == sorted(KERNEL)
