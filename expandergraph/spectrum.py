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
  approximate Perron vector adds its block residual (``_deflation_defect``).

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
  three-term recurrence (memory O(n), ``ncv`` steps at most per cycle) and
  watches the Ritz estimates ``beta_m |s_m|``; pass two regenerates the Lanczos
  vectors to form the Ritz vectors, whose residuals are then computed
  explicitly.  A cycle that misses ``tol`` restarts from its Ritz vectors; if the
  iteration budget runs out, a ``RuntimeWarning`` is issued and
  ``converged=False`` is reported (never a silent result).

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
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .graph import BipartiteGraph, Graph
from .lanczos import _Ends, _lanczos_ends, _MatVec, _Projector, _rayleigh_residual  # noqa: F401

__all__ = [
    "SpectralResult",
    "SingularValues",
    "adjacency_spectrum",
    "bipartite_singular_values",
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


@dataclass
class SpectralResult:
    """Extreme adjacency eigenvalues with their residuals (see the module conventions).

    ``error`` is the error bar on ``lam`` (the largest residual among the
    eigenpairs that define it).  ``vector_2`` / ``vector_min`` are the unit
    eigenvectors of ``lambda_2`` / ``lambda_min_nontrivial`` (used by sweep cuts);
    they are not part of equality or ``repr``.
    """

    n: int
    degree: int | None
    lambda_1: float
    lambda_2: float
    lambda_min: float
    lam: float
    residual_1: float
    residual_2: float
    residual_min: float
    method: str
    iterations: int
    seconds: float
    connected: bool
    bipartite: bool
    lambda_min_nontrivial: float | None = None
    residual_min_nontrivial: float = 0.0
    converged: bool = True
    trivial: str = ""
    ncv: int | None = None
    tol: float | None = None
    lambda_2_bound: float | None = None
    lambda_min_bound: float | None = None
    lam_bound: float | None = None
    upper_method: str = ""
    delta: float = 1e-6
    kw_steps: int = 0
    matvecs: int = 0
    vector_2: np.ndarray | None = field(default=None, repr=False, compare=False)
    vector_min: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def error(self) -> float:
        """Error bar on ``lam``: the largest residual of the eigenpairs defining it."""
        if not self.connected:
            return float(self.residual_1)
        return float(max(self.residual_2, self.residual_min_nontrivial))

    @property
    def lam_upper(self) -> float:
        """Upper bound on ``lam``: ``max(lam + error, lam_bound)`` (see ``upper_method``).

        Dense path: ``lam + error`` plus a rounding floor (certain).  Lanczos path:
        the Kuczynski-Wozniakowski bound, which holds except with probability
        ``delta`` (:mod:`expandergraph.kw`).
        """
        hi = self.lam + self.error
        return float(hi if self.lam_bound is None else max(hi, self.lam_bound))

    @property
    def lam_lower(self) -> float:
        """Lower end of the interval the verdicts use for ``lam`` (``lam - error``, >= 0)."""
        return float(max(self.lam - self.error, 0.0))

    @property
    def lambda_2_upper(self) -> float:
        """Upper bound on ``lambda_2`` (the Cheeger bound uses it); as :attr:`lam_upper`."""
        hi = self.lambda_2 + (self.residual_2 if self.connected else self.residual_1)
        return float(hi if self.lambda_2_bound is None else max(hi, self.lambda_2_bound))

    @property
    def gap(self) -> float:
        """Spectral gap ``lambda_1 - lam`` (0 when disconnected)."""
        return float(self.lambda_1 - self.lam)


@dataclass
class SingularValues:
    """Top two singular values of a biadjacency matrix.

    Unpacks as ``sigma_1, sigma_2, residual, method``.  ``residual`` is the
    triplet residual ``||B^T u - sigma_2 v||`` with ``u = B v / sigma_2`` (so
    ``||B v - sigma_2 u|| = 0``); some singular value lies within it of
    ``sigma_2``.  ``residual_1`` is the same for ``sigma_1``.
    """

    sigma_1: float
    sigma_2: float
    residual: float
    method: str
    residual_1: float = 0.0
    iterations: int = 0
    converged: bool = True
    seconds: float = 0.0
    sigma_2_bound: float | None = None
    upper_method: str = ""
    delta: float = 1e-6
    kw_steps: int = 0
    matvecs: int = 0

    def __iter__(self):
        return iter((self.sigma_1, self.sigma_2, self.residual, self.method))

    @property
    def sigma_2_upper(self) -> float:
        """Upper bound on ``sigma_2``: ``max(sigma_2 + residual, sigma_2_bound)``.

        Certain (up to a rounding floor) for the dense path; for the Lanczos path
        it holds except with probability ``delta`` (Kuczynski-Wozniakowski on the
        deflated Gram matrix, :mod:`expandergraph.kw`).
        """
        hi = self.sigma_2 + self.residual
        return float(hi if self.sigma_2_bound is None else max(hi, self.sigma_2_bound))

    @property
    def sigma_2_lower(self) -> float:
        """Lower end of the interval the verdicts use for ``sigma_2`` (>= 0)."""
        return float(max(self.sigma_2 - self.residual, 0.0))


@contextmanager
def _single_blas():
    """Run BLAS/LAPACK single-threaded when threadpoolctl is available.

    Multi-threaded OpenBLAS spins and slows down 10x or more when the cores are
    shared (measured on the 2-core CI machine); our sparse products run their
    own threads instead.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ---------------------------------------------------------------------------
# validation and structure
# ---------------------------------------------------------------------------
def _check_common(dense_limit, tol, ncv, threads) -> None:
    if isinstance(dense_limit, bool) or not isinstance(dense_limit, (int, np.integer)):
        raise ValueError(f"dense_limit: must be a non-negative integer, got {dense_limit!r}")
    if dense_limit < 0:
        raise ValueError(f"dense_limit: must be a non-negative integer, got {dense_limit!r}")
    if not isinstance(tol, (int, float)) or not (0 < tol < 1):
        raise ValueError(f"tol: must be a number in (0, 1), got {tol!r}")
    if ncv is not None and (
        isinstance(ncv, bool) or not isinstance(ncv, (int, np.integer)) or ncv < 10
    ):
        raise ValueError(f"ncv: must be an integer >= 10, got {ncv!r}")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1
    ):
        raise ValueError(f"threads: must be a positive integer, got {threads!r}")


def _check_delta(delta) -> None:
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise ValueError(f"delta: must be a failure probability in (0, 1), got {delta!r}")


def _check_graph(g) -> None:
    if not isinstance(g, Graph):
        raise ValueError(f"g: expected an expandergraph.Graph, got {type(g).__name__}")
    if g.n < 2:
        raise ValueError(f"graph: needs at least 2 nodes for a second eigenvalue, got n={g.n}")
    if g.num_edges == 0:
        raise ValueError("graph: empty graph (no edges); its spectrum certifies nothing")


def _adjacency(g: Graph):
    """float64 CSR adjacency with int32 indices when possible (rows already sorted)."""
    import scipy.sparse as sp

    idx, ptr = g.indices, g.indptr
    same = idx[1:] == idx[:-1]
    if idx.size and np.any(same):
        starts = np.zeros(idx.size, dtype=bool)
        starts[ptr[1:-1][ptr[1:-1] < idx.size]] = True
        if np.any(same & ~starts[1:]):  # a multi-edge or a loop: sum the duplicates
            return g.adjacency(dtype=np.float64)
    small = max(g.n, idx.size) < 2**31 - 1
    it = np.int32 if small else np.int64
    return sp.csr_matrix(
        (np.ones(idx.size), idx.astype(it), ptr.astype(it)), shape=(g.n, g.n), copy=False
    )


def normalised_operator(a):
    """``D_r^{-1/2} A D_c^{-1/2}`` of a sparse matrix (row and column sums; 0 where a sum is 0).

    For a graph's adjacency this is the normalised adjacency; for a layer's
    ``(right, left)`` biadjacency the degree-normalised biadjacency, whose top
    singular value is 1 when the layer has no isolated node.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> m = normalised_operator(sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]])))
    >>> m.toarray().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    import scipy.sparse as sp

    rows = np.asarray(a.sum(axis=1)).ravel()
    cols = np.asarray(a.sum(axis=0)).ravel()
    with np.errstate(divide="ignore"):
        ir = np.where(rows > 0, 1.0 / np.sqrt(np.where(rows > 0, rows, 1.0)), 0.0)
        ic = np.where(cols > 0, 1.0 / np.sqrt(np.where(cols > 0, cols, 1.0)), 0.0)
    return sp.csr_matrix(sp.diags(ir) @ a @ sp.diags(ic))


def _structure(a) -> tuple[bool, np.ndarray | None]:
    """(connected, +-1 colouring if connected and bipartite else None) of a CSR adjacency.

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
        larger ones use two-pass Lanczos.
    tol : float
        Target residual ``||A x - theta x||`` (unit ``x``) of each Lanczos pair.
    seed : int
        Seed of the random Lanczos start vector.
    progress : callable(str), optional
        Called with a short message when a step starts.
    ncv : int, optional
        Lanczos steps per cycle (the Krylov dimension; memory stays O(n)
        because pass two regenerates the basis).  Default ``min(n, 4000)``.
    maxiter : int, optional
        Lanczos steps in all cycles together.  Default ``3 * ncv``.
    threads : int, optional
        Threads for the sparse products (default ``min(2, cpu_count)``).
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
        Bytes for keeping the Lanczos basis in float32 (saves the second
        pass); default 0 (off: measured slower than the second pass on the
        2-core CI VM); -1 means a quarter of the available memory, at most 8 GiB.

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
    _check_common(dense_limit, tol, ncv, threads)
    _check_delta(delta)
    t0 = time.perf_counter()
    a = _adjacency(g)
    connected, colour = _structure(a)
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
        with _single_blas():
            res = _dense_spectrum(a, d, connected, bipartite, t0)
        res.delta = float(delta)
        return res
    if progress is not None:
        progress(f"spectrum: Lanczos, n={n}, edges={g.num_edges}")
    ncv = int(ncv or min(n, 4000))
    maxiter = int(maxiter or 3 * ncv)
    mv = _MatVec(a, threads)
    fast = mv.fast if mixed else None
    try:
        with _single_blas():
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


_DENSE_FLOOR = 4.0  # eigh/svd backward error taken as 4 n u ||A||


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
    floor = _DENSE_FLOOR * n * np.finfo(float).eps * max(_gershgorin(a), 1.0)
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


def _gershgorin(a) -> float:
    """``max_i sum_j |a_ij|``: a certain bound on the spectral radius of a symmetric ``a``."""
    if a.nnz == 0:
        return 0.0
    m = a if a.data.min() >= 0 else abs(a)
    return float(np.asarray(m.sum(axis=1)).max())


def _rounding_floor(a, steps: int, f32: bool) -> float:
    """Slack for rounding in a ``steps``-step Lanczos run (float64, or float32 products)."""
    rho = max(_gershgorin(a), 1e-300)
    floor = 10.0 * max(steps, 1) * np.finfo(float).eps * rho
    if f32:  # float32 products: (A + E_j) v_j with ||E_j|| <= (nnz/row + 2) 2^-24 rho
        floor += 2.0 * (int(np.diff(a.indptr).max()) + 2) * 2.0**-24 * rho
    return float(floor)


def _deflation_defect(a, proj: _Projector, n: int) -> tuple[float, np.ndarray]:
    """``(||(I - QQ^T) A Q||_F, eigenvalues of Q^T A Q)`` for the deflated orthonormal ``Q``.

    With ``E = R Q^T + Q R^T`` (``R = (I - QQ^T) A Q``), ``Q`` spans an invariant
    subspace of ``A - E`` whose restriction to the complement is ``P A P``;
    every eigenvalue of ``A`` is within ``||E|| <= ||R||_F`` of that of ``A - E``.
    """
    cols = ([np.full(n, 1.0 / math.sqrt(n))] if proj.constant else []) + list(proj.q)
    if not cols:
        return 0.0, np.zeros(0)
    q = np.stack(cols, axis=1)
    aq = np.stack([a @ c for c in cols], axis=1)
    small = q.T @ aq
    r = aq - q @ small
    return float(np.linalg.norm(r)), np.linalg.eigvalsh(0.5 * (small + small.T))[::-1]


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
    from .kw import kw_epsilon, kw_interval

    steps = 0
    converged = True
    count0 = mv.count
    rho = _gershgorin(a)
    lam1_bound = None
    if d is not None:
        lambda_1, r1 = float(d), 0.0
        vectors = [colour] if (connected and bipartite) else []
        proj = _Projector(n, constant=True, vectors=vectors)
        method = "lanczos (constant vector deflated"
        method += ", +-1 bipartition vector deflated)" if vectors else ")"
    elif perron_vec is not None:
        x1 = perron_vec / np.linalg.norm(perron_vec)
        lambda_1, r1 = _rayleigh_residual(a, x1)
        vectors = [x1] + ([x1 * colour] if (connected and bipartite) else [])
        proj = _Projector(n, constant=False, vectors=vectors)
        method = "lanczos (exact Perron vector sqrt(deg) deflated)"
    else:
        # irregular: the Perron pair first, then deflate it (and its mirror)
        if progress is not None:
            progress("spectrum: Perron vector (irregular graph)")
        perron = _lanczos_ends(
            mv,
            n,
            _Projector(n),
            ncv=ncv,
            tol=tol,
            maxiter=maxiter,
            seed=seed,
            want_bot=False,
            fast=fast,
            store_budget=store_budget,
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
            floor=_rounding_floor(a, perron.kw_steps, perron.kw_f32),
        )[0]
        x1 = perron.x_top
        vectors = [x1] + ([x1 * colour] if (connected and bipartite) else [])
        proj = _Projector(n, constant=False, vectors=vectors)
        method = "lanczos (Perron vector computed then deflated)"
    if fast is not None:
        method += " [mixed: float32-product first cycle, float64 restarts and residuals]"
    ends = _lanczos_ends(
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
    )
    steps += ends.steps
    converged &= ends.converged
    lambda_2, r2 = ends.top, ends.r_top
    lmin_nt, rmin_nt = ends.bot, ends.r_bot
    # the explicit residuals above are for P A P; check the pairs against A itself
    lambda_2, r2 = _rayleigh_residual(a, ends.x_top)
    lmin_nt, rmin_nt = _rayleigh_residual(a, ends.x_bot)
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
    floor = _rounding_floor(a, k1, ends.kw_f32)
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
    defect, t = _deflation_defect(a, proj, n)
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


# ---------------------------------------------------------------------------
# public: singular values of a layer
# ---------------------------------------------------------------------------
def bipartite_singular_values(
    b: BipartiteGraph,
    *,
    dense_limit: int = 2000,
    tol: float = 1e-8,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    ncv: int | None = None,
    maxiter: int | None = None,
    threads: int | None = None,
    normalised: bool = False,
    delta: float = 1e-6,
    store_budget: int | None = None,
) -> SingularValues:
    """``sigma_1 >= sigma_2``: top singular values of the ``(right, left)`` biadjacency ``B``.

    With ``normalised=True`` the matrix is ``D_r^{-1/2} B D_l^{-1/2}``
    (:func:`normalised_operator`; ``sigma_1 = 1``), whose ``sigma_2`` is the
    layer's normalised second singular value ``mu`` (``sigma_2 / sigma_1`` of
    ``B`` when the layer is biregular).

    The adjacency eigenvalues of the layer as an undirected graph are
    ``+-sigma_i`` and zeros, so for a connected layer ``sigma_2`` is its
    ``lam``: the largest non-trivial ``|eigenvalue|`` (``+-sigma_1`` excluded).
    Singular values beyond ``min(left, right)`` are 0, so ``sigma_2 = 0`` when a
    side has a single node.

    Methods: dense ``numpy.linalg.svd`` when ``left * right <= dense_limit**2``;
    otherwise two-pass Lanczos on the Gram matrix of the smaller side
    (``B^T B`` or ``B B^T``) with the top singular vector deflated: the
    constant vector when both sides are regular (``sigma_1 = sqrt(dl*dr)``
    exactly), else the Perron vector computed first by Lanczos.

    ``residual`` (and ``residual_1``) is an error bar on ``sigma_2``
    (``sigma_1``): the triplet residual ``||B^T u - sigma v||`` with
    ``u = B v / sigma``, or ``sqrt(||B^T B v - sigma^2 v||)`` if smaller.
    ``sigma_2_upper`` is a true upper bound: for the Lanczos path the
    Kuczynski-Wozniakowski bound on the deflated Gram matrix (PSD), which
    holds except with probability ``delta`` (:mod:`expandergraph.kw`).

    References
    ----------
    Golub and Van Loan, *Matrix Computations*, 4th ed., sec. 8.6 and 10.4;
    Hoory-Linial-Wigderson, Bull. AMS 43 (2006), sec. 2.4 (bipartite mixing).

    Examples
    --------
    >>> k = BipartiteGraph.from_edges(2, 3, [0, 1, 0, 1, 0, 1], [0, 0, 1, 1, 2, 2])
    >>> s1, s2, res, method = bipartite_singular_values(k)  # K_{2,3}
    >>> round(s1**2, 9), round(s2, 9), method
    (6.0, 0.0, 'dense svd')
    """
    if not isinstance(b, BipartiteGraph):
        raise ValueError(f"b: expected an expandergraph.BipartiteGraph, got {type(b).__name__}")
    if b.num_edges == 0:
        raise ValueError("layer: empty layer (no edges); its singular values certify nothing")
    _check_common(dense_limit, tol, ncv, threads)
    _check_delta(delta)
    t0 = time.perf_counter()
    bm = b.biadjacency(dtype=np.float64)
    if normalised:
        bm = normalised_operator(bm)
    if b.left * b.right <= dense_limit**2:
        if progress is not None:
            progress(f"singular values: dense svd, {b.right} x {b.left}")
        dense = bm.toarray()
        with _single_blas():
            u, s, vt = np.linalg.svd(dense, full_matrices=False)

        def resid(k: int) -> float:
            if k >= s.shape[0]:
                return 0.0
            r1 = dense.T @ u[:, k] - s[k] * vt[k]
            r2 = dense @ vt[k] - s[k] * u[:, k]
            return float(math.hypot(np.linalg.norm(r1), np.linalg.norm(r2)))

        s2 = float(s[1]) if s.shape[0] > 1 else 0.0
        floor = _DENSE_FLOOR * max(dense.shape) * np.finfo(float).eps * max(float(s[0]), 1.0)
        r2 = resid(1)
        return SingularValues(
            float(s[0]),
            s2,
            r2,
            "dense svd",
            resid(0),
            0,
            True,
            time.perf_counter() - t0,
            sigma_2_bound=s2 + r2 + floor,
            upper_method=f"dense svd: value + residual + rounding floor {floor:.1e} (certain)",
            delta=float(delta),
        )
    if progress is not None:
        progress(f"singular values: Lanczos on the Gram matrix, {b.right} x {b.left}")
    # K maps the smaller side to the larger one; Lanczos runs on K^T K
    k_mat = bm if b.left <= b.right else bm.T.tocsr()
    dim = k_mat.shape[1]
    ncv = int(ncv or min(dim, 4000))
    maxiter = int(maxiter or 3 * ncv)
    fwd, bwd = _MatVec(k_mat, threads), _MatVec(k_mat.T.tocsr(), threads)
    blas = _single_blas()
    blas.__enter__()
    try:
        mid = np.empty(k_mat.shape[0])

        def gram(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
            return bwd(fwd(x, mid), out)

        dl, dr = b.left_degree, b.degree
        steps, converged = 0, True
        if normalised and dl is not None and dr is not None:
            sigma_1, r1 = 1.0, 0.0
            proj = _Projector(dim, constant=True)
            method = "lanczos on normalised Gram matrix (two-pass, constant vector deflated)"
        elif dl is not None and dr is not None and not normalised:
            sigma_1, r1 = math.sqrt(dl * dr), 0.0
            proj = _Projector(dim, constant=True)
            method = "lanczos on Gram matrix (two-pass, constant vector deflated)"
        else:
            perron = _lanczos_ends(
                gram,
                dim,
                _Projector(dim),
                ncv=ncv,
                tol=0.5 * tol,
                maxiter=maxiter,
                seed=seed,
                want_bot=False,
                store_budget=store_budget,
            )
            steps += perron.steps
            converged &= perron.converged
            sigma_1, r1 = _triplet(k_mat, perron.x_top)
            proj = _Projector(dim, vectors=[perron.x_top])
            method = "lanczos on Gram matrix (two-pass, Perron vector computed then deflated)"
        count0 = fwd.count
        kw = {"sigma_2_bound": None, "upper_method": "", "kw_steps": 0}
        if dim - proj.k < 1:
            sigma_2, r2 = 0.0, 0.0
            kw.update(sigma_2_bound=0.0, upper_method="sigma_2 = 0: nothing left after deflation")
        else:
            ends = _lanczos_ends(
                gram,
                dim,
                proj,
                ncv=ncv,
                tol=0.5 * tol,
                maxiter=maxiter,
                seed=seed + 1,
                want_bot=False,
                progress=progress,
                store_budget=store_budget,
            )
            steps += ends.steps
            sigma_2, r2 = _triplet(k_mat, ends.x_top)
            kw.update(_gram_bound(k_mat, gram, proj, dim, ends, sigma_2, delta))
        converged = bool(converged and r2 <= tol and r1 <= tol)
        if not converged:
            warnings.warn(
                f"bipartite_singular_values: residual {max(r1, r2):.2e} did not reach "
                f"tol={tol:.1e} in {steps} steps (converged=False)",
                RuntimeWarning,
                stacklevel=2,
            )
        return SingularValues(
            sigma_1,
            sigma_2,
            r2,
            method,
            r1,
            steps,
            converged,
            time.perf_counter() - t0,
            delta=float(delta),
            matvecs=int(fwd.count - count0),
            **kw,
        )
    finally:
        blas.__exit__(None, None, None)
        fwd.close()
        bwd.close()


def _gram_bound(k_mat, gram, proj, dim, ends, sigma_2, delta) -> dict:
    """KW upper bound on ``sigma_2`` from the Lanczos run on the deflated Gram matrix."""
    from .kw import kw_epsilon, kw_interval

    k1 = ends.kw_steps
    # ||K^T K|| <= ||K||_1 ||K||_inf (certain), and the Gram matrix is PSD
    hi = _gershgorin(k_mat) * _gershgorin(k_mat.T.tocsr())
    floor = 10.0 * k1 * np.finfo(float).eps * max(hi, 1e-300)
    xi = min(max(ends.kw_top, ends.top, sigma_2**2), hi)
    upper = kw_interval(
        xi, None, n=dim, k=k1, delta_top=delta, delta_bot=delta, lo=0.0, hi=hi, floor=floor
    )[0]
    cols = ([np.full(dim, 1.0 / math.sqrt(dim))] if proj.constant else []) + list(proj.q)
    defect = 0.0
    if cols:
        q = np.stack(cols, axis=1)
        gq = np.stack([gram(c.copy()) for c in cols], axis=1)
        defect = float(np.linalg.norm(gq - q @ (q.T @ gq)))
    eps = kw_epsilon(dim, k1, delta)
    return {
        "sigma_2_bound": math.sqrt(max(upper + defect, 0.0)),
        "upper_method": (
            f"Kuczynski-Wozniakowski (1992) on the deflated Gram matrix: {k1} Lanczos steps "
            f"of one run from one random start (restarts not counted), n={dim}, "
            f"eps={eps:.2e}, holds except with probability <= delta={delta:g}; + deflation "
            f"defect {defect:.1e} + rounding floor {floor:.1e}"
        ),
        "kw_steps": int(k1),
    }


def _triplet(k_mat, v: np.ndarray) -> tuple[float, float]:
    """``(sigma, error bar)`` of the right singular vector estimate ``v`` of ``k_mat``."""
    v = v / np.linalg.norm(v)
    kv = k_mat @ v
    sigma = float(np.linalg.norm(kv))
    gram_res = float(np.linalg.norm(k_mat.T @ kv - sigma**2 * v))
    if sigma == 0.0:
        return 0.0, math.sqrt(gram_res)
    return sigma, min(gram_res / sigma, math.sqrt(gram_res))
