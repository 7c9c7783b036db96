"""No import circles anywhere in the package, counting imports inside functions too.

The graph is read from the source (ast), not by importing: an edge ``a -> b`` for every ``import b`` /
``from b import x`` (``from pkg import mod`` points at ``pkg.mod`` when that is a module) in module ``a``,
including deferred imports in function bodies (``TYPE_CHECKING`` blocks are skipped). A package's
``__init__`` is the module named after the package.

One kind of edge is left out: a module importing from one of its own parent packages (``advantages/grpo.py``
doing ``from empg_gym.advantages import register`` while ``advantages/__init__.py`` imports ``grpo`` at its
end to register it). Python always runs a parent package before its submodules, so that is the registry
pattern, not a circle between layers; every other edge counts.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "empg_gym"


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                skip.update(id(x) for x in ast.walk(sub))
    return skip


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in its body)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:  # `import empg_gym.x.y` of a non-module attribute
                    t = t.rpartition(".")[0]
                if t and t != name and not name.startswith(t + "."):
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        color[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if color.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in color:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        color[n] = 2
        return None

    for n in sorted(graph):
        if n not in color:
            found = visit(n)
            if found:
                return found
    return None


def test_the_checker_finds_a_planted_cycle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(g) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_deferred_imports():
    g = import_graph()
    assert "empg_gym.trainers.ppo" in g["empg_gym.trainers"]  # deferred, inside train()
    assert "empg_gym.trainers.pg" in g["empg_gym.trainers.ppo"]
    assert "empg_gym.rollout" in g["empg_gym.trainers.pg"]  # deferred, inside PGTrainer.rollout
    assert "empg_gym.advantages" not in g["empg_gym.advantages.grpo"]  # the registry pattern (docstring)


def test_no_import_cycles_in_the_package():
    cycle = find_cycle({k: set(v) for k, v in import_graph().items()})
    assert cycle is None, " -> ".join(cycle or [])
