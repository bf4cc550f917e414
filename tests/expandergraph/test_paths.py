"""Exact path counts, the mixing-lemma prediction and bound, and the layered certificate."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expandergraph import BipartiteGraph, LayeredGraph
from expandergraph.generators.baselines import dense, grouped
from expandergraph.generators.random import biregular, random_bipartite
from expandergraph.paths import (
    count_matrix,
    mixing_bound,
    mixing_prediction,
    path_count,
    path_mixing,
    sampled_mixing,
)
from tests.graph_helpers import layered_graphs


def product(lg, i, j):
    """Brute force: the path-count matrix B_{j-1} ... B_i with Python ints."""
    p = np.eye(lg.widths[i], dtype=object)
    for layer in list(lg)[i:j]:
        p = layer.biadjacency().toarray().astype(object).dot(p)
    return p


def subset(data, n, name):
    size = data.draw(st.integers(1, n), label=f"{name} size")
    perm = data.draw(st.permutations(range(n)), label=name)
    return sorted(perm[:size])


@settings(max_examples=50, deadline=None)
@given(layered_graphs(max_multiplicity=3), st.data())
def test_counts_match_brute_force_products(lg, data):
    i = data.draw(st.integers(0, len(lg) - 1))
    j = data.draw(st.integers(i + 1, len(lg)))
    s, t = subset(data, lg.widths[i], "S"), subset(data, lg.widths[j], "T")
    p = product(lg, i, j)
    assert path_count(lg, s, t, i, j) == int(p[np.ix_(t, s)].sum())
    m = count_matrix(lg, s, t, i, j)
    assert m.shape == (len(s), len(t))
    assert [[int(x) for x in row] for row in m] == p[np.ix_(t, s)].T.tolist()


@settings(max_examples=50, deadline=None)
@given(layered_graphs(regular=True), st.data())
def test_bound_holds_for_constant_in_degree(lg, data):
    i = data.draw(st.integers(0, len(lg) - 1))
    j = data.draw(st.integers(i + 1, len(lg)))
    s, t = subset(data, lg.widths[i], "S"), subset(data, lg.widths[j], "T")
    r = path_mixing(lg, s, t, i, j)
    exact = Fraction(int(product(lg, i, j)[np.ix_(t, s)].sum()))
    assert r.count == exact
    assert r.error_bound is not None and r.within_bound
    assert abs(exact - mixing_prediction(lg, len(s), len(t), i, j)) <= r.error_bound + 1e-9
    # the same chain transposed has constant out-degrees: the bound goes through transposition
    rev = LayeredGraph([layer.transpose() for layer in reversed(list(lg))])
    n = len(lg)
    rr = path_mixing(rev, t, s, n - j, n - i)
    assert rr.count == r.count and rr.within_bound


def test_overflow_switches_to_exact_limbs():
    lg = LayeredGraph([dense(64, 64)] * 12)
    # 64^11 paths between two nodes: 2^66 does not fit in int64
    assert path_count(lg, [0], [5]) == 64**11
    assert path_count(lg, range(64), range(64)) == 64**13
    m = count_matrix(lg, [0, 1], [2])
    assert m.dtype == object and m.tolist() == [[64**11], [64**11]]
    # a multigraph chain whose counts cross 2^63 mid-way, against Python ints
    rng = np.random.default_rng(0)
    layers = [BipartiteGraph.from_ell(5, rng.integers(0, 5, (5, 40))) for _ in range(14)]
    lg = LayeredGraph(layers)
    p = product(lg, 0, 14)
    assert max(int(x) for x in p.ravel()) > 2**63
    assert path_count(lg, [0, 2], [1, 3, 4]) == int(p[np.ix_([1, 3, 4], [0, 2])].sum())
    assert count_matrix(lg, [4, 0], [1]).tolist() == [[p[1, 4]], [p[1, 0]]]


def test_prediction_regular_and_product_form():
    n, d, t = 64, 8, 3
    lg = LayeredGraph([biregular(n, n, dr=d, seed=s) for s in range(t)])
    assert mixing_prediction(lg, 5, 7) == Fraction(d**t * 5 * 7, n)
    # widths 12 -> 6 -> 9 with in-degrees 4 and 2: |E| = 24 and 18
    a = BipartiteGraph.from_ell(12, [[0, 1, 2, 3]] * 6)
    b = BipartiteGraph.from_ell(6, [[0, 1]] * 9)
    lg = LayeredGraph([a, b])
    expect = Fraction(3 * 4) * Fraction(24, 12 * 6) * Fraction(18, 6 * 9) * 6
    assert mixing_prediction(lg, 3, 4) == expect == 8  # 3 inputs x 2 edges x 3 x 4/9


def test_bound_biregular_is_lambda_power_form():
    n, d = 60, 6
    lg = LayeredGraph([biregular(n, n, dr=d, seed=s) for s in range(3)])
    sig = []
    for layer in lg:
        b = layer.biadjacency().toarray().astype(float)
        sig.append(math.sqrt(np.sort(np.linalg.eigvalsh(b.T @ b))[-2]))
    s, t = 10, 25
    expect = math.prod(sig) * math.sqrt(s * (1 - s / n) * t * (1 - t / n))
    assert mixing_bound(lg, s, t) == pytest.approx(expect, rel=1e-8)
    assert mixing_bound(lg, n, 7) == pytest.approx(0.0, abs=1e-6)  # S = everything: exact


def test_grouped_counts_and_bound():
    lg = LayeredGraph([grouped(32, 32, 8)] * 3)  # 4 groups
    # within a group every pair has 8^2 paths over three layers... from S to T
    assert path_count(lg, [0], [0]) == 8**2 and path_count(lg, [0], [31]) == 0
    r = path_mixing(lg, [0], [31])
    assert r.predicted == pytest.approx(8**3 / 32) and r.within_bound  # sigma_2 = sigma_1
    assert sampled_mixing(lg, 30)["violations"] == 0


def test_sampled_mixing_random_layers():
    lg = LayeredGraph([random_bipartite(200, 200, 8, seed=s) for s in range(4)])
    res = sampled_mixing(lg, 40, seed=3)
    assert res["samples"] == res["bounded"] == 40
    assert res["violations"] == 0 and 0 <= res["worst_normalised_deviation"] <= 1
    worst = res["worst"]
    assert isinstance(worst["count"], int) and worst["within_bound"]
    fixed = sampled_mixing(lg, 5, from_layer=1, to_layer=3)
    assert fixed["worst"]["from_layer"] == 1 and fixed["worst"]["to_layer"] == 3
    p = product(lg, 0, 4)
    assert path_count(lg, [0], range(200)) == int(p[:, 0].sum())


def test_irregular_both_sides_has_no_bound():
    m = np.array([[1, 1, 0], [0, 0, 1]])  # in-degrees 2, 1; out-degrees 1, 1, 1
    a = BipartiteGraph.from_scipy(m)
    b = BipartiteGraph.from_scipy(np.array([[1, 0], [1, 1]]))  # in 1, 2; out 2, 1
    r = path_mixing(LayeredGraph([a, b]), [0], [1])
    assert r.error_bound is None and r.within_bound is None and r.count == 1


def test_bad_inputs():
    lg = LayeredGraph([dense(4, 4)] * 2)
    with pytest.raises(ValueError, match=r"to_layer: 1 must be after from_layer 1"):
        path_count(lg, [0], [0], 1, 1)
    with pytest.raises(ValueError, match=r"to_layer: level 3 out of range 0\.\.2"):
        path_count(lg, [0], [0], 0, 3)
    with pytest.raises(ValueError, match=r"targets: node 9 out of range 0\.\.3"):
        path_count(lg, [0], [9])
    with pytest.raises(ValueError, match=r"sources: node ids must be distinct"):
        count_matrix(lg, [0, 0], [1])
    with pytest.raises(ValueError, match=r"sources: must be a non-empty list"):
        path_count(lg, [], [1])
    with pytest.raises(ValueError, match=r"s_size: 5 out of range 0\.\.4"):
        mixing_prediction(lg, 5, 1)
    with pytest.raises(ValueError, match=r"samples: must be a positive integer"):
        sampled_mixing(lg, 0)
    with pytest.raises(ValueError, match=r"to_layer: 0 must be after from_layer 1"):
        sampled_mixing(lg, 3, from_layer=1, to_layer=0)
