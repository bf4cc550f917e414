"""Non-expander baseline layers of the same in-degree: grouped, local window, dense.

These are the comparison points of the paper's argument: a grouped layer never
mixes information across groups, a local layer mixes only as fast as its window
slides, and a dense layer is the unsparsified reference.  Every layer here has
constant in-degree ``d`` (inputs per output) and distinct inputs per output.
"""

from __future__ import annotations

import numpy as np

from ..graph import BipartiteGraph
from ..limits import check_bytes
from .random import int_param

__all__ = ["grouped", "local", "dense", "baseline_like"]


def _widths(func: str, left, right) -> tuple[int, int]:
    return int_param(func, "left", left, lo=1), int_param(func, "right", right, lo=1)


def _degree(func: str, d, left: int, right: int) -> int:
    d = int_param(func, "d", d, lo=1)
    if d > left:
        raise ValueError(f"{func}: d={d} must be <= left={left}")
    check_bytes(func, f"left={left}, right={right}, d={d}", 8 * (left + right + 3 * right * d))
    return d


def grouped(left: int, right: int, d: int) -> BipartiteGraph:
    """Block-diagonal layer, the connectivity of a grouped convolution.

    Conventions: ``groups = left // d`` input groups of ``d`` consecutive inputs;
    the outputs are split into ``groups`` runs of ``right // groups`` consecutive
    outputs, and every output of run ``g`` reads exactly the inputs
    ``g*d .. g*d + d - 1``.  Requires ``d`` to divide ``left`` and ``groups`` to
    divide ``right``.  With ``groups > 1`` no output ever sees an input of another
    group, in any number of layers.

    Parameters
    ----------
    left, right : int, ``>= 1``.
    d : int, ``1 <= d <= left``, ``left % d == 0``, ``right % (left // d) == 0``.

    References
    ----------
    Krizhevsky, Sutskever and Hinton, "ImageNet classification with deep
    convolutional neural networks", NIPS 2012 (grouped convolutions); Prabhu,
    Varma and Namboodiri, ECCV 2018, §4 (the grouped baseline).

    Examples
    --------
    >>> grouped(4, 6, 2).ell().tolist()
    [[0, 1], [0, 1], [0, 1], [2, 3], [2, 3], [2, 3]]
    """
    func = "grouped"
    left, right = _widths(func, left, right)
    d = _degree(func, d, left, right)
    if left % d:
        raise ValueError(f"{func}: d={d} must divide left={left}")
    groups = left // d
    if right % groups:
        raise ValueError(f"{func}: groups=left/d={groups} must divide right={right}")
    group_of = np.arange(right, dtype=np.int64) // (right // groups)
    ell = group_of[:, None] * d + np.arange(d, dtype=np.int64)
    meta = {"construction": "grouped", "left": left, "right": right, "d": d, "groups": groups}
    name = f"grouped:left={left},right={right},d={d}"
    return BipartiteGraph.from_ell(left, ell, name=name, meta=meta)


def local(left: int, right: int, d: int) -> BipartiteGraph:
    """Sliding-window layer: every output reads ``d`` consecutive inputs, wrapping around.

    Conventions: output ``v`` has centre ``c = round(v * left / right)`` (halves
    rounded up, exact integer arithmetic) and reads inputs
    ``(c - d // 2 + k) mod left`` for ``k = 0 .. d-1``: the window is centred on
    ``c`` for odd ``d`` and has ``c`` just right of its middle for even ``d``.
    The analogue of a 1-d convolution over channels (a "local" layer).

    Parameters
    ----------
    left, right : int, ``>= 1``.
    d : int, ``1 <= d <= left``.

    References
    ----------
    LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
    recognition", Proc. IEEE 86 (1998) (local receptive fields).

    Examples
    --------
    >>> local(8, 4, 3).ell().tolist()
    [[0, 1, 7], [1, 2, 3], [3, 4, 5], [5, 6, 7]]
    """
    func = "local"
    left, right = _widths(func, left, right)
    d = _degree(func, d, left, right)
    v = np.arange(right, dtype=np.int64)
    centre = (2 * v * left + right) // (2 * right)
    ell = (centre[:, None] - d // 2 + np.arange(d, dtype=np.int64)) % left
    meta = {"construction": "local", "left": left, "right": right, "d": d}
    name = f"local:left={left},right={right},d={d}"
    return BipartiteGraph.from_ell(left, ell, name=name, meta=meta)


def dense(left: int, right: int) -> BipartiteGraph:
    """Complete bipartite layer: every output reads every input (in-degree ``left``).

    Parameters
    ----------
    left, right : int, ``>= 1``.

    References
    ----------
    Bondy and Murty, "Graph Theory", Springer GTM 244 (2008), §1.1 (complete
    bipartite graph ``K_{left,right}``).

    Examples
    --------
    >>> b = dense(3, 2)
    >>> b.degree, b.left_degree, b.density
    (3, 2, 1.0)
    """
    left, right = _widths("dense", left, right)
    check_bytes("dense", f"left={left}, right={right}", 8 * (left + right + 2 * left * right))
    indptr = np.arange(right + 1, dtype=np.int64) * left
    indices = np.tile(np.arange(left, dtype=np.int64), right)
    meta = {"construction": "dense", "left": left, "right": right}
    return BipartiteGraph(left, right, indptr, indices, 1, f"dense:left={left},right={right}", meta)


def baseline_like(lg, kind: str):
    """``lg``'s widths and in-degrees rebuilt with ``grouped`` or ``local`` layers.

    The non-expander control for a mixing or path-count comparison: every layer
    keeps its input width, output width and in-degree ``d``; only the
    connectivity changes.  Returns ``None`` when some layer has no constant
    in-degree or the baseline cannot be built at those sizes (e.g. ``d`` does
    not divide the input width for ``grouped``).

    References
    ----------
    Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018, §3
    (grouped convolutions as the sparse non-expander baseline).

    Examples
    --------
    >>> from expandergraph import LayeredGraph
    >>> lg = LayeredGraph([grouped(8, 8, 2)])
    >>> baseline_like(lg, "local").widths
    [8, 8]
    """
    from ..layered import LayeredGraph

    if kind not in ("grouped", "local"):
        raise ValueError(f"kind: {kind!r} must be 'grouped' or 'local'")
    func = grouped if kind == "grouped" else local
    layers = []
    for layer in lg:
        if layer.degree is None:
            return None
        try:
            layers.append(func(layer.left, layer.right, layer.degree))
        except ValueError:
            return None
    return LayeredGraph(layers, [f"{kind}[{k}]" for k in range(len(layers))])
