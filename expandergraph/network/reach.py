"""Reachability on a :class:`~expandergraph.network.NetworkGraph`: reach fractions and mixing depth.

Conventions
-----------
* **Reach fraction** ``reach_fraction(net, s, t)``: the fraction of (channel of
  tensor ``s``, channel of tensor ``t``) pairs joined by a directed path.
* **Depth** of a tensor ``v`` from a start tensor ``s`` (:func:`tensor_depths`):
  the number of graph edges on the longest path ``s -> v`` (identity, embed,
  permute and flatten edges count 0).
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

Reachability is exact: packed ``uint64`` bitsets per tensor, never floats.
The network claim built on these (``depth(s) <= kappa * ideal(s)``) is
:func:`expandergraph.network.certify_network`'s.

Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3; Hoory, Linial and
Wigderson, Bull. AMS 43 (2006) §2.4.

Examples
--------
>>> from expandergraph import BipartiteGraph, LayeredGraph
>>> shift = BipartiteGraph.from_ell(4, [[0, 1], [1, 2], [2, 3], [3, 0]])
>>> net = NetworkGraph.from_layered(LayeredGraph([shift] * 3))
>>> reach_fraction(net, "input", "layers[1]"), ideal_network_depth(net)
(0.75, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..graph import BipartiteGraph
from .graph import NetworkGraph

__all__ = [
    "reach_fraction",
    "reach_fractions",
    "mixing_depth",
    "ideal_network_depth",
    "Mixing",
    "as_network",
    "tensor_depths",
    "depth_order",
]

_FULL = np.uint64(0xFFFFFFFFFFFFFFFF)


def as_network(net) -> NetworkGraph:
    """``net`` itself if it is a :class:`NetworkGraph`; else a one-line ``ValueError``."""
    if not isinstance(net, NetworkGraph):
        raise ValueError(f"graph: expected a NetworkGraph, got {type(net).__name__}")
    return net


def tensor_depths(net: NetworkGraph, start: str) -> dict[str, int]:
    """Longest-path graph-edge depth of every tensor downstream of ``start`` (topo order).

    ``start`` itself has depth 0; tensors not downstream of it are absent.
    """
    net._tensor(start)
    depth = {start: 0}
    for t in net.tensors:
        if t == start:
            continue
        ds = [depth[e.source] + (e.kind == "graph") for e in net._in[t] if e.source in depth]
        if ds:
            depth[t] = max(ds)
    return depth


def depth_order(net: NetworkGraph, depth: dict[str, int]) -> list[str]:
    """The tensors of ``depth`` sorted by depth, ties in the network's topological order."""
    pos = {t: i for i, t in enumerate(net.tensors)}
    return sorted(depth, key=lambda t: (depth[t], pos[t]))


def _graph_bits(bits: np.ndarray, g: BipartiteGraph, mask: np.ndarray) -> np.ndarray:
    uniq, inv = g.distinct_rows
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
    order = depth_order(net, depth)
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
    net = as_network(graph)
    depth = tensor_depths(net, start)
    src = np.arange(net.widths[start])
    pairs, _ = _propagate_bits(net, start, src, depth, False)
    return {t: pairs[t] / (net.widths[start] * net.widths[t]) for t in pairs}


def reach_fraction(graph: NetworkGraph, source: str, target: str) -> float:
    """Fraction of (``source`` channel, ``target`` channel) pairs joined by a path (0 if none)."""
    net = as_network(graph)
    net._tensor(target)
    return reach_fractions(net, source).get(target, 0.0)


def ideal_network_depth(graph: NetworkGraph, start: str = "input") -> int | None:
    """The ideal depth from ``start`` (module docstring); ``None`` when degrees never allow it."""
    net = as_network(graph)
    depth = tensor_depths(net, start)
    n_s = net.widths[start]
    log_f, log_g = {start: 0.0}, {start: 0.0}
    need = math.log(n_s)
    best = None
    for t in depth_order(net, depth):
        if t != start:
            fs, gs = [], []
            for e in net._in[t]:
                if e.source not in depth:
                    continue
                f, g = log_f[e.source], log_g[e.source]
                if e.kind == "graph":
                    df, dg = (math.log(max(k, 1)) for k in e.graph.max_degrees)
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
    net = as_network(graph)
    depth = tensor_depths(net, start)
    ideal = ideal_network_depth(net, start)
    src = np.arange(net.widths[start])
    pairs, full = _propagate_bits(net, start, src, depth, True)
    cands = [t for t in depth_order(net, depth) if t != start and full[t] and depth[t] >= 1]
    done = [t for t in depth_order(net, depth) if t in pairs]
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
