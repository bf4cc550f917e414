"""Block-sparse X-Conv2d in Triton: implicit GEMM forward, input and weight gradients.

Layout (see :mod:`compiler.layout`): weight ``(out_blocks, D, block, block, kh, kw)``;
``W[ob, k, i, j, r, s]`` joins input channel ``index[ob, k]*block + j`` at tap
``(r, s)`` to output channel ``ob*block + i``.  Activations are handled as NHWC
internally (``x.permute(0, 2, 3, 1).contiguous()``, free for a channels-last
input); results are returned with NCHW shape and channels-last strides.

Kernels (implicit GEMM: the K loop runs over kernel taps x neighbour channel
blocks, reading shifted, masked input tiles straight from ``x``; im2col is
never written out):

* forward: program ``(ob, pixel-tile)`` with ``M = N*OH*OW`` output pixels;
  for each tap ``(r, s)`` the input pixel is ``(oh*sh - ph + r*dh, ow*sw - pw +
  s*dw)``, masked outside the image (zero padding); bias fused.
* input gradient: program ``(ib, pixel-tile)`` over the ``N*H*W`` input
  pixels and the transposed graph; tap ``(r, s)`` reads output pixel
  ``oh = (ih + ph - r*dh) / sh`` where that division is exact and in range.
  With stride > 1 the masked lanes are wasted work (no stride decomposition).
* weight gradient: one program per (edge block, tap) and token split, a
  ``(block x BLOCK_M) @ (BLOCK_M x block)`` reduction over output pixels; fp32
  partials of several splits are summed by torch.

Types and tolerances as in :mod:`compiler.kernels.linear`; launch configs and
validation in :mod:`compiler.kernels.launch`.

Reference: Prabhu, Varma and Namboodiri, *Deep Expander Networks*, ECCV 2018
(X-Conv); Chetlur et al., *cuDNN*, 2014 (implicit GEMM convolution).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..layout import conv_output_size
from .launch import (
    TableCheck,
    check_index_shape,
    check_operands,
    check_tables,
    dot_precision,
    empty,
    gemm_config,
    kernel_pair,
    prepare_operands,
    reduce_config,
    split_rows,
    upcast_dot,
)
from .tiles import dot_acc, row_tile, transposed_count

__all__ = ["xconv2d_triton"]


@triton.jit
def _xconv_fwd_kernel(
    x_ptr,
    w_ptr,
    idx_ptr,
    b_ptr,
    y_ptr,
    M,
    NB,
    D,
    H,
    W,
    C_IN,
    OH,
    OW,
    C_OUT,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    stride_wo,
    stride_wk,
    stride_wr,
    stride_ws,
    stride_wi,
    stride_wj,
    KH: tl.constexpr,
    KW: tl.constexpr,
    BLOCK: tl.constexpr,
    BLOCK_M: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
):
    ob, rows, rmask = row_tile(M, NB, BLOCK_M)
    ow = rows % OW
    t = rows // OW
    ih0 = (t % OH) * SH - PH
    iw0 = ow * SW - PW
    c = tl.arange(0, BLOCK)
    x_img = x_ptr + ((t // OH).to(tl.int64) * H * W * C_IN)[:, None] + c[None, :]
    acc = tl.zeros((BLOCK_M, BLOCK), dtype=tl.float32)
    w_tile = w_ptr + ob.to(tl.int64) * stride_wo + c[:, None] * stride_wj + c[None, :] * stride_wi
    row_idx = idx_ptr + ob * D
    # one flat K loop over taps x neighbour blocks, so the pipeliner sees all of it
    for kk in range(0, KH * KW * D):
        tap = kk // D
        k = kk - tap * D
        r = tap // KW
        s = tap - r * KW
        ih = ih0 + r * DH
        iw = iw0 + s * DW
        pmask = rmask & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        ib = tl.load(row_idx + k)
        xt = tl.load(
            x_img + ((ih * W + iw) * C_IN)[:, None] + ib * BLOCK, mask=pmask[:, None], other=0.0
        )
        wt = tl.load(w_tile + r * stride_wr + s * stride_ws + k * stride_wk)
        acc = dot_acc(xt, wt, acc, PREC, UPCAST)
    if HAS_BIAS:
        acc += tl.load(b_ptr + ob * BLOCK + c).to(tl.float32)[None, :]
    tl.store(
        y_ptr + rows.to(tl.int64)[:, None] * C_OUT + (ob * BLOCK + c)[None, :],
        acc.to(y_ptr.dtype.element_ty),
        mask=rmask[:, None],
    )


@triton.jit
def _xconv_dx_kernel(
    dz_ptr,
    w_ptr,
    tidx_ptr,
    tslot_ptr,
    dx_ptr,
    M,
    NB,
    T,
    H,
    W,
    C_IN,
    OH,
    OW,
    C_OUT,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    stride_wo,
    stride_wk,
    stride_wr,
    stride_ws,
    stride_wi,
    stride_wj,
    KH: tl.constexpr,
    KW: tl.constexpr,
    BLOCK: tl.constexpr,
    BLOCK_M: tl.constexpr,
    T_POW2: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
):
    ib, rows, rmask = row_tile(M, NB, BLOCK_M)
    iw = rows % W
    t = rows // W
    hn0 = t % H + PH
    wn0 = iw + PW
    c = tl.arange(0, BLOCK)
    dz_img = dz_ptr + ((t // H).to(tl.int64) * OH * OW * C_OUT)[:, None] + c[None, :]
    count = transposed_count(tidx_ptr, ib, T, T_POW2)
    acc = tl.zeros((BLOCK_M, BLOCK), dtype=tl.float32)
    w_tile = w_ptr + c[:, None] * stride_wi + c[None, :] * stride_wj
    t_row = ib * T
    # one flat K loop over taps x transposed-graph entries
    for kk in range(0, KH * KW * count):
        tap = kk // count
        tt = kk - tap * count
        r = tap // KW
        s = tap - r * KW
        hn = hn0 - r * DH
        wn = wn0 - s * DW
        hc = tl.where(hn >= 0, hn, 0)
        wc = tl.where(wn >= 0, wn, 0)
        oh = hc // SH
        ow = wc // SW
        pmask = rmask & (hn >= 0) & (hc - oh * SH == 0) & (oh < OH)
        pmask = pmask & (wn >= 0) & (wc - ow * SW == 0) & (ow < OW)
        ob = tl.load(tidx_ptr + t_row + tt)
        k = tl.load(tslot_ptr + t_row + tt)
        dzt = tl.load(
            dz_img + ((oh * OW + ow) * C_OUT)[:, None] + ob * BLOCK, mask=pmask[:, None], other=0.0
        )
        wt = tl.load(
            w_tile + ob.to(tl.int64) * stride_wo + k * stride_wk + r * stride_wr + s * stride_ws
        )
        acc = dot_acc(dzt, wt, acc, PREC, UPCAST)
    tl.store(
        dx_ptr + rows.to(tl.int64)[:, None] * C_IN + (ib * BLOCK + c)[None, :],
        acc.to(dx_ptr.dtype.element_ty),
        mask=rmask[:, None],
    )


@triton.jit
def _xconv_dw_kernel(
    dz_ptr,
    x_ptr,
    idx_ptr,
    dw_ptr,
    M,
    D,
    ROWS_PER_SPLIT,
    H,
    W,
    C_IN,
    OH,
    OW,
    C_OUT,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    stride_wsp,
    stride_wo,
    stride_wk,
    stride_wr,
    stride_ws,
    stride_wi,
    stride_wj,
    KH: tl.constexpr,
    KW: tl.constexpr,
    BLOCK: tl.constexpr,
    BLOCK_M: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
):
    pid = tl.program_id(0)
    sp = tl.program_id(1)
    tap = pid % (KH * KW)
    e = pid // (KH * KW)
    r = tap // KW
    s = tap % KW
    ob = e // D
    k = e % D
    ib = tl.load(idx_ptr + e)
    c = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
    m_start = sp * ROWS_PER_SPLIT
    m_end = tl.minimum(m_start + ROWS_PER_SPLIT, M)
    dz_col = dz_ptr + (ob * BLOCK + c)[:, None]
    x_col = x_ptr + (ib * BLOCK + c)[None, :]
    for m0 in range(m_start, m_end, BLOCK_M):
        rows = m0 + tl.arange(0, BLOCK_M)
        rmask = rows < m_end
        ow = rows % OW
        t = rows // OW
        ih = (t % OH) * SH - PH + r * DH
        iw = ow * SW - PW + s * DW
        pmask = rmask & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        pix = ((t // OH).to(tl.int64) * H + ih) * W + iw
        dzt = tl.load(dz_col + rows.to(tl.int64)[None, :] * C_OUT, mask=rmask[None, :], other=0.0)
        xt = tl.load(x_col + (pix * C_IN)[:, None], mask=pmask[:, None], other=0.0)
        acc = dot_acc(dzt, xt, acc, PREC, UPCAST)
    tl.store(
        dw_ptr
        + sp.to(tl.int64) * stride_wsp
        + ob.to(tl.int64) * stride_wo
        + k * stride_wk
        + r * stride_wr
        + s * stride_ws
        + c[:, None] * stride_wi
        + c[None, :] * stride_wj,
        acc.to(dw_ptr.dtype.element_ty),
    )


def _geometry(x_shape, w_shape, stride, padding, dilation):
    n, _, h, w = x_shape
    kh, kw = w_shape[4], w_shape[5]
    oh, ow = conv_output_size((h, w), (kh, kw), stride, padding, dilation)
    return n, h, w, oh, ow, kh, kw


def _args(stride, padding, dilation):
    return (stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1])


def _conv_fwd(xh, wp, index, bias, geo, conv):
    n, h, w, oh, ow, kh, kw = geo
    out_blocks, d = index.shape
    block = wp.shape[-1]
    c_in, c_out = xh.shape[-1], out_blocks * block
    m = n * oh * ow
    y = empty((n, oh, ow, c_out), xh.dtype, xh.device)
    if m == 0:
        return y
    cfg = gemm_config("conv_fwd", m, block, xh.device)
    # wp: (out_blocks, D, kh, kw, i, j)
    so, sk, sr, ss, si, sj = wp.stride()
    _xconv_fwd_kernel[(out_blocks * triton.cdiv(m, cfg.block_m),)](
        xh,
        wp,
        index,
        bias if bias is not None else y,
        y,
        m,
        out_blocks,
        d,
        h,
        w,
        c_in,
        oh,
        ow,
        c_out,
        *_args(*conv),
        so,
        sk,
        sr,
        ss,
        si,
        sj,
        KH=kh,
        KW=kw,
        BLOCK=block,
        BLOCK_M=cfg.block_m,
        HAS_BIAS=bias is not None,
        PREC=dot_precision(xh.dtype),
        UPCAST=upcast_dot(xh.dtype),
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )
    return y


def _conv_dx(dz, wp, t_index, t_slot, geo, conv, c_in):
    n, h, w, oh, ow, kh, kw = geo
    in_blocks, t = t_index.shape
    block = wp.shape[-1]
    m = n * h * w
    dx = empty((n, h, w, c_in), dz.dtype, dz.device)
    if m == 0:
        return dx
    cfg = gemm_config("conv_dx", m, block, dz.device)
    so, sk, sr, ss, si, sj = wp.stride()
    _xconv_dx_kernel[(in_blocks * triton.cdiv(m, cfg.block_m),)](
        dz,
        wp,
        t_index,
        t_slot,
        dx,
        m,
        in_blocks,
        t,
        h,
        w,
        c_in,
        oh,
        ow,
        dz.shape[-1],
        *_args(*conv),
        so,
        sk,
        sr,
        ss,
        si,
        sj,
        KH=kh,
        KW=kw,
        BLOCK=block,
        BLOCK_M=cfg.block_m,
        T_POW2=triton.next_power_of_2(t),
        PREC=dot_precision(dz.dtype),
        UPCAST=upcast_dot(dz.dtype),
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )
    return dx


def _conv_dw(dz, xh, index, geo, conv, weight_shape, dtype):
    n, h, w, oh, ow, kh, kw = geo
    out_blocks, d, block = weight_shape[0], weight_shape[1], weight_shape[2]
    m = n * oh * ow
    if m == 0:
        return torch.zeros(weight_shape, dtype=dtype, device=dz.device)
    cfg = reduce_config("conv_dw", m, out_blocks * d * kh * kw, block, dz.device)
    rows, split = split_rows(m, cfg.split, cfg.block_m)
    if split == 1:
        dw = empty(weight_shape, dtype, dz.device)
        buf = dw.unsqueeze(0)
    else:
        buf = empty((split,) + tuple(weight_shape), torch.float32, dz.device)
    # buf: (split, out_blocks, D, i, j, kh, kw)
    ssp, so, sk, si, sj, sr, ss = buf.stride()
    _xconv_dw_kernel[(out_blocks * d * kh * kw, split)](
        dz,
        xh,
        index,
        buf,
        m,
        d,
        rows,
        h,
        w,
        xh.shape[-1],
        oh,
        ow,
        dz.shape[-1],
        *_args(*conv),
        ssp,
        so,
        sk,
        sr,
        ss,
        si,
        sj,
        KH=kh,
        KW=kw,
        BLOCK=block,
        BLOCK_M=cfg.block_m,
        PREC=dot_precision(dz.dtype),
        UPCAST=upcast_dot(dz.dtype),
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )
    return buf[0] if split == 1 else buf.sum(0).to(dtype)


class _XConv2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, index, t_index, t_slot, stride, padding, dilation):
        conv = (stride, padding, dilation)
        geo = _geometry(x.shape, weight.shape, *conv)
        xh = x.permute(0, 2, 3, 1).contiguous()
        wp = weight.permute(0, 1, 4, 5, 2, 3).contiguous()
        y = _conv_fwd(xh, wp, index, bias, geo, conv)
        ctx.conv, ctx.geo, ctx.has_bias = conv, geo, bias is not None
        ctx.save_for_backward(xh, weight, index, t_index, t_slot)
        return y.permute(0, 3, 1, 2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy):
        xh, weight, index, t_index, t_slot = ctx.saved_tensors
        dz = dy.permute(0, 2, 3, 1).contiguous()
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            wp = weight.permute(0, 1, 4, 5, 2, 3).contiguous()
            dx = _conv_dx(dz, wp, t_index, t_slot, ctx.geo, ctx.conv, xh.shape[-1])
            dx = dx.permute(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            dw = _conv_dw(dz, xh, index, ctx.geo, ctx.conv, weight.shape, weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dz.sum((0, 1, 2), dtype=torch.float32).to(weight.dtype)
        return dx, dw, db, None, None, None, None, None, None


@torch.compiler.disable  # runs eagerly under torch.compile (a graph break)
def xconv2d_triton(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    t_index: torch.Tensor,
    t_slot: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int | tuple[int, int],
    padding: int | tuple[int, int],
    dilation: int | tuple[int, int],
    *,
    table_check: TableCheck | None = None,
) -> torch.Tensor:
    """Block-sparse X-Conv2d (implicit GEMM, zero padding), with autograd.

    Parameters
    ----------
    x : NCHW ``(N, in_blocks*block, H, W)``, float32/bfloat16/float16, CUDA (or
        CPU under ``TRITON_INTERPRET=1``).
    weight : ``(out_blocks, D, block, block, kh, kw)``, same dtype.
    index, t_index, t_slot : ELL tables of :mod:`compiler.layout` (int64).
    bias : ``(out_blocks*block,)`` or ``None``.
    stride, padding, dilation : ints or int pairs (``>= 1``, ``>= 0``, ``>= 1``).
    table_check : as in :func:`compiler.kernels.linear.xlinear_triton`.

    Returns ``(N, out_blocks*block, OH, OW)`` in ``x.dtype`` with the
    ``F.conv2d`` output size, laid out channels-last in memory.  ``block``
    must be 16, 32 or 64.

    Reference: Prabhu et al., *Deep Expander Networks*, ECCV 2018 (X-Conv).

    Examples
    --------
    >>> import numpy as np
    >>> from compiler.layout import transpose_ell
    >>> dev = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: with TRITON_INTERPRET=1
    >>> ti, ts, _ = transpose_ell(np.array([[1], [0]]), 2)
    >>> idx, ti, ts = (torch.as_tensor(t, device=dev) for t in ([[1], [0]], ti, ts))
    >>> w = torch.randn(2, 1, 16, 16, 3, 3, device=dev)
    >>> x = torch.randn(2, 32, 5, 5, device=dev)
    >>> y = xconv2d_triton(x, w, idx, ti, ts, None, 1, 1, 1)
    >>> y.shape == (x.shape[0], w.shape[0] * w.shape[2]) + x.shape[2:]
    True
    """
    what = "xconv2d_triton"
    block = check_operands(x, weight, index, 6, what)
    if x.dim() != 4 or x.shape[1] % block:
        raise ValueError(
            f"{what}: x must be NCHW with channels a multiple of {block}, got {tuple(x.shape)}"
        )
    check_index_shape(weight, index, what)
    conv = (
        kernel_pair(stride, "stride", 1, what),
        kernel_pair(padding, "padding", 0, what),
        kernel_pair(dilation, "dilation", 1, what),
    )
    x, weight, bias = prepare_operands(x, weight, index, bias, what)
    _, _, _, oh, ow, _, _ = _geometry(x.shape, weight.shape, *conv)
    if oh < 1 or ow < 1:
        raise ValueError(f"{what}: output size {oh}x{ow} is empty for input {tuple(x.shape[2:])}")
    in_blocks = x.shape[1] // block
    index, t_index, t_slot = check_tables(index, t_index, t_slot, in_blocks, what, table_check)
    bias = bias.contiguous() if bias is not None else None
    return _XConv2dFunction.apply(x, weight, bias, index, t_index, t_slot, *conv)
