"""Block-sparse X-Linear in Triton: forward, input gradient and weight gradient.

Layout (see :mod:`compiler.layout`): ``index`` int ``(out_blocks, D)``, weight
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

Launch configs, validation and the test hooks (:func:`launch_overrides`,
:func:`poison_outputs`) live in :mod:`compiler.kernels.launch`, the shared
``@triton.jit`` prologues in :mod:`compiler.kernels.tiles`.

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

import torch
import triton
import triton.language as tl

from .launch import (
    LaunchConfig,
    TableCheck,
    check_index_shape,
    check_operands,
    check_tables,
    dot_precision,
    empty,
    gemm_config,
    interpreting,
    launch_overrides,
    poison_outputs,
    prepare_operands,
    reduce_config,
    split_rows,
    upcast_dot,
)
from .tiles import dot_acc, row_tile, transposed_count

__all__ = [
    "ACTIVATION_CODES",
    "xlinear_triton",
    # launch machinery, re-exported for the tests and benchmarks that use it from here
    "LaunchConfig",
    "TableCheck",
    "launch_overrides",
    "poison_outputs",
    "interpreting",
    "split_rows",
    "dot_precision",
]

#: The activations the forward kernel fuses, and their ``ACT`` codes.
ACTIVATION_CODES = {None: 0, "relu": 1, "gelu": 2}


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
    ob, rows, rmask = row_tile(M, NB, BLOCK_M)
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
        acc = dot_acc(xt, wt, acc, PREC, UPCAST)
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
    ib, rows, rmask = row_tile(M, NB, BLOCK_M)
    rows64 = rows.to(tl.int64)
    c = tl.arange(0, BLOCK)
    # valid entries of the transposed row form a prefix (padding -1 at the end)
    count = transposed_count(tidx_ptr, ib, T, T_POW2)
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
        acc = dot_acc(dzt, wt, acc, PREC, UPCAST)
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
        acc = dot_acc(dzt, xt, acc, PREC, UPCAST)
    tl.store(
        dw_ptr
        + sp.to(tl.int64) * stride_ws
        + ob.to(tl.int64) * stride_wo
        + k * stride_wk
        + c[:, None] * stride_wi
        + c[None, :] * stride_wj,
        acc.to(dw_ptr.dtype.element_ty),
    )


# --------------------------------------------------------------------------- launchers
def _fwd(x2, weight, index, bias, act: int, store_z: bool):
    m, _ = x2.shape
    out_blocks, d, block, _ = weight.shape
    dev = x2.device
    y = empty((m, out_blocks * block), x2.dtype, dev)
    z = empty((m, out_blocks * block), x2.dtype, dev) if store_z else y
    if m == 0:
        return y, z
    cfg = gemm_config("fwd", m, block, dev)
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
        UPCAST=upcast_dot(x2.dtype),
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )
    return y, z


def _dx(dz, weight, t_index, t_slot, in_blocks: int):
    m = dz.shape[0]
    block = weight.shape[2]
    dev = dz.device
    dx = empty((m, in_blocks * block), dz.dtype, dev)
    if m == 0:
        return dx
    cfg = gemm_config("dx", m, block, dev)
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
        UPCAST=upcast_dot(dz.dtype),
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
    cfg = reduce_config("dw", m, out_blocks * d, block, dev)
    rows, split = split_rows(m, cfg.split, cfg.block_m)
    if split == 1:
        dw = empty(weight_shape, dtype, dev)
        buf = dw.unsqueeze(0)
    else:
        buf = empty((split,) + tuple(weight_shape), torch.float32, dev)
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
        UPCAST=upcast_dot(dz.dtype),
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
    *,
    table_check: TableCheck | None = None,
) -> torch.Tensor:
    """Block-sparse X-Linear ``act(x W^T + b)`` on the ELL tables, with autograd.

    Parameters
    ----------
    x : ``(..., in_features)``, float32/bfloat16/float16, CUDA (or CPU under
        ``TRITON_INTERPRET=1``).
    weight : ``(out_blocks, D, block, block)``, same dtype; ``W[ob, k, i, j]``
        joins input ``index[ob, k]*block + j`` to output ``ob*block + i``.
    index : int64 ``(out_blocks, D)``; ``t_index``, ``t_slot`` : int64
        ``(in_blocks, T)`` from :func:`compiler.layout.transpose_ell` (``-1`` padded).
    bias : ``(out_blocks*block,)`` or ``None``.
    activation : ``None``, ``"relu"`` or ``"gelu"`` (erf form), fused into the
        forward kernel.
    table_check : a :class:`~compiler.kernels.launch.TableCheck` that remembers
        verified tables (a layer keeps one); without it the tables are
        verified on every call.

    Returns ``(..., out_blocks*block)`` in ``x.dtype``.  Gradients flow to
    ``x``, ``weight`` and ``bias`` (not twice differentiable).  ``block`` must
    be 16, 32 or 64 (``tl.dot`` needs every dimension >= 16).  Under autocast
    the inputs are cast to the autocast dtype, as ``F.linear`` does.

    Reference: Prabhu et al., *Deep Expander Networks*, ECCV 2018 (X-Linear);
    the ELL layout of :mod:`compiler.layout`.

    Examples
    --------
    >>> import numpy as np
    >>> from compiler.layout import transpose_ell
    >>> dev = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: with TRITON_INTERPRET=1
    >>> ti, ts, _ = transpose_ell(np.array([[0], [1]]), 2)
    >>> idx, ti, ts = (torch.as_tensor(t, device=dev) for t in ([[0], [1]], ti, ts))
    >>> w = torch.randn(2, 1, 16, 16, device=dev)
    >>> y = xlinear_triton(torch.randn(8, 32, device=dev), w, idx, ti, ts, activation="relu")
    >>> tuple(y.shape), bool((y >= 0).all())
    ((8, 32), True)
    """
    what = "xlinear_triton"
    if activation not in ACTIVATION_CODES:
        raise ValueError(f"{what}: activation must be None, 'relu' or 'gelu', got {activation!r}")
    block = check_operands(x, weight, index, 4, what)
    if x.dim() < 1 or x.shape[-1] % block:
        raise ValueError(f"{what}: x last dim {tuple(x.shape)[-1:]} must be a multiple of {block}")
    check_index_shape(weight, index, what)
    x, weight, bias = prepare_operands(x, weight, index, bias, what)
    out_features = weight.shape[0] * block
    in_blocks = x.shape[-1] // block
    index, t_index, t_slot = check_tables(index, t_index, t_slot, in_blocks, what, table_check)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    weight = weight.contiguous()
    bias = bias.contiguous() if bias is not None else None
    act = ACTIVATION_CODES[activation]
    y = _XLinearFunction.apply(x2, weight, bias, index, t_index, t_slot, act)
    return y.reshape(*lead, out_features)
