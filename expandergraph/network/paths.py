"""Exact path counts on a :class:`~expandergraph.network.NetworkGraph`, and its chain segments.

Conventions
-----------
* **Path counts** (:func:`path_count`): the number of directed paths from a set
  ``S`` of channels of tensor ``source`` to a set ``T`` of channels of tensor
  ``target``; every edge counts (identity and concat edges too), multiplicities
  count.  Exact integers by dynamic programming in topological order: the state
  of a tensor is a ``(width, L)`` ``int64`` array of base-``2^30`` limbs
  (:func:`path_limbs`), summed into a Python ``int`` by :func:`limbs_total`;
  never floats.
* **Uniform prediction** (:func:`uniform_prediction`): ``P |S||T| / (n_S n_T)``
  with ``P`` the number of all paths between the two tensors, as a
  :class:`~fractions.Fraction`; the **deviation** (:func:`path_deviation`) is
  ``count / prediction - 1``.
* **Chain segments** (:func:`chain_segments`): maximal runs of graph layers
  whose intermediate tensors have one incoming and one outgoing edge, joined by
  identity or permutation edges (a permutation is folded into the layer before
  it).  There :func:`expandergraph.bounds.uniformity_epsilon`,
  :func:`~expandergraph.bounds.sigma_star` and
  :func:`expandergraph.bounds.tanner_depth` are proven.  Across joins (sums,
  concatenations) and flattens no bound is claimed.

Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3; R. M. Tanner (1984);
Hoory, Linial and Wigderson, Bull. AMS 43 (2006) §2.4, §4.6.

Examples
--------
>>> from expandergraph import BipartiteGraph, LayeredGraph
>>> full = BipartiteGraph.from_ell(2, [[0, 1], [0, 1]])
>>> net = NetworkGraph.from_layered(LayeredGraph([full, full]))
>>> path_count(net, "input", [0, 1], "output", [0, 1])
8
>>> path_deviation(net, "input", [0], "output", [1])
0.0
>>> [(s.start, s.end, len(s.layered)) for s in chain_segments(net)]
[('input', 'output', 2)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..graph import BipartiteGraph
from ..layered import LayeredGraph
from .graph import NetworkGraph
from .reach import as_network, depth_order, tensor_depths

__all__ = [
    "path_count",
    "uniform_prediction",
    "path_deviation",
    "chain_segments",
    "Segment",
    "path_limbs",
    "limbs_total",
]

_LIMB = 30
_MASK = (1 << _LIMB) - 1


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


def path_limbs(net: NetworkGraph, source: str, sset: np.ndarray, depth: dict) -> dict:
    """Exact path-count limbs ``(n_t, L)`` for every tensor downstream of ``source``.

    Row ``v`` of tensor ``t`` counts the paths from the channels ``sset`` of
    ``source`` to channel ``v`` of ``t``; ``depth`` is
    :func:`~expandergraph.network.reach.tensor_depths` from ``source``.
    """
    x = np.zeros((net.widths[source], 1), np.int64)
    x[sset, 0] = 1
    state = {source: x}
    for t in depth_order(net, depth):
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


def limbs_total(limbs: np.ndarray, rows: np.ndarray) -> int:
    """The exact sum over ``rows`` of a :func:`path_limbs` state, as a Python ``int``."""
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
    net = as_network(graph)
    s = _channels(S, net.widths[net._tensor(source)], "S")
    t = _channels(T, net.widths[net._tensor(target)], "T")
    if target == source:
        return int(np.intersect1d(s, t).shape[0])
    depth = tensor_depths(net, source)
    if target not in depth:
        return 0
    return limbs_total(path_limbs(net, source, s, depth)[target], t)


def uniform_prediction(graph: NetworkGraph, source: str, S, target: str, T) -> Fraction:
    """``P |S||T| / (n_S n_T)`` with ``P`` the number of all paths ``source -> target``."""
    net = as_network(graph)
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
    net = as_network(graph)

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
