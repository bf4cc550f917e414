"""Test graphs built independently of the generators under test, and hypothesis strategies."""

import networkx as nx
import numpy as np
from hypothesis import strategies as st

from expandergraph import BipartiteGraph, Graph, LayeredGraph


def from_nx(g) -> Graph:
    """A networkx graph relabelled to ``0..n-1``."""
    return Graph.from_networkx(nx.convert_node_labels_to_integers(g))


def permutation_regular(n: int, d: int, seed: int) -> Graph:
    """Union of d/2 random permutations: a 2*(d/2)-regular multigraph (loops allowed)."""
    rng = np.random.default_rng(seed)
    u = np.concatenate([np.arange(n)] * (d // 2))
    v = np.concatenate([rng.permutation(n) for _ in range(d // 2)])
    return Graph.from_edges(n, u, v)


@st.composite
def layered_graphs(
    draw,
    max_width: int = 7,
    max_layers: int = 4,
    max_multiplicity: int = 2,
    regular: bool = False,
    min_multiplicity: int = 0,
) -> LayeredGraph:
    """Random small layered multigraphs, drawn entry by entry.

    Widths are in ``1..max_width`` and depths in ``1..max_layers``. By default every
    biadjacency entry is a multiplicity in ``min_multiplicity..max_multiplicity`` (with the
    default 0, empty rows and unused inputs included); with ``regular=True`` each output reads
    a constant number ``1..4`` of inputs, repeats allowed (the setting of the mixing-lemma
    bound).
    """
    depth = draw(st.integers(1, max_layers))
    widths = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    layers = []
    for k in range(depth):
        left, right = widths[k], widths[k + 1]
        if regular:
            d = draw(st.integers(1, 4))
            row = st.lists(st.integers(0, left - 1), min_size=d, max_size=d)
            ell = draw(st.lists(row, min_size=right, max_size=right))
            layers.append(BipartiteGraph.from_ell(left, ell))
        else:
            entry = st.integers(min_multiplicity, max_multiplicity)
            row = st.lists(entry, min_size=left, max_size=left)
            m = draw(st.lists(row, min_size=right, max_size=right))
            layers.append(BipartiteGraph.from_scipy(np.array(m, dtype=np.int64)))
    return LayeredGraph(layers)


@st.composite
def multigraphs(draw, min_n: int = 2, max_n: int = 10) -> Graph:
    """Random multigraphs on ``min_n..max_n`` vertices: up to ``3n`` edges, loops allowed."""
    n = draw(st.integers(min_n, max_n))
    m = draw(st.integers(1, 3 * n))
    u = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    v = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    return Graph.from_edges(n, u, v)
