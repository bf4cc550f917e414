"""Log-step mixing on a :class:`LayeredGraph`: the measured reach depth.

Conventions
-----------
* Level ``k`` holds ``widths[k]`` nodes; layer ``k`` maps level ``k`` to level
  ``k + 1``.  A node ``u`` of level ``i`` *reaches* a node ``v`` of level ``j > i``
  when some path ``u -> ... -> v`` follows one edge of each layer ``i .. j-1``.
* ``reach_depth`` from level ``i``: the smallest ``t >= 1`` such that every node of
  level ``i`` reaches every node of level ``i + t``; ``None`` when the layers run
  out first.  ``reach_fraction[k]``: the fraction of (level-``i`` node,
  level-``i+k+1`` node) pairs that are connected.
* Tanner's spectral bound on the depth, :func:`~expandergraph.bounds.tanner_depth`,
  lives with the other proven bounds in :mod:`expandergraph.bounds` (and is
  re-exported here, with the layer spectra of :mod:`expandergraph.singular`).

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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from .graph import BipartiteGraph
from .layered import LayeredGraph
from .levels import check_level, node_set
from .threads import worker_threads

__all__ = [
    "Reach",
    "reachability",
    "reach_depth",
    "reach_fraction",
]


_SPARSE_LIMIT = 1 << 25  # entries of an ancestor table worth scattering


#: threads for the bitset OR-reduction (numpy releases the GIL in take/bitwise_or)
_THREADS = worker_threads()


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
    i = check_level(lg, from_layer, "from_layer", len(lg) - 1)
    widths = lg.widths
    n0 = widths[i]
    if sources is None:
        src = np.arange(n0, dtype=np.int64)
        sampled = False
    else:
        src = node_set(sources, n0, "sources")
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
