"""Proven consequences of a spectrum: the statements a certificate's verdicts claim.

Conventions
-----------
* ``alpha`` is a *normalised* second eigenvalue/singular value in ``[0, 1]``:
  ``lambda / d`` for a ``d``-regular graph, the largest non-trivial
  ``|eigenvalue|`` of ``D^{-1/2} A D^{-1/2}`` for an irregular one, and
  ``sigma_2 / sigma_1`` of the degree-normalised biadjacency for a layer.
* Every bound takes the *upper* end of the value's error interval, so a bound
  computed here is proven whenever the interval is.
* Path counts run through a chain of layers (:class:`~expandergraph.LayeredGraph`)
  from level ``i`` to level ``j``; the uniform prediction is the count when every
  layer is replaced by its average matrix (:func:`expandergraph.paths.mixing_prediction`).

Functions
---------
* :func:`ideal_depth`: the fewest layers whose degrees allow full mixing.
* :func:`uniformity_epsilon`: proven relative deviation of path counts between
  large sets from the uniform prediction; :func:`sigma_star` inverts it.
* :func:`cheeger_lower`, :func:`tanner_factor`, :func:`mixing_deviation`: the
  single-graph consequences printed beside a graph's spectral verdict.
* :func:`tanner_step`, :func:`tanner_grow`, :func:`tanner_depth`: Tanner's
  inequality on a layer's normalised ``mu`` and the reach depth it proves for a
  chain (``None`` when the spectrum cannot force it, e.g. grouped layers).

References: Hoory, Linial and Wigderson, *Expander graphs and their
applications*, Bull. AMS 43 (2006) §2.4 (mixing lemma), §4.6 (Tanner), §4.5
(Cheeger); R. M. Tanner, SIAM J. Alg. Disc. Meth. 5 (1984); F. Chung,
*Spectral Graph Theory* (1997) ch. 2 (conductance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .layered import LayeredGraph
from .levels import check_level, check_levels

if TYPE_CHECKING:
    from .singular import LayerSpectrum

__all__ = [
    "ideal_depth",
    "uniformity_epsilon",
    "sigma_star",
    "cheeger_lower",
    "tanner_factor",
    "mixing_deviation",
    "tanner_step",
    "tanner_grow",
    "tanner_depth",
    "DegreeSide",
    "degree_sides",
]


def _check_alpha(alpha: float, name: str = "alpha") -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"{name}: must be a number in [0, 1], got {alpha!r}")
    return float(alpha)


def _check_fraction(x: float, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x <= 1:
        raise ValueError(f"{name}: must be a number in (0, 1], got {x!r}")
    return float(x)


def ideal_depth(
    widths: Sequence[int], in_degrees: Sequence[float], out_degrees: Sequence[float]
) -> int | None:
    """Fewest layers after which full mixing is possible at all, from the degrees alone.

    Layer ``l`` maps level ``l`` (``widths[l]`` nodes) to level ``l + 1``; its
    outputs have at most ``in_degrees[l]`` inputs and its inputs at most
    ``out_degrees[l]`` outputs.  An output of level ``t`` sees at most
    ``prod_{l<t} in_degrees[l]`` nodes of level 0, and a node of level 0 reaches
    at most ``prod_{l<t} out_degrees[l]`` nodes of level ``t``; so every node of
    level 0 can reach every node of level ``t`` only once both products cover
    the widths.  The result is the smallest such ``t`` (at least 1), or ``None``
    when no prefix of the chain allows it.  For ``D``-regular layers of one width
    ``n`` it is ``ceil(log_D n)`` (1 when ``n <= D``): the paper's "logarithmically
    many layers" with constant 1.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3 (log-step mixing).

    Examples
    --------
    >>> ideal_depth([256] * 5, [16] * 4, [16] * 4)  # ceil(log_16 256)
    2
    >>> ideal_depth([128] * 4, [3] * 3, [3] * 3) is None  # 3^3 < 128
    True
    """
    if not (len(widths) == len(in_degrees) + 1 == len(out_degrees) + 1):
        raise ValueError(
            f"widths: need one more entry than the degree lists, got {len(widths)}, "
            f"{len(in_degrees)} and {len(out_degrees)}"
        )
    need_in = math.log(max(int(widths[0]), 1))
    fan_in = fan_out = 0.0
    for t in range(1, len(widths)):
        fan_in += math.log(max(float(in_degrees[t - 1]), 1.0))
        fan_out += math.log(max(float(out_degrees[t - 1]), 1.0))
        slack = 1e-12 * max(1.0, need_in)
        if fan_in + slack >= need_in and fan_out + slack >= math.log(max(int(widths[t]), 1)):
            return t
    return None


class _Uniformity:
    """Relative path-count deviation bound of one chain segment, precomputed once.

    Layers ``l = i..j-1`` map level ``l`` (width ``n_l``) to ``l + 1``; ``B_l = a_l J + E_l``
    with ``a_l = |E_l| / (n_l n_{l+1})``.  When every layer has a constant
    in-degree, ``E_l 1 = 0``, so in the expansion of ``B_{j-1} ... B_i`` only the
    all-average term (the prediction), the all-remainder term and the terms
    ``J ... J E_k ... E_i`` survive.  With ``o_l = a_l n_{l+1}`` (mean out-degree)
    and ``dev_k`` the out-degree deviations of layer ``k``, those mixed terms add
    up, relative to the prediction, to ``|T| (w . 1_S) / (|S||T|)`` for one
    explicit vector ``w = Q_i``, ``Q_k = (dev_k + E_k^T Q_{k+1}) / o_k``, which is
    computed exactly (sparse products), so ``sup_{|S|=s} |w . 1_S|`` is exact.
    The all-remainder term is at most ``prod ||E_l|| sqrt(|S|(1-|S|/n_i)) p_T``
    (``p_T = sqrt(|T|(1-|T|/n_j))`` when the last layer has constant out-degree,
    else ``sqrt(|T|)``), carried in logarithms so deep chains neither overflow nor
    lose the bound.  A chain with constant out-degrees is transposed first.
    """

    def __init__(self, layers, widths, spectra, sign: int = 1):
        self.ok = True
        in_const = all(_regular(l.right_degrees()) for l in layers)
        out_const = all(_regular(l.left_degrees()) for l in layers)
        if not in_const and out_const:
            layers = [_Transposed(l) for l in layers[::-1]]
            widths = widths[::-1]
            spectra = spectra[::-1]
            self.transposed = True
        elif in_const:
            self.transposed = False
        else:
            self.ok = False
            return
        self.n_first, self.n_last = widths[0], widths[-1]
        eps = [max(sp.deviation + sign * sp.error, 0.0) for sp in spectra]
        log_c = 0.0
        outs = []
        for k, layer in enumerate(layers):
            a_k = layer.num_edges / (widths[k] * widths[k + 1])
            outs.append(a_k * widths[k + 1])
            log_c += math.log(a_k) + (math.log(widths[k]) if k > 0 else 0.0)
        self.log_rest = -math.inf if min(eps) == 0 else sum(math.log(e) for e in eps) - log_c
        self.last_const = _regular(layers[-1].left_degrees())
        q = np.zeros(widths[-2] if len(layers) > 1 else widths[0])
        w = None
        for k in range(len(layers) - 1, -1, -1):
            layer = layers[k]
            dev = layer.left_degrees().astype(np.float64) - outs[k]
            if k == len(layers) - 1:
                w = dev * 0.0  # the last layer's deviations belong to the remainder term
            else:
                w = (dev + _remainder_t(layer, q, widths[k], widths[k + 1])) / outs[k]
            q = w
        self.w_sorted = np.sort(w)
        self.w_scale = float(np.abs(w).max()) if w.size else 0.0

    def relative(self, s_size: int, t_size: int) -> float:
        if self.transposed:
            s_size, t_size = t_size, s_size
        n_i, n_j = self.n_first, self.n_last
        asc = self.w_sorted
        mixed = 0.0
        if asc.size and s_size > 0:
            top = abs(float(asc[-s_size:].sum()))
            bot = abs(float(asc[:s_size].sum()))
            mixed = max(top, bot) / s_size
            mixed += 1e-9 * self.w_scale  # rounding of the explicit vector
        ps2 = (1.0 / s_size - 1.0 / n_i) if s_size < n_i else 0.0
        pt2 = (1.0 / t_size - (1.0 / n_j if self.last_const else 0.0)) if t_size else 0.0
        if self.last_const and t_size >= n_j:
            pt2 = 0.0
        rest = 0.0
        if self.log_rest > -math.inf and ps2 > 0 and pt2 > 0:
            rest = math.exp(min(self.log_rest + 0.5 * math.log(ps2 * pt2), 700.0))
        return mixed + rest


def _regular(deg: np.ndarray) -> bool:
    return bool(deg.size == 0 or deg.min() == deg.max())


class _Transposed:
    """A layer seen backwards: inputs and outputs swapped (for out-regular chains)."""

    def __init__(self, layer):
        self._layer = layer
        self.num_edges = layer.num_edges

    def right_degrees(self):
        return self._layer.left_degrees()

    def left_degrees(self):
        return self._layer.right_degrees()

    def biadjacency(self, dtype=np.float64):
        return self._layer.biadjacency(dtype=dtype).T.tocsr()


def _remainder_t(layer, q: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """``E^T q`` for ``E = B - a J`` of a ``(n_out, n_in)`` biadjacency ``B``."""
    b = layer.biadjacency(dtype=np.float64)
    a = layer.num_edges / (n_in * n_out)
    return np.asarray(b.T @ q).ravel() - a * float(q.sum())


def _segment(lg: LayeredGraph, i: int, j: int, spectra, sign: int = 1) -> _Uniformity:
    from .singular import layer_spectra

    layers = list(lg)[i:j]
    if spectra is None:
        spectra = layer_spectra(layers)
    else:
        if len(spectra) == len(lg):
            spectra = list(spectra)[i:j]
        elif len(spectra) != len(layers):
            raise ValueError(f"spectra: need one entry per layer ({len(lg)})")
    return _Uniformity(layers, lg.widths[i : j + 1], list(spectra), sign)


def _levels(lg: LayeredGraph, from_layer: int, to_layer: int | None) -> tuple[int, int]:
    return check_levels(lg, from_layer, len(lg) if to_layer is None else to_layer)


def uniformity_epsilon(
    lg: LayeredGraph,
    sigma: float,
    from_layer: int = 0,
    to_layer: int | None = None,
    *,
    spectra=None,
    sign: int = 1,
    _segment_cache=None,
) -> float | None:
    """Proven ``eps``: ``|count/prediction - 1| <= eps`` for all sets of ``>= sigma`` of the nodes.

    For every ``S`` in level ``i`` with ``|S| >= sigma n_i`` and ``T`` in level
    ``j`` with ``|T| >= sigma n_j``, the exact path count from ``S`` to ``T``
    deviates from the uniform prediction by at most ``eps`` times the prediction.

    Derivation.  Write each layer as its average plus a remainder,
    ``B_l = a_l J + E_l``.  For biregular layers ``E_l`` annihilates the
    constant vectors on both sides, the cross terms vanish, and
    ``count - prediction = 1_T^T E ... E 1_S``, so
    ``|count - pred| <= prod_l sigma_2(B_l) sqrt(|S|(1-|S|/n_i) |T|(1-|T|/n_j))``
    while ``pred = |S||T| prod_l sigma_1(B_l) / sqrt(n_i n_j)``.  Dividing,
    ``eps = prod_l alpha_l * sqrt((1/s - 1)(1/tau - 1))`` with ``s = |S|/n_i``,
    ``tau = |T|/n_j`` and ``alpha_l = sigma_2/sigma_1``: the finite-size terms
    ``1 - s`` make ``eps`` vanish at ``s = 1``, and unequal widths enter only
    through the normalisation.  When only the in-degrees are constant (the
    paper's random layers), ``E_l 1 = 0`` still holds and the surviving cross
    terms ``J ... J E_k ... E_i`` add up to one explicit vector ``w`` on the
    first level (the propagated out-degree deviations, computed exactly), so
    their worst case over ``|S| = s`` is the exact extreme sum of ``s`` entries of
    ``w``; chains with constant out-degrees are transposed.  In every case
    the ratio bound/prediction decreases in ``|S|`` and ``|T|``, so it is
    evaluated at ``|S| = ceil(sigma n_i)``, ``|T| = ceil(sigma n_j)``.  The
    singular values carry their error bars (added).  ``None`` when no bound
    applies (neither side of the chain has constant degrees).

    Reference: Hoory, Linial and Wigderson (2006) §2.4; Prabhu, Varma and
    Namboodiri, ECCV 2018 §3 (path counts proportional to ``|S||T|``).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)  # alpha = 0
    >>> uniformity_epsilon(LayeredGraph([full, full]), 0.25) < 1e-9
    True
    >>> ident = BipartiteGraph.from_ell(4, [[0], [1], [2], [3]])  # alpha = 1
    >>> round(uniformity_epsilon(LayeredGraph([ident]), 0.5), 9)  # sqrt((2 - 1) (2 - 1))
    1.0
    """
    sigma = _check_fraction(sigma, "sigma")
    if not isinstance(lg, LayeredGraph):
        raise ValueError(f"lg: expected a LayeredGraph, got {type(lg).__name__}")
    i, j = _levels(lg, from_layer, to_layer)
    seg = _segment_cache if _segment_cache is not None else _segment(lg, i, j, spectra, sign)
    if not seg.ok:
        return None
    w = lg.widths
    s_size = min(w[i], max(1, math.ceil(sigma * w[i] - 1e-9)))
    t_size = min(w[j], max(1, math.ceil(sigma * w[j] - 1e-9)))
    return float(seg.relative(s_size, t_size))


def sigma_star(
    lg: LayeredGraph,
    eps_max: float,
    from_layer: int = 0,
    to_layer: int | None = None,
    *,
    spectra=None,
) -> float | None:
    """Smallest ``sigma`` (a multiple of ``1/n_i``) with :func:`uniformity_epsilon` ``<= eps_max``.

    Paths between any two sets of at least ``sigma*`` of the nodes are then within
    ``+-eps_max`` of proportional.  ``None`` when no bound applies.  The bound is 0 at
    ``sigma = 1``, so a value always exists when a bound does.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> ident = BipartiteGraph.from_ell(4, [[0], [1], [2], [3]])
    >>> sigma_star(LayeredGraph([ident]), 0.5)  # eps = 1/s - 1 <= 0.5 from s = 3/4
    0.75
    """
    if isinstance(eps_max, bool) or not isinstance(eps_max, (int, float)) or not eps_max >= 0:
        raise ValueError(f"eps_max: must be a non-negative number, got {eps_max!r}")
    i, j = _levels(lg, from_layer, to_layer)
    seg = _segment(lg, i, j, spectra)
    if not seg.ok:
        return None
    n = lg.widths[i]
    lo, hi = 1, n  # in units of 1/n; eps(hi) = 0 up to rounding
    while lo < hi:
        mid = (lo + hi) // 2
        eps = uniformity_epsilon(lg, mid / n, i, j, _segment_cache=seg)
        if eps <= eps_max:
            hi = mid
        else:
            lo = mid + 1
    return lo / n


def cheeger_lower(gap: float) -> float:
    """Cheeger's lower bound ``gap / 2`` on the expansion, from a spectral gap.

    For a ``d``-regular graph with ``gap = d - lambda_2`` this bounds the edge
    expansion ``h(G) = min_{|S| <= n/2} e(S, S^c) / |S|``; for the normalised
    adjacency with ``gap = 1 - mu_2`` it bounds the conductance
    ``min_{vol S <= vol V / 2} e(S, S^c) / vol(S)``.

    Reference: Hoory, Linial and Wigderson (2006) Thm 2.4; Chung (1997) ch. 2.

    Examples
    --------
    >>> cheeger_lower(3.0 - 1.0)  # Petersen: h >= 1 (and h = 1)
    1.0
    """
    return max(0.0, float(gap) / 2.0)


def tanner_factor(
    mu: float,
    rho: float,
    *,
    set_size: int,
    d_min_src: float,
    d_max_dst: float,
    volume: float,
) -> float:
    """Proven ``beta``: ``|N(S)| >= beta |S|`` for every set ``S`` of ``set_size`` or fewer nodes.

    ``S`` lies on a side of total volume (edge count) ``volume`` whose nodes have
    degree at least ``d_min_src``; its neighbours lie on a side of the same
    volume with degrees at most ``d_max_dst`` (for a non-bipartite graph both
    sides are the whole graph and ``volume = 2|E|``).  With ``mu`` the
    normalised second singular value, Tanner's inequality in volume form gives
    ``vol N(S) >= vol(S) / (mu^2 + (1 - mu^2) vol(S) / volume)``; converting
    volumes to node counts with the degree extremes and using that the bound
    per node decreases with ``|S|`` gives
    ``beta = volume * f(a) / (d_max_dst * set_size)`` with
    ``a = d_min_src * set_size / volume`` and ``f(a) = a / (mu^2 + (1 - mu^2) a)``.
    For a ``d``-regular graph this is ``1 / (alpha^2 + (1 - alpha^2) rho)``.
    ``rho`` is recorded by callers as ``set_size / n``; it is checked here only
    for range.  A star has ``d_min / d_max = 1/m``, so no vertex expansion is
    implied however small ``mu`` is.

    Reference: R. M. Tanner (1984), Thm 2.1; Hoory, Linial and Wigderson (2006) §4.6.

    Examples
    --------
    >>> # 4-regular, 100 nodes, alpha = 0.5, sets of half the nodes: 1 / (0.25 + 0.75 / 2)
    >>> round(tanner_factor(0.5, 0.5, set_size=50, d_min_src=4, d_max_dst=4, volume=400), 6)
    1.6
    """
    mu = _check_alpha(mu, "mu")
    _check_fraction(rho, "rho")
    if set_size < 1 or volume <= 0 or d_max_dst <= 0:
        return 0.0
    a = min(1.0, d_min_src * set_size / volume)
    f = a / (mu * mu + (1 - mu * mu) * a) if a > 0 else 0.0
    return float(volume * min(f, 1.0) / (d_max_dst * set_size))


def mixing_deviation(lam: float, s_size: float, t_size: float, n: float) -> float:
    """Expander mixing lemma: ``|e(S,T) - d|S||T|/n| <= lam sqrt(|S||T|(1-|S|/n)(1-|T|/n))``.

    Reference: Hoory, Linial and Wigderson (2006) Lemma 2.5.

    Examples
    --------
    >>> mixing_deviation(2.0, 5, 5, 10)  # Petersen, |S| = |T| = n/2
    5.0
    """
    return float(lam * math.sqrt(s_size * t_size * (1 - s_size / n) * (1 - t_size / n)))


# -- Tanner's bound on the depth ----------------------------------------------------------


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


class DegreeSide:
    """Sorted degree sequence of one side of a layer, for volume <-> node conversions.

    ``min_volume(s)``: the least edge volume of ``s`` nodes (the ``s`` smallest
    degrees); ``min_nodes(v)``: the fewest nodes holding volume ``v`` (the
    largest degrees first).

    Examples
    --------
    >>> side = DegreeSide(np.array([1, 2, 3]))
    >>> side.min_volume(2), side.min_nodes(4.0)
    (3.0, 2)
    """

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


def degree_sides(layer) -> tuple[DegreeSide, DegreeSide]:
    """``(inputs, outputs)`` :class:`DegreeSide` of a layer (left and right degrees)."""
    return DegreeSide(layer.left_degrees()), DegreeSide(layer.right_degrees())


def tanner_grow(nodes: int, src: DegreeSide, dst: DegreeSide, mu: float) -> int:
    """Lower bound on ``|N(S)|`` for any ``nodes`` nodes ``S`` on side ``src`` (Tanner).

    The least volume fraction of ``S``, grown by :func:`tanner_step` with the
    layer's normalised ``mu``, converted to the fewest nodes on side ``dst``.

    Examples
    --------
    >>> side = DegreeSide(np.full(10, 3))
    >>> tanner_grow(1, side, side, 0.0)  # mu = 0: one node reaches everything
    10
    """
    if src.total == 0:
        return 0
    a = src.min_volume(nodes) / src.total
    b = tanner_step(min(a, 1.0), mu)
    return dst.min_nodes(b * dst.total)


def _least_preimage(
    target: float, src: DegreeSide, dst: DegreeSide, mu: float, width: int
) -> float:
    """Least ``v`` in ``0..width`` with ``tanner_grow(v, src, dst, mu) >= target`` (``inf``: none).

    ``_grow`` is non-decreasing in ``v`` (volumes, Tanner's step and the node
    conversion all are), so a binary search finds it.
    """
    if target <= 0:
        return 0
    if target == math.inf or tanner_grow(width, src, dst, mu) < target:
        return math.inf
    lo, hi = 0, width  # invariant: tanner_grow(hi) >= target
    while lo < hi:
        mid = (lo + hi) // 2
        if tanner_grow(mid, src, dst, mu) >= target:
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
    i = check_level(lg, from_layer, "from_layer", len(lg) - 1)
    layers = list(lg)[i:]
    if spectra is None:
        from .singular import layer_spectra

        spectra = layer_spectra(layers)
    elif len(spectra) != len(layers):
        raise ValueError(f"spectra: need {len(layers)} entries (layers {i}..{len(lg) - 1})")
    widths = lg.widths[i:]
    mus = [min(1.0, s.mu + s.error) for s in spectra]
    sides = [degree_sides(layer) for layer in layers]
    levels = len(layers)
    fwd = [1]
    for k in range(levels):
        fwd.append(tanner_grow(fwd[-1], sides[k][0], sides[k][1], mus[k]))
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
