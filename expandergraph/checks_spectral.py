"""Spectral checks of a certificate: spectral expansion, Ramanujan, Cheeger, the mixing lemma.

Conventions
-----------
The checks and their thresholds are those :func:`expandergraph.certify.certify`
documents; in short:

* ``spectral_expansion`` (required): ``alpha <= alpha_max``, decided on the
  error interval of ``alpha`` (:func:`expandergraph.certificate.decide`).  For
  a ``d``-regular graph ``alpha = lam / d``; for an irregular graph ``alpha``
  is ``lam`` of ``D^{-1/2} A D^{-1/2}``; for a biregular layer ``sigma_2 /
  sigma_1`` of the biadjacency, otherwise the second singular value of
  ``D_r^{-1/2} B D_l^{-1/2}``.  A disconnected graph or layer has ``alpha = 1``.
* ``implied_vertex_expansion`` (required for a graph): Tanner's inequality with
  the degree extremes, for sets of at most ``rho * n`` nodes (of one side when
  bipartite); passes when ``beta > 1``.
* Informative: ``lambda``, ``lambda_2``, ``lambda_min`` (and for a layer
  ``sigma_1``, ``sigma_2``), ``ramanujan`` (``lam <= 2 sqrt(d-1)``, for a layer
  ``sigma_2 <= sqrt(dl-1) + sqrt(dr-1)``; never true when disconnected),
  ``cheeger`` and ``mixing_lemma``.

``params`` is the dict of :func:`expandergraph.certify.certify`'s validated
``alpha_max``, ``rho`` and ``delta``; the functions also fill the spectral keys
of ``cert.summary``.

References: Hoory, Linial, Wigderson, Bull. AMS 43 (2006); Lubotzky, Phillips,
Sarnak, Combinatorica 8 (1988); R. M. Tanner, SIAM J. Alg. Disc. Meth. 5 (1984).

Examples
--------
>>> status_passed("passed"), status_passed("failed"), status_passed("undecided")
(True, False, None)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .bounds import cheeger_lower, tanner_factor
from .certificate import Certificate, Check, decide
from .checks_structure import report_step
from .graph import BipartiteGraph, Graph
from .matvec import adjacency_csr
from .spectrum import (
    SpectralResult,
    adjacency_spectrum,
    bipartite_singular_values,
    graph_structure,
    ramanujan_bound,
)

__all__ = ["graph_spectrum_checks", "layer_spectrum_checks", "status_passed"]


def status_passed(status: str) -> bool | None:
    """``Check.passed`` of a verdict: ``True``/``False`` for passed/failed, else ``None``."""
    return {"passed": True, "failed": False}.get(status)


def graph_spectrum_checks(
    cert: Certificate,
    g: Graph,
    sp: SpectralResult,
    deg: np.ndarray,
    params: dict,
    *,
    dense_limit: int,
    tol: float,
    seed: int,
    progress: Callable[[str], None] | None,
) -> None:
    """Add the spectral checks of graph ``g`` (adjacency spectrum ``sp``, degrees ``deg``)."""
    s = cert.summary
    d = g.degree
    delta = params["delta"]
    _spectrum_values(cert, sp, d)
    s["lambda_2"], s["lambda_min"], s["lambda"] = sp.lambda_2, sp.lambda_min, sp.lam
    if d is not None and d >= 1:
        s["ramanujan_bound"] = ramanujan_bound(d)
        s["ramanujan"] = cert["ramanujan"].passed
    norm = sp
    if d is None:
        report_step(progress, "normalised adjacency spectrum (irregular graph)")
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


def layer_spectrum_checks(
    cert: Certificate,
    b: BipartiteGraph,
    connected: bool,
    params: dict,
    *,
    dense_limit: int,
    tol: float,
    seed: int,
    progress: Callable[[str], None] | None,
) -> None:
    """Add the spectral checks of layer ``b`` (``connected``: as an undirected graph)."""
    s = cert.summary
    ldeg = b.left_degrees()
    dr, dl = b.degree, b.left_degree
    delta = params["delta"]
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


def _alpha_check(alpha, lo, hi, alpha_max, method, error, detail) -> Check:
    status = decide(lo, hi, alpha_max, "<=")
    return Check(
        "spectral_expansion",
        float(alpha),
        bound=alpha_max,
        relation="<=",
        method=method,
        error=float(error),
        passed=status_passed(status),
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
            passed=status_passed(status),
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


def _spectrum_values(cert: Certificate, sp: SpectralResult, d: int | None) -> None:
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
            passed=status_passed(status),
            required=False,
            exact=False,
            detail={"interval": [float(interval[0]), float(interval[1])]},
            status=status,
        )
    )


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
        report_step(progress, "normalised singular values (irregular layer)")
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
