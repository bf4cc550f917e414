"""Exact path counts between node sets of a :class:`LayeredGraph`, and the mixing lemma.

Conventions
-----------
* A path from level ``i`` to level ``j > i`` uses one edge of each layer
  ``i .. j-1``; an edge of multiplicity ``k`` counts ``k`` times.  The number of
  paths from ``S`` (level ``i``) to ``T`` (level ``j``) is
  ``1_T^T B_{j-1} ... B_i 1_S`` with ``B_l`` the ``(n_{l+1}, n_l)`` biadjacency.
* Counts are exact integers: ``int64`` while a step provably cannot overflow
  (current maximum times the layer's largest row sum), then base-``2^30`` limbs
  held in ``int64`` arrays; never floats.  Results are Python ``int``.
* Prediction (mixing lemma over ``t = j - i`` layers): replace every layer by its
  average ``M_l = (|E_l| / (n_l n_{l+1})) J``; then
  ``predicted = |S| |T| prod_l |E_l| / (n_l n_{l+1}) * prod_{i<l<j} n_l``, which is
  ``D^t |S| |T| / n`` for ``D``-regular layers of one width ``n``.
* Error bound.  Write ``B_l = M_l + E_l``.  When every layer has a constant
  in-degree, ``E_l 1 = 0``, so ``E_l M_{l-1} = 0`` and ``count - predicted =``
  ``1_T^T E_{j-1}..E_i 1_S + sum_{i<k<j} g_k |T| delta_{k-1}^T E_{k-2}..E_i 1_S``
  where ``M_{j-1}..M_k = g_k J`` and ``delta_l = 1^T E_l`` is the out-degree
  deviation of layer ``l`` (zero for a biregular layer).  With
  ``eps_l = ||E_l||_2`` (:class:`~expandergraph.mixing.LayerSpectrum` ``deviation``,
  ``= sigma_2`` when biregular) this gives ``|count - predicted| <= error_bound``
  with, for biregular layers, the familiar
  ``error_bound = prod_l sigma_2(B_l) * sqrt(|S| (1 - |S|/n_i) |T| (1 - |T|/n_j))``
  (``lambda^t sqrt(|S||T|(1-|S|/n)(1-|T|/n))`` for ``d``-regular layers), plus the
  degree-deviation terms otherwise.  Layers with constant out-degree but varying
  in-degree are handled by transposing the chain; otherwise the bound is ``None``.

References: Alon and Chung, "Explicit construction of linear sized tolerant
networks", Discrete Math. 72 (1988) (expander mixing lemma); Hoory, Linial and
Wigderson, Bull. AMS 43 (2006) §2.4; Prabhu, Varma and Namboodiri, ECCV 2018 §3
(paths between sets over ``t`` layers).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from .layered import LayeredGraph
from .levels import check_levels, node_set
from .singular import LayerSpectrum, layer_spectra

__all__ = [
    "PathCount",
    "path_count",
    "count_matrix",
    "mixing_prediction",
    "mixing_bound",
    "path_mixing",
    "sampled_mixing",
]

_INT64_MAX = np.iinfo(np.int64).max
_LIMB = 30
_LIMB_MASK = (1 << _LIMB) - 1


# -- exact propagation ------------------------------------------------------------------


def _to_limbs(x: np.ndarray) -> list[np.ndarray]:
    limbs = []
    x = x.copy()
    while True:
        limbs.append(x & _LIMB_MASK)
        x >>= _LIMB
        if not x.any():
            return limbs


def _normalise(limbs: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    carry = None
    for limb in limbs:
        if carry is not None:
            limb = limb + carry
        carry = limb >> _LIMB
        out.append(limb & _LIMB_MASK)
    while carry is not None and carry.any():
        out.append(carry & _LIMB_MASK)
        carry = carry >> _LIMB
    return out


def _propagate(lg: LayeredGraph, i: int, j: int, x: np.ndarray):
    """``B_{j-1} .. B_i x`` exactly: an int64 array, or a list of base-2^30 limbs."""
    state: np.ndarray | list[np.ndarray] = np.asarray(x, dtype=np.int64)
    for layer in list(lg)[i:j]:
        b = layer.biadjacency(dtype=np.int64)
        rowmax = int(layer.right_degrees().max()) if layer.right else 0
        if rowmax >= 1 << 32:
            raise ValueError(f"{layer.name or 'layer'}: row multiplicity sum {rowmax} too large")
        if isinstance(state, np.ndarray):
            top = int(state.max()) if state.size else 0
            if top * rowmax <= _INT64_MAX:
                state = np.asarray(b @ state, dtype=np.int64)
                continue
            state = _to_limbs(state)
        state = _normalise([np.asarray(b @ limb, dtype=np.int64) for limb in state])
    return state


def _sum_rows(state, rows: np.ndarray):
    """Exact column sums over ``rows`` as Python ints (a scalar for a vector state)."""
    limbs = [state] if isinstance(state, np.ndarray) else state
    total = None
    for m, limb in enumerate(limbs):
        part = limb[rows]
        top = int(part.max()) if part.size else 0
        if top * part.shape[0] <= _INT64_MAX:
            s = part.sum(axis=0)
            s = [int(v) for v in np.atleast_1d(s)]
        else:
            s = [int(v) for v in np.atleast_1d(part.astype(object).sum(axis=0))]
        shift = 0 if isinstance(state, np.ndarray) else _LIMB * m
        s = [v << shift for v in s]
        total = s if total is None else [a + b for a, b in zip(total, s)]
    return total[0] if np.ndim(limbs[0]) == 1 else total


def path_count(lg: LayeredGraph, sources, targets, from_layer: int = 0, to_layer=None) -> int:
    """Exact number of paths from ``sources`` (level ``from_layer``) to ``targets`` (level
    ``to_layer``, default the last level), as a Python ``int``.

    Edge multiplicities count; arithmetic is integer (int64 with overflow checks,
    then limbs), never floating point.  See the module docstring.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(3, [[0, 1, 2]] * 3)
    >>> path_count(LayeredGraph([full] * 40), [0], [0])  # 3^39 paths, exact
    4052555153018976267
    """
    to_layer = len(lg) if to_layer is None else to_layer
    i, j = check_levels(lg, from_layer, to_layer)
    s = node_set(sources, lg.widths[i], "sources")
    t = node_set(targets, lg.widths[j], "targets")
    x = np.zeros(lg.widths[i], dtype=np.int64)
    x[s] = 1
    return _sum_rows(_propagate(lg, i, j, x), t)


def count_matrix(
    lg: LayeredGraph, sources, targets, from_layer: int = 0, to_layer=None
) -> np.ndarray:
    """The ``|S| x |T|`` matrix of exact path counts between single nodes.

    Entry ``[a, b]`` counts paths from ``sources[a]`` (level ``from_layer``) to
    ``targets[b]`` (level ``to_layer``); rows and columns follow the given order.
    dtype ``int64`` when every entry fits, else ``object`` (Python ints).  Memory
    ``O(n |S|)``: meant for small sets.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> shift = BipartiteGraph.from_ell(3, [[0, 1], [1, 2], [2, 0]])
    >>> count_matrix(LayeredGraph([shift, shift]), [0, 1], [0, 1, 2]).tolist()
    [[1, 1, 2], [2, 1, 1]]
    """
    to_layer = len(lg) if to_layer is None else to_layer
    i, j = check_levels(lg, from_layer, to_layer)
    s_raw = np.asarray(sources)
    t_raw = np.asarray(targets)
    node_set(s_raw, lg.widths[i], "sources")
    node_set(t_raw, lg.widths[j], "targets")
    x = np.zeros((lg.widths[i], s_raw.shape[0]), dtype=np.int64)
    x[s_raw.astype(np.int64), np.arange(s_raw.shape[0])] = 1
    state = _propagate(lg, i, j, x)
    t_idx = t_raw.astype(np.int64)
    if isinstance(state, np.ndarray):
        return np.ascontiguousarray(state[t_idx].T)
    out = np.zeros((t_idx.shape[0], s_raw.shape[0]), dtype=object)
    for m, limb in enumerate(state):
        out = out + limb[t_idx].astype(object) * (1 << (_LIMB * m))
    return np.ascontiguousarray(out.T)


# -- prediction and bound -----------------------------------------------------------------


def mixing_prediction(
    lg: LayeredGraph, s_size: int, t_size: int, from_layer: int = 0, to_layer=None
) -> Fraction:
    """Mixing-lemma prediction of the path count between sets of the given sizes (exact).

    ``|S| |T| prod_l |E_l| / (n_l n_{l+1}) * prod_{i<l<j} n_l``: the count when
    every layer is replaced by its average matrix.  For ``D``-regular layers of one
    width ``n`` and ``t = j - i`` layers this is ``D^t |S| |T| / n``.

    Reference: Hoory, Linial and Wigderson (2006) §2.4 (expander mixing lemma).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> shift = BipartiteGraph.from_ell(4, [[0, 1], [1, 2], [2, 3], [3, 0]])
    >>> mixing_prediction(LayeredGraph([shift] * 3), 2, 3)  # 2^3 * 2 * 3 / 4
    Fraction(12, 1)
    """
    to_layer = len(lg) if to_layer is None else to_layer
    i, j = check_levels(lg, from_layer, to_layer)
    w = lg.widths
    for name, size, width in (("s_size", s_size, w[i]), ("t_size", t_size, w[j])):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise ValueError(f"{name}: must be an integer, got {size!r}")
        if not 0 <= size <= width:
            raise ValueError(f"{name}: {size} out of range 0..{width}")
    value = Fraction(int(s_size) * int(t_size))
    for l in range(i, j):
        value *= Fraction(lg[l].num_edges, w[l] * w[l + 1])
    for l in range(i + 1, j):
        value *= w[l]
    return value


def _subset_extreme(dev: np.ndarray, size: int) -> float:
    """max over ``size``-subsets S of |sum_{u in S} dev_u|."""
    if size == 0:
        return 0.0
    asc = np.sort(dev)
    return float(max(abs(asc[-size:].sum()), abs(asc[:size].sum())))


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _logsumexp(terms: list[float]) -> float:
    top = max(terms, default=-math.inf)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(t - top) for t in terms))


def _chain_log_bound(edges, eps, devs, widths, s_size: int, t_size: int) -> float:
    """Natural log of the bound for a chain whose layers all have constant in-degree.

    ``edges[l]``, ``eps[l]`` and ``devs[l]`` (out-degree deviations) describe layer
    ``l`` of the chain, which maps level ``l`` (width ``widths[l]``) to ``l + 1``.
    Products over the layers are sums of logarithms, so chains of any depth give
    a finite value (``-inf`` for a zero bound); see the module docstring.
    """
    n_i, n_j = widths[0], widths[-1]
    log_ps = 0.5 * _log(s_size * (1 - s_size / n_i))
    log_pt = 0.5 * (_log(t_size * (1 - t_size / n_j)) if devs[-1] is None else _log(t_size))
    log_eps = [_log(e) for e in eps]
    t = len(eps)
    # suffix sums of log(edges / (w_l w_{l+1})) and of log(widths[l]): one pass, O(t)
    log_density = [_log(edges[l]) - math.log(widths[l]) - math.log(widths[l + 1]) for l in range(t)]
    suf_density = [0.0] * (t + 1)
    suf_width = [0.0] * (t + 1)
    for l in range(t - 1, -1, -1):
        suf_density[l] = suf_density[l + 1] + log_density[l]
        suf_width[l] = suf_width[l + 1] + math.log(widths[l])
    pre_eps = [0.0] * (t + 1)
    for l in range(t):
        pre_eps[l + 1] = pre_eps[l] + log_eps[l]
    terms = [pre_eps[t] + log_ps + log_pt]
    for k in range(1, t):  # M-block = layers k..t-1, E-block = layers 0..k-1
        dev = devs[k - 1]
        if dev is None:
            continue
        log_g = suf_density[k] + suf_width[k + 1]
        norm = float(np.linalg.norm(dev))
        if k == 1:
            log_inner = min(_log(_subset_extreme(dev, s_size)), _log(norm) + log_ps)
        else:
            log_inner = _log(norm) + pre_eps[k - 1] + log_ps
        terms.append(log_g + _log(t_size) + log_inner)
    return _logsumexp(terms)


def _exp(log_value: float) -> float:
    """``exp``, saturating at ``inf`` beyond the float range."""
    try:
        return math.exp(log_value)
    except OverflowError:
        return math.inf


def _frac_log(x: Fraction) -> float:
    """Natural log of a non-negative exact rational of any size (``-inf`` for 0)."""
    if x <= 0:
        return -math.inf
    return math.log(x.numerator) - math.log(x.denominator)


def _frac_float(x: Fraction) -> float:
    """``float(x)``, saturating at ``±inf`` instead of raising ``OverflowError``."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


class _Chain:
    """Per-layer data the bound needs, computed once (degree deviations, spectra)."""

    def __init__(self, lg: LayeredGraph, spectra: list[LayerSpectrum] | None = None):
        self.widths = lg.widths
        self.spectra = layer_spectra(lg) if spectra is None else list(spectra)
        self.edges = [l.num_edges for l in lg]
        self.eps = [sp.deviation + sp.error for sp in self.spectra]
        self.out_dev = []
        self.in_dev = []
        for l, w0, w1 in zip(lg, self.widths, self.widths[1:]):
            dl = l.left_degrees().astype(np.float64) - l.num_edges / w0
            dr = l.right_degrees().astype(np.float64) - l.num_edges / w1
            self.out_dev.append(dl if np.any(dl) else None)
            self.in_dev.append(dr if np.any(dr) else None)

    def bound(self, i: int, j: int, s_size: int, t_size: int) -> float | None:
        """The bound as a float (``inf`` beyond the float range); see :meth:`log_bound`."""
        log_b = self.log_bound(i, j, s_size, t_size)
        return None if log_b is None else _exp(log_b)

    def log_bound(self, i: int, j: int, s_size: int, t_size: int) -> float | None:
        """Natural log of the bound on ``|count - predicted|``, or ``None``."""
        w = self.widths[i : j + 1]
        if all(d is None for d in self.in_dev[i:j]):
            return _chain_log_bound(
                self.edges[i:j], self.eps[i:j], self.out_dev[i:j], w, s_size, t_size
            )
        if all(d is None for d in self.out_dev[i:j]):  # transpose the chain
            return _chain_log_bound(
                self.edges[i:j][::-1],
                self.eps[i:j][::-1],
                self.in_dev[i:j][::-1],
                w[::-1],
                t_size,
                s_size,
            )
        return None


def mixing_bound(
    lg: LayeredGraph,
    s_size: int,
    t_size: int,
    from_layer: int = 0,
    to_layer=None,
    *,
    spectra: list[LayerSpectrum] | None = None,
) -> float | None:
    """Bound on ``|count - predicted|`` for any ``S``, ``T`` of the given sizes, or ``None``.

    For biregular layers: ``prod_l sigma_2(B_l) sqrt(|S|(1-|S|/n_i)|T|(1-|T|/n_j))``
    (over ``t`` ``d``-regular layers: ``lambda^t sqrt(|S||T|(1-|S|/n)(1-|T|/n))``).
    For layers with a constant in-degree and varying out-degree (the paper's random
    layers) ``sigma_2`` becomes ``||B - M||_2`` and out-degree-deviation terms are
    added (module docstring); a chain with constant out-degrees is handled by
    transposition.  ``None`` when neither side has constant degrees throughout.
    The spectral norms carry their numerical error (added).  ``spectra``, if given,
    has one entry per layer of ``lg``.

    Reference: Hoory, Linial and Wigderson (2006) §2.4; Alon and Chung (1988).

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(3, [[0, 1, 2]] * 3)  # sigma_2 = 0: exact prediction
    >>> mixing_bound(LayeredGraph([full, full]), 1, 2) < 1e-9
    True
    """
    to_layer = len(lg) if to_layer is None else to_layer
    i, j = check_levels(lg, from_layer, to_layer)
    mixing_prediction(lg, s_size, t_size, i, j)  # validates the sizes
    if spectra is not None and len(spectra) != len(lg):
        raise ValueError(f"spectra: need one entry per layer ({len(lg)})")
    return _Chain(lg, spectra).bound(i, j, int(s_size), int(t_size))


@dataclass
class PathCount:
    """Result of :func:`path_mixing`: exact count, prediction, bound and verdict."""

    from_layer: int
    to_layer: int
    sources: int
    targets: int
    count: int
    predicted: float
    error_bound: float | None
    within_bound: bool | None
    deviation: float
    normalised_deviation: float | None
    #: base-10 logarithms, finite for chains of any depth (``predicted`` and the
    #: bound saturate at ``inf`` beyond the float range; the verdict never does)
    log10_count: float = -math.inf
    log10_predicted: float = -math.inf
    log10_error_bound: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def path_mixing(
    lg: LayeredGraph,
    sources,
    targets,
    from_layer: int = 0,
    to_layer=None,
    *,
    spectra: list[LayerSpectrum] | None = None,
) -> PathCount:
    """Exact path count from ``sources`` to ``targets`` with the mixing-lemma prediction.

    ``within_bound`` says whether ``|count - predicted| <= error_bound``;
    ``normalised_deviation = |count - predicted| / error_bound``.  See
    :func:`path_count`, :func:`mixing_prediction`, :func:`mixing_bound`.

    Reference: Hoory, Linial and Wigderson (2006) §2.4; Prabhu, Varma and
    Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(3, [[0, 1, 2]] * 3)
    >>> r = path_mixing(LayeredGraph([full, full]), [0, 1], [2])
    >>> r.count, r.predicted, r.within_bound
    (6, 6.0, True)
    """
    to_layer = len(lg) if to_layer is None else to_layer
    i, j = check_levels(lg, from_layer, to_layer)
    s = node_set(sources, lg.widths[i], "sources")
    t = node_set(targets, lg.widths[j], "targets")
    count = path_count(lg, s, t, i, j)
    pred = mixing_prediction(lg, s.shape[0], t.shape[0], i, j)
    if spectra is not None and len(spectra) != len(lg):
        raise ValueError(f"spectra: need one entry per layer ({len(lg)})")
    log_bound = _Chain(lg, spectra).log_bound(i, j, s.shape[0], t.shape[0])
    return _result(i, j, s.shape[0], t.shape[0], count, pred, log_bound)


def _result(i, j, ns, nt, count: int, pred: Fraction, log_bound: float | None) -> PathCount:
    """Verdict from the exact deviation and the bound's natural log (``None``: no bound).

    Within the float range the comparison is the exact rational one with a
    relative and absolute slack of ``1e-9``; beyond it, logarithms are compared
    with the same relative slack.
    """
    dev = abs(Fraction(count) - pred)
    log_dev = _frac_log(dev)
    bound = None if log_bound is None else _exp(log_bound)
    if bound is None:
        within, norm = None, None
    elif bound < math.inf:
        within = bool(dev <= Fraction(bound) * (1 + 1e-9) + 1e-9)
        if bound > 0:
            norm = _frac_float(dev / Fraction(bound))
        else:
            norm = 0.0 if dev == 0 else math.inf
    else:  # beyond the float range: compare logarithms
        within = bool(log_dev <= log_bound + math.log1p(1e-9))
        norm = _exp(log_dev - log_bound)
    ln10 = math.log(10)
    return PathCount(
        i,
        j,
        ns,
        nt,
        count,
        _frac_float(pred),
        bound,
        within,
        _frac_float(dev),
        norm,
        _frac_log(Fraction(count)) / ln10,
        _frac_log(pred) / ln10,
        None if log_bound is None else log_bound / ln10,
    )


def sampled_mixing(
    lg: LayeredGraph,
    samples: int = 100,
    *,
    from_layer: int | None = None,
    to_layer: int | None = None,
    seed: int = 0,
    spectra: list[LayerSpectrum] | None = None,
) -> dict:
    """Check the mixing bound on many random ``(S, T)`` pairs; report the worst case.

    Each sample draws levels ``i < j`` (or the given ones), sizes ``|S|``, ``|T|``
    log-uniformly in ``1..n`` and uniform random sets, and computes the exact
    count (:func:`path_count`), the prediction and the bound.  Returns
    ``{"samples", "worst_normalised_deviation", "worst", "violations", "bounded"}``
    where ``worst`` is the :class:`PathCount` (as a dict) with the largest
    ``|count - predicted| / error_bound``; ``bounded`` counts samples with a bound.

    Reference: Hoory, Linial and Wigderson (2006) §2.4.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(3, [[0, 1, 2]] * 3)
    >>> sampled_mixing(LayeredGraph([full, full]), 10)["violations"]
    0
    """
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples: must be a positive integer, got {samples!r}")
    if not isinstance(lg, LayeredGraph):
        raise ValueError(f"lg: expected a LayeredGraph, got {type(lg).__name__}")
    if from_layer is not None or to_layer is not None:
        check_levels(
            lg,
            0 if from_layer is None else from_layer,
            len(lg) if to_layer is None else to_layer,
        )
    rng = np.random.default_rng(seed)
    chain = _Chain(lg, spectra)
    w = lg.widths
    draws: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    for _ in range(int(samples)):
        i = int(rng.integers(0, len(lg))) if from_layer is None else int(from_layer)
        if to_layer is None:
            j = int(rng.integers(i + 1, len(lg) + 1))
        else:
            j = int(to_layer)
        if j <= i:
            raise ValueError(f"to_layer: {j} must be after from_layer {i}")
        sizes = [int(np.exp(rng.uniform(0, math.log(n + 1)))) for n in (w[i], w[j])]
        sizes = [min(max(1, sz), n) for sz, n in zip(sizes, (w[i], w[j]))]
        s = np.sort(rng.choice(w[i], sizes[0], replace=False))
        t = np.sort(rng.choice(w[j], sizes[1], replace=False))
        draws.setdefault((i, j), []).append((s, t))
    results = []
    for (i, j), pairs in sorted(draws.items()):
        for start in range(0, len(pairs), 32):
            batch = pairs[start : start + 32]
            x = np.zeros((w[i], len(batch)), dtype=np.int64)
            for col, (s, _) in enumerate(batch):
                x[s, col] = 1
            state = _propagate(lg, i, j, x)
            for col, (s, t) in enumerate(batch):
                col_state = (
                    state[:, col] if isinstance(state, np.ndarray) else [l[:, col] for l in state]
                )
                count = _sum_rows(col_state, t)
                pred = mixing_prediction(lg, s.shape[0], t.shape[0], i, j)
                log_bound = chain.log_bound(i, j, s.shape[0], t.shape[0])
                results.append(_result(i, j, s.shape[0], t.shape[0], count, pred, log_bound))
    bounded = [r for r in results if r.normalised_deviation is not None]
    worst = max(bounded, key=lambda r: r.normalised_deviation, default=None)
    return {
        "samples": len(results),
        "bounded": len(bounded),
        "violations": sum(1 for r in bounded if not r.within_bound),
        "worst_normalised_deviation": None if worst is None else worst.normalised_deviation,
        "worst": None if worst is None else worst.to_dict(),
    }
