"""The layout shows the pipeline: training/ is split into stage sub-packages with no import cycles, and never
imports gradio; components/ never imports the ML libraries."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGES = {"config", "data", "models", "methods", "run", "estimate", "evaluate", "publish", "hosting", "cli"}


def _modules(package: str) -> dict[str, Path]:
    base = ROOT / package
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in base.rglob("*.py")}


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_training_is_split_by_stage():
    subpackages = {p.name for p in (ROOT / "training").iterdir() if (p / "__init__.py").exists()}
    assert STAGES <= subpackages
    loose = {p.name for p in (ROOT / "training").glob("*.py")} - {"__init__.py", "__main__.py", "recipe.py"}
    assert not loose, f"modules outside a stage: {loose}"


def test_no_import_cycles_at_module_level():
    modules = _modules("training")
    graph = {name: {m for m in _imports(path, True) if m in modules and m != name} for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(nxt):] + [nxt])}")
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_training_never_imports_gradio_and_components_never_import_ml_libraries():
    for name, path in _modules("training").items():
        assert not any(m.split(".")[0] == "gradio" for m in _imports(path, False)), name
    for name, path in _modules("components").items():
        bad = {m.split(".")[0] for m in _imports(path, False)} & {"torch", "transformers", "trl", "peft"}
        assert not bad, f"{name} imports {bad}"
