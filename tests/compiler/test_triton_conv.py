"""Triton XConv2d (implicit GEMM) vs the dense-masked F.conv2d and a per-edge brute force.

On a machine without CUDA, tests/conftest.py sets TRITON_INTERPRET=1 and the
kernels run on CPU tensors in the Triton interpreter (small shapes only).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import triton  # noqa: F401 - a test extra: the kernels run under TRITON_INTERPRET=1 on a CPU
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compiler.backends.masked import xconv2d as xconv2d_reference  # noqa: E402
from compiler.kernels import linear as L  # noqa: E402
from compiler.kernels import xconv2d_triton  # noqa: E402
from compiler.layout import transpose_ell  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() and not L.interpreting() else "cpu"
TOL = {torch.float32: 1e-5, torch.float16: 3e-3, torch.bfloat16: 2e-2}


def make_tables(in_blocks, out_blocks, d, seed=0):
    rng = np.random.default_rng(seed)
    idx = np.stack([np.sort(rng.choice(in_blocks, d, replace=False)) for _ in range(out_blocks)])
    ti, ts, _ = transpose_ell(idx, in_blocks)
    return tuple(torch.as_tensor(a, device=DEVICE) for a in (idx, ti, ts))


def assert_close(actual, expected, dtype):
    assert actual.shape == expected.shape
    a = actual.detach().double().cpu()
    e = expected.detach().double().cpu()
    assert torch.isfinite(a).all(), "unwritten (poisoned) or non-finite elements"
    err = float((a - e).norm() / e.norm().clamp_min(1e-30))
    assert err < TOL[dtype], f"relative error {err:.2e} >= {TOL[dtype]:.0e}"
    assert (a - e).abs().max() <= 20 * TOL[dtype] * e.abs().max() + 1e-12


def edge_loop_conv(x, w, idx, bias, stride, padding, dilation):
    """Independent brute force in float64: one small F.conv2d per edge block."""
    b = w.shape[2]
    out_blocks, d = idx.shape
    x = x.double()
    parts = []
    for ob in range(out_blocks):
        acc = 0
        for k in range(d):
            ib = int(idx[ob, k])
            acc = acc + F.conv2d(
                x[:, ib * b : (ib + 1) * b], w[ob, k].double(), None, stride, padding, dilation
            )
        parts.append(acc)
    y = torch.cat(parts, 1)
    return y if bias is None else y + bias.double()[None, :, None, None]


def run_both(x, w, tables, bias, conv):
    idx, ti, ts = tables
    leaves = [x, w] + ([bias] if bias is not None else [])
    leaves = [t.detach().requires_grad_() for t in leaves]
    with L.poison_outputs(float("nan")):
        y = xconv2d_triton(
            leaves[0], leaves[1], idx, ti, ts, leaves[2] if bias is not None else None, *conv
        )
        g = torch.randn_like(y)
        grads = torch.autograd.grad(y, leaves, g)
    ref = [t.detach().double().requires_grad_() for t in leaves]
    yr = xconv2d_reference(ref[0], ref[1], idx, ref[2] if bias is not None else None, *conv)
    ref_grads = torch.autograd.grad(yr, ref, g.double())
    return y, grads, yr, ref_grads


CASES = [
    # (stride, padding, dilation, (kh, kw))
    ((1, 1), (1, 1), (1, 1), (3, 3)),
    ((2, 2), (1, 1), (1, 1), (3, 3)),
    ((1, 1), (2, 2), (2, 2), (3, 3)),
    ((2, 1), (0, 1), (1, 2), (1, 3)),
    ((2, 2), (0, 0), (1, 1), (1, 1)),
]


@pytest.mark.parametrize("stride,padding,dilation,ksize", CASES)
def test_conv_matches_reference_and_brute_force(stride, padding, dilation, ksize):
    torch.manual_seed(0)
    b = 16
    tables = make_tables(3, 2, 2, seed=3)
    x = torch.randn(2, 3 * b, 6, 5, device=DEVICE)
    w = torch.randn(2, 2, b, b, *ksize, device=DEVICE) / 6
    bias = torch.randn(2 * b, device=DEVICE)
    conv = (stride, padding, dilation)
    y, grads, yr, ref_grads = run_both(x, w, tables, bias, conv)
    assert y.shape == yr.shape == F.conv2d(x, torch.zeros(2 * b, 3 * b, *ksize), None, *conv).shape
    assert_close(y, yr, torch.float32)
    assert_close(y, edge_loop_conv(x, w, tables[0], bias, *conv), torch.float32)
    for a, r in zip(grads, ref_grads):
        assert_close(a, r, torch.float32)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_conv_half_precision(dtype):
    torch.manual_seed(1)
    b = 16
    tables = make_tables(2, 2, 1, seed=4)
    x = torch.randn(1, 2 * b, 5, 4, device=DEVICE).to(dtype)
    w = (torch.randn(2, 1, b, b, 3, 3, device=DEVICE) / 6).to(dtype)
    bias = torch.randn(2 * b, device=DEVICE).to(dtype)
    y, grads, yr, ref_grads = run_both(x, w, tables, bias, ((1, 1), (1, 1), (1, 1)))
    assert y.dtype == dtype
    assert_close(y, yr, dtype)
    for a, r in zip(grads, ref_grads):
        assert a.dtype == dtype
        assert_close(a, r, dtype)


@pytest.mark.parametrize("split", [1, 4])
def test_conv_weight_gradient_split_reduction(split):
    torch.manual_seed(2)
    b = 16
    tables = make_tables(2, 1, 2, seed=5)
    x = torch.randn(2, 2 * b, 7, 6, device=DEVICE)
    w = torch.randn(1, 2, b, b, 2, 2, device=DEVICE)
    small = L.LaunchConfig(block_m=16)  # several pixel tiles, the last one partial
    with L.launch_overrides(
        conv_dw=L.LaunchConfig(block_m=16, split=split), conv_fwd=small, conv_dx=small
    ):
        y, grads, yr, ref_grads = run_both(x, w, tables, None, ((1, 1), (0, 0), (1, 1)))
    assert_close(y, yr, torch.float32)
    assert_close(grads[1], ref_grads[1], torch.float32)
    assert_close(grads[0], ref_grads[0], torch.float32)


def test_conv_channels_last_input_one_block_full_degree():
    torch.manual_seed(3)
    b = 32
    tables = make_tables(1, 1, 1)
    x = torch.randn(1, b, 4, 4, device=DEVICE).to(memory_format=torch.channels_last)
    w = torch.randn(1, 1, b, b, 3, 3, device=DEVICE)
    with L.poison_outputs():
        y = xconv2d_triton(x, w, *tables, None, 1, 1, 1)  # int stride/padding/dilation
    dense = w[0, 0]  # one block, degree = all blocks: a dense convolution
    assert_close(y, F.conv2d(x.double(), dense.double(), None, 1, 1, 1), torch.float32)


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(1, 2),
    hw=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    ksize=st.tuples(st.integers(1, 3), st.integers(1, 2)),
    stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 1)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    blocks=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**16),
)
def test_conv_random_geometry(n, hw, ksize, stride, padding, dilation, blocks, seed):
    in_blocks, out_blocks = blocks
    oh = (hw[0] + 2 * padding[0] - dilation[0] * (ksize[0] - 1) - 1) // stride[0] + 1
    ow = (hw[1] + 2 * padding[1] - dilation[1] * (ksize[1] - 1) - 1) // stride[1] + 1
    assume(oh >= 1 and ow >= 1)  # an empty output has nothing to compare
    torch.manual_seed(seed)
    d = 1 + seed % in_blocks
    tables = make_tables(in_blocks, out_blocks, d, seed=seed)
    b = 16
    x = torch.randn(n, in_blocks * b, *hw, device=DEVICE)
    w = torch.randn(out_blocks, d, b, b, *ksize, device=DEVICE)
    bias = torch.randn(out_blocks * b, device=DEVICE) if seed % 2 else None
    y, grads, yr, ref_grads = run_both(x, w, tables, bias, (stride, padding, dilation))
    assert_close(y, yr, torch.float32)
    for a, r in zip(grads, ref_grads):
        assert_close(a, r, torch.float32)


# ----------------------------------------------------------------------------- bad inputs
def _good():
    tables = make_tables(2, 2, 1)
    x = torch.randn(1, 32, 4, 4, device=DEVICE)
    w = torch.randn(2, 1, 16, 16, 3, 3, device=DEVICE)
    return x, w, tables


@pytest.mark.parametrize(
    "stride,padding,dilation,msg",
    [
        (0, 1, 1, "stride=0"),
        (1, -1, 1, "padding=-1"),
        (1, 1, 0, "dilation=0"),
        ((1, 1, 1), 1, 1, "stride="),
        (1.5, 1, 1, "stride=1.5"),
        (1, "same", 1, "padding='same'"),
    ],
)
def test_conv_rejects_bad_geometry(stride, padding, dilation, msg):
    x, w, t = _good()
    with pytest.raises(ValueError, match=msg):
        xconv2d_triton(x, w, *t, None, stride, padding, dilation)


def test_conv_rejects_empty_output():
    x, w, t = _good()
    with pytest.raises(ValueError, match="output size"):
        xconv2d_triton(x, w, *t, None, 1, 0, 3)


def test_conv_rejects_bad_shapes_and_types():
    x, w, t = _good()
    with pytest.raises(ValueError, match="block=8 must be 16, 32 or 64"):
        xconv2d_triton(x, w[:, :, :8, :8], *t, None, 1, 1, 1)
    with pytest.raises(ValueError, match="weight must be"):
        xconv2d_triton(x, w[..., 0], *t, None, 1, 1, 1)
    with pytest.raises(ValueError, match="NCHW"):
        xconv2d_triton(x[0], w, *t, None, 1, 1, 1)
    with pytest.raises(ValueError, match="NCHW"):
        xconv2d_triton(x[:, :24], w, *t, None, 1, 1, 1)
    with pytest.raises(ValueError, match="weight and bias dtype"):
        xconv2d_triton(x, w.half(), *t, None, 1, 1, 1)
    with pytest.raises(ValueError, match="bias must be"):
        xconv2d_triton(x, w, *t, torch.zeros(3, device=DEVICE), 1, 1, 1)
    with pytest.raises(ValueError, match="not the transpose"):
        xconv2d_triton(
            x, w, t[0], t[1].flip(0).contiguous(), t[2].flip(0).contiguous(), None, 1, 1, 1
        )
