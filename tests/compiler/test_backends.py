"""The expander-layer backends agree with each other and with an independent dense computation.

Reference: the ELL layout of compiler/layout.py; the dense weight is rebuilt here
from the graph's edge list (``BipartiteGraph.edge_array``), independently of
``compiler.functional``.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import functional as XF
from compiler.backends import gather
from compiler.layout import packed_weight
from compiler.modules import XConv2d, XLinear

pytestmark = pytest.mark.usefixtures("one_thread")


TOL = dict(rtol=1e-4, atol=1e-5)


def dense_from_edges(layer) -> torch.Tensor:
    """Dense ``(out, in[, kh, kw])`` weight built edge by edge from the packed weight."""
    w = layer.packed_weight().detach().double()
    b = layer.block
    idx = layer.index.numpy()
    dense = torch.zeros((layer.out_width, layer.in_width) + tuple(w.shape[4:]), dtype=torch.float64)
    for ob in range(idx.shape[0]):
        for k in range(idx.shape[1]):
            for i in range(b):
                for j in range(b):
                    dense[ob * b + i, idx[ob, k] * b + j] += w[ob, k, i, j]
    # every stored weight is on an edge of the graph, and every edge has a weight slot
    edges = {(int(u), int(v)) for u, v in layer.graph.edge_array()}
    support = dense.reshape(layer.out_width, layer.in_width, -1).abs().sum(-1).numpy()
    nz = {(int(u), int(v)) for v, u in zip(*np.nonzero(support))}
    assert nz <= edges
    return dense


def run(layer, x, backend, seed=1):
    """Output and gradients (input, weight in packed layout, bias) of one backend."""
    layer.to_backend(backend)
    x = x.detach().clone().requires_grad_(True)
    y = layer(x)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    params = [x, layer.weight] + ([layer.bias] if layer.bias is not None else [])
    grads = torch.autograd.grad(y, params, g)
    gw = grads[1]
    if backend == "masked":
        gw = packed_weight(gw, layer.index, layer.block)
    return [y.detach(), grads[0], gw] + list(grads[2:])


def assert_agree(a, b):
    for name, u, v in zip(["y", "grad_x", "grad_w", "grad_b"], a, b):
        torch.testing.assert_close(u, v, **TOL, msg=lambda m, n=name: f"{n}: {m}")


LINEAR_CASES = [
    # in, out, degree, block, batch
    (36, 20, 8, 4, 3),
    (7, 5, 3, 1, 1),
    (64, 48, 32, 16, 2),
    (128, 64, 64, 32, 1),
    (96, 32, 96, 32, 4),  # degree = every block
    (32, 32, 16, 16, 5),
]


@pytest.mark.parametrize("inp,out,d,b,n", LINEAR_CASES)
def test_linear_backends_agree_with_dense_reference(inp, out, d, b, n):
    torch.manual_seed(0)
    layer = XLinear(inp, out, degree=d, block=b, seed=3)
    x = torch.randn(n, inp)
    ref = run(layer, x, "gather")
    masked = run(layer, x, "masked")
    assert_agree(ref, masked)
    # independent: float64 dense weight built edge by edge, autograd of x @ W^T + b
    dense = dense_from_edges(layer.to_backend("gather")).requires_grad_(True)
    bias = layer.bias.detach().double().requires_grad_(True)
    xd = x.double().requires_grad_(True)
    y = xd @ dense.T + bias
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1)).double()
    gx, gdense, gb = torch.autograd.grad(y, (xd, dense, bias), g)
    torch.testing.assert_close(ref[0].double(), y.detach(), **TOL)
    torch.testing.assert_close(ref[1].double(), gx, **TOL)
    torch.testing.assert_close(ref[3].double(), gb, **TOL)
    gw_ref = packed_weight(gdense, layer.index, b)
    torch.testing.assert_close(ref[2].double(), gw_ref, **TOL)


def test_gather_chunks_agree(monkeypatch):
    """Chunking over output blocks (tiny workspace) gives the same result as one chunk."""
    torch.manual_seed(0)
    layer = XLinear(64, 64, degree=16, block=4, seed=1)
    conv = XConv2d(24, 12, 3, 2, 1, degree=8, block=4, seed=1)
    x, xc = torch.randn(6, 64), torch.randn(2, 24, 5, 5)
    whole = run(layer, x, "gather"), run(conv, xc, "gather")
    monkeypatch.setattr(gather, "GATHER_CHUNK_ELEMENTS", 1)
    monkeypatch.setattr(gather, "CONV_CHUNK_ELEMENTS", 1)
    chunked = run(layer, x, "gather"), run(conv, xc, "gather")
    assert_agree(whole[0], chunked[0])
    assert_agree(whole[1], chunked[1])
    assert_agree(chunked[1], run(conv, xc, "masked"))


def test_linear_leading_dims_and_double():
    layer = XLinear(12, 8, degree=4, block=2).double()
    x = torch.randn(2, 3, 12, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (2, 3, 8) and y.dtype == torch.float64
    torch.testing.assert_close(y.reshape(6, 8), layer(x.reshape(6, 12)))


def test_gather_gradcheck():
    layer = XLinear(12, 8, degree=6, block=2).double()
    idx = layer.index
    x = torch.randn(3, 12, dtype=torch.float64, requires_grad=True)
    w = layer.weight.detach().clone().requires_grad_(True)
    b = layer.bias.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, w, b: XF.xlinear(x, w, idx, b), (x, w, b))
    conv = XConv2d(4, 4, 3, stride=2, padding=1, degree=2, block=2).double()
    xc = torch.randn(1, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    wc = conv.weight.detach().clone().requires_grad_(True)
    bc = conv.bias.detach().clone().requires_grad_(True)

    def f(x, w, b):
        return XF.xconv2d(x, w, conv.index, b, stride=2, padding=1)

    assert torch.autograd.gradcheck(f, (xc, wc, bc), fast_mode=True)
    # the 1x1 path (pixel matmuls), with stride and padding
    pw = XConv2d(4, 6, 1, stride=2, padding=1, degree=2, block=2).double()
    wp = pw.weight.detach().clone().requires_grad_(True)
    bp = pw.bias.detach().clone().requires_grad_(True)

    def f1(x, w, b):
        return XF.xconv2d(x, w, pw.index, b, stride=2, padding=1)

    assert torch.autograd.gradcheck(f1, (xc, wp, bp), fast_mode=True)


CONV_CASES = [
    # in, out, degree, block, kernel, stride, padding, dilation, batch, hw
    (36, 20, 8, 4, 3, 1, 1, 1, 2, (7, 6)),
    (7, 5, 3, 1, 3, 2, 0, 1, 1, (9, 9)),
    (16, 16, 4, 1, (3, 1), (2, 1), (1, 0), 2, 2, (8, 7)),
    (32, 48, 16, 16, 3, 1, 2, 2, 1, (6, 6)),
    (64, 32, 32, 32, 1, 1, 0, 1, 2, (5, 4)),
    (12, 6, 6, 2, 5, 3, 2, 1, 1, (11, 10)),
    # 1x1 kernels take the pixel-matmul path of the gather backend
    (16, 24, 8, 4, 1, 2, 1, 1, 3, (7, 9)),
    (9, 6, 3, 1, 1, (1, 2), (1, 0), 1, 2, (5, 6)),
    (32, 16, 16, 8, (1, 1), 3, 0, 2, 2, (8, 8)),
]


@pytest.mark.parametrize("inp,out,d,b,k,s,p,dil,n,hw", CONV_CASES)
def test_conv_backends_agree_with_dense_reference(inp, out, d, b, k, s, p, dil, n, hw):
    torch.manual_seed(0)
    layer = XConv2d(inp, out, k, s, p, dil, degree=d, block=b, seed=2)
    x = torch.randn(n, inp, *hw)
    ref = run(layer, x, "gather")
    masked = run(layer, x, "masked")
    assert_agree(ref, masked)
    dense = dense_from_edges(layer.to_backend("gather")).requires_grad_(True)
    bias = layer.bias.detach().double().requires_grad_(True)
    xd = x.double().requires_grad_(True)
    y = F.conv2d(xd, dense, bias, layer.stride, layer.padding, layer.dilation)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1)).double()
    gx, gdense, gb = torch.autograd.grad(y, (xd, dense, bias), g)
    torch.testing.assert_close(ref[0].double(), y.detach(), **TOL)
    torch.testing.assert_close(ref[1].double(), gx, **TOL)
    torch.testing.assert_close(ref[2].double(), packed_weight(gdense, layer.index, b), **TOL)
    torch.testing.assert_close(ref[3].double(), gb, **TOL)


@settings(max_examples=30, deadline=None)
@given(
    in_blocks=st.integers(1, 6),
    out_blocks=st.integers(1, 6),
    block=st.sampled_from([1, 2, 4]),
    frac=st.floats(0.01, 1.0),
    n=st.integers(1, 4),
    bias=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_linear_agreement_property(in_blocks, out_blocks, block, frac, n, bias, seed):
    db = max(1, round(frac * in_blocks))
    torch.manual_seed(seed)
    layer = XLinear(
        in_blocks * block, out_blocks * block, degree=db * block, block=block, seed=seed, bias=bias
    )
    x = torch.randn(n, in_blocks * block)
    assert_agree(run(layer, x, "gather"), run(layer, x, "masked"))


@settings(max_examples=40, deadline=None)
@given(
    in_blocks=st.integers(1, 9),
    out_blocks=st.integers(1, 9),
    d=st.integers(1, 9),
    seed=st.integers(0, 10_000),
)
def test_gather_plan_lists_every_slot_once(in_blocks, out_blocks, d, seed):
    """Brute force: the plan's groups cover each input block's consumer slots exactly."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, in_blocks, size=(out_blocks, d))  # repeats allowed (multi-edges)
    p = gather.gather_plan(torch.from_numpy(idx), in_blocks)
    slots = p.slots.numpy()
    assert sorted(slots.tolist()) == list(range(out_blocks * d))
    assert np.array_equal(p.owners.numpy(), slots // d)
    counts = np.bincount(idx.ravel(), minlength=in_blocks)
    used = np.flatnonzero(counts)
    inv = p.inverse.numpy()
    assert (inv[counts == 0] == used.size).all()
    seen = set()
    for start, m, t in p.groups:
        for r in range(m):
            block_slots = slots[start + r * t : start + (r + 1) * t]
            ib = {int(idx.ravel()[s]) for s in block_slots}
            assert len(ib) == 1  # one input block per run of t slots
            (ib,) = ib
            assert counts[ib] == t and ib not in seen
            # the block's position in the concatenated result is where inverse points
            assert inv[ib] == sum(g[1] for g in p.groups if g[0] < start) + r
            seen.add(ib)
    assert seen == set(used.tolist())


def test_unused_inputs_get_zero_gradient():
    from expandergraph import BipartiteGraph

    g = BipartiteGraph.from_ell(8, np.array([[0, 1], [1, 6], [0, 6]]))  # 2-5 and 7 unused
    layer = XLinear(8, 3, g)
    x = torch.randn(4, 8, requires_grad=True)
    layer(x).sum().backward()
    assert (x.grad[:, [2, 3, 4, 5, 7]] == 0).all() and (x.grad[:, [0, 1, 6]] != 0).all()
    assert_agree(run(layer, x, "gather"), run(layer, x, "masked"))


def test_multi_edges_agree():
    """A table that repeats an input block (a multi-edge) sums both weights on every backend."""
    from expandergraph import BipartiteGraph

    g = BipartiteGraph.from_ell(6, np.array([[0, 0, 5], [1, 2, 2], [3, 4, 5]]))
    layer = XLinear(6, 3, g)
    torch.manual_seed(0)
    x = torch.randn(4, 6)
    gather = run(layer, x, "gather")
    layer.to_backend("masked")
    y_masked = layer(x)
    torch.testing.assert_close(gather[0], y_masked.detach(), **TOL)
    w = layer.to_backend("gather").weight.detach()
    expect = x[:, 0] * (w[0, 0, 0, 0] + w[0, 1, 0, 0]) + x[:, 5] * w[0, 2, 0, 0] + layer.bias[0]
    torch.testing.assert_close(layer(x)[:, 0].detach(), expect.detach(), **TOL)


def test_functional_bad_inputs():
    w = torch.randn(2, 1, 2, 2)
    idx = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match="backend"):
        XF.xlinear(torch.randn(1, 4), w, idx, backend="cuda")
    with pytest.raises(ValueError, match="last dimension 5"):
        XF.xlinear(torch.randn(1, 5), w, idx)
    with pytest.raises(ValueError, match="index: must be int64"):
        XF.xlinear(torch.randn(1, 4), w, idx.int())
    with pytest.raises(ValueError, match="does not match index"):
        XF.xlinear(torch.randn(1, 4), w, torch.tensor([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="block: 4"):
        XF.xlinear(torch.randn(1, 4), w, idx, block=4)
    with pytest.raises(ValueError, match="must be 6-d"):
        XF.xconv2d(torch.randn(1, 4, 3, 3), w, idx)
    wc = torch.randn(2, 1, 2, 2, 3, 3)
    with pytest.raises(ValueError, match="x: must be 4-d"):
        XF.xconv2d(torch.randn(4, 3, 3), wc, idx)
    with pytest.raises(ValueError, match="stride"):
        XF.xconv2d(torch.randn(1, 4, 3, 3), wc, idx, stride=(1, 2, 3))


def _kernels_or_skip():
    from compiler import kernels

    if not kernels.triton_available():
        pytest.skip("triton has no device (no CUDA and TRITON_INTERPRET unset)")


def test_triton_hook_linear_agrees():
    _kernels_or_skip()
    torch.manual_seed(0)
    layer = XLinear(64, 32, degree=32, block=16, seed=1)
    x = torch.randn(4, 64)
    assert_agree(run(layer, x, "gather"), run(layer, x, "triton"))


def test_triton_hook_conv_agrees():
    _kernels_or_skip()
    torch.manual_seed(0)
    layer = XConv2d(32, 32, 3, 1, 1, degree=16, block=16, seed=1)
    x = torch.randn(1, 32, 4, 4)
    assert_agree(run(layer, x, "gather"), run(layer, x, "triton"))
