"""Graphs derived from a base graph: bipartite double covers, random 2-lifts, block expanders.

The first argument is always the base graph; multiplicities and the loop
convention of :mod:`expandergraph.graph` (a loop adds 2) are carried through so
that every derived graph keeps the base degrees (times ``block`` for
:func:`block_expander`).
"""

from __future__ import annotations

import numpy as np

from ..graph import BipartiteGraph, Graph
from ..limits import check_bytes
from .random import int_param, seed_param

__all__ = ["double_cover", "two_lift", "block_expander"]


def _rows(indptr: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(indptr.shape[0] - 1, dtype=np.int64), np.diff(indptr))


def _base_name(g) -> str:
    return g.name or repr(g)


def double_cover(g: Graph) -> Graph:
    """Bipartite double cover ``G × K2``: adjacency ``[[0, A], [A, 0]]`` on ``2n`` nodes.

    Conventions: node ``u`` of ``g`` gives nodes ``u`` and ``n + u``; every arc
    ``u -> v`` of ``g`` (every entry of row ``u``, with multiplicity) becomes the
    edge ``(u, n + v)``.  A self-loop at ``u`` (``A[u, u] = 2``) therefore becomes
    a double edge ``(u, n + u)``, so degrees are kept.  The spectrum is
    ``eig(A) ∪ -eig(A)``; the cover is connected iff ``g`` is connected and not
    bipartite.

    Parameters
    ----------
    g : Graph

    References
    ----------
    Hoory, Linial and Wigderson, "Expander graphs and their applications", Bull.
    AMS 43 (2006), §6.1; Marcus, Spielman and Srivastava, "Interlacing families I",
    Ann. Math. 182 (2015).

    Examples
    --------
    >>> from expandergraph.generators.algebraic import paley
    >>> c = double_cover(paley(5))
    >>> c.n, c.degree, c.is_bipartite()
    (10, 2, True)
    """
    if not isinstance(g, Graph):
        raise ValueError(f"double_cover: g must be a Graph, got {type(g).__name__}")
    n = g.n
    deg = g.degrees()
    indptr = np.zeros(2 * n + 1, dtype=np.int64)
    np.cumsum(np.concatenate([deg, deg]), out=indptr[1:])
    indices = np.concatenate([g.indices + n, g.indices])
    meta = {"construction": "double-cover", "base": _base_name(g)}
    name = f"double-cover/{_base_name(g)}"
    return Graph.from_csr(2 * n, indptr, indices, name, meta, check=False)


def two_lift(g: Graph | BipartiteGraph, seed: int = 0) -> Graph | BipartiteGraph:
    """Random 2-lift: every edge of ``g`` gets an independent uniform sign.

    Conventions (``Graph``, ``n`` nodes): node ``u`` gives ``u0 = u`` and
    ``u1 = n + u``.  An edge ``(u, v)`` with sign + gives ``(u0, v0)`` and
    ``(u1, v1)``; with sign − it gives ``(u0, v1)`` and ``(u1, v0)``.  Each copy of
    a multi-edge gets its own sign; a self-loop with sign − becomes a double edge
    ``(u0, u1)``, so every node keeps its degree.  The adjacency is
    ``[[A+, A-], [A-, A+]]`` with ``A = A+ + A-``; its spectrum is the spectrum of
    ``A`` together with that of the signed adjacency ``A+ - A-``.  Signs are drawn
    with ``np.random.default_rng(seed)``, one per edge of ``g.edge_array()``.

    For a ``BipartiteGraph`` (``left -> right``) the lift is the layer
    ``2 left -> 2 right`` with input ``u`` copied to ``u, left + u`` and output
    ``v`` to ``v, right + v``, each edge lifted the same way.

    Parameters
    ----------
    g : Graph or BipartiteGraph
    seed : int, ``>= 0``.

    References
    ----------
    Bilu and Linial, "Lifts, discrepancy and nearly optimal spectral gap",
    Combinatorica 26 (2006).

    Examples
    --------
    >>> from expandergraph.generators.algebraic import paley
    >>> h = two_lift(paley(13), seed=0)
    >>> h.n, h.degree
    (26, 6)
    """
    if not isinstance(g, (Graph, BipartiteGraph)):
        raise ValueError(f"two_lift: g must be a Graph or BipartiteGraph, got {type(g).__name__}")
    seed = seed_param("two_lift", seed)
    rng = np.random.default_rng(seed)
    base = _base_name(g)
    meta = {"construction": "two-lift", "base": base, "seed": seed}
    name = f"two-lift:seed={seed}/{base}"
    if isinstance(g, BipartiteGraph):
        e = g.edge_array()
        minus = rng.integers(0, 2, e.shape[0]).astype(bool)
        lu, rv = e[:, 0], e[:, 1]
        l0, l1 = lu, lu + g.left
        r0, r1 = rv, rv + g.right
        lnodes = np.concatenate([l0, l1])
        rnodes = np.concatenate([np.where(minus, r1, r0), np.where(minus, r0, r1)])
        return BipartiteGraph.from_edges(2 * g.left, 2 * g.right, lnodes, rnodes, 1, name, meta)
    n = g.n
    e = g.edge_array()
    minus = rng.integers(0, 2, e.shape[0]).astype(bool)
    u, v = e[:, 0], e[:, 1]
    a = np.concatenate([u, u + n])
    b = np.concatenate([np.where(minus, v + n, v), np.where(minus, v, v + n)])
    return Graph.from_edges(2 * n, a, b, name, meta)


def block_expander(g: Graph | BipartiteGraph, block: int) -> Graph | BipartiteGraph:
    """Blow every node of ``g`` up into ``block`` nodes joined to whole blocks.

    Conventions: base node ``u`` becomes nodes ``u*block .. u*block + block - 1``.

    * ``BipartiteGraph`` on blocks (``left -> right``): the result is the layer
      ``left*block -> right*block`` in which every node of output block ``j``
      reads every node of each input block in row ``j`` of ``g``; its biadjacency
      is ``kron(B, ones((block, block)))`` with multiplicities, its in-degree is
      ``d * block``, and ``result.block`` is ``block * g.block``, so for
      ``g.block == 1`` and distinct inputs per row ``result.block_ell()`` returns
      ``g.ell()``.
    * ``Graph``: adjacency ``kron(A, ones((block, block)))``.  A loop at ``u``
      (``A[u, u] = 2``) thus joins every pair of nodes of block ``u`` twice and
      puts a loop (diagonal 2) on each of them, so degrees are ``deg * block``.
      ``meta["block"]`` records the block size.

    Parameters
    ----------
    g : Graph or BipartiteGraph, the graph on blocks.
    block : int, ``>= 1``.

    References
    ----------
    Vooturi, Varma and Kothapalli, "Ramanujan bipartite graph products for
    efficient block sparse neural networks" (2020); the tensor (Kronecker) product
    with ``J`` scales every eigenvalue of ``A`` by ``block`` and adds zeros
    (Brouwer and Haemers, "Spectra of Graphs", §1.4.7).

    Examples
    --------
    >>> from expandergraph.generators.baselines import grouped
    >>> b = block_expander(grouped(4, 4, 2), block=3)
    >>> b.left, b.right, b.degree, b.block_ell().tolist()
    (12, 12, 6, [[0, 1], [0, 1], [2, 3], [2, 3]])
    """
    block = int_param("block_expander", "block", block, lo=1)
    if not isinstance(g, (Graph, BipartiteGraph)):
        raise ValueError(
            f"block_expander: g must be a Graph or BipartiteGraph, got {type(g).__name__}"
        )
    rows_b = g.right if isinstance(g, BipartiteGraph) else g.n
    need = 8 * (3 * g.indices.size * block * block + 2 * (rows_b + 1) * block)
    check_bytes("block_expander", f"block={block}", need)
    deg = np.diff(g.indptr)
    # every entry u of block row r expands to u*block + 0..block-1 (sorted rows stay sorted)
    expanded = (g.indices[:, None] * block + np.arange(block)).ravel()
    row_len = np.repeat(deg * block, block)  # node rows r*block + i
    indptr = np.zeros(rows_b * block + 1, dtype=np.int64)
    np.cumsum(row_len, out=indptr[1:])
    src_start = np.repeat(g.indptr[:-1] * block, block)  # start of block row r in `expanded`
    offs = np.arange(indptr[-1], dtype=np.int64) - np.repeat(indptr[:-1], row_len)
    indices = expanded[np.repeat(src_start, row_len) + offs]
    base = _base_name(g)
    name = f"block:block={block}/{base}"
    meta = {"construction": "block", "base": base, "block": block}
    if isinstance(g, BipartiteGraph):
        return BipartiteGraph.from_csr(
            g.left * block, g.right * block, indptr, indices, block * g.block, name, meta
        )
    return Graph.from_csr(g.n * block, indptr, indices, name, meta, check=False)
