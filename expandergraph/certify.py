"""``certify``: run the checks on a graph or a layer and record them in a Certificate.

Check groups (``checks=``): ``"degrees"``, ``"spectrum"``, ``"expansion"``,
``"diameter"``; default all.  Connectivity is always checked (one BFS).

Required checks (they decide ``Certificate.status``; see
:mod:`expandergraph.certificate`).  Each is a quantitative claim that a
non-expander fails; a required check that was not run makes the certificate
``incomplete``, an error interval that straddles a threshold ``undecided``.

* ``Graph``: ``dead_nodes`` (no degree-0 node; group ``degrees``),
  ``connected``, and, in group ``spectrum``:

  - ``spectral_expansion``: the normalised second eigenvalue
    ``alpha <= alpha_max``.  For a ``d``-regular graph ``alpha = lam / d``
    (``lam`` the largest non-trivial ``|eigenvalue|``; ``-d`` is trivial on a
    bipartite graph).  For an irregular graph ``alpha`` is the ``lam`` of the
    normalised adjacency ``D^{-1/2} A D^{-1/2}``, which certifies
    *conductance*, not vertex expansion (a star has ``alpha = 0``).
  - ``implied_vertex_expansion``: Tanner's inequality with the degree extremes
    proves ``|N(S)| >= beta |S|`` for every set of at most ``rho * n`` nodes (for
    a bipartite graph: of one side); passes when ``beta > 1``.  For a regular
    graph this follows from ``alpha < 1``; an irregular graph must earn it (a
    star fails: its leaves share one neighbour).

* ``BipartiteGraph`` (a layer): ``dead_outputs`` (every output has an input)
  and ``unused_inputs`` (every input feeds an output; group ``degrees``),
  ``connected`` (the layer as an undirected graph on ``left + right`` nodes),
  and ``spectral_expansion`` (group ``spectrum``): ``alpha <= alpha_max`` with
  ``alpha = sigma_2 / sigma_1`` of the biadjacency for a biregular layer and the
  second singular value of the degree-normalised biadjacency
  ``D_r^{-1/2} B D_l^{-1/2}`` otherwise.

Default ``alpha_max = 0.98`` (:data:`ALPHA_MAX`).  It sits where it does
because the shipped constructions at their shipped sizes need it: random
3-regular graphs have ``alpha`` up to 0.963 (n = 30..2000, 200 seeds; the
Alon-Boppana limit is ``2 sqrt 2 / 3 = 0.943``), random and biregular layers of
in-degree 3 reach 0.95, while a cycle ``C_n`` (``cos(2 pi / n)``), a path, the
``local`` baseline (0.9996 at width 1024), two expanders joined by one edge
switch (``1 - 1e-3``) and anything disconnected (``alpha = 1``: ``grouped``) sit
above it.  Degree-2 layers (unions of cycles) fail, as they should.

Informative: ``lambda`` (with the gap ``lambda_1 - lam``), ``lambda_2``,
``lambda_min``, ``ramanujan`` (``lam <= 2 sqrt(d-1)``, or for a layer
``sigma_2 <= sqrt(dl-1) + sqrt(dr-1)``; ``undecided`` on a tie within the error,
and never true for a disconnected graph), ``cheeger`` (the proven lower bound on
edge expansion or conductance), ``mixing_lemma`` (the deviation bound), the
measured vertex and edge expansion bounds and the diameter.

``Certificate.summary`` has the keys of the CLI's JSON output:
``n, edges, degree, bipartite, connected, lambda_2, lambda_min, lambda, alpha,
alpha_max, ramanujan_bound, ramanujan, diameter, diameter_bounds,
vertex_expansion, edge_expansion, fingerprint`` and, for a layer, ``sigma_1,
sigma_2, left, right, dead_outputs, unused_inputs``.  Values not computed are ``None``.

References: Hoory, Linial, Wigderson, *Expander graphs and their
applications*, Bull. AMS 43 (2006); Lubotzky, Phillips, Sarnak, *Ramanujan
graphs*, Combinatorica 8 (1988); Chung, *Diameters and eigenvalues*, J. AMS 2
(1989); R. M. Tanner, SIAM J. Alg. Disc. Meth. 5 (1984).

This module validates the parameters and runs the checks in order; the checks
themselves are :mod:`expandergraph.checks_structure` (degrees, dead nodes,
connectivity, measured expansion, diameter) and
:mod:`expandergraph.checks_spectral` (spectral expansion, implied vertex
expansion, Ramanujan, Cheeger, the mixing lemma).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .certificate import SEMANTICS, Certificate
from .checks_spectral import graph_spectrum_checks, layer_spectrum_checks
from .checks_structure import (
    connected_check,
    count_check,
    degrees_check,
    diameter_check,
    expansion_checks,
    report_step,
)
from .graph import BipartiteGraph, Graph
from .matvec import adjacency_csr
from .spectrum import adjacency_spectrum, graph_structure

__all__ = ["certify", "CHECKS", "ALPHA_MAX", "RHO", "DELTA", "GRAPH_REQUIRED", "LAYER_REQUIRED"]

#: the check groups, in the order they run
CHECKS = ("degrees", "spectrum", "expansion", "diameter")
#: default threshold of the normalised second eigenvalue (module docstring says why)
ALPHA_MAX = 0.98
#: default largest set fraction of the implied vertex-expansion claim
RHO = 0.5
#: default failure probability of the probabilistic Lanczos upper bounds
DELTA = 1e-6
#: required checks of a graph certificate, and of a layer certificate
GRAPH_REQUIRED = ("dead_nodes", "connected", "spectral_expansion", "implied_vertex_expansion")
LAYER_REQUIRED = ("dead_outputs", "unused_inputs", "connected", "spectral_expansion")

#: constructions that are Cayley graphs, hence vertex transitive (one BFS gives the diameter)
_VERTEX_TRANSITIVE = frozenset({"lps", "paley"})


def certify(
    graph: Graph | BipartiteGraph,
    checks: Iterable[str] | str | None = None,
    *,
    alpha_max: float = ALPHA_MAX,
    rho: float = RHO,
    delta: float = DELTA,
    progress: Callable[[str], None] | None = None,
    dense_limit: int = 2000,
    exact_limit: int | None = None,
    diameter_limit: int | None = None,
    tol: float = 1e-8,
    seed: int = 0,
) -> Certificate:
    """Certify a graph or a layer: degrees, spectrum, expansion, diameter (see module doc).

    Parameters
    ----------
    graph : Graph or BipartiteGraph
    checks : iterable of str, optional
        Names from :data:`CHECKS`; default all.  Leaving out ``degrees`` or
        ``spectrum`` leaves required checks unrun: the status is ``incomplete``.
    alpha_max : float
        Threshold of ``spectral_expansion`` (default :data:`ALPHA_MAX`), in (0, 1).
    rho : float
        Largest set fraction of ``implied_vertex_expansion`` (default :data:`RHO`).
    delta : float
        Failure probability of the Lanczos upper bounds (default :data:`DELTA`).
    progress : callable(str), optional
        Called with a short description when each step starts.
    dense_limit : int
        Dense eigen/singular-value solvers up to this size, Lanczos above.
    exact_limit : int, optional
        Largest ``n`` for exhaustive expansion (default 20, at most 24).
    diameter_limit : int, optional
        Largest ``n * edges`` for the exact all-sources BFS (default 2e9).
    tol : float
        Target residual of the Lanczos eigenpairs.
    seed : int
        Seed of the random start vectors and BFS roots.

    Returns
    -------
    Certificate
        ``kind`` is ``"graph"`` or ``"bipartite"``; ``status`` is the verdict,
        ``params`` the parameters and ``claims`` the proven statements in words.

    Examples
    --------
    >>> import networkx as nx
    >>> cert = certify(Graph.from_networkx(nx.petersen_graph()))
    >>> cert.status, cert.summary["diameter"], round(cert.summary["alpha"], 9)
    ('passed', 2, 0.666666667)
    >>> certify(Graph.from_networkx(nx.cycle_graph(2001))).status
    'failed'
    >>> certify(Graph.from_networkx(nx.petersen_graph()), checks=["degrees"]).status
    'incomplete'
    >>> Certificate.from_json(cert.to_json()) == cert
    True
    """
    wanted = _parse_checks(checks)
    params = _parse_params(alpha_max, rho, delta)
    if exact_limit is None:
        exact_limit = 20
    if isinstance(graph, BipartiteGraph):
        return _certify_layer(
            graph, wanted, params, progress, dense_limit, exact_limit, diameter_limit, tol, seed
        )
    if isinstance(graph, Graph):
        return _certify_graph(
            graph, wanted, params, progress, dense_limit, exact_limit, diameter_limit, tol, seed
        )
    raise ValueError(f"graph: expected a Graph or BipartiteGraph, got {type(graph).__name__}")


def _parse_params(alpha_max, rho, delta) -> dict:
    for name, value in (("alpha_max", alpha_max), ("rho", rho)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name}: must be a number, got {value!r}")
        if not (0 < value <= 1) or (name == "alpha_max" and value >= 1):
            rng = "(0, 1)" if name == "alpha_max" else "(0, 1]"
            raise ValueError(f"{name}: must be in {rng}, got {value!r}")
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise ValueError(f"delta: must be a number in (0, 1), got {delta!r}")
    return {"alpha_max": float(alpha_max), "rho": float(rho), "delta": float(delta)}


def _parse_checks(checks) -> tuple[str, ...]:
    if checks is None:
        return CHECKS
    if isinstance(checks, str):
        checks = (checks,)
    try:
        names = list(checks)
    except TypeError:
        raise ValueError(f"checks: must be an iterable of names from {CHECKS}") from None
    for name in names:
        if not isinstance(name, str) or name not in CHECKS:
            raise ValueError(f"checks: unknown check {name!r} (known: {', '.join(CHECKS)})")
    return tuple(c for c in CHECKS if c in names)


def _empty_summary(n: int, edges: int, fingerprint: str) -> dict:
    return {
        "n": n,
        "edges": edges,
        "degree": None,
        "bipartite": None,
        "connected": None,
        "lambda_2": None,
        "lambda_min": None,
        "lambda": None,
        "alpha": None,
        "alpha_max": None,
        "ramanujan_bound": None,
        "ramanujan": None,
        "diameter": None,
        "diameter_bounds": [None, None],
        "vertex_expansion": None,
        "edge_expansion": None,
        "fingerprint": fingerprint,
    }


def _new_cert(subject, kind, fingerprint, required, params) -> Certificate:
    return Certificate(
        subject=subject,
        kind=kind,
        fingerprint=fingerprint,
        required=list(required),
        params=dict(params),
        semantics=SEMANTICS,
    )


# ---------------------------------------------------------------------------
# Graph
# ---------------------------------------------------------------------------
def _certify_graph(
    g, wanted, params, progress, dense_limit, exact_limit, diameter_limit, tol, seed
):
    if g.num_edges == 0:
        raise ValueError("graph: empty graph (no edges); nothing to certify")
    if g.n < 2:
        raise ValueError(f"graph: needs at least 2 nodes, got n={g.n}")
    cert = _new_cert(g.name or repr(g), "graph", g.fingerprint, GRAPH_REQUIRED, params)
    s = _empty_summary(g.n, g.num_edges, g.fingerprint)
    cert.summary = s
    deg = g.degrees()
    d = g.degree
    s["degree"] = d
    sp = None
    delta = params["delta"]
    if set(wanted) & {"spectrum", "expansion", "diameter"}:
        # the spectrum step also finds connectivity and bipartiteness (one BFS)
        sp = adjacency_spectrum(
            g, dense_limit=dense_limit, tol=tol, seed=seed, progress=progress, delta=delta
        )
        connected, bipartite = sp.connected, sp.bipartite
    else:
        report_step(progress, "connectivity")
        connected, colour = graph_structure(adjacency_csr(g))
        bipartite = colour is not None if connected else g.is_bipartite()
    s["bipartite"], s["connected"] = bool(bipartite), bool(connected)
    if "degrees" in wanted:
        dead = np.flatnonzero(deg == 0)
        cert.add(degrees_check({"min": int(deg.min()), "max": int(deg.max()), "degree": d}))
        cert.add(count_check("dead_nodes", dead, "nodes of degree 0"))
    cert.add(connected_check(connected))
    if not connected:
        cert.claims.append("not connected: no expansion of any kind")
    if "spectrum" in wanted:
        graph_spectrum_checks(
            cert,
            g,
            sp,
            deg,
            params,
            dense_limit=dense_limit,
            tol=tol,
            seed=seed,
            progress=progress,
        )
    if "expansion" in wanted:
        expansion_checks(cert, g, sp, progress, exact_limit, seed)
    if "diameter" in wanted:
        vt = g.meta.get("vertex_transitive", g.meta.get("construction") in _VERTEX_TRANSITIVE)
        diameter_check(cert, g, sp, progress, diameter_limit, bool(vt), seed)
    return cert


# ---------------------------------------------------------------------------
# BipartiteGraph (a layer)
# ---------------------------------------------------------------------------
def _certify_layer(
    b, wanted, params, progress, dense_limit, exact_limit, diameter_limit, tol, seed
):
    if b.num_edges == 0:
        raise ValueError("layer: empty layer (no edges); nothing to certify")
    cert = _new_cert(b.name or repr(b), "bipartite", b.fingerprint, LAYER_REQUIRED, params)
    s = _empty_summary(b.left + b.right, b.num_edges, b.fingerprint)
    cert.summary = s
    report_step(progress, "degrees and connectivity")
    rdeg, ldeg = b.right_degrees(), b.left_degrees()
    dead, unused = np.flatnonzero(rdeg == 0), np.flatnonzero(ldeg == 0)
    dr, dl = b.degree, b.left_degree
    s["degree"] = dr if (dr is not None and dr == dl) else None
    s["bipartite"] = True
    s.update(
        left=b.left,
        right=b.right,
        dead_outputs=int(dead.size),
        unused_inputs=int(unused.size),
        sigma_1=None,
        sigma_2=None,
    )
    g = b.to_graph()
    connected, _ = graph_structure(adjacency_csr(g))
    s["connected"] = bool(connected)
    if "degrees" in wanted:
        value = {
            "out_min": int(rdeg.min()),
            "out_max": int(rdeg.max()),
            "in_degree": dr,
            "left_min": int(ldeg.min()),
            "left_max": int(ldeg.max()),
            "left_degree": dl,
        }
        c = degrees_check(value)
        c.method = "in-degree of outputs (rows), out-degree of inputs"
        cert.add(c)
        cert.add(count_check("dead_outputs", dead, "outputs with no input"))
        cert.add(count_check("unused_inputs", unused, "inputs feeding no output"))
    cert.add(connected_check(connected))
    if "spectrum" in wanted:
        layer_spectrum_checks(
            cert,
            b,
            connected,
            params,
            dense_limit=dense_limit,
            tol=tol,
            seed=seed,
            progress=progress,
        )
    if "expansion" in wanted or "diameter" in wanted:
        report_step(progress, "spectrum of the layer as a graph (for the bounds)")
        sp = adjacency_spectrum(g, dense_limit=dense_limit, tol=tol, seed=seed)
        if "expansion" in wanted:
            expansion_checks(cert, g, sp, progress, exact_limit, seed)
        if "diameter" in wanted:
            diameter_check(cert, g, sp, progress, diameter_limit, False, seed)
    return cert
