"""Structural checks of a certificate: degrees, dead nodes, connectivity, expansion, diameter.

Conventions
-----------
Each function adds :class:`~expandergraph.certificate.Check` records (or
returns one) in the form :func:`expandergraph.certify.certify` documents:

* ``degrees`` (informative): the degree extremes from the CSR row lengths (a
  loop counts 2); :func:`count_check` the required zero-count checks
  ``dead_nodes``, ``dead_outputs`` and ``unused_inputs`` (the first 20 nodes
  are listed); :func:`connected_check` the required ``connected``.
* ``vertex_expansion`` and ``edge_expansion`` (informative, relation ``in``):
  the bounds ``[lower, upper]`` of :mod:`expandergraph.expansion`, the exact
  value when exhaustive search ran; a witness set of more than 10 000 nodes is
  stored as its size and sha256 only.
* ``diameter`` (informative, relation ``in``): :func:`expandergraph.distance.diameter`.

``progress`` is an optional callable given a short description as each step
starts (:func:`report_step`).

Examples
--------
>>> import numpy as np
>>> c = count_check("dead_nodes", np.array([3, 7]), "nodes of degree 0")
>>> c.value, c.passed, c.detail["nodes"]
(2, False, [3, 7])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from .certificate import Certificate, Check
from .distance import diameter
from .expansion import ExpansionResult, edge_expansion, vertex_expansion
from .graph import Graph
from .spectrum import SpectralResult

__all__ = [
    "report_step",
    "degrees_check",
    "count_check",
    "connected_check",
    "expansion_checks",
    "diameter_check",
]

#: witness sets larger than this are stored as a size and a sha256 only
_WITNESS_MAX = 10_000


def report_step(progress: Callable[[str], None] | None, msg: str) -> None:
    """Call ``progress(msg)`` unless ``progress`` is ``None``."""
    if progress is not None:
        progress(msg)


def degrees_check(value: dict) -> Check:
    """The informative ``degrees`` check with the degree extremes ``value``."""
    return Check(
        "degrees",
        value,
        relation="info",
        method="CSR row lengths (a loop counts 2)",
        passed=None,
        exact=True,
    )


def count_check(name: str, nodes: np.ndarray, what: str) -> Check:
    """A required check that ``nodes`` (the offending node ids, described by ``what``) is empty."""
    return Check(
        name,
        int(nodes.size),
        bound=0,
        relation="==",
        method=f"count of {what}",
        passed=bool(nodes.size == 0),
        required=True,
        exact=True,
        detail={"nodes": nodes[:20].tolist(), "shown": int(min(20, nodes.size))},
    )


def connected_check(connected: bool) -> Check:
    """The required ``connected`` check."""
    return Check(
        "connected",
        bool(connected),
        bound=True,
        relation="==",
        method="BFS from node 0 (scipy.sparse.csgraph)",
        passed=bool(connected),
        required=True,
        exact=True,
    )


def _witness_detail(w: list[int]) -> dict:
    out = {"witness_size": len(w)}
    if len(w) <= _WITNESS_MAX:
        out["witness"] = list(w)
    else:
        arr = np.asarray(w, dtype="<i8")
        out["witness"] = None
        out["witness_sha256"] = hashlib.sha256(arr.tobytes()).hexdigest()
    return out


def _expansion_summary(r: ExpansionResult) -> dict:
    out = {"lower": r.lower, "upper": r.upper}
    if r.exact is not None:
        out["exact"] = r.exact
    return out


def expansion_checks(
    cert: Certificate,
    g: Graph,
    sp: SpectralResult,
    progress: Callable[[str], None] | None,
    exact_limit: int,
    seed: int,
) -> None:
    """Add ``vertex_expansion`` and ``edge_expansion`` of ``g`` (spectrum ``sp``) to ``cert``."""
    rounds = 50 if g.n <= 100_000 else 10
    for kind, func in (("vertex", vertex_expansion), ("edge", edge_expansion)):
        report_step(progress, f"{kind} expansion")
        r = func(g, exact_limit=exact_limit, seed=seed, spectrum=sp, local_search=rounds)
        detail = {"lower_method": r.lower_method, "upper_method": r.upper_method}
        detail.update(_witness_detail(r.witness))
        cert.add(
            Check(
                f"{kind}_expansion",
                r.exact,
                bound=[r.lower, r.upper],
                relation="in",
                method=r.method,
                error=sp.error if r.exact is None else 0.0,
                passed=None,
                exact=r.exact is not None,
                detail=detail,
            )
        )
        cert.summary[f"{kind}_expansion"] = _expansion_summary(r)


def diameter_check(
    cert: Certificate,
    g: Graph,
    sp: SpectralResult,
    progress: Callable[[str], None] | None,
    limit: int | None,
    vertex_transitive: bool,
    seed: int,
) -> None:
    """Add ``diameter`` of ``g`` to ``cert`` (``limit``: largest ``n * edges`` for exact BFS)."""
    report_step(progress, "diameter")
    r = diameter(g, exact_limit=limit, vertex_transitive=vertex_transitive, spectrum=sp, seed=seed)
    cert.add(
        Check(
            "diameter",
            r.value,
            bound=[r.lower, r.upper],
            relation="in",
            method=r.method,
            passed=None,
            exact=r.value is not None,
        )
    )
    cert.summary["diameter"] = r.value
    cert.summary["diameter_bounds"] = [r.lower, r.upper]
