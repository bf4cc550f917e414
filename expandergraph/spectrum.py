"""Adjacency spectrum of a graph and singular values of a layer, with residuals.

Conventions
-----------
* The spectrum is that of the adjacency matrix ``A`` of :mod:`expandergraph.graph`
  (multi-edges count with multiplicity, a self-loop adds 2 to the diagonal).
  Eigenvalues are ``lambda_1 >= lambda_2 >= ... >= lambda_min`` (a multiset).
* **Trivial eigenvalues.**  For a connected graph the top eigenvalue
  ``lambda_1`` is simple (Perron-Frobenius); for a connected *bipartite* graph
  ``-lambda_1`` is simple too.  These are the trivial eigenvalues (``d`` and
  ``-d`` for a d-regular graph).  ``lam`` is the largest ``|eigenvalue|`` once
  one copy of each trivial eigenvalue is removed (0 if nothing is left).  A
  disconnected graph has no spectral gap and ``lam = lambda_1`` (``= d`` when
  d-regular).
* ``lambda_2`` is the second largest eigenvalue counted with multiplicity;
  ``lambda_min`` the smallest (``-lambda_1`` on a bipartite graph);
  ``lambda_min_nontrivial`` the smallest once the trivial ones are removed.
* Every returned eigenvalue comes with the residual ``||A x - theta x||`` of a
  unit vector ``x``.  For a symmetric matrix some eigenvalue lies within the
  residual of ``theta`` (Weyl / Bauer-Fike), so the residual is an error bar.
  That ``theta`` is the *extreme* eigenvalue (and not the one next to it) is
  exact for the dense path and holds with high probability for the Lanczos
  path (random start vector), as for every Krylov method.
* **Upper bounds.**  ``lam_upper`` / ``lambda_2_upper`` / ``sigma_2_upper`` are
  upper bounds, not ``value + residual``: dense path, value + residual +
  rounding floor (certain); Lanczos path, the Kuczynski-Wozniakowski bound
  (:mod:`expandergraph.kw`) from the first cycle (one run from one random
  start; restarted cycles are not counted), which fails with probability at
  most ``delta`` (recorded in the result with ``upper_method``).  Deflating an
  approximate Perron vector adds its block residual
  (:func:`expandergraph.lanczos.deflation_defect`).

Methods
-------
* ``n <= dense_limit`` (or ``n = 2``): dense ``numpy.linalg.eigh`` (exact up to
  rounding).
* Larger graphs: our own two-pass Lanczos on ``A`` restricted to the
  complement of the trivial eigenvectors, which are projected out at every
  step (the constant vector of a regular graph, and the +-1 bipartition vector
  of a connected bipartite regular graph; for an irregular graph the Perron
  vector is computed first by Lanczos and then deflated).  One Krylov space
  serves both ends of the spectrum, so ``lambda_2`` and ``lambda_min`` are two
  separate extreme problems solved by the same run.  Pass one runs the
  three-term recurrence (``ncv`` steps at most per cycle), keeps the Lanczos
  vectors that fit in ``store_budget`` and watches the Ritz estimates
  ``beta_m |s_m|``; the Ritz vectors are combined from the kept vectors, and
  pass two regenerates only those that did not fit (memory O(n) when none
  is kept); their residuals are then computed explicitly in float64.  A
  cycle that misses ``tol`` restarts from its Ritz vectors; if the iteration
  budget runs out, a ``RuntimeWarning`` is issued and ``converged=False`` is
  reported (never a silent result).

References
----------
Parlett, *The Symmetric Eigenvalue Problem*, SIAM 1998, ch. 13 (Lanczos, the
two-pass variant).  Hoory, Linial, Wigderson, *Expander graphs and their
applications*, Bull. AMS 43 (2006), sec. 2 and 5.  Lubotzky, Phillips, Sarnak,
*Ramanujan graphs*, Combinatorica 8 (1988).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable

import numpy as np

from .graph import Graph
from .kw import kw_epsilon, kw_interval
from .lanczos import (
    Projector,
    check_delta,
    check_options,
    deflation_defect,
    lanczos_ends,
    rayleigh_residual,
    rounding_floor,
)
from .matvec import MatVec, adjacency_csr, gershgorin, normalised_operator
from .singular import (
    DENSE_FLOOR,
    bipartite_singular_values,
    layer_spectra,
    layer_spectrum,
)
from .spectral_results import LayerSpectrum, SingularValues, SpectralResult
from .threads import single_blas

__all__ = [
    "SpectralResult",
    "SingularValues",
    "LayerSpectrum",
    "adjacency_spectrum",
    "bipartite_singular_values",
    "layer_spectrum",
    "layer_spectra",
    "graph_structure",
    "adjacency_csr",
    "normalised_operator",
    "ramanujan_bound",
]


def ramanujan_bound(d: float, d2: float | None = None) -> float:
    """The Ramanujan bound ``2*sqrt(d-1)``, or ``sqrt(d-1) + sqrt(d2-1)`` for (d, d2)-biregular.

    A connected d-regular graph is Ramanujan when ``lam <= 2*sqrt(d-1)``
    (Lubotzky-Phillips-Sarnak 1988).  For a bipartite graph whose sides have
    degrees ``d`` and ``d2``, the analogue is ``sqrt(d-1) + sqrt(d2-1)``
    (Feng-Li 1996; Marcus-Spielman-Srivastava 2015), which equals
    ``2*sqrt(d-1)`` when ``d2 == d``.

    Examples
    --------
    >>> ramanujan_bound(3)
    2.8284271247461903
    >>> ramanujan_bound(3, 3) == ramanujan_bound(3)
    True
    """
    for name, val in (("d", d), ("d2", d2)):
        if val is None:
            continue
        if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)):
            raise ValueError(f"ramanujan_bound: {name}={val!r} must be a number >= 1")
        if not math.isfinite(val) or val < 1:
            raise ValueError(f"ramanujan_bound: {name}={val!r} must be a number >= 1")
    if d2 is None:
        return 2.0 * math.sqrt(d - 1)
    return math.sqrt(d - 1) + math.sqrt(d2 - 1)


def _check_graph(g) -> None:
    if not isinstance(g, Graph):
        raise ValueError(f"g: expected an expandergraph.Graph, got {type(g).__name__}")
    if g.n < 2:
        raise ValueError(f"graph: needs at least 2 nodes for a second eigenvalue, got n={g.n}")
    if g.num_edges == 0:
        raise ValueError("graph: empty graph (no edges); its spectrum certifies nothing")


def graph_structure(a) -> tuple[bool, np.ndarray | None]:
    """``(connected, +-1 colouring if connected and bipartite else None)`` of a CSR adjacency.

    One BFS from node 0 (scipy.sparse.csgraph); the parity of the BFS depth is
    found by pointer jumping on the BFS tree, then every edge is checked.
    """
    from scipy.sparse.csgraph import breadth_first_order

    n = a.shape[0]
    order, pred = breadth_first_order(a, 0, directed=False, return_predecessors=True)
    if order.shape[0] != n:
        return False, None
    p = pred.astype(np.int64)
    p[0] = 0
    par = np.ones(n, dtype=np.int8)
    par[0] = 0
    # invariant: par[v] = parity of the tree path from v to p[v]
    while True:
        par = par ^ par[p]
        nxt = p[p]
        if np.array_equal(nxt, p):
            break
        p = nxt
    rows = np.repeat(par, np.diff(a.indptr))
    if np.any(rows == par[a.indices]):
        return True, None
    return True, np.where(par == 0, 1.0, -1.0)


# ---------------------------------------------------------------------------
# public: adjacency spectrum
# ---------------------------------------------------------------------------
def adjacency_spectrum(
    g: Graph,
    *,
    dense_limit: int = 2000,
    tol: float = 1e-8,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    ncv: int | None = None,
    maxiter: int | None = None,
    threads: int | None = None,
    mixed: bool | None = None,
    normalised: bool = False,
    delta: float = 1e-6,
    store_budget: int | None = None,
) -> SpectralResult:
    """Extreme adjacency eigenvalues of ``g`` with residuals; see the module doc.

    Parameters
    ----------
    g : Graph
        At least 2 nodes and 1 edge.
    dense_limit : int
        Graphs with ``n <= dense_limit`` use dense ``numpy.linalg.eigh``;
        larger ones use Lanczos.
    tol : float
        Target residual ``||A x - theta x||`` (unit ``x``) of each Lanczos pair.
    seed : int
        Seed of the random Lanczos start vector.
    progress : callable(str), optional
        Called with a short message when a step starts.
    ncv : int, optional
        Lanczos steps per cycle (the Krylov dimension; memory stays O(n)
        beyond ``store_budget``: pass two regenerates the vectors not kept).
        Default ``min(n, 4000)``.
    maxiter : int, optional
        Lanczos steps in all cycles together.  Default ``3 * ncv``.
    threads : int, optional
        Threads for the sparse products (default :func:`expandergraph.threads.worker_threads`).
    mixed : bool, optional
        Run the first Lanczos cycle with float32 sparse products (relative
        error about 1e-7), then restart from its Ritz vectors in float64 until
        ``tol``; every reported residual is computed in float64.  Default off
        (measured: float32 products are only ~10% cheaper on this machine, and
        the Kuczynski-Wozniakowski bound then needs a float32 perturbation floor).
    normalised : bool
        Use the normalised adjacency ``D^{-1/2} A D^{-1/2}`` instead of ``A``
        (top eigenvalue 1, Perron vector ``sqrt(deg)``); ``degree`` is then the
        graph's degree as before but the eigenvalues are those of the normalised
        matrix.  For a ``d``-regular graph this is ``A / d``.  The Perron
        vector ``sqrt(deg)`` is then known exactly and deflated.
    delta : float
        Failure probability of the Lanczos upper bounds ``lam_upper`` and
        ``lambda_2_upper`` (Kuczynski-Wozniakowski, :mod:`expandergraph.kw`):
        ``delta/2`` for each end of the spectrum.  Recorded in the result.
    store_budget : int, optional
        Bytes for keeping the Lanczos vectors (float64), which saves the
        matvecs of pass two for the vectors kept; default ``None``: a third of
        the available memory, at most 8 GiB; ``0``: keep none (pass two
        regenerates them all).  The results are the same up to rounding.

    Returns
    -------
    SpectralResult
        ``lambda_1, lambda_2, lambda_min, lam`` and residuals, ``method``,
        ``iterations`` (Lanczos steps), ``seconds``, ``connected``,
        ``bipartite``, ``converged``.  A ``RuntimeWarning`` is issued when the
        Lanczos residual misses ``tol``.

    References
    ----------
    Parlett, *The Symmetric Eigenvalue Problem* (1998), ch. 13; Hoory-Linial-
    Wigderson, Bull. AMS 43 (2006), sec. 2.

    Examples
    --------
    >>> import networkx as nx
    >>> r = adjacency_spectrum(Graph.from_networkx(nx.petersen_graph()))
    >>> round(r.lambda_1, 9), round(r.lambda_2, 9), round(r.lambda_min, 9), round(r.lam, 9)
    (3.0, 1.0, -2.0, 2.0)
    """
    _check_graph(g)
    check_options(dense_limit, tol, ncv, threads)
    check_delta(delta)
    t0 = time.perf_counter()
    a = adjacency_csr(g)
    connected, colour = graph_structure(a)
    bipartite = colour is not None if connected else g.is_bipartite()
    d = g.degree
    n = g.n
    perron = None
    if normalised:
        if d is None:  # the Perron vector of D^-1/2 A D^-1/2 is sqrt(deg), eigenvalue 1
            perron = np.sqrt(np.asarray(a.sum(axis=1)).ravel())
        a = normalised_operator(a)
        d = None if d is None else 1
    if n <= max(dense_limit, 2):  # n = 2 bipartite leaves Lanczos an empty space
        if progress is not None:
            progress(f"spectrum: dense eigh, n={n}")
        with single_blas():
            res = _dense_spectrum(a, d, connected, bipartite, t0)
        res.delta = float(delta)
        return res
    if progress is not None:
        progress(f"spectrum: Lanczos, n={n}, edges={g.num_edges}")
    ncv = int(ncv or min(n, 4000))
    maxiter = int(maxiter or 3 * ncv)
    mv = MatVec(a, threads)
    fast = mv.fast if mixed else None
    try:
        with single_blas():
            return _lanczos_spectrum(
                a,
                mv,
                n,
                d,
                connected,
                bipartite,
                colour,
                ncv,
                maxiter,
                tol,
                seed,
                progress,
                t0,
                fast,
                delta,
                perron,
                store_budget,
            )
    finally:
        mv.close()


def _summarise(w: np.ndarray, connected: bool, bipartite: bool):
    """(lam, lambda_min_nontrivial, index of the trivial ones) from sorted eigenvalues."""
    n = w.shape[0]
    keep = np.ones(n, dtype=bool)
    if connected:
        keep[n - 1] = False
        if bipartite:
            keep[0] = False
    nontrivial = w[keep]
    if not connected:
        return float(w[-1]), float(w[0]), keep
    if nontrivial.size == 0:
        return 0.0, None, keep
    return float(np.abs(nontrivial).max()), float(nontrivial.min()), keep


def _dense_spectrum(a, d, connected, bipartite, t0) -> SpectralResult:
    dense = a.toarray()
    w, vec = np.linalg.eigh(dense)
    n = w.shape[0]

    def resid(i: int) -> float:
        x = vec[:, i]
        return float(np.linalg.norm(dense @ x - w[i] * x))

    lam, lmin_nt, keep = _summarise(w, connected, bipartite)
    i_min_nt = int(np.flatnonzero(keep)[0]) if keep.any() else 0
    trivial = _trivial_text(d, connected, bipartite)
    # eigh's eigenvalues are exact for A + E, ||E|| <= p(n) u ||A||: a rounding floor
    floor = DENSE_FLOOR * n * np.finfo(float).eps * max(gershgorin(a), 1.0)
    r2, rmin_nt = resid(n - 2), (resid(i_min_nt) if lmin_nt is not None else 0.0)
    err = max(r2, rmin_nt) if connected else resid(n - 1)
    return SpectralResult(
        n=n,
        degree=d,
        lambda_1=float(w[-1]),
        lambda_2=float(w[-2]),
        lambda_min=float(w[0]),
        lam=lam,
        residual_1=resid(n - 1),
        residual_2=r2,
        residual_min=resid(0),
        method="dense eigh",
        iterations=0,
        seconds=time.perf_counter() - t0,
        connected=connected,
        bipartite=bipartite,
        lambda_min_nontrivial=lmin_nt,
        residual_min_nontrivial=rmin_nt,
        converged=True,
        trivial=trivial,
        lambda_2_bound=float(w[-2] + (r2 if connected else resid(n - 1)) + floor),
        lambda_min_bound=None if lmin_nt is None else float(lmin_nt - rmin_nt - floor),
        lam_bound=float(lam + err + floor),
        upper_method=f"dense eigh: value + residual + rounding floor {floor:.1e} (certain)",
        vector_2=vec[:, n - 2].copy(),
        vector_min=vec[:, i_min_nt].copy(),
    )


def _trivial_text(d, connected, bipartite) -> str:
    if not connected:
        return "none (disconnected: no spectral gap, lam = lambda_1)"
    top = f"d={d} (constant vector)" if d is not None else "lambda_1 (Perron vector)"
    if bipartite:
        bot = f"-d={-d} (+-1 bipartition vector)" if d is not None else "-lambda_1"
        return f"{top} and {bot}"
    return top


def _lanczos_spectrum(
    a,
    mv,
    n,
    d,
    connected,
    bipartite,
    colour,
    ncv,
    maxiter,
    tol,
    seed,
    progress,
    t0,
    fast,
    delta=1e-6,
    perron_vec=None,
    store_budget=None,
) -> SpectralResult:
    steps = 0
    converged = True
    count0 = mv.count
    rho = gershgorin(a)
    lam1_bound = None
    if d is not None:
        lambda_1, r1 = float(d), 0.0
        vectors = [colour] if (connected and bipartite) else []
        proj = Projector(n, constant=True, vectors=vectors)
        method = "lanczos (constant vector deflated"
        method += ", +-1 bipartition vector deflated)" if vectors else ")"
    elif perron_vec is not None:
        x1 = perron_vec / np.linalg.norm(perron_vec)
        lambda_1, r1 = rayleigh_residual(a, x1)
        vectors = [x1] + ([x1 * colour] if (connected and bipartite) else [])
        proj = Projector(n, constant=False, vectors=vectors)
        method = "lanczos (exact Perron vector sqrt(deg) deflated)"
    else:
        # irregular: the Perron pair first, then deflate it (and its mirror)
        if progress is not None:
            progress("spectrum: Perron vector (irregular graph)")
        perron = lanczos_ends(
            mv,
            n,
            Projector(n),
            ncv=ncv,
            tol=tol,
            maxiter=maxiter,
            seed=seed,
            want_bot=False,
            fast=fast,
            store_budget=store_budget,
            threads=mv.threads,
        )
        steps += perron.steps
        converged &= perron.converged
        lambda_1, r1 = perron.top, perron.r_top
        lam1_bound = kw_interval(
            min(max(perron.kw_top, perron.top), rho),
            None,
            n=n,
            k=perron.kw_steps,
            delta_top=delta,
            delta_bot=delta,
            lo=-rho,
            hi=rho,
            floor=rounding_floor(a, perron.kw_steps, perron.kw_f32),
        )[0]
        x1 = perron.x_top
        vectors = [x1] + ([x1 * colour] if (connected and bipartite) else [])
        proj = Projector(n, constant=False, vectors=vectors)
        method = "lanczos (Perron vector computed then deflated)"
    if fast is not None:
        method += " [mixed: float32-product first cycle, float64 restarts and residuals]"
    ends = lanczos_ends(
        mv,
        n,
        proj,
        ncv=ncv,
        tol=tol,
        maxiter=max(maxiter - steps, ncv),
        seed=seed + 1,
        progress=progress,
        fast=fast,
        store_budget=store_budget,
        threads=mv.threads,
    )
    steps += ends.steps
    converged &= ends.converged
    lambda_2, r2 = ends.top, ends.r_top
    lmin_nt, rmin_nt = ends.bot, ends.r_bot
    # the explicit residuals above are for P A P; check the pairs against A itself
    lambda_2, r2 = rayleigh_residual(a, ends.x_top)
    lmin_nt, rmin_nt = rayleigh_residual(a, ends.x_bot)
    if connected and bipartite:
        lambda_min, rmin = -lambda_1, r1
        if d is not None:
            rmin = float(np.linalg.norm(a @ colour + d * colour) / math.sqrt(n))
    else:
        lambda_min, rmin = lmin_nt, rmin_nt
    if connected:
        lam = max(abs(lambda_2), abs(lmin_nt))
    else:
        lam = lambda_1
    # ---- Kuczynski-Wozniakowski: [L, U] holds the spectrum of P A P on the
    # complement except with probability delta (delta/2 per end), from cycle 1
    # alone (one run from one random start; restarts are not counted)
    k1 = ends.kw_steps
    floor = rounding_floor(a, k1, ends.kw_f32)
    u_sub, l_sub = kw_interval(
        min(max(ends.kw_top, ends.top), rho),
        max(min(ends.kw_bot, ends.bot), -rho),
        n=n,
        k=k1,
        delta_top=0.5 * delta,
        delta_bot=0.5 * delta,
        lo=-rho,
        hi=rho,
        floor=floor,
    )
    defect, t = deflation_defect(a, proj, n)
    n_bot = 1 if (connected and bipartite) else 0
    u2 = max([u_sub] + ([float(t[1])] if t.size > 1 else [])) + defect
    t_asc = t[::-1]
    lmin_b = min([l_sub] + ([float(t_asc[n_bot])] if t.size > n_bot else [])) - defect
    if connected:
        lam_bound = max(abs(u2), abs(lmin_b))
    else:
        lam_bound = float(lambda_1 if lam1_bound is None else lam1_bound) + (0.0 if d else r1)
    eps = kw_epsilon(n, k1, 0.5 * delta)
    upper_method = (
        f"Kuczynski-Wozniakowski (1992): {k1} Lanczos steps of one run from one random start "
        f"(cycle 1; restarts not counted), n={n}, eps={eps:.2e} per end, holds except with "
        f"probability <= delta={delta:g} (delta/2 per end); + deflation defect {defect:.1e} "
        f"+ rounding floor {floor:.1e}"
    )
    if not converged:
        warnings.warn(
            f"adjacency_spectrum: Lanczos residual {max(r2, rmin_nt):.2e} did not reach "
            f"tol={tol:.1e} in {steps} steps (converged=False)",
            RuntimeWarning,
            stacklevel=3,
        )
    return SpectralResult(
        n=n,
        degree=d,
        lambda_1=lambda_1,
        lambda_2=lambda_2,
        lambda_min=lambda_min,
        lam=float(lam),
        residual_1=r1,
        residual_2=r2,
        residual_min=rmin,
        method=method,
        iterations=steps,
        seconds=time.perf_counter() - t0,
        connected=connected,
        bipartite=bipartite,
        lambda_min_nontrivial=lmin_nt,
        residual_min_nontrivial=rmin_nt,
        converged=bool(converged and max(r2, rmin_nt) <= tol),
        trivial=_trivial_text(d, connected, bipartite),
        ncv=ncv,
        tol=tol,
        lambda_2_bound=float(u2),
        lambda_min_bound=float(lmin_b),
        lam_bound=float(lam_bound),
        upper_method=upper_method,
        delta=float(delta),
        kw_steps=int(k1),
        matvecs=int(mv.count - count0),
        vector_2=ends.x_top,
        vector_min=ends.x_bot,
    )
