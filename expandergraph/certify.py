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
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable

import numpy as np

from .bounds import cheeger_lower, tanner_factor
from .certificate import SEMANTICS, Certificate, Check, decide
from .distance import diameter
from .expansion import ExpansionResult, edge_expansion, vertex_expansion
from .graph import BipartiteGraph, Graph
from .matvec import adjacency_csr
from .spectrum import (
    SpectralResult,
    adjacency_spectrum,
    bipartite_singular_values,
    graph_structure,
    ramanujan_bound,
)

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

#: witness sets larger than this are stored as a size and a sha256 only
_WITNESS_MAX = 10_000


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


def _status_passed(status: str) -> bool | None:
    return {"passed": True, "failed": False}.get(status)


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
        _step(progress, "connectivity")
        connected, colour = graph_structure(adjacency_csr(g))
        bipartite = colour is not None if connected else g.is_bipartite()
    s["bipartite"], s["connected"] = bool(bipartite), bool(connected)
    if "degrees" in wanted:
        dead = np.flatnonzero(deg == 0)
        cert.add(_degrees_check({"min": int(deg.min()), "max": int(deg.max()), "degree": d}))
        cert.add(_count_check("dead_nodes", dead, "nodes of degree 0"))
    cert.add(_connected_check(connected))
    if not connected:
        cert.claims.append("not connected: no expansion of any kind")
    if "spectrum" in wanted:
        _spectrum_checks(cert, sp, d)
        s["lambda_2"], s["lambda_min"], s["lambda"] = sp.lambda_2, sp.lambda_min, sp.lam
        if d is not None and d >= 1:
            s["ramanujan_bound"] = ramanujan_bound(d)
            s["ramanujan"] = cert["ramanujan"].passed
        norm = sp
        if d is None:
            _step(progress, "normalised adjacency spectrum (irregular graph)")
            norm = adjacency_spectrum(
                g,
                dense_limit=dense_limit,
                tol=tol,
                seed=seed,
                progress=progress,
                normalised=True,
                delta=delta,
            )
        _graph_expansion_claims(cert, g, sp, norm, deg, params)
    if "expansion" in wanted:
        _expansion_checks(cert, g, sp, progress, exact_limit, seed)
    if "diameter" in wanted:
        vt = g.meta.get("vertex_transitive", g.meta.get("construction") in _VERTEX_TRANSITIVE)
        _diameter_check(cert, g, sp, progress, diameter_limit, bool(vt), seed)
    return cert


def _alpha_check(alpha, lo, hi, alpha_max, method, error, detail) -> Check:
    status = decide(lo, hi, alpha_max, "<=")
    return Check(
        "spectral_expansion",
        float(alpha),
        bound=alpha_max,
        relation="<=",
        method=method,
        error=float(error),
        passed=_status_passed(status),
        required=True,
        exact=False,
        detail=dict(detail, interval=[float(lo), float(hi)]),
        status=status,
    )


def _graph_expansion_claims(cert, g, sp: SpectralResult, norm: SpectralResult, deg, params):
    """``spectral_expansion``, ``implied_vertex_expansion``, ``cheeger``, ``mixing_lemma``."""
    s = cert.summary
    alpha_max, rho = params["alpha_max"], params["rho"]
    d = g.degree
    regular = d is not None and d >= 1
    if not sp.connected:
        alpha = lo = hi = 1.0
        method = "disconnected: alpha = 1 (no spectral gap)"
        err = 0.0
    elif regular:
        alpha, lo, hi = sp.lam / d, sp.lam_lower / d, sp.lam_upper / d
        method = f"alpha = lam / d, d = {d} (regular)"
        err = sp.error / d
    else:
        alpha, lo, hi = norm.lam, norm.lam_lower, norm.lam_upper
        method = (
            "alpha = lam of the normalised adjacency D^-1/2 A D^-1/2 (irregular): certifies "
            "conductance; vertex expansion is not implied (a star has alpha = 0)"
        )
        err = norm.error
    hi = min(max(hi, alpha), 1.0)
    lo = min(max(min(lo, alpha), 0.0), hi)
    detail = {"lam": sp.lam, "lam_interval": [sp.lam_lower, sp.lam_upper], "delta": params["delta"]}
    check = cert.add(_alpha_check(alpha, lo, hi, alpha_max, method, err, detail))
    s["alpha"], s["alpha_max"] = float(alpha), alpha_max
    cert.claims.append(
        f"alpha = {alpha:.4g} {'<=' if check.status == 'passed' else 'vs'} alpha_max = "
        f"{alpha_max:g} ({check.status})"
    )
    # Cheeger: edge expansion (regular) or conductance (irregular), from lambda_2's upper end
    if sp.connected:
        if regular:
            gap = d - sp.lambda_2_upper
            what, value = "edge expansion h(G)", cheeger_lower(gap)
        else:
            gap = 1.0 - norm.lambda_2_upper
            what, value = "conductance phi(G)", cheeger_lower(gap)
        cert.add(
            Check(
                "cheeger",
                value,
                relation="info",
                method=f"Cheeger: {what} >= (gap of lambda_2) / 2",
                exact=False,
                detail={"quantity": what, "gap": float(gap)},
            )
        )
        if value > 0:
            cert.claims.append(f"{what} >= {value:.4g} (Cheeger)")
    # Tanner-type vertex expansion for sets of at most rho n nodes (of one side if bipartite)
    mu_hi, mu_lo = hi, lo
    sides = _sides(g, deg, sp)
    betas_lo, betas_hi = [], []
    for src, dst, volume in sides:
        size = max(1, math.floor(rho * src.shape[0]))
        kw = {"set_size": size, "volume": volume}
        kw.update(d_min_src=float(src.min()), d_max_dst=float(dst.max()))
        betas_lo.append(tanner_factor(mu_hi, rho, **kw))
        betas_hi.append(tanner_factor(mu_lo, rho, **kw))
    beta_lo, beta_hi = min(betas_lo), min(betas_hi)
    status = decide(beta_lo, beta_hi, 1.0, ">") if sp.connected else "failed"
    scope = "of one side" if sp.bipartite and sp.connected else "of the nodes"
    cert.add(
        Check(
            "implied_vertex_expansion",
            float(beta_lo),
            bound=1.0,
            relation=">",
            method=(
                f"Tanner's inequality with degree extremes: |N(S)| >= beta |S| for every S of at "
                f"most rho = {rho:g} {scope}"
            ),
            error=float(beta_hi - beta_lo),
            passed=_status_passed(status),
            required=True,
            exact=False,
            detail={"rho": rho, "interval": [float(beta_lo), float(beta_hi)]},
            status=status,
        )
    )
    if status == "passed":
        cert.claims.append(
            f"every set S of at most {rho:g} {scope} has |N(S)| >= {beta_lo:.4g} |S| (Tanner)"
        )
    else:
        cert.claims.append(f"no vertex expansion is implied (beta = {beta_lo:.4g} <= 1)")
    # the mixing lemma, in the form that applies
    if sp.connected:
        if regular and not sp.bipartite:
            text = f"|e(S,T) - d|S||T|/n| <= {sp.lam_upper:.4g} sqrt(|S||T|(1-|S|/n)(1-|T|/n))"
        elif regular:
            text = (
                f"S, T on opposite sides: |e(S,T) - d|S||T|/(n/2)| <= {sp.lam_upper:.4g} "
                "sqrt(|S||T|)"
            )
        else:
            text = (
                f"|e(S,T) - vol(S)vol(T)/vol(V)| <= {hi:.4g} sqrt(vol(S)vol(T)) (normalised form)"
            )
        cert.add(
            Check(
                "mixing_lemma",
                float(sp.lam_upper if regular else hi),
                relation="info",
                method="expander mixing lemma: " + text,
                exact=False,
            )
        )
        cert.claims.append(text + " (mixing lemma)")


def _sides(g, deg, sp) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """``(source degrees, target degrees, volume)`` for the Tanner claim."""
    deg = deg.astype(np.float64)
    if sp.connected and sp.bipartite:
        _, colour = graph_structure(adjacency_csr(g))
        if colour is not None:
            a, b = deg[colour > 0], deg[colour < 0]
            vol = float(a.sum())
            return [(a, b, vol), (b, a, vol)]
    return [(deg, deg, float(deg.sum()))]


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
        "gap": sp.gap,
    }
    exact = sp.method.startswith("dense")
    cert.add(Check("lambda_2", sp.lambda_2, method=sp.method, error=sp.residual_2, exact=exact))
    cert.add(
        Check("lambda_min", sp.lambda_min, method=sp.method, error=sp.residual_min, exact=exact)
    )
    cert.add(
        Check(
            "lambda",
            sp.lam,
            bound=sp.lambda_1,
            relation="info",
            method=sp.method,
            error=sp.error,
            exact=exact,
            detail=detail,
        )
    )
    _ramanujan_check(
        cert,
        sp.lam,
        (sp.lam_lower, sp.lam_upper),
        ramanujan_bound(d) if d else None,
        "2*sqrt(d-1)",
        sp.connected,
    )


def _ramanujan_check(cert, lam, interval, bound, formula, connected) -> None:
    if bound is None:
        cert.add(Check("ramanujan", lam, method="not regular: no Ramanujan bound", exact=False))
        return
    if not connected:
        status, method = "failed", "disconnected: never Ramanujan (the property is undefined)"
    else:
        status, method = decide(interval[0], interval[1], bound, "<="), f"lam <= {formula}"
    cert.add(
        Check(
            "ramanujan",
            lam,
            bound=bound,
            relation="<=",
            method=method,
            error=float(interval[1] - lam),
            passed=_status_passed(status),
            required=False,
            exact=False,
            detail={"interval": [float(interval[0]), float(interval[1])]},
            status=status,
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
    connected, _ = graph_structure(adjacency_csr(g))
    s["connected"] = bool(connected)
    delta = params["delta"]
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
            b, dense_limit=dense_limit, tol=tol, seed=seed, progress=progress, delta=delta
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
                relation="info",
                method=f"sigma_2 of the biadjacency ({sv.method})",
                error=lam_err,
                exact=exact,
                detail=detail,
            )
        )
        _layer_alpha(cert, b, sv, connected, params, dense_limit, tol, seed, progress)
        bound, formula = _layer_ramanujan(b, ldeg, dl, dr)
        lo, hi = (sv.sigma_2_lower, sv.sigma_2_upper) if connected else (s1, s1)
        _ramanujan_check(cert, lam, (lo, max(hi, lam)), bound, formula, connected)
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


def _layer_alpha(cert, b, sv, connected, params, dense_limit, tol, seed, progress) -> None:
    """``spectral_expansion`` of a layer: the normalised second singular value."""
    alpha_max = params["alpha_max"]
    biregular = b.degree is not None and b.left_degree is not None
    if not connected:
        alpha = lo = hi = 1.0
        method, err = "disconnected layer: alpha = 1", 0.0
    elif biregular:
        s1 = sv.sigma_1
        alpha, lo, hi = sv.sigma_2 / s1, sv.sigma_2_lower / s1, sv.sigma_2_upper / s1
        method, err = "alpha = sigma_2 / sigma_1 of the biadjacency (biregular)", sv.residual / s1
    else:
        _step(progress, "normalised singular values (irregular layer)")
        nv = bipartite_singular_values(
            b, dense_limit=dense_limit, tol=tol, seed=seed, normalised=True, delta=params["delta"]
        )
        alpha, lo, hi = nv.sigma_2, nv.sigma_2_lower, nv.sigma_2_upper
        method = "alpha = sigma_2 of the degree-normalised biadjacency D_r^-1/2 B D_l^-1/2"
        err = nv.residual
    hi = min(max(hi, alpha), 1.0)
    lo = min(max(min(lo, alpha), 0.0), hi)
    check = cert.add(
        _alpha_check(alpha, lo, hi, alpha_max, method, err, {"delta": params["delta"]})
    )
    cert.summary["alpha"], cert.summary["alpha_max"] = float(alpha), alpha_max
    cert.claims.append(
        f"alpha = {alpha:.4g} {'<=' if check.status == 'passed' else 'vs'} alpha_max = "
        f"{alpha_max:g} ({check.status})"
    )


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
