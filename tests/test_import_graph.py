"""The house's floors: no import cycles, and no floor imports one above it (module-level and
function-level imports both)."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "multiview"

# (floor, floors it must never import). The ground floor (core) first, then training: data, views,
# encoders, objectives, methods; run keeps a fit's work; eval reads any run (metrics -> core ->
# commands and reports); the CLI on top.
TRAINING = ["multiview.data", "multiview.views", "multiview.encoders", "multiview.objectives", "multiview.methods"]
FORBIDDEN = [
    ("multiview.core", TRAINING + ["multiview.run", "multiview.eval", "multiview.cli"]),
    ("multiview.data", TRAINING[1:] + ["multiview.run", "multiview.eval", "multiview.cli"]),
    ("multiview.views", TRAINING[2:] + ["multiview.run", "multiview.eval", "multiview.cli"]),
    ("multiview.encoders", TRAINING[3:] + ["multiview.run", "multiview.eval", "multiview.cli"]),
    ("multiview.objectives", TRAINING[4:] + ["multiview.run", "multiview.eval", "multiview.cli"]),
    ("multiview.methods", ["multiview.run", "multiview.eval", "multiview.cli"]),
    ("multiview.run", ["multiview.eval", "multiview.cli"]),
    ("multiview.eval", ["multiview.cli"]),
    ("multiview.eval.metrics", ["multiview.eval.core", "multiview.eval.commands", "multiview.eval.reports",
                                "multiview.methods"]),
    ("multiview.eval.core", ["multiview.eval.commands", "multiview.eval.reports"]),
    ("multiview.eval.reports", ["multiview.eval.commands"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """``module -> multiview modules it imports``, from every import statement anywhere in it."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        deps = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                deps.add(base)
                deps |= {f"{base}.{a.name}" for a in node.names}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def within(module: str, floor: str) -> bool:
    return module == floor or module.startswith(floor + ".")


def test_no_upward_imports():
    found = []
    for module, deps in import_graph().items():
        for floor, above in FORBIDDEN:
            if within(module, floor):
                found += [f"{module} imports {d}" for d in deps if any(within(d, a) for a in above)]
    assert not found, "\n".join(found)


def test_no_import_cycles():
    graph, state, stack, cycles = import_graph(), {}, [], []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                cycles.append(" -> ".join(stack[stack.index(v):] + [v]))
            elif not state.get(v):
                visit(v)
        stack.pop()
        state[u] = 2

    for u in sorted(graph):
        if not state.get(u):
            visit(u)
    assert not cycles, "\n".join(cycles)


def test_the_check_sees_function_level_imports(tmp_path, monkeypatch):
    """An upward import hidden inside a function is still found."""
    pkg = tmp_path / "multiview"
    (pkg / "methods").mkdir(parents=True)
    (pkg / "eval").mkdir()
    for f in ("__init__.py", "methods/__init__.py", "eval/__init__.py", "eval/x.py"):
        (pkg / f).write_text("")
    (pkg / "methods" / "m.py").write_text("def f():\n    from multiview.eval import x\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert "multiview.eval.x" in import_graph()["multiview.methods.m"]
