"""certify() and the diameter: values against networkx/numpy, JSON round trip, bad inputs."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from expandergraph.certificate import Certificate
from expandergraph.certify import CHECKS, certify
from expandergraph.distance import chung_bound, diameter
from expandergraph.graph import BipartiteGraph, Graph
from expandergraph.spectrum import adjacency_spectrum
from tests.graph_helpers import from_nx, permutation_regular

GRAPH_KEYS = {
    "n",
    "edges",
    "degree",
    "bipartite",
    "connected",
    "lambda_2",
    "lambda_min",
    "lambda",
    "alpha",
    "alpha_max",
    "ramanujan_bound",
    "ramanujan",
    "diameter",
    "diameter_bounds",
    "vertex_expansion",
    "edge_expansion",
    "fingerprint",
}
LAYER_KEYS = GRAPH_KEYS | {"sigma_1", "sigma_2", "left", "right", "dead_outputs", "unused_inputs"}


@pytest.fixture(autouse=True)
def _single_thread_blas():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


# -- diameter -------------------------------------------------------------------------------
DIAM = [
    nx.petersen_graph(),
    nx.complete_graph(6),
    nx.cycle_graph(11),
    nx.cycle_graph(12),
    nx.hypercube_graph(6),
    nx.heawood_graph(),
    nx.path_graph(70),
    nx.barbell_graph(6, 4),
    nx.random_regular_graph(3, 200, seed=2),
    nx.star_graph(9),
]


@pytest.mark.parametrize("h", DIAM, ids=lambda h: f"{h.number_of_nodes()}n")
def test_diameter_exact_and_bounds(h):
    g = from_nx(h)
    want = nx.diameter(h)
    r = diameter(g)
    assert (r.value, r.lower, r.upper, r.connected) == (want, want, want, True)
    b = diameter(g, exact_limit=0, spectrum=adjacency_spectrum(g))
    assert b.lower <= want <= b.upper
    assert b.value is None or b.value == want


def test_diameter_bounds_on_random_regular_use_chung():
    g = permutation_regular(3000, 8, 1)
    sp = adjacency_spectrum(g, dense_limit=0)
    exact = diameter(g).value
    b = diameter(g, exact_limit=0, spectrum=sp)
    assert b.value is None or b.value == exact
    assert b.lower <= exact <= b.upper
    assert b.upper <= chung_bound(g.n, 8, sp.lam + sp.error)
    assert "Chung" in b.method


def test_diameter_vertex_transitive_and_disconnected():
    h = nx.circulant_graph(31, [1, 5])
    r = diameter(from_nx(h), vertex_transitive=True)
    assert r.value == nx.diameter(h) and r.method.startswith("one BFS")
    r = diameter(from_nx(nx.disjoint_union(nx.cycle_graph(4), nx.cycle_graph(5))))
    assert (r.value, r.lower, r.upper, r.connected) == (None, None, None, False)


def test_chung_bound():
    assert chung_bound(10, 3, 2) == math.ceil(math.log(9) / math.log(1.5))
    assert chung_bound(7, 6, 1) == 1  # K7: log 6 / log 6 = 1, the true diameter
    assert chung_bound(100, 8, 8) is None and chung_bound(100, 8, 0) == 1
    with pytest.raises(ValueError, match="chung_bound"):
        chung_bound(1, 3, 1)


def test_diameter_bad_inputs():
    g = from_nx(nx.petersen_graph())
    with pytest.raises(ValueError, match="exact_limit"):
        diameter(g, exact_limit=-5)
    with pytest.raises(ValueError, match="sweeps"):
        diameter(g, sweeps=0)
    with pytest.raises(ValueError, match="expected an expandergraph.Graph"):
        diameter(nx.petersen_graph())


# -- certify on graphs ----------------------------------------------------------------------
def test_certify_petersen_summary_and_round_trip():
    g = from_nx(nx.petersen_graph())
    steps = []
    cert = certify(g, progress=steps.append)
    s = cert.summary
    assert set(s) == GRAPH_KEYS
    assert (s["n"], s["edges"], s["degree"], s["bipartite"], s["connected"]) == (
        10,
        15,
        3,
        False,
        True,
    )
    assert s["lambda_2"] == pytest.approx(1) and s["lambda_min"] == pytest.approx(-2)
    assert s["lambda"] == pytest.approx(2) and s["ramanujan_bound"] == pytest.approx(2 * 2**0.5)
    assert s["ramanujan"] is True and s["diameter"] == 2 and s["diameter_bounds"] == [2, 2]
    assert s["vertex_expansion"]["exact"] == pytest.approx(0.8)
    assert s["edge_expansion"]["exact"] == pytest.approx(1.0)
    assert s["fingerprint"] == g.fingerprint == cert.fingerprint
    assert cert.passed and cert.failures() == []
    assert (
        set(cert.required)
        == {
            "dead_nodes",
            "connected",
            "spectral_expansion",
            "implied_vertex_expansion",
        }
        == {c.name for c in cert.checks.values() if c.required}
    )
    # alpha = 2/3; Tanner at rho = 1/2: beta = 1 / (4/9 + 5/18) = 18/13; Cheeger: (3 - 1)/2
    assert cert["spectral_expansion"].value == pytest.approx(2 / 3)
    assert cert["implied_vertex_expansion"].value == pytest.approx(18 / 13)
    assert cert["cheeger"].value == pytest.approx(1.0)
    assert s["edge_expansion"]["exact"] >= cert["cheeger"].value - 1e-9
    assert cert["lambda"].error < 1e-12 and cert["lambda"].method == "dense eigh"
    assert any("spectrum" in m for m in steps) and any("diameter" in m for m in steps)
    back = Certificate.from_json(cert.to_json())
    assert back == cert and back.passed


def test_certify_disconnected_fails_with_lambda_d():
    g = from_nx(nx.disjoint_union(nx.petersen_graph(), nx.complete_graph(4)))
    cert = certify(g)
    assert cert.status == "failed"
    assert set(cert.failures()) == {"connected", "spectral_expansion", "implied_vertex_expansion"}
    assert cert["ramanujan"].passed is False  # disconnected graphs are never Ramanujan
    s = cert.summary
    assert s["lambda"] == pytest.approx(3) and s["connected"] is False and s["degree"] == 3
    assert s["diameter"] is None and s["diameter_bounds"] == [None, None]
    assert s["vertex_expansion"] == {"lower": 0.0, "upper": 0.0, "exact": 0.0}
    assert Certificate.from_json(cert.to_json()) == cert


def test_certify_dead_node_and_bipartite_graph():
    g = Graph.from_edges(5, [0, 1, 2], [1, 2, 3])  # node 4 isolated
    cert = certify(g, checks=("degrees",))
    assert cert["dead_nodes"].value == 1 and cert["dead_nodes"].detail["nodes"] == [4]
    assert set(cert.failures()) == {
        "dead_nodes",
        "connected",
        "spectral_expansion",
        "implied_vertex_expansion",
    }
    assert cert.status == "failed" and cert.missing == [
        "spectral_expansion",
        "implied_vertex_expansion",
    ]
    assert cert.summary["lambda"] is None and set(cert.summary) == GRAPH_KEYS
    k = from_nx(nx.complete_bipartite_graph(4, 4))  # lambda excludes +-d
    cert = certify(k, checks=["spectrum"])
    assert cert.status == "incomplete" and cert.missing == ["dead_nodes"]
    assert cert.summary["lambda"] == pytest.approx(0, abs=1e-12)
    assert certify(k, checks=["degrees", "spectrum"]).status == "passed"
    assert cert.summary["lambda_min"] == pytest.approx(-4) and cert.summary["bipartite"]


def test_certify_lanczos_path_against_dense():
    g = permutation_regular(600, 8, 3)
    w = np.linalg.eigvalsh(g.adjacency().toarray().astype(float))
    cert = certify(g, dense_limit=0, checks=("spectrum", "diameter"))
    s = cert.summary
    assert s["lambda"] == pytest.approx(max(abs(w[-2]), abs(w[0])), abs=1e-6)
    assert s["lambda_2"] == pytest.approx(w[-2], abs=1e-6)
    assert cert["lambda"].method.startswith("lanczos") and cert["lambda"].error <= 1e-8
    assert cert["lambda"].exact is False and cert.status == "incomplete"  # no "degrees"
    assert cert["spectral_expansion"].status == "passed"
    assert cert["spectral_expansion"].value == pytest.approx(max(abs(w[-2]), abs(w[0])) / 8)
    assert s["diameter"] == nx.diameter(g.to_networkx())
    assert s["vertex_expansion"] is None


def test_certify_generators():
    from expandergraph import build

    cert = certify(build("paley:q=13"), checks=("spectrum", "diameter"))
    assert cert.summary["lambda"] == pytest.approx((1 + 13**0.5) / 2)
    assert cert["diameter"].method.startswith("one BFS")  # Cayley graph: vertex transitive
    cert = certify(build("margulis:m=8"), checks=("degrees", "spectrum"))
    assert cert.passed and cert.summary["lambda"] <= 5 * 2**0.5


# -- certify on layers ----------------------------------------------------------------------
def random_layer(left, right, d, seed):
    rng = np.random.default_rng(seed)
    ell = np.stack([rng.choice(left, size=d, replace=False) for _ in range(right)])
    return BipartiteGraph.from_ell(left, ell)


def test_certify_layer_values_and_round_trip():
    b = random_layer(40, 50, 5, 0)
    cert = certify(b)
    s = cert.summary
    assert set(s) == LAYER_KEYS and cert.kind == "bipartite"
    sv = np.linalg.svd(b.biadjacency().toarray().astype(float), compute_uv=False)
    assert s["sigma_1"] == pytest.approx(sv[0]) and s["sigma_2"] == pytest.approx(sv[1])
    assert s["lambda"] == pytest.approx(sv[1]) and s["lambda_min"] == pytest.approx(-sv[0])
    h = b.to_networkx()
    assert s["connected"] == nx.is_connected(h) and s["bipartite"] is True
    assert (s["left"], s["right"], s["n"], s["edges"]) == (40, 50, 90, 250)
    assert s["dead_outputs"] == 0
    assert s["unused_inputs"] == int(np.sum(b.left_degrees() == 0))
    assert s["diameter"] == (nx.diameter(h) if nx.is_connected(h) else None)
    assert cert["spectral_expansion"].relation == "<="
    assert cert.passed == (
        s["unused_inputs"] == 0 and s["connected"] and s["alpha"] + 1e-9 <= s["alpha_max"]
    )
    assert Certificate.from_json(cert.to_json()) == cert


def test_certify_layer_dead_outputs_and_unused_inputs():
    # output 2 reads nothing; input 3 feeds nothing
    b = BipartiteGraph.from_edges(4, 3, [0, 1, 2, 0], [0, 0, 1, 1])
    cert = certify(b, checks=("degrees", "spectrum"))
    assert cert["dead_outputs"].value == 1 and cert["dead_outputs"].detail["nodes"] == [2]
    assert cert["unused_inputs"].value == 1 and cert["unused_inputs"].detail["nodes"] == [3]
    assert {"dead_outputs", "unused_inputs", "connected", "spectral_expansion"} <= set(
        cert.failures()
    )


def test_certify_grouped_layer_has_no_gap():
    from expandergraph import build

    cert = certify(build("grouped:left=32,right=32,d=8"), checks=("degrees", "spectrum"))
    s = cert.summary
    assert not cert.passed and s["sigma_2"] == pytest.approx(s["sigma_1"]) == 8
    assert s["degree"] == 8 and s["ramanujan_bound"] == pytest.approx(2 * 7**0.5)


def test_certify_biregular_layer_lanczos():
    rng = np.random.default_rng(1)
    rows = np.concatenate([rng.permutation(300) for _ in range(6)])
    b = BipartiteGraph.from_edges(300, 300, np.concatenate([np.arange(300)] * 6), rows)
    cert = certify(b, checks=("spectrum",), dense_limit=10)
    sv = np.linalg.svd(b.biadjacency().toarray().astype(float), compute_uv=False)
    assert cert.summary["sigma_1"] == 6 and cert.summary["sigma_2"] == pytest.approx(sv[1])
    assert cert.summary["degree"] == 6 and "lanczos" in cert["lambda"].method


# -- bad inputs ------------------------------------------------------------------------------
def test_certify_bad_inputs():
    g = from_nx(nx.petersen_graph())
    with pytest.raises(ValueError, match="'nope'"):
        certify(g, checks=("nope",))
    assert certify(g, checks=()).status == "incomplete"  # nothing run: never a vacuous pass
    for bad in ({"alpha_max": 1.0}, {"alpha_max": 0}, {"rho": 0}, {"delta": 2}, {"alpha_max": "x"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            certify(g, **bad)
    with pytest.raises(ValueError, match="empty graph"):
        certify(Graph.from_edges(6, [], []))
    with pytest.raises(ValueError, match="empty layer"):
        certify(BipartiteGraph.from_edges(2, 2, [], []))
    with pytest.raises(ValueError, match="Graph or BipartiteGraph"):
        certify(nx.petersen_graph())
    with pytest.raises(ValueError, match="exact_limit"):
        certify(g, checks=("expansion",), exact_limit=40)
    assert CHECKS == ("degrees", "spectrum", "expansion", "diameter")


def test_docstring_examples():
    import doctest

    import expandergraph.certify
    import expandergraph.distance
    import expandergraph.expansion
    import expandergraph.spectrum

    for mod in (
        expandergraph.spectrum,
        expandergraph.expansion,
        expandergraph.distance,
        expandergraph.certify,
    ):
        failed, tried = doctest.testmod(mod)
        assert tried > 0 and failed == 0, mod.__name__
