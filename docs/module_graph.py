"""Generate the module graph of docs/architecture.md from the imports (``ast``, nothing runs).

``python docs/module_graph.py`` prints the graph; ``--write`` replaces the block between the
``<!-- module-graph -->`` markers of docs/architecture.md. ``tests/test_architecture.py``
re-runs it, so the page cannot drift from the code, and checks the rules the graph shows:
no import circle, the pipeline takes only the torch-free core from the loader, the core and the
datasets never import the learning stack.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "s2rhdr_loader")
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- module-graph -->", "<!-- /module-graph -->"


def modules() -> dict[str, Path]:
    """Every module of our packages: dotted name -> file."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` (a module or ``module.attribute``) names."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _top_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements run at import time (module body, including if/try blocks, not functions)."""
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop(0)
        yield node
        if isinstance(node, (ast.If, ast.Try)):
            for block in (node.body, node.orelse, getattr(node, "finalbody", []),
                          *[h.body for h in getattr(node, "handlers", [])]):
                todo.extend(block)


def imports(known: dict[str, Path]) -> dict[str, dict[str, bool]]:
    """``{module: {imported module: eager?}}``; eager = imported at import time."""
    graph: dict[str, dict[str, bool]] = {}
    for mod, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        eager_nodes = {id(n) for n in _top_level(tree)}
        deps: dict[str, bool] = {}
        for node in ast.walk(tree):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_resolve(a.name, known) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import sub` imports pkg.sub; `from mod import name` imports mod
                targets = [_resolve(f"{node.module}.{a.name}", known) for a in node.names]
            for target in targets:
                if target and target != mod and not mod.startswith(target + "."):
                    deps[target] = deps.get(target, False) or id(node) in eager_nodes
        graph[mod] = deps
    return graph


def cycles(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Import circles among eager imports (a circle of lazy imports is harmless)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d, eager in sorted(graph.get(m, {}).items()):
            if not eager:
                continue
            if state.get(d) == 1:
                found.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def _group(names: list[str]) -> str:
    """``a.b.c, a.b.d`` -> ``a.b.{c, d}`` for a compact line."""
    by_parent: dict[str, list[str]] = {}
    for n in names:
        parent, _, leaf = n.rpartition(".")
        by_parent.setdefault(parent, []).append(leaf)
    parts = []
    for parent, leaves in sorted(by_parent.items()):
        if len(leaves) == 1:
            parts.append(f"{parent}.{leaves[0]}" if parent else leaves[0])
        else:
            parts.append(f"{parent}.{{{', '.join(sorted(leaves))}}}")
    return ", ".join(parts)


def render(graph: dict[str, dict[str, bool]]) -> str:
    """The text block of docs/architecture.md: one line per module with its imports."""
    lines = ["```", "module -> what it imports (eager; [lazy] = inside functions, on first use)"]
    for mod in sorted(graph):
        deps = graph[mod]
        eager = _group(sorted(d for d, e in deps.items() if e))
        lazy = _group(sorted(d for d, e in deps.items() if not e))
        text = " ".join(t for t in (eager, f"[lazy: {lazy}]" if lazy else "") if t)
        lines.append(f"{mod} -> {text}" if text else mod)
    lines.append("```")
    return "\n".join(lines)


def updated_doc(text: str, block: str) -> str:
    head, sep, rest = text.partition(BEGIN)
    if not sep or END not in rest:
        raise SystemExit(f"{DOC}: markers {BEGIN} ... {END} not found")
    return f"{head}{BEGIN}\n{block}\n{END}{rest.partition(END)[2]}"


def main(argv: list[str]) -> int:
    block = render(imports(modules()))
    if "--write" in argv:
        DOC.write_text(updated_doc(DOC.read_text(encoding="utf-8"), block), encoding="utf-8")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
