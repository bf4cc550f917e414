"""NetworkGraph and its guarantees against brute force on the expanded channel DAG (networkx)."""

from __future__ import annotations

import math
import zipfile

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.spec import load_spec
from expandergraph import BipartiteGraph, LayeredGraph
from expandergraph.bounds import ideal_depth
from expandergraph.guarantees import certify_layered
from expandergraph.mixing import reach_depth
from expandergraph.mixing import reach_fraction as chain_reach_fraction
from expandergraph.network import NetworkGraph, path_count, reach_fraction
from expandergraph.network_guarantees import (
    certify_network,
    chain_segments,
    ideal_network_depth,
    mixing_depth,
    path_deviation,
    reach_fractions,
    uniform_prediction,
)
from expandergraph.paths import path_count as chain_path_count


def _random_layer(rng, left, right, multi=True) -> BipartiteGraph:
    d = int(rng.integers(1, left + 1))
    if multi:
        ell = rng.integers(0, left, size=(right, d))
    else:
        ell = np.stack([rng.choice(left, d, replace=False) for _ in range(right)])
    return BipartiteGraph.from_ell(left, ell)


class Recipe:
    """Builds a NetworkGraph and, independently, its channel MultiDiGraph and matrices."""

    def __init__(self, width: int, spatial: int = 1):
        self.net = NetworkGraph(width * spatial if spatial == 1 else width)
        self.g = nx.MultiDiGraph()
        self.w = {"input": width}
        self.mats: dict[str, list] = {"input": []}  # tensor -> [(source, matrix)]
        self.g.add_nodes_from(("input", c) for c in range(width))
        self.count = 0

    def _add(self, name, width):
        self.w[name] = width
        self.mats[name] = []
        self.g.add_nodes_from((name, c) for c in range(width))

    def _link(self, src, dst, m):  # m: (out, in) integer matrix
        self.mats[dst].append((src, m))
        for v, u in zip(*np.nonzero(m)):
            for _ in range(int(m[v, u])):
                self.g.add_edge((src, int(u)), (dst, int(v)))

    def name(self):
        self.count += 1
        return f"layers[{self.count}]"

    def graph(self, src, layer):
        t = self.net.graph(self.name(), src, layer)
        self._add(t, layer.right)
        self._link(src, t, layer.biadjacency().toarray())
        return t

    def identity(self, src):
        t = self.net.identity(self.name(), src)
        self._add(t, self.w[src])
        self._link(src, t, np.eye(self.w[src], dtype=int))
        return t

    def add(self, a, b):
        t = self.net.add(self.name(), [a, b])
        self._add(t, self.w[a])
        for s in (a, b):
            self._link(s, t, np.eye(self.w[s], dtype=int))
        return t

    def concat(self, a, b):
        t = self.net.concat(self.name(), [a, b])
        n = self.w[a] + self.w[b]
        self._add(t, n)
        off = 0
        for s in (a, b):
            m = np.zeros((n, self.w[s]), dtype=int)
            m[off + np.arange(self.w[s]), np.arange(self.w[s])] = 1
            self._link(s, t, m)
            off += self.w[s]
        return t

    def shuffle(self, src, groups):
        t = self.net.shuffle(self.name(), src, groups)
        n = self.w[src]
        self._add(t, n)
        m = np.zeros((n, n), dtype=int)
        for j in range(n // groups):  # output j*g + i is input i*(n/g) + j (ShuffleNet)
            for i in range(groups):
                m[j * groups + i, i * (n // groups) + j] = 1
        self._link(src, t, m)
        return t

    def flatten(self, src, spatial):
        t = self.net.flatten(self.name(), src, spatial)
        n = self.w[src]
        self._add(t, n * spatial)
        m = np.zeros((n * spatial, n), dtype=int)
        for c in range(n):
            m[c * spatial : (c + 1) * spatial, c] = 1
        self._link(src, t, m)
        return t

    def finish(self, src):
        self.net.output(src)
        self._add("output", self.w[src])
        self._link(src, "output", np.eye(self.w[src], dtype=int))


def _random_recipe(data, multi=True) -> Recipe:
    seed = data.draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    r = Recipe(data.draw(st.integers(1, 4)))
    cur = "input"
    if data.draw(st.booleans()):
        cur = r.flatten(cur, data.draw(st.integers(1, 3)))
    for _ in range(data.draw(st.integers(1, 5))):
        op = data.draw(st.sampled_from(["graph", "graph", "residual", "concat", "shuffle", "id"]))
        n = r.w[cur]
        if op == "graph":
            cur = r.graph(cur, _random_layer(rng, n, data.draw(st.integers(1, 4)), multi))
        elif op == "residual":
            body = r.graph(cur, _random_layer(rng, n, n, multi))
            cur = r.add(body, cur)
        elif op == "concat" and n <= 4:
            body = r.graph(cur, _random_layer(rng, n, data.draw(st.integers(1, 3)), multi))
            cur = r.concat(cur, body)
        elif op == "shuffle":
            divisors = [g for g in range(1, n + 1) if n % g == 0]
            cur = r.shuffle(cur, data.draw(st.sampled_from(divisors)))
        else:
            cur = r.identity(cur)
    r.finish(cur)
    return r


def _brute_paths(g, s, S, t, T) -> int:
    return sum(1 for i in S for j in T for _ in nx.all_simple_edge_paths(g, (s, i), (t, j)))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_reach_and_paths_match_brute_force(data):
    r = _random_recipe(data)
    net, g = r.net, r.g
    tensors = net.tensors
    s = data.draw(st.sampled_from(tensors[:-1]))
    fr = reach_fractions(net, s)
    for t in tensors:
        if t == s:
            continue
        want = sum(
            1 for c in range(r.w[s]) for v in range(r.w[t]) if (t, v) in nx.descendants(g, (s, c))
        )
        want /= r.w[s] * r.w[t]
        assert math.isclose(fr.get(t, 0.0), want)
        assert math.isclose(reach_fraction(net, s, t), want)
    t = data.draw(st.sampled_from([x for x in tensors if x != s]))
    S = sorted(set(data.draw(st.lists(st.integers(0, r.w[s] - 1), min_size=1, max_size=3))))
    T = sorted(set(data.draw(st.lists(st.integers(0, r.w[t] - 1), min_size=1, max_size=3))))
    assert path_count(net, s, S, t, T) == _brute_paths(g, s, S, t, T)
    # the expansion agrees edge for edge (counts = multiplicities)
    h = net.to_networkx()
    assert set(h.nodes) == set(g.nodes)
    for a, b in set(g.edges()):
        assert h[a][b]["count"] == g.number_of_edges(a, b)
    assert h.number_of_edges() == len(set(g.edges()))


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_jacobian_equals_path_count(data):
    """Identity activations, zero biases, unit weights: d out_j / d in_i = path count."""
    r = _random_recipe(data)
    order = r.net.tensors
    jac = {"input": np.eye(r.w["input"], dtype=object)}
    for t in order[1:]:
        jac[t] = sum(m.astype(object) @ jac[s] for s, m in r.mats[t])
    for i in range(r.w["input"]):
        for j in range(r.w["output"]):
            assert jac["output"][j, i] == path_count(r.net, "input", [i], "output", [j])


def test_flatten_jacobian_sums_positions():
    """Flatten of C x H x W: the channel path count is the Jacobian summed over positions."""
    rng = np.random.default_rng(3)
    c, hw = 3, 4
    b1 = _random_layer(rng, c, c)  # a 1x1 conv on channels, at every position
    b2 = _random_layer(rng, c * hw, 5)  # a linear layer after the flatten
    net = NetworkGraph(c)
    net.output(net.graph("l2", net.flatten("l1", net.graph("l0", "input", b1), hw), b2))
    m1, m2 = b1.biadjacency().toarray(), b2.biadjacency().toarray()
    jac = np.zeros((5, c, hw), dtype=np.int64)  # d out_j / d x[i, q]
    for i in range(c):
        for q in range(hw):
            x = np.zeros((c, hw), dtype=np.int64)
            x[i, q] = 1
            jac[:, i, q] = m2 @ (m1 @ x).reshape(-1)
    for i in range(c):
        for j in range(5):
            assert path_count(net, "input", [i], "output", [j]) == jac[j, i].sum()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 5), st.integers(2, 9))
def test_chain_special_case(seed, layers, n):
    rng = np.random.default_rng(seed)
    lg = LayeredGraph([_random_layer(rng, n, n, multi=False) for _ in range(layers)])
    net = NetworkGraph.from_layered(lg)
    assert mixing_depth(net).depth == reach_depth(lg)
    ins = [float(layer.right_degrees().max()) for layer in lg]
    outs = [float(layer.left_degrees().max()) for layer in lg]
    assert ideal_network_depth(net) == ideal_depth(lg.widths, ins, outs)
    fr = reach_fractions(net)
    assert [fr[f"layers[{k}]"] for k in range(layers)] == pytest.approx(chain_reach_fraction(lg))
    S, T = [0, n - 1], list(range(0, n, 2))
    assert path_count(net, "input", S, "output", T) == chain_path_count(lg, S, T)
    assert net.to_layered().fingerprint == lg.fingerprint
    (seg,) = chain_segments(net)
    assert seg.layered.fingerprint == lg.fingerprint


def test_prediction_and_deviation():
    full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    net = NetworkGraph(4)
    net.output(net.add("r", [net.graph("g", "input", full), "input"]))
    # paths: 4 * 4 through g plus 4 skips = 20; |S| = 1, |T| = 2: 20 * 2 / 16
    assert uniform_prediction(net, "input", [0], "output", [0, 1]) == pytest.approx(2.5)
    assert path_count(net, "input", [0], "output", [0, 1]) == 3  # 2 + the skip to 0
    assert path_deviation(net, "input", [0], "output", [0, 1]) == pytest.approx(3 / 2.5 - 1)


def test_exact_counts_do_not_overflow():
    full = BipartiteGraph.from_ell(3, [[0, 1, 2]] * 3)
    net = NetworkGraph.from_layered(LayeredGraph([full] * 45))
    assert path_count(net, "input", [0], "output", [0]) == 3**44  # beyond int64


def test_conventions():
    net = NetworkGraph(4)
    net.output(net.shuffle("s", "input", 2))
    # ChannelShuffle(2) on [0, 1, 2, 3] gives [0, 2, 1, 3]
    assert [path_count(net, "input", [i], "output", [j]) for j, i in enumerate([0, 2, 1, 3])] == [
        1
    ] * 4
    net = NetworkGraph(2)
    net.output(net.flatten("f", "input", 3))
    assert [path_count(net, "input", [1], "output", [j]) for j in range(6)] == [0, 0, 0, 1, 1, 1]
    net = NetworkGraph(2)
    net.output(net.concat("c", ["input", net.identity("i", "input")]))
    assert net.widths["output"] == 4
    assert path_count(net, "input", [1], "output", [1, 3]) == 2
    net = NetworkGraph(2)
    net.output(net.embed("pad", "input", 4, offset=1))  # a zero-padded shortcut
    assert [path_count(net, "input", [0], "output", [j]) for j in range(4)] == [0, 1, 0, 0]


def test_fingerprints_are_canonical():
    rng = np.random.default_rng(0)
    b1, b2 = _random_layer(rng, 4, 4), _random_layer(rng, 4, 4)

    def build(order):
        net = NetworkGraph(4)
        names = {}
        for k in order:
            names[k] = net.graph(f"b{k}", "input", (b1, b2)[k])
        net.output(net.add("sum", [names[0], names[1]]))
        return net

    a, b = build([0, 1]), build([1, 0])
    assert a.fingerprint == b.fingerprint
    assert a.layer_fingerprints == {"b0": b1.fingerprint, "b1": b2.fingerprint}
    c = NetworkGraph(4)
    c.output(c.add("sum", [c.graph("b0", "input", b1), c.graph("b1", "input", b1)]))
    assert c.fingerprint != a.fingerprint


def _sample_net() -> NetworkGraph:
    rng = np.random.default_rng(1)
    net = NetworkGraph(4)
    x = net.graph("a", "input", _random_layer(rng, 4, 4))
    x = net.add("r", [net.graph("r.body", x, _random_layer(rng, 4, 4)), x])
    x = net.shuffle("s", x, 2)
    x = net.concat("c", [x, net.graph("c.body", x, _random_layer(rng, 4, 2))])
    net.output(net.graph("fc", net.flatten("f", x, 2), _random_layer(rng, 12, 3)))
    return net


def test_save_load_round_trip_and_tampering(tmp_path):
    net = _sample_net()
    path = tmp_path / "net.npz"
    net.save(path)
    back = NetworkGraph.load(path)
    assert back.fingerprint == net.fingerprint
    assert back.layer_fingerprints == net.layer_fingerprints
    assert back.widths == net.widths
    assert path_count(back, "input", [0], "output", [1]) == path_count(
        net, "input", [0], "output", [1]
    )
    assert "header.npy" in zipfile.ZipFile(path).namelist()  # a genuine .npz
    data = path.read_bytes()
    for k in (10, len(data) // 2, len(data) - 70):
        bad = bytearray(data)
        bad[k] ^= 1
        (tmp_path / "bad.npz").write_bytes(bytes(bad))
        with pytest.raises(ValueError, match="integrity check failed"):
            NetworkGraph.load(tmp_path / "bad.npz")
    (tmp_path / "short.npz").write_bytes(data[:-100])
    with pytest.raises(ValueError, match="integrity check failed"):
        NetworkGraph.load(tmp_path / "short.npz")
    with pytest.raises(ValueError, match="cannot read network file"):
        NetworkGraph.load(tmp_path / "missing.npz")


def test_load_refuses_a_consistent_but_edited_file(tmp_path):
    import hashlib
    import io
    import json

    net = _sample_net()
    path = tmp_path / "net.npz"
    net.save(path)
    z = np.load(path)
    header = json.loads(bytes(z["header"]).decode())
    header["tensors"][1][1] = 5  # change a width, then re-sign the file
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key in z.files:
            arr = (
                np.frombuffer(json.dumps(header).encode(), np.uint8) if key == "header" else z[key]
            )
            b = io.BytesIO()
            np.save(b, arr)
            zf.writestr(f"{key}.npy", b.getvalue())
        zf.comment = b"0" * 64
    data = buf.getvalue()[:-64]
    path.write_bytes(data + hashlib.sha256(data).hexdigest().encode())
    with pytest.raises(ValueError, match="cannot read network file|fingerprint mismatch"):
        NetworkGraph.load(path)


def test_bad_inputs():
    g = BipartiteGraph.from_ell(4, [[0, 1]] * 3)
    net = NetworkGraph(4)
    with pytest.raises(ValueError, match="already exists"):
        net.identity("input", "input")
    with pytest.raises(ValueError, match="unknown source tensor"):
        net.identity("x", "nope")
    with pytest.raises(ValueError, match="graph input width 4 != y width 3"):
        net.graph("z", net.graph("y", "input", g), g)
    with pytest.raises(ValueError, match="add needs equal widths"):
        net.add("w", ["input", "y"])
    with pytest.raises(ValueError, match="perm must be a permutation"):
        net.permute("p", "input", [0, 0, 1, 2])
    with pytest.raises(ValueError, match="groups 3 must divide"):
        net.shuffle("q", "input", 3)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        NetworkGraph(0)
    with pytest.raises(ValueError, match="no 'output' tensor"):
        net.validate()
    with pytest.raises(ValueError, match="unknown tensor"):
        reach_fraction(net, "input", "nope")
    with pytest.raises(ValueError, match="S: channel out of range"):
        path_count(net, "input", [9], "y", [0])
    with pytest.raises(ValueError, match="expected a NetworkGraph"):
        certify_network(LayeredGraph([g]))
    net.output(net.add("r", ["input", net.identity("i", "input")]))
    net2 = NetworkGraph(4)
    net2.output(net2.add("r", ["input", net2.identity("i", "input")]))
    with pytest.raises(ValueError, match="not a chain"):
        net2.to_layered()


def _grouped(n, d):
    return BipartiteGraph.from_ell(n, [[(v // d) * d + k for k in range(d)] for v in range(n)])


def _resnet_like(layer, blocks=4, n=64, shuffle=0) -> NetworkGraph:
    net = NetworkGraph(3)
    x = net.graph("stem", "input", BipartiteGraph.from_ell(3, [[0, 1, 2]] * n))
    for b in range(blocks):
        h = net.graph(f"layers[{b}].body[0]", x, layer(2 * b))
        h = net.identity(f"layers[{b}].body[1]", h)
        if shuffle:
            h = net.shuffle(f"layers[{b}].body[2]", h, shuffle)
        h = net.graph(f"layers[{b}].body[3]", h, layer(2 * b + 1))
        x = net.add(f"layers[{b}]", [h, x])
    net.output(x)
    return net


def _expander(seed, n=64, d=8):
    from expandergraph import build

    return build(f"random-bipartite:left={n},right={n},d={d},seed={seed}")


def test_expander_network_passes_grouped_fails():
    good = certify_network(_resnet_like(_expander), samples=4)
    assert good.status == "passed", good.problems()
    assert good.kind == "network"
    assert good["mixing_depth"].value <= 2.0 * good["mixing_depth"].detail["ideal"]
    assert any("reaches every channel" in c for c in good.claims)
    assert "path_uniformity" not in good.required  # not a chain: no proven global bound
    grouped = certify_network(_resnet_like(lambda s: _grouped(64, 8)), samples=4)
    assert grouped.status == "failed"
    check = grouped["mixing_depth"]
    assert check.status == "failed" and check.value is None
    row = next(r for r in check.detail["starts"] if r["start"] == check.detail["start"])
    assert row["stop_fraction"] == pytest.approx(8 / 64)  # one group of 8 out of 64
    assert any("never all reach" in c for c in grouped.claims)
    # grouped + shuffle mixes again: 8 groups of 8, shuffled between the two convs
    shuffled = mixing_depth(_resnet_like(lambda s: _grouped(64, 8), shuffle=8), "stem")
    assert shuffled.depth == 2


def test_chain_certificate_matches_layered():
    lg = LayeredGraph([_expander(s, 64, 16) for s in range(5)])
    cert = certify_network(NetworkGraph.from_layered(lg), samples=2)
    ref = certify_layered(lg, samples=2)
    assert cert["path_uniformity"].value == pytest.approx(ref["path_uniformity"].value)
    assert cert["mixing_depth"].detail["starts"][0]["depth"] == ref["reach_depth"].value
    assert cert.status == ref.status == "passed"
    assert certify_network(NetworkGraph.from_layered(lg), layer_checks=()).status == "incomplete"


def test_from_spec_lowers_nested_layers():
    spec = load_spec(
        {
            "input": [4, 2, 2],
            "layers": [
                {"kind": "conv", "out": 8, "degree": 2},
                {
                    "kind": "residual",
                    "body": [{"kind": "conv", "out": 8, "degree": 4}, {"kind": "norm"}],
                },
                {"kind": "shuffle", "groups": 2},
                {"kind": "concat", "body": [{"kind": "conv", "out": 4, "degree": 4}]},
                {"kind": "flatten"},
                {"kind": "linear", "out": 3, "degree": 6},
            ],
        }
    )
    net = NetworkGraph.from_spec(spec)
    assert net.widths["layers[3]"] == 12 and net.widths["layers[4]"] == 48
    assert [e.kind for e in net.incoming("layers[1]")] == ["identity", "identity"]
    assert {e.source for e in net.incoming("layers[1]")} == {"layers[1].body[1]", "layers[0]"}
    assert net.widths["output"] == 3
    g = net.to_networkx()
    # the channel DAG's path count weighted by multiplicity, in networkx's topological order
    counts = {n: 0 for n in g}
    counts[("input", 0)] = 1
    for u in nx.topological_sort(g):
        for v in g.successors(u):
            counts[v] += counts[u] * g[u][v]["count"]
    assert path_count(net, "input", [0], "output", [2]) == counts[("output", 2)]
