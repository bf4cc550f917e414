"""The paper's two guarantees on a :class:`~expandergraph.network.NetworkGraph`.

Definitions
-----------
* **Reach fraction** ``reach_fraction(net, s, t)``: the fraction of (channel of
  tensor ``s``, channel of tensor ``t``) pairs joined by a directed path.
* **Depth** of a tensor ``v`` from a start tensor ``s``: the number of graph
  edges on the longest path ``s -> v`` (identity, embed, permute and flatten
  edges count 0).
* **Mixing depth** from ``s``: the smallest depth of a tensor ``v`` downstream
  of ``s`` that is *fully mixed* (every channel of ``s`` reaches every channel of
  ``v``); ``None`` if none is.  For a chain measured from ``"input"`` this is
  :func:`expandergraph.mixing.reach_depth`.  Where it never happens the result
  says where reach stops: the first tensor (by depth) attaining the largest
  reach fraction, and that fraction.
* **Ideal depth** from ``s``: the smallest depth of a tensor ``v`` whose degrees
  allow full mixing at all: ``F(v) >= n_s`` and ``G(v) >= n_v``, with ``F`` (most
  channels of ``s`` one channel of ``v`` can see) and ``G`` (most channels of
  ``v`` one channel of ``s`` can reach) propagated as products of the edges'
  largest in/out-degrees and summed over a tensor's incoming edges (flatten
  multiplies ``G`` by ``H*W``).  For a chain it equals
  :func:`expandergraph.bounds.ideal_depth`.
* **Network mixing depth**: measured from every tensor that feeds a graph layer
  whose ideal depth exists and that either mixes fully or has at least
  ``kappa * ideal`` graph layers after it (a start too close to the output to
  decide the claim is listed, not measured); the worst start (largest
  ``depth / ideal``, never-mixing worst of all) is reported.  The required claim
  is ``depth(s) <= kappa * ideal(s)`` for every measured start, and it fails when
  no start is measured.
* **Path counts** (:func:`path_count`): exact integers by dynamic programming in
  topological order (base-``2^30`` limbs in ``int64``, never floats).  The uniform
  prediction is ``P |S||T| / (n_S n_T)`` with ``P`` the number of all paths between
  the two tensors; the deviation is ``count / prediction - 1``.
* **Proven bounds** apply on *chain segments*: maximal runs of graph layers whose
  intermediate tensors have one incoming and one outgoing edge, joined by
  identity or permutation edges (a permutation is folded into the layer before
  it).  There :func:`expandergraph.bounds.uniformity_epsilon`,
  :func:`~expandergraph.bounds.sigma_star` and
  :func:`expandergraph.bounds.tanner_depth` are proven.  Across joins (sums,
  concatenations) and flattens no bound is claimed.

Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3; R. M. Tanner (1984);
Hoory, Linial and Wigderson, Bull. AMS 43 (2006) §2.4, §4.6.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..certificate import Certificate, Check
from ..graph import BipartiteGraph
from ..layered import LayeredGraph
from .graph import NetworkGraph

__all__ = [
    "reach_fraction",
    "reach_fractions",
    "mixing_depth",
    "ideal_network_depth",
    "path_count",
    "uniform_prediction",
    "path_deviation",
    "chain_segments",
    "certify_network",
    "NETWORK_REQUIRED",
    "NETWORK_CHECKS",
]

#: required checks of a network certificate (``path_uniformity`` only for a chain)
NETWORK_REQUIRED = ("layer_certificates", "mixing_depth")
_LIMB = 30
_MASK = (1 << _LIMB) - 1
_FULL = np.uint64(0xFFFFFFFFFFFFFFFF)


def _net(net) -> NetworkGraph:
    if not isinstance(net, NetworkGraph):
        raise ValueError(f"graph: expected a NetworkGraph, got {type(net).__name__}")
    return net


def _depths(net: NetworkGraph, start: str) -> dict[str, int]:
    """Longest-path graph-edge depth of every tensor downstream of ``start`` (topo order)."""
    net._tensor(start)
    depth = {start: 0}
    for t in net.tensors:
        if t == start:
            continue
        ds = [depth[e.source] + (e.kind == "graph") for e in net._in[t] if e.source in depth]
        if ds:
            depth[t] = max(ds)
    return depth


def _order(net: NetworkGraph, depth: dict[str, int]) -> list[str]:
    pos = {t: i for i, t in enumerate(net.tensors)}
    return sorted(depth, key=lambda t: (depth[t], pos[t]))


# -- reachability ---------------------------------------------------------------------


def _table(g: BipartiteGraph) -> np.ndarray:
    deg = g.right_degrees()
    width = int(deg.max()) if deg.size else 0
    if width and deg.min() == width:
        return g.indices.reshape(g.right, width)
    table = np.full((g.right, width), g.left, dtype=np.int64)  # row `left` is all zero
    rows = np.repeat(np.arange(g.right), deg)
    table[rows, np.arange(g.indices.shape[0]) - g.indptr[rows]] = g.indices
    return table


_TABLES: dict[int, tuple] = {}


def _unique_table(g: BipartiteGraph) -> tuple[np.ndarray, np.ndarray]:
    """Distinct input rows of a layer and the row of each output (grouped layers: few)."""
    hit = _TABLES.get(id(g))
    if hit is not None and hit[0] is g:
        return hit[1], hit[2]
    table = _table(g)
    w = np.random.default_rng(0).integers(1, 2**62, size=table.shape[1], dtype=np.int64)
    keys = (table * w).sum(axis=1)  # wraps mod 2^64; equality verified below
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    uniq = table[first]
    if not np.array_equal(uniq[inv.reshape(-1)], table):  # a hash collision: no dedup
        uniq, inv = table, np.arange(table.shape[0])
    if len(_TABLES) > 512:
        _TABLES.clear()
    _TABLES[id(g)] = (g, uniq, inv.reshape(-1))
    return uniq, inv.reshape(-1)


def _graph_bits(bits: np.ndarray, g: BipartiteGraph, mask: np.ndarray) -> np.ndarray:
    uniq, inv = _unique_table(g)
    return _or_gather(bits, uniq, mask)[inv]


def _or_gather(bits: np.ndarray, table: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``out[v] = OR_k bits[table[v, k]]``; rows that fill up early stop being computed."""
    n, words = table.shape[0], bits.shape[1]
    padded = np.vstack([bits, np.zeros((1, words), np.uint64)])
    out = np.zeros((n, words), np.uint64)
    todo = np.arange(n)
    for k0 in range(0, table.shape[1], 8):
        if not todo.size:
            break
        sub = table[todo, k0 : k0 + 8]
        acc = out[todo]
        for k in range(sub.shape[1]):
            acc |= padded[sub[:, k]]
        out[todo] = acc
        todo = todo[~np.all(acc == mask, axis=1)]
    return out


def _propagate_bits(net, start, src, depth, stop_full: bool):
    """Exact connected-pair counts per tensor for the sources ``src`` of ``start``."""
    order = _order(net, depth)
    pairs = {t: 0 for t in order}
    full = {t: True for t in order}
    uses = {t: sum(1 for e in net._out[t] if e.target in depth) for t in order}
    first_full = None
    stop_full = stop_full and src.shape[0] <= 4096  # early stop only with one chunk
    for c0 in range(0, src.shape[0], 4096):
        chunk = src[c0 : c0 + 4096]
        m = chunk.shape[0]
        words = (m + 63) // 64
        mask = np.zeros(words, np.uint64)
        mask[: m // 64] = _FULL
        if m % 64:
            mask[m // 64] = np.uint64((1 << (m % 64)) - 1)
        n_s = net.widths[start]
        b0 = np.zeros((n_s, words), np.uint64)
        j = np.arange(m)
        b0[chunk, j >> 6] |= np.left_shift(np.uint64(1), (j & 63).astype(np.uint64))
        bits = {start: b0}
        left = dict(uses)
        stopped = False
        for t in order:
            if t != start:
                acc = np.zeros((net.widths[t], words), np.uint64)
                for e in net._in[t]:
                    if e.source not in bits:
                        continue
                    u = bits[e.source]
                    if e.kind == "graph":
                        acc |= _graph_bits(u, e.graph, mask)
                    else:
                        rows, s = e.gather()
                        acc[rows] |= u[s]
                    left[e.source] -= 1
                    if left[e.source] == 0 and e.source != start:
                        del bits[e.source]
                bits[t] = acc
            cur = bits[t]
            pairs[t] += int(np.bitwise_count(cur).sum(dtype=np.int64))
            is_full = bool(np.all(cur == mask))
            full[t] &= is_full
            if stop_full and t != start and is_full and first_full is None:
                first_full = t
            if first_full is not None:
                stopped = True
                break
            if left[t] == 0 and t in bits and t != start:
                del bits[t]
        if stopped:
            break
    return pairs, full


def reach_fractions(graph: NetworkGraph, start: str = "input") -> dict[str, float]:
    """``{tensor: reach fraction from start}`` for every tensor downstream of ``start``.

    Packed ``uint64`` bitsets per tensor (bit ``j`` of row ``v``: source ``j``
    reaches channel ``v``), OR-reduced over each graph layer's input table with
    rows that fill up dropped early; no ``n x n`` float array is formed.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> shift = BipartiteGraph.from_ell(4, [[0, 1], [1, 2], [2, 3], [3, 0]])
    >>> net = NetworkGraph.from_layered(LayeredGraph([shift] * 3))
    >>> [reach_fractions(net)[t] for t in ("layers[0]", "layers[2]", "output")]
    [0.5, 1.0, 1.0]
    """
    net = _net(graph)
    depth = _depths(net, start)
    src = np.arange(net.widths[start])
    pairs, _ = _propagate_bits(net, start, src, depth, False)
    return {t: pairs[t] / (net.widths[start] * net.widths[t]) for t in pairs}


def reach_fraction(graph: NetworkGraph, source: str, target: str) -> float:
    """Fraction of (``source`` channel, ``target`` channel) pairs joined by a path (0 if none)."""
    net = _net(graph)
    net._tensor(target)
    return reach_fractions(net, source).get(target, 0.0)


_DEGREES: dict[int, tuple] = {}


def _log_degrees(g: BipartiteGraph) -> tuple[float, float]:
    """``log`` of a layer's largest in-degree and out-degree (cached per object)."""
    hit = _DEGREES.get(id(g))
    if hit is not None and hit[0] is g:
        return hit[1]
    logs = (
        math.log(max(float(g.right_degrees().max()), 1.0)),
        math.log(max(float(g.left_degrees().max()), 1.0)),
    )
    if len(_DEGREES) > 4096:
        _DEGREES.clear()
    _DEGREES[id(g)] = (g, logs)
    return logs


def ideal_network_depth(graph: NetworkGraph, start: str = "input") -> int | None:
    """The ideal depth from ``start`` (module docstring); ``None`` when degrees never allow it."""
    net = _net(graph)
    depth = _depths(net, start)
    n_s = net.widths[start]
    log_f, log_g = {start: 0.0}, {start: 0.0}
    need = math.log(n_s)
    best = None
    for t in _order(net, depth):
        if t != start:
            fs, gs = [], []
            for e in net._in[t]:
                if e.source not in depth:
                    continue
                f, g = log_f[e.source], log_g[e.source]
                if e.kind == "graph":
                    df, dg = _log_degrees(e.graph)
                    f, g = f + df, g + dg
                elif e.kind == "flatten":
                    g += math.log(e.spatial)
                fs.append(f)
                gs.append(g)
            log_f[t], log_g[t] = float(np.logaddexp.reduce(fs)), float(np.logaddexp.reduce(gs))
            slack = 1e-12 * max(1.0, need)
            ok = log_f[t] + slack >= need and log_g[t] + slack >= math.log(net.widths[t])
            if ok and depth[t] >= 1 and (best is None or depth[t] < best):
                best = depth[t]
    return best


@dataclass
class Mixing:
    """Result of :func:`mixing_depth` from one start tensor."""

    start: str
    depth: int | None
    tensor: str | None  # the first fully mixed tensor
    ideal: int | None
    stop_tensor: str | None  # where reach stops when it never mixes fully
    stop_fraction: float | None


def mixing_depth(graph: NetworkGraph, start: str = "input") -> Mixing:
    """Mixing depth from ``start`` (module docstring), with the tensor that attains it.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> shift = BipartiteGraph.from_ell(4, [[0, 1], [1, 2], [2, 3], [3, 0]])
    >>> m = mixing_depth(NetworkGraph.from_layered(LayeredGraph([shift] * 4)))
    >>> m.depth, m.tensor, m.ideal
    (3, 'layers[2]', 2)
    """
    net = _net(graph)
    depth = _depths(net, start)
    ideal = ideal_network_depth(net, start)
    src = np.arange(net.widths[start])
    pairs, full = _propagate_bits(net, start, src, depth, True)
    cands = [t for t in _order(net, depth) if t != start and full[t] and depth[t] >= 1]
    done = [t for t in _order(net, depth) if t in pairs]
    if cands:
        t = cands[0]
        return Mixing(start, depth[t], t, ideal, None, None)
    n_s = net.widths[start]
    fr = {t: pairs[t] / (n_s * net.widths[t]) for t in done if t != start}
    if not fr:
        return Mixing(start, None, None, ideal, None, 0.0)
    top = max(fr.values())
    stop = next(t for t in done if t in fr and fr[t] == top)
    return Mixing(start, None, None, ideal, stop, top)


# -- exact path counts ----------------------------------------------------------------


def _normalise(x: np.ndarray) -> np.ndarray:
    """Carry base-2^30 limbs (columns) so every limb is in ``0..2^30-1``."""
    cols = [x[:, k] for k in range(x.shape[1])]
    out = []
    carry = np.zeros(x.shape[0], np.int64)
    for c in cols:
        v = c + carry
        out.append(v & _MASK)
        carry = v >> _LIMB
    while carry.any():
        out.append(carry & _MASK)
        carry = carry >> _LIMB
    return np.stack(out, axis=1)


def _dp(net: NetworkGraph, source: str, sset: np.ndarray, depth: dict) -> dict:
    """Exact path-count limbs ``(n_t, L)`` for every tensor downstream of ``source``."""
    x = np.zeros((net.widths[source], 1), np.int64)
    x[sset, 0] = 1
    state = {source: x}
    for t in _order(net, depth):
        if t == source:
            continue
        parts = []
        for e in net._in[t]:
            if e.source not in state:
                continue
            u = state[e.source]
            if e.kind == "graph":
                if int(e.graph.right_degrees().max(initial=0)) >= 1 << 32:
                    raise ValueError(f"{t}: row multiplicity too large for exact counts")
                parts.append(np.asarray(e.graph.biadjacency(np.int64) @ u, np.int64))
            else:
                rows, s = e.gather()
                y = np.zeros((net.widths[t], u.shape[1]), np.int64)
                y[rows] = u[s]
                parts.append(y)
        width = max(p.shape[1] for p in parts)
        acc = np.zeros((net.widths[t], width + 1), np.int64)
        for p in parts:  # each limb < 2^62 / rows: normalise after every add
            acc[:, : p.shape[1]] += p
            acc = _normalise(acc)
        state[t] = acc
    return state


def _to_int(limbs: np.ndarray, rows: np.ndarray) -> int:
    sums = limbs[rows].sum(axis=0)
    return sum(int(v) << (_LIMB * k) for k, v in enumerate(sums.tolist()))


def _channels(values, width: int, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: must be a non-empty list of channel ids")
    if arr.min() < 0 or arr.max() >= width:
        raise ValueError(f"{name}: channel out of range 0..{width - 1}")
    if np.unique(arr).shape[0] != arr.shape[0]:
        raise ValueError(f"{name}: channel ids must be distinct")
    return arr.astype(np.int64)


def path_count(graph: NetworkGraph, source: str, S, target: str, T) -> int:
    """Exact number of paths from channels ``S`` of ``source`` to channels ``T`` of ``target``.

    Dynamic programming in topological order; identity and concat edges count
    as edges; multiplicities count.  0 when ``target`` is not downstream.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph
    >>> full = BipartiteGraph.from_ell(2, [[0, 1], [0, 1]])
    >>> net = NetworkGraph(2)
    >>> _ = net.add("r", [net.graph("g", "input", full), "input"])
    >>> _ = net.output("r")
    >>> path_count(net, "input", [0], "output", [0, 1])  # 2 through g, 1 skip
    3
    """
    net = _net(graph)
    s = _channels(S, net.widths[net._tensor(source)], "S")
    t = _channels(T, net.widths[net._tensor(target)], "T")
    if target == source:
        return int(np.intersect1d(s, t).shape[0])
    depth = _depths(net, source)
    if target not in depth:
        return 0
    return _to_int(_dp(net, source, s, depth)[target], t)


def uniform_prediction(graph: NetworkGraph, source: str, S, target: str, T) -> Fraction:
    """``P |S||T| / (n_S n_T)`` with ``P`` the number of all paths ``source -> target``."""
    net = _net(graph)
    ns, nt = net.widths[net._tensor(source)], net.widths[net._tensor(target)]
    s = _channels(S, ns, "S")
    t = _channels(T, nt, "T")
    p = path_count(net, source, np.arange(ns), target, np.arange(nt))
    return Fraction(p * s.shape[0] * t.shape[0], ns * nt)


def path_deviation(graph: NetworkGraph, source: str, S, target: str, T) -> float:
    """Measured ``count / prediction - 1`` (``inf`` when the prediction is 0 but not the count)."""
    count = path_count(graph, source, S, target, T)
    pred = uniform_prediction(graph, source, S, target, T)
    if pred == 0:
        return 0.0 if count == 0 else math.inf
    return float(Fraction(count) / pred - 1)


# -- chain segments -------------------------------------------------------------------


@dataclass
class Segment:
    """A chain segment: graph layers ``start -> ... -> end`` (permutations folded)."""

    start: str
    end: str
    tensors: list[str]
    layered: LayeredGraph


def _permuted(g: BipartiteGraph, perm: np.ndarray) -> BipartiteGraph:
    """``P g``: output ``j`` of the result is output ``perm[j]`` of ``g``."""
    inv = np.argsort(perm)
    e = g.edge_array()
    return BipartiteGraph.from_edges(g.left, g.right, e[:, 0], inv[e[:, 1]], name=g.name)


def chain_segments(graph: NetworkGraph) -> list[Segment]:
    """Maximal chains of graph layers joined by identity/permutation edges only."""
    net = _net(graph)

    def simple(t):  # a tensor a chain may pass through
        return len(net._in[t]) == 1 and len(net._out[t]) == 1

    segs, used = [], set()
    for e in net.graph_edges:
        if id(e) in used:
            continue
        # walk back to the first graph edge of the chain
        first = e
        while True:
            t, prev = first.source, None
            while simple(t) and net._in[t][0].kind in ("identity", "permute"):
                t = net._in[t][0].source
            if simple(t) and net._in[t][0].kind == "graph" and id(net._in[t][0]) not in used:
                prev = net._in[t][0]
            if prev is None or prev is first:
                break
            first = prev
        layers, tensors, cur = [], [first.source], first
        while True:
            used.add(id(cur))
            g = cur.graph
            t = cur.target
            tensors.append(t)
            nxt = None
            while simple(t) and len(net._in[t]) == 1:
                o = net._out[t][0]
                if o.kind == "permute":
                    g = _permuted(g, o.perm)
                elif o.kind == "graph":
                    if len(net._in[o.target]) == 1:
                        nxt = o
                    break
                elif o.kind != "identity" or len(net._in[o.target]) != 1:
                    break
                t = o.target
                tensors.append(t)
            layers.append(g)
            if nxt is None:
                break
            cur = nxt
        segs.append(Segment(tensors[0], tensors[-1], tensors, LayeredGraph(layers)))
    return segs


# -- the certificate ------------------------------------------------------------------


#: checks a network certificate can run (``checks=``); the layered names are aliases
NETWORK_CHECKS = ("mixing_depth", "bound_depth", "path_uniformity", "path_mixing")
_ALIASES = {"reach_depth": "mixing_depth"}


def _wanted(checks) -> tuple[str, ...]:
    if checks is None:
        return NETWORK_CHECKS
    out = []
    for name in checks:
        name = _ALIASES.get(name, name)
        if name not in NETWORK_CHECKS:
            raise ValueError(
                f"checks: unknown network check {name!r} (known: {', '.join(NETWORK_CHECKS)})"
            )
        out.append(name)
    return tuple(out)


def certify_network(
    graph: NetworkGraph,
    *,
    alpha_max: float | None = None,
    kappa: float | None = None,
    sigma: float | None = None,
    eps_max: float | None = None,
    delta: float | None = None,
    layer_checks: Sequence[str] = ("degrees", "spectrum"),
    checks: Sequence[str] | None = None,
    layer_certificates: dict[str, Certificate] | None = None,
    samples: int = 16,
    seed: int = 0,
    subject: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Certificate:
    """Certify a network: every graph layer, log-step mixing, path counts (module docstring).

    Required checks: ``layer_certificates`` (one passed certificate per graph
    layer, :func:`expandergraph.certify.certify`), ``mixing_depth``
    (``depth(s) <= kappa * ideal(s)`` from every measured start), and, when the
    network is one chain, ``path_uniformity`` (as in
    :func:`expandergraph.guarantees.certify_layered`).  Informative:
    ``segment_bounds`` (proven ``eps``, ``sigma*`` and Tanner depth per chain
    segment), ``path_deviation`` (exact counts on ``samples`` random set pairs
    from (at most two random) start tensors to ``"output"``) and ``reach`` (reach fraction of every
    tensor from ``"input"``).  Defaults of ``alpha_max``/``delta`` are those of
    :func:`~expandergraph.certify.certify`; ``kappa``/``sigma``/``eps_max`` those
    of :mod:`expandergraph.guarantees`.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> full = BipartiteGraph.from_ell(4, [[0, 1, 2, 3]] * 4)
    >>> cert = certify_network(NetworkGraph.from_layered(LayeredGraph([full, full])))
    >>> cert.kind, cert["mixing_depth"].value, cert.status
    ('network', 1, 'passed')
    """
    from .. import guarantees as gu
    from ..bounds import sigma_star, tanner_depth, uniformity_epsilon
    from ..certify import ALPHA_MAX, DELTA, certify
    from ..singular import layer_spectra

    net = _net(graph)
    net.validate()
    alpha_max = ALPHA_MAX if alpha_max is None else alpha_max
    delta = DELTA if delta is None else delta
    params = gu.claim_params(
        gu.KAPPA if kappa is None else kappa,
        gu.SIGMA if sigma is None else sigma,
        gu.EPS_MAX if eps_max is None else eps_max,
    )
    params.update(alpha_max=float(alpha_max), delta=float(delta))
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 0:
        raise ValueError(f"samples: must be a non-negative integer, got {samples!r}")
    kappa, sigma, eps_max = params["kappa"], params["sigma"], params["eps_max"]
    wanted = _wanted(checks)
    spectra_cache: dict = {}  # fingerprint -> LayerSpectrum, for this certificate only

    def step(msg: str) -> None:
        if progress is not None:
            progress(msg)

    try:
        chain = net.to_layered()
    except ValueError:
        chain = None
    required = list(NETWORK_REQUIRED) + (["path_uniformity"] if chain is not None else [])
    cert = Certificate(
        subject=subject or (net.name or repr(net)),
        kind="network",
        fingerprint=net.fingerprint,
        required=required,
        params=params,
    )
    gedges = net.graph_edges
    cert.summary = {
        "tensors": len(net.widths),
        "graph_layers": len(gedges),
        "layers": [e.target for e in gedges],
        "layer_fingerprints": net.layer_fingerprints,
        "output_width": net.widths["output"],
    }
    # per-layer parts (one certificate per distinct graph)
    if layer_certificates is not None:
        for e in gedges:
            part = layer_certificates.get(e.target)
            if part is None or part.fingerprint != e.graph.fingerprint:
                raise ValueError(f"layer_certificates: none for graph layer {e.target}")
            cert.parts.append(part)
    elif layer_checks:
        cache: dict[str, Certificate] = {}
        for e in gedges:
            fp = e.graph.fingerprint
            if fp not in cache:
                step(f"certifying {e.target}")
                cache[fp] = certify(e.graph, checks=layer_checks, alpha_max=alpha_max, delta=delta)
            cert.parts.append(cache[fp])
    if cert.parts:
        gu.layer_certificates_check(cert, len(gedges))
    if "mixing_depth" in wanted:
        # log-step mixing from every start tensor
        starts = list(dict.fromkeys(e.source for e in gedges))
        rows, worst = [], None
        for s in starts:
            step(f"mixing depth from {s}")
            ideal = ideal_network_depth(net, s)
            if ideal is None:
                rows.append({"start": s, "ideal": None, "depth": None, "measured": False})
                continue
            m = mixing_depth(net, s)
            left = max(_depths(net, s).values())
            row = {"start": s, "ideal": ideal, "depth": m.depth, "tensor": m.tensor}
            row.update(stop_tensor=m.stop_tensor, stop_fraction=m.stop_fraction, layers_after=left)
            # a start that has not mixed is decisive only with >= kappa * ideal layers after it
            row["measured"] = m.depth is not None or left >= kappa * ideal
            rows.append(row)
            if not row["measured"]:
                continue
            ratio = math.inf if m.depth is None else m.depth / ideal
            key = (ratio, -1 if m.depth is None else m.depth)
            if worst is None or key > worst[0]:
                worst = (key, row)
        measured = [r for r in rows if r["measured"]]
        if worst is None:
            cert.add(
                Check(
                    "mixing_depth",
                    None,
                    relation="<=",
                    method="no start tensor mixes fully or has kappa * ideal graph layers after it",
                    passed=False,
                    required=True,
                    detail={"starts": rows},
                )
            )
            cert.claims.append(
                "no start tensor can mix fully before the output (degrees too small)"
            )
        else:
            w = worst[1]
            ok = all(r["depth"] is not None and r["depth"] <= kappa * r["ideal"] for r in measured)
            cert.add(
                Check(
                    "mixing_depth",
                    w["depth"],
                    bound=kappa * w["ideal"],
                    relation="<=",
                    method=(
                        "packed-bitset reachability from every start tensor feeding a graph layer; "
                        "claim: depth(s) <= kappa * ideal(s), worst start reported"
                    ),
                    passed=bool(ok),
                    required=True,
                    detail={
                        "start": w["start"],
                        "ideal": w["ideal"],
                        "kappa": kappa,
                        "starts": rows,
                    },
                )
            )
            cert.summary.update(mixing_depth=w["depth"], mixing_start=w["start"], ideal=w["ideal"])
            if w["depth"] is None:
                cert.claims.append(
                    f"from {w['start']} the channels never all reach all channels of any "
                    f"later tensor: reach stops at fraction {w['stop_fraction']:.3g} at "
                    f"{w['stop_tensor']}"
                )
            else:
                cert.claims.append(
                    f"every channel of {w['start']} reaches every channel of {w['tensor']} after "
                    f"{w['depth']} graph layers (ideal {w['ideal']}, kappa = {kappa:g})"
                    + ("" if ok else ": not log-step")
                )
            skipped = len(rows) - len(measured)
            if skipped:
                cert.claims.append(
                    f"{skipped} start tensor(s) with fewer than kappa * ideal graph layers "
                    "after them "
                    "and no full mixing are not measured"
                )
    # reach fractions from the input
    step("reach fractions from input")
    rf = reach_fractions(net, "input")
    cert.add(
        Check(
            "reach",
            rf["output"],
            method="packed-bitset reachability: fraction of (input, output) channel pairs",
            detail={"from": "input", "fractions": rf},
        )
    )
    cert.summary["reach_output"] = rf["output"]
    if "bound_depth" in wanted:
        # proven bounds on chain segments
        step("chain segments")
        seg_rows = []
        for seg in chain_segments(net):
            eps = uniformity_epsilon(seg.layered, sigma)
            star = None if eps is None else sigma_star(seg.layered, eps_max)
            tan = tanner_depth(
                seg.layered, 0, spectra=layer_spectra(seg.layered, cache=spectra_cache)
            )["bound_depth"]
            seg_rows.append(
                {
                    "start": seg.start,
                    "end": seg.end,
                    "layers": len(seg.layered),
                    "epsilon": eps,
                    "sigma_star": star,
                    "tanner_depth": tan,
                }
            )
        bounded = [r for r in seg_rows if r["epsilon"] is not None]
        worst_seg = max(bounded, key=lambda r: r["epsilon"], default=None)
        cert.add(
            Check(
                "segment_bounds",
                None if worst_seg is None else worst_seg["epsilon"],
                bound=eps_max,
                method=(
                    "proven path-uniformity eps (mixing lemma) and Tanner depth on each chain "
                    "segment; "
                    "no bound across sums, concatenations or flattens"
                ),
                exact=False,
                detail={"segments": seg_rows, "sigma": sigma},
            )
        )
        if worst_seg is not None:
            cert.claims.append(
                f"within each of {len(bounded)} chain segments, paths between sets of >= "
                f"{sigma:.0%} of the channels are proven within +-{worst_seg['epsilon']:.3g} of "
                f"proportional (worst {worst_seg['start']} -> {worst_seg['end']}); no bound is "
                "claimed across joins"
            )
        else:
            cert.claims.append("path counts: no proven uniformity bound applies to this network")
    if chain is not None and "path_uniformity" in wanted:
        spectra = layer_spectra(chain, cache=spectra_cache)
        gu.uniformity_check(cert, chain, spectra, sigma, eps_max)
    # measured deviation
    if samples and "path_mixing" in wanted:
        step(f"exact path counts on {samples} random set pairs")
        starts = list(dict.fromkeys(e.source for e in gedges))
        _deviation_check(cert, net, starts, sigma, samples, seed)
    return cert


def _deviation_check(cert, net, starts, sigma, samples, seed) -> None:
    rng = np.random.default_rng(seed)
    n_t = net.widths["output"]
    by_src: dict[str, list] = {}
    pool = list(starts) or ["input"]  # at most two sources: one exact DP each for P
    pool = [pool[int(k)] for k in rng.choice(len(pool), min(2, len(pool)), replace=False)]
    for _ in range(int(samples)):
        s = pool[int(rng.integers(len(pool)))]
        n_s = net.widths[s]
        a = int(rng.integers(max(1, math.ceil(sigma * n_s - 1e-9)), n_s + 1))
        b = int(rng.integers(max(1, math.ceil(sigma * n_t - 1e-9)), n_t + 1))
        by_src.setdefault(s, []).append(
            (np.sort(rng.choice(n_s, a, replace=False)), np.sort(rng.choice(n_t, b, replace=False)))
        )
    worst, where = 0.0, None
    for s, pairs in by_src.items():
        depth = _depths(net, s)
        total_state = _dp(net, s, np.arange(net.widths[s]), depth)["output"]
        p_all = _to_int(total_state, np.arange(n_t))
        n_s = net.widths[s]
        for sset, tset in pairs:
            count = _to_int(_dp(net, s, sset, depth)["output"], tset)
            pred = Fraction(p_all * len(sset) * len(tset), n_s * n_t)
            rel = (0.0 if count == 0 else math.inf) if pred == 0 else abs(float(count / pred - 1))
            if rel >= worst:
                worst, where = rel, {"source": s, "S": len(sset), "T": len(tset)}
    cert.add(
        Check(
            "path_deviation",
            worst,
            method=(
                f"exact integer path counts on {samples} random (S, T) pairs, S of a start "
                "tensor, T of output, both >= sigma: worst |count/prediction - 1|"
            ),
            exact=True,
            detail={"worst": where, "samples": int(samples), "sigma": sigma},
        )
    )
    cert.summary["path_deviation"] = worst
