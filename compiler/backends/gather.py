"""The ``gather`` backend: the fast CPU path (the paper's "gather" method, §3.3).

Linear: the input's blocks are gathered with ``index_select`` into one
``(out_blocks, D*block, N)`` operand and multiplied with one batched matmul.
Convolution: the input channels are gathered into ``(N, out_blocks*D*block, H,
W)`` and convolved with a grouped convolution, ``groups = out_blocks``.  Both
are custom autograd functions that do not keep the gathered tensor for the
backward pass (it is gathered again); input gradients are formed by gathers
too (:class:`GatherPlan`: no scatter, which is slow on the CPU), and both work
in chunks so their working set stays near :data:`GATHER_CHUNK_ELEMENTS`
(:data:`CONV_CHUNK_ELEMENTS`).  A 1x1 convolution is the linear layer over
pixels and runs as broadcast block matmuls in the NCHW layout instead (no
grouped convolution, no transpose).

The functions here trust their arguments; :mod:`compiler.functional` validates
them first.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§3.3 (gather, then a grouped convolution with ``groups = C_out``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "GATHER_CHUNK_ELEMENTS",
    "CONV_CHUNK_ELEMENTS",
    "GatherPlan",
    "gather_plan",
    "xlinear",
    "xconv2d",
]

#: Target size (elements) of the gathered operand the linear ``gather`` backend
#: builds per chunk of output blocks (and of the gradient operand per chunk of
#: input blocks).  2 MiB of float32 stays in cache between the gather and the
#: matmul that reads it; measured best of 2**18 .. 2**24 at width 4096, batch
#: 512 on the 2-core CPU (benchmarks/bench_layers.py).
GATHER_CHUNK_ELEMENTS: int = 1 << 19

#: The same for the convolution: larger, so each grouped convolution stays big
#: enough for oneDNN to be efficient (8 MiB of float32).
CONV_CHUNK_ELEMENTS: int = 1 << 21


# ---------------------------------------------------------------------------
# gather backend: the plan for input gradients
# ---------------------------------------------------------------------------
class GatherPlan(NamedTuple):
    """How the gather backend forms input gradients without a scatter.

    The input gradient of input block ``ib`` sums over the ``t`` slots
    ``(ob, k)`` with ``index[ob, k] == ib``.  Input blocks are sorted by that
    count ``t``; ``slots`` lists every slot id ``ob*D + k`` grouped by input
    block in that order (``owners = slots // D``, the output block of each);
    ``groups`` holds ``(first slot position, number of blocks, t)`` for each
    run of equal counts, so one batched matmul (or one grouped transposed
    convolution) per group computes those blocks' gradients exactly, with no
    padding; ``inverse[ib]`` is the position of input block ``ib`` in the
    concatenated result, or one past the used blocks (a zero block) for an
    input block that feeds nothing.  Built once per graph by :func:`gather_plan`.
    """

    slots: torch.Tensor
    owners: torch.Tensor
    inverse: torch.Tensor
    groups: tuple[tuple[int, int, int], ...]


def gather_plan(index: torch.Tensor, in_blocks: int) -> GatherPlan:
    """The :class:`GatherPlan` of an ELL ``index`` over ``in_blocks`` input blocks.

    Computed on the host (numpy) once per graph; the tensors land on
    ``index``'s device.  Repeated entries (multi-edges) are separate slots.

    Reference: the transposed ELL tables of :func:`compiler.layout.transpose_ell`,
    grouped by row length so that no padding is multiplied.

    Examples
    --------
    >>> p = gather_plan(torch.tensor([[0, 2], [2, 3]]), 4)
    >>> p.slots.tolist(), p.groups, p.inverse.tolist()
    ([0, 3, 1, 2], ((0, 2, 1), (2, 1, 2)), [0, 3, 2, 1])
    """
    idx = index.detach().cpu().numpy().astype(np.int64)
    ob, d = idx.shape
    ib_of = idx.ravel()
    count = np.bincount(ib_of, minlength=in_blocks)
    used = np.flatnonzero(count)
    used = used[np.lexsort((used, count[used]))]  # by count, then block id
    rank = np.full(in_blocks, used.shape[0], dtype=np.int64)
    rank[used] = np.arange(used.shape[0])
    slot = np.arange(ob * d, dtype=np.int64)
    slots = slot[np.lexsort((slot, rank[ib_of]))]
    groups = []
    pos = blk = 0
    for t in np.unique(count[used]):
        m = int((count[used] == t).sum())
        groups.append((pos, m, int(t)))
        pos += m * int(t)
        blk += m
    dev = index.device
    return GatherPlan(
        torch.from_numpy(slots).to(dev),
        torch.from_numpy(slots // d).to(dev),
        torch.from_numpy(rank).to(dev),
        tuple(groups),
    )


def _linear_budget(b: int) -> int:
    """The linear gather's chunk budget: :data:`GATHER_CHUNK_ELEMENTS`, x4 for blocks >= 64.

    Measured at width 4096, batch 512, density 1/8 (2 threads): block 32 is
    fastest at 2**19 elements, block 64 at 2**21 (fewer, larger ``bmm`` calls).
    """
    return GATHER_CHUNK_ELEMENTS * (4 if b >= 64 else 1)


def _chunk(total: int, per_item: int, budget: int | None = None) -> int:
    budget = GATHER_CHUNK_ELEMENTS if budget is None else budget
    return max(1, min(total, budget // max(per_item, 1)))


def _plan_chunks(groups, per_slot: int, budget: int | None = None):
    """Split the plan's groups into ``(first slot, blocks, t)`` chunks of bounded size."""
    for start, m, t in groups:
        c = _chunk(m, t * per_slot, budget)
        for i in range(0, m, c):
            yield start + i * t, min(c, m - i), t


# ---------------------------------------------------------------------------
# gather backend: linear
# ---------------------------------------------------------------------------
class _GatherLinear(torch.autograd.Function):
    """y = x W^T over the ELL graph; gathers per chunk of output blocks.

    Layout: ``xT`` is the input transposed to ``(in_blocks, block*N)`` so that
    one ``index_select`` on dim 0 copies whole contiguous rows; a chunk of ``c``
    output blocks gathers ``(c*D, block*N)`` = ``(c, D*block, N)`` and one
    ``bmm`` with the weight as ``(c, block, D*block)`` gives ``(c, block, N)``.
    Backward: grad_w with one ``bmm`` per chunk against the re-gathered input;
    grad_x by the :class:`GatherPlan`: per group of input blocks with ``t``
    consumers, gather the ``t`` output-gradient blocks and weight blocks and
    run one ``bmm`` (the sum over consumers happens inside the matmul).
    """

    @staticmethod
    def forward(ctx, x, weight, index, bias, slots, owners, inverse, groups):
        n, inp = x.shape
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        ib = inp // b
        xt = x.t().contiguous().view(ib, b * n)
        wr = weight.transpose(1, 2).reshape(ob, b, d * b)
        flat = index.reshape(-1)
        y = x.new_empty((n, ob, b))
        c = _chunk(ob, d * b * n, _linear_budget(b))
        for s in range(0, ob, c):
            e = min(ob, s + c)
            xg = xt.index_select(0, flat[s * d : e * d]).view(e - s, d * b, n)
            y[:, s:e, :] = torch.bmm(wr[s:e], xg).permute(2, 0, 1)
        y = y.view(n, ob * b)
        if bias is not None:
            y += bias
        ctx.save_for_backward(x, weight, index, slots, owners, inverse)
        ctx.groups = groups
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, index, slots, owners, inverse = ctx.saved_tensors
        n, inp = x.shape
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        ib = inp // b
        need_x, need_w, _, need_b = ctx.needs_input_grad[:4]
        gt = gy.t().contiguous().view(ob, b, n)
        gx = gw = gb = None
        if need_w:
            xt = x.t().contiguous().view(ib, b * n)
            flat = index.reshape(-1)
            parts = []
            c = _chunk(ob, d * b * n, _linear_budget(b))
            for s in range(0, ob, c):
                e = min(ob, s + c)
                xg = xt.index_select(0, flat[s * d : e * d]).view(e - s, d * b, n)
                parts.append(torch.bmm(gt[s:e], xg.transpose(1, 2)))
            del xt, xg
            gw = torch.cat(parts).view(ob, b, d, b).transpose(1, 2).contiguous()
            del parts
        if need_x:
            rows = gt.view(ob, b * n)
            wslots = weight.reshape(ob * d, b, b)
            outs = []
            for s, m, t in _plan_chunks(ctx.groups, b * n, _linear_budget(b)):
                g = rows.index_select(0, owners[s : s + m * t]).view(m, t * b, n)
                w = wslots.index_select(0, slots[s : s + m * t]).view(m, t, b, b)
                outs.append(torch.bmm(w.permute(0, 3, 1, 2).reshape(m, b, t * b), g))
            outs.append(x.new_zeros((1, b, n)))
            gxt = torch.cat(outs)
            del outs, g, w
            gx = gxt.index_select(0, inverse).view(inp, n).t().contiguous()
        if need_b and ctx.has_bias:
            gb = gy.sum(0)
        return gx, gw, None, gb, None, None, None, None


# ---------------------------------------------------------------------------
# gather backend: convolution
# ---------------------------------------------------------------------------
def _gather_channels(x: torch.Tensor, flat: torch.Tensor, b: int) -> torch.Tensor:
    n, cin, h, w = x.shape
    xg = x.reshape(n, cin // b, b * h * w).index_select(1, flat)
    return xg.view(n, flat.shape[0] * b, h, w)


class _GatherConv2d(torch.autograd.Function):
    """Channel gather + grouped convolution, in chunks of output blocks.

    Forward: a chunk of ``c`` output blocks gathers its ``c*D`` input blocks
    into ``(N, c*D*block, H, W)`` and runs one convolution with ``groups = c``.
    The gathered input is not kept (it is gathered again for the weight
    gradient).  Input gradient: by the :class:`GatherPlan`, one grouped
    transposed convolution per group of input blocks with ``t`` consumers
    (``groups`` = blocks, ``t*block -> block`` channels each), no scatter.
    Chunks keep gathered tensors near :data:`GATHER_CHUNK_ELEMENTS`, so peak
    memory stays close to a dense layer's and the allocator recycles buffers.
    """

    @staticmethod
    def forward(
        ctx, x, weight, index, bias, stride, padding, dilation, slots, owners, inverse, groups
    ):
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        kh, kw = weight.shape[4], weight.shape[5]
        x = x.contiguous()
        flat = index.reshape(-1)
        wc = weight.transpose(1, 2).reshape(ob * b, d * b, kh, kw)
        c = _chunk(ob, x.shape[0] * d * b * x.shape[2] * x.shape[3], CONV_CHUNK_ELEMENTS)
        parts = []
        for s in range(0, ob, c):
            e = min(ob, s + c)
            xg = _gather_channels(x, flat[s * d : e * d], b)
            bc = None if bias is None else bias[s * b : e * b]
            parts.append(F.conv2d(xg, wc[s * b : e * b], bc, stride, padding, dilation, e - s))
            del xg
        y = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
        ctx.save_for_backward(x, weight, index, slots, owners, inverse)
        ctx.conf = (stride, padding, dilation, bias is not None, groups)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, index, slots, owners, inverse = ctx.saved_tensors
        stride, padding, dilation, has_bias, groups = ctx.conf
        need_x, need_w, _, need_b = ctx.needs_input_grad[:4]
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        kh, kw = weight.shape[4], weight.shape[5]
        n, cin, h, w = x.shape
        gy = gy.contiguous()
        ho, wo = gy.shape[2], gy.shape[3]
        gx = gw = gb = None
        need_b = bool(need_b and has_bias)
        if need_w or need_b:
            flat = index.reshape(-1)
            wc = weight.transpose(1, 2).reshape(ob * b, d * b, kh, kw)
            gws, gbs = [], []
            c = _chunk(ob, n * d * b * h * w, CONV_CHUNK_ELEMENTS)
            for s in range(0, ob, c):
                e = min(ob, s + c)
                xg = _gather_channels(x, flat[s * d : e * d], b)
                _, gwc, gbc = torch.ops.aten.convolution_backward(
                    gy if c >= ob else gy[:, s * b : e * b],
                    xg,
                    wc[s * b : e * b],
                    [(e - s) * b] if has_bias else None,
                    list(stride),
                    list(padding),
                    list(dilation),
                    False,
                    [0, 0],
                    e - s,
                    [False, bool(need_w), need_b],
                )
                del xg
                gws.append(gwc)
                gbs.append(gbc)
            if need_w:
                gwc = gws[0] if len(gws) == 1 else torch.cat(gws)
                gw = gwc.view(ob, b, d, b, kh, kw).transpose(1, 2).contiguous()
            if need_b:
                gb = gbs[0] if len(gbs) == 1 else torch.cat(gbs)
        if need_x:
            out_pad = [
                size - ((o - 1) * st - 2 * p + dl * (k - 1) + 1)
                for size, o, st, p, dl, k in zip(
                    (h, w), (ho, wo), stride, padding, dilation, (kh, kw)
                )
            ]
            rows = gy.view(n, ob, b * ho * wo)
            wslots = weight.reshape(ob * d, b, b, kh, kw)
            outs = []
            per_slot = n * b * max(ho * wo, h * w)
            for s, m, t in _plan_chunks(groups, per_slot, CONV_CHUNK_ELEMENTS):
                g = rows.index_select(1, owners[s : s + m * t]).view(n, m * t * b, ho, wo)
                wt = wslots.index_select(0, slots[s : s + m * t]).reshape(m * t * b, b, kh, kw)
                outs.append(F.conv_transpose2d(g, wt, None, stride, padding, out_pad, m, dilation))
            outs.append(x.new_zeros((n, b, h, w)))
            gx = torch.cat(outs, 1).view(n, -1, b * h * w).index_select(1, inverse)
            gx = gx.view(n, cin, h, w)
        return gx, gw, None, gb, None, None, None, None, None, None, None


# ---------------------------------------------------------------------------
# gather backend: 1x1 convolution (a block-sparse matmul over pixels)
# ---------------------------------------------------------------------------
class _GatherConv1x1(torch.autograd.Function):
    """1x1 expander convolution as batched block matmuls in the NCHW layout.

    A 1x1 convolution is ``y[n, :, p] = W x[n, :, p]`` for every pixel ``p``:
    the linear layer over ``(N*H*W, C)``.  Working on ``x`` viewed as
    ``(N, in_blocks, block, H*W)`` needs no transpose to or from NCHW: a chunk
    of ``c`` output blocks gathers ``(N, c, D*block, H*W)`` and one broadcast
    ``matmul`` with the weight ``(c, block, D*block)`` gives ``(N, c, block,
    H*W)``.  grad_w: ``matmul(gy, xg^T)`` summed over ``N``; grad_x: the
    :class:`GatherPlan`, as for the linear layer.  Stride and padding are
    applied to ``x`` before (a 1x1 kernel reads one pixel).
    """

    @staticmethod
    def forward(ctx, x, weight, index, bias, slots, owners, inverse, groups):
        x = x.contiguous()
        n, cin, h, w = x.shape
        hw = h * w
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        ib = cin // b
        wr = weight[..., 0, 0].transpose(1, 2).reshape(ob, b, d * b)
        flat = index.reshape(-1)
        xv = x.view(n, ib, b * hw)
        budget = max(CONV_CHUNK_ELEMENTS, n * ob * b * hw)
        c = _chunk(ob, n * d * b * hw, budget)
        if c >= ob:
            xg = xv.index_select(1, flat).view(n, ob, d * b, hw)
            y = torch.matmul(wr, xg)
            del xg
        else:
            y = x.new_empty((n, ob, b, hw))
            for s in range(0, ob, c):
                e = min(ob, s + c)
                xg = xv.index_select(1, flat[s * d : e * d]).view(n, e - s, d * b, hw)
                y[:, s:e] = torch.matmul(wr[s:e], xg)
                del xg
        y = y.view(n, ob * b, h, w)
        if bias is not None:
            y += bias.view(1, -1, 1, 1)
        ctx.save_for_backward(x, weight, index, slots, owners, inverse)
        ctx.groups = groups
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, index, slots, owners, inverse = ctx.saved_tensors
        n, cin, h, w = x.shape
        hw = h * w
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        ib = cin // b
        need_x, need_w, _, need_b = ctx.needs_input_grad[:4]
        gy = gy.contiguous()
        g4 = gy.view(n, ob, b, hw)
        budget = max(CONV_CHUNK_ELEMENTS, n * ob * b * hw)
        gx = gw = gb = None
        if need_w:
            flat = index.reshape(-1)
            xv = x.view(n, ib, b * hw)
            parts = []
            c = _chunk(ob, n * d * b * hw, budget)
            for s in range(0, ob, c):
                e = min(ob, s + c)
                xg = xv.index_select(1, flat[s * d : e * d]).view(n, e - s, d * b, hw)
                parts.append(torch.matmul(g4[:, s:e], xg.transpose(2, 3)).sum(0))
                del xg
            gwr = parts[0] if len(parts) == 1 else torch.cat(parts)
            gw = gwr.view(ob, b, d, b).transpose(1, 2).reshape(weight.shape).contiguous()
        if need_x:
            rows = gy.view(n, ob, b * hw)
            wslots = weight.reshape(ob * d, b, b)
            outs = []
            for s, m, t in _plan_chunks(ctx.groups, n * b * hw, budget):
                g = rows.index_select(1, owners[s : s + m * t]).view(n, m, t * b, hw)
                wt = wslots.index_select(0, slots[s : s + m * t]).view(m, t, b, b)
                outs.append(torch.matmul(wt.permute(0, 3, 1, 2).reshape(m, b, t * b), g))
            outs.append(x.new_zeros((n, 1, b, hw)))
            gx = torch.cat(outs, 1).index_select(1, inverse).view(n, cin, h, w)
        if need_b and ctx.has_bias:
            gb = gy.sum((0, 2, 3))
        return gx, gw, None, gb, None, None, None, None


def _conv1x1_input(x: torch.Tensor, stride, padding) -> torch.Tensor:
    """What a 1x1 kernel reads: ``x`` zero-padded, then every ``stride``-th pixel."""
    if padding != (0, 0):
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    if stride != (1, 1):
        x = x[:, :, :: stride[0], :: stride[1]]
    return x


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------
def xlinear(
    x2: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None,
    plan: GatherPlan,
) -> torch.Tensor:
    """``x2 W^T + bias`` for a 2-d ``x2`` ``(N, in)`` by gathers and batched matmuls.

    Examples
    --------
    >>> idx = torch.tensor([[2], [0]])
    >>> xlinear(torch.tensor([[1.0, 2.0, 3.0]]), torch.ones(2, 1, 1, 1), idx, None,
    ...         gather_plan(idx, 3))
    tensor([[3., 1.]])
    """
    p = plan
    return _GatherLinear.apply(x2, weight, index, bias, p.slots, p.owners, p.inverse, p.groups)


def xconv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    plan: GatherPlan,
) -> torch.Tensor:
    """Channel gather + grouped convolution (a 1x1 kernel: block matmuls over pixels).

    Examples
    --------
    >>> idx = torch.tensor([[1]])
    >>> y = xconv2d(torch.arange(8.0).reshape(1, 2, 2, 2), torch.ones(1, 1, 1, 1, 1, 1), idx,
    ...             None, (1, 1), (0, 0), (1, 1), gather_plan(idx, 2))
    >>> y.flatten()
    tensor([4., 5., 6., 7.])
    """
    p = plan
    if tuple(weight.shape[4:]) == (1, 1):
        xs = _conv1x1_input(x, stride, padding)
        return _GatherConv1x1.apply(xs, weight, index, bias, p.slots, p.owners, p.inverse, p.groups)
    return _GatherConv2d.apply(
        x, weight, index, bias, stride, padding, dilation, p.slots, p.owners, p.inverse, p.groups
    )
