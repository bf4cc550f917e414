"""The ``gather`` backend: the fast CPU path (the paper's "gather" method, §3.3).

Linear: the input's blocks are gathered with ``index_select`` into one
``(out_blocks, D*block, N)`` operand and multiplied with one batched matmul.
Convolution: the input channels are gathered into ``(N, out_blocks*D*block, H,
W)`` and convolved with a grouped convolution, ``groups = out_blocks``.  Both
are custom autograd functions that do not keep the gathered tensor for the
backward pass; input gradients are formed by gathers too (:class:`GatherPlan`:
no scatter, which is slow on the CPU), and both work in chunks so their
working set stays near :data:`GATHER_CHUNK_ELEMENTS` (:data:`CONV_CHUNK_ELEMENTS`).
The linear layer's backward gathers only the output gradient, once, and uses
it for both the input and the weight gradient.  A 1x1 convolution is the
linear layer over pixels and runs as broadcast block matmuls in the NCHW
layout instead (no grouped convolution, no transpose), in chunks of samples
(:data:`CONV1X1_CHUNK_ELEMENTS`), with the same single-gather backward.

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
    "CONV1X1_CHUNK_ELEMENTS",
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


def _traced() -> bool:
    """Whether torch is tracing (``torch.export``, ``torch.compile``) or recording autograd.

    The forward passes then use functional ops; otherwise they write reused buffers
    in place (``out=``), which tracing does not accept.
    """
    return torch.is_grad_enabled() or torch.compiler.is_compiling()


def _linear_budget(b: int) -> int:
    """The linear gather's chunk budget: :data:`GATHER_CHUNK_ELEMENTS`, x4 for blocks >= 32.

    Measured at width 4096, batch 512, density 1/8 (2 threads), with the
    gather buffer reused across chunks: blocks 32 and 64 are fastest at
    2**20-2**21 elements (fewer, larger ``bmm`` calls), 25-40% faster than at
    2**19 and than at 2**22 and beyond.
    """
    return GATHER_CHUNK_ELEMENTS * (4 if b >= 32 else 1)


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

    Layout: ``xt`` is the input transposed to ``(in_blocks, block*N)`` so that
    one ``index_select`` on dim 0 copies whole contiguous rows; a chunk of ``c``
    output blocks gathers ``(c*D, block*N)`` = ``(c, D*block, N)`` into a
    buffer reused across chunks, and one ``bmm`` writes ``(c, block, N)`` into
    the transposed output, turned into ``(N, out)`` by one transpose at the
    end.  ``xt`` is what is saved
    for the backward pass (the same size as ``x``; it is not transposed again).
    Backward, by the :class:`GatherPlan`: per group of input blocks with ``t``
    consumers, gather the ``t`` output-gradient blocks of each (``(m, t*block,
    N)``) once and use it twice: grad_x is one ``bmm`` with the ``t`` weight
    blocks side by side (the sum over consumers happens inside the matmul),
    grad_w one ``bmm`` with the group's own input blocks, written to the
    weight's slots.  The input is never gathered again.
    """

    @staticmethod
    def forward(ctx, x, weight, index, bias, slots, owners, inverse, groups):
        n, inp = x.shape
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        ib = inp // b
        xt = x.t().contiguous().view(ib, b * n)
        wr = weight.transpose(1, 2).reshape(ob, b, d * b)
        flat = index.reshape(-1)
        yt = x.new_empty((ob, b, n))
        c = _chunk(ob, d * b * n, _linear_budget(b))
        buf = None
        for s in range(0, ob, c):
            e = min(ob, s + c)
            if buf is None or buf.shape[0] != (e - s) * d:
                buf = x.new_empty(((e - s) * d, b * n))
            if _traced():  # export and compile trace functional ops only: no out=
                g = torch.index_select(xt, 0, flat[s * d : e * d])
                yt[s:e] = torch.bmm(wr[s:e], g.view(e - s, d * b, n))
                continue
            torch.index_select(xt, 0, flat[s * d : e * d], out=buf)
            torch.bmm(wr[s:e], buf.view(e - s, d * b, n), out=yt[s:e])
        del buf
        y = yt.view(ob * b, n).t().contiguous()
        del yt
        if bias is not None:
            y += bias
        ctx.save_for_backward(xt, weight, index, slots, owners, inverse)
        ctx.groups = groups
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, gy):
        xt, weight, index, slots, owners, inverse = ctx.saved_tensors
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        ib = xt.shape[0]
        n = xt.shape[1] // b
        need_x, need_w, _, need_b = ctx.needs_input_grad[:4]
        gx = gw = gb = None
        if need_x or need_w:
            rows = gy.t().contiguous().view(ob, b * n)
            flat = index.reshape(-1)
            wslots = weight.reshape(ob * d, b, b)
            xb = xt.view(ib, b, n)
            if need_x:
                gxt = _zero_or_empty(xt, (ib, b, n), ctx.groups, ib)
            if need_w:
                gws = xt.new_empty((ob * d, b, b))
            buf = None
            for s, m, t in _plan_chunks(ctx.groups, b * n, _linear_budget(b)):
                sl = slots[s : s + m * t]
                if buf is None or buf.shape[0] != m * t:
                    buf = xt.new_empty((m * t, b * n))
                torch.index_select(rows, 0, owners[s : s + m * t], out=buf)
                g = buf.view(m, t * b, n)
                blocks = flat[sl[::t]]  # the group's input blocks, in plan order
                if need_x:
                    w = wslots.index_select(0, sl).view(m, t, b, b)  # (i, j) per slot
                    w = w.permute(0, 3, 1, 2).reshape(m, b, t * b)  # W^T side by side
                    gxt.index_copy_(0, blocks, torch.bmm(w, g))  # (m, b, N)
                if need_w:
                    xs = xb.index_select(0, blocks)  # (m, b, N)
                    part = torch.bmm(g, xs.transpose(1, 2))  # (m, t*b, b)
                    gws.index_copy_(0, sl, part.view(m * t, b, b))
            del buf
            if need_x:
                gx = gxt.view(ib * b, n).t().contiguous()
            if need_w:
                gw = gws.view(weight.shape)
        if need_b and ctx.has_bias:
            gb = gy.sum(0)
        return gx, gw, None, gb, None, None, None, None


def _zero_or_empty(like: torch.Tensor, shape, groups, in_blocks: int) -> torch.Tensor:
    """A new gradient buffer: zeros when some input block feeds nothing (no group fills it)."""
    used = sum(m for _, m, _ in groups)
    return like.new_zeros(shape) if used < in_blocks else like.new_empty(shape)


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
#: Target size (elements) of the gathered operand of the 1x1 convolution per
#: chunk of samples: 4 MiB of float32, so the gather buffer is reused from the
#: heap (no fresh pages to fault in) and stays in cache for its matmul.
CONV1X1_CHUNK_ELEMENTS: int = 1 << 20


class _GatherConv1x1(torch.autograd.Function):
    """1x1 expander convolution as batched block matmuls in the NCHW layout.

    A 1x1 convolution is ``y[n, :, p] = W x[n, :, p]`` for every pixel ``p``:
    the linear layer over ``(N*H*W, C)``.  Working on ``x`` viewed as
    ``(N, in_blocks, block, H*W)`` needs no transpose to or from NCHW.  The
    batch is split into chunks of ``k`` samples (:data:`CONV1X1_CHUNK_ELEMENTS`):
    a chunk gathers ``(k, out_blocks, D*block, H*W)`` into a reused buffer and
    one broadcast ``matmul`` with the weight ``(out_blocks, block, D*block)``
    writes ``(k, out_blocks, block, H*W)`` straight into the output.
    Backward, per chunk, by the :class:`GatherPlan`: the output gradient is
    gathered once per group of input blocks and used for both grad_x (one
    matmul with the weight blocks side by side) and grad_w (one matmul with
    the group's input blocks, summed over samples); the input is not
    gathered again.  Stride and padding are applied to ``x`` before (a 1x1
    kernel reads one pixel).
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
        y = x.new_empty((n, ob, b, hw))
        k = _chunk(n, ob * d * b * hw, CONV1X1_CHUNK_ELEMENTS)
        buf = bv = None
        for s in range(0, n, k):
            e = min(n, s + k)
            if buf is None or buf.shape[0] != e - s:
                buf = x.new_empty((e - s, ob * d, b * hw))
                bv = buf.view(e - s, ob, d * b, hw)
            if _traced():  # export and compile trace functional ops only: no out=
                g = torch.index_select(xv[s:e], 1, flat).view(e - s, ob, d * b, hw)
                y[s:e] = torch.matmul(wr, g)
            else:
                torch.index_select(xv[s:e], 1, flat, out=buf)
                torch.matmul(wr, bv, out=y[s:e])
            if bias is not None:
                y[s:e] += bias.view(1, ob, b, 1)
        del buf, bv
        ctx.save_for_backward(x, weight, index, slots, owners, inverse)
        ctx.groups = groups
        ctx.has_bias = bias is not None
        return y.view(n, ob * b, h, w)

    @staticmethod
    def backward(ctx, gy):
        x, weight, index, slots, owners, inverse = ctx.saved_tensors
        n, cin, h, w = x.shape
        hw = h * w
        ob, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
        ib = cin // b
        need_x, need_w, _, need_b = ctx.needs_input_grad[:4]
        need_b = bool(need_b and ctx.has_bias)
        gy = gy.contiguous()
        gx = gw = gb = None
        rows = gy.view(n, ob, b * hw)
        flat = index.reshape(-1)
        wslots = weight.reshape(ob * d, b, b)
        xb = x.view(n, ib, b, hw)
        groups = []  # per group: slots, owners, input blocks, first block if a run, W^T
        for s, m, t in ctx.groups:
            sl = slots[s : s + m * t]
            blocks = flat[sl[::t]]  # the group's input blocks, in plan order
            wt = wslots.index_select(0, sl).view(m, t, b, b)
            wt = wt.permute(0, 3, 1, 2).reshape(m, b, t * b)
            groups.append((sl, owners[s : s + m * t], blocks, _block_range(blocks), m, t, wt))
        if need_x:
            gx = x.new_empty((n, ib, b, hw))
            unused = torch.nonzero(inverse == sum(m for _, m, _ in ctx.groups)).flatten()
            if unused.numel():
                gx.index_fill_(1, unused, 0.0)
        gws = [None] * len(groups)
        k = _chunk(n, ob * d * b * hw, CONV1X1_CHUNK_ELEMENTS) if (need_x or need_w) else n
        for s0 in range(0, n, k):
            e0 = min(n, s0 + k)
            if need_b:
                part = gy[s0:e0].sum((0, 2, 3))
                gb = part if gb is None else gb + part
            if not (need_x or need_w):
                continue
            for i, (_sl, own, blocks, lo, m, t, wt) in enumerate(groups):
                g = rows[s0:e0].index_select(1, own).view(e0 - s0, m, t * b, hw)
                if need_x:
                    if lo is None:
                        gx[s0:e0].index_copy_(1, blocks, torch.matmul(wt, g))
                    elif m == ib:
                        torch.matmul(wt, g, out=gx[s0:e0])
                    else:  # a run of blocks: contiguous per sample, written in place
                        for j in range(e0 - s0):
                            torch.bmm(wt, g[j], out=gx[s0 + j, lo : lo + m])
                if need_w:
                    xs = xb[s0:e0].index_select(1, blocks)  # contiguous (k, m, b, hw)
                    part = torch.matmul(g, xs.transpose(2, 3)).sum(0)  # (m, t*b, b)
                    gws[i] = part if gws[i] is None else gws[i].add_(part)
                del g
        if need_x:
            gx = gx.view(n, cin, h, w)
        if need_w:
            gw = x.new_empty((ob * d, b, b))
            for (sl, *_), part in zip(groups, gws):
                gw.index_copy_(0, sl, part.reshape(-1, b, b))
            gw = gw.view(weight.shape)
        return gx, gw, None, gb, None, None, None, None


def _block_range(blocks: torch.Tensor) -> int | None:
    """The first block if ``blocks`` is a run of consecutive ids (a view will do), else None."""
    m = blocks.shape[0]
    lo = int(blocks[0])
    if m == 1 or bool((blocks == torch.arange(lo, lo + m, device=blocks.device)).all()):
        return lo
    return None


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
