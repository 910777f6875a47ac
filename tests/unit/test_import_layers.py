"""The stage layout of training/, checked from the source: no lower stage imports a higher one, and no import loops.

Stages (README, developers' guide): config, methods, hosting < data, models < recipe < estimate, run, evaluate < publish, cli.
Every `from training... import` and `import training...` counts, at the top of a module or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "training"
STAGES = {"config": 0, "methods": 0, "hosting": 0, "data": 1, "models": 1, "recipe": 2, "estimate": 3, "run": 3, "evaluate": 3,
          "publish": 4, "cli": 4}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    if parts[1] == "__main__":
        return STAGES["cli"]
    return STAGES.get(parts[1])


def _imports(path: Path, known: set[str]) -> set[str]:
    """The modules of `training` a file imports (a `from pkg import name` counts pkg.name when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("training") and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("training"))
    return {m for m in found if m in known}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known) - {name} for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        low = _stage(module)
        for target in targets:
            high = _stage(target)
            if low is not None and high is not None and high > low:
                bad.append(f"{module} (stage {low}) imports {target} (stage {high})")
    return sorted(bad)


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan). A package's __init__ importing its
    own modules is not a loop, so edges from a package to its own submodules are left out."""
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return cycles


def test_every_module_has_a_stage():
    unknown = [m for m in _modules() if m != "training" and _stage(m) is None]
    assert not unknown, f"modules outside the stage layout: {unknown}"


def test_no_lower_stage_imports_a_higher_one():
    bad = upward_imports(import_graph())
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_import_loops():
    cycles = import_cycles(import_graph())
    assert not cycles, f"import loops: {cycles}"


def test_the_checks_catch_what_they_name():
    """The checker itself: an upward import and a loop in a made-up graph are found."""
    graph = {"training.data.a": {"training.recipe.b"}, "training.recipe.b": {"training.data.a"}, "training.config.c": set()}
    assert upward_imports(graph) == ["training.data.a (stage 1) imports training.recipe.b (stage 2)"]
    assert import_cycles(graph) == [["training.data.a", "training.recipe.b"]]
    assert not import_cycles({"training.recipe": {"training.recipe.train"}, "training.recipe.train": {"training.recipe"}})
