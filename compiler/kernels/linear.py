"""Block-sparse X-Linear in Triton: forward, input gradient and weight gradient.

Layout (see :mod:`compiler.ell`): ``index`` int ``(out_blocks, D)``, weight
``(out_blocks, D, block, block)`` with ``W[ob, k, i, j]`` joining input channel
``index[ob, k]*block + j`` to output channel ``ob*block + i``; the transposed
tables ``t_index``/``t_slot`` ``(in_blocks, T)`` list for each input block the
``(output block, slot)`` pairs that read it, padded at the end with ``-1``.

Kernels (one program per output tile; every output element is written by
exactly one program, so no output buffer needs zeroing):

* forward ``y = act(x W^T + b)``: program ``(ob, m-tile)`` loops over the ``D``
  neighbour blocks of ``ob``; each step is one ``(BLOCK_M x block) @ (block x
  block)`` ``tl.dot`` accumulated in fp32; bias and the activation are fused.
  ``ob`` is the fastest grid axis so programs sharing an ``x`` row tile run
  together and reuse it from L2.
* input gradient ``dx = dz W`` over the transposed graph: program ``(ib,
  m-tile)`` loops over the valid entries of ``t_index[ib]``.
* weight gradient ``dW[ob, k] = dz[:, ob]^T x[:, index[ob, k]]``: one program
  per edge block and token split; with several splits the fp32 partials are
  summed by torch (deterministic, no atomics).

Types: fp32, bf16 and fp16 operands, fp32 accumulation, output in the input
dtype.  fp32 ``tl.dot`` uses IEEE fp32 unless
``torch.get_float32_matmul_precision()`` is ``"high"`` or ``"medium"``, in which
case it uses TF32 (10-bit mantissa: expect relative errors near 3e-4 instead
of 1e-6).  Under ``TRITON_INTERPRET=1`` bf16 operands are upcast to fp32 before
``tl.dot`` because the interpreter multiplies bf16 bit patterns (Triton issue
#11584); bf16 x bf16 products are exact in fp32, so this matches the GPU's
fp32-accumulating tensor cores up to summation order.

``torch.compile``: the public wrappers are marked ``torch.compiler.disable``,
so a compiled model runs them eagerly (one graph break per layer) and stays
correct; capturing them in the graph would need a ``torch.library`` custom op.

Reference: Prabhu, Varma and Namboodiri, *Deep Expander Networks*, ECCV 2018;
Tillet et al., *Triton*, MAPL 2019 (tiling), and the Triton matmul tutorial.
"""

from __future__ import annotations

import contextlib
import math
import os
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch
import triton
import triton.language as tl

__all__ = ["xlinear_triton"]

BLOCK_SIZES = (16, 32, 64)
_ACT_CODES = {None: 0, "relu": 1, "gelu": 2}
_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


# --------------------------------------------------------------------------- kernels
@triton.jit
def _xlinear_fwd_kernel(
    x_ptr,
    w_ptr,
    idx_ptr,
    b_ptr,
    y_ptr,
    z_ptr,
    M,
    NB,
    D,
    stride_xm,
    stride_ym,
    stride_wo,
    stride_wk,
    stride_wi,
    stride_wj,
    BLOCK: tl.constexpr,
    BLOCK_M: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    ACT: tl.constexpr,
    STORE_Z: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
):
    pid = tl.program_id(0)  # 1-d grid, block index fastest
    ob = pid % NB
    pm = pid // NB
    rows = pm * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < M
    rows64 = rows.to(tl.int64)
    c = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK_M, BLOCK), dtype=tl.float32)
    x_rows = x_ptr + rows64[:, None] * stride_xm + c[None, :]
    xmask = rmask[:, None]
    # W[ob, k] read transposed: tile[j, i]
    w_tile = w_ptr + ob.to(tl.int64) * stride_wo + c[:, None] * stride_wj + c[None, :] * stride_wi
    row_idx = idx_ptr + ob * D
    for k in range(0, D):
        ib = tl.load(row_idx + k)
        xt = tl.load(x_rows + ib * BLOCK, mask=xmask, other=0.0)
        wt = tl.load(w_tile + k * stride_wk)
        if UPCAST:
            xt = xt.to(tl.float32)
            wt = wt.to(tl.float32)
        acc = tl.dot(xt, wt, acc, input_precision=PREC)
    if HAS_BIAS:
        acc += tl.load(b_ptr + ob * BLOCK + c).to(tl.float32)[None, :]
    out = rows64[:, None] * stride_ym + (ob * BLOCK + c)[None, :]
    if STORE_Z:
        tl.store(z_ptr + out, acc.to(z_ptr.dtype.element_ty), mask=rmask[:, None])
    if ACT == 1:
        acc = tl.maximum(acc, 0.0)
    elif ACT == 2:
        acc = 0.5 * acc * (1.0 + tl.erf(acc * 0.7071067811865476))
    tl.store(y_ptr + out, acc.to(y_ptr.dtype.element_ty), mask=rmask[:, None])


@triton.jit
def _xlinear_dx_kernel(
    dz_ptr,
    w_ptr,
    tidx_ptr,
    tslot_ptr,
    dx_ptr,
    M,
    NB,
    T,
    stride_dzm,
    stride_dxm,
    stride_wo,
    stride_wk,
    stride_wi,
    stride_wj,
    BLOCK: tl.constexpr,
    BLOCK_M: tl.constexpr,
    T_POW2: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
):
    pid = tl.program_id(0)  # 1-d grid, block index fastest
    ib = pid % NB
    pm = pid // NB
    rows = pm * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < M
    rows64 = rows.to(tl.int64)
    c = tl.arange(0, BLOCK)
    # valid entries of the transposed row form a prefix (padding -1 at the end)
    toffs = tl.arange(0, T_POW2)
    trow = tl.load(tidx_ptr + ib * T + toffs, mask=toffs < T, other=-1)
    count = tl.sum((trow >= 0).to(tl.int32), axis=0)
    acc = tl.zeros((BLOCK_M, BLOCK), dtype=tl.float32)
    dz_rows = dz_ptr + rows64[:, None] * stride_dzm + c[None, :]
    dmask = rmask[:, None]
    w_tile = w_ptr + c[:, None] * stride_wi + c[None, :] * stride_wj  # W[ob, k] as tile[i, j]
    t_row = ib * T
    for t in range(0, count):
        ob = tl.load(tidx_ptr + t_row + t)
        k = tl.load(tslot_ptr + t_row + t)
        dzt = tl.load(dz_rows + ob * BLOCK, mask=dmask, other=0.0)
        wt = tl.load(w_tile + ob.to(tl.int64) * stride_wo + k * stride_wk)
        if UPCAST:
            dzt = dzt.to(tl.float32)
            wt = wt.to(tl.float32)
        acc = tl.dot(dzt, wt, acc, input_precision=PREC)
    tl.store(
        dx_ptr + rows64[:, None] * stride_dxm + (ib * BLOCK + c)[None, :],
        acc.to(dx_ptr.dtype.element_ty),
        mask=rmask[:, None],
    )


@triton.jit
def _xlinear_dw_kernel(
    dz_ptr,
    x_ptr,
    idx_ptr,
    dw_ptr,
    M,
    D,
    ROWS_PER_SPLIT,
    stride_dzm,
    stride_xm,
    stride_ws,
    stride_wo,
    stride_wk,
    stride_wi,
    stride_wj,
    BLOCK: tl.constexpr,
    BLOCK_M: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
):
    e = tl.program_id(0)
    sp = tl.program_id(1)
    ob = e // D
    k = e % D
    ib = tl.load(idx_ptr + e)
    c = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
    m_start = sp * ROWS_PER_SPLIT
    m_end = tl.minimum(m_start + ROWS_PER_SPLIT, M)
    dz_col = dz_ptr + (ob * BLOCK + c)[:, None]  # dz[:, ob] read transposed: tile[i, m]
    x_col = x_ptr + (ib * BLOCK + c)[None, :]
    for m0 in range(m_start, m_end, BLOCK_M):
        rows = m0 + tl.arange(0, BLOCK_M)
        rmask = rows < m_end
        rows64 = rows.to(tl.int64)
        dzt = tl.load(dz_col + rows64[None, :] * stride_dzm, mask=rmask[None, :], other=0.0)
        xt = tl.load(x_col + rows64[:, None] * stride_xm, mask=rmask[:, None], other=0.0)
        if UPCAST:
            dzt = dzt.to(tl.float32)
            xt = xt.to(tl.float32)
        acc = tl.dot(dzt, xt, acc, input_precision=PREC)
    tl.store(
        dw_ptr
        + sp.to(tl.int64) * stride_ws
        + ob.to(tl.int64) * stride_wo
        + k * stride_wk
        + c[:, None] * stride_wi
        + c[None, :] * stride_wj,
        acc.to(dw_ptr.dtype.element_ty),
    )


# --------------------------------------------------------------------------- launch configs
@dataclass(frozen=True)
class LaunchConfig:
    """Tile sizes and Triton launch options of one kernel call.

    ``block_m`` is the token tile (GEMM M; for the weight gradient, the token
    step of the reduction loop), a power of two >= 16 because ``tl.dot`` needs
    every dimension >= 16; ``split`` is the number of token splits of the
    weight-gradient reduction (``None``: heuristic).

    Reference: Triton tutorial 03 (matrix multiplication): tile sizes,
    ``num_warps`` and ``num_stages`` (software-pipelining depth).

    Examples
    --------
    >>> LaunchConfig(block_m=128, num_warps=8).num_stages
    3
    """

    block_m: int
    num_warps: int = 4
    num_stages: int = 3
    split: int | None = None

    def __post_init__(self):
        bm = self.block_m
        if not isinstance(bm, int) or bm < 16 or bm & (bm - 1):
            raise ValueError(f"LaunchConfig: block_m={bm!r} must be a power of two >= 16")
        if self.num_warps not in (1, 2, 4, 8, 16) or self.num_stages < 1:
            raise ValueError(
                f"LaunchConfig: num_warps={self.num_warps} must be a power of two <= 16 "
                f"and num_stages={self.num_stages} >= 1"
            )
        if self.split is not None and self.split < 1:
            raise ValueError(f"LaunchConfig: split={self.split} must be >= 1 or None")


_OVERRIDES: dict[str, LaunchConfig] = {}
_POISON: list[float | None] = [None]


@contextlib.contextmanager
def launch_overrides(**configs: LaunchConfig) -> Iterator[None]:
    """Force launch configs by kernel name (``fwd``, ``dx``, ``dw``, ``conv_fwd``, ...).

    For tests and tuning runs; not thread-safe.  Reference: Triton's
    ``triton.autotune`` does the same by benchmarking; this pins one config.

    Examples
    --------
    >>> with launch_overrides(dw=LaunchConfig(block_m=16, split=3)):
    ...     pass
    """
    old = dict(_OVERRIDES)
    _OVERRIDES.update(configs)
    try:
        yield
    finally:
        _OVERRIDES.clear()
        _OVERRIDES.update(old)


@contextlib.contextmanager
def poison_outputs(value: float = float("nan")) -> Iterator[None]:
    """Fill every buffer the kernels write (outputs, gradients, partials) with ``value`` first.

    Lets a test prove that every element is written: an unwritten element
    keeps the poison (NaN propagates through the split-reduction sum).
    Reference: the output-poisoning check of FlashAttention's and Triton's
    kernel tests (outputs pre-filled, then compared elementwise).

    Examples
    --------
    >>> with poison_outputs():
    ...     pass
    """
    old = _POISON[0]
    _POISON[0] = value
    try:
        yield
    finally:
        _POISON[0] = old


def _empty(shape, dtype: torch.dtype, device) -> torch.Tensor:
    if _POISON[0] is None:
        return torch.empty(shape, dtype=dtype, device=device)
    return torch.full(shape, _POISON[0], dtype=dtype, device=device)


def interpreting() -> bool:
    """True when ``TRITON_INTERPRET`` is set: kernels then run on CPU tensors.

    Reference: Triton's debugging guide (the interpreter).

    Examples
    --------
    >>> isinstance(interpreting(), bool)
    True
    """
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def _num_sms(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 4


def _pick(name: str, cfg: LaunchConfig) -> LaunchConfig:
    return _OVERRIDES.get(name, cfg)


def _gemm_config(name: str, m: int, block: int, device: torch.device) -> LaunchConfig:
    """Heuristic launch config for the row-tiled kernels (forward, input gradient).

    GPU: token tile 128 (64 for small ``m``), 4 warps, 3 stages for ``block``
    64 and 4 stages below.  Interpreter: one tile of up to 64 rows (fewer,
    larger programs run faster in numpy).
    """
    if device.type != "cuda":
        bm = min(64, max(16, triton.next_power_of_2(max(m, 1))))
        return _pick(name, LaunchConfig(block_m=bm, num_warps=4, num_stages=1))
    bm = 128 if m >= 4096 else 64
    stages = 3 if block >= 64 else 4
    return _pick(name, LaunchConfig(block_m=bm, num_warps=4, num_stages=stages))


def _reduce_config(name: str, m: int, edges: int, block: int, device: torch.device) -> LaunchConfig:
    """Heuristic launch config for the weight gradient (a reduction over ``m`` tokens).

    One program per edge block and token split; splits are added until there
    are about two programs per multiprocessor, keeping at least 8 token steps
    per split.  An explicit ``split`` in an override is honoured.
    """
    if device.type != "cuda":
        base = LaunchConfig(block_m=min(64, max(16, triton.next_power_of_2(max(m, 1)))))
    else:
        base = LaunchConfig(block_m=64 if block >= 64 else 128, num_warps=4, num_stages=3)
    cfg = _pick(name, base)
    if cfg.split is None:
        want = math.ceil(2 * _num_sms(device) / max(edges, 1))
        most = max(1, m // (8 * cfg.block_m))
        cfg = replace(cfg, split=max(1, min(want, most)))
    return cfg


def split_rows(m: int, split: int, block_m: int) -> tuple[int, int]:
    """``(rows_per_split, splits)``: a multiple of ``block_m`` rows per split, no empty split.

    At most ``split`` splits; every token lies in exactly one.  Reference:
    split-K GEMM (CUTLASS "split-K serial/parallel" reductions).

    Examples
    --------
    >>> split_rows(70, 3, 16)
    (32, 3)
    """
    rows = max(block_m, math.ceil(math.ceil(m / max(split, 1)) / block_m) * block_m)
    return rows, max(1, math.ceil(m / rows))


def dot_precision(dtype: torch.dtype) -> str:
    """``tl.dot`` input precision: ``"ieee"`` for fp32 at ``highest`` matmul precision, else tf32.

    For 16-bit operands the value is ignored by Triton (tensor cores, fp32
    accumulate).  Reference: ``torch.set_float32_matmul_precision`` and
    ``tl.dot(input_precision=...)``.

    Examples
    --------
    >>> dot_precision(torch.bfloat16)
    'tf32'
    """
    if dtype == torch.float32 and torch.get_float32_matmul_precision() == "highest":
        return "ieee"
    return "tf32"


def _upcast_dot(dtype: torch.dtype) -> bool:
    """Whether kernels must upcast bf16 ``tl.dot`` operands (interpreter bug, see module doc)."""
    return dtype == torch.bfloat16 and interpreting()


# --------------------------------------------------------------------------- validation
_TABLES_OK: dict[tuple, tuple] = {}


def _as_table(t, name: str, what: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"{what}: {name} must be a 2-d int32/int64 tensor")
    return t


def _check_tables(
    index: torch.Tensor,
    t_index: torch.Tensor,
    t_slot: torch.Tensor,
    in_blocks: int,
    what: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate the ELL tables once (cached per tensor and version); return contiguous copies.

    Checks: ``0 <= index < in_blocks``; ``t_index``/``t_slot`` are
    ``(in_blocks, T)``, valid entries (``>= 0``) form a prefix of each row,
    padding is ``-1`` in both, and the valid pairs are exactly the transpose
    of ``index`` (every ``(ob, k)`` once, ``index[ob, k] == row``).  The
    content check synchronises the device once per table set, not per call.
    """
    for name, t in (("index", index), ("t_index", t_index), ("t_slot", t_slot)):
        _as_table(t, name, what)
    out_blocks, d = index.shape
    if d < 1 or out_blocks < 1:
        raise ValueError(f"{what}: index must have at least one row and one column, got {d}")
    if t_index.shape != t_slot.shape or t_index.shape[0] != in_blocks or t_index.shape[1] < 1:
        raise ValueError(
            f"{what}: t_index and t_slot must both be ({in_blocks}, T>=1), "
            f"got {tuple(t_index.shape)} and {tuple(t_slot.shape)}"
        )
    if not (index.device == t_index.device == t_slot.device):
        raise ValueError(f"{what}: index, t_index and t_slot must be on one device")
    key = (id(index), id(t_index), id(t_slot), in_blocks)
    versions = (index._version, t_index._version, t_slot._version)
    hit = _TABLES_OK.get(key)
    if not (
        hit is not None
        and all(r() is t for r, t in zip(hit[0], (index, t_index, t_slot)))
        and hit[1] == versions
    ):
        _verify_tables(index.long(), t_index.long(), t_slot.long(), in_blocks, what)
        if len(_TABLES_OK) > 512:
            _TABLES_OK.clear()
        refs = tuple(weakref.ref(t) for t in (index, t_index, t_slot))
        _TABLES_OK[key] = (refs, versions)
    return index.contiguous(), t_index.contiguous(), t_slot.contiguous()


def _verify_tables(index, t_index, t_slot, in_blocks: int, what: str) -> None:
    out_blocks, d = index.shape
    if bool((index < 0).any() | (index >= in_blocks).any()):
        raise ValueError(f"{what}: index entries must lie in 0..{in_blocks - 1}")
    valid = t_index >= 0
    if bool((valid != (t_slot >= 0)).any()):
        raise ValueError(f"{what}: t_index and t_slot must have -1 padding in the same places")
    if bool((valid[:, 1:] & ~valid[:, :-1]).any()):
        raise ValueError(f"{what}: t_index padding (-1) must come after the valid entries")
    ob = t_index[valid]
    k = t_slot[valid]
    rows = torch.arange(in_blocks, device=index.device)[:, None].expand_as(t_index)[valid]
    ok = ob.numel() == out_blocks * d
    if ok:
        in_range = bool(((ob < out_blocks) & (k < d)).all())
        ok = in_range and bool(
            (index[ob.clamp(max=out_blocks - 1), k.clamp(max=d - 1)] == rows).all()
        )
        ok = ok and torch.unique(ob * d + k).numel() == out_blocks * d
    if not ok:
        raise ValueError(f"{what}: t_index/t_slot are not the transpose of index (transpose_ell)")


def _check_float(t: torch.Tensor, name: str, what: str) -> None:
    if t.dtype not in _DTYPES:
        raise ValueError(
            f"{what}: {name} dtype must be float32, bfloat16 or float16, got {t.dtype}"
        )


def _check_device(x: torch.Tensor, what: str) -> None:
    if x.device.type == "cuda":
        return
    if x.device.type == "cpu" and interpreting():
        return
    raise ValueError(
        f"{what}: x is on {x.device}; the Triton kernels need CUDA tensors "
        "(or TRITON_INTERPRET=1 for CPU tensors)"
    )


def _autocast_inputs(*tensors, device_type: str):
    """Cast floating tensors to the autocast dtype when autocast is on (like ``F.linear``)."""
    if not hasattr(torch, "get_autocast_dtype") or not torch.is_autocast_enabled(device_type):
        return tensors
    dt = torch.get_autocast_dtype(device_type)
    return tuple(t.to(dt) if t is not None and t.is_floating_point() else t for t in tensors)


# --------------------------------------------------------------------------- launchers
def _fwd(x2, weight, index, bias, act: int, store_z: bool):
    m, _ = x2.shape
    out_blocks, d, block, _ = weight.shape
    dev = x2.device
    y = _empty((m, out_blocks * block), x2.dtype, dev)
    z = _empty((m, out_blocks * block), x2.dtype, dev) if store_z else y
    if m == 0:
        return y, z
    cfg = _gemm_config("fwd", m, block, dev)
    grid = (out_blocks * triton.cdiv(m, cfg.block_m),)
    _xlinear_fwd_kernel[grid](
        x2,
        weight,
        index,
        bias if bias is not None else y,
        y,
        z,
        m,
        out_blocks,
        d,
        x2.stride(0),
        y.stride(0),
        *weight.stride(),
        BLOCK=block,
        BLOCK_M=cfg.block_m,
        HAS_BIAS=bias is not None,
        ACT=act,
        STORE_Z=store_z,
        PREC=dot_precision(x2.dtype),
        UPCAST=_upcast_dot(x2.dtype),
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )
    return y, z


def _dx(dz, weight, t_index, t_slot, in_blocks: int):
    m = dz.shape[0]
    block = weight.shape[2]
    dev = dz.device
    dx = _empty((m, in_blocks * block), dz.dtype, dev)
    if m == 0:
        return dx
    cfg = _gemm_config("dx", m, block, dev)
    t = t_index.shape[1]
    grid = (in_blocks * triton.cdiv(m, cfg.block_m),)
    _xlinear_dx_kernel[grid](
        dz,
        weight,
        t_index,
        t_slot,
        dx,
        m,
        in_blocks,
        t,
        dz.stride(0),
        dx.stride(0),
        *weight.stride(),
        BLOCK=block,
        BLOCK_M=cfg.block_m,
        T_POW2=triton.next_power_of_2(t),
        PREC=dot_precision(dz.dtype),
        UPCAST=_upcast_dot(dz.dtype),
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )
    return dx


def _dw(dz, x2, index, weight_shape, dtype):
    m = dz.shape[0]
    out_blocks, d, block, _ = weight_shape
    dev = dz.device
    if m == 0:
        return torch.zeros(weight_shape, dtype=dtype, device=dev)
    cfg = _reduce_config("dw", m, out_blocks * d, block, dev)
    rows, split = split_rows(m, cfg.split, cfg.block_m)
    if split == 1:
        dw = _empty(weight_shape, dtype, dev)
        buf = dw.unsqueeze(0)
    else:
        buf = _empty((split,) + tuple(weight_shape), torch.float32, dev)
    _xlinear_dw_kernel[(out_blocks * d, split)](
        dz,
        x2,
        index,
        buf,
        m,
        d,
        rows,
        dz.stride(0),
        x2.stride(0),
        *buf.stride(),
        BLOCK=block,
        BLOCK_M=cfg.block_m,
        PREC=dot_precision(dz.dtype),
        UPCAST=_upcast_dot(dz.dtype),
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )
    return buf[0] if split == 1 else buf.sum(0).to(dtype)


def _act_grad(dy: torch.Tensor, saved: torch.Tensor, act: int) -> torch.Tensor:
    if act == 0:
        return dy
    if act == 1:  # saved is the output y: relu'(z) = [y > 0]
        return dy * (saved > 0).to(dy.dtype)
    z = saved.float()  # gelu (erf form): Phi(z) + z * phi(z)
    g = 0.5 * (1.0 + torch.erf(z * 0.7071067811865476)) + z * torch.exp(-0.5 * z * z) * (
        0.3989422804014327
    )
    return (dy.float() * g).to(dy.dtype)


class _XLinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, weight, bias, index, t_index, t_slot, act):
        y, z = _fwd(x2, weight, index, bias, act, store_z=act == 2)
        ctx.act = act
        ctx.has_bias = bias is not None
        saved = y if act == 1 else z if act == 2 else None
        ctx.save_for_backward(x2, weight, index, t_index, t_slot, saved)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy):
        x2, weight, index, t_index, t_slot, saved = ctx.saved_tensors
        dz = _act_grad(dy, saved, ctx.act).contiguous()
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = _dx(dz, weight, t_index, t_slot, t_index.shape[0])
        if ctx.needs_input_grad[1]:
            dw = _dw(dz, x2, index, weight.shape, weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dz.sum(0, dtype=torch.float32).to(weight.dtype)
        return dx, dw, db, None, None, None, None


@torch.compiler.disable  # runs eagerly under torch.compile (a graph break)
def xlinear_triton(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    t_index: torch.Tensor,
    t_slot: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
) -> torch.Tensor:
    """Block-sparse X-Linear ``act(x W^T + b)`` on the ELL tables, with autograd.

    Parameters
    ----------
    x : ``(..., in_features)``, float32/bfloat16/float16, CUDA (or CPU under
        ``TRITON_INTERPRET=1``).
    weight : ``(out_blocks, D, block, block)``, same dtype; ``W[ob, k, i, j]``
        joins input ``index[ob, k]*block + j`` to output ``ob*block + i``.
    index : int64 ``(out_blocks, D)``; ``t_index``, ``t_slot`` : int64
        ``(in_blocks, T)`` from :func:`compiler.ell.transpose_ell` (``-1`` padded).
    bias : ``(out_blocks*block,)`` or ``None``.
    activation : ``None``, ``"relu"`` or ``"gelu"`` (erf form), fused into the
        forward kernel.

    Returns ``(..., out_blocks*block)`` in ``x.dtype``.  Gradients flow to
    ``x``, ``weight`` and ``bias`` (not twice differentiable).  ``block`` must
    be 16, 32 or 64 (``tl.dot`` needs every dimension >= 16).  Under autocast
    the inputs are cast to the autocast dtype, as ``F.linear`` does.

    Reference: Prabhu et al., *Deep Expander Networks*, ECCV 2018 (X-Linear);
    the ELL layout of :mod:`compiler.ell`.

    Examples
    --------
    >>> import numpy as np
    >>> from compiler.ell import transpose_ell
    >>> idx = np.array([[0], [1]])
    >>> ti, ts, _ = transpose_ell(idx, 2)
    >>> w = torch.randn(2, 1, 16, 16, device="cuda")  # doctest: +SKIP
    >>> y = xlinear_triton(torch.randn(8, 32, device="cuda"), w, *map(torch.as_tensor,
    ...     (idx, ti, ts)), activation="relu")  # doctest: +SKIP
    >>> tuple(y.shape)  # doctest: +SKIP
    (8, 32)
    """
    what = "xlinear_triton"
    if not isinstance(x, torch.Tensor) or not isinstance(weight, torch.Tensor):
        raise ValueError(f"{what}: x and weight must be tensors")
    if activation not in _ACT_CODES:
        raise ValueError(f"{what}: activation must be None, 'relu' or 'gelu', got {activation!r}")
    if weight.dim() != 4 or weight.shape[2] != weight.shape[3]:
        raise ValueError(
            f"{what}: weight must be (out_blocks, D, block, block), got {tuple(weight.shape)}"
        )
    block = int(weight.shape[2])
    if block not in BLOCK_SIZES:
        raise ValueError(f"{what}: block={block} must be 16, 32 or 64 (tl.dot needs >= 16)")
    if x.dim() < 1 or x.shape[-1] % block:
        raise ValueError(f"{what}: x last dim {tuple(x.shape)[-1:]} must be a multiple of {block}")
    if tuple(weight.shape[:2]) != tuple(index.shape):
        raise ValueError(
            f"{what}: weight {tuple(weight.shape)} does not match index {tuple(index.shape)}"
        )
    _check_device(x, what)
    x, weight, bias = _autocast_inputs(x, weight, bias, device_type=x.device.type)
    _check_float(x, "x", what)
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise ValueError(f"{what}: weight and bias dtype must equal x dtype {x.dtype}")
    if weight.device != x.device or index.device != x.device:
        raise ValueError(f"{what}: x, weight and the tables must be on one device")
    out_features = weight.shape[0] * block
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != out_features):
        raise ValueError(f"{what}: bias must be ({out_features},), got {tuple(bias.shape)}")
    in_blocks = x.shape[-1] // block
    index, t_index, t_slot = _check_tables(index, t_index, t_slot, in_blocks, what)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    weight = weight.contiguous()
    bias = bias.contiguous() if bias is not None else None
    y = _XLinearFunction.apply(x2, weight, bias, index, t_index, t_slot, _ACT_CODES[activation])
    return y.reshape(*lead, out_features)
