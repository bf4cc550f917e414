"""The dependency contract: which package may import which, read from the source (AST).

* ``expandergraph`` never imports ``torch`` or ``compiler`` (certificates need no torch);
* nothing imports a command-line module (``expandergraph.cli``, ``expandergraph.cli_layered``,
  ``compiler.cli``) except the command-line modules themselves and ``__main__``;
* no import cycles between modules (function-local imports count too; a package's
  ``__init__`` re-exporting its submodules is not a cycle by itself);
* no module uses a private name (``_x``) of another module, whether imported
  (``from .m import _x``) or reached through an imported module (``m._x``); the
  known offenders are listed in :data:`PRIVATE_ALLOWED` until their owners make
  the names public.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("expandergraph", "compiler")
CLI = {"expandergraph.cli", "expandergraph.cli_layered", "compiler.cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of everything ``name`` imports (top-level and local imports)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                mod = ".".join(anchor + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            for a in node.names:  # "from . import x" may name a submodule
                if f"{mod}.{a.name}" in MODULES:
                    found.add(f"{mod}.{a.name}")
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_expandergraph_never_imports_torch_or_compiler():
    bad = {
        m: sorted(i for i in deps if i.split(".")[0] in ("torch", "compiler", "triton"))
        for m, deps in GRAPH.items()
        if m.split(".")[0] == "expandergraph"
    }
    assert {m: v for m, v in bad.items() if v} == {}


def test_nothing_imports_a_cli_module():
    bad = {
        m: sorted(deps & CLI)
        for m, deps in GRAPH.items()
        if m not in CLI and not m.endswith("__main__") and deps & CLI
    }
    assert bad == {}


def test_no_import_cycles():
    def internal(m: str) -> set[str]:
        out = set()
        for dep in GRAPH[m]:
            while dep and dep not in MODULES:
                dep = dep.rpartition(".")[0]
            if dep and dep != m and not m.startswith(dep + "."):  # a parent package is fine
                out.add(dep)
        return out

    edges = {m: internal(m) for m in MODULES}
    # packages re-export their submodules: drop package -> own-submodule edges
    for m in MODULES:
        if MODULES[m].name == "__init__.py":
            edges[m] = {d for d in edges[m] if not d.startswith(m + ".")}
    assert _cycles(edges) == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first search, as the cycle it closes."""
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d) :] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


#: (importer, "module._name") pairs known to cross a module boundary; shrink, never grow.
PRIVATE_ALLOWED: set[tuple[str, str]] = set()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(name: str, path: Path) -> set[tuple[str, str]]:
    """``(name, "module._x")`` for every private name of another internal module ``name`` uses."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, str]] = set()
    aliases: dict[str, str] = {}  # local name -> internal module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in MODULES and a.asname:
                    aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                mod = ".".join(anchor + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] not in PACKAGES or mod == name:
                continue
            for a in node.names:
                if f"{mod}.{a.name}" in MODULES:
                    aliases[a.asname or a.name] = f"{mod}.{a.name}"
                if _private(a.name):
                    found.add((name, f"{mod}.{a.name}"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
            and aliases[node.value.id] != name
        ):
            found.add((name, f"{aliases[node.value.id]}.{node.attr}"))
    return found


def test_no_private_names_cross_modules():
    found = set()
    for m, p in MODULES.items():
        found |= _private_uses(m, p)
    assert sorted(found - PRIVATE_ALLOWED) == []


def test_the_private_name_finder_finds_them(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text(
        "from .graph import _hidden, Graph\nfrom . import spectrum as sp\n"
        "def f():\n    return sp._structure, sp.public\n"
    )
    assert _private_uses("expandergraph.mod", src) == {
        ("expandergraph.mod", "expandergraph.graph._hidden"),
        ("expandergraph.mod", "expandergraph.spectrum._structure"),
    }
