"""Constructions: sizes, degrees, simplicity, spectra and bad inputs.

Every expected value is computed independently of the generator: dense
``numpy.linalg.eigvalsh``, networkx, closed-form spectra, or a brute-force
re-implementation in plain Python.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from expandergraph import BipartiteGraph, Graph
from expandergraph.generators import random as grandom
from expandergraph.generators.algebraic import lps, lps_bipartite, margulis, paley
from expandergraph.generators.baselines import dense, grouped, local
from expandergraph.generators.derived import block_expander, double_cover, two_lift
from expandergraph.generators.random import biregular, random_bipartite, random_regular

# -- helpers ----------------------------------------------------------------------------


def dense_adj(g: Graph) -> np.ndarray:
    return g.adjacency().toarray()


def eig(a: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(np.asarray(a, dtype=float))


def assert_canonical(g: Graph) -> None:
    """CSR rows sorted and equal to the library's own from_csr (symmetry + even diagonal)."""
    ref = Graph.from_csr(g.n, g.indptr, g.indices, check=True)
    assert np.array_equal(ref.indptr, g.indptr)
    assert np.array_equal(ref.indices, g.indices)


def assert_simple_regular(g: Graph, n: int, d: int) -> None:
    a = dense_adj(g)
    assert g.n == n
    assert np.all(a.sum(axis=1) == d)
    assert np.all(np.diag(a) == 0), "self-loop"
    assert a.max(initial=0) <= 1, "multi-edge"
    assert np.array_equal(a, a.T)
    assert g.num_edges == n * d // 2


def potential(u: np.ndarray, v: np.ndarray) -> int:
    """Loops plus surplus copies of repeated (unordered) pairs, by brute force."""
    loops = sum(1 for a, b in zip(u, v) if a == b)
    pairs: dict = {}
    for a, b in zip(u, v):
        if a != b:
            key = (min(a, b), max(a, b))
            pairs[key] = pairs.get(key, 0) + 1
    return loops + sum(c - 1 for c in pairs.values())


# -- random_regular -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "n,d",
    [(10, 3), (11, 4), (12, 6), (12, 11), (13, 12), (9, 4), (9, 6), (50, 20), (30, 25), (7, 2)],
)
def test_random_regular_simple_many_seeds(n, d):
    for seed in range(20):
        g = random_regular(n, d, seed=seed)
        assert_simple_regular(g, n, d)
        assert g.degree == d
    assert_canonical(g)
    assert nx.is_regular(nx.Graph(g.to_networkx()))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.data(), st.integers(0, 2**32))
def test_random_regular_property(n, data, seed):
    d = data.draw(st.integers(0, n - 1).filter(lambda d: n * d % 2 == 0))
    g = random_regular(n, d, seed=seed)
    assert_simple_regular(g, n, d)


def test_random_regular_edge_cases():
    g = random_regular(5, 0)
    assert g.n == 5 and g.num_edges == 0 and g.degree == 0
    k = random_regular(6, 5, seed=4)
    assert np.array_equal(dense_adj(k), np.ones((6, 6), int) - np.eye(6, dtype=int))
    assert random_regular(1, 0).n == 1


def test_random_regular_larger():
    g = random_regular(20_000, 8, seed=5)
    assert g.degree == 8
    a = g.adjacency()
    assert a.max() == 1 and a.diagonal().max() == 0
    assert_canonical(g)
    # a random 8-regular graph is connected with overwhelming probability
    assert connected_components(a, directed=False)[0] == 1


def test_random_regular_spectrum_near_ramanujan():
    # Friedman: lambda <= 2 sqrt(d-1) + o(1); at n=400 the excess is small
    g = random_regular(400, 6, seed=1)
    ev = eig(dense_adj(g))
    assert ev[-1] == pytest.approx(6)
    assert max(ev[-2], -ev[0]) < 2 * math.sqrt(5) + 0.5


def test_random_regular_networkx_interop():
    g = random_regular(30, 4, seed=2)
    h = Graph.from_networkx(g.to_networkx())
    assert h.fingerprint == g.fingerprint


@pytest.mark.parametrize("bipartite", [False, True])
def test_switching_removes_worst_case_multigraph(bipartite):
    # sorted stubs pair every node with itself: only loops / only repeated edges
    rng = np.random.default_rng(0)
    if bipartite:
        left, right, dl, dr = 12, 8, 2, 3
        u = np.repeat(np.arange(left), dl)
        v = np.sort(np.repeat(np.arange(right), dr))
        grandom._switch(u, v, (left, right), True, rng)
        assert np.array_equal(np.bincount(u, minlength=left), [dl] * left)
        assert np.array_equal(np.bincount(v, minlength=right), [dr] * right)
        assert len(set(zip(u.tolist(), v.tolist()))) == u.size
    else:
        n, d = 9, 4
        stubs = np.repeat(np.arange(n), d)
        u, v = stubs[0::2].copy(), stubs[1::2].copy()
        assert potential(u, v) == n * d // 2
        grandom._switch(u, v, (n, n), False, rng)
        assert potential(u, v) == 0
        assert np.array_equal(np.bincount(np.concatenate([u, v]), minlength=n), [d] * n)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32))
def test_exact_switch_lowers_potential(seed):
    # one exact switching on a random bad pairing-model multigraph: potential drops,
    # degrees are kept (the termination argument of the switching loop)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 14))
    d = int(rng.integers(2, (n - 1) // 2 + 1))
    if n * d % 2:
        n += 1
    stubs = rng.permutation(np.repeat(np.arange(n), d))
    u, v = stubs[0::2].copy(), stubs[1::2].copy()
    before = potential(u, v)
    assume(before > 0)  # a simple pairing has nothing to switch
    bad = [i for i in range(u.size) if u[i] == v[i]]
    if not bad:
        keys = [(min(a, b), max(a, b)) for a, b in zip(u, v)]
        bad = [i for i in range(u.size) if keys.index(keys[i]) != i]
    grandom._exact_switch(u, v, bad[0], (n, n), False, rng)
    assert potential(u, v) <= before - 1
    assert np.array_equal(np.bincount(np.concatenate([u, v]), minlength=n), [d] * n)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.data())
def test_replace_sorted_matches_multiset(values, data):
    sk = np.sort(np.array(values, dtype=np.int64))
    removed = data.draw(st.lists(st.sampled_from(range(len(values))), unique=True))
    added = data.draw(st.lists(st.integers(-3, 9), max_size=10))
    out = grandom._replace_sorted(sk, sk[removed], np.array(added, dtype=np.int64))
    keep = [x for i, x in enumerate(sk.tolist()) if i not in set(removed)]
    assert out.tolist() == sorted(keep + added)


# -- random_bipartite -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "left,right,d", [(16, 8, 3), (10, 50, 5), (10, 50, 6), (7, 7, 7), (9, 4, 1), (64, 64, 40)]
)
def test_random_bipartite_distinct(left, right, d):
    for seed in range(5):
        b = random_bipartite(left, right, d, seed=seed)
        assert (b.left, b.right, b.degree) == (left, right, d)
        ell = b.ell()
        assert ell.min() >= 0 and ell.max() < left
        assert all(len(set(row)) == d for row in ell.tolist())
        assert np.all(np.diff(ell, axis=1) > 0)  # sorted, distinct
        assert b.left_degrees().sum() == right * d


@pytest.mark.parametrize("d", [2, 3])  # 2: draw-and-redraw branch, 3: complement branch
def test_random_bipartite_uniform_subsets(d):
    left, right = 5, 20_000
    b = random_bipartite(left, right, d, seed=11)
    subsets = list(itertools.combinations(range(left), d))
    index = {s: i for i, s in enumerate(subsets)}
    counts = np.bincount([index[tuple(r)] for r in b.ell().tolist()], minlength=len(subsets))
    expected = right / len(subsets)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 40  # 9 degrees of freedom: P(chi2 > 40) < 1e-5


def test_random_bipartite_dense_case():
    b = random_bipartite(6, 3, 6)
    assert b.ell().tolist() == [list(range(6))] * 3


# -- biregular ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "left,right,kw",
    [
        (6, 4, {"dr": 3}),
        (10, 10, {"dl": 5}),
        (10, 10, {"dr": 6}),
        (8, 4, {"dr": 6}),
        (4, 8, {"dl": 4, "dr": 2}),
        (7, 7, {"dr": 7}),
        (12, 6, {"dr": 4}),
        (300, 200, {"dl": 8}),
    ],
)
def test_biregular_degrees_simple(left, right, kw):
    for seed in range(10):
        b = biregular(left, right, seed=seed, **kw)
        m = b.biadjacency().toarray()
        dr = kw.get("dr", left * kw.get("dl", 0) // right)
        dl = right * dr // left
        assert m.shape == (right, left)
        assert np.all(m.sum(axis=1) == dr)
        assert np.all(m.sum(axis=0) == dl)
        assert m.max() == 1
        assert (b.degree, b.left_degree) == (dr, dl)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.data(), st.integers(0, 2**32))
def test_bipartite_property(left, right, data, seed):
    d = data.draw(st.integers(1, left))
    b = random_bipartite(left, right, d, seed=seed)
    m = b.biadjacency().toarray()
    assert m.shape == (right, left) and m.max() == 1 and np.all(m.sum(axis=1) == d)
    # biregular with dl given, whenever dr = left * dl / right is an integer
    dl = data.draw(st.integers(1, right))
    if (left * dl) % right == 0:
        c = biregular(left, right, dl=dl, seed=seed).biadjacency().toarray()
        assert c.max() == 1
        assert np.all(c.sum(axis=0) == dl) and np.all(c.sum(axis=1) == left * dl // right)


# -- Margulis -----------------------------------------------------------------------------


def margulis_brute(m: int) -> np.ndarray:
    a = np.zeros((m * m, m * m), dtype=int)
    for x in range(m):
        for y in range(m):
            images = [
                ((x + 2 * y) % m, y),
                ((x - 2 * y) % m, y),
                ((x + 2 * y + 1) % m, y),
                ((x - 2 * y - 1) % m, y),
                (x, (y + 2 * x) % m),
                (x, (y - 2 * x) % m),
                (x, (y + 2 * x + 1) % m),
                (x, (y - 2 * x - 1) % m),
            ]
            for xx, yy in images:
                a[x * m + y, xx * m + yy] += 1
    return a


@pytest.mark.parametrize("m", [2, 3, 4, 5, 8, 12, 25])
def test_margulis(m):
    g = margulis(m)
    a = dense_adj(g)
    assert g.n == m * m and g.degree == 8
    assert np.array_equal(a, margulis_brute(m))
    assert np.all(a.sum(axis=1) == 8)
    assert np.all(np.diag(a) % 2 == 0)
    assert np.array_equal(a, a.T)
    assert_canonical(g)
    ev = eig(a)
    assert ev[-1] == pytest.approx(8)
    lam = max(abs(ev[-2]), abs(ev[0]))
    assert lam <= 5 * math.sqrt(2) + 1e-9


def test_margulis_loops_at_origin():
    g = margulis(7)
    assert dense_adj(g)[0, 0] == 4  # (0,0) fixed by x±2y and y±2x: two loops
    assert g.degrees()[0] == 8


# -- Paley --------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [5, 13, 17, 29])
def test_paley_spectrum(q):
    g = paley(q)
    a = dense_adj(g)
    assert g.n == q and g.degree == (q - 1) // 2
    squares = {x * x % q for x in range(1, q)}
    brute = np.array([[int((u - v) % q in squares) for v in range(q)] for u in range(q)])
    assert np.array_equal(a, brute)
    ref = nx.to_numpy_array(nx.Graph(nx.paley_graph(q).to_undirected()), nodelist=range(q))
    assert np.array_equal(a, ref)
    ev = eig(a)
    k = (q - 1) // 2
    expect = sorted([(-1 - math.sqrt(q)) / 2] * k + [(-1 + math.sqrt(q)) / 2] * k + [k])
    assert np.allclose(ev, expect, atol=1e-9)


# -- LPS ----------------------------------------------------------------------------------


def legendre(a: int, p: int) -> int:
    return 1 if pow(a, (p - 1) // 2, p) == 1 else -1


def lps_brute(p: int, q: int) -> np.ndarray:
    """Plain-Python X^{p,q} with the documented node order (independent re-implementation)."""
    i = next(x for x in range(q) if x * x % q == q - 1)
    i = min(i, q - i)
    r = math.isqrt(p)
    gens = [
        (a0, a1, a2, a3)
        for a0 in range(1, r + 1, 2)
        for a1 in range(-r, r + 1)
        for a2 in range(-r, r + 1)
        for a3 in range(-r, r + 1)
        if a1 % 2 == a2 % 2 == a3 % 2 == 0 and a0 * a0 + a1 * a1 + a2 * a2 + a3 * a3 == p
    ]
    assert len(gens) == p + 1

    def norm(m):
        m = [x % q for x in m]
        s = pow(m[0] if m[0] else m[1], q - 2, q)
        return tuple(x * s % q for x in m)

    mats = [norm((a0 + i * a1, a2 + i * a3, -a2 + i * a3, a0 - i * a1)) for a0, a1, a2, a3 in gens]
    elements = sorted(
        {
            norm((a, b, c, d))
            for a, b, c, d in itertools.product(range(q), repeat=4)
            if (a * d - b * c) % q
        }
    )
    squares = {x * x % q for x in range(1, q)}
    psl = [e for e in elements if (e[0] * e[3] - e[1] * e[2]) % q in squares]
    rest = [e for e in elements if (e[0] * e[3] - e[1] * e[2]) % q not in squares]
    nodes = psl if legendre(p, q) == 1 else psl + rest
    index = {e: k for k, e in enumerate(nodes)}
    a = np.zeros((len(nodes), len(nodes)), dtype=int)
    for k, (x0, x1, x2, x3) in enumerate(nodes):
        for e, f, g, h in mats:
            prod = norm((x0 * e + x1 * g, x0 * f + x1 * h, x2 * e + x3 * g, x2 * f + x3 * h))
            a[k, index[prod]] += 1
    return a


@pytest.mark.parametrize("p,q", [(13, 5), (17, 5), (5, 13)])
def test_lps_matches_brute_force(p, q):
    g = lps(p, q)
    assert np.array_equal(dense_adj(g), lps_brute(p, q))


@pytest.mark.parametrize(
    "p,q,n",
    [
        (5, 13, 2184),
        (13, 5, 120),
        (17, 5, 120),
        (5, 29, 12180),
        (17, 13, 1092),
        (13, 17, 2448),
        (5, 17, 4896),
    ],
)
def test_lps_size_degree_bipartite(p, q, n):
    g = lps(p, q)
    leg = legendre(p, q)
    assert g.n == (q * (q * q - 1) // 2 if leg == 1 else q * (q * q - 1)) == n
    assert g.degree == p + 1
    a = g.adjacency()
    assert a.max() == 1 and a.diagonal().max() == 0  # simple
    assert (a != a.T).nnz == 0
    assert connected_components(a, directed=False)[0] == 1
    assert g.is_bipartite() == (leg == -1)
    if leg == -1:  # documented bipartition: first half / second half
        half = n // 2
        assert a[:half, :half].nnz == 0 and a[half:, half:].nnz == 0


@pytest.mark.parametrize("p,q", [(13, 5), (17, 5), (17, 13)])
def test_lps_ramanujan_dense(p, q):
    g = lps(p, q)
    ev = eig(dense_adj(g))
    assert ev[-1] == pytest.approx(p + 1)
    nontrivial = ev[1:-1] if g.is_bipartite() else ev[:-1]
    if g.is_bipartite():
        assert ev[0] == pytest.approx(-(p + 1))
    assert np.abs(nontrivial).max() <= 2 * math.sqrt(p) + 1e-9


def test_lps_5_13_ramanujan():
    # bipartite: eigenvalues are ± singular values of the PSL -> coset block B;
    # dense eigvalsh of B B^T gives their squares
    g = lps(5, 13)
    a = g.adjacency()
    half = g.n // 2
    b = a[:half, half:].toarray().astype(float)
    s2 = np.linalg.eigvalsh(b @ b.T)
    assert s2[-1] == pytest.approx(36)
    assert s2[-2] <= 4 * 5 + 1e-9
    assert s2[-2] > 15  # not trivially small: close to the bound


def test_lps_bipartite_layer():
    b = lps_bipartite(60, 60, p=13)
    assert b.meta["q"] == 5 and (b.degree, b.left_degree) == (14, 14)
    m = b.biadjacency().toarray()
    assert m.max() == 1
    # (13/5) = -1: the layer is the PSL -> coset block of lps(13, 5)
    a = dense_adj(lps(13, 5))
    assert np.array_equal(m, a[60:, :60])
    s = np.linalg.svd(m.astype(float), compute_uv=False)
    assert s[0] == pytest.approx(14) and s[1] <= 2 * math.sqrt(13) + 1e-9
    # (17/13) = 1: the double cover of the PSL graph
    c = lps_bipartite(1092, 1092, p=17, q=13)
    assert np.array_equal(c.biadjacency().toarray(), dense_adj(lps(17, 13)))


# -- derived ------------------------------------------------------------------------------


BASES = [
    pytest.param(lambda: paley(13), id="paley13"),
    pytest.param(lambda: margulis(3), id="margulis3-loops"),
    pytest.param(lambda: random_regular(20, 3, seed=1), id="rr20"),
    pytest.param(lambda: Graph.from_edges(3, [0, 0, 1, 2], [0, 1, 1, 2]), id="irregular-multi"),
]


@pytest.mark.parametrize("make", BASES)
def test_double_cover(make):
    g = make()
    a = dense_adj(g)
    c = double_cover(g)
    n = g.n
    ca = dense_adj(c)
    z = np.zeros_like(a)
    assert np.array_equal(ca, np.block([[z, a], [a, z]]))
    assert np.array_equal(c.degrees(), np.concatenate([g.degrees(), g.degrees()]))
    assert c.n == 2 * n and c.is_bipartite()
    assert np.allclose(eig(ca), np.sort(np.concatenate([eig(a), -eig(a)])), atol=1e-8)
    assert_canonical(c)


@pytest.mark.parametrize("make", BASES)
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_two_lift(make, seed):
    g = make()
    n = g.n
    a = dense_adj(g)
    h = two_lift(g, seed=seed)
    la = dense_adj(h)
    plus, minus = la[:n, :n], la[:n, n:]
    assert np.array_equal(la[n:, n:], plus) and np.array_equal(la[n:, :n], minus)
    assert np.array_equal(plus + minus, a)  # a 2-cover of g
    assert np.array_equal(h.degrees(), np.concatenate([g.degrees(), g.degrees()]))
    assert np.all(np.diag(la) % 2 == 0)
    expect = np.sort(np.concatenate([eig(a), eig(plus - minus)]))
    assert np.allclose(eig(la), expect, atol=1e-8)
    assert_canonical(h)


def test_two_lift_uses_both_signs_and_loops():
    g = margulis(5)
    n = g.n
    h = dense_adj(two_lift(g, seed=3))
    assert h[:n, :n].sum() > 0 and h[:n, n:].sum() > 0
    # a loop lifted with sign - is a double edge (u0, u1)
    loops = np.flatnonzero(np.diag(dense_adj(g)))
    assert any(h[u, n + u] >= 2 for u in loops)
    l1 = Graph.from_edges(1, [0], [0])  # one loop: + keeps two loops, - gives a double edge
    for seed in range(4):
        la = dense_adj(two_lift(l1, seed=seed))
        assert la.tolist() in ([[2, 0], [0, 2]], [[0, 2], [2, 0]])


def test_two_lift_bipartite():
    b = random_bipartite(6, 4, 3, seed=2)
    h = two_lift(b, seed=5)
    m = b.biadjacency().toarray()
    hm = h.biadjacency().toarray()
    plus, minus = hm[:4, :6], hm[:4, 6:]
    assert np.array_equal(plus + minus, m)
    assert np.array_equal(hm[4:, 6:], plus) and np.array_equal(hm[4:, :6], minus)
    assert (h.left, h.right, h.degree) == (12, 8, 3)


@pytest.mark.parametrize("make", BASES)
@pytest.mark.parametrize("block", [1, 2, 3])
def test_block_expander_graph_is_kron(make, block):
    g = make()
    a = dense_adj(g)
    k = block_expander(g, block)
    assert np.array_equal(dense_adj(k), np.kron(a, np.ones((block, block), dtype=int)))
    assert np.array_equal(k.degrees(), np.repeat(g.degrees() * block, block))
    assert k.meta["block"] == block
    assert_canonical(k)


def test_block_expander_bipartite():
    g = random_bipartite(8, 6, 3, seed=4)
    for block in (1, 2, 4):
        k = block_expander(g, block)
        assert (k.left, k.right, k.block, k.degree) == (8 * block, 6 * block, block, 3 * block)
        want = np.kron(g.biadjacency().toarray(), np.ones((block, block), dtype=int))
        assert np.array_equal(k.biadjacency().toarray(), want)
        assert np.array_equal(k.block_ell(), g.ell())
    irregular = BipartiteGraph.from_edges(3, 2, [0, 1, 2, 2], [0, 0, 1, 1])
    k = block_expander(irregular, 2)
    want = np.kron(irregular.biadjacency().toarray(), np.ones((2, 2), dtype=int))
    assert np.array_equal(k.biadjacency().toarray(), want)


# -- baselines ----------------------------------------------------------------------------


@pytest.mark.parametrize("left,right,d", [(4, 6, 2), (8, 8, 2), (12, 4, 3), (6, 6, 6), (5, 10, 1)])
def test_grouped(left, right, d):
    b = grouped(left, right, d)
    groups = left // d
    per = right // groups
    brute = np.zeros((right, left), dtype=int)
    for v in range(right):
        g = v // per
        for u in range(g * d, (g + 1) * d):
            brute[v, u] = 1
    assert np.array_equal(b.biadjacency().toarray(), brute)
    assert b.degree == d and b.meta["groups"] == groups


@pytest.mark.parametrize("left,right,d", [(8, 4, 3), (8, 8, 4), (5, 12, 2), (7, 3, 7), (16, 16, 1)])
def test_local(left, right, d):
    b = local(left, right, d)
    brute = np.zeros((right, left), dtype=int)
    for v in range(right):
        c = math.floor(v * left / right + 0.5)
        for k in range(d):
            brute[v, (c - d // 2 + k) % left] += 1
    assert np.array_equal(b.biadjacency().toarray(), brute)
    assert b.degree == d and b.biadjacency().max() == 1


def test_dense():
    b = dense(4, 3)
    assert np.array_equal(b.biadjacency().toarray(), np.ones((3, 4), dtype=int))
    assert (b.degree, b.left_degree, b.density) == (4, 3, 1.0)
    assert b == BipartiteGraph.from_scipy(np.ones((3, 4), dtype=int))


# -- bad inputs ------------------------------------------------------------------------------


BAD = [
    (random_regular, {"n": 10, "d": 3.0}, r"random_regular: d=3\.0 must be an integer"),
    (random_regular, {"n": True, "d": 1}, r"random_regular: n=True must be an integer"),
    (random_regular, {"n": 0, "d": 0}, r"random_regular: n=0 must be >= 1"),
    (random_regular, {"n": 10, "d": -1}, r"random_regular: d=-1 must be >= 0"),
    (random_regular, {"n": 5, "d": 5}, r"random_regular: d=5 must be < n=5"),
    (random_regular, {"n": 5, "d": 3}, r"random_regular: n\*d=15 must be even"),
    (random_regular, {"n": 10, "d": 3, "seed": -1}, r"random_regular: seed=-1 must be >= 0"),
    (random_regular, {"n": 10, "d": 3, "seed": "a"}, r"random_regular: seed='a' must be an"),
    (random_regular, {"n": "10", "d": 3}, r"random_regular: n='10' must be an integer"),
    (random_bipartite, {"left": 4, "right": 4, "d": 5}, r"random_bipartite: d=5 must be <= left=4"),
    (random_bipartite, {"left": 4, "right": 4, "d": 0}, r"random_bipartite: d=0 must be >= 1"),
    (random_bipartite, {"left": 4, "right": 0, "d": 1}, r"random_bipartite: right=0 must be >= 1"),
    (random_bipartite, {"left": 4, "right": 4, "d": False}, r"random_bipartite: d=False must"),
    (random_bipartite, {"left": 4, "right": 4, "d": 2, "seed": 1.5}, r"seed=1\.5 must be an"),
    (biregular, {"left": 4, "right": 4}, r"biregular: give dl .* or dr"),
    (biregular, {"left": 6, "right": 4, "dl": 1}, r"biregular: dr=left\*dl/right=6\*1/4 is not"),
    (biregular, {"left": 6, "right": 4, "dr": 1}, r"biregular: dl=right\*dr/left=4\*1/6 is not"),
    (biregular, {"left": 6, "right": 4, "dl": 2, "dr": 2}, r"left\*dl=12 must equal right\*dr=8"),
    (biregular, {"left": 4, "right": 4, "dr": 5}, r"biregular: dr=5 must be <= left=4"),
    (biregular, {"left": 4, "right": 4, "dl": 0}, r"biregular: dl=0 must be >= 1"),
    (margulis, {"m": 1}, r"margulis: m=1 must be >= 2"),
    (margulis, {"m": 4.0}, r"margulis: m=4\.0 must be an integer"),
    (paley, {"q": 9}, r"paley: q=9 must be a prime ≡ 1 \(mod 4\)"),
    (paley, {"q": 7}, r"paley: q=7 must be a prime ≡ 1 \(mod 4\)"),
    (paley, {"q": 1}, r"paley: q=1 must be a prime"),
    (paley, {"q": 25}, r"paley: q=25 must be a prime"),
    (paley, {"q": -13}, r"paley: q=-13 must be a prime"),
    (paley, {"q": True}, r"paley: q=True must be an integer"),
    (lps, {"p": 5, "q": 5}, r"lps: p=5 and q=5 must be distinct"),
    (lps, {"p": 3, "q": 13}, r"lps: p=3 must be a prime ≡ 1 \(mod 4\)"),
    (lps, {"p": 9, "q": 13}, r"lps: p=9 must be a prime"),
    (lps, {"p": 5, "q": 11}, r"lps: q=11 must be a prime ≡ 1 \(mod 4\)"),
    (lps, {"p": 29, "q": 5}, r"lps: p=29, q=5: the 30 generators are not distinct.*2\*sqrt"),
    (lps, {"p": 5, "q": 13.0}, r"lps: q=13\.0 must be an integer"),
    (lps_bipartite, {"left": 60, "right": 61, "p": 13}, r"lps_bipartite: left=60 must equal"),
    (lps_bipartite, {"left": 61, "right": 61, "p": 13}, r"left=61 must be q\(q²-1\)/2"),
    (lps_bipartite, {"left": 60, "right": 60, "p": 5, "q": 13}, r"left=60 must be .*=1092"),
    (double_cover, {"g": dense(2, 2)}, r"double_cover: g must be a Graph"),
    (two_lift, {"g": "paley"}, r"two_lift: g must be a Graph or BipartiteGraph"),
    (block_expander, {"g": paley(5), "block": 0}, r"block_expander: block=0 must be >= 1"),
    (block_expander, {"g": None, "block": 2}, r"block_expander: g must be a Graph"),
    (grouped, {"left": 6, "right": 6, "d": 4}, r"grouped: d=4 must divide left=6"),
    (grouped, {"left": 6, "right": 4, "d": 2}, r"grouped: groups=left/d=3 must divide right=4"),
    (grouped, {"left": 6, "right": 6, "d": 7}, r"grouped: d=7 must be <= left=6"),
    (local, {"left": 6, "right": 6, "d": 0}, r"local: d=0 must be >= 1"),
    (local, {"left": 6, "right": -1, "d": 2}, r"local: right=-1 must be >= 1"),
    (dense, {"left": 0, "right": 3}, r"dense: left=0 must be >= 1"),
]


@pytest.mark.parametrize(
    "func,kwargs,match", BAD, ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(BAD)]
)
def test_bad_inputs(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)
