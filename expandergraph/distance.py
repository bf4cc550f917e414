"""Diameter: exact by bit-parallel BFS from every node, or certified bounds.

Conventions
-----------
* Distances count edges; multi-edges and loops do not change them.
* A disconnected graph has no finite diameter: ``value = None``,
  ``connected = False`` and both bounds ``None``.

Methods
-------
* **Exact, all sources** (when ``n * m <= exact_limit``, default ``2e9``,
  ``m`` the number of edges): level-synchronous BFS from 64 sources at a time,
  each node holding one ``uint64`` word of "reached from source i" bits; one
  level is one vectorised OR over the CSR neighbour lists
  (``numpy.bitwise_or.reduceat``), so the work is ``O(m * diameter * n/64)``.
* **Exact, one source** (``vertex_transitive=True``): every node has the same
  eccentricity, so one BFS gives the diameter.  The caller vouches for the
  symmetry (Cayley graphs such as LPS, Paley; Margulis is *not* vertex
  transitive).
* **Bounds** otherwise: the lower bound is the largest BFS eccentricity found
  by a few double sweeps (BFS from a node, then from the farthest node); the
  upper bound is the smaller of ``2 * min eccentricity`` (triangle inequality)
  and, for a d-regular graph with ``lam < d`` (not bipartite), Chung's bound
  ``ceil(log(n-1) / log(d/lam))`` with ``lam`` widened by its residual.

References
----------
F. R. K. Chung, *Diameters and eigenvalues*, J. AMS 2 (1989) 187-196.
Magnien, Latapy, Habib, *Fast computation of empirically tight bounds for the
diameter of massive graphs*, ACM J. Exp. Algorithmics 13 (2009) (double sweep).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .graph import Graph

__all__ = ["DiameterResult", "diameter", "chung_bound", "DIAMETER_EXACT_LIMIT"]

#: default limit on ``n * m`` for the all-sources BFS
DIAMETER_EXACT_LIMIT = 2_000_000_000


@dataclass
class DiameterResult:
    """Exact diameter (``value``, or ``None``) and bounds ``lower <= diameter <= upper``."""

    value: int | None
    lower: int | None
    upper: int | None
    connected: bool
    method: str


def chung_bound(n: int, d: float, lam: float) -> int | None:
    """Chung's diameter bound ``ceil(log(n-1) / log(d/lam))`` for a d-regular graph.

    ``lam`` is the largest non-trivial ``|eigenvalue|`` (for a bipartite graph
    ``lam = d`` and there is no bound).  Returns ``None`` when ``lam >= d``,
    and 1 when ``lam == 0`` or ``n == 2``.

    Reference: Chung, J. AMS 2 (1989), Theorem 1.

    Examples
    --------
    >>> chung_bound(10, 3, 2)  # Petersen: ceil(log 9 / log 1.5) = 6 (true diameter 2)
    6
    """
    if n < 2 or d <= 0:
        raise ValueError(f"chung_bound: need n >= 2 and d > 0, got n={n}, d={d}")
    if lam < 0:
        raise ValueError(f"chung_bound: lam={lam} must be >= 0")
    if lam >= d:
        return None
    if lam == 0 or n == 2:
        return 1
    return max(1, math.ceil(math.log(n - 1) / math.log(d / lam) - 1e-12))


def diameter(
    g: Graph,
    *,
    exact_limit: int | None = None,
    vertex_transitive: bool = False,
    spectrum=None,
    sweeps: int = 4,
    seed: int = 0,
) -> DiameterResult:
    """Diameter of ``g``: exact when affordable, else certified bounds (see module doc).

    Parameters
    ----------
    exact_limit : int, optional
        All-sources BFS when ``n * edges <= exact_limit`` (default
        :data:`DIAMETER_EXACT_LIMIT` = 2e9; 0 forces bounds).
    vertex_transitive : bool
        Trust that ``g`` is vertex transitive: one BFS is exact.
    spectrum : SpectralResult, optional
        Enables Chung's upper bound on d-regular graphs.
    sweeps : int
        Double sweeps for the lower bound.

    References: Chung (1989); Magnien-Latapy-Habib (2009).

    Examples
    --------
    >>> import networkx as nx
    >>> r = diameter(Graph.from_networkx(nx.petersen_graph()))
    >>> r.value, r.lower, r.upper, r.connected
    (2, 2, 2, True)
    """
    if not isinstance(g, Graph):
        raise ValueError(f"g: expected an expandergraph.Graph, got {type(g).__name__}")
    if exact_limit is None:
        exact_limit = DIAMETER_EXACT_LIMIT
    if isinstance(exact_limit, bool) or not isinstance(exact_limit, (int, np.integer)):
        raise ValueError(f"exact_limit: must be a non-negative integer, got {exact_limit!r}")
    if exact_limit < 0:
        raise ValueError(f"exact_limit: must be a non-negative integer, got {exact_limit!r}")
    if isinstance(sweeps, bool) or not isinstance(sweeps, (int, np.integer)) or sweeps < 1:
        raise ValueError(f"sweeps: must be a positive integer, got {sweeps!r}")
    from scipy.sparse.csgraph import breadth_first_order

    a = g.adjacency()
    n = g.n
    order = breadth_first_order(a, 0, directed=False, return_predecessors=False)
    if order.shape[0] != n:
        return DiameterResult(None, None, None, False, "BFS: disconnected, no finite diameter")
    if n == 1:
        return DiameterResult(0, 0, 0, True, "single node")
    if vertex_transitive:
        ecc = _eccentricity(a, 0)
        return DiameterResult(ecc, ecc, ecc, True, "one BFS (vertex transitive, as stated)")
    if n * g.num_edges <= exact_limit:
        value = _all_sources(a)
        return DiameterResult(
            value,
            value,
            value,
            True,
            f"bit-parallel BFS from all {n} nodes (n*m <= {exact_limit:.3g})",
        )
    lower, upper = 0, math.inf
    rng = np.random.default_rng(seed)
    start = int(rng.integers(n))
    for _ in range(sweeps):
        dist = _distances(a, start)
        ecc = int(dist.max())
        lower, upper = max(lower, ecc), min(upper, 2 * ecc)
        far = int(np.argmax(dist))
        dist = _distances(a, far)
        ecc2 = int(dist.max())
        lower, upper = max(lower, ecc2), min(upper, 2 * ecc2)
        start = int(rng.integers(n)) if far == start else int(np.argmax(dist))
    method = f"bounds: {sweeps} double-sweep BFS (lower), 2*eccentricity"
    d = g.degree
    if spectrum is not None and d is not None and spectrum.connected and not spectrum.bipartite:
        lam = spectrum.lam + spectrum.error
        cb = chung_bound(n, d, lam)
        if cb is not None and cb < upper:
            upper = cb
        method += ", Chung ceil(log(n-1)/log(d/lam))"
    method += " (upper)"
    upper = int(upper)
    if lower == upper:
        return DiameterResult(lower, lower, upper, True, method + "; bounds meet")
    return DiameterResult(None, lower, upper, True, method)


def _distances(a, source: int) -> np.ndarray:
    from scipy.sparse.csgraph import shortest_path

    dist = shortest_path(a, directed=False, unweighted=True, indices=source)
    return dist.astype(np.int64)


def _eccentricity(a, source: int) -> int:
    return int(_distances(a, source).max())


def _all_sources(a) -> int:
    """Largest eccentricity, by BFS from 64 sources at a time (uint64 bitsets)."""
    n = a.shape[0]
    indptr, indices = a.indptr, a.indices
    starts = indptr[:-1]
    best = 0
    for lo in range(0, n, 64):
        hi = min(n, lo + 64)
        bits = np.zeros(n, dtype=np.uint64)
        bits[lo:hi] = np.left_shift(np.uint64(1), np.arange(hi - lo, dtype=np.uint64))
        seen = bits.copy()
        frontier = bits
        level = 0
        while True:
            nxt = np.bitwise_or.reduceat(frontier[indices], starts)
            nxt &= ~seen
            if not nxt.any():
                break
            level += 1
            seen |= nxt
            frontier = nxt
        best = max(best, level)
    return best
