"""Independent tests of the verdict semantics (issue 10): what ``passed`` must mean.

Every verdict is checked against an independent truth: dense ``numpy.linalg.eigvalsh``
/ SVD, brute force over all sets of small graphs, networkx, exact integer path
counts.  Conventions: ``alpha`` is ``lam / d`` (regular), the largest non-trivial
``|eigenvalue|`` of ``D^-1/2 A D^-1/2`` (irregular) or ``sigma_2 / sigma_1`` of the
(normalised) biadjacency (a layer).
"""

from __future__ import annotations

import io
import itertools
import json
import math
from contextlib import redirect_stdout
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.spec import load_layered as load_network_layered
from expandergraph import BipartiteGraph, Certificate, Graph, LayeredGraph, build, load_layered
from expandergraph.bounds import (
    cheeger_lower,
    ideal_depth,
    sigma_star,
    tanner_factor,
    uniformity_epsilon,
)
from expandergraph.certificate import EXIT_CODES, SEMANTICS, decide
from expandergraph.certify import ALPHA_MAX, certify
from expandergraph.guarantees import certify_layered

CHEAP = ["degrees", "spectrum"]


@pytest.fixture(autouse=True)
def _single_thread_blas():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def nxg(g) -> Graph:
    return Graph.from_networkx(nx.convert_node_labels_to_integers(g))


def dense_adjacency(g: Graph) -> np.ndarray:
    """Dense adjacency from the CSR rows, with multiplicities (a loop's entry is 2)."""
    a = np.zeros((g.n, g.n))
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    np.add.at(a, (rows, g.indices), 1)
    return a


def dense_alpha(g: Graph) -> float:
    """Independent alpha of a connected graph: dense eigvalsh of the (normalised) adjacency."""
    a = dense_adjacency(g)
    deg = a.sum(1)
    regular = np.all(deg == deg[0])
    m = a / deg[0] if regular else a / np.sqrt(np.outer(deg, deg))
    ev = np.sort(np.linalg.eigvalsh(m))
    rest = ev[:-1]  # drop the trivial eigenvalue 1, and -1 (bipartite, connected)
    if abs(rest[0] + 1) < 1e-9:
        rest = rest[1:]
    return float(np.abs(rest).max())


def to_nx(g: Graph) -> nx.MultiGraph:
    h = nx.Graph()
    h.add_nodes_from(range(g.n))
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    h.add_edges_from(zip(rows.tolist(), g.indices.tolist()))
    return h


def dense_layer_alpha(b: BipartiteGraph) -> float:
    m = b.biadjacency(dtype=np.float64).toarray()
    dr, dl = m.sum(1), m.sum(0)
    if np.all(dr == dr[0]) and np.all(dl == dl[0]):
        s = np.linalg.svd(m, compute_uv=False)
        return float(s[1] / s[0])
    n = m / np.sqrt(np.outer(dr, dl))
    return float(np.linalg.svd(n, compute_uv=False)[1])


def joined_expanders(n: int = 400, d: int = 8, seed: int = 0) -> Graph:
    """Two random d-regular graphs joined by one edge switch: still d-regular, gap ~1e-3."""
    g1 = nx.random_regular_graph(d, n, seed=seed)
    g2 = nx.relabel_nodes(nx.random_regular_graph(d, n, seed=seed + 1), lambda v: v + n)
    g = nx.union(g1, g2)
    a, b = next(iter(g1.edges()))
    c, e = next(iter(g2.edges()))
    g.remove_edges_from([(a, b), (c, e)])
    g.add_edges_from([(a, c), (b, e)])
    assert {deg for _, deg in g.degree()} == {d} and nx.is_connected(g)
    return nxg(g)


# -- graphs that must fail -----------------------------------------------------------------
FAIL_GRAPHS = {
    "cycle-2001": lambda: nxg(nx.cycle_graph(2001)),
    "path-3000": lambda: nxg(nx.path_graph(3000)),
    "barbell": lambda: nxg(nx.barbell_graph(50, 10)),
    "lollipop": lambda: nxg(nx.lollipop_graph(100, 1900)),
    "joined-expanders": joined_expanders,
    "disconnected": lambda: nxg(nx.disjoint_union(nx.petersen_graph(), nx.petersen_graph())),
}


@pytest.mark.parametrize("name", sorted(FAIL_GRAPHS))
def test_non_expanders_fail(name):
    g = FAIL_GRAPHS[name]()
    cert = certify(g, CHEAP)
    assert cert.status == "failed"
    assert not cert.passed
    assert cert["spectral_expansion"].status == "failed"
    assert "spectral_expansion (failed)" in cert.problems()
    alpha = cert.summary["alpha"]
    assert alpha > ALPHA_MAX
    lo, hi = cert["spectral_expansion"].detail["interval"]
    assert lo > ALPHA_MAX  # decided, not merely undecided


def test_joined_expanders_alpha_matches_dense():
    g = joined_expanders()
    cert = certify(g, CHEAP)
    truth = dense_alpha(g)
    assert 1 - truth < 5e-3  # the normalised gap is tiny
    assert cert.summary["alpha"] == pytest.approx(truth, abs=1e-9)


def test_star_fails_vertex_expansion_although_alpha_zero():
    g = nxg(nx.star_graph(20))
    cert = certify(g, CHEAP)
    # the star is bipartite: the normalised spectrum is {1, 0, ..., 0, -1}, alpha = 0
    assert dense_alpha(g) == pytest.approx(0.0, abs=1e-9)
    assert cert.summary["alpha"] == pytest.approx(0.0, abs=1e-9)
    assert cert["spectral_expansion"].status == "passed"
    assert cert["implied_vertex_expansion"].status == "failed"
    assert cert["implied_vertex_expansion"].value <= 1
    assert cert.status == "failed"
    assert "vertex expansion is not implied" in cert["spectral_expansion"].method
    # the truth: leaves S (|S| = 10 <= n/2) have N(S) = {centre}
    assert len(set().union(*(set(to_nx(g)[v]) for v in range(1, 11)))) == 1


# -- graphs that must pass -----------------------------------------------------------------
PASS_GRAPHS = [
    f"random-regular:n={n},d={d},seed={s}"
    for d in (3, 4, 8, 16)
    for n, s in ((60, 0), (200, 1), (500, 2))
] + [
    "random-regular:n=300,d=5,seed=3",
    "random-regular:n=300,d=12,seed=4",
    "lps:p=5,q=13",
    "paley:q=101",
    "paley:q=13",
    "margulis:m=10",
    "margulis:m=20",
    "double-cover/random-regular:n=200,d=4,seed=0",
    "double-cover/paley:q=13",
    "two-lift/random-regular:n=100,d=4,seed=0",
    "two-lift/random-regular:n=150,d=6,seed=2",
]


@pytest.mark.parametrize("spec", PASS_GRAPHS)
def test_expanders_pass_and_alpha_is_dense_alpha(spec):
    g = build(spec)
    cert = certify(g, CHEAP)
    assert cert.status == "passed", cert.problems()
    assert cert.missing == [] and cert.problems() == []
    truth = dense_alpha(g)
    c = cert["spectral_expansion"]
    assert c.value == pytest.approx(truth, abs=1e-8)
    lo, hi = c.detail["interval"]
    assert lo - 1e-9 <= truth <= hi + 1e-9
    assert hi <= ALPHA_MAX
    # Tanner, regular form: beta = 1 / (alpha^2 + (1 - alpha^2) rho) evaluated at alpha's
    # upper end, for a non-bipartite graph and sets of floor(rho n) nodes (rho n integral here)
    rho = cert.params["rho"]
    beta = cert["implied_vertex_expansion"].value
    if not nx.is_bipartite(to_nx(g)) and (g.n * rho).is_integer():
        formula = 1 / (hi**2 + (1 - hi**2) * rho)
        assert beta == pytest.approx(formula, rel=1e-9)
    assert beta > 1
    assert cert.params == {"alpha_max": ALPHA_MAX, "rho": 0.5, "delta": 1e-6}


def test_random_3_regular_alpha_high_but_below_threshold():
    alphas = [certify(build(f"random-regular:n=100,d=3,seed={s}"), CHEAP) for s in range(8)]
    assert all(c.status == "passed" for c in alphas)
    assert max(c.summary["alpha"] for c in alphas) > 2 * math.sqrt(2) / 3 - 0.05


LAYERS_PASS = [
    "random-bipartite:left=256,right=256,d=16,seed=0",
    "random-bipartite:left=128,right=128,d=8,seed=1",
    "random-bipartite:left=64,right=128,d=5,seed=2",
    "biregular:left=128,right=256,dl=8,dr=4",
    "biregular:left=256,right=128,dl=4,dr=8",
    "biregular:left=100,right=100,dl=6,dr=6",
]


@pytest.mark.parametrize("spec", LAYERS_PASS)
def test_expander_layers_pass_and_alpha_is_svd(spec):
    b = build(spec)
    cert = certify(b, CHEAP)
    assert cert.status == "passed", cert.problems()
    assert cert.summary["alpha"] == pytest.approx(dense_layer_alpha(b), abs=1e-8)


LAYERS_FAIL = [
    "grouped:left=128,right=128,d=16",
    "grouped:left=64,right=64,d=8",
    "local:left=128,right=128,d=3",
    "local:left=256,right=256,d=8",
]


@pytest.mark.parametrize("spec", LAYERS_FAIL)
def test_grouped_and_local_layers_fail(spec):
    b = build(spec)
    cert = certify(b, CHEAP)
    assert cert.status == "failed"
    assert cert["spectral_expansion"].status == "failed"
    truth = dense_layer_alpha(b)
    assert truth > ALPHA_MAX
    assert cert.summary["alpha"] == pytest.approx(truth, abs=1e-8)


@pytest.mark.parametrize("kind", ["grouped", "local"])
def test_grouped_and_local_chains_fail(kind):
    d = 16 if kind == "grouped" else 3
    layer = build(f"{kind}:left=128,right=128,d={d}")
    cert = certify_layered(LayeredGraph([layer] * 6), samples=4)
    assert cert.status == "failed"
    assert cert["path_uniformity"].status == "failed"
    assert len(cert.parts) == 6 and all(p.status == "failed" for p in cert.parts)


def test_local_chain_of_70_fails_reach_depth():
    layer = build("local:left=128,right=128,d=3")
    lg = LayeredGraph([layer] * 70)
    cert = certify_layered(lg, samples=4)
    c = cert["reach_depth"]
    ideal = ideal_depth(lg.widths, [3] * 70, [3] * 70)
    assert ideal == math.ceil(math.log(128, 3)) == 5
    assert c.detail["ideal"] == ideal
    # independent truth: window-3 band mixes after ~n/2 layers (BFS on the reach sets)
    m = layer.biadjacency().toarray() > 0
    reach = np.eye(128, dtype=bool)
    depth = None
    for t in range(1, 71):
        reach = (m.astype(int) @ reach.astype(int)) > 0
        if reach.all():
            depth = t
            break
    assert c.value == depth and depth > 2 * ideal
    assert c.status == "failed" and cert.status == "failed"


# -- shipped specs and models ----------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "expandergraph/specs/demo_digits_graph.yaml",
        "expandergraph/specs/mlp.yaml",
        "expandergraph/specs/deep_expander.yaml",
    ],
)
def test_shipped_specs_pass(path):
    lg = load_layered(path)
    cert = certify_layered(lg, checks=["reach_depth", "path_uniformity"])
    assert cert.status == "passed", cert.problems()
    ideal = cert["reach_depth"].detail["ideal"]
    assert cert["reach_depth"].value <= cert.params["kappa"] * ideal
    assert cert["path_uniformity"].value <= cert.params["eps_max"]
    assert any("proportional" in c for c in cert.claims)


def test_shipped_grouped_spec_fails():
    cert = certify_layered(load_layered("expandergraph/specs/deep_grouped.yaml"), samples=4)
    assert cert.status == "failed"


def test_x_resnet_20_layers_certify():
    from compiler.models import build as build_model

    net = build_model("x-resnet-20")
    assert net.override is None and net.certified
    assert net.certificates and all(c.status == "passed" for c in net.certificates.values())
    assert all(c.semantics == SEMANTICS for c in net.certificates.values())


# -- brute force: Cheeger, Tanner, mixing lemma on small graphs -----------------------------
def _small_graphs():
    out = [
        nx.petersen_graph(),
        nx.cycle_graph(9),
        nx.complete_graph(6),
        nx.heawood_graph(),
        nx.hypercube_graph(3),
        nx.star_graph(7),
        nx.path_graph(8),
        nx.wheel_graph(9),
        nx.barbell_graph(4, 2),
        nx.complete_bipartite_graph(3, 5),
    ]
    out += [
        nx.random_regular_graph(d, n, seed=s)
        for d, n, s in ((3, 12, 0), (4, 11, 1), (5, 14, 2), (3, 14, 3))
    ]
    out += [nx.gnp_random_graph(12, 0.35, seed=s) for s in range(4)]
    return [nx.convert_node_labels_to_integers(g) for g in out if nx.is_connected(g)]


@pytest.mark.parametrize("h", _small_graphs(), ids=lambda h: f"n{h.number_of_nodes()}")
def test_claims_hold_by_brute_force(h):
    g = nxg(h)
    cert = certify(g, CHEAP)
    n = g.n
    deg = dict(h.degree())
    regular = len(set(deg.values())) == 1
    vol_v = sum(deg.values())
    rho = cert.params["rho"]
    beta = cert["implied_vertex_expansion"].value
    cheeger = cert["cheeger"].value
    best_edge = best_cond = math.inf
    for r in range(1, n):
        for s in itertools.combinations(range(n), r):
            ss = set(s)
            cut = sum(1 for v in s for w in h[v] if w not in ss)
            vol = sum(deg[v] for v in s)
            if r <= n // 2:
                best_edge = min(best_edge, cut / r)
            if vol <= vol_v / 2:
                best_cond = min(best_cond, cut / vol)
            if r <= math.floor(rho * n) and not nx.is_bipartite(h):
                nbhd = set().union(*(set(h[v]) for v in s))
                assert len(nbhd) >= beta * r - 1e-9, (s, beta)
    if nx.is_bipartite(h):
        sides = nx.bipartite.sets(h)
        for side in sides:
            side = sorted(side)
            for r in range(1, math.floor(rho * len(side)) + 1):
                for s in itertools.combinations(side, r):
                    nbhd = set().union(*(set(h[v]) for v in s))
                    assert len(nbhd) >= beta * r - 1e-9, (s, beta)
    truth = best_edge if regular else best_cond
    assert cheeger <= truth + 1e-9
    if regular:
        assert cheeger == pytest.approx((list(deg.values())[0] - _lambda2(h)) / 2, abs=1e-8)


def _lambda2(h) -> float:
    return float(np.sort(np.linalg.eigvalsh(nx.to_numpy_array(h)))[-2])


def test_tanner_factor_formula():
    for alpha in (0.0, 0.3, 0.7, 0.95):
        for rho in (0.1, 0.25, 0.5):
            n, d = 1000, 6
            got = tanner_factor(
                alpha, rho, set_size=int(rho * n), d_min_src=d, d_max_dst=d, volume=n * d
            )
            assert got == pytest.approx(1 / (alpha**2 + (1 - alpha**2) * rho), rel=1e-12)
    assert cheeger_lower(-1.0) == 0.0 and cheeger_lower(2.0) == 1.0


def test_mixing_lemma_claim_by_brute_force():
    h = nx.random_regular_graph(4, 12, seed=5)
    g = nxg(h)
    cert = certify(g, CHEAP)
    lam = cert["mixing_lemma"].value
    a = nx.to_numpy_array(h)
    rng = np.random.default_rng(0)
    for _ in range(400):
        s = rng.random(12) < rng.random()
        t = rng.random(12) < rng.random()
        e = float(s.astype(float) @ a @ t.astype(float))
        ns, nt = s.sum(), t.sum()
        bound = lam * math.sqrt(ns * nt * (1 - ns / 12) * (1 - nt / 12))
        assert abs(e - 4 * ns * nt / 12) <= bound + 1e-9


# -- incomplete ------------------------------------------------------------------------------
def test_dropped_graph_checks_are_incomplete():
    g = nxg(nx.petersen_graph())
    for checks in (["degrees"], [], ["expansion"], ["diameter"]):
        cert = certify(g, checks)
        assert cert.status == "incomplete", checks
        assert not cert.passed
        assert "spectral_expansion" in cert.missing
    assert certify(g, ["spectrum"]).missing == ["dead_nodes"]
    assert certify(g, ["spectrum"]).status == "incomplete"


def test_failed_beats_incomplete():
    cert = certify(nxg(nx.disjoint_union(nx.petersen_graph(), nx.petersen_graph())), ["degrees"])
    assert cert.status == "failed"  # connected is always checked
    assert cert.missing


def test_dropped_layered_checks_are_incomplete():
    lg = load_network_layered("compiler/specs/demo_digits.yaml")
    cert = certify_layered(lg, checks=[])
    assert cert.status == "incomplete"
    assert set(cert.missing) >= {"reach_depth", "path_uniformity"}
    cert = certify_layered(lg, layer_checks=(), checks=["reach_depth", "path_uniformity"])
    assert cert.status == "incomplete" and cert.missing == ["layer_certificates"]
    cert = certify_layered(lg, checks=["reach_depth"], samples=2)
    assert cert.status == "incomplete" and cert.missing == ["path_uniformity"]


def test_compile_refuses_spec_dropping_mixing_checks():
    import yaml

    from compiler import compile as compile_spec
    from compiler.compile import CertificateError

    with open("compiler/specs/demo_digits.yaml") as f:
        shipped = yaml.safe_load(f)
    spec = dict(shipped, certify=["degrees", "spectrum"])
    with pytest.raises(CertificateError, match="incomplete"):
        compile_spec(spec)
    with pytest.raises(ValueError):
        compile_spec(spec)
    net = compile_spec(spec, allow_uncertified=True)
    assert net.certificates["network"].status == "incomplete"
    assert net.override and "incomplete" in net.override
    assert net.certificates["network"].override == net.override
    assert not net.certified
    full = compile_spec(shipped)
    assert full.certified and full.override is None
    assert full.certificates["network"].status == "passed"


# -- undecided ---------------------------------------------------------------------------------
def test_alpha_near_tie_is_undecided():
    g = build("random-regular:n=600,d=6,seed=0")
    base = certify(g, CHEAP, dense_limit=100)  # Lanczos: a real error bar
    lo, hi = base["spectral_expansion"].detail["interval"]
    assert lo < hi
    truth = dense_alpha(g)
    assert lo - 1e-12 <= truth <= hi + 1e-12
    for alpha_max in ((lo + hi) / 2, lo):
        cert = certify(g, CHEAP, dense_limit=100, alpha_max=alpha_max)
        assert cert["spectral_expansion"].status == "undecided"
        assert cert.status == "undecided" and not cert.passed
        assert cert.params["alpha_max"] == alpha_max
    assert certify(g, CHEAP, dense_limit=100, alpha_max=hi).status == "passed"


def test_dense_alpha_tie_is_never_passed_when_interval_straddles():
    g = nxg(nx.petersen_graph())  # alpha = 2/3 exactly
    for alpha_max in (2 / 3 - 1e-15, 2 / 3 - 1e-6, 0.5):
        cert = certify(g, CHEAP, alpha_max=alpha_max)
        lo, hi = cert["spectral_expansion"].detail["interval"]
        assert cert["spectral_expansion"].status == decide(lo, hi, alpha_max)
        assert cert.status != "passed"


def ramanujan_tie() -> Graph:
    """Two K9 joined by a 2-regular bipartite graph: 10-regular, lam = 6 = 2 sqrt(9) exactly."""
    h = nx.disjoint_union(nx.complete_graph(9), nx.complete_graph(9))
    h.add_edges_from((i, 9 + i) for i in range(9))
    h.add_edges_from((i, 9 + (i + 1) % 9) for i in range(9))
    return nxg(h)


def test_ramanujan_exact_tie():
    g = ramanujan_tie()
    ev = np.linalg.eigvalsh(nx.to_numpy_array(to_nx(g)))
    assert ev[-1] == pytest.approx(10) and np.abs(ev[:-1]).max() == pytest.approx(6, abs=1e-9)
    for dense_limit in (2000, 5):
        cert = certify(g, CHEAP, dense_limit=dense_limit)
        r = cert["ramanujan"]
        assert r.bound == pytest.approx(6.0)
        lo, hi = r.detail["interval"]
        assert r.status == decide(lo, hi, r.bound)
        assert r.status in ("passed", "undecided")  # lam = bound: never failed
        if dense_limit > g.n:  # dense: alpha = 0.6 decided, the tie does not matter
            assert cert.status == "passed"
        assert cert.status != "failed"
        if hi > r.bound:
            assert r.status == "undecided" and r.passed is None


def test_disconnected_is_never_ramanujan():
    for h in (
        nx.disjoint_union(nx.cycle_graph(5), nx.cycle_graph(7)),  # lam = 2 = 2 sqrt(1)
        nx.disjoint_union(nx.petersen_graph(), nx.petersen_graph()),
        nx.disjoint_union(nx.complete_graph(4), nx.complete_graph(4)),
    ):
        cert = certify(nxg(h), CHEAP)
        assert cert["ramanujan"].status == "failed" and cert["ramanujan"].passed is False
        assert cert.summary["ramanujan"] is False
        assert cert.status == "failed"


def test_decide_table():
    assert decide(0.1, 0.2, 0.2) == "passed"
    assert decide(0.2, 0.2, 0.2) == "passed"
    assert decide(0.2, 0.3, 0.2) == "undecided"
    assert decide(0.21, 0.3, 0.2) == "failed"
    assert decide(1.0, 1.0, 1.0, ">") == "failed"
    assert decide(0.9, 1.1, 1.0, ">") == "undecided"
    with pytest.raises(ValueError, match="lower"):
        decide(0.3, 0.2, 0.5)
    with pytest.raises(ValueError, match="relation"):
        decide(0.1, 0.2, 0.5, "<")


# -- path uniformity: the proven bound against exact counts -----------------------------------
@st.composite
def layered_graphs(draw):
    n_layers = draw(st.integers(1, 3))
    widths = [draw(st.integers(3, 7)) for _ in range(n_layers + 1)]
    kind = draw(st.sampled_from(["in-regular", "out-regular", "biregular", "mixed", "multi"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layers = []
    for k in range(n_layers):
        left, right = widths[k], widths[k + 1]
        mode = kind if kind != "mixed" else draw(st.sampled_from(["in-regular", "arbitrary"]))
        if kind == "biregular":
            # circulant-like: output v reads inputs v*left/right + j (biregular when right | ... )
            d = draw(st.integers(1, left))
            m = np.zeros((right, left), dtype=int)
            for v in range(right):
                for j in range(d):
                    m[v, (v * left // right + j) % left] = 1
        elif mode == "in-regular":
            d = draw(st.integers(1, left))
            m = np.zeros((right, left), dtype=int)
            for v in range(right):
                m[v, rng.choice(left, d, replace=False)] = 1
        elif mode == "out-regular":
            d = draw(st.integers(1, right))
            m = np.zeros((right, left), dtype=int)
            for u in range(left):
                m[rng.choice(right, d, replace=False), u] = 1
        elif mode == "multi":  # constant in-degree with repeated edges (multiplicities)
            d = draw(st.integers(1, left + 2))
            m = np.zeros((right, left), dtype=int)
            for v in range(right):
                np.add.at(m[v], rng.integers(0, left, d), 1)
        else:  # arbitrary non-empty rows
            m = (rng.random((right, left)) < rng.uniform(0.2, 0.9)).astype(int)
            m[np.arange(right), rng.integers(0, left, right)] = 1
        rows, cols = np.nonzero(m)
        reps = m[rows, cols]
        layers.append(
            BipartiteGraph.from_edges(
                left, right, left_nodes=np.repeat(cols, reps), right_nodes=np.repeat(rows, reps)
            )
        )
    return LayeredGraph(layers)


def _brute_worst(lg: LayeredGraph, sigma: float) -> tuple[float, int]:
    """Exact worst |count/pred - 1| over all S, T with |S| >= ceil(sigma n0), |T| >= ..."""
    m = np.eye(lg.widths[0], dtype=object)
    pred_factor = Fraction(1)
    for k, layer in enumerate(lg):
        m = layer.biadjacency().toarray().astype(object) @ m
        pred_factor *= Fraction(layer.num_edges, lg.widths[k] * lg.widths[k + 1])
        if k > 0:
            pred_factor *= lg.widths[k]
    n0, nl = lg.widths[0], lg.widths[-1]
    m = np.array(m, dtype=np.int64)  # small: exact
    s0 = max(1, math.ceil(sigma * n0 - 1e-9))
    t0 = max(1, math.ceil(sigma * nl - 1e-9))
    worst, pairs = 0.0, 0
    subsets_s = [s for r in range(s0, n0 + 1) for s in itertools.combinations(range(n0), r)]
    subsets_t = [t for r in range(t0, nl + 1) for t in itertools.combinations(range(nl), r)]
    ind_s = np.zeros((len(subsets_s), n0), dtype=np.int64)
    for a, s in enumerate(subsets_s):
        ind_s[a, list(s)] = 1
    ind_t = np.zeros((len(subsets_t), nl), dtype=np.int64)
    for a, t in enumerate(subsets_t):
        ind_t[a, list(t)] = 1
    counts = ind_t @ m @ ind_s.T  # (T, S)
    pred = np.outer(ind_t.sum(1), ind_s.sum(1)) * float(pred_factor)
    rel = np.abs(counts / pred - 1)
    worst = float(rel.max())
    pairs = rel.size
    return worst, pairs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lg=layered_graphs(), sigma=st.sampled_from([0.2, 0.25, 0.34, 0.5, 0.75, 1.0]))
def test_uniformity_bound_never_violated(lg, sigma):
    eps = uniformity_epsilon(lg, sigma)
    in_const = all(len(set(l.right_degrees().tolist())) == 1 for l in lg)
    out_const = all(len(set(l.left_degrees().tolist())) == 1 for l in lg)
    assert (eps is None) == (not in_const and not out_const)
    if eps is None:
        return
    worst, pairs = _brute_worst(lg, sigma)
    assert pairs >= 1
    assert worst <= eps + 1e-9, (lg.widths, sigma, worst, eps)


@settings(max_examples=60, deadline=None)
@given(lg=layered_graphs(), data=st.data())
def test_uniformity_bound_on_segments(lg, data):
    i = data.draw(st.integers(0, len(lg) - 1))
    j = data.draw(st.integers(i + 1, len(lg)))
    sub = LayeredGraph(list(lg)[i:j])
    for sigma in (0.25, 0.5):
        eps = uniformity_epsilon(lg, sigma, i, j)
        assert eps == uniformity_epsilon(sub, sigma) or eps == pytest.approx(
            uniformity_epsilon(sub, sigma), rel=1e-9
        )
        if eps is not None:
            assert _brute_worst(sub, sigma)[0] <= eps + 1e-9


def test_uniformity_search_is_not_vacuous():
    # the strategy's bounded kinds: most examples have a bound (in- or out-regular)
    from hypothesis import find

    lg = find(layered_graphs(), lambda g: uniformity_epsilon(g, 0.25) is not None and len(g) == 3)
    assert uniformity_epsilon(lg, 0.25) >= 0


def test_uniformity_on_paper_layers_by_brute_force():
    layers = [build(f"random-bipartite:left=6,right=6,d=3,seed={s}") for s in range(3)]
    for k in (1, 2, 3):
        lg = LayeredGraph(layers[:k])
        for sigma in (0.34, 0.5):
            eps = uniformity_epsilon(lg, sigma)
            worst, _ = _brute_worst(lg, sigma)
            assert worst <= eps + 1e-9


def test_uniformity_identity_and_full():
    ident = BipartiteGraph.from_ell(4, [[0], [1], [2], [3]])
    # alpha = 1: eps = sqrt((1/s - 1)(1/t - 1)) = 1/s - 1 at s = t
    assert uniformity_epsilon(LayeredGraph([ident]), 0.5) == pytest.approx(1.0)
    worst, _ = _brute_worst(LayeredGraph([ident]), 0.5)
    assert worst == pytest.approx(1.0)  # the bound is tight here
    full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    assert uniformity_epsilon(LayeredGraph([full] * 3), 0.25) < 1e-9


@settings(max_examples=30, deadline=None)
@given(lg=layered_graphs(), eps_max=st.sampled_from([0.05, 0.2, 0.5, 1.0, 3.0]))
def test_sigma_star_semantics(lg, eps_max):
    star = sigma_star(lg, eps_max)
    if uniformity_epsilon(lg, 1.0) is None:
        assert star is None
        return
    n = lg.widths[0]
    eps = [uniformity_epsilon(lg, k / n) for k in range(1, n + 1)]
    assert all(a >= b - 1e-12 for a, b in zip(eps, eps[1:]))  # non-increasing in sigma
    assert eps[-1] <= eps_max  # the bound vanishes at sigma = 1
    k = round(star * n)
    assert star == pytest.approx(k / n)
    assert eps[k - 1] <= eps_max
    if k > 1:
        assert eps[k - 2] > eps_max  # smallest such sigma


def test_sigma_star_reported_in_certificate():
    lg = load_network_layered("compiler/specs/demo_digits.yaml")
    cert = certify_layered(lg, checks=["path_uniformity"], layer_checks=())
    star = cert["path_uniformity"].detail["sigma_star"]
    assert star == sigma_star(lg, cert.params["eps_max"])
    assert uniformity_epsilon(lg, star) <= cert.params["eps_max"]
    assert cert["path_uniformity"].value == pytest.approx(uniformity_epsilon(lg, 0.25))


def test_path_mixing_samples_within_bound():
    lg = LayeredGraph([build(f"random-bipartite:left=32,right=32,d=4,seed={s}") for s in range(3)])
    cert = certify_layered(lg, samples=32, layer_checks=())
    assert cert["path_mixing"].value <= cert["path_uniformity"].value + 1e-9
    assert cert["path_mixing"].relation == "info"


def test_undecided_layer_makes_layered_undecided():
    lg = load_network_layered("compiler/specs/demo_digits.yaml")
    base = certify_layered(lg, checks=["reach_depth", "path_uniformity"])
    worst = max(range(len(lg)), key=lambda k: base.parts[k].summary["alpha"])
    lo, hi = base.parts[worst]["spectral_expansion"].detail["interval"]
    assert lo < hi
    cert = certify_layered(lg, checks=["reach_depth", "path_uniformity"], alpha_max=(lo + hi) / 2)
    assert cert.parts[worst].status == "undecided"
    assert cert.status == "undecided" and not cert.passed


# -- parameters --------------------------------------------------------------------------------
def test_layered_parameters_change_verdict():
    lg = load_network_layered("compiler/specs/demo_digits.yaml")
    cert = certify_layered(lg, checks=["reach_depth", "path_uniformity"], kappa=1.0, eps_max=0.01)
    assert cert.params["kappa"] == 1.0 and cert.params["eps_max"] == 0.01
    assert cert["reach_depth"].status == "failed"  # measured 3 > 1 * ideal 2
    assert cert["path_uniformity"].status == "failed"
    assert cert.status == "failed"


@pytest.mark.parametrize(
    "kw",
    [
        {"kappa": 0.5},
        {"kappa": math.inf},
        {"sigma": 0.0},
        {"sigma": 1.5},
        {"eps_max": 0},
        {"eps_max": math.nan},
        {"sigma": True},
        {"kappa": "2"},
    ],
)
def test_layered_bad_params(kw):
    full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    with pytest.raises(ValueError, match=next(iter(kw))):
        certify_layered(LayeredGraph([full]), **kw)


@pytest.mark.parametrize(
    "kw",
    [
        {"alpha_max": 1.0},
        {"alpha_max": 0},
        {"alpha_max": math.nan},
        {"rho": 0},
        {"rho": 2},
        {"delta": 1},
        {"delta": True},
        {"alpha_max": "0.9"},
    ],
)
def test_graph_bad_params(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        certify(nxg(nx.petersen_graph()), CHEAP, **kw)


@pytest.mark.parametrize("checks", [["spectra"], [1], "everything"])
def test_bad_check_names(checks):
    with pytest.raises(ValueError, match="checks"):
        certify(nxg(nx.petersen_graph()), checks)


def test_bad_layered_check_names():
    full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    with pytest.raises(ValueError, match="checks"):
        certify_layered(LayeredGraph([full]), checks=["reach"])


# -- JSON ----------------------------------------------------------------------------------------
def test_json_round_trip_of_new_fields():
    lg = load_network_layered("compiler/specs/demo_digits.yaml")
    cert = certify_layered(lg, samples=4)
    back = Certificate.from_json(cert.to_json())
    assert back == cert
    assert back.status == cert.status == "passed"
    d = json.loads(cert.to_json())
    assert d["semantics"] == SEMANTICS == 2
    assert d["required"] == cert.required and d["params"] == cert.params
    assert d["claims"] == cert.claims and d["status"] == "passed"
    und = certify(nxg(nx.petersen_graph()), CHEAP, alpha_max=0.5)
    inc = certify(nxg(nx.petersen_graph()), ["degrees"])
    for c in (und, inc):
        assert Certificate.from_json(c.to_json()).status == c.status


def test_old_certificates_keep_their_verdict():
    cert = certify(nxg(nx.cycle_graph(300)), CHEAP)
    assert cert.status == "failed"
    for stored in (True, False):
        d = cert.to_dict()
        for key in ("semantics", "status", "required", "params", "claims"):
            d.pop(key)
        d["passed"] = stored
        old = Certificate.from_dict(d)
        assert old.semantics == 1
        assert old.status == ("passed" if stored else "failed")
        assert old.passed is stored
        again = Certificate.from_json(old.to_json())
        assert again.semantics == 1 and again.status == old.status


def test_from_dict_bad_input():
    with pytest.raises(ValueError, match="mapping"):
        Certificate.from_dict([1, 2])
    with pytest.raises(ValueError, match="fingerprint"):
        Certificate.from_dict({"subject": "x", "kind": "graph"})
    with pytest.raises(ValueError, match="check"):
        Certificate.from_dict(
            {"subject": "x", "kind": "graph", "fingerprint": "f", "checks": {"a": {"bogus": 1}}}
        )


def test_from_dict_bad_semantics_names_field():
    with pytest.raises(ValueError, match="semantics"):
        Certificate.from_dict(
            {"subject": "x", "kind": "graph", "fingerprint": "f", "semantics": "two"}
        )


def test_loaded_failed_required_check_is_not_passed():
    check = {"name": "spectral_expansion", "value": 1.0, "passed": False, "required": True}
    d = {
        "subject": "x",
        "kind": "graph",
        "fingerprint": "f",
        "semantics": 2,
        "checks": {"spectral_expansion": check},
    }
    assert Certificate.from_dict(d).status == "failed"


def test_empty_certificate_is_not_passed():
    d = {"subject": "x", "kind": "graph", "fingerprint": "f", "semantics": 2}
    assert Certificate.from_dict(d).status != "passed"
    assert Certificate("x", "graph", "f").status != "passed"


def test_bound_functions_bad_input():
    full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    for bad in (0, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match="sigma"):
            uniformity_epsilon(LayeredGraph([full]), bad)
    for bad in (-1, True):
        with pytest.raises(ValueError, match="eps_max"):
            sigma_star(LayeredGraph([full]), bad)
    with pytest.raises(ValueError, match="widths"):
        ideal_depth([4, 4], [2, 2], [2])
    with pytest.raises(ValueError, match="layer_certificates"):
        certify_layered(LayeredGraph([full, full]), layer_certificates=[certify(full, CHEAP)])
    with pytest.raises(ValueError, match="layer_certificates"):
        other = certify(BipartiteGraph.from_ell(4, [[0, 1]] * 4), CHEAP)
        certify_layered(LayeredGraph([full]), layer_certificates=[other])


def test_sigma_star_nan():
    full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    with pytest.raises(ValueError, match="eps_max"):
        sigma_star(LayeredGraph([full]), math.nan)


# -- CLI exit codes ------------------------------------------------------------------------------
def _cli(argv) -> tuple[int, str]:
    from expandergraph.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(argv)
    return rc, buf.getvalue()


def test_cli_exit_codes():
    assert EXIT_CODES == {"passed": 0, "failed": 1, "incomplete": 3, "undecided": 4}
    src = "random-regular:n=100,d=4,seed=0"
    rc, out = _cli(["certify", src, "--json", "--checks", "degrees,spectrum"])
    assert rc == 0 and json.loads(out)["status"] == "passed"
    rc, out = _cli(
        ["certify", "local:left=128,right=128,d=3", "--json", "--checks", "degrees,spectrum"]
    )
    assert rc == 1 and json.loads(out)["status"] == "failed"
    rc, out = _cli(["certify", src, "--json", "--checks", "degrees"])
    assert rc == 3 and json.loads(out)["status"] == "incomplete"
    alpha = json.loads(
        _cli(["certify", src, "--json", "--checks", "degrees,spectrum", "--dense-limit", "10"])[1]
    )["checks"]["spectral_expansion"]
    lo, hi = alpha["detail"]["interval"]
    assert lo < hi
    rc, out = _cli(
        [
            "certify",
            src,
            "--json",
            "--checks",
            "degrees,spectrum",
            "--dense-limit",
            "10",
            "--alpha-max",
            repr((lo + hi) / 2),
        ]
    )
    assert rc == 4 and json.loads(out)["status"] == "undecided"
    assert json.loads(out)["params"]["alpha_max"] == (lo + hi) / 2


def test_cli_layered_exit_codes():
    rc, out = _cli(["certify", "expandergraph/specs/demo_digits_graph.yaml", "--json"])
    assert rc == 0, out
    rc, _ = _cli(
        ["certify", "expandergraph/specs/demo_digits_graph.yaml", "--json", "--kappa", "1"]
    )
    assert rc == 1
    rc = _cli_rc_bad(["certify", "random-regular:n=100,d=4,seed=0", "--kappa", "2"])
    assert rc == 2
    assert _cli_rc_bad(["certify", "random-regular:n=100,d=4,seed=0", "--alpha-max", "1.5"]) == 2
    assert (
        _cli_rc_bad(["certify", "expandergraph/specs/demo_digits_graph.yaml", "--sigma", "0"]) == 2
    )


def _cli_rc_bad(argv) -> int:
    from expandergraph.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        try:
            return main(argv)
        except SystemExit as exc:
            return int(exc.code)
