"""The package's layers import one way, and no module imports itself back through others.

    cli -> api -> report / builders -> pipeline -> models / tasks / metrics / stats / store -> formats -> core

The package's own ``clue/__init__.py`` reaches the API lazily (``clue.evaluate``): importing
any clue module runs it, so an eager import would load the whole pipeline everywhere.

Every ``import`` of a clue module counts, at the top of a module or inside a
function: an import hidden in a function cannot dodge the rule. Inside the
middle layer the packages are ordered too (tasks may use metrics, metrics the
store, never the reverse). Only the command line imports clue modules inside
functions (to start fast); anywhere else that is how a cycle hides, so it fails.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "clue"

# (layer, rank inside the layer): a module may import a lower layer, or its own
# layer at a lower rank, or its own package.
LAYERS: dict[str, tuple[int, int]] = {
    "core": (0, 0),
    "formats": (1, 0),
    "store": (2, 0),
    "stats": (2, 1),
    "metrics": (2, 2),
    "models": (2, 3),
    "tasks": (2, 4),
    "pipeline": (3, 0),
    "builders": (4, 0),
    "report": (4, 1),
    "api": (5, 0),
    "cli": (6, 0),
}
LAZY_IMPORTS_ALLOWED = ("cli",)  # start-up time: commands load the library when they run
# (module, imported module): the package root's PEP 562 ``__getattr__`` loads the API on first use
LAZY_ROOT = {("clue", "clue.api")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(imported clue module, line, inside a function) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested |= {id(n) for n in ast.walk(node) if n is not node}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from clue.metrics import icd" imports the module clue.metrics.icd
            names = [f"{target}.{a.name}" if (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
                     or (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).is_dir() else target
                     for a in node.names]
        for name in names:
            if name == "clue" or name.startswith("clue."):
                found.append((name, node.lineno, id(node) in nested))
    return found


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def rank(module: str) -> tuple[int, int]:
    package = package_of(module)
    if package == "" or package == "__main__":
        return (0, 0)
    if package not in LAYERS:
        pytest.fail(f"{module}: package clue.{package} has no layer in tests/test_layers.py; add it to LAYERS")
    return LAYERS[package]


def test_every_import_goes_down_the_layers():
    problems = []
    for module, path in all_modules().items():
        here = rank(module)
        for target, line, _lazy in imports_of(path):
            if package_of(target) == package_of(module) or (module, target) in LAZY_ROOT:
                continue
            there = rank(target)
            if there > here or (there[0] == here[0] and there[1] == here[1]):
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {target} (layer {there} is not below {here})")
    assert not problems, "upward or sideways imports:\n" + "\n".join(problems)


def test_no_import_hides_in_a_function_outside_the_command_line():
    problems = []
    for module, path in all_modules().items():
        if package_of(module) in LAZY_IMPORTS_ALLOWED:
            continue
        for target, line, lazy in imports_of(path):
            if lazy and (module, target) not in LAZY_ROOT:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {target} inside a function")
    assert not problems, "imports inside functions (move them to the top; fix the cycle they hide):\n" + "\n".join(problems)


def test_the_module_graph_has_no_cycle():
    modules = all_modules()
    graph = {m: sorted({t for t, _, _ in imports_of(p) if t in modules and t != m and (m, t) not in LAZY_ROOT})
             for m, p in modules.items()}
    # A package's __init__ that imports its own submodules is not a cycle by itself; everything else is.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                if not all(c == cycle[0] or c.startswith(cycle[0] + ".") or cycle[0].startswith(c + ".") for c in cycle):
                    cycles.append(" -> ".join(cycle))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_rules_catch_a_violation(tmp_path, monkeypatch):
    """The checker itself fails on an upward import and on a hidden one (it cannot pass vacuously)."""
    fake = tmp_path / "clue"
    (fake / "core").mkdir(parents=True)
    (fake / "cli").mkdir()
    for folder in (fake, fake / "core", fake / "cli"):
        (folder / "__init__.py").write_text("")
    (fake / "cli" / "app.py").write_text("")
    (fake / "core" / "bad.py").write_text("from clue.cli import app\n\ndef f():\n    from clue.cli import app\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match="imports clue.cli"):
        test_every_import_goes_down_the_layers()
    with pytest.raises(AssertionError, match="inside a function"):
        test_no_import_hides_in_a_function_outside_the_command_line()
