"""Log-step mixing: measured reach vs BFS, baselines, Tanner's bound on hand-checked cases."""

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expandergraph import BipartiteGraph, LayeredGraph
from expandergraph.bounds import tanner_depth, tanner_step
from expandergraph.generators.baselines import dense, grouped, local
from expandergraph.generators.random import biregular, random_bipartite
from expandergraph.mixing import reach_depth, reach_fraction, reachability
from expandergraph.singular import layer_spectra, layer_spectrum
from tests.graph_helpers import layered_graphs


def bfs_reach(lg, i):
    """Depth and fractions from networkx descendants on the layered DAG."""
    g = nx.DiGraph()
    for k, layer in enumerate(lg):
        g.add_nodes_from((k, u) for u in range(layer.left))
        g.add_nodes_from((k + 1, v) for v in range(layer.right))
        g.add_edges_from(((k, int(u)), (k + 1, int(v))) for u, v in layer.edge_array())
    w = lg.widths
    counts = [0] * (len(lg) - i)
    for u in range(w[i]):
        for level, _ in nx.descendants(g, (i, u)):
            counts[level - i - 1] += 1
    fractions = [c / (w[i] * w[i + k + 1]) for k, c in enumerate(counts)]
    depth = next((k + 1 for k, f in enumerate(fractions) if f == 1.0), None)
    return depth, fractions, counts


@settings(max_examples=50, deadline=None)
@given(layered_graphs(), st.data())
def test_reach_matches_networkx_bfs(lg, data):
    i = data.draw(st.integers(0, len(lg) - 1))
    depth, fractions, counts = bfs_reach(lg, i)
    r = reachability(lg, i, words=data.draw(st.integers(1, 2)))
    assert r.reach_depth == depth
    assert r.connected_pairs == counts
    assert r.reach_fraction == pytest.approx(fractions, abs=0)


def test_tanner_bound_is_never_below_measured_depth():
    proven = []  # the bound exists on only some graphs: count them, so the test is not vacuous

    @settings(max_examples=25, deadline=None)
    @given(
        layered_graphs(max_width=6) | layered_graphs(max_width=6, min_multiplicity=1),
        st.data(),
    )
    def check(lg, data):
        i = data.draw(st.integers(0, len(lg) - 1))
        bound = tanner_depth(lg, i)["bound_depth"]
        proven.append(bound is not None)
        if bound is not None:
            measured = reach_depth(lg, i)
            assert measured is not None and measured <= bound

    check()
    assert any(proven), "no drawn graph had a Tanner bound: the check never ran"


def test_chunks_and_sampled_sources_against_bfs():
    lg = LayeredGraph([random_bipartite(300, 300, 3, seed=s) for s in range(5)])
    depth, fractions, counts = bfs_reach(lg, 1)
    r = reachability(lg, 1, words=1)  # 64 sources per chunk: 5 chunks
    assert (r.reach_depth, r.connected_pairs) == (depth, counts)
    assert reach_fraction(lg, 1) == pytest.approx(fractions, abs=0)
    src = np.array([0, 5, 77, 299])
    sub = reachability(lg, 0, sources=src)
    g = nx.DiGraph()
    for k, layer in enumerate(lg):
        g.add_edges_from(((k, int(u)), (k + 1, int(v))) for u, v in layer.edge_array())
    expect = [0] * len(lg)
    for u in src:
        for level, _ in nx.descendants(g, (0, int(u))):
            expect[level - 1] += 1
    assert sub.sampled and sub.sources == 4 and sub.connected_pairs == expect


def test_grouped_never_mixes_and_local_mixes_slowly():
    n, d = 256, 16
    groups = n // d
    g = LayeredGraph([grouped(n, n, d)] * 8)
    r = reachability(g)
    assert r.reach_depth is None
    assert r.reach_fraction == [1 / groups] * 8  # each node sees exactly its own group
    assert tanner_depth(g)["bound_depth"] is None
    assert layer_spectrum(grouped(n, n, d)).mu == pytest.approx(1.0)
    loc = reachability(LayeredGraph([local(n, n, d)] * 8))
    assert loc.reach_depth is None
    # a window of d grows by d - 1 per layer: the fraction grows linearly, not geometrically
    assert loc.reach_fraction == [min(1.0, (t * (d - 1) + 1) / n) for t in range(1, 9)]
    exp = reachability(LayeredGraph([random_bipartite(n, n, d, seed=s) for s in range(8)]))
    assert exp.reach_depth is not None and exp.reach_depth <= 4


def test_grouped_with_one_group_is_dense():
    r = reachability(LayeredGraph([grouped(16, 16, 16)] * 2))
    assert r.reach_depth == 1 and r.reach_fraction == [1.0, 1.0]


def test_expander_mixes_within_a_few_layers_of_log_d_n():
    n, d = 4096, 16
    lg = LayeredGraph([random_bipartite(n, n, d, seed=s) for s in range(8)])
    depth = reach_depth(lg)
    log_d_n = math.log(n) / math.log(d)
    # a node reaches at most d^t nodes, so depth >= log_D n; an expander needs few more
    assert math.ceil(log_d_n) <= depth <= math.ceil(log_d_n) + 2
    bi = LayeredGraph([biregular(n, n, dr=d, seed=s) for s in range(8)])
    assert math.ceil(log_d_n) <= reach_depth(bi) <= math.ceil(log_d_n) + 2


def test_dead_outputs_and_repeated_layers():
    # an output with no input is never reached: never full, and no crash on the tail path
    layer = BipartiteGraph.from_csr(3, 3, [0, 3, 6, 6], [0, 1, 2, 0, 1, 2])
    r = reachability(LayeredGraph([layer] * 3))
    assert r.reach_depth is None and r.reach_fraction == [2 / 3] * 3
    full = BipartiteGraph.from_ell(3, [[0, 1, 2]] * 3)
    r = reachability(LayeredGraph([full, layer, full]))
    assert (r.reach_depth, r.reach_fraction) == (1, [1.0, 2 / 3, 1.0])


def test_tanner_step_hand_checked():
    # d-regular form: |N(S)| >= d^2 |S| / (lam^2 + (d^2 - lam^2)|S|/n)
    d, lam, n, s = 8, 4.0, 1000, 50
    direct = d * d * s / (lam**2 + (d * d - lam**2) * s / n) / n
    assert tanner_step(s / n, lam / d) == pytest.approx(direct, rel=1e-12)
    assert tanner_step(0.2, 0.0) == 1.0 and tanner_step(0.0, 0.3) == 0.0
    # the odds of missing shrink by mu^2 exactly
    a, mu = 0.01, 0.4
    b = tanner_step(a, mu)
    assert 1 / b - 1 == pytest.approx(mu * mu * (1 / a - 1), rel=1e-12)
    for bad in [(-0.1, 0.5), (1.2, 0.5), (0.5, 1.5)]:
        with pytest.raises(ValueError):
            tanner_step(*bad)


def test_tanner_depth_complete_minus_matching():
    # B = J - I on 4 nodes: singular values 3, 1, 1, 1 -> mu = 1/3.  One node reaches
    # 3 nodes after one layer (not all 4); after two layers 3 + 3 > 4 forces full reach.
    n = 4
    ell = [[u for u in range(n) if u != v] for v in range(n)]
    layer = BipartiteGraph.from_ell(n, ell)
    assert layer_spectrum(layer).mu == pytest.approx(1 / 3, rel=1e-9)
    lg = LayeredGraph([layer] * 3)
    t = tanner_depth(lg)
    assert t["bound_depth"] == 2 and t["closed_form"] == 2  # (1/3)^t * 3 < 1 first at t = 2
    assert t["forward_sizes"][:2] == [1, 3]
    assert reach_depth(lg) == 2


def test_tanner_depth_biregular_closed_form_and_dense():
    n, d = 512, 16
    lg = LayeredGraph([biregular(n, n, dr=d, seed=s) for s in range(12)])
    t = tanner_depth(lg)
    mu = max(t["mu"])
    closed = math.floor(math.log(n - 1) / math.log(1 / mu)) + 1
    assert t["closed_form"] == closed
    assert t["bound_depth"] is not None
    assert reach_depth(lg) <= t["bound_depth"] <= closed
    assert tanner_depth(LayeredGraph([dense(5, 5)] * 2))["bound_depth"] == 1


def test_layer_spectrum_against_dense_eigvalsh():
    layers = [
        random_bipartite(150, 120, 6, seed=1),  # irregular, more inputs than outputs
        random_bipartite(120, 150, 5, seed=3),  # irregular, more outputs than inputs
        biregular(120, 150, dr=4, seed=2),
    ]
    for layer in layers:
        b = layer.biadjacency().toarray().astype(float)
        ev = np.sort(np.linalg.eigvalsh(b.T @ b))[::-1]
        avg = layer.num_edges / (layer.left * layer.right)
        dev = math.sqrt(np.linalg.eigvalsh((b - avg).T @ (b - avg)).max())
        dr, dl = b.sum(axis=1), b.sum(axis=0)
        nrm = b / np.sqrt(dr)[:, None] / np.sqrt(dl)[None, :]
        mu = math.sqrt(np.sort(np.linalg.eigvalsh(nrm.T @ nrm))[-2])
        s = layer_spectrum(layer, dense_limit=0)  # force the Lanczos path
        assert s.method.startswith("lanczos")
        assert s.error <= 1e-8
        assert s.deviation == pytest.approx(dev, rel=1e-6)
        assert s.mu == pytest.approx(mu, rel=1e-6)
        s = layer_spectrum(layer)
        assert s.method == "dense svd"
        assert (s.sigma1, s.sigma2) == pytest.approx((math.sqrt(ev[0]), math.sqrt(ev[1])))
        assert (s.deviation, s.mu) == pytest.approx((dev, mu), rel=1e-9)
        if s.biregular:
            assert s.deviation == pytest.approx(s.sigma2, rel=1e-9)


def test_bad_inputs():
    lg = LayeredGraph([dense(4, 4)] * 2)
    with pytest.raises(ValueError, match=r"from_layer: level 2 out of range 0\.\.1"):
        reachability(lg, 2)
    with pytest.raises(ValueError, match=r"from_layer: must be an integer level"):
        reachability(lg, 1.5)
    with pytest.raises(ValueError, match=r"sources: node 4 out of range 0\.\.3"):
        reachability(lg, 0, sources=[0, 4])
    with pytest.raises(ValueError, match=r"sources: node ids must be distinct"):
        reachability(lg, 0, sources=[1, 1])
    with pytest.raises(ValueError, match=r"words: must be a positive integer"):
        reachability(lg, 0, words=0)
    with pytest.raises(ValueError, match=r"lg: expected a LayeredGraph"):
        reachability([dense(4, 4)])
    with pytest.raises(ValueError, match=r"spectra: need 2 entries"):
        tanner_depth(lg, spectra=[])


def test_layer_spectra_computes_each_distinct_layer_once():
    a, b = biregular(300, 300, dr=4, seed=5), random_bipartite(300, 250, 4, seed=6)
    memo = {}
    got = layer_spectra([a, b, a, a], cache=memo)
    assert got[0] is got[2] is got[3] and got[1] is not got[0]
    assert set(memo) == {a.fingerprint, b.fingerprint}
    assert layer_spectra([b], cache=memo)[0] is got[1]  # the caller's cache is reused
    fresh = layer_spectrum(b)  # no hidden cache: a new object, the same numbers
    assert fresh is not got[1] and fresh == got[1]
