"""Explicit expanders: Margulis–Gabber–Galil, LPS Ramanujan graphs, Paley graphs.

All constructions are deterministic, vectorised numpy, and follow the loop
convention of :mod:`expandergraph.graph` (a self-loop is listed twice in its row
and adds 2 to the degree; multi-edges are kept).
"""

from __future__ import annotations

from math import isqrt

import numpy as np

from ..graph import BipartiteGraph, Graph
from ..limits import check_bytes
from .random import int_param

__all__ = ["margulis", "lps", "lps_bipartite", "paley"]


_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
_MR_BOUND = 3_317_044_064_679_887_385_961_981  # bases above are exact below this
_MR_EXTRA = (43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)


def _is_prime(x: int) -> bool:
    """Miller–Rabin primality test, deterministic for ``x < 3.3 * 10**24``.

    The first 13 prime bases decide every ``x`` below ``_MR_BOUND`` exactly
    (Sorenson and Webster, "Strong pseudoprimes to twelve prime bases", Math.
    Comp. 86 (2017)); above it 12 more bases are used (error below ``4**-25``).
    Cost: ``O(log x)`` modular squarings per base, so a 21-digit ``q`` takes
    microseconds instead of the hours of trial division.

    >>> [x for x in range(30) if _is_prime(x)]
    [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    >>> _is_prime(100000000000000000039), _is_prime(3215031751)  # 21 digits; a base-2..7 spsp
    (True, False)
    """
    if x < 2:
        return False
    for b in _MR_BASES:
        if x % b == 0:
            return x == b
    d, s = x - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    bases = _MR_BASES if x < _MR_BOUND else _MR_BASES + _MR_EXTRA
    for a in bases:
        y = pow(a, d, x)
        if y in (1, x - 1):
            continue
        for _ in range(s - 1):
            y = y * y % x
            if y == x - 1:
                break
        else:
            return False
    return True


def _prime_1mod4(func: str, name: str, value) -> int:
    value = int_param(func, name, value)
    if not (_is_prime(value) and value % 4 == 1):
        raise ValueError(f"{func}: {name}={value} must be a prime ≡ 1 (mod 4)")
    return value


def _regular_graph(table: np.ndarray, name: str, meta: dict) -> Graph:
    """Graph whose row ``v`` is ``table[v]`` (the caller guarantees symmetry)."""
    n, d = table.shape
    indices = np.sort(table, axis=1).ravel().astype(np.int64)
    return Graph(n, np.arange(n + 1, dtype=np.int64) * d, indices, name, meta)


# -- Margulis–Gabber–Galil ---------------------------------------------------------------


def margulis(m: int) -> Graph:
    """Margulis–Gabber–Galil graph: 8-regular on ``Z_m × Z_m``.

    Conventions: node ``(x, y)`` is ``x * m + y``.  Row ``(x, y)`` lists the 8
    images ``(x ± 2y, y)``, ``(x ± (2y + 1), y)``, ``(x, y ± 2x)``,
    ``(x, y ± (2x + 1))`` (mod ``m``) with multiplicity, so the graph is exactly
    8-regular: a pair of inverse maps ``T, T⁻¹`` fixing a node gives one self-loop
    there (listed twice, adds 2; ``(0, 0)`` gets two loops), and coinciding images
    give multi-edges.  Its largest non-trivial eigenvalue satisfies
    ``λ <= 5√2 ≈ 7.07`` for every ``m``.

    Parameters
    ----------
    m : int, ``m >= 2``.

    References
    ----------
    Gabber and Galil, "Explicit constructions of linear-sized superconcentrators",
    J. Comput. System Sci. 22 (1981); Hoory, Linial and Wigderson, "Expander graphs
    and their applications", Bull. AMS 43 (2006), §8.

    Examples
    --------
    >>> g = margulis(5)
    >>> g.n, g.degree
    (25, 8)
    >>> int(g.adjacency()[0, 0])  # (0, 0) is fixed by x±2y and y±2x: two loops
    4
    """
    m = int_param("margulis", "m", m, lo=2)
    check_bytes("margulis", f"m={m}", 8 * 8 * 4 * m * m)  # 8 columns, ~4 live copies
    x, y = np.divmod(np.arange(m * m, dtype=np.int64), m)
    cols = []
    for dx, dy in ((2 * y, 0), (2 * y + 1, 0), (0, 2 * x), (0, 2 * x + 1)):
        for s in (1, -1):
            cols.append(((x + s * dx) % m) * m + (y + s * dy) % m)
    name = f"margulis:m={m}"
    return _regular_graph(np.stack(cols, axis=1), name, {"construction": "margulis", "m": m})


# -- Paley ---------------------------------------------------------------------------------


def paley(q: int) -> Graph:
    """Paley graph on ``Z_q``: ``u ~ v`` iff ``u - v`` is a non-zero square mod ``q``.

    Conventions: nodes ``0..q-1``; simple, ``(q-1)/2``-regular, strongly regular
    with eigenvalues ``(q-1)/2`` (once) and ``(-1 ± √q)/2`` (each ``(q-1)/2``
    times).  Only primes ``q ≡ 1 (mod 4)`` are accepted (then -1 is a square and
    the relation is symmetric); prime powers such as 9 are refused, unlike
    ``networkx.paley_graph``.

    Parameters
    ----------
    q : int, a prime ``≡ 1 (mod 4)``.

    References
    ----------
    Paley, "On orthogonal matrices", J. Math. Phys. 12 (1933); Brouwer and
    Haemers, "Spectra of Graphs" (2012), §9.1.2.

    Examples
    --------
    >>> g = paley(13)
    >>> g.n, g.degree, g.neighbors(0).tolist()
    (13, 6, [1, 3, 4, 9, 10, 12])
    """
    q = int_param("paley", "q", q)
    if q > 1:  # the (q, (q-1)/2) neighbour table and its sorted copy
        check_bytes("paley", f"q={q}", 8 * 3 * q * (q - 1) // 2)
    q = _prime_1mod4("paley", "q", q)
    squares = np.unique(np.arange(1, q, dtype=np.int64) ** 2 % q)
    table = (np.arange(q, dtype=np.int64)[:, None] + squares[None, :]) % q
    return _regular_graph(table, f"paley:q={q}", {"construction": "paley", "q": q})


# -- LPS -------------------------------------------------------------------------------------


def _lps_generators(p: int) -> np.ndarray:
    """The ``p + 1`` solutions of ``a0²+a1²+a2²+a3² = p``, ``a0 > 0`` odd, ``a1..a3`` even."""
    r = isqrt(p)
    odd = np.arange(1, r + 1, 2)
    even = np.arange(-(r - r % 2), r + 1, 2)
    grid = np.stack(np.meshgrid(odd, even, even, even, indexing="ij"), axis=-1).reshape(-1, 4)
    sols = grid[(grid**2).sum(axis=1) == p]
    if sols.shape[0] != p + 1:  # pragma: no cover - Jacobi's four-square theorem
        raise RuntimeError(f"lps: found {sols.shape[0]} generators, expected {p + 1}")
    return sols.astype(np.int64)


def _sqrt_minus_one(q: int) -> int:
    """The smaller of the two square roots of -1 modulo a prime ``q ≡ 1 (mod 4)``."""
    for x in range(2, q):
        t = pow(x, (q - 1) // 4, q)
        if t * t % q == q - 1:
            return min(t, q - t)
    raise RuntimeError(f"no square root of -1 mod {q}")  # pragma: no cover


class _PGL2:
    """``PGL2(F_q)`` in projective normal form (first non-zero of ``a, b`` scaled to 1).

    Elements are integer codes ``a q³ + b q² + c q + d`` of normalised matrices
    ``[[a, b], [c, d]]``; ``index`` maps a code to its position in ``codes``.
    """

    def __init__(self, q: int):
        self.q = q
        self.inv = np.array([0] + [pow(x, q - 2, q) for x in range(1, q)], dtype=np.int64)
        r = np.arange(q, dtype=np.int64)
        self.square = np.zeros(q, dtype=bool)
        self.square[r[1:] ** 2 % q] = True
        b, c, d = (g.ravel() for g in np.meshgrid(r, r, r, indexing="ij"))
        ones = (d - b * c) % q != 0  # a = 1
        c0, d0 = np.meshgrid(r[1:], r, indexing="ij")  # a = 0, b = 1, c != 0
        mats = np.concatenate(
            [
                np.stack([np.zeros(c0.size, np.int64), np.ones(c0.size, np.int64)], 1),
                np.stack([c0.ravel(), d0.ravel()], 1),
            ],
            axis=1,
        )
        mats = np.concatenate(
            [mats, np.stack([np.ones(ones.sum(), np.int64), b[ones], c[ones], d[ones]], 1)]
        )
        self.mats = mats  # sorted by code: a = 0 rows first, then lexicographic
        self.codes = self.encode(mats)

    def normalise(self, m: np.ndarray) -> np.ndarray:
        q = self.q
        m = m % q
        s = np.where(m[:, 0] != 0, self.inv[m[:, 0]], self.inv[m[:, 1]])
        return m * s[:, None] % q

    def encode(self, m: np.ndarray) -> np.ndarray:
        q = self.q
        return ((m[:, 0] * q + m[:, 1]) * q + m[:, 2]) * q + m[:, 3]

    def det_is_square(self, m: np.ndarray) -> np.ndarray:
        return self.square[(m[:, 0] * m[:, 3] - m[:, 1] * m[:, 2]) % self.q]

    def mul(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Normalised products ``x[i] @ s`` for a single matrix ``s``."""
        e, f, g, h = s
        prod = np.stack(
            [
                x[:, 0] * e + x[:, 1] * g,
                x[:, 0] * f + x[:, 1] * h,
                x[:, 2] * e + x[:, 3] * g,
                x[:, 2] * f + x[:, 3] * h,
            ],
            axis=1,
        )
        return self.normalise(prod)


def _lps_parts(func: str, p, q):
    """Checked ``(p, q, legendre, group, nodes, table)``.

    ``nodes`` are the normalised matrices of the Cayley graph's vertex set in node
    order: for ``(p/q) = 1`` the elements of PSL2(q) (square determinant), for
    ``(p/q) = -1`` those of PSL2(q) followed by the other coset of PGL2(q);
    within each part ordered by code.  ``table[v]`` lists ``nodes[v] · s`` for the
    ``p + 1`` generators ``s``.
    """
    p = _prime_1mod4(func, "p", p)
    q = _prime_1mod4(func, "q", q)
    # PGL2(q) tables (~q³ matrices, the 2q³-entry code lookup) and the generator grid
    need = 8 * (q**3 * (12 + 2 * (p + 1)) + 2 * q**3) + 32 * (isqrt(p) // 2 + 1) ** 4
    check_bytes(func, f"p={p}, q={q}", need)
    if p == q:
        raise ValueError(f"{func}: p={p} and q={q} must be distinct primes")
    legendre = 1 if pow(p, (q - 1) // 2, q) == 1 else -1
    group = _PGL2(q)
    i = _sqrt_minus_one(q)
    a = _lps_generators(p)
    gens = np.stack(
        [
            a[:, 0] + i * a[:, 1],
            a[:, 2] + i * a[:, 3],
            -a[:, 2] + i * a[:, 3],
            a[:, 0] - i * a[:, 1],
        ],
        axis=1,
    )
    gens = group.normalise(gens)
    gcodes = group.encode(gens)
    identity = group.encode(np.array([[1, 0, 0, 1]]))[0]
    if np.unique(gcodes).size != p + 1 or np.any(gcodes == identity):
        raise ValueError(
            f"{func}: p={p}, q={q}: the {p + 1} generators are not distinct non-identity "
            f"elements of PGL2({q}); need q > 2*sqrt(p)"
        )
    sq = group.det_is_square(group.mats)
    order = (
        np.flatnonzero(sq)
        if legendre == 1
        else np.concatenate([np.flatnonzero(sq), np.flatnonzero(~sq)])
    )
    nodes = group.mats[order]
    lut = np.full(2 * q**3, -1, dtype=np.int64)
    lut[group.codes[order]] = np.arange(order.size)
    table = np.stack([lut[group.encode(group.mul(nodes, s))] for s in gens], axis=1)
    if np.any(table < 0):  # pragma: no cover - products stay in the group
        raise RuntimeError(f"{func}: product left the vertex set (internal error)")
    return p, q, legendre, table


def lps(p: int, q: int) -> Graph:
    """LPS Ramanujan graph ``X^{p,q}``: a ``(p+1)``-regular Cayley graph of PSL2(q) or PGL2(q).

    Conventions: ``p, q`` distinct primes ``≡ 1 (mod 4)``.  The generators are
    the ``p + 1`` integer solutions of ``a0² + a1² + a2² + a3² = p`` with ``a0 > 0``
    odd and ``a1, a2, a3`` even, mapped to ``[[a0 + i a1, a2 + i a3], [-a2 + i a3,
    a0 - i a1]]`` in PGL2(F_q), where ``i`` is the smaller of the two roots of
    ``i² ≡ -1 (mod q)``.  Node ``g`` is joined to ``g·s`` for each generator ``s``.

    * Legendre ``(p/q) = 1``: Cayley graph of PSL2(q), ``q(q²-1)/2`` nodes, not
      bipartite.
    * ``(p/q) = -1``: Cayley graph of PGL2(q), ``q(q²-1)`` nodes, bipartite; nodes
      ``0 .. n/2-1`` are PSL2(q) and the rest its other coset.

    Within each part nodes are ordered by the normalised matrix (first non-zero
    entry of the top row scaled to 1), lexicographically.  The graph is simple:
    parameters for which the generators are not distinct non-identity elements
    mod ``q`` (possible when ``q <= 2√p``) are refused.  Every non-trivial
    eigenvalue satisfies ``|λ| <= 2√p`` (Ramanujan).

    Parameters
    ----------
    p : int, prime ``≡ 1 (mod 4)``: degree ``p + 1``.
    q : int, prime ``≡ 1 (mod 4)``, ``q != p``.

    References
    ----------
    Lubotzky, Phillips and Sarnak, "Ramanujan graphs", Combinatorica 8 (1988);
    Davidoff, Sarnak and Valette, "Elementary Number Theory, Group Theory and
    Ramanujan Graphs", Cambridge University Press (2003), ch. 4.

    Examples
    --------
    >>> g = lps(5, 13)  # (5/13) = -1: PGL2(13), bipartite
    >>> g.n, g.degree, g.is_bipartite()
    (2184, 6, True)
    >>> lps(17, 13).n  # (17/13) = 1: PSL2(13)
    1092
    """
    p, q, legendre, table = _lps_parts("lps", p, q)
    meta = {"construction": "lps", "p": p, "q": q, "legendre": legendre}
    meta["group"] = f"PSL2({q})" if legendre == 1 else f"PGL2({q})"
    return _regular_graph(table, f"lps:p={p},q={q}", meta)


def lps_bipartite(left: int, right: int, p: int, q: int | None = None) -> BipartiteGraph:
    """A ``(p+1)``-biregular Ramanujan layer from the LPS graph ``X^{p,q}``.

    Conventions: ``left == right == q(q²-1)/2`` (the order of PSL2(q)); when ``q``
    is omitted it is the prime ``≡ 1 (mod 4)`` with that order.  Output ``v`` reads
    ``p + 1`` distinct inputs.  If ``(p/q) = -1`` the layer is the bipartite graph
    ``X^{p,q}`` itself, PSL2(q) (inputs, nodes ``0..n/2-1`` of :func:`lps`) to its
    other coset (outputs, nodes ``n/2..n-1``); if ``(p/q) = 1`` it is the
    bipartite double cover of ``X^{p,q}`` (output ``v`` reads the neighbours of
    ``v``).  Either way the biadjacency has top singular value ``p + 1`` and all
    others ``<= 2√p``.

    Parameters
    ----------
    left, right : int, both equal to ``q(q²-1)/2``.
    p : int, prime ``≡ 1 (mod 4)``, the layer has in- and out-degree ``p + 1``.
    q : int or None, prime ``≡ 1 (mod 4)``, ``q != p``.

    References
    ----------
    Lubotzky, Phillips and Sarnak, Combinatorica 8 (1988); Davidoff, Sarnak and
    Valette (2003), ch. 4.

    Examples
    --------
    >>> b = lps_bipartite(60, 60, p=13)  # q = 5: |PSL2(5)| = 60
    >>> b.degree, b.left_degree, b.meta["q"]
    (14, 14, 5)
    """
    func = "lps_bipartite"
    left = int_param(func, "left", left, lo=1)
    right = int_param(func, "right", right, lo=1)
    if left != right:
        raise ValueError(f"{func}: left={left} must equal right={right}")
    if q is None:
        r = round(np.cbrt(2 * left))
        cands = [x for x in range(max(r - 2, 2), r + 3) if x * (x * x - 1) // 2 == left]
        if not cands or not (_is_prime(cands[0]) and cands[0] % 4 == 1):
            raise ValueError(
                f"{func}: left={left} must be q(q²-1)/2 for a prime q ≡ 1 (mod 4) "
                "(e.g. 60, 1092, 2448, 12180)"
            )
        q = cands[0]
    p, q, legendre, table = _lps_parts(func, p, q)
    half = q * (q * q - 1) // 2
    if left != half:
        raise ValueError(f"{func}: left={left} must be q(q²-1)/2={half} for q={q}")
    if legendre == -1:
        table = table[half:]  # outputs: the non-PSL coset; its neighbours lie in PSL
    name = f"lps-bipartite:left={left},right={right},p={p},q={q}"
    meta = {"construction": "lps-bipartite", "p": p, "q": q, "legendre": legendre}
    indptr = np.arange(half + 1, dtype=np.int64) * (p + 1)
    indices = np.sort(table, axis=1).ravel()
    return BipartiteGraph(half, half, indptr, indices, 1, name, meta)
