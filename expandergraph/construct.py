"""Construction strings: ``name:key=value,...`` → a graph.

Examples: ``random-regular:n=1000,d=8,seed=0``, ``lps:p=5,q=13``, ``paley:q=13``,
``margulis:m=20``, ``random-bipartite:left=512,right=512,d=8,seed=0``.

Derived constructions compose with ``/``: ``OUTER/INNER`` applies ``OUTER`` to
the graph that ``INNER`` builds, e.g. ``double-cover/paley:q=13``,
``two-lift:seed=1/margulis:m=5`` or ``block:block=4/random-bipartite:left=16,right=16,d=2``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass

from .graph import BipartiteGraph, Graph

__all__ = ["build", "parse", "layer_graph", "LAYER_GRAPHS", "CONSTRUCTIONS"]


@dataclass(frozen=True)
class _Entry:
    module: str
    func: str
    derived: bool = False  # takes the inner graph as first argument

    def resolve(self):
        mod = importlib.import_module(f"expandergraph.{self.module}")
        return getattr(mod, self.func)


#: name -> implementing function (module relative to ``expandergraph``)
CONSTRUCTIONS: dict[str, _Entry] = {
    "random-regular": _Entry("generators.random", "random_regular"),
    "random-bipartite": _Entry("generators.random", "random_bipartite"),
    "biregular": _Entry("generators.random", "biregular"),
    "margulis": _Entry("generators.algebraic", "margulis"),
    "lps": _Entry("generators.algebraic", "lps"),
    "paley": _Entry("generators.algebraic", "paley"),
    "lps-bipartite": _Entry("generators.algebraic", "lps_bipartite"),
    "grouped": _Entry("generators.baselines", "grouped"),
    "local": _Entry("generators.baselines", "local"),
    "dense": _Entry("generators.baselines", "dense"),
    "double-cover": _Entry("generators.derived", "double_cover", derived=True),
    "two-lift": _Entry("generators.derived", "two_lift", derived=True),
    "block": _Entry("generators.derived", "block_expander", derived=True),
}


def _parse_value(text: str):
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    return t


def parse(text: str) -> list[tuple[str, dict]]:
    """Split a construction string into ``[(name, params), ...]``, outermost first."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("construction: empty construction string")
    out = []
    for part in text.strip().split("/"):
        name, _, args = part.partition(":")
        name = name.strip()
        if name not in CONSTRUCTIONS:
            known = ", ".join(sorted(CONSTRUCTIONS))
            raise ValueError(f"construction: unknown construction {name!r} (known: {known})")
        params: dict = {}
        for item in filter(None, (a.strip() for a in args.split(","))):
            key, eq, val = item.partition("=")
            if not eq or not key.strip():
                raise ValueError(f"{name}: malformed parameter {item!r} (expected key=value)")
            key = key.strip()
            if key in params:
                raise ValueError(f"{name}: parameter {key!r} given twice")
            params[key] = _parse_value(val)
        out.append((name, params))
    return out


def _call(name: str, entry: _Entry, params: dict, inner=None):
    func = entry.resolve()
    sig = inspect.signature(func)
    names = list(sig.parameters)
    if entry.derived:
        names = names[1:]
    for key in params:
        if key not in names:
            raise ValueError(f"{name}: unknown parameter {key!r} (parameters: {', '.join(names)})")
    missing = [
        p
        for p in names
        if sig.parameters[p].default is inspect.Parameter.empty
        and p not in params
        and sig.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD
    ]
    if missing:
        raise ValueError(f"{name}: missing parameter {missing[0]!r}")
    return func(inner, **params) if entry.derived else func(**params)


def build(text: str) -> Graph | BipartiteGraph:
    """Build the graph that a construction string names; the string becomes ``.name``."""
    parts = parse(text)
    graph = None
    for i, (name, params) in enumerate(reversed(parts)):
        entry = CONSTRUCTIONS[name]
        if entry.derived != (i > 0):
            if entry.derived:
                raise ValueError(f"{name}: needs an inner construction, e.g. {name}/paley:q=13")
            raise ValueError(f"{name}: cannot be applied to another graph")
        graph = _call(name, entry, params, graph)
    object.__setattr__(graph, "name", text.strip())
    return graph


#: the constructions a network layer may name (a spec's ``graph`` key)
LAYER_GRAPHS = ("random-bipartite", "biregular", "grouped", "local", "dense", "lps-bipartite")


def _layer_construction(graph: str, left: int, right: int, d: int, seed: int) -> str:
    if graph == "random-bipartite":
        return f"random-bipartite:left={left},right={right},d={d},seed={seed}"
    if graph == "biregular":
        return f"biregular:left={left},right={right},dr={d},seed={seed}"
    if graph in ("grouped", "local"):
        return f"{graph}:left={left},right={right},d={d}"
    if graph == "dense":
        return f"dense:left={left},right={right}"
    if graph == "lps-bipartite":
        return f"lps-bipartite:left={left},right={right},p={d - 1}"
    raise ValueError(f"graph: {graph!r} must be one of {', '.join(LAYER_GRAPHS)}")


def layer_graph(
    graph: str,
    left: int,
    right: int,
    degree: int,
    *,
    seed: int = 0,
    block: int = 1,
    where: str = "layer",
) -> BipartiteGraph:
    """The bipartite graph of one network layer: ``left`` inputs to ``right`` outputs.

    Conventions: ``degree`` counts input *nodes* per output node (the in-degree);
    with ``block > 1`` the construction runs on ``left/block -> right/block``
    blocks with block degree ``degree/block`` and is expanded by
    :func:`expandergraph.generators.derived.block_expander`.  The result's
    ``name`` is the construction string that :func:`build` rebuilds it from.
    This is the one place a layer's graph is made: spec layers
    (:func:`expandergraph.spec.layer_graph`) and modules given only a degree or a
    density both call it.  Errors are one-line ``ValueError`` prefixed by ``where``.

    Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
    §3 (random expander layers).

    Examples
    --------
    >>> g = layer_graph("random-bipartite", 64, 32, 8, seed=0, block=4)
    >>> (g.left, g.right, g.degree, g.block)
    (64, 32, 8, 4)
    >>> g.name
    'block:block=4/random-bipartite:left=16,right=8,d=2,seed=0'
    """
    b = block
    if left % b or right % b or degree % b:
        raise ValueError(
            f"{where}.block: {b} must divide the widths {left}, {right} and the degree {degree}"
        )
    try:
        text = _layer_construction(graph, left // b, right // b, degree // b, seed)
    except ValueError as exc:
        raise ValueError(f"{where}.{exc}") from None
    if b > 1:
        text = f"block:block={b}/{text}"
    try:
        g = build(text)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    except (ImportError, AttributeError) as exc:  # pragma: no cover - a broken install
        raise ValueError(
            f"{where}.graph: construction {graph!r} is not available ({exc})"
        ) from None
    if not isinstance(g, BipartiteGraph) or (g.left, g.right) != (left, right):
        raise ValueError(f"{where}: construction {text!r} did not give the layer's widths")
    if g.degree != degree:
        raise ValueError(
            f"{where}: construction {text!r} gave in-degree {g.degree}, expected {degree}"
        )
    return g
