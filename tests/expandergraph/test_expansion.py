"""Expansion: exhaustive search against brute force, and lower <= exact <= upper."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings

from expandergraph.expansion import edge_expansion, vertex_expansion
from expandergraph.graph import Graph
from expandergraph.spectrum import adjacency_spectrum
from tests.graph_helpers import from_nx, multigraphs


@pytest.fixture(autouse=True)
def _single_thread_blas():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def set_ratio(g: Graph, s: set[int], kind: str) -> float:
    """Ratio of one set from the edge list (multi-edges counted, loops never cross)."""
    e = g.edge_array()
    if kind == "vertex":
        nbrs = {int(v) for a, b in e for u, v in ((a, b), (b, a)) if u in s}
        return len(nbrs - s) / len(s)
    return sum(1 for a, b in e if (a in s) != (b in s)) / len(s)


def brute(g: Graph, kind: str) -> float:
    n = g.n
    return min(
        set_ratio(g, set(c), kind)
        for k in range(1, n // 2 + 1)
        for c in itertools.combinations(range(n), k)
    )


GRAPHS = {
    "petersen": from_nx(nx.petersen_graph()),
    "K7": from_nx(nx.complete_graph(7)),
    "K3,3": from_nx(nx.complete_bipartite_graph(3, 3)),
    "C9": from_nx(nx.cycle_graph(9)),
    "C10": from_nx(nx.cycle_graph(10)),
    "Q3": from_nx(nx.hypercube_graph(3)),
    "heawood": from_nx(nx.heawood_graph()),
    "path8": from_nx(nx.path_graph(8)),
}
# values known in closed form: (vertex, edge)
KNOWN = {
    "K7": (4 / 3, 4.0),
    "C10": (0.4, 0.4),
    "C9": (0.5, 0.5),
    "Q3": (0.75, 1.0),
    "path8": (0.25, 0.25),
    "petersen": (0.8, 1.0),
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_exact_against_brute_force(name):
    g = GRAPHS[name]
    for kind, func in (("vertex", vertex_expansion), ("edge", edge_expansion)):
        r = func(g)
        want = brute(g, kind)
        assert r.exact == pytest.approx(want)
        if name in KNOWN:
            assert r.exact == pytest.approx(KNOWN[name][kind == "edge"])
        assert r.lower <= r.exact + 1e-12 and r.exact <= r.upper + 1e-12
        assert set_ratio(g, set(r.witness), kind) == pytest.approx(r.exact)
        assert 1 <= len(r.witness) <= g.n // 2
        assert r.method.startswith("exhaustive")
        # the heuristic alone: a valid (not smaller) upper bound with its own witness
        h = func(g, exact_limit=0)
        assert h.exact is None and h.upper >= want - 1e-12 and h.lower <= want + 1e-12
        assert set_ratio(g, set(h.witness), kind) == pytest.approx(h.upper)


@settings(max_examples=30, deadline=None)
@given(multigraphs(2, 10))
def test_random_multigraphs_exact_and_bounds(g):
    sp = adjacency_spectrum(g)
    for kind, func in (("vertex", vertex_expansion), ("edge", edge_expansion)):
        want = brute(g, kind)
        r = func(g, spectrum=sp)
        assert r.exact == pytest.approx(want)
        assert r.lower <= want + 1e-9 and want <= r.upper + 1e-12
        assert set_ratio(g, set(r.witness), kind) == pytest.approx(r.exact)
        h = func(g, spectrum=sp, exact_limit=0)
        assert h.lower <= want + 1e-9 <= h.upper + 2e-9
        assert set_ratio(g, set(h.witness), kind) == pytest.approx(h.upper)


def test_spectral_lower_bounds_formulas():
    g = GRAPHS["petersen"]  # d = 3, lambda_2 = 1, lam = 2
    assert edge_expansion(g).lower == pytest.approx((3 - 1) / 2, abs=1e-9)
    tanner = (9 - 4) / (9 + 4)
    assert vertex_expansion(g).lower == pytest.approx(max(tanner, 1 / 3), abs=1e-9)
    # bipartite regular: Tanner is void (lam' = d); the Cheeger-derived bound remains
    h = GRAPHS["heawood"]  # lambda_2 = sqrt 2
    assert vertex_expansion(h).lower == pytest.approx((3 - math.sqrt(2)) / 2 / 3, abs=1e-9)


def test_medium_graph_bounds_and_witness():
    rng = np.random.default_rng(4)
    n = 60
    u = np.concatenate([np.arange(n)] * 3)
    v = np.concatenate([rng.permutation(n) for _ in range(3)])
    g = Graph.from_edges(n, u, v)  # 6-regular multigraph, too big for exhaustive search
    w = np.linalg.eigvalsh(g.adjacency().toarray().astype(float))
    lam = max(abs(w[-2]), abs(w[0]))
    for kind, func in (("vertex", vertex_expansion), ("edge", edge_expansion)):
        r = func(g)
        assert r.exact is None and 0 < r.lower <= r.upper
        assert set_ratio(g, set(r.witness), kind) == pytest.approx(r.upper)
        assert len(r.witness) <= n // 2
    assert edge_expansion(g).lower == pytest.approx((6 - w[-2]) / 2, abs=1e-7)
    tanner = (36 - lam**2) / (36 + lam**2)
    assert vertex_expansion(g).lower >= tanner - 1e-7


def test_disconnected_is_exactly_zero():
    g = from_nx(nx.disjoint_union(nx.complete_graph(30), nx.cycle_graph(25)))
    for func in (vertex_expansion, edge_expansion):
        r = func(g)
        assert r.exact == 0 and r.upper == 0 and r.lower == 0
        assert r.witness == list(range(30, 55))


def test_loops_never_cross():
    g = Graph.from_edges(4, [0, 0, 1, 2, 3], [0, 1, 2, 3, 3])  # path with loops at both ends
    assert edge_expansion(g).exact == pytest.approx(0.5)
    assert vertex_expansion(g).exact == pytest.approx(0.5)
    # doubling every edge doubles edge expansion but not vertex expansion
    g2 = Graph.from_edges(4, [0, 1, 2] * 2, [1, 2, 3] * 2)
    assert edge_expansion(g2).exact == pytest.approx(1.0)
    assert vertex_expansion(g2).exact == pytest.approx(0.5)


def test_bad_inputs():
    g = GRAPHS["petersen"]
    with pytest.raises(ValueError, match="exact_limit"):
        vertex_expansion(g, exact_limit=27)
    with pytest.raises(ValueError, match="exact_limit"):
        edge_expansion(g, exact_limit=-1)
    with pytest.raises(ValueError, match="exact_limit"):
        edge_expansion(g, exact_limit=True)
    with pytest.raises(ValueError, match="local_search"):
        edge_expansion(g, local_search=-2)
    with pytest.raises(ValueError, match="empty graph"):
        vertex_expansion(Graph.from_edges(4, [], []))
    with pytest.raises(ValueError, match="at least 2 nodes"):
        vertex_expansion(Graph.from_edges(1, [0], [0]))
    with pytest.raises(ValueError, match="spectrum"):
        edge_expansion(g, spectrum=adjacency_spectrum(GRAPHS["K7"]))
    with pytest.raises(ValueError, match="expected an expandergraph.Graph"):
        edge_expansion(nx.petersen_graph())
