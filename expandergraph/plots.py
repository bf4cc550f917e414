"""Plots of the two guarantees (matplotlib, headless: the Agg canvas, no pyplot state).

* :func:`plot_reach_fraction`: reach fraction against depth for several layered
  graphs on one axis (an expander against grouped and local baselines).
* :func:`plot_count_ratio`: the ratio of exact path counts to the mixing-lemma
  prediction as a heat map over pairs of nodes.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3
(the paper's connectivity argument, made visible).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .layered import LayeredGraph
from .mixing import Reach, reachability

__all__ = ["plot_reach_fraction", "plot_count_ratio"]


def _figure(size=(6.4, 4.4)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    path = Path(path)
    if not path.suffix:
        raise ValueError(f"{path}: give the plot file an extension such as .png or .svg")
    try:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except ValueError as exc:
        raise ValueError(f"{path}: cannot save the plot ({exc})") from None
    return path


def plot_reach_fraction(
    curves: Mapping[str, LayeredGraph | Reach],
    path: str | Path,
    *,
    from_layer: int = 0,
    title: str | None = None,
) -> Path:
    """Plot reach fraction against depth, one line per labelled layered graph; save to ``path``.

    ``curves`` maps a label to a :class:`LayeredGraph` (measured here from
    ``from_layer``) or to a precomputed :class:`~expandergraph.mixing.Reach`.  The
    x axis is the depth ``t`` (layers after the start level), the y axis the
    fraction of connected (start node, level-``t`` node) pairs; a marker shows
    each graph's ``reach_depth``.  Returns the path written.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> import tempfile, os
    >>> from expandergraph import BipartiteGraph, LayeredGraph
    >>> shift = BipartiteGraph.from_ell(4, [[0, 1], [1, 2], [2, 3], [3, 0]])
    >>> out = os.path.join(tempfile.mkdtemp(), "reach.png")
    >>> plot_reach_fraction({"shift": LayeredGraph([shift] * 4)}, out).name
    'reach.png'
    """
    if not curves:
        raise ValueError("curves: give at least one layered graph")
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, item in curves.items():
        r = item if isinstance(item, Reach) else reachability(item, from_layer)
        depth = np.arange(1, len(r.reach_fraction) + 1)
        (line,) = ax.plot(depth, r.reach_fraction, marker="o", ms=3, label=str(label))
        if r.reach_depth is not None:
            ax.plot([r.reach_depth], [1.0], marker="*", ms=12, color=line.get_color(), linestyle="")
    ax.set_xlabel("depth t (layers)")
    ax.set_ylabel("fraction of connected pairs")
    ax.set_yscale("log")
    ax.set_ylim(top=1.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or "reach fraction against depth (star: full reach)")
    return _save(fig, path)


def plot_count_ratio(
    counts: np.ndarray,
    predicted: float,
    path: str | Path,
    *,
    title: str | None = None,
    row_label: str = "source",
    col_label: str = "target",
) -> Path:
    """Heat map of ``counts / predicted`` (e.g. a :func:`~expandergraph.paths.count_matrix`).

    ``counts`` is a 2-d array of exact path counts (any integer or object dtype);
    ``predicted`` the mixing-lemma prediction for one pair (a positive number).
    Ratios near 1 everywhere mean the paths are spread evenly, as the mixing lemma
    says for expanders.  Returns the path written.

    Reference: Hoory, Linial and Wigderson, Bull. AMS 43 (2006) §2.4.

    Examples
    --------
    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "ratio.png")
    >>> plot_count_ratio(np.array([[1, 2], [2, 1]]), 1.5, out).name
    'ratio.png'
    """
    arr = np.asarray(counts)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"counts: must be a non-empty 2-d array, got shape {arr.shape}")
    if not predicted > 0:
        raise ValueError(f"predicted: must be positive, got {predicted}")
    ratio = np.array([[float(v) / float(predicted) for v in row] for row in arr.tolist()])
    fig = _figure((6.4, 5.2))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(ratio, cmap="viridis", aspect="auto", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="count / predicted")
    ax.set_xlabel(f"{col_label} index")
    ax.set_ylabel(f"{row_label} index")
    ax.set_title(title or f"path count / prediction (mean {ratio.mean():.3g})")
    return _save(fig, path)
