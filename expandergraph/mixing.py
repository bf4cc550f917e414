"""Log-step mixing on a :class:`LayeredGraph`: measured reach depth and Tanner's bound on it.

Conventions
-----------
* Level ``k`` holds ``widths[k]`` nodes; layer ``k`` maps level ``k`` to level
  ``k + 1``.  A node ``u`` of level ``i`` *reaches* a node ``v`` of level ``j > i``
  when some path ``u -> ... -> v`` follows one edge of each layer ``i .. j-1``.
* ``reach_depth`` from level ``i``: the smallest ``t >= 1`` such that every node of
  level ``i`` reaches every node of level ``i + t``; ``None`` when the layers run
  out first.  ``reach_fraction[k]``: the fraction of (level-``i`` node,
  level-``i+k+1`` node) pairs that are connected.
* ``bound_depth``: the number of layers after which Tanner's inequality forces
  every such pair to be connected (see :func:`tanner_depth`); ``None`` when the
  spectrum cannot force it (e.g. grouped layers, whose ``sigma_2 = sigma_1``).

The measurement propagates packed bitsets: bit ``j`` of row ``v`` says whether
source ``j`` (a node of level ``i``) reaches ``v``.  Sources are processed in
chunks of ``64 * words`` bits, rows that are already full or empty are not
recomputed, and nothing of size ``n x n`` is ever held as floats.

References: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3
(the logarithmic-depth connectivity claim); R. M. Tanner, "Explicit concentrators
from generalized N-gons", SIAM J. Alg. Disc. Meth. 5 (1984); Hoory, Linial and
Wigderson, "Expander graphs and their applications", Bull. AMS 43 (2006) §4.6.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from .graph import BipartiteGraph
from .layered import LayeredGraph

__all__ = [
    "Reach",
    "LayerSpectrum",
    "reachability",
    "reach_depth",
    "reach_fraction",
    "layer_spectrum",
    "tanner_step",
    "tanner_depth",
]

_DENSE_LIMIT = 200  # largest side for dense SVDs (threaded BLAS is slow when loaded)
_SPARSE_LIMIT = 1 << 25  # entries of an ancestor table worth scattering


#: threads for the bitset OR-reduction (numpy releases the GIL in take/bitwise_or)
_THREADS = max(1, min(4, os.cpu_count() or 1))


def _check_level(lg: LayeredGraph, level, name: str, hi: int | None = None) -> int:
    top = len(lg) if hi is None else hi
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise ValueError(f"{name}: must be an integer level, got {level!r}")
    if not 0 <= level <= top:
        raise ValueError(f"{name}: level {level} out of range 0..{top}")
    return int(level)


# -- measured reachability ------------------------------------------------------------


@dataclass
class Reach:
    """Result of :func:`reachability`.

    ``connected_pairs[k]`` is the exact number of connected (source, level
    ``from_layer+k+1`` node) pairs; ``reach_fraction[k]`` divides it by
    ``sources * widths[from_layer+k+1]``.  ``sampled`` is true when only some
    sources of the level were followed (then ``reach_depth`` is the depth for those
    sources, a lower bound on the all-pairs depth).
    """

    from_layer: int
    widths: list[int]
    sources: int
    sampled: bool
    reach_depth: int | None
    reach_fraction: list[float]
    connected_pairs: list[int]

    def to_dict(self) -> dict:
        return asdict(self)


def _padded_table(layer: BipartiteGraph) -> np.ndarray:
    """``(right, maxdeg)`` input table; missing slots point at the zero row ``left``."""
    deg = layer.right_degrees()
    width = int(deg.max()) if deg.size else 0
    if width == 0:
        return np.zeros((layer.right, 0), dtype=np.int64)
    if deg.min() == width:
        return layer.indices.reshape(layer.right, width)
    table = np.full((layer.right, width), layer.left, dtype=np.int64)
    rows = np.repeat(np.arange(layer.right), deg)
    cols = np.arange(layer.indices.shape[0]) - layer.indptr[rows]
    table[rows, cols] = layer.indices
    return table


def _step(bits, full, empty, table, words, mask):
    """One layer: ``new[v] = OR of bits[u] over inputs u``; rows full/empty skipped."""
    right = table.shape[0]
    new = np.zeros((right + 1, words), dtype=np.uint64)
    if table.shape[1] == 0:
        return new, np.zeros(right + 1, bool), np.ones(right + 1, bool)
    new_full = np.zeros(right + 1, dtype=bool)
    new_full[:right] = full[table].any(axis=1)
    new_empty = np.ones(right + 1, dtype=bool)
    new_empty[:right] = empty[table].all(axis=1)
    new[:right][new_full[:right]] = mask
    todo = np.flatnonzero(~new_full[:right] & ~new_empty[:right])
    block = max(1, (1 << 17) // max(words, 1))  # keep the accumulator in cache

    def run(start: int) -> None:
        rows = todo[start : start + block]
        sub = table[rows]
        acc = np.take(bits, sub[:, 0], axis=0)
        tmp = np.empty_like(acc)
        for k in range(1, sub.shape[1]):
            np.take(bits, sub[:, k], axis=0, out=tmp)
            np.bitwise_or(acc, tmp, out=acc)
        new[rows] = acc  # blocks write disjoint rows: safe across threads
        new_full[rows] = np.all(acc == mask, axis=1)
        new_empty[rows] = ~np.any(acc, axis=1)

    starts = range(0, todo.shape[0], block)
    if len(starts) > 1 and _THREADS > 1:  # numpy's take/or release the GIL
        with ThreadPoolExecutor(_THREADS) as pool:
            list(pool.map(run, starts))
    else:
        for start in starts:
            run(start)
    return new, new_full, new_empty


def _scatter(anc: np.ndarray, c0: int, cm: int, words: int, mask: np.ndarray):
    """Bitsets of a sparse level from its ancestor table (entries: source index or -1)."""
    right = anc.shape[0]
    rows, cols = np.nonzero((anc >= c0) & (anc < c0 + cm))
    j = anc[rows, cols] - c0
    new = np.zeros((right + 1, words), dtype=np.uint64)
    flat = new.reshape(-1)
    np.bitwise_or.at(
        flat, rows * words + (j >> 6), np.left_shift(np.uint64(1), (j & 63).astype(np.uint64))
    )
    new_full = np.zeros(right + 1, dtype=bool)
    new_full[:right] = np.all(new[:right] == mask, axis=1)
    new_empty = ~np.any(new, axis=1)
    return new, new_full, new_empty


def reachability(
    lg: LayeredGraph,
    from_layer: int = 0,
    *,
    sources=None,
    words: int | None = None,
    progress=None,
) -> Reach:
    """Measured reachability from level ``from_layer`` to every later level.

    For every later level ``from_layer + k + 1`` this counts exactly how many
    (source, node) pairs are joined by a path, and finds ``reach_depth``: the
    smallest ``t >= 1`` such that every source reaches every node of level
    ``from_layer + t`` (``None`` when the layers run out first).  ``sources``
    (default: all nodes of the level) restricts the sources; ``words`` sets the
    chunk size (``64 * words`` sources per pass; default: about 128 MiB per level).

    Method: packed ``uint64`` bitsets per node, OR-reduced over each node's inputs
    (the layer's ELL/CSR table), sources in chunks; rows already full or empty are
    copied, not recomputed, so a level that has filled up costs ``O(n D)`` booleans.
    Memory is ``O(n * words)``; no ``n x n`` array is formed.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3 (every input reaches
    every output in logarithmically many layers).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> shift = BipartiteGraph.from_ell(4, [[0, 1], [1, 2], [2, 3], [3, 0]])
    >>> r = reachability(LayeredGraph([shift] * 4))
    >>> r.reach_depth, r.reach_fraction
    (3, [0.5, 0.75, 1.0, 1.0])
    """
    if not isinstance(lg, LayeredGraph):
        raise ValueError(f"lg: expected a LayeredGraph, got {type(lg).__name__}")
    i = _check_level(lg, from_layer, "from_layer", len(lg) - 1)
    widths = lg.widths
    n0 = widths[i]
    if sources is None:
        src = np.arange(n0, dtype=np.int64)
        sampled = False
    else:
        src = _node_set(sources, n0, "sources")
        sampled = src.shape[0] < n0
    m = src.shape[0]
    levels = len(lg) - i
    pairs = [0] * levels
    full_at = np.ones(levels, dtype=bool)
    if words is None:
        words = int(max(1, min(64, (1 << 24) // max(max(widths[i:]), 1))))
    elif isinstance(words, bool) or not isinstance(words, (int, np.integer)) or words < 1:
        raise ValueError(f"words: must be a positive integer, got {words!r}")
    tables = [_padded_table(lg[k]) for k in range(i, len(lg))]
    fps = [lg[k].fingerprint for k in range(i, len(lg))]
    # The first levels are sparse: level k's row v has at most D^k sources, listed by
    # composing the input tables; those levels are set by scattering bits, not by ORs.
    pos = np.full(n0 + 1, -1, dtype=np.int64)
    pos[src] = np.arange(m)
    ancestors = []
    frac = min(64 * words, m) / m
    anc = pos[tables[0]] if tables[0].shape[1] else None
    while anc is not None and len(ancestors) < levels:
        k = len(ancestors)
        # cost model (ns): scatter = scan + ufunc.at per entry; gather = per word OR-ed
        scatter = anc.size * (12 + 190 * frac)
        gather = 5 * tables[k].size * words
        if k and scatter > gather:
            break
        ancestors.append(anc)
        if k + 1 == levels or tables[k + 1].shape[1] == 0:
            break
        if anc.size * tables[k + 1].shape[1] > _SPARSE_LIMIT:
            break
        padded = np.vstack([anc, np.full((1, anc.shape[1]), -1, dtype=np.int64)])
        anc = padded[tables[k + 1]].reshape(tables[k + 1].shape[0], -1)
    live = [bool(lg[k].right_degrees().min() > 0) for k in range(i, len(lg))]
    per = 64 * words
    for c0 in range(0, m, per):
        cm = min(per, m - c0)
        mask = np.zeros(words, dtype=np.uint64)
        full_words, rest = divmod(cm, 64)
        mask[:full_words] = np.uint64(0xFFFFFFFFFFFFFFFF)
        if rest:
            mask[full_words] = np.uint64((1 << rest) - 1)
        bits = full = empty = prev = None
        all_full = False
        for k in range(levels):
            if progress is not None:
                progress(f"reachability: sources {c0}..{c0 + cm - 1}, level {i + k + 1}")
            right = tables[k].shape[0]
            if all_full and live[k]:  # every row full and every output has an input
                pairs[k] += cm * right
                bits, prev = None, None
                full = np.ones(right + 1, dtype=bool)
                full[right] = False
                empty = ~full
                continue
            if bits is None and full is not None:  # materialise an all-full level
                bits = np.zeros((full.shape[0], words), dtype=np.uint64)
                bits[full] = mask
            if k < len(ancestors):
                new, new_full, new_empty = _scatter(ancestors[k], c0, cm, words, mask)
            elif prev is not None and fps[k] == fps[k - 1] and np.array_equal(prev, bits):
                new, new_full, new_empty = bits, full, empty  # fixpoint of a repeated layer
            else:
                new, new_full, new_empty = _step(bits, full, empty, tables[k], words, mask)
            pairs[k] += int(np.bitwise_count(new[:right]).sum(dtype=np.int64))
            all_full = bool(new_full[:right].all())
            full_at[k] &= all_full
            prev, bits, full, empty = bits, new, new_full, new_empty
    depth = next((k + 1 for k in range(levels) if full_at[k]), None)
    fractions = [pairs[k] / (m * widths[i + k + 1]) for k in range(levels)]
    return Reach(i, widths[i:], m, sampled, depth, fractions, pairs)


def reach_depth(lg: LayeredGraph, from_layer: int = 0) -> int | None:
    """The measured depth: smallest ``t`` with every level-``from_layer`` node reaching
    every node of level ``from_layer + t``; ``None`` when the layers run out.

    See :func:`reachability` (method, conventions).  Reference: Prabhu, Varma and
    Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> ident = BipartiteGraph.from_ell(3, [[0], [1], [2]])
    >>> reach_depth(LayeredGraph([ident, ident])) is None
    True
    """
    return reachability(lg, from_layer).reach_depth


def reach_fraction(lg: LayeredGraph, from_layer: int = 0) -> list[float]:
    """Entry ``k``: fraction of (level-``from_layer`` node, level-``from_layer+k+1`` node)
    pairs joined by a path.  See :func:`reachability`.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(2, [[0, 1], [0, 1]])
    >>> reach_fraction(LayeredGraph([full]))
    [1.0]
    """
    return reachability(lg, from_layer).reach_fraction


def _node_set(nodes, width: int, name: str) -> np.ndarray:
    arr = np.asarray(nodes)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: must be a non-empty list of node ids")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: node ids must be integers")
    arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() >= width:
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise ValueError(f"{name}: node {bad} out of range 0..{width - 1}")
    out = np.unique(arr)
    if out.shape[0] != arr.shape[0]:
        raise ValueError(f"{name}: node ids must be distinct")
    return out


# -- spectra ------------------------------------------------------------------------------


@dataclass
class LayerSpectrum:
    """Singular values of one layer's ``(right, left)`` biadjacency ``B``.

    * ``sigma1``, ``sigma2``: the two largest singular values of ``B`` (``None``
      for large layers that are not biregular: no bound needs them there).
    * ``deviation``: ``||B - (|E| / (left * right)) J||_2``, the norm of ``B`` minus
      its average; equals ``sigma2`` when the layer is biregular.
    * ``mu``: the second singular value of the normalised biadjacency
      ``N = D_r^{-1/2} B D_l^{-1/2}`` (whose top singular value is 1); equals
      ``sigma2 / sqrt(d_l d_r)`` when biregular.  ``mu = 1`` for a disconnected
      layer such as ``grouped`` with ``groups > 1``.
    * ``error``: an upper bound on the numerical error of ``deviation`` and ``mu``
      (Lanczos residual; ``~1e-12`` for dense SVD).
    """

    sigma1: float | None
    sigma2: float | None
    deviation: float
    mu: float
    biregular: bool
    right_regular: bool
    left_regular: bool
    method: str
    error: float

    def to_dict(self) -> dict:
        return asdict(self)


_SPECTRA: dict[str, LayerSpectrum] = {}


def _one_blas_thread():
    """Single-threaded BLAS for small dense work (threaded BLAS crawls on a loaded machine)."""
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1)
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()


def _top_singular(matvec, rmatvec, shape, seed: int = 0) -> tuple[float, float]:
    """Largest singular value of an operator and an error bound (Lanczos on the Gram)."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    rows, cols = shape
    if cols <= rows:
        n = cols

        def gram(x):
            return rmatvec(matvec(x))
    else:
        n = rows

        def gram(x):
            return matvec(rmatvec(x))

    from scipy.sparse.linalg import ArpackNoConvergence

    op = LinearOperator((n, n), matvec=gram, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    if not np.any(gram(v0)) and not np.any(gram(np.ones(n) + v0 * v0)):
        return 0.0, 0.0  # the operator vanishes (e.g. a dense layer minus its average)
    ncv = min(n - 1, 40)
    try:
        with _one_blas_thread():
            vals, vecs = eigsh(op, k=1, which="LA", v0=v0, ncv=ncv, tol=1e-7, maxiter=20 * n)
    except ArpackNoConvergence as exc:  # pragma: no cover - keep the best Ritz pair
        if not len(exc.eigenvalues):
            raise ValueError("spectrum: Lanczos did not converge") from None
        vals, vecs = exc.eigenvalues, exc.eigenvectors
    theta = max(float(vals[0]), 0.0)
    x = vecs[:, 0]
    res = float(np.linalg.norm(gram(x) - theta * x))
    sigma = math.sqrt(theta)
    err = res / (2 * sigma) if sigma > 0 else math.sqrt(res)
    return sigma, err


def layer_spectrum(layer: BipartiteGraph) -> LayerSpectrum:
    """The singular values of a layer that the mixing bounds use; cached by fingerprint.

    Dense SVD (``numpy.linalg.svd``) when ``left * right * min(left, right) <= 200^3``;
    otherwise Lanczos (``scipy.sparse.linalg.eigsh`` on the Gram operator) with
    the known top singular pair deflated and the residual reported as ``error``.
    See :class:`LayerSpectrum` for the quantities.

    Reference: Hoory, Linial and Wigderson (2006) §2.4 (the bipartite expander
    mixing lemma); F. Chung, Spectral Graph Theory (1997) ch. 1 (normalised
    matrices).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph
    >>> s = layer_spectrum(BipartiteGraph.from_ell(2, [[0, 1], [0, 1]]))
    >>> round(s.sigma1, 9), round(s.sigma2, 9), round(s.mu, 9)
    (2.0, 0.0, 0.0)
    """
    key = layer.fingerprint
    if key in _SPECTRA:
        return _SPECTRA[key]
    b = layer.biadjacency(dtype=np.float64)
    dr = np.asarray(b.sum(axis=1)).ravel()
    dl = np.asarray(b.sum(axis=0)).ravel()
    edges = float(dr.sum())
    right_regular = bool(dr.min() == dr.max())
    left_regular = bool(dl.min() == dl.max())
    biregular = right_regular and left_regular
    avg = edges / (layer.left * layer.right)
    if edges == 0:
        spec = LayerSpectrum(0.0, 0.0, 0.0, 1.0, biregular, True, True, "no edges", 0.0)
        _SPECTRA[key] = spec
        return spec
    with np.errstate(divide="ignore"):
        ir = np.where(dr > 0, 1 / np.sqrt(dr), 0.0)
        il = np.where(dl > 0, 1 / np.sqrt(dl), 0.0)
    if layer.left * layer.right * min(layer.left, layer.right) <= _DENSE_LIMIT**3:
        dense = b.toarray()
        with _one_blas_thread():
            s = np.linalg.svd(dense, compute_uv=False)
            dev = float(np.linalg.svd(dense - avg, compute_uv=False)[0])
            sn = np.linalg.svd(ir[:, None] * dense * il[None, :], compute_uv=False)
        s1, s2 = float(s[0]), float(s[1]) if s.shape[0] > 1 else 0.0
        mu = float(sn[1]) if sn.shape[0] > 1 else 0.0
        err = 1e-12 * max(s1, 1.0)
        spec = LayerSpectrum(
            s1, s2, dev, mu, biregular, right_regular, left_regular, "dense svd", err
        )
    else:
        bt = b.T.tocsr()
        shape = b.shape

        def dev_mv(x):
            return b @ x - avg * x.sum()

        def dev_rmv(y):
            return bt @ y - avg * y.sum()

        dev, e1 = _top_singular(dev_mv, dev_rmv, shape)
        if biregular:
            s1 = math.sqrt(float(dl[0]) * float(dr[0]))
            s2, mu, e2 = dev, dev / s1, e1 / s1
        else:
            u = np.sqrt(dr / edges)
            v = np.sqrt(dl / edges)

            def n_mv(x):
                return ir * (b @ (il * x)) - u * (v @ x)

            def n_rmv(y):
                return il * (bt @ (ir * y)) - v * (u @ y)

            mu, e2 = _top_singular(n_mv, n_rmv, shape)
            s1 = s2 = None  # not needed by any bound; svds would double the cost
        spec = LayerSpectrum(
            s1,
            s2,
            float(dev),
            float(min(mu, 1.0)),
            biregular,
            right_regular,
            left_regular,
            "lanczos (eigsh on the Gram operator, top pair deflated)",
            float(max(e1, e2)),
        )
    if len(_SPECTRA) > 256:
        _SPECTRA.clear()
    _SPECTRA[key] = spec
    return spec


# -- Tanner's bound on the depth -----------------------------------------------------------


def tanner_step(alpha: float, mu: float) -> float:
    """Tanner's inequality in normalised bipartite form: the least volume fraction of N(S).

    For a layer with normalised second singular value ``mu`` and a set ``S`` of
    inputs holding the fraction ``alpha`` of the edges (its *volume* fraction;
    the node fraction when the layer is biregular), the outputs ``N(S)`` hold at
    least the fraction ``alpha / (mu^2 + (1 - mu^2) alpha)`` of the edges.  With
    ``d``-regular layers of ``n`` nodes and ``mu = lambda / d`` this is
    ``|N(S)| >= d^2 |S| / (lambda^2 + (d^2 - lambda^2) |S| / n)``.

    Equivalently ``1/beta - 1 = mu^2 (1/alpha - 1)``: the odds of missing shrink by
    ``mu^2`` per layer.

    Reference: R. M. Tanner, SIAM J. Alg. Disc. Meth. 5 (1984), Thm 2.1; Hoory,
    Linial and Wigderson (2006) §4.6.

    Examples
    --------
    >>> tanner_step(0.1, 0.5)  # 0.1 / (0.25 + 0.75 * 0.1)
    0.3076923076923077
    >>> tanner_step(0.1, 1.0)  # mu = 1 (e.g. grouped): no growth
    0.1
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha: must be in [0, 1], got {alpha}")
    if not 0 <= mu <= 1:
        raise ValueError(f"mu: must be in [0, 1], got {mu}")
    if alpha == 0:
        return 0.0
    return min(1.0, alpha / (mu * mu + (1 - mu * mu) * alpha))


class _Side:
    """Sorted degree sequence of one side of a layer, for volume <-> node conversions."""

    def __init__(self, degrees: np.ndarray):
        asc = np.sort(degrees.astype(np.float64))
        self.n = asc.shape[0]
        self.low = np.concatenate([[0.0], np.cumsum(asc)])  # volume of the s smallest
        self.high = np.concatenate([[0.0], np.cumsum(asc[::-1])])  # of the s largest
        self.total = self.low[-1]

    def min_volume(self, nodes: int) -> float:
        return float(self.low[min(nodes, self.n)])

    def min_nodes(self, volume: float) -> int:
        """Fewest nodes that can hold ``volume`` (slightly conservative in floating point)."""
        need = volume - 1e-9 * max(self.total, 1.0)
        if need <= 0:
            return 0
        return int(min(np.searchsorted(self.high, need, side="left"), self.n))


def _layer_sides(layer: BipartiteGraph) -> tuple[_Side, _Side]:
    return _Side(layer.left_degrees()), _Side(layer.right_degrees())


def _grow(nodes: int, src: _Side, dst: _Side, mu: float) -> int:
    """Lower bound on |N(S)| for any ``nodes`` nodes S on side ``src``."""
    if src.total == 0:
        return 0
    a = src.min_volume(nodes) / src.total
    b = tanner_step(min(a, 1.0), mu)
    return dst.min_nodes(b * dst.total)


def _least_preimage(target: float, src: _Side, dst: _Side, mu: float, width: int) -> float:
    """Least ``v`` in ``0..width`` with ``_grow(v, src, dst, mu) >= target`` (``inf``: none).

    ``_grow`` is non-decreasing in ``v`` (volumes, Tanner's step and the node
    conversion all are), so a binary search finds it.
    """
    if target <= 0:
        return 0
    if target == math.inf or _grow(width, src, dst, mu) < target:
        return math.inf
    lo, hi = 0, width  # invariant: _grow(hi) >= target
    while lo < hi:
        mid = (lo + hi) // 2
        if _grow(mid, src, dst, mu) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def tanner_depth(
    lg: LayeredGraph, from_layer: int = 0, *, spectra: list[LayerSpectrum] | None = None
) -> dict:
    """Tanner's spectral bound on the reach depth, from each layer's measured spectrum.

    Returns ``{"bound_depth": t or None, "mu": [...], "closed_form": t' or None,
    "method": ...}`` where ``bound_depth`` is the smallest ``t`` for which Tanner's
    inequality alone proves that every node of level ``i = from_layer`` reaches
    every node of level ``i + t``.

    Formula.  Let ``mu_k`` be the normalised second singular value of layer ``k``
    (:class:`LayerSpectrum`).  Tanner's inequality (:func:`tanner_step`) bounds the
    edge-volume fraction of a neighbourhood: ``beta >= alpha / (mu^2 + (1-mu^2) alpha)``.
    Node counts and volumes are converted with the layer's sorted degree
    sequences (the ``s`` smallest degrees give the least volume of ``s`` nodes;
    the largest degrees the fewest nodes holding a volume), which is exact for
    biregular layers.  ``F_s`` (forward from one node of level ``i``, ``s``
    layers) and ``A_r`` (backward from one node of level ``i+t``, ``r`` layers) are
    lower bounds on reachable-set sizes, and ``t`` is proven once some split
    ``s + r = t`` has ``F_s + A_r > widths[i+s]`` (the two sets must meet).

    For biregular layers of equal width ``n`` and one ``mu`` this is
    ``1/alpha_t - 1 = mu^{2t} (n - 1)`` and gives the closed form reported as
    ``closed_form``: the smallest ``t`` with ``mu^t (n - 1) < 1``, i.e.
    ``t = floor(log(n - 1) / log(1/mu)) + 1 = O(log n / log(d / lambda))``, with
    ``mu`` the largest of the layers' values; the node-count rounding makes
    ``bound_depth <= closed_form``.  ``mu = 1``
    (grouped layers) or an input/output of degree 0 gives ``None``.

    Reference: R. M. Tanner, SIAM J. Alg. Disc. Meth. 5 (1984); Hoory, Linial and
    Wigderson (2006) §4.6; F. Chung, "Diameters and eigenvalues", JAMS 2 (1989).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(3, [[0, 1, 2]] * 3)  # mu = 0
    >>> tanner_depth(LayeredGraph([full, full]))["bound_depth"]
    1
    """
    i = _check_level(lg, from_layer, "from_layer", len(lg) - 1)
    layers = list(lg)[i:]
    if spectra is None:
        spectra = [layer_spectrum(layer) for layer in layers]
    elif len(spectra) != len(layers):
        raise ValueError(f"spectra: need {len(layers)} entries (layers {i}..{len(lg) - 1})")
    widths = lg.widths[i:]
    mus = [min(1.0, s.mu + s.error) for s in spectra]
    sides = [_layer_sides(layer) for layer in layers]
    levels = len(layers)
    fwd = [1]
    for k in range(levels):
        fwd.append(_grow(fwd[-1], sides[k][0], sides[k][1], mus[k]))
    found = None
    # t is proven iff some s <= t has fwd[s] + B(t, s) > widths[s], where B(t, s) grows one
    # node of level t back to level s.  Every backward step G_k (level k+1 -> k) is
    # monotone, so "some s <= k meets" is "B(t, k) >= need[k]" with a threshold that
    # does not depend on t: need[0] = widths[0] - fwd[0] + 1 and need[k] =
    # min(widths[k] - fwd[k] + 1, least v with G_{k-1}(v) >= need[k-1]).  Then t is
    # proven iff need[t] <= 1 (B(t, t) = 1): one pass, O(levels log width).
    need = widths[0] - fwd[0] + 1
    for k in range(1, levels + 1):
        pre = _least_preimage(need, sides[k - 1][1], sides[k - 1][0], mus[k - 1], widths[k])
        need = min(widths[k] - fwd[k] + 1, pre)
        if need <= 1:
            found = k
            break
    closed = None
    if all(s.biregular for s in spectra) and len(set(widths)) == 1:
        mu, n = max(mus), widths[0]
        if n == 1:
            closed = 1
        elif mu == 0:
            closed = 1
        elif mu < 1:
            closed = math.floor(math.log(n - 1) / math.log(1 / mu)) + 1
    return {
        "bound_depth": found,
        "closed_form": closed,
        "mu": mus,
        "forward_sizes": fwd,
        "method": "Tanner's inequality on normalised singular values, forward/backward meet",
    }
