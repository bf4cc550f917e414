"""Graph types: conventions, conversions, fingerprints, persistence."""

import io

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from expandergraph import BipartiteGraph, Graph, LayeredGraph
from expandergraph.edgelist import parse_edgelist, read_edgelist, write_edgelist

edge_lists = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30),
    )
)


def test_self_loop_adds_two():
    g = Graph.from_edges(3, [0, 0, 1], [0, 1, 2])
    assert g.degrees().tolist() == [3, 2, 1]
    a = g.adjacency().toarray()
    assert a[0, 0] == 2 and a.sum() == 2 * g.num_edges
    # networkx also counts a loop twice in the degree
    assert [d for _, d in sorted(g.to_networkx().degree)] == g.degrees().tolist()


def test_multi_edges_kept():
    g = Graph.from_edges(2, [0, 0, 1], [1, 1, 0])
    assert g.num_edges == 3 and g.adjacency().toarray().tolist() == [[0, 3], [3, 0]]
    assert g.degree == 3


@settings(max_examples=50, deadline=None)
@given(edge_lists)
def test_roundtrips_and_fingerprint(data):
    n, edges = data
    u = [e[0] for e in edges]
    v = [e[1] for e in edges]
    g = Graph.from_edges(n, u, v)
    # orientation and order do not matter
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(u))
    h = Graph.from_edges(n, np.array(v, dtype=int)[perm], np.array(u, dtype=int)[perm])
    assert g.fingerprint == h.fingerprint
    assert Graph.from_scipy(g.adjacency()).fingerprint == g.fingerprint
    assert Graph.from_networkx(g.to_networkx()).fingerprint == g.fingerprint
    assert Graph.from_csr(n, g.indptr, g.indices).fingerprint == g.fingerprint
    assert g.degrees().sum() == 2 * g.num_edges == 2 * len(edges)
    # bipartiteness agrees with networkx (networkx ignores multiplicity, loops are odd cycles)
    ng = nx.Graph()
    ng.add_nodes_from(range(n))
    ng.add_edges_from(edges)
    assert g.is_bipartite() == nx.is_bipartite(ng)
    # edge list file round trip
    buf = io.StringIO()
    e = g.edge_array()
    buf.write(f"# n={n}\n" + "".join(f"{a} {b}\n" for a, b in e))
    if len(e):
        buf.seek(0)
        assert parse_edgelist(buf).fingerprint == g.fingerprint


def test_fingerprint_counts_multiplicity_and_size():
    a = Graph.from_edges(3, [0], [1])
    assert a.fingerprint != Graph.from_edges(3, [0, 0], [1, 1]).fingerprint
    assert a.fingerprint != Graph.from_edges(4, [0], [1]).fingerprint


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: Graph.from_edges(0, [], []), "n: must be positive"),
        (lambda: Graph.from_edges(3, [0], [3]), "out of range"),
        (lambda: Graph.from_edges(3, [-1], [1]), "out of range"),
        (lambda: Graph.from_edges(3, [0.5], [1]), "integers"),
        (lambda: Graph.from_edges(3, [0, 1], [1]), "same length"),
        (lambda: Graph.from_edges(True, [0], [0]), "n: must be an integer"),
        (lambda: Graph.from_scipy(sp.csr_matrix(np.array([[0, 1], [0, 0]]))), "symmetric"),
        (lambda: Graph.from_scipy(np.array([[1]])), "diagonal must be even"),
        (lambda: Graph.from_scipy(np.array([[0, -1], [-1, 0]])), "non-negative"),
        (lambda: Graph.from_csr(2, [0, 1, 1], [1]), "not symmetric"),
        (lambda: BipartiteGraph.from_edges(2, 2, [2], [0]), "left node out of range"),
        (lambda: BipartiteGraph.from_edges(4, 4, [0], [0], block=3), "block: 3 must divide"),
    ],
)
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bipartite_layer():
    b = BipartiteGraph.from_edges(4, 3, [0, 1, 1, 3, 2, 2], [0, 0, 1, 1, 2, 2])
    m = b.biadjacency().toarray()
    assert m.shape == (3, 4)
    assert m.tolist() == [[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 2, 0]]
    assert b.right_degrees().tolist() == [2, 2, 2] and b.degree == 2
    assert b.left_degrees().tolist() == [1, 2, 2, 1] and b.left_degree is None
    g = b.to_graph()
    assert g.n == 7 and g.is_bipartite()
    assert np.array_equal(g.adjacency().toarray()[4:, :4], m)
    assert b.transpose().transpose().fingerprint == b.fingerprint
    assert BipartiteGraph.from_scipy(b.biadjacency()).fingerprint == b.fingerprint
    assert BipartiteGraph.from_networkx(b.to_networkx(), left=4).fingerprint == b.fingerprint
    assert b.fingerprint != b.to_graph().fingerprint


def test_block_ell():
    base = np.array([[0, 2], [1, 2]])  # 2 output blocks reading 3 input blocks
    block = 4
    ell = (base[:, None, :, None] * block + np.arange(block)).repeat(block, axis=0)
    ell = ell.reshape(2 * block, -1)
    b = BipartiteGraph.from_ell(3 * block, ell, block=block)
    assert b.block_ell().tolist() == base.tolist()
    assert b.ell().shape == (8, 8)
    broken = ell.copy()
    broken[0, 0] = 11
    with pytest.raises(ValueError, match="not whole blocks"):
        BipartiteGraph.from_ell(3 * block, np.sort(broken, axis=1), block=block).block_ell()


def test_layered_chain_and_npz(tmp_path):
    a = BipartiteGraph.from_edges(3, 2, [0, 1, 2], [0, 1, 1])
    b = BipartiteGraph.from_edges(2, 4, [0, 1, 0, 1], [0, 1, 2, 3], name="b")
    lg = LayeredGraph([a, b])
    assert lg.widths == [3, 2, 4]
    path = tmp_path / "lg.npz"
    lg.save(path)
    back = LayeredGraph.load(path)
    assert back.fingerprints == lg.fingerprints and back.widths == lg.widths
    with pytest.raises(ValueError, match=r"layers\[1\]: input width 3"):
        LayeredGraph([a, a])
    with pytest.raises(ValueError, match="at least one layer"):
        LayeredGraph([])
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read layered graph"):
        LayeredGraph.load(bad)


def test_edgelist_file_roundtrip(tmp_path):
    g = Graph.from_edges(6, [0, 1, 2, 2, 5], [1, 2, 2, 3, 5])
    path = tmp_path / "g.txt"
    write_edgelist(g, path)
    assert read_edgelist(path).fingerprint == g.fingerprint
    # networkx can read what we write
    ng = nx.read_edgelist(path, nodetype=int, create_using=nx.MultiGraph)
    assert ng.number_of_edges() == g.num_edges


@pytest.mark.parametrize(
    "text, message",
    [
        ("0 1\n2\n", r":2: malformed line"),
        ("0 x\n", "'x' is not a non-negative integer"),
        ("0 -1\n", "-1 is negative"),
        ("0 1.5\n", "'1.5' is not a non-negative integer"),
        ("# only a comment\n\n", "empty graph"),
        ("# n=2\n0 5\n", "header n=2 but node 5"),
    ],
)
def test_edgelist_bad_lines(text, message):
    with pytest.raises(ValueError, match=message):
        parse_edgelist(io.StringIO(text))


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="0123456789 -#x\n\t.", max_size=60))
def test_edgelist_parser_never_crashes(text):
    """Any text either parses to a consistent graph or raises a one-line ValueError."""
    try:
        g = parse_edgelist(io.StringIO(text))
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert g.degrees().sum() == 2 * g.num_edges


def test_read_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_edgelist(tmp_path / "nope.txt")
