"""The ELL block layout every backend reads, and the conversions to and from it.

Conventions
-----------
For a layer with ``in_features = in_blocks * block`` inputs, ``out_blocks``
output blocks of ``block`` nodes (channels) each, and a constant in-degree of
``D`` blocks:

* ``index``: int64 ``(out_blocks, D)``, the input blocks of each output block,
  sorted ascending within a row (a repeated entry is a multi-edge; its weights
  add).
* packed weight: ``(out_blocks, D, block, block[, kh, kw])``; ``W[ob, k, i, j]``
  joins input node ``index[ob, k] * block + j`` to output node ``ob * block + i``.
* ``y[n, ob*block + i] = bias[ob*block + i] + sum_k sum_j W[ob, k, i, j] *
  x[n, index[ob, k]*block + j]`` (for convolutions the product is the 2-d
  cross-correlation of ``F.conv2d``).
* dense weight: ``(out, in[, kh, kw])``, zero off the graph.

Every function that needs the input width takes ``in_features`` (in nodes,
not blocks); the block size is read off the weight where there is one.

The transposed tables (input gradients) list, for each input block, the
``(output block, slot k)`` pairs that read it, padded to the largest in-use
count with ``-1``: ``t_index`` int64 ``(in_blocks, T)`` output blocks,
``t_slot`` int64 ``(in_blocks, T)`` slots, ``t_count`` int64 ``(in_blocks,)``.

This module also holds the small shape helpers the layers share
(:func:`as_pair`, :func:`is_int`, :func:`conv_output_size`).

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§3; the ELLPACK sparse format (Grimes, Kincaid and Young, ITPACK 2C, 1979).
"""

from __future__ import annotations

import numpy as np
import torch

from expandergraph import BipartiteGraph
from expandergraph.fields import is_int

__all__ = [
    "ell_from_graph",
    "transpose_ell",
    "transposed_tables",
    "graph_from_index",
    "dense_weight",
    "packed_weight",
    "block_mask",
    "is_int",
    "as_pair",
    "conv_output_size",
]


# ---------------------------------------------------------------------------
# index tables
# ---------------------------------------------------------------------------
def ell_from_graph(graph: BipartiteGraph) -> np.ndarray:
    """The ``(out_blocks, D)`` int64 ``index`` table of a block-structured layer graph.

    ``graph.block`` gives the block size.  Raises ``ValueError`` if the
    in-degree is not constant or the edges are not whole blocks.

    Examples
    --------
    >>> ell_from_graph(graph_from_index(np.array([[1], [0]]), 4, 2)).tolist()
    [[1], [0]]
    """
    return np.ascontiguousarray(graph.block_ell(), dtype=np.int64)


def transpose_ell(index: np.ndarray, in_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The transposed tables ``(t_index, t_slot, t_count)`` of an ELL ``index``.

    Row ``ib`` lists the ``(ob, k)`` with ``index[ob, k] == ib`` in ascending
    ``(ob, k)`` order, then ``-1`` padding (see the module conventions).

    Examples
    --------
    >>> ti, ts, tc = transpose_ell(np.array([[0, 1], [1, 1]]), 2)
    >>> ti.tolist(), ts.tolist(), tc.tolist()
    ([[0, -1, -1], [0, 1, 1]], [[0, -1, -1], [1, 0, 1]], [1, 3])
    """
    index = np.asarray(index, dtype=np.int64)
    out_blocks, d = index.shape
    ob = np.repeat(np.arange(out_blocks, dtype=np.int64), d)
    slot = np.tile(np.arange(d, dtype=np.int64), out_blocks)
    ib = index.ravel()
    order = np.lexsort((slot, ob, ib))
    ib, ob, slot = ib[order], ob[order], slot[order]
    count = np.bincount(ib, minlength=in_blocks).astype(np.int64)
    width = max(int(count.max()) if count.size else 0, 1)
    start = np.zeros(in_blocks + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    pos = np.arange(ib.shape[0]) - start[ib]
    t_index = np.full((in_blocks, width), -1, dtype=np.int64)
    t_slot = np.full((in_blocks, width), -1, dtype=np.int64)
    t_index[ib, pos] = ob
    t_slot[ib, pos] = slot
    return t_index, t_slot, count


def transposed_tables(index: torch.Tensor, in_blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(t_index, t_slot)`` of :func:`transpose_ell` as tensors on ``index``'s device.

    Examples
    --------
    >>> ti, ts = transposed_tables(torch.tensor([[1], [0]]), 2)
    >>> ti.tolist(), ts.tolist()
    ([[1], [0]], [[0], [0]])
    """
    ti, ts, _ = transpose_ell(index.detach().cpu().numpy(), in_blocks)
    return torch.from_numpy(ti).to(index.device), torch.from_numpy(ts).to(index.device)


def graph_from_index(
    index: torch.Tensor | np.ndarray, in_features: int, block: int, name: str = ""
) -> BipartiteGraph:
    """The node-level :class:`~expandergraph.BipartiteGraph` of an ELL ``index`` table.

    Output node ``ob*block + i`` reads input nodes ``index[ob, k]*block + j``
    for every slot ``k`` and ``j < block``.  The result's fingerprint equals the
    fingerprint of the graph the table was built from.

    Examples
    --------
    >>> g = graph_from_index(np.array([[1], [0]]), 4, 2)
    >>> g.ell().tolist()
    [[2, 3], [2, 3], [0, 1], [0, 1]]
    """
    idx = np.asarray(index.detach().cpu() if isinstance(index, torch.Tensor) else index)
    if idx.ndim != 2 or idx.dtype.kind not in "iu":
        raise ValueError(f"index: must be a 2-d integer table, got shape {idx.shape}")
    if in_features % block:
        raise ValueError(f"in_features: {in_features} is not a multiple of block {block}")
    ib = in_features // block
    if idx.size and (idx.min() < 0 or idx.max() >= ib):
        raise ValueError(f"index: entries must lie in 0..{ib - 1} (input blocks)")
    ob, d = idx.shape
    rows = (idx.astype(np.int64)[:, :, None] * block + np.arange(block)).reshape(ob, d * block)
    node = np.repeat(rows, block, axis=0)
    return BipartiteGraph.from_ell(in_features, node, block, name)


# ---------------------------------------------------------------------------
# weight conversions (differentiable)
# ---------------------------------------------------------------------------
def _in_blocks(index: torch.Tensor, in_features: int, block: int, who: str) -> int:
    if index.dim() != 2 or index.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"{who}: index must be an int32/int64 (out_blocks, D) tensor")
    if in_features % block:
        raise ValueError(f"{who}: in_features {in_features} is not a multiple of block {block}")
    ib = in_features // block
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= ib):
        raise ValueError(f"{who}: index entries must lie in 0..{ib - 1} (input blocks)")
    return ib


def dense_weight(weight: torch.Tensor, index: torch.Tensor, in_features: int) -> torch.Tensor:
    """The dense ``(out, in[, kh, kw])`` weight of a packed one; zero off the graph.

    Differentiable (``index_put`` with accumulation, so a repeated index
    entry, a multi-edge, adds its weights, as every backend does).

    Examples
    --------
    >>> w = torch.ones(1, 1, 2, 2)
    >>> dense_weight(w, torch.tensor([[1]]), 4)
    tensor([[0., 0., 1., 1.],
            [0., 0., 1., 1.]])
    """
    if weight.dim() < 4 or tuple(weight.shape[:2]) != tuple(index.shape):
        raise ValueError(
            f"dense_weight: weight {tuple(weight.shape)} must be (out_blocks, D, block, block, "
            f"...) like index {tuple(index.shape)}"
        )
    b = weight.shape[2]
    if weight.shape[3] != b:
        raise ValueError(f"dense_weight: weight blocks must be square, got {tuple(weight.shape)}")
    ib = _in_blocks(index, in_features, b, "dense_weight")
    ob, d = index.shape
    rest = tuple(weight.shape[4:])
    blocks = weight.new_zeros((ob, ib, b, b) + rest)
    index = index.long().to(weight.device)
    rows = torch.arange(ob, device=weight.device).unsqueeze(1).expand(ob, d)
    blocks = blocks.index_put((rows, index), weight, accumulate=True)
    # (ob, ib, i, j, ...) -> (ob, i, ib, j, ...) -> (out, in, ...)
    return blocks.transpose(1, 2).reshape((ob * b, ib * b) + rest)


def packed_weight(dense: torch.Tensor, index: torch.Tensor, block: int) -> torch.Tensor:
    """The packed ``(out_blocks, D, block, block[, kh, kw])`` weight of a dense one.

    Entries off the graph are ignored.  When ``index`` repeats a block in a row
    (a multi-edge), the first slot takes the dense value and the repeats get
    zero, so :func:`dense_weight` of the result equals the masked ``dense``.
    For a graph without repeats this is the inverse of :func:`dense_weight`
    (and it turns a dense weight gradient into the packed one).

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
            f"packed_weight: block {block} must divide the dense weight's shape "
            f"{tuple(dense.shape)}"
        )
    _in_blocks(index, inp, block, "packed_weight")
    ob, d = index.shape
    index = index.long().to(dense.device)
    rest = tuple(dense.shape[2:])
    blocks = dense.reshape((ob, block, inp // block, block) + rest).transpose(1, 2)
    rows = torch.arange(ob, device=dense.device).unsqueeze(1).expand(ob, d)
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

    ``mask[ob*block + i, index[ob, k]*block + j]`` is True for every ``k, i,
    j``: the representation of the authors' released code (a fixed 0/1 mask on
    a dense weight).

    Examples
    --------
    >>> block_mask(torch.tensor([[0], [1]]), 2, 1).tolist()
    [[True, False], [False, True]]
    """
    ib = _in_blocks(index, in_features, block, "block_mask")
    ob, d = index.shape
    m = torch.zeros(ob, ib, dtype=torch.bool, device=index.device)
    m[torch.arange(ob, device=index.device).unsqueeze(1).expand(ob, d), index.long()] = True
    return m.repeat_interleave(block, 0).repeat_interleave(block, 1)


# ---------------------------------------------------------------------------
# shape helpers (``is_int`` is :func:`expandergraph.fields.is_int`)
# ---------------------------------------------------------------------------
def as_pair(value: object, name: str, least: int | None = None) -> tuple[int, int]:
    """``(a, b)`` from an int or a pair of ints, each ``>= least`` when given.

    Raises a one-line ``ValueError`` naming ``name`` otherwise.

    Examples
    --------
    >>> as_pair(3, "stride"), as_pair((1, 2), "padding", 0)
    ((3, 3), (1, 2))
    >>> as_pair(0, "stride", 1)
    Traceback (most recent call last):
    ValueError: stride=0 must be an int or a pair of ints >= 1
    """
    v = (value, value) if is_int(value) else value
    if not (isinstance(v, (tuple, list)) and len(v) == 2 and all(is_int(t) for t in v)) or (
        least is not None and min(v) < least
    ):
        at_least = f" >= {least}" if least is not None else ""
        raise ValueError(f"{name}={value!r} must be an int or a pair of ints{at_least}")
    return int(v[0]), int(v[1])


def conv_output_size(
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int]:
    """Spatial output size ``(oh, ow)`` of a 2-d convolution (the ``nn.Conv2d`` formula).

    ``o = (n + 2*p - d*(k - 1) - 1) // s + 1`` per axis; may be ``< 1`` for an
    input smaller than the dilated kernel (callers refuse that).

    Reference: the shape section of ``torch.nn.Conv2d``'s documentation.

    Examples
    --------
    >>> conv_output_size((9, 11), (3, 3), (2, 2), (1, 1))
    (5, 6)
    """
    return tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(size, kernel, stride, padding, dilation)
    )
