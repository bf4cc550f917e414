"""``certify``: run the checks on a graph or a layer and record them in a Certificate.

Check groups (``checks=``): ``"degrees"``, ``"spectrum"``, ``"expansion"``,
``"diameter"``; default all.  Connectivity is always checked (one BFS).

Required checks (they decide ``Certificate.passed``)
-----------------------------------------------------
* ``Graph``: ``dead_nodes`` (no degree-0 node; group ``degrees``),
  ``connected``, and ``lambda`` (spectral gap ``lam + error < lambda_1``,
  ``error`` the eigen-solver residual; group ``spectrum``).
* ``BipartiteGraph`` (a layer): ``dead_outputs`` (every output has an input)
  and ``unused_inputs`` (every input feeds an output; group ``degrees``),
  ``connected`` (the layer as an undirected graph on ``left + right`` nodes),
  and ``lambda`` (``sigma_2 + error < sigma_1``: the biadjacency's second
  singular value, which is the largest non-trivial ``|eigenvalue|`` of the
  layer as a graph; group ``spectrum``).

Everything else is informative: ``lambda_2``, ``lambda_min``, the Ramanujan
comparison (``lam <= 2 sqrt(d-1)``; for a layer ``sigma_2 <= sqrt(dl-1) +
sqrt(dr-1)``, with the mean input degree when inputs are irregular), the
vertex and edge expansion bounds (a layer is expanded as its undirected
graph), and the diameter.

``Certificate.summary`` has exactly the keys of the CLI's JSON output:
``n, edges, degree, bipartite, connected, lambda_2, lambda_min, lambda,
ramanujan_bound, ramanujan, diameter, diameter_bounds, vertex_expansion,
edge_expansion, fingerprint`` and, for a layer, ``sigma_1, sigma_2, left,
right, dead_outputs, unused_inputs``.  Values not computed are ``None``.

References: Hoory, Linial, Wigderson, *Expander graphs and their
applications*, Bull. AMS 43 (2006); Lubotzky, Phillips, Sarnak, *Ramanujan
graphs*, Combinatorica 8 (1988); Chung, *Diameters and eigenvalues*, J. AMS 2
(1989).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable

import numpy as np

from .certificate import Certificate, Check
from .distance import diameter
from .expansion import ExpansionResult, edge_expansion, vertex_expansion
from .graph import BipartiteGraph, Graph
from .spectrum import (
    SpectralResult,
    _adjacency,
    _structure,
    adjacency_spectrum,
    bipartite_singular_values,
    ramanujan_bound,
)

__all__ = ["certify", "CHECKS"]

#: the check groups, in the order they run
CHECKS = ("degrees", "spectrum", "expansion", "diameter")

#: constructions that are Cayley graphs, hence vertex transitive (one BFS gives the diameter)
_VERTEX_TRANSITIVE = frozenset({"lps", "paley"})

#: witness sets larger than this are stored as a size and a sha256 only
_WITNESS_MAX = 10_000


def certify(
    graph: Graph | BipartiteGraph,
    checks: Iterable[str] | str | None = None,
    *,
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
        Names from :data:`CHECKS`; default all.
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
        ``kind`` is ``"graph"`` or ``"bipartite"``; ``passed`` is the verdict.

    Examples
    --------
    >>> import networkx as nx
    >>> cert = certify(Graph.from_networkx(nx.petersen_graph()))
    >>> cert.passed, cert.summary["diameter"], round(cert.summary["lambda"], 9)
    (True, 2, 2.0)
    >>> Certificate.from_json(cert.to_json()) == cert
    True
    """
    wanted = _parse_checks(checks)
    if exact_limit is None:
        exact_limit = 20
    if isinstance(graph, BipartiteGraph):
        return _certify_layer(
            graph, wanted, progress, dense_limit, exact_limit, diameter_limit, tol, seed
        )
    if isinstance(graph, Graph):
        return _certify_graph(
            graph, wanted, progress, dense_limit, exact_limit, diameter_limit, tol, seed
        )
    raise ValueError(f"graph: expected a Graph or BipartiteGraph, got {type(graph).__name__}")


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
        if name not in CHECKS:
            raise ValueError(f"checks: unknown check {name!r} (known: {', '.join(CHECKS)})")
    if not names:
        raise ValueError(f"checks: empty selection; name at least one of {', '.join(CHECKS)}")
    return tuple(c for c in CHECKS if c in names)


def _step(progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


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
        "ramanujan_bound": None,
        "ramanujan": None,
        "diameter": None,
        "diameter_bounds": [None, None],
        "vertex_expansion": None,
        "edge_expansion": None,
        "fingerprint": fingerprint,
    }


# ---------------------------------------------------------------------------
# Graph
# ---------------------------------------------------------------------------
def _certify_graph(g, wanted, progress, dense_limit, exact_limit, diameter_limit, tol, seed):
    if g.num_edges == 0:
        raise ValueError("graph: empty graph (no edges); nothing to certify")
    if g.n < 2:
        raise ValueError(f"graph: needs at least 2 nodes, got n={g.n}")
    cert = Certificate(subject=g.name or repr(g), kind="graph", fingerprint=g.fingerprint)
    s = _empty_summary(g.n, g.num_edges, g.fingerprint)
    cert.summary = s
    deg = g.degrees()
    d = g.degree
    s["degree"] = d
    sp = None
    if set(wanted) & {"spectrum", "expansion", "diameter"}:
        # the spectrum step also finds connectivity and bipartiteness (one BFS)
        sp = adjacency_spectrum(g, dense_limit=dense_limit, tol=tol, seed=seed, progress=progress)
        connected, bipartite = sp.connected, sp.bipartite
    else:
        _step(progress, "connectivity")
        connected, colour = _structure(_adjacency(g))
        bipartite = colour is not None if connected else g.is_bipartite()
    s["bipartite"], s["connected"] = bool(bipartite), bool(connected)
    if "degrees" in wanted:
        dead = np.flatnonzero(deg == 0)
        cert.add(_degrees_check({"min": int(deg.min()), "max": int(deg.max()), "degree": d}))
        cert.add(_count_check("dead_nodes", dead, "nodes of degree 0"))
    cert.add(_connected_check(connected))
    if "spectrum" in wanted:
        _spectrum_checks(cert, sp, d)
        s["lambda_2"], s["lambda_min"], s["lambda"] = sp.lambda_2, sp.lambda_min, sp.lam
        if d is not None and d >= 1:
            s["ramanujan_bound"] = ramanujan_bound(d)
            s["ramanujan"] = cert["ramanujan"].passed
    if "expansion" in wanted:
        _expansion_checks(cert, g, sp, progress, exact_limit, seed)
    if "diameter" in wanted:
        vt = g.meta.get("vertex_transitive", g.meta.get("construction") in _VERTEX_TRANSITIVE)
        _diameter_check(cert, g, sp, progress, diameter_limit, bool(vt), seed)
    return cert


def _degrees_check(value: dict) -> Check:
    return Check(
        "degrees",
        value,
        relation="info",
        method="CSR row lengths (a loop counts 2)",
        passed=None,
        exact=True,
    )


def _count_check(name: str, nodes: np.ndarray, what: str) -> Check:
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


def _connected_check(connected: bool) -> Check:
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


def _spectrum_checks(cert: Certificate, sp: SpectralResult, d: int | None) -> None:
    detail = {
        "lambda_1": sp.lambda_1,
        "residual_1": sp.residual_1,
        "lambda_min_nontrivial": sp.lambda_min_nontrivial,
        "trivial": sp.trivial,
        "iterations": sp.iterations,
        "seconds": round(sp.seconds, 3),
        "converged": sp.converged,
        "ncv": sp.ncv,
        "tol": sp.tol,
    }
    exact = sp.method.startswith("dense")
    cert.add(Check("lambda_2", sp.lambda_2, method=sp.method, error=sp.residual_2, exact=exact))
    cert.add(
        Check("lambda_min", sp.lambda_min, method=sp.method, error=sp.residual_min, exact=exact)
    )
    err = sp.error
    cert.add(
        Check(
            "lambda",
            sp.lam,
            bound=sp.lambda_1,
            relation="<",
            method=sp.method,
            error=err,
            passed=bool(sp.connected and sp.lam + err < sp.lambda_1 - sp.residual_1),
            required=True,
            exact=exact,
            detail=detail,
        )
    )
    _ramanujan_check(cert, sp.lam, err, ramanujan_bound(d) if d else None, "2*sqrt(d-1)")


def _ramanujan_check(cert, lam, err, bound, formula) -> None:
    if bound is None:
        cert.add(Check("ramanujan", lam, method="not regular: no Ramanujan bound", exact=False))
        return
    cert.add(
        Check(
            "ramanujan",
            lam,
            bound=bound,
            relation="<=",
            method=f"lam <= {formula}",
            error=err,
            passed=bool(lam <= bound),
            required=False,
            exact=False,
            detail={"within_error": bool(abs(lam - bound) <= err)},
        )
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


def _expansion_checks(cert, g, sp, progress, exact_limit, seed) -> None:
    rounds = 50 if g.n <= 100_000 else 10
    for kind, func in (("vertex", vertex_expansion), ("edge", edge_expansion)):
        _step(progress, f"{kind} expansion")
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


def _diameter_check(cert, g, sp, progress, limit, vertex_transitive, seed) -> None:
    _step(progress, "diameter")
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


# ---------------------------------------------------------------------------
# BipartiteGraph (a layer)
# ---------------------------------------------------------------------------
def _certify_layer(b, wanted, progress, dense_limit, exact_limit, diameter_limit, tol, seed):
    if b.num_edges == 0:
        raise ValueError("layer: empty layer (no edges); nothing to certify")
    cert = Certificate(subject=b.name or repr(b), kind="bipartite", fingerprint=b.fingerprint)
    s = _empty_summary(b.left + b.right, b.num_edges, b.fingerprint)
    cert.summary = s
    _step(progress, "degrees and connectivity")
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
    connected, _ = _structure(_adjacency(g))
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
        c = _degrees_check(value)
        c.method = "in-degree of outputs (rows), out-degree of inputs"
        cert.add(c)
        cert.add(_count_check("dead_outputs", dead, "outputs with no input"))
        cert.add(_count_check("unused_inputs", unused, "inputs feeding no output"))
    cert.add(_connected_check(connected))
    if "spectrum" in wanted:
        sv = bipartite_singular_values(
            b, dense_limit=dense_limit, tol=tol, seed=seed, progress=progress
        )
        s1, s2, err = sv.sigma_1, sv.sigma_2, sv.residual
        lam = s2 if connected else s1
        lam_err = err if connected else sv.residual_1
        s["sigma_1"], s["sigma_2"] = s1, s2
        s["lambda_2"] = -s1 if b.left + b.right == 2 else s2
        s["lambda_min"], s["lambda"] = -s1, lam
        exact = sv.method.startswith("dense")
        detail = {
            "sigma_1": s1,
            "residual_1": sv.residual_1,
            "iterations": sv.iterations,
            "converged": sv.converged,
            "seconds": round(sv.seconds, 3),
        }
        cert.add(Check("sigma_1", s1, method=sv.method, error=sv.residual_1, exact=exact))
        cert.add(Check("sigma_2", s2, method=sv.method, error=err, exact=exact))
        cert.add(
            Check(
                "lambda_2",
                s["lambda_2"],
                method="sigma_2 of the biadjacency",
                error=err,
                exact=exact,
            )
        )
        cert.add(
            Check(
                "lambda_min",
                -s1,
                method="-sigma_1 of the biadjacency",
                error=sv.residual_1,
                exact=exact,
            )
        )
        cert.add(
            Check(
                "lambda",
                lam,
                bound=s1,
                relation="<",
                method=f"sigma_2 < sigma_1 ({sv.method})",
                error=lam_err,
                passed=bool(connected and s2 + err < s1 - sv.residual_1),
                required=True,
                exact=exact,
                detail=detail,
            )
        )
        bound, formula = _layer_ramanujan(b, ldeg, dl, dr)
        _ramanujan_check(cert, lam, lam_err, bound, formula)
        s["ramanujan_bound"] = bound
        s["ramanujan"] = cert["ramanujan"].passed
    if "expansion" in wanted or "diameter" in wanted:
        _step(progress, "spectrum of the layer as a graph (for the bounds)")
        sp = adjacency_spectrum(g, dense_limit=dense_limit, tol=tol, seed=seed)
        if "expansion" in wanted:
            _expansion_checks(cert, g, sp, progress, exact_limit, seed)
        if "diameter" in wanted:
            _diameter_check(cert, g, sp, progress, diameter_limit, False, seed)
    return cert


def _layer_ramanujan(b, ldeg, dl, dr) -> tuple[float | None, str]:
    """Bipartite Ramanujan-type bound ``sqrt(dl-1) + sqrt(dr-1)`` (informative)."""
    if dr is None or dr < 1:
        return None, ""
    if dl is not None and dl >= 1:
        return ramanujan_bound(dr, dl), "sqrt(d_in-1) + sqrt(d_out-1) (biregular)"
    mean = float(ldeg.mean())
    if mean < 1:
        return None, ""
    bound = math.sqrt(dr - 1) + math.sqrt(mean - 1)
    return bound, "sqrt(d_in-1) + sqrt(mean input degree - 1) (inputs irregular: heuristic)"
