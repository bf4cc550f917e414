"""Triton XLinear kernels vs the dense-masked reference and a per-edge brute force.

On a machine without CUDA, tests/conftest.py sets TRITON_INTERPRET=1 and the
kernels run on CPU tensors in the Triton interpreter (small shapes only).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import triton  # noqa: F401 - a test extra: the kernels run under TRITON_INTERPRET=1 on a CPU
from hypothesis import given, settings
from hypothesis import strategies as st

import compiler.kernels.launch as launch  # noqa: E402
from compiler.backends.masked import xlinear as xlinear_reference  # noqa: E402
from compiler.kernels import linear as L  # noqa: E402
from compiler.kernels import triton_available, xlinear_triton  # noqa: E402
from compiler.layout import dense_weight, packed_weight, transpose_ell  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() and not L.interpreting() else "cpu"
# relative (norm) error allowed against a float64 reference, per dtype
TOL = {torch.float32: 1e-5, torch.float16: 3e-3, torch.bfloat16: 2e-2}


def make_tables(in_blocks, out_blocks, d, seed=0, repeat=False):
    """Random ELL tables: each output block reads ``d`` distinct sorted input blocks."""
    rng = np.random.default_rng(seed)
    if repeat:
        idx = np.sort(rng.integers(0, in_blocks, size=(out_blocks, d)), axis=1)
    else:
        idx = np.stack(
            [np.sort(rng.choice(in_blocks, d, replace=False)) for _ in range(out_blocks)]
        )
    ti, ts, _ = transpose_ell(idx, in_blocks)
    return tuple(torch.as_tensor(a, device=DEVICE) for a in (idx, ti, ts))


def rel_err(actual, expected):
    actual = actual.detach().double().cpu()
    expected = expected.detach().double().cpu()
    return float((actual - expected).norm() / expected.norm().clamp_min(1e-30))


def assert_close(actual, expected, dtype):
    assert actual.shape == expected.shape
    assert torch.isfinite(actual).all(), "unwritten (poisoned) or non-finite elements"
    err = rel_err(actual, expected)
    assert err < TOL[dtype], f"relative error {err:.2e} >= {TOL[dtype]:.0e}"
    worst = (actual.detach().double().cpu() - expected.detach().double().cpu()).abs().max()
    assert worst <= 20 * TOL[dtype] * expected.detach().abs().max().item() + 1e-12


def edge_loop(x, w, idx, bias, act):
    """Independent brute force in float64: one small matmul per edge block."""
    b = w.shape[2]
    out_blocks, d = idx.shape
    x = x.double().reshape(-1, x.shape[-1])
    y = torch.zeros(x.shape[0], out_blocks * b, dtype=torch.float64, device=x.device)
    for ob in range(out_blocks):
        for k in range(d):
            ib = int(idx[ob, k])
            y[:, ob * b : (ob + 1) * b] += x[:, ib * b : (ib + 1) * b] @ w[ob, k].double().T
    if bias is not None:
        y += bias.double()
    return {None: y, "relu": F.relu(y), "gelu": F.gelu(y)}[act]


def edge_loop_dw(x, dz, idx, b):
    """Brute-force weight gradient: dW[ob, k] = dz[:, ob]^T x[:, index[ob, k]]."""
    out_blocks, d = idx.shape
    x = x.double().reshape(-1, x.shape[-1])
    dz = dz.double().reshape(-1, out_blocks * b)
    dw = torch.empty(out_blocks, d, b, b, dtype=torch.float64, device=x.device)
    for ob in range(out_blocks):
        for k in range(d):
            ib = int(idx[ob, k])
            dw[ob, k] = dz[:, ob * b : (ob + 1) * b].T @ x[:, ib * b : (ib + 1) * b]
    return dw


def run_both(x, w, tables, bias=None, act=None, grad=None):
    """Kernel (outputs poisoned with NaN first) and float64 reference: outputs and grads."""
    idx, ti, ts = tables
    leaves = [x, w] + ([bias] if bias is not None else [])
    leaves = [t.detach().requires_grad_() for t in leaves]
    with L.poison_outputs(float("nan")):
        y = xlinear_triton(
            leaves[0], leaves[1], idx, ti, ts, leaves[2] if bias is not None else None, act
        )
        g = torch.randn_like(y) if grad is None else grad
        grads = torch.autograd.grad(y, leaves, g)
    ref_leaves = [t.detach().double().requires_grad_() for t in leaves]
    yr = xlinear_reference(
        ref_leaves[0], ref_leaves[1], idx, ref_leaves[2] if bias is not None else None, act
    )
    ref_grads = torch.autograd.grad(yr, ref_leaves, g.double())
    return y, grads, yr, ref_grads, g


def test_triton_is_available_here():
    assert triton_available()


def test_poison_hook_poisons():
    with L.poison_outputs(float("nan")):
        assert torch.isnan(launch.empty((3, 4), torch.float32, DEVICE)).all()
    assert launch.launch_settings().poison is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("act", [None, "relu", "gelu"])
def test_matches_reference_and_brute_force(dtype, act):
    torch.manual_seed(0)
    tables = make_tables(in_blocks=4, out_blocks=3, d=2, seed=1)
    b = 16
    x = torch.randn(2, 19, 4 * b, device=DEVICE).to(dtype)
    w = (torch.randn(3, 2, b, b, device=DEVICE) / 5).to(dtype)
    bias = torch.randn(3 * b, device=DEVICE).to(dtype)
    y, (gx, gw, gb), yr, (rx, rw, rb), g = run_both(x, w, tables, bias, act)
    assert y.dtype == dtype and y.shape == (2, 19, 3 * b)
    for a, r in ((y, yr), (gx, rx), (gw, rw), (gb, rb)):
        assert a.dtype == dtype
        assert_close(a, r, dtype)
    # independent brute force (no dense scatter): forward and weight gradient
    assert_close(y.reshape(-1, 3 * b), edge_loop(x, w, tables[0], bias, act), dtype)
    if act is None:
        assert_close(gw, edge_loop_dw(x, g, tables[0], b), dtype)
        assert_close(gb, g.double().sum((0, 1)), dtype)


@pytest.mark.parametrize("split", [1, 3])
def test_weight_gradient_split_reduction(split):
    torch.manual_seed(1)
    b = 16
    tables = make_tables(3, 2, 2, seed=2)
    x = torch.randn(70, 3 * b, device=DEVICE)
    w = torch.randn(2, 2, b, b, device=DEVICE)
    rows, n = L.split_rows(70, split, 16)
    assert n == split and rows * (n - 1) < 70 <= rows * n
    small = L.LaunchConfig(block_m=16)  # 5 row tiles, the last one partial
    with L.launch_overrides(dw=L.LaunchConfig(block_m=16, split=split), fwd=small, dx=small):
        y, (gx, gw), yr, (rx, rw), g = run_both(x, w, tables)
    assert_close(y, yr, torch.float32)
    assert_close(gw, rw, torch.float32)
    assert_close(gw, edge_loop_dw(x, g, tables[0], b), torch.float32)
    assert_close(gx, rx, torch.float32)


def test_degree_all_blocks_equals_dense_linear():
    torch.manual_seed(2)
    b = 16
    tables = make_tables(3, 2, 3)  # every output block reads every input block
    x = torch.randn(5, 3 * b, device=DEVICE)
    w = torch.randn(2, 3, b, b, device=DEVICE)
    dense = w.permute(0, 2, 1, 3).reshape(2 * b, 3 * b)
    with L.poison_outputs():
        y = xlinear_triton(x, w, *tables)
    assert_close(y, F.linear(x.double(), dense.double()), torch.float32)


def test_one_block_and_unbatched_input():
    torch.manual_seed(3)
    b = 32
    tables = make_tables(1, 1, 1)
    x = torch.randn(b, device=DEVICE)  # no batch dimension: (in_features,)
    w = torch.randn(1, 1, b, b, device=DEVICE)
    with L.poison_outputs():
        y = xlinear_triton(x, w, *tables)
    assert y.shape == (b,)
    assert_close(y, w[0, 0].double() @ x.double(), torch.float32)


def test_unread_input_block_gets_exact_zero_gradient():
    torch.manual_seed(4)
    b = 16
    idx = torch.tensor([[0, 2], [2, 3]], device=DEVICE)  # input block 1 feeds nothing
    ti, ts, _ = transpose_ell(idx.cpu().numpy(), 4)
    tables = (idx, torch.as_tensor(ti, device=DEVICE), torch.as_tensor(ts, device=DEVICE))
    x = torch.randn(9, 4 * b, device=DEVICE)
    w = torch.randn(2, 2, b, b, device=DEVICE)
    _, (gx, gw), _, (rx, rw), _ = run_both(x, w, tables)
    assert torch.equal(gx[:, b : 2 * b], torch.zeros_like(gx[:, b : 2 * b]))
    assert_close(gx, rx, torch.float32)


def test_repeated_block_in_a_row_adds():
    torch.manual_seed(5)
    b = 16
    idx = torch.tensor([[1, 1], [0, 1]], device=DEVICE)  # a multi-edge: block 1 twice
    ti, ts, _ = transpose_ell(idx.cpu().numpy(), 2)
    tables = (idx, torch.as_tensor(ti, device=DEVICE), torch.as_tensor(ts, device=DEVICE))
    x = torch.randn(6, 2 * b, device=DEVICE)
    w = torch.randn(2, 2, b, b, device=DEVICE)
    y, (gx, gw), yr, (rx, rw), g = run_both(x, w, tables)
    assert_close(y, yr, torch.float32)
    assert_close(gx, rx, torch.float32)
    assert_close(gw, edge_loop_dw(x, g, idx, b), torch.float32)


def test_dense_reference_helpers_roundtrip():
    torch.manual_seed(6)
    idx = torch.tensor([[0, 2], [1, 2]])
    w = torch.randn(2, 2, 4, 4)
    dense = dense_weight(w, idx, 12)
    assert torch.equal(packed_weight(dense, idx, 4), w)
    assert int((dense != 0).sum()) == w.numel()


def test_noncontiguous_input_and_empty_batch():
    torch.manual_seed(7)
    b = 16
    tables = make_tables(2, 2, 1)
    w = torch.randn(2, 1, b, b, device=DEVICE)
    xt = torch.randn(2 * b, 7, device=DEVICE).T  # (7, 32), column-major
    assert not xt.is_contiguous()
    y, (gx, gw), yr, (rx, rw), _ = run_both(xt, w, tables)
    assert_close(y, yr, torch.float32)
    assert_close(gw, rw, torch.float32)
    x0 = torch.randn(0, 2 * b, device=DEVICE, requires_grad=True)
    w0 = w.clone().requires_grad_()
    y0 = xlinear_triton(x0, w0, *tables)
    assert y0.shape == (0, 2 * b)
    (gw0,) = torch.autograd.grad(y0.sum(), [w0])
    assert torch.equal(gw0, torch.zeros_like(w0))


@pytest.mark.skipif(DEVICE != "cpu", reason="CPU autocast check")
def test_autocast_casts_inputs_like_f_linear():
    torch.manual_seed(8)
    b = 16
    tables = make_tables(2, 1, 2)
    x = torch.randn(4, 2 * b)
    w = torch.randn(1, 2, b, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = xlinear_triton(x, w, *tables)
    assert y.dtype == torch.bfloat16
    assert_close(y, xlinear_reference(x.double(), w.double(), tables[0]), torch.bfloat16)


def test_fp32_precision_follows_torch_setting():
    old = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")
        assert L.dot_precision(torch.float32) == "ieee"
        torch.set_float32_matmul_precision("high")
        assert L.dot_precision(torch.float32) == "tf32"
    finally:
        torch.set_float32_matmul_precision(old)


@settings(max_examples=50, deadline=None)
@given(m=st.integers(1, 10_000), split=st.integers(1, 40), block_m=st.sampled_from([16, 64, 128]))
def test_split_rows_covers_tokens_once(m, split, block_m):
    rows, n = L.split_rows(m, split, block_m)
    assert rows % block_m == 0 and 1 <= n <= split
    assert (n - 1) * rows < m <= n * rows  # every token in exactly one split, none empty


def test_triton_available_is_false_without_triton(monkeypatch):
    import compiler.kernels as K

    def no_triton(name):
        raise ImportError(name)

    monkeypatch.setattr(K.importlib, "import_module", no_triton)
    assert K.triton_available() is False


def test_torch_compile_runs_the_kernels_eagerly():
    torch.manual_seed(9)
    b = 16
    tables = make_tables(3, 2, 2, seed=3)
    x = torch.randn(10, 3 * b, device=DEVICE, requires_grad=True)
    w = torch.randn(2, 2, b, b, device=DEVICE, requires_grad=True)

    def f(x, w):
        return xlinear_triton(x, w, *tables, activation="relu").square().sum()

    out = torch.compile(f, backend="aot_eager")(x, w)
    gx, gw = torch.autograd.grad(out, [x, w])
    xr, wr = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    ref = xlinear_reference(xr, wr, tables[0], None, "relu").square().sum()
    rx, rw = torch.autograd.grad(ref, [xr, wr])
    assert abs(out.item() - ref.item()) <= 1e-5 * abs(ref.item())
    assert_close(gx, rx, torch.float32)
    assert_close(gw, rw, torch.float32)


@settings(max_examples=20, deadline=None)
@given(
    in_blocks=st.integers(1, 4),
    out_blocks=st.integers(1, 3),
    d_frac=st.floats(0, 1),
    tokens=st.integers(1, 70),
    block=st.sampled_from([16, 16, 32]),
    has_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_and_degrees(in_blocks, out_blocks, d_frac, tokens, block, has_bias, seed):
    d = 1 + int(d_frac * (in_blocks - 1) + 0.5)
    torch.manual_seed(seed)
    tables = make_tables(in_blocks, out_blocks, d, seed=seed)
    x = torch.randn(tokens, in_blocks * block, device=DEVICE)
    w = torch.randn(out_blocks, d, block, block, device=DEVICE)
    bias = torch.randn(out_blocks * block, device=DEVICE) if has_bias else None
    y, grads, yr, ref_grads, _ = run_both(x, w, tables, bias)
    assert_close(y, yr, torch.float32)
    for a, r in zip(grads, ref_grads):
        assert_close(a, r, torch.float32)


# ----------------------------------------------------------------------------- bad inputs
def _good(b=16):
    tables = make_tables(2, 2, 1)
    return torch.randn(3, 2 * b, device=DEVICE), torch.randn(2, 1, b, b, device=DEVICE), tables


def test_rejects_small_block():
    idx, ti, ts = make_tables(2, 2, 1)
    with pytest.raises(ValueError, match="block=8 must be 16, 32 or 64"):
        xlinear_triton(
            torch.randn(3, 16, device=DEVICE), torch.randn(2, 1, 8, 8, device=DEVICE), idx, ti, ts
        )


def test_rejects_unknown_activation():
    x, w, t = _good()
    with pytest.raises(ValueError, match="activation must be"):
        xlinear_triton(x, w, *t, activation="tanh")


def test_rejects_float64_and_mixed_dtypes():
    x, w, t = _good()
    with pytest.raises(ValueError, match="x dtype must be"):
        xlinear_triton(x.double(), w.double(), *t)
    with pytest.raises(ValueError, match="weight and bias dtype must equal"):
        xlinear_triton(x, w.half(), *t)


def test_rejects_bad_shapes():
    x, w, t = _good()
    with pytest.raises(ValueError, match="last dim"):
        xlinear_triton(x[:, :20], w, *t)
    with pytest.raises(ValueError, match="does not match index"):
        xlinear_triton(x, w[:, :1].repeat(1, 2, 1, 1), *t)
    with pytest.raises(ValueError, match="bias must be"):
        xlinear_triton(x, w, *t, bias=torch.zeros(5, device=DEVICE))
    with pytest.raises(ValueError, match="weight must be"):
        xlinear_triton(x, w[..., :8], *t)
    with pytest.raises(ValueError, match="t_index and t_slot must both be"):
        xlinear_triton(x, w, t[0], t[1][:1], t[2][:1])


def test_rejects_out_of_range_index():
    x, w, (idx, ti, ts) = _good()
    bad = idx.clone()
    bad[0, 0] = 2
    with pytest.raises(ValueError, match="index entries must lie in 0..1"):
        xlinear_triton(x, w, bad, ti, ts)


def test_rejects_tables_that_are_not_the_transpose():
    x, w, (idx, ti, ts) = _good()
    swapped = ti.flip(0).contiguous()
    with pytest.raises(ValueError, match="not the transpose"):
        xlinear_triton(x, w, idx, swapped, ts.flip(0).contiguous())
    width = ti.shape[1] + 1
    pad_first = torch.full((2, width), -1, dtype=ti.dtype, device=DEVICE)
    pad_first[:, 1:] = ti
    slot_first = torch.full((2, width), -1, dtype=ts.dtype, device=DEVICE)
    slot_first[:, 1:] = ts
    with pytest.raises(ValueError, match="padding"):
        xlinear_triton(x, w, idx, pad_first, slot_first)


def test_table_check_is_redone_after_in_place_change():
    x, w, (idx, ti, ts) = _good()
    check = launch.TableCheck()
    xlinear_triton(x, w, idx, ti, ts, table_check=check)  # validated and remembered
    assert check.verified(idx, ti, ts, ti.shape[0])
    idx[0, 0] = 5  # in-place change bumps the tensor version
    assert not check.verified(idx, ti, ts, ti.shape[0])
    with pytest.raises(ValueError, match="index entries"):
        xlinear_triton(x, w, idx, ti, ts, table_check=check)


def test_launch_settings_nest_and_restore():
    a, b = L.LaunchConfig(block_m=16), L.LaunchConfig(block_m=32, split=2)
    with L.launch_overrides(fwd=a):
        with L.launch_overrides(dw=b), L.poison_outputs(0.5):
            s = launch.launch_settings()
            assert dict(s.overrides) == {"fwd": a, "dw": b} and s.poison == 0.5
        assert dict(launch.launch_settings().overrides) == {"fwd": a}
    assert launch.launch_settings() == launch.LaunchSettings()
    with pytest.raises(ValueError, match="must be a LaunchConfig"):
        L.launch_overrides(fwd=16)


@pytest.mark.skipif(DEVICE != "cpu", reason="only CPU tensors need the interpreter")
def test_rejects_cpu_tensors_without_interpreter(monkeypatch):
    x, w, t = _good()
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="need CUDA tensors"):
        xlinear_triton(x, w, *t)


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({"block_m": 8}, "block_m=8"),
        ({"block_m": 48}, "block_m=48"),
        ({"block_m": 64, "num_warps": 3}, "num_warps=3"),
        ({"block_m": 64, "num_stages": 0}, "num_stages=0"),
        ({"block_m": 64, "split": 0}, "split=0"),
    ],
)
def test_launch_config_rejects_bad_values(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        L.LaunchConfig(**kwargs)
