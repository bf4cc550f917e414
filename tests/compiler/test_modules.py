"""XLinear / XConv2d: graph storage, weights, initialisation, backends, state round trips."""

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from compiler import XConv2d, XLinear
from compiler.modules import graph_from_index
from compiler.network import XNet
from expandergraph import BipartiteGraph
from expandergraph.generators.derived import block_expander
from expandergraph.generators.random import random_bipartite

pytestmark = pytest.mark.usefixtures("one_thread")


def roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# -- storage ---------------------------------------------------------------------


@pytest.mark.parametrize("inp,out,d,b", [(36, 20, 8, 4), (7, 5, 3, 1), (64, 32, 32, 16)])
def test_linear_storage_matches_the_papers_random_graph(inp, out, d, b):
    layer = XLinear(inp, out, degree=d, block=b, seed=5)
    g = random_bipartite(inp // b, out // b, d // b, seed=5)
    if b > 1:
        g = block_expander(g, b)
    assert layer.fingerprint == g.fingerprint
    assert torch.equal(layer.index, torch.from_numpy(g.block_ell()))
    assert layer.weight.shape == (out // b, d // b, b, b)
    assert (layer.degree, layer.degree_blocks, layer.block) == (d, d // b, b)
    assert layer.density == pytest.approx(d / inp)
    state = layer.state_dict()
    assert set(state) == {
        "weight",
        "bias",
        "index",
        "_extra_state",
    }  # t_index/t_slot not persistent
    assert state["_extra_state"]["fingerprint"] == g.fingerprint
    # every output reads exactly D distinct inputs, and the graph reads back
    assert graph_from_index(layer.index, inp, b).fingerprint == g.fingerprint
    assert (layer.graph.right_degrees() == d).all()


def test_transposed_tables_list_every_edge_once():
    layer = XLinear(40, 24, degree=8, block=4, seed=0)
    idx, ti, ts = layer.index.numpy(), layer.t_index.numpy(), layer.t_slot.numpy()
    pairs = {
        (int(ib), int(ob), int(k))
        for ib in range(ti.shape[0])
        for ob, k in zip(ti[ib], ts[ib])
        if ob >= 0
    }
    expect = {(int(idx[ob, k]), ob, k) for ob in range(idx.shape[0]) for k in range(idx.shape[1])}
    assert pairs == expect


def test_given_graph_is_used_as_is():
    ell = np.array([[0, 3], [1, 2], [2, 3]])
    g = BipartiteGraph.from_ell(4, ell)
    layer = XLinear(4, 3, g, bias=False)
    assert layer.fingerprint == g.fingerprint and layer.bias is None
    assert torch.equal(layer.index, torch.from_numpy(ell))
    # block given for a graph that has block structure but no block metadata
    gb = block_expander(random_bipartite(3, 2, 2, seed=1), 2)
    plain = BipartiteGraph.from_csr(6, 4, gb.indptr, gb.indices)
    layer = XLinear(6, 4, plain, block=2)
    assert layer.block == 2 and layer.fingerprint == gb.fingerprint


def test_density_gives_rounded_degree():
    assert XLinear(100, 10, density=0.125).degree == 12  # round(12.5) = 12 (banker's)
    assert XLinear(100, 10, density=0.13).degree == 13
    assert XLinear(64, 64, density=0.25, block=4).degree == 16


def test_conv_storage_and_shapes():
    conv = XConv2d(12, 8, (3, 5), stride=2, padding=(1, 2), dilation=1, degree=6, block=2, seed=1)
    assert conv.weight.shape == (4, 3, 2, 2, 3, 5)
    y = conv(torch.randn(2, 12, 9, 11))
    assert y.shape == (2, 8) + conv.output_hw(9, 11) == (2, 8, 5, 6)
    ref = nn.Conv2d(12, 8, (3, 5), stride=2, padding=(1, 2))
    assert y.shape == ref(torch.randn(2, 12, 9, 11)).shape


# -- parameters and initialisation --------------------------------------------------


@pytest.mark.parametrize("backend", ["gather", "masked"])
def test_parameter_counts(backend):
    from compiler.counting import count

    lin = XLinear(36, 20, degree=8, block=4, backend=backend)
    expect = (8 // 4) * (20 // 4) * 4**2 + 20
    assert lin.num_weights + 20 == expect == 180
    assert count(lin, (36,))["params"] == expect
    conv = XConv2d(16, 8, 3, degree=4, block=2, bias=False, backend=backend)
    expect = (4 // 2) * (8 // 2) * 2**2 * 9
    assert conv.num_weights == expect == 288
    assert count(conv, (16, 5, 5))["params"] == expect
    if backend == "gather":  # only the masked backend stores a dense parameter
        assert sum(p.numel() for p in lin.parameters()) == 180
        assert sum(p.numel() for p in conv.parameters()) == 288
    else:
        assert lin.weight.shape == (20, 36)


def test_init_uses_true_fan_in():
    torch.manual_seed(0)
    lin = XLinear(1024, 256, degree=16, block=4)
    bound = 1 / math.sqrt(16)
    w = lin.weight.detach()
    assert w.abs().max() <= bound and w.abs().max() > 0.98 * bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)  # uniform(-b, b)
    assert lin.bias.abs().max() <= bound
    conv = XConv2d(64, 64, 3, degree=8)
    cb = 1 / math.sqrt(8 * 9)
    assert conv.weight.abs().max() <= cb and conv.weight.abs().max() > 0.95 * cb
    # unit-variance inputs give outputs of variance ~ 1/3 (D * var(w)), as dense nn.Linear
    x = torch.randn(4096, 1024)
    with torch.no_grad():
        var = (lin(x) - lin.bias).var().item()
    assert var == pytest.approx(1 / 3, rel=0.1)


def test_masked_init_matches_gather_init():
    torch.manual_seed(3)
    a = XLinear(32, 16, degree=8, backend="masked")
    torch.manual_seed(3)
    b = XLinear(32, 16, degree=8)
    x = torch.randn(5, 32)
    torch.testing.assert_close(a(x), b(x))


def test_extra_repr():
    r = repr(XLinear(36, 20, degree=8, block=4))
    for part in (
        "in_features=36",
        "out_features=20",
        "degree=8",
        "block=4",
        "density=0.2222",
        "backend=gather",
    ):
        assert part in r
    r = repr(XConv2d(16, 8, 3, degree=4, backend="masked"))
    for part in ("16, 8", "kernel_size=(3, 3)", "degree=4", "density=0.25", "backend=masked"):
        assert part in r


# -- backends ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["linear", "conv"])
def test_to_backend_keeps_the_function(cls):
    torch.manual_seed(0)
    if cls == "linear":
        m, x = XLinear(36, 20, degree=8, block=4), torch.randn(3, 36)
    else:
        m, x = XConv2d(12, 8, 3, padding=1, degree=6, block=2), torch.randn(2, 12, 5, 5)
    packed = m.weight.detach().clone()
    y = m(x)
    m.to_backend("masked")
    assert m.weight.dim() == (2 if cls == "linear" else 4) and m.backend == "masked"
    dense = m.weight.detach()
    assert int((dense.reshape(dense.shape[0], dense.shape[1], -1).abs().sum(-1) != 0).sum()) == (
        m.out_width * m.degree
    )
    torch.testing.assert_close(m(x), y, rtol=1e-5, atol=1e-6)
    m.to_backend("gather")
    assert torch.equal(m.weight.detach(), packed)
    torch.testing.assert_close(m(x), y, rtol=1e-5, atol=1e-6)


def test_masked_training_keeps_zeros_off_the_graph():
    torch.manual_seed(0)
    m = XLinear(16, 8, degree=4, backend="masked")
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        m(torch.randn(4, 16)).square().sum().backward()
        opt.step()
    off = ~m.mask
    assert m.weight.grad[off].abs().max() == 0
    assert m.weight.detach()[off].abs().max() == 0


# -- state ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src,dst", [("gather", "gather"), ("masked", "gather"), ("gather", "masked")]
)
def test_state_dict_round_trip_gives_identical_outputs(src, dst):
    torch.manual_seed(0)
    a = XConv2d(12, 8, 3, padding=1, degree=6, block=2, seed=4, backend=src)
    b = XConv2d(12, 8, 3, padding=1, degree=6, block=2, seed=4, backend=dst)
    x = torch.randn(2, 12, 5, 5)
    assert not torch.allclose(a(x), b(x))
    b.load_state_dict(roundtrip(a.state_dict()))
    if src == dst:
        assert torch.equal(a(x), b(x))
    else:
        torch.testing.assert_close(a(x), b(x), rtol=1e-5, atol=1e-6)


def test_loading_another_graph_raises_before_overwriting():
    a = XLinear(32, 16, degree=8, seed=1)
    b = XLinear(32, 16, degree=8, seed=2)
    before = {k: v.clone() for k, v in b.state_dict().items() if isinstance(v, torch.Tensor)}
    with pytest.raises(ValueError) as err:
        b.load_state_dict(roundtrip(a.state_dict()))
    msg = str(err.value)
    assert "fingerprint mismatch" in msg and a.fingerprint in msg and b.fingerprint in msg
    for k, v in b.state_dict().items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(v, before[k]), k
    # an index swapped in without its extra state is caught from the table itself
    state = b.state_dict()
    state["index"] = a.index.clone()
    del state["_extra_state"]
    with pytest.raises(ValueError, match="index encodes"):
        b.load_state_dict(state)
    # a different shape of table
    state["index"] = a.index[:, :4].clone()
    with pytest.raises(ValueError, match="fingerprint mismatch"):
        b.load_state_dict(state)


def test_net_load_checks_every_layer_first():
    torch.manual_seed(0)
    a = XNet([XLinear(16, 16, degree=4, seed=1), nn.ReLU(), XLinear(16, 8, degree=4, seed=2)])
    b = XNet([XLinear(16, 16, degree=4, seed=1), nn.ReLU(), XLinear(16, 8, degree=4, seed=9)])
    w0 = b.layers[0].weight.detach().clone()
    with pytest.raises(ValueError, match=r"layers\[2\]: graph fingerprint mismatch"):
        b.load_state_dict(a.state_dict())
    assert torch.equal(b.layers[0].weight.detach(), w0)  # layer 0 matched but was not loaded


def test_same_graph_in_another_slot_order_loads():
    g = BipartiteGraph.from_ell(6, np.array([[0, 4], [1, 5]]))
    a = XLinear(6, 2, g)
    state = a.state_dict()
    state["index"] = state["index"].flip(1).contiguous()
    state["weight"] = state["weight"].flip(1).contiguous()
    b = XLinear(6, 2, g)
    b.load_state_dict(state)
    x = torch.randn(3, 6)
    torch.testing.assert_close(a(x), b(x))
    torch.testing.assert_close(b.to_backend("masked")(x), a(x))


# -- bad inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(in_features=0, out_features=4, degree=1), "in=0 must be a positive integer"),
        (dict(in_features=8, out_features=4.0, degree=1), "out=4.0"),
        (dict(in_features=8, out_features=4), "exactly one of degree, density"),
        (dict(in_features=8, out_features=4, degree=2, density=0.5), "exactly one"),
        (dict(in_features=8, out_features=4, degree=9), "degree=9 exceeds the input width 8"),
        (dict(in_features=8, out_features=4, degree=0), "degree=0 must be a positive"),
        (dict(in_features=8, out_features=4, density=1.5), r"density=1.5 must be in \(0, 1\]"),
        (dict(in_features=8, out_features=4, density=0.01), "leaves degree 0"),
        (dict(in_features=8, out_features=4, density="half"), "density='half'"),
        (dict(in_features=8, out_features=6, degree=4, block=4), "block=4 must divide"),
        (dict(in_features=8, out_features=4, degree=3, block=2), "multiple of block=2"),
        (dict(in_features=8, out_features=4, degree=2, backend="cuda"), "backend='cuda'"),
        (dict(in_features=8, out_features=4, degree=2, seed=-1), "seed=-1"),
        (dict(in_features=8, out_features=4, degree=2, bias=1), "bias=1"),
        (dict(in_features=8, out_features=4, graph="random"), "graph must be"),
    ],
)
def test_linear_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        XLinear(**kwargs)


def test_graph_bad_inputs():
    g = BipartiteGraph.from_ell(4, np.array([[0, 1], [2, 3]]))
    with pytest.raises(ValueError, match="graph is 4 -> 2, layer is 4 -> 3"):
        XLinear(4, 3, g)
    with pytest.raises(ValueError, match="contradict"):
        XLinear(4, 2, g, degree=3)
    irregular = BipartiteGraph.from_edges(4, 2, [0, 1, 2], [0, 0, 1])
    with pytest.raises(ValueError, match="ELL"):
        XLinear(4, 2, irregular)
    with pytest.raises(ValueError, match="not whole blocks|ELL"):
        XLinear(4, 2, BipartiteGraph.from_ell(4, np.array([[0, 2], [1, 3]])), block=2)


def test_conv_bad_inputs():
    with pytest.raises(ValueError, match="kernel_size"):
        XConv2d(4, 4, 0, degree=2)
    with pytest.raises(ValueError, match="stride"):
        XConv2d(4, 4, 3, stride=0, degree=2)
    with pytest.raises(ValueError, match="padding"):
        XConv2d(4, 4, 3, padding=-1, degree=2)
    with pytest.raises(ValueError, match="padding"):
        XConv2d(4, 4, 3, padding="same", degree=2)
    with pytest.raises(ValueError, match="dilation"):
        XConv2d(4, 4, 3, dilation=(1, 2, 3), degree=2)


def test_copies_and_pickles_keep_the_function():
    import copy
    import pickle

    torch.manual_seed(0)
    layer = XConv2d(8, 8, 3, padding=1, degree=4, seed=1)
    x = torch.randn(2, 8, 5, 5)
    y = layer(x)
    tables = (layer.index, layer.t_index, layer.t_slot, 8)
    layer.table_check.verify(*tables, "test")  # holds weak references now
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert other.fingerprint == layer.fingerprint
        assert not other.table_check.verified(other.index, other.t_index, other.t_slot, 8)
        torch.testing.assert_close(other(x), y)
