"""Random regular graphs and random bipartite layers (vectorised numpy, seeded).

Every function here draws all of its randomness from ``np.random.default_rng(seed)``
in a fixed order, so a given seed gives the same graph in every process and on
every platform that numpy's ``PCG64`` supports (no Python ``hash``, no set order).

Simple graphs are produced by the pairing (configuration) model followed by
*switchings* (McKay and Wormald, "Uniform generation of random regular graphs of
moderate degree", J. Algorithms 11, 1990): a loop or a repeated edge ``(a, b)`` and
a random edge ``(c, d)`` are replaced by ``(a, d)`` and ``(c, b)``.  Switchings are
applied many at a time, each one only when it provably lowers the number of loops
plus surplus edge copies; a round in which no random switching qualifies falls
back to one exact switching chosen among *all* admissible partners, which exists
by a counting argument whenever ``2 d < n`` (see :func:`_switch`).  Denser graphs
are built as complements of sparser ones.  The result is therefore always simple
and the loop always terminates, unlike networkx's ``maybe_regular_expander_graph``.
The switched pairing model is close to, but not exactly, the uniform distribution
over simple graphs.
"""

from __future__ import annotations

import numpy as np

from ..graph import BipartiteGraph, Graph
from ..limits import check_bytes

__all__ = ["random_regular", "random_bipartite", "biregular"]


# -- parameter checks (shared by the generator modules) ----------------------------


def int_param(func: str, name: str, value, lo: int | None = None) -> int:
    """``value`` as an ``int`` (``>= lo`` when given); a ``ValueError`` naming ``func`` and
    ``name`` otherwise.  The parameter check every generator uses.

    >>> int_param("paley", "q", 13)
    13
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{func}: {name}={value!r} must be an integer")
    value = int(value)
    if lo is not None and value < lo:
        raise ValueError(f"{func}: {name}={value} must be >= {lo}")
    return value


def seed_param(func: str, seed) -> int:
    """A generator's ``seed``: a non-negative integer (:func:`int_param` with ``lo=0``)."""
    return int_param(func, "seed", seed, lo=0)


def _graph_from_pairs(n: int, u: np.ndarray, v: np.ndarray, name: str, meta: dict) -> Graph:
    """Graph with edges ``(u[i], v[i])``; sorted CSR built with one integer sort."""
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    keys = np.sort(rows * n + cols)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Graph(n, indptr, keys % n, name, meta)


def _bipartite_from_pairs(
    left: int, right: int, lnodes: np.ndarray, rnodes: np.ndarray, name: str, meta: dict
) -> BipartiteGraph:
    """Layer with edges ``lnodes[i] -> rnodes[i]``; sorted CSR built with one integer sort."""
    keys = np.sort(rnodes * left + lnodes)
    indptr = np.zeros(right + 1, dtype=np.int64)
    np.cumsum(np.bincount(rnodes, minlength=right), out=indptr[1:])
    return BipartiteGraph(left, right, indptr, keys % left, 1, name, meta)


# -- switchings ---------------------------------------------------------------------


def _keys(u: np.ndarray, v: np.ndarray, width: int, bipartite: bool) -> np.ndarray:
    if bipartite:
        return u * width + v
    return np.minimum(u, v) * width + np.maximum(u, v)


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``keys[i] in sorted_keys`` for every ``i`` (queries sorted first: cache-friendly)."""
    order = np.argsort(keys)
    q = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, q), sorted_keys.shape[0] - 1)
    out = np.empty(keys.shape[0], dtype=bool)
    out[order] = sorted_keys[pos] == q
    return out


def _once(x: np.ndarray, pool: list[np.ndarray]) -> np.ndarray:
    """For each entry of ``x``: does it occur exactly once in the concatenation of ``pool``?"""
    vals, counts = np.unique(np.concatenate(pool), return_counts=True)
    return counts[np.searchsorted(vals, x)] == 1


def _bad_edges(u, v, width, bipartite) -> tuple[np.ndarray, np.ndarray]:
    """Indices of loops and of surplus copies of repeated edges; and the sorted keys."""
    keys = _keys(u, v, width, bipartite)
    sk = np.sort(keys)
    repeated = np.unique(sk[1:][sk[1:] == sk[:-1]])
    bad = np.zeros(u.shape[0], dtype=bool)
    if repeated.size:
        cand = np.flatnonzero(_member(repeated, keys))
        ck = keys[cand]
        order = np.argsort(ck, kind="stable")
        first = np.ones(cand.size, dtype=bool)
        first[1:] = ck[order][1:] != ck[order][:-1]
        bad[cand[order[~first]]] = True  # every copy but the first of a repeated pair
    if not bipartite:
        bad |= u == v
    return np.flatnonzero(bad), sk


def _closed_nbhd(node: int, u: np.ndarray, v: np.ndarray, size: int, closed: bool) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[v[u == node]] = True
    if closed:
        mask[u[v == node]] = True
        mask[node] = True
    return mask


def _exact_switch(u, v, i, size, bipartite, rng) -> None:
    """Apply one switching of bad edge ``i`` with a partner drawn among all admissible ones.

    Bad edge ``(a, b)``, partner arc ``(c, d)``, new edges ``(a, d)`` and ``(c, b)``.
    Admissible: ``d`` not in ``N[a]`` and ``c`` not in ``N[b]`` (closed neighbourhoods
    in a graph; open, on the other side, in a bipartite layer).  Then both new
    edges are new non-loop pairs, or (loop ``(a, a)`` with a loop partner ``(c, c)``)
    one new double edge replacing two loops, so the potential drops by at least 1.
    Counting arcs whose end lies in a neighbourhood shows one exists when
    ``2 d < n`` (graph) or ``2 d_right <= left`` (layer).
    """
    a, b = int(u[i]), int(v[i])
    if bipartite:
        not_na = ~_closed_nbhd(a, u, v, size[1], closed=False)  # right nodes
        not_nb = ~_closed_nbhd(b, v, u, size[0], closed=False)  # left nodes
        c_all, d_all, idx = u, v, np.arange(u.shape[0])
    else:
        not_na = ~_closed_nbhd(a, u, v, size[0], closed=True)
        not_nb = ~_closed_nbhd(b, u, v, size[0], closed=True)
        m = u.shape[0]
        c_all, d_all = np.concatenate([u, v]), np.concatenate([v, u])
        idx = np.concatenate([np.arange(m), np.arange(m)])
    ok = np.flatnonzero(not_nb[c_all] & not_na[d_all])
    if ok.size == 0:  # pragma: no cover - excluded by the counting argument
        raise RuntimeError("switching: no admissible partner (internal error)")
    j = ok[rng.integers(ok.size)]
    f, c, d = int(idx[j]), int(c_all[j]), int(d_all[j])
    u[i], v[i] = a, d
    u[f], v[f] = c, b


def _switch(u: np.ndarray, v: np.ndarray, size: tuple[int, int], bipartite: bool, rng) -> None:
    """Remove loops and repeated edges from the edge list ``(u, v)`` in place.

    ``size`` is ``(n, n)`` for a graph and ``(left, right)`` for a layer, where
    ``u`` holds left and ``v`` right nodes.  Potential: loops plus surplus copies
    of repeated pairs.  Each round proposes, for every bad edge, a uniformly random
    partner edge (random orientation in a graph) and applies the proposals that
    use distinct edges, create two pairs absent from the current graph (no loops)
    and distinct from every other proposal's new pairs; each applied one lowers
    the potential by at least 1.  A round with no applicable proposal applies one
    :func:`_exact_switch` instead.  So the number of rounds is at most the initial
    potential, and in practice it is a handful.
    """
    m = u.shape[0]
    width = size[1] if bipartite else size[0]
    bad, sk = _bad_edges(u, v, width, bipartite)
    while bad.size:
        rng.shuffle(bad)
        f = rng.integers(0, m, bad.size)
        c, d = u[f], v[f]
        if not bipartite:
            flip = rng.integers(0, 2, bad.size).astype(bool)
            c, d = np.where(flip, d, c), np.where(flip, c, d)
        a, b = u[bad], v[bad]
        k1 = _keys(a, d, width, bipartite)
        k2 = _keys(c, b, width, bipartite)
        ok = _once(bad, [bad, f]) & _once(f, [bad, f])  # so no partner is a bad edge
        ok &= (k1 != k2) & ~_member(sk, k1) & ~_member(sk, k2)
        if not bipartite:
            ok &= (a != d) & (c != b)
        if ok.any():
            new = [k1[ok], k2[ok]]
            ok[ok] = _once(k1[ok], new) & _once(k2[ok], new)
        if not ok.any():
            _exact_switch(u, v, int(bad[0]), size, bipartite, rng)
            bad, sk = _bad_edges(u, v, width, bipartite)
            continue
        e, f = bad[ok], f[ok]
        removed = np.concatenate(
            [_keys(u[e], v[e], width, bipartite), _keys(u[f], v[f], width, bipartite)]
        )
        u[e], v[e] = a[ok], d[ok]
        u[f], v[f] = c[ok], b[ok]
        sk = _replace_sorted(sk, removed, np.concatenate([k1[ok], k2[ok]]))
        bad = _still_bad(bad[~ok], u, v, sk, width, bipartite)


def _replace_sorted(sk: np.ndarray, removed: np.ndarray, added: np.ndarray) -> np.ndarray:
    """The sorted multiset ``sk`` minus ``removed`` (all present) plus ``added``, in O(len(sk))."""
    removed = np.sort(removed)
    idx = np.arange(removed.size)
    run_start = np.ones(removed.size, dtype=bool)
    run_start[1:] = removed[1:] != removed[:-1]
    rank = idx - np.maximum.accumulate(np.where(run_start, idx, 0))
    sk = np.delete(sk, np.searchsorted(sk, removed) + rank)
    added = np.sort(added)
    return np.insert(sk, np.searchsorted(sk, added), added)


def _still_bad(cand: np.ndarray, u, v, sk, width, bipartite) -> np.ndarray:
    """Bad edges after a round of vectorised switchings.

    Such a round only removes edges and adds pairs that were absent, and never
    removes a bad edge as a partner, so every bad edge was already bad: among the
    unswitched former bad edges ``cand``, keep the loops and, for a pair now
    present ``c`` times, ``c - 1`` of its copies.
    """
    keys = _keys(u[cand], v[cand], width, bipartite)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    count = np.empty(keys.size, dtype=np.int64)
    count[order] = np.searchsorted(sk, sorted_keys, "right") - np.searchsorted(sk, sorted_keys)
    idx = np.arange(keys.size)
    run_start = np.ones(keys.size, dtype=bool)
    run_start[1:] = sorted_keys[1:] != sorted_keys[:-1]
    rank = np.empty(keys.size, dtype=np.int64)
    rank[order] = idx - np.maximum.accumulate(np.where(run_start, idx, 0))
    bad = rank < count - 1
    if not bipartite:
        bad |= u[cand] == v[cand]
    return cand[bad]


# -- random regular graphs ------------------------------------------------------------


def _sparse_regular(n: int, d: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Edge list of a simple d-regular graph, ``2 d < n``: pairing model + switchings."""
    stubs = rng.permutation(np.repeat(np.arange(n, dtype=np.int64), d))
    u, v = stubs[0::2].copy(), stubs[1::2].copy()
    _switch(u, v, (n, n), False, rng)
    return u, v


def random_regular(n: int, d: int, seed: int = 0) -> Graph:
    """Random simple ``d``-regular graph on ``n`` nodes.

    Conventions: nodes ``0..n-1``; the result is **simple** (no self-loops, no
    multi-edges), every node has degree exactly ``d``.  For ``2 d < n`` the graph
    is the pairing (configuration) model, made simple by vectorised switchings
    that provably terminate (see the module docstring); for ``2 d >= n`` it is the
    complement of a random ``(n - 1 - d)``-regular graph; ``d = n - 1`` gives the
    complete graph and ``d = 0`` the empty graph.  The distribution is close to
    uniform over simple d-regular graphs, not exactly uniform.  Deterministic for
    a given ``seed`` in every process.

    Parameters
    ----------
    n : int, ``n >= 1``.
    d : int, ``0 <= d < n`` and ``n * d`` even.
    seed : int, ``>= 0``; fed to ``numpy.random.default_rng``.

    References
    ----------
    Bollobás, "A probabilistic proof of an asymptotic formula for the number of
    labelled regular graphs", European J. Combin. 1 (1980) (pairing model);
    McKay and Wormald, J. Algorithms 11 (1990) (switchings).

    Examples
    --------
    >>> g = random_regular(10, 3, seed=1)
    >>> g.n, g.degree, g.num_edges
    (10, 3, 15)
    >>> bool((g.adjacency().diagonal() == 0).all() and g.adjacency().max() == 1)
    True
    """
    n = int_param("random_regular", "n", n, lo=1)
    d = int_param("random_regular", "d", d, lo=0)
    seed = seed_param("random_regular", seed)
    if d >= n:
        raise ValueError(f"random_regular: d={d} must be < n={n}")
    if (n * d) % 2:
        raise ValueError(f"random_regular: n*d={n * d} must be even (n={n}, d={d})")
    # stubs, pairs, keys and CSR: ~6 int64 per edge end; the complement branch is dense
    need = 8 * (n + 6 * n * d) if 2 * d < n else n * n + 8 * 6 * n * max(n - 1 - d, 1)
    check_bytes("random_regular", f"n={n}, d={d}", need)
    name = f"random-regular:n={n},d={d},seed={seed}"
    meta = {"construction": "random-regular", "n": n, "d": d, "seed": seed}
    rng = np.random.default_rng(seed)
    if 2 * d < n:
        u, v = _sparse_regular(n, d, rng)
        return _graph_from_pairs(n, u, v, name, meta)
    # complement of a sparse regular graph (d = n-1: of the empty graph)
    dc = n - 1 - d
    adj = np.ones((n, n), dtype=bool)
    np.fill_diagonal(adj, False)
    if dc:
        u, v = _sparse_regular(n, dc, rng)
        adj[u, v] = False
        adj[v, u] = False
    rows, cols = np.nonzero(adj)
    keep = rows < cols
    return _graph_from_pairs(n, rows[keep], cols[keep], name, meta)


# -- random bipartite layers ----------------------------------------------------------


def _distinct_rows(rows: int, pool: int, k: int, rng) -> np.ndarray:
    """``(rows, k)`` sorted table; each row a uniform k-subset of ``0..pool-1``, ``2k <= pool``.

    Draw with replacement, then redraw only the repeated entries of the rows that
    have any, until all rows are distinct.  The procedure commutes with relabelling
    ``0..pool-1``, so each row is uniform over k-subsets.
    """
    table = np.sort(rng.integers(0, pool, size=(rows, k), dtype=np.int64), axis=1)
    todo = np.flatnonzero(np.any(table[:, 1:] == table[:, :-1], axis=1))
    while todo.size:
        sub = table[todo]
        dup = np.zeros(sub.shape, dtype=bool)
        dup[:, 1:] = sub[:, 1:] == sub[:, :-1]
        sub[dup] = rng.integers(0, pool, size=int(dup.sum()), dtype=np.int64)
        sub.sort(axis=1)
        table[todo] = sub
        todo = todo[np.any(sub[:, 1:] == sub[:, :-1], axis=1)]
    return table


def random_bipartite(left: int, right: int, d: int, seed: int = 0) -> BipartiteGraph:
    """The X-Net layer: every output node reads ``d`` distinct input nodes chosen uniformly.

    Conventions: ``left`` inputs, ``right`` outputs; row ``v`` of the result lists
    the ``d`` inputs of output ``v`` (sorted, distinct), independently uniform over
    the d-subsets of ``0..left-1``.  In-degree is exactly ``d``; out-degrees vary
    (an input may have out-degree 0).  For ``2 d <= left`` the rows are drawn with
    replacement and only repeated entries are redrawn; otherwise each row is the
    complement of a uniform ``(left - d)``-subset.  Deterministic for a given seed.

    Parameters
    ----------
    left, right : int, ``>= 1``.
    d : int, ``1 <= d <= left``.
    seed : int, ``>= 0``.

    References
    ----------
    Prabhu, Varma and Namboodiri, "Deep Expander Networks: Efficient Deep Networks
    from Graph Theory", ECCV 2018, §3 (random expander layers).

    Examples
    --------
    >>> b = random_bipartite(8, 4, 3, seed=0)
    >>> b.left, b.right, b.degree, b.ell().shape
    (8, 4, 3, (4, 3))
    """
    func = "random_bipartite"
    left = int_param(func, "left", left, lo=1)
    right = int_param(func, "right", right, lo=1)
    d = int_param(func, "d", d, lo=1)
    seed = seed_param(func, seed)
    if d > left:
        raise ValueError(f"{func}: d={d} must be <= left={left}")
    # the table plus one left-sized count array (out-degrees) that every user needs
    need = 8 * (left + right + 1 + 3 * right * d)
    check_bytes(func, f"left={left}, right={right}, d={d}", need)
    name = f"random-bipartite:left={left},right={right},d={d},seed={seed}"
    meta = {"construction": "random-bipartite", "left": left, "right": right, "d": d}
    meta["seed"] = seed
    rng = np.random.default_rng(seed)
    if 2 * d <= left:
        table = _distinct_rows(right, left, d, rng)
    else:
        k = left - d
        comp = _distinct_rows(right, left, k, rng) if k else np.zeros((right, 0), np.int64)
        table = np.empty((right, d), dtype=np.int64)
        chunk = max(1, (1 << 24) // left)
        for s in range(0, right, chunk):
            mask = np.ones((min(chunk, right - s), left), dtype=bool)
            rows = np.repeat(np.arange(mask.shape[0]), k)
            mask[rows, comp[s : s + chunk].ravel()] = False
            table[s : s + chunk] = np.nonzero(mask)[1].reshape(-1, d)
    indptr = np.arange(right + 1, dtype=np.int64) * d
    return BipartiteGraph(left, right, indptr, table.ravel(), 1, name, meta)


def biregular(
    left: int, right: int, dl: int | None = None, dr: int | None = None, seed: int = 0
) -> BipartiteGraph:
    """Random simple biregular layer: every input has degree ``dl``, every output ``dr``.

    Conventions: ``left`` inputs, ``right`` outputs, ``left * dl == right * dr``;
    give ``dl`` or ``dr`` (or both, consistently) and the other is derived.  The
    result is **simple** (no repeated edges).  For ``2 dr <= left`` it is the
    bipartite pairing model made simple by vectorised switchings (which provably
    terminate, see the module docstring); otherwise it is the complement of a
    random ``(right - dl, left - dr)``-biregular layer.  Close to, not exactly,
    uniform.  Deterministic for a given seed.

    Parameters
    ----------
    left, right : int, ``>= 1``.
    dl : int or None, ``1 <= dl <= right``: out-degree of every input.
    dr : int or None, ``1 <= dr <= left``: in-degree of every output.
    seed : int, ``>= 0``.

    References
    ----------
    Bender and Canfield, "The asymptotic number of labeled graphs with given
    degree sequences", J. Combin. Theory A 24 (1978); McKay and Wormald (1990).

    Examples
    --------
    >>> b = biregular(6, 4, dr=3, seed=0)
    >>> b.degree, b.left_degree, int(b.biadjacency().max())
    (3, 2, 1)
    """
    func = "biregular"
    left = int_param(func, "left", left, lo=1)
    right = int_param(func, "right", right, lo=1)
    seed = seed_param(func, seed)
    if dl is None and dr is None:
        raise ValueError(f"{func}: give dl (input degree) or dr (output degree)")
    if dl is not None:
        dl = int_param(func, "dl", dl, lo=1)
    if dr is not None:
        dr = int_param(func, "dr", dr, lo=1)
    if dr is None:
        if (left * dl) % right:
            raise ValueError(f"{func}: dr=left*dl/right={left}*{dl}/{right} is not an integer")
        dr = left * dl // right
    elif dl is None:
        if (right * dr) % left:
            raise ValueError(f"{func}: dl=right*dr/left={right}*{dr}/{left} is not an integer")
        dl = right * dr // left
    elif left * dl != right * dr:
        raise ValueError(f"{func}: left*dl={left * dl} must equal right*dr={right * dr}")
    if dr > left:
        raise ValueError(f"{func}: dr={dr} must be <= left={left}")
    if dl > right:
        raise ValueError(f"{func}: dl={dl} must be <= right={right}")
    sparse_need = 8 * (left + right + 8 * right * dr)
    need = sparse_need if 2 * dr <= left else sparse_need + left * right
    check_bytes(func, f"left={left}, right={right}, dr={dr}", need)
    name = f"biregular:left={left},right={right},dl={dl},dr={dr},seed={seed}"
    meta = {"construction": "biregular", "left": left, "right": right, "dl": dl, "dr": dr}
    meta["seed"] = seed
    rng = np.random.default_rng(seed)

    def sparse(dl_: int, dr_: int) -> tuple[np.ndarray, np.ndarray]:
        lnodes = rng.permutation(np.repeat(np.arange(left, dtype=np.int64), dl_))
        rnodes = np.repeat(np.arange(right, dtype=np.int64), dr_)
        _switch(lnodes, rnodes, (left, right), True, rng)
        return lnodes, rnodes

    if 2 * dr <= left:
        lnodes, rnodes = sparse(dl, dr)
        return _bipartite_from_pairs(left, right, lnodes, rnodes, name, meta)
    mask = np.ones((right, left), dtype=bool)
    if dr < left:
        lc, rc = sparse(right - dl, left - dr)
        mask[rc, lc] = False
    rnodes, lnodes = np.nonzero(mask)
    return _bipartite_from_pairs(left, right, lnodes, rnodes, name, meta)
