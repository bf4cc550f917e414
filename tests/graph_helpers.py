"""Test graphs built independently of the generators under test."""

import networkx as nx
import numpy as np

from expandergraph import Graph


def from_nx(g) -> Graph:
    """A networkx graph relabelled to ``0..n-1``."""
    return Graph.from_networkx(nx.convert_node_labels_to_integers(g))


def permutation_regular(n: int, d: int, seed: int) -> Graph:
    """Union of d/2 random permutations: a 2*(d/2)-regular multigraph (loops allowed)."""
    rng = np.random.default_rng(seed)
    u = np.concatenate([np.arange(n)] * (d // 2))
    v = np.concatenate([rng.permutation(n) for _ in range(d // 2)])
    return Graph.from_edges(n, u, v)
