"""ELL block-index tables: the one layout every backend (masked, gather, triton) reads.

Layout contract
---------------
For a layer with ``in_blocks`` input blocks and ``out_blocks`` output blocks of
``block`` nodes (channels) each, and a constant in-degree of ``D`` blocks:

* ``index``: int64 ``(out_blocks, D)``, the input blocks of each output block,
  sorted ascending within a row.
* weights: ``(out_blocks, D, block, block[, kh, kw])``; ``W[ob, k, i, j]``
  joins input node ``index[ob, k] * block + j`` to output node ``ob * block + i``.
* ``y[n, ob*block + i] = bias[ob*block + i] + sum_k sum_j W[ob, k, i, j] *
  x[n, index[ob, k]*block + j]``.

The transposed tables (for input gradients) list, for each input block, the
``(output block, slot k)`` pairs that read it, padded to the largest in-use
count with ``-1``:

* ``t_index``: int64 ``(in_blocks, T)`` output blocks, ``-1`` padding;
* ``t_slot``:  int64 ``(in_blocks, T)`` the slot ``k`` in ``index[ob]``, ``-1`` padding;
* ``t_count``: int64 ``(in_blocks,)`` number of valid entries per row.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ell_from_graph", "transpose_ell"]


def ell_from_graph(graph) -> np.ndarray:
    """``(out_blocks, D)`` int64 table of input blocks of a block-structured layer.

    ``graph`` is an :class:`expandergraph.BipartiteGraph`; its ``block`` gives
    the block size.  Raises ``ValueError`` if the in-degree is not constant or
    the edges are not whole blocks.
    """
    return np.ascontiguousarray(graph.block_ell(), dtype=np.int64)


def transpose_ell(index: np.ndarray, in_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transposed tables ``(t_index, t_slot, t_count)`` of an ELL ``index``; see module doc."""
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
