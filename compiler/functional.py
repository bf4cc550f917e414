"""The math of expander layers, one function per layer type and backend.

Every backend reads the ELL block-index table of :mod:`compiler.ell`:

* ``index``: int64 ``(out_blocks, D)``, the input blocks of each output block;
* ``weight``: ``(out_blocks, D, block, block[, kh, kw])``; ``weight[ob, k, i, j]``
  joins input node ``index[ob, k] * block + j`` to output node ``ob * block + i``;
* ``y[n, ob*block + i] = bias[ob*block + i] + sum_k sum_j weight[ob, k, i, j] *
  x[n, index[ob, k]*block + j]`` (for convolutions the product is a 2-d
  cross-correlation with the ``kh x kw`` kernel, exactly as in ``F.conv2d``).

Backends
--------
``"masked"``
    The reference: scatter the packed weight into a dense ``(out, in[, kh, kw])``
    matrix (zeros off the graph) and run ``F.linear`` / ``F.conv2d``.  This is
    what the authors' released code does; no compute is saved.
``"gather"``
    The fast CPU path (the paper's "gather" method, §3.3).  Linear: the input's
    blocks are gathered with ``index_select`` into one ``(out_blocks, D*block,
    N)`` operand and multiplied with one batched matmul.  Convolution: the input
    channels are gathered into ``(N, out_blocks*D*block, H, W)`` and convolved
    with a grouped convolution, ``groups = out_blocks``.  Both are custom
    autograd functions that do not keep the gathered tensor for the backward
    pass (it is gathered again); input gradients are formed by gathers too
    (:class:`GatherPlan`: no scatter, which is slow on the CPU), and both work
    in chunks so their working set stays near :data:`GATHER_CHUNK_ELEMENTS`
    (:data:`CONV_CHUNK_ELEMENTS`).  A 1x1 convolution is the linear layer over
    pixels and runs as broadcast block matmuls in the NCHW layout instead
    (no grouped convolution, no transpose).
``"auto"`` (modules only)
    Resolved per layer shape when the layer is built, by the measured rule of
    :func:`auto_backend` (``triton`` on CUDA; on the CPU ``gather`` for
    blocks >= 8 at density <= 1/4, ``masked`` otherwise).

Every backend refuses an input whose width (features, channels) is not the
layer's, with the one-line ``ValueError`` of :func:`check_width`.
``"triton"``
    Block-sparse GPU kernels from :mod:`compiler.kernels` (imported lazily).

All backends compute the same function and the same gradients (input, weight,
bias) up to floating-point rounding.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§3.2-3.3.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "BACKENDS",
    "GATHER_CHUNK_ELEMENTS",
    "CONV_CHUNK_ELEMENTS",
    "xlinear",
    "xconv2d",
    "dense_weight",
    "packed_weight",
    "block_mask",
    "GatherPlan",
    "gather_plan",
    "check_width",
    "auto_backend",
    "AUTO_MIN_BLOCK",
    "AUTO_MAX_DENSITY",
]

#: The backends every expander layer accepts.
BACKENDS: tuple[str, ...] = ("masked", "gather", "triton")

#: Target size (elements) of the gathered operand the linear ``gather`` backend
#: builds per chunk of output blocks (and of the gradient operand per chunk of
#: input blocks).  2 MiB of float32 stays in cache between the gather and the
#: matmul that reads it; measured best of 2**18 .. 2**24 at width 4096, batch
#: 512 on the 2-core CPU (benchmarks/bench_layers.py).
GATHER_CHUNK_ELEMENTS: int = 1 << 19

#: The same for the convolution: larger, so each grouped convolution stays big
#: enough for oneDNN to be efficient (8 MiB of float32).
CONV_CHUNK_ELEMENTS: int = 1 << 21


#: The ``auto`` rule on the CPU: ``gather`` when the layer's block is at least
#: this many nodes (channels) and its density ``D / in`` is at most
#: :data:`AUTO_MAX_DENSITY`; ``masked`` (dense math) otherwise.  Measured with
#: ``benchmarks/bench_layers.py --only auto`` (2 threads, fwd+bwd): see
#: :func:`auto_backend`.
AUTO_MIN_BLOCK: int = 8

#: See :data:`AUTO_MIN_BLOCK`.
AUTO_MAX_DENSITY: float = 0.25


def auto_backend(
    in_width: int,
    block: int,
    degree: int,
    *,
    device: str | torch.device | None = None,
    triton_available: bool | None = None,
) -> str:
    """The backend ``"auto"`` picks for a layer: the fastest correct one, by a measured rule.

    * CUDA device (``device``, default: CUDA if available) with
      :mod:`compiler.kernels` importable: ``"triton"``.
    * Otherwise (CPU): ``"gather"`` when ``block >= AUTO_MIN_BLOCK`` and the
      density ``degree / in_width <= AUTO_MAX_DENSITY``; else ``"masked"``.
      Why: gather does ``density`` of the dense work, but in ``block x
      block`` matmuls with an extra gather pass; below block 8 those matmuls
      are memory-bound and gather is slower than the dense (masked) layer
      (block 1: 0.2-0.6x dense), and above density 1/4 the saved work does
      not pay for the gathers.  The thresholds come from the calibration
      sweep of ``benchmarks/bench_layers.py --only auto`` (linear, 3x3 and
      1x1 convolutions, blocks 1-32, densities 1/2-1/16), recorded in
      ``benchmarks/results/bench_layers.json`` under ``"auto"``.

    The rule depends only on the layer's shape, so it is fixed when the layer
    is built (``masked`` and the others store the weight differently).

    Examples
    --------
    >>> auto_backend(4096, 32, 512, device="cpu")
    'gather'
    >>> auto_backend(4096, 1, 512, device="cpu")
    'masked'
    >>> auto_backend(64, 16, 64, device="cpu")  # a dense graph
    'masked'
    """
    dev = torch.device(device) if device is not None else None
    cuda = dev.type == "cuda" if dev is not None else torch.cuda.is_available()
    if cuda:
        if triton_available is None:
            try:
                _kernels()
                triton_available = True
            except RuntimeError:
                triton_available = False
        if triton_available:
            return "triton"
    if block >= AUTO_MIN_BLOCK and degree <= AUTO_MAX_DENSITY * in_width:
        return "gather"
    return "masked"


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    return backend


def check_width(x: torch.Tensor, expected: int, who: str, kind: str = "linear") -> None:
    """Refuse an input whose width is not the layer's, with one clear line.

    ``kind`` is ``"linear"`` (width = last dimension, "features") or
    ``"conv2d"`` (4-d ``(N, C, H, W)``, width = ``C``, "channels").  Every
    backend calls this, so a wider input is never silently truncated and a
    narrower one never reaches an index error.

    Examples
    --------
    >>> check_width(torch.zeros(2, 3), 4, "XLinear")
    Traceback (most recent call last):
    ValueError: XLinear: input has 3 features (x shape (2, 3)), the layer expects in_features=4
    """
    if kind == "conv2d":
        if x.dim() != 4:
            raise ValueError(f"{who}: input must be 4-d (N, C, H, W), got shape {tuple(x.shape)}")
        got, unit, name = x.shape[1], "channels", "in_channels"
    else:
        if x.dim() < 1:
            raise ValueError(f"{who}: input must have a feature dimension, got a scalar")
        got, unit, name = x.shape[-1], "features", "in_features"
    if got != expected:
        raise ValueError(
            f"{who}: input has {got} {unit} (x shape {tuple(x.shape)}), "
            f"the layer expects {name}={expected}"
        )


def _expected_width(index, b, in_width, plan, t_index) -> int | None:
    """The layer's input width: given, or read off the plan / transposed table."""
    if in_width is not None:
        return int(in_width)
    if plan is not None:
        return int(plan.inverse.shape[0]) * b
    if t_index is not None:
        return int(t_index.shape[0]) * b
    return None


def _check_index_range(index: torch.Tensor, inp: int, b: int, who: str) -> None:
    if index.numel() and int(index.max()) >= inp // b:
        need = (int(index.max()) + 1) * b
        raise ValueError(
            f"{who}: input width {inp} is too narrow for the index table, which reads "
            f"input blocks up to width {need}"
        )


def _check_tables(weight: torch.Tensor, index: torch.Tensor, block: int | None, ndim: int):
    """Validate the packed weight against the index table; return ``(ob, d, block)``."""
    if index.dim() != 2:
        raise ValueError(f"index: must be 2-d (out_blocks, D), got shape {tuple(index.shape)}")
    if index.dtype != torch.int64:
        raise ValueError(f"index: must be int64, got {index.dtype}")
    if weight.dim() != ndim:
        raise ValueError(f"weight: must be {ndim}-d packed, got shape {tuple(weight.shape)}")
    ob, d = index.shape
    if tuple(weight.shape[:2]) != (ob, d) or weight.shape[2] != weight.shape[3]:
        raise ValueError(
            f"weight: shape {tuple(weight.shape)} does not match index {tuple(index.shape)} "
            "(expected (out_blocks, D, block, block, ...))"
        )
    b = int(weight.shape[2])
    if block is not None and block != b:
        raise ValueError(f"block: {block} does not match the weight's block size {b}")
    return ob, d, b


# ---------------------------------------------------------------------------
# layout conversions (differentiable)
# ---------------------------------------------------------------------------
def dense_weight(weight: torch.Tensor, index: torch.Tensor, in_features: int) -> torch.Tensor:
    """The dense ``(out, in[, kh, kw])`` weight of a packed one; zero off the graph.

    Differentiable (``index_put`` with accumulation, so a repeated index entry,
    a multi-edge, adds its weights, exactly as the gather backend does).

    Reference: the ELL layout of :mod:`compiler.ell`.

    Examples
    --------
    >>> w = torch.ones(1, 1, 2, 2)
    >>> dense_weight(w, torch.tensor([[1]]), 4)
    tensor([[0., 0., 1., 1.],
            [0., 0., 1., 1.]])
    """
    ob, d = index.shape
    b = weight.shape[2]
    if in_features % b:
        raise ValueError(f"in_features: {in_features} is not a multiple of block {b}")
    ib = in_features // b
    rest = tuple(weight.shape[4:])
    blocks = weight.new_zeros((ob, ib, b, b) + rest)
    rows = torch.arange(ob, device=index.device).unsqueeze(1).expand(ob, d)
    blocks = blocks.index_put((rows, index), weight, accumulate=True)
    # (ob, ib, i, j, ...) -> (ob, i, ib, j, ...) -> (out, in, ...)
    return blocks.transpose(1, 2).reshape((ob * b, ib * b) + rest)


def packed_weight(dense: torch.Tensor, index: torch.Tensor, block: int) -> torch.Tensor:
    """The packed ``(out_blocks, D, block, block[, kh, kw])`` weight of a dense one.

    Entries off the graph are ignored.  When ``index`` repeats a block in a row
    (a multi-edge), the first slot takes the dense value and the repeats get
    zero, so :func:`dense_weight` of the result equals the masked ``dense``.

    Reference: the ELL layout of :mod:`compiler.ell`.

    Examples
    --------
    >>> d = torch.arange(8.0).reshape(2, 4)
    >>> packed_weight(d, torch.tensor([[1]]), 2)[0, 0]
    tensor([[2., 3.],
            [6., 7.]])
    """
    out, inp = dense.shape[:2]
    if out % block or inp % block:
        raise ValueError(
            f"block: {block} must divide the dense weight's shape {tuple(dense.shape)}"
        )
    ob, d = index.shape
    rest = tuple(dense.shape[2:])
    blocks = dense.reshape((ob, block, inp // block, block) + rest).transpose(1, 2)
    rows = torch.arange(ob, device=index.device).unsqueeze(1).expand(ob, d)
    packed = blocks[rows, index]
    if d > 1:
        srt = index.sort(dim=1)
        dup = torch.zeros_like(index, dtype=torch.bool)
        dup_sorted = srt.values[:, 1:] == srt.values[:, :-1]
        dup.scatter_(1, srt.indices[:, 1:], dup_sorted)
        if bool(dup.any()):
            keep = (~dup).to(packed.dtype).reshape((ob, d) + (1,) * (packed.dim() - 2))
            packed = packed * keep
    return packed.contiguous()


def block_mask(index: torch.Tensor, in_features: int, block: int) -> torch.Tensor:
    """Boolean ``(out, in)`` mask of the layer's edges (``True`` on the graph).

    The reference code's representation (a fixed 0/1 mask on a dense weight).

    Reference: Prabhu et al., ECCV 2018, §3.3; the ELL layout of :mod:`compiler.ell`.

    Examples
    --------
    >>> block_mask(torch.tensor([[0], [1]]), 2, 1).tolist()
    [[True, False], [False, True]]
    """
    ob, d = index.shape
    ib = in_features // block
    m = torch.zeros(ob, ib, dtype=torch.bool, device=index.device)
    m[torch.arange(ob, device=index.device).unsqueeze(1).expand(ob, d), index] = True
    return m.repeat_interleave(block, 0).repeat_interleave(block, 1)


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

    Reference: the transposed ELL tables of :func:`compiler.ell.transpose_ell`,
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
# triton backend (lazy)
# ---------------------------------------------------------------------------
def _kernels():
    try:
        from compiler import kernels
    except Exception as exc:  # ImportError, or triton failing to initialise
        raise RuntimeError(
            f"backend 'triton': compiler.kernels cannot be imported ({exc}); "
            "install triton or use backend='gather'"
        ) from exc
    return kernels


def _transposed(index: torch.Tensor, in_blocks: int, t_index, t_slot):
    if t_index is not None and t_slot is not None:
        return t_index, t_slot
    from .ell import transpose_ell

    ti, ts, _ = transpose_ell(index.detach().cpu().numpy(), in_blocks)
    return torch.from_numpy(ti).to(index.device), torch.from_numpy(ts).to(index.device)


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------
def xlinear(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None = None,
    block: int | None = None,
    backend: str = "gather",
    *,
    t_index: torch.Tensor | None = None,
    t_slot: torch.Tensor | None = None,
    plan: GatherPlan | None = None,
    in_width: int | None = None,
) -> torch.Tensor:
    """Expander linear map ``y = x W^T + bias`` with ``W`` supported on the graph.

    Conventions: ``x`` is ``(..., in_features)``; ``weight`` is packed
    ``(out_blocks, D, block, block)`` and ``index`` ``(out_blocks, D)`` int64 as
    in :mod:`compiler.ell`; the result is ``(..., out_blocks*block)``.  ``block``
    may be omitted (it is read from ``weight``).  ``t_index``/``t_slot`` are the
    transposed tables the ``triton`` backend needs, ``plan`` the
    :class:`GatherPlan` of the ``gather`` backend (both built on the fly if
    absent; modules build them once).  ``in_width`` is the layer's
    ``in_features`` (read off ``plan`` or ``t_index`` when omitted); every
    backend refuses an input of another width with the one-line
    ``ValueError`` of :func:`check_width`.

    Reference: Prabhu et al., ECCV 2018, §3.2 (X-Linear), §3.3 (gather).

    Examples
    --------
    >>> w = torch.ones(2, 1, 1, 1)
    >>> xlinear(torch.tensor([[1.0, 2.0, 3.0]]), w, torch.tensor([[2], [0]]))
    tensor([[3., 1.]])
    """
    _check_backend(backend)
    _, _, b = _check_tables(weight, index, block, 4)
    expected = _expected_width(index, b, in_width, plan, t_index)
    if expected is not None:
        check_width(x, expected, "xlinear")
    inp = x.shape[-1]
    if inp % b:
        raise ValueError(f"x: last dimension {inp} is not a multiple of block {b}")
    if expected is None:
        _check_index_range(index, inp, b, "xlinear")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, inp)
    if backend == "masked":
        y = F.linear(x2, dense_weight(weight, index, inp), bias)
    elif backend == "gather":
        p = plan if plan is not None else gather_plan(index, inp // b)
        y = _GatherLinear.apply(x2, weight, index, bias, p.slots, p.owners, p.inverse, p.groups)
    else:
        ti, ts = _transposed(index, inp // b, t_index, t_slot)
        y = _kernels().xlinear_triton(x2, weight, index, ti, ts, bias=bias)
    return y.reshape(lead + (y.shape[-1],))


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and all(isinstance(t, int) and not isinstance(t, bool) for t in v)
    ):
        return (int(v[0]), int(v[1]))
    raise ValueError(f"{name}: must be an int or a pair of ints, got {v!r}")


def xconv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None = None,
    block: int | None = None,
    backend: str = "gather",
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    *,
    t_index: torch.Tensor | None = None,
    t_slot: torch.Tensor | None = None,
    plan: GatherPlan | None = None,
    in_width: int | None = None,
) -> torch.Tensor:
    """Expander convolution: output channel ``v`` convolves only its graph neighbours.

    Conventions: ``x`` is ``(N, C_in, H, W)``; ``weight`` is packed
    ``(out_blocks, D, block, block, kh, kw)`` over the channel graph ``index``
    (:mod:`compiler.ell`); ``stride``, ``padding``, ``dilation`` as in
    ``F.conv2d`` (ints or pairs); ``t_index``/``t_slot``/``plan``/``in_width``
    (``in_channels``) as in :func:`xlinear`.  On the ``gather`` backend a 1x1
    kernel runs as a block-sparse matmul over pixels in the NCHW layout
    (:class:`_GatherConv1x1`), larger kernels as channel gather + grouped
    convolution.  The result equals ``F.conv2d`` with the dense weight of
    :func:`dense_weight`.

    Reference: Prabhu et al., ECCV 2018, §3.2 (X-Conv), §3.3 (gather, then a
    grouped convolution with ``groups = C_out``).

    Examples
    --------
    >>> w = torch.ones(1, 1, 1, 1, 1, 1)
    >>> xconv2d(torch.arange(8.0).reshape(1, 2, 2, 2), w, torch.tensor([[1]])).flatten()
    tensor([4., 5., 6., 7.])
    """
    _check_backend(backend)
    _, _, b = _check_tables(weight, index, block, 6)
    stride, padding, dilation = (
        _pair(stride, "stride"),
        _pair(padding, "padding"),
        _pair(dilation, "dilation"),
    )
    if x.dim() != 4:
        raise ValueError(f"x: must be 4-d (N, C, H, W), got shape {tuple(x.shape)}")
    expected = _expected_width(index, b, in_width, plan, t_index)
    if expected is not None:
        check_width(x, expected, "xconv2d", "conv2d")
    cin = x.shape[1]
    if cin % b:
        raise ValueError(f"x: {cin} channels is not a multiple of block {b}")
    if expected is None:
        _check_index_range(index, cin, b, "xconv2d")
    if backend == "masked":
        return F.conv2d(x, dense_weight(weight, index, cin), bias, stride, padding, dilation)
    if backend == "gather":
        p = plan if plan is not None else gather_plan(index, cin // b)
        if tuple(weight.shape[4:]) == (1, 1):
            xs = _conv1x1_input(x, stride, padding)
            return _GatherConv1x1.apply(xs, weight, index, bias, *p[:3], p.groups)
        return _GatherConv2d.apply(
            x, weight, index, bias, stride, padding, dilation, *p[:3], p.groups
        )
    ti, ts = _transposed(index, cin // b, t_index, t_slot)
    return _kernels().xconv2d_triton(x, weight, index, ti, ts, bias, stride, padding, dilation)
