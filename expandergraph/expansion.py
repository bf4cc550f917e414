"""Vertex and edge expansion: exact for small graphs, certified bounds for any size.

Definitions (``S`` ranges over the node sets with ``1 <= |S| <= n/2``)
-----------------------------------------------------------------------
* vertex expansion ``h_V = min |N(S) \\ S| / |S|``, where ``N(S)`` is the set of
  neighbours of ``S``;
* edge expansion ``h_E = min |E(S, S^c)| / |S|``; multi-edges count with their
  multiplicity and a self-loop never crosses the cut.

What is returned (an :class:`ExpansionResult`)
-----------------------------------------------
* ``exact``: the minimum, by exhaustive search over all ``2^n`` node subsets
  with vectorised bitmask tables (``n <= exact_limit``, at most 24; memory
  about ``24 * 2^n`` bytes), else ``None``.  A disconnected graph is exact
  at any size: ``h = 0``, witnessed by its smallest component.
* ``lower``: a spectral lower bound valid for every size (see below).
* ``upper`` and ``witness``: the ratio of an explicit node set, which is
  returned; it is the exhaustive minimiser when ``exact`` is computed, else
  the best of sweep cuts (along the eigenvector of ``lambda_2`` and along BFS
  orders from a few seeded roots) improved by greedy single-node moves.
  Hence ``lower <= exact <= upper`` always.

Lower bounds, with ``lambda_2`` and ``lam`` widened by the solver residual
---------------------------------------------------------------------------
* Edge (Cheeger / Fiedler): ``L = D - A`` satisfies ``L >= d_min I - A``, so
  its second eigenvalue is at least ``d_min - lambda_2``, and
  ``|E(S,S^c)| >= a |S| (1 - |S|/n) >= a |S| / 2``.  Hence
  ``h_E >= (d_min - lambda_2) / 2``, which is ``(d - lambda_2)/2`` when
  d-regular.
* Vertex (Tanner): for a d-regular graph with ``lam'`` the largest
  ``|eigenvalue|`` on the complement of the constant vector (``lam' = lam``
  unless bipartite, where ``lam' = d``),
  ``|N(S)| >= d^2 |S| / (lam'^2 + (d^2 - lam'^2) |S|/n)``; with
  ``|N(S) \\ S| >= |N(S)| - |S|`` and ``|S| <= n/2`` this gives
  ``h_V >= (d^2 - lam'^2) / (d^2 + lam'^2)``.  For every graph also
  ``h_V >= h_E / d_max`` (each outside node takes at most ``d_max`` cut
  edges).  The larger of the two is returned.

References
----------
Hoory, Linial, Wigderson, *Expander graphs and their applications*, Bull. AMS
43 (2006), sec. 2 and 4.  Tanner, *Explicit concentrators from generalized
N-gons*, SIAM J. Alg. Disc. Meth. 5 (1984).  Alon and Milman, *lambda_1,
isoperimetric inequalities for graphs*, J. Comb. Theory B 38 (1985).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .graph import Graph
from .spectrum import SpectralResult, adjacency_spectrum

__all__ = ["ExpansionResult", "vertex_expansion", "edge_expansion", "EXACT_MAX"]

#: largest ``exact_limit`` accepted (2^24 subsets, about 0.4 GB of tables)
EXACT_MAX = 24


@dataclass
class ExpansionResult:
    """Bounds on an expansion constant; see the module doc.

    ``witness`` is the sorted node list of the set whose ratio is ``upper``.
    """

    lower: float
    upper: float
    exact: float | None
    witness: list[int] = field(repr=False)
    method: str
    kind: str = "vertex"
    lower_method: str = ""
    upper_method: str = ""


def vertex_expansion(
    g: Graph,
    *,
    exact_limit: int = 20,
    seed: int = 0,
    spectrum: SpectralResult | None = None,
    local_search: int = 50,
) -> ExpansionResult:
    """Vertex expansion ``h_V = min_{1<=|S|<=n/2} |N(S) \\ S| / |S|``: exact or bounded.

    Exhaustive for ``n <= exact_limit`` (default 20, at most 24); Tanner /
    Cheeger lower bound and sweep-cut + local-search upper bound otherwise.
    ``spectrum`` (from :func:`adjacency_spectrum`) is computed when omitted.
    See the module doc for the conventions and the bounds.

    References: Hoory-Linial-Wigderson (2006), sec. 4.1 and 4.6; Tanner (1984).

    Examples
    --------
    >>> import networkx as nx
    >>> r = vertex_expansion(Graph.from_networkx(nx.petersen_graph()))
    >>> r.exact, r.lower <= r.exact <= r.upper
    (0.8, True)
    """
    return _expansion(g, "vertex", exact_limit, seed, spectrum, local_search)


def edge_expansion(
    g: Graph,
    *,
    exact_limit: int = 20,
    seed: int = 0,
    spectrum: SpectralResult | None = None,
    local_search: int = 50,
) -> ExpansionResult:
    """Edge expansion ``h_E = min_{1<=|S|<=n/2} |E(S, S^c)| / |S|``: exact or bounded.

    Multi-edges count with multiplicity; loops never cross.  Exhaustive for
    ``n <= exact_limit`` (default 20, at most 24); Cheeger lower bound
    ``(d_min - lambda_2)/2`` and sweep-cut + local-search upper bound otherwise.

    References: Hoory-Linial-Wigderson (2006), sec. 2.2 and 4.2; Alon-Milman (1985).

    Examples
    --------
    >>> import networkx as nx
    >>> r = edge_expansion(Graph.from_networkx(nx.cycle_graph(10)))
    >>> r.exact, r.lower <= r.exact <= r.upper
    (0.4, True)
    """
    return _expansion(g, "edge", exact_limit, seed, spectrum, local_search)


# ---------------------------------------------------------------------------
def _check(g, exact_limit, local_search, spectrum) -> None:
    if not isinstance(g, Graph):
        raise ValueError(f"g: expected an expandergraph.Graph, got {type(g).__name__}")
    if g.n < 2:
        raise ValueError(f"graph: expansion needs at least 2 nodes, got n={g.n}")
    if g.num_edges == 0:
        raise ValueError("graph: empty graph (no edges); expansion is 0 and certifies nothing")
    if isinstance(exact_limit, bool) or not isinstance(exact_limit, (int, np.integer)):
        raise ValueError(f"exact_limit: must be an integer 0..{EXACT_MAX}, got {exact_limit!r}")
    if not 0 <= exact_limit <= EXACT_MAX:
        raise ValueError(f"exact_limit: must be an integer 0..{EXACT_MAX}, got {exact_limit!r}")
    if isinstance(local_search, bool) or not isinstance(local_search, (int, np.integer)):
        raise ValueError(f"local_search: must be a non-negative integer, got {local_search!r}")
    if local_search < 0:
        raise ValueError(f"local_search: must be a non-negative integer, got {local_search!r}")
    if spectrum is not None and (not isinstance(spectrum, SpectralResult) or spectrum.n != g.n):
        raise ValueError("spectrum: must be the SpectralResult of this graph")


def _expansion(g, kind, exact_limit, seed, spectrum, local_search) -> ExpansionResult:
    _check(g, exact_limit, local_search, spectrum)
    if spectrum is None:
        spectrum = adjacency_spectrum(g, seed=seed)
    lower, lower_method = _lower_bound(g, kind, spectrum)
    a = g.adjacency()
    if not spectrum.connected:
        from scipy.sparse.csgraph import connected_components

        _, labels = connected_components(a, directed=False)
        sizes = np.bincount(labels)
        witness = np.flatnonzero(labels == int(np.argmin(sizes)))
        return ExpansionResult(
            0.0,
            0.0,
            0.0,
            witness.tolist(),
            "disconnected: smallest component",
            kind,
            "exact",
            "smallest component",
        )
    if g.n <= exact_limit:
        value, witness = _exhaustive(g, kind)
        return ExpansionResult(
            lower,
            value,
            value,
            witness.tolist(),
            f"exhaustive bitmask enumeration over 2^{g.n} subsets (n <= exact_limit={exact_limit})",
            kind,
            lower_method,
            "exhaustive minimiser",
        )
    mask, upper, how = _heuristic(g, a, kind, spectrum, seed, local_search)
    return ExpansionResult(
        lower,
        upper,
        None,
        np.flatnonzero(mask).tolist(),
        f"bounds: {lower_method}; witness set from {how}",
        kind,
        lower_method,
        how,
    )


def _lower_bound(g: Graph, kind: str, sp: SpectralResult) -> tuple[float, str]:
    """Certified spectral lower bound (residuals widen the eigenvalues)."""
    if not sp.connected:
        return 0.0, "exact (disconnected)"
    deg = g.degrees()
    dmin, dmax = int(deg.min()), int(deg.max())
    lam2 = sp.lambda_2 + sp.residual_2
    edge = max(0.0, (dmin - lam2) / 2.0)
    edge_text = "Cheeger (d - lambda_2)/2" if g.degree is not None else "(d_min - lambda_2)/2"
    if kind == "edge":
        return edge, edge_text
    best, text = edge / dmax, f"{edge_text} / d_max"
    d = g.degree
    if d is not None:
        lam = float(d) if sp.bipartite else min(float(d), sp.lam + sp.error)
        tanner = (d * d - lam * lam) / (d * d + lam * lam)
        if tanner >= best:
            best, text = max(0.0, tanner), "Tanner (d^2 - lam^2)/(d^2 + lam^2)"
    return best, text


# ---------------------------------------------------------------------------
# exhaustive search
# ---------------------------------------------------------------------------
def _exhaustive(g: Graph, kind: str) -> tuple[float, np.ndarray]:
    """Exact minimum ratio and a minimiser, over all subsets as bitmasks."""
    n = g.n
    full = 1 << n
    s = np.arange(full, dtype=np.uint32)
    size = np.bitwise_count(s)  # uint8
    dense = g.adjacency().toarray()
    if kind == "vertex":
        nbr = np.zeros(n, dtype=np.uint32)
        for i in range(n):
            for j in np.flatnonzero(dense[i]):
                nbr[i] |= np.uint32(1 << int(j))
        table = np.zeros(full, dtype=np.uint32)
        for i in range(n):
            table[1 << i : 1 << (i + 1)] = table[: 1 << i] | nbr[i]
        num = np.bitwise_count(table & ~s).astype(np.int32)
        del table
    else:
        deg = dense.sum(1).astype(np.int64)
        num = np.zeros(full, dtype=np.int32)
        for i in range(n):
            w = np.zeros(1 << i, dtype=np.int32)  # w[S] = sum_{j in S} A[i, j], S in [0, i)
            for j in range(i):
                w[1 << j : 1 << (j + 1)] = w[: 1 << j] + int(dense[i, j])
            num[1 << i : 1 << (i + 1)] = num[: 1 << i] + (deg[i] - int(dense[i, i])) - 2 * w
    valid = (size >= 1) & (size <= n // 2)
    ratio = np.where(valid, num / np.maximum(size, 1).astype(np.float64), np.inf)
    best = int(np.argmin(ratio))
    witness = np.flatnonzero([(best >> i) & 1 for i in range(n)])
    return float(ratio[best]), witness


# ---------------------------------------------------------------------------
# sweep cuts and local search
# ---------------------------------------------------------------------------
def _set_ratio(a, mask: np.ndarray, kind: str) -> float:
    """The exact ratio of one node set (recomputed from scratch)."""
    size = int(mask.sum())
    s = mask.astype(np.float64)
    if kind == "vertex":
        p = a.copy()
        p.setdiag(0)
        p.eliminate_zeros()
        reach = (p @ s) > 0
        return int(np.count_nonzero(reach & ~mask)) / size
    cnt = a @ s
    return float(np.sum(cnt[~mask])) / size


def _sweep(a, order: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Ratios of the prefixes ``order[:k]``, k = 1..n//2 (and their sizes)."""
    n = a.shape[0]
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    deg = np.diff(a.indptr)
    rows = np.repeat(np.arange(n), deg)
    cols = a.indices
    if kind == "vertex":
        first = np.full(n, n, dtype=np.int64)  # smallest position among the neighbours
        nz = deg > 0
        mins = np.minimum.reduceat(pos[cols], a.indptr[:-1][nz]) if cols.size else []
        first[nz] = mins
        inside = first < pos
        diff = np.bincount(first[inside] + 1, minlength=n + 2)
        diff -= np.bincount(pos[inside] + 1, minlength=n + 2)
        num = np.cumsum(diff)[1 : n + 1]  # boundary of the prefix of size k = 1..n
    else:
        data = a.data.astype(np.float64)
        sign = np.where(pos[cols] > pos[rows], 1.0, -1.0) * data
        sign[rows == cols] = 0.0
        delta = np.bincount(pos[rows], weights=sign, minlength=n)
        num = np.cumsum(delta)
    k = np.arange(1, n // 2 + 1)
    return num[: n // 2] / k, k


def _orders(a, spectrum: SpectralResult, seed: int, n: int) -> list[tuple[str, np.ndarray]]:
    from scipy.sparse.csgraph import breadth_first_order

    out = []
    for name, vec in (("lambda_2 eigenvector", spectrum.vector_2),):
        if vec is not None and vec.shape[0] == n:
            o = np.argsort(vec, kind="stable")
            out += [(f"sweep along the {name}", o), (f"sweep along the {name}", o[::-1])]
    rng = np.random.default_rng(seed)
    for root in rng.choice(n, size=min(n, 3), replace=False):
        o = breadth_first_order(a, int(root), directed=False, return_predecessors=False)
        out.append(("BFS-ball sweep", o))
    return out


def _heuristic(g, a, kind, spectrum, seed, rounds):
    n = g.n
    best_ratio, best_mask, best_how = math.inf, None, ""
    for how, order in _orders(a, spectrum, seed, n):
        ratios, ks = _sweep(a, order, kind)
        i = int(np.argmin(ratios))
        if ratios[i] < best_ratio - 1e-12:
            mask = np.zeros(n, dtype=bool)
            mask[order[: ks[i]]] = True
            best_ratio, best_mask, best_how = float(ratios[i]), mask, how
    mask, moved = _local_search(a, best_mask, kind, rounds)
    how = best_how + (f" + {moved} greedy single-node moves" if moved else "")
    return mask, _set_ratio(a, mask, kind), how


def _local_search(a, mask: np.ndarray, kind: str, rounds: int) -> tuple[np.ndarray, int]:
    """Greedy: toggle the one node that lowers the ratio most, ``rounds`` times at most."""
    n = a.shape[0]
    half = n // 2
    mask = mask.copy()
    deg = np.asarray(a.sum(axis=1)).ravel()
    diag = a.diagonal().astype(np.float64)
    p = a.copy()
    p.setdiag(0)
    p.eliminate_zeros()
    pb = p.copy()
    pb.data[:] = 1.0
    rows = np.repeat(np.arange(n), np.diff(p.indptr))
    moved = 0
    for _ in range(rounds):
        s = mask.astype(np.float64)
        size = int(mask.sum())
        if kind == "edge":
            cnt = a @ s
            cur = float(np.sum(cnt[~mask]))
            new = np.where(mask, cur - deg + 2 * cnt - diag, cur + deg - diag - 2 * cnt)
        else:
            c = p @ s
            cur = float(np.count_nonzero((c > 0) & ~mask))
            add = -(c > 0).astype(np.float64) + pb @ ((c == 0) & ~mask).astype(np.float64)
            lose = (~mask[p.indices]) & (c[p.indices] == p.data)
            rem = (c > 0).astype(np.float64) - np.bincount(rows[lose], minlength=n)
            new = cur + np.where(mask, rem, add)
        new_size = np.where(mask, size - 1, size + 1)
        ok = (new_size >= 1) & (new_size <= half)
        ratio = np.where(ok, new / np.maximum(new_size, 1), np.inf)
        v = int(np.argmin(ratio))
        if not ratio[v] < cur / size - 1e-12:
            break
        mask[v] = ~mask[v]
        moved += 1
    return mask, moved
