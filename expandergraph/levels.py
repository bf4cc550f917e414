"""Argument checks for levels and node sets of a :class:`LayeredGraph`.

Conventions
-----------
Level ``k`` holds ``widths[k]`` nodes (``0 <= k <= len(lg)``); layer ``k`` maps
level ``k`` to level ``k + 1``.  Every check raises a one-line ``ValueError``
that names the argument.

Examples
--------
>>> from expandergraph import BipartiteGraph, LayeredGraph
>>> lg = LayeredGraph([BipartiteGraph.from_ell(2, [[0], [1]])] * 2)
>>> check_level(lg, 1, "from_layer"), check_levels(lg, 0, 2)
(1, (0, 2))
>>> node_set([3, 1], 4, "sources").tolist()
[1, 3]
"""

from __future__ import annotations

import numpy as np

from .layered import LayeredGraph

__all__ = ["check_level", "check_levels", "node_set"]


def check_level(lg: LayeredGraph, level, name: str, hi: int | None = None) -> int:
    """``level`` as an ``int`` in ``0..hi`` (default ``hi = len(lg)``), else ``ValueError``.

    Examples
    --------
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> check_level(LayeredGraph([BipartiteGraph.from_ell(1, [[0]])]), 2, "to_layer")
    Traceback (most recent call last):
    ...
    ValueError: to_layer: level 2 out of range 0..1
    """
    top = len(lg) if hi is None else hi
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise ValueError(f"{name}: must be an integer level, got {level!r}")
    if not 0 <= level <= top:
        raise ValueError(f"{name}: level {level} out of range 0..{top}")
    return int(level)


def check_levels(lg: LayeredGraph, from_layer, to_layer) -> tuple[int, int]:
    """``(i, j)`` with ``0 <= i < j <= len(lg)`` from ``from_layer`` and ``to_layer``."""
    if not isinstance(lg, LayeredGraph):
        raise ValueError(f"lg: expected a LayeredGraph, got {type(lg).__name__}")
    i = check_level(lg, from_layer, "from_layer", len(lg) - 1)
    j = check_level(lg, to_layer, "to_layer", len(lg))
    if j <= i:
        raise ValueError(f"to_layer: {j} must be after from_layer {i}")
    return i, j


def node_set(nodes, width: int, name: str) -> np.ndarray:
    """Sorted distinct node ids in ``0..width-1`` as ``int64``, else ``ValueError``."""
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
