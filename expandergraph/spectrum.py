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
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .graph import BipartiteGraph, Graph

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
        """Upper end of the interval the verdicts use for ``lam`` (``lam + error``)."""
        return float(self.lam + self.error)

    @property
    def lam_lower(self) -> float:
        """Lower end of the interval the verdicts use for ``lam`` (``lam - error``, >= 0)."""
        return float(max(self.lam - self.error, 0.0))

    @property
    def lambda_2_upper(self) -> float:
        """Upper end of the interval for ``lambda_2`` (the Cheeger bound uses it)."""
        return float(self.lambda_2 + (self.residual_2 if self.connected else self.residual_1))

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

    def __iter__(self):
        return iter((self.sigma_1, self.sigma_2, self.residual, self.method))

    @property
    def sigma_2_upper(self) -> float:
        """Upper end of the interval the verdicts use for ``sigma_2``."""
        return float(self.sigma_2 + self.residual)

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
# matrix-vector products
# ---------------------------------------------------------------------------
class _MatVec:
    """``y = A x`` for a scipy CSR matrix, split in row blocks over threads and
    in two column halves for cache locality when ``x`` is large.

    scipy's sparse kernels release the GIL, so threads run in parallel.  Every
    output row is always computed by the same code path, so results are
    bitwise reproducible (needed by the two-pass Lanczos).  The products
    accumulate in place into the output (scipy's ``csr_matvec`` kernel, with
    the public ``@`` as fallback), so no temporary vectors are allocated.
    """

    def __init__(self, a, threads: int | None = None):
        import scipy.sparse as sp

        a = sp.csr_matrix(a, dtype=np.float64)
        n_rows, n_cols = a.shape
        self.shape = a.shape
        self.threads = int(threads or min(2, os.cpu_count() or 1))
        if a.nnz < 200_000:
            self.threads = 1
        ncol = 2 if n_cols >= 2**19 else 1
        self.cols = np.linspace(0, n_cols, ncol + 1).astype(np.int64)
        self.rows = np.linspace(0, n_rows, self.threads + 1).astype(np.int64)
        it = np.int32 if max(n_rows, n_cols, a.nnz) < 2**31 - 1 else np.int64
        ptr = a.indptr.astype(np.int64)
        self.blocks = []
        for t in range(self.threads):
            r0, r1 = self.rows[t], self.rows[t + 1]
            idx = a.indices[ptr[r0] : ptr[r1]].astype(np.int64)
            dat = a.data[ptr[r0] : ptr[r1]]
            rows = np.repeat(np.arange(r1 - r0), np.diff(ptr[r0 : r1 + 1]))
            parts = []
            for c in range(ncol):
                c0, c1 = self.cols[c], self.cols[c + 1]
                keep = (idx >= c0) & (idx < c1)
                counts = np.bincount(rows[keep], minlength=r1 - r0)
                indptr = np.zeros(r1 - r0 + 1, dtype=it)
                np.cumsum(counts, out=indptr[1:])
                parts.append(
                    sp.csr_matrix(
                        (dat[keep], (idx[keep] - c0).astype(it), indptr),
                        shape=(r1 - r0, c1 - c0),
                        copy=False,
                    )
                )
            self.blocks.append(parts)
        # the same patterns with float32 values, for the cheap first Lanczos cycle
        self.data32 = [[b.data.astype(np.float32) for b in parts] for parts in self.blocks]
        try:
            from scipy.sparse._sparsetools import csr_matvec

            self.kernel = csr_matvec
        except ImportError:  # pragma: no cover - private scipy API moved
            self.kernel = None
        self.x32: np.ndarray | None = None
        self.y32: np.ndarray | None = None
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self.count = 0

    def _rows(self, t: int, x: np.ndarray, y: np.ndarray, f32: bool) -> None:
        r0, r1 = self.rows[t], self.rows[t + 1]
        ys = y[r0:r1]
        ys[:] = 0
        for c, b in enumerate(self.blocks[t]):
            xs = x[self.cols[c] : self.cols[c + 1]]
            data = self.data32[t][c] if f32 else b.data
            if self.kernel is not None:
                self.kernel(b.shape[0], b.shape[1], b.indptr, b.indices, data, xs, ys)
            else:  # pragma: no cover
                ys += (b.astype(np.float32) if f32 else b) @ xs

    def __call__(
        self, x: np.ndarray, out: np.ndarray | None = None, f32: bool = False
    ) -> np.ndarray:
        self.count += 1
        y = np.empty(self.shape[0], dtype=np.float64) if out is None else out
        if f32:
            if self.x32 is None:
                self.x32 = np.empty(self.shape[1], dtype=np.float32)
                self.y32 = np.empty(self.shape[0], dtype=np.float32)
            np.copyto(self.x32, x, casting="same_kind")
            xx, yy = self.x32, self.y32
        else:
            xx, yy = x, y
        if self.pool is None:
            self._rows(0, xx, yy, f32)
        else:
            list(self.pool.map(lambda t: self._rows(t, xx, yy, f32), range(self.threads)))
        if f32:
            np.copyto(y, yy)
        return y

    def fast(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``A x`` with float32 values and sums (relative error about 1e-7), float64 out."""
        return self(x, out, f32=True)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


class _Projector:
    """Orthogonal projection onto the complement of a few known vectors."""

    def __init__(self, n: int, constant: bool = False, vectors: list[np.ndarray] | None = None):
        self.constant = constant
        q = []
        for v in vectors or []:
            v = np.asarray(v, dtype=np.float64).copy()
            if constant:
                v -= v.mean()
            for u in q:
                v -= (u @ v) * u
            nrm = np.linalg.norm(v)
            if nrm > 1e-8:
                q.append(v / nrm)
        self.q = q
        self.k = int(constant) + len(q)

    def __call__(self, w: np.ndarray) -> None:
        from scipy.linalg.blas import daxpy, ddot

        if self.constant:
            w -= w.mean()
        for u in self.q:
            daxpy(u, w, a=-float(ddot(u, w)))


# ---------------------------------------------------------------------------
# two-pass Lanczos for the extreme eigenpairs
# ---------------------------------------------------------------------------
@dataclass
class _Ends:
    top: float
    bot: float
    x_top: np.ndarray | None
    x_bot: np.ndarray | None
    r_top: float
    r_bot: float
    steps: int
    converged: bool


def _ritz(alpha: list, beta: list, want_top: bool, want_bot: bool):
    """Extreme eigenpairs of the Lanczos tridiagonal matrix."""
    from scipy.linalg import eigh_tridiagonal

    a = np.asarray(alpha)
    b = np.asarray(beta[: len(alpha) - 1])
    m = a.shape[0]
    out = {}
    if m == 1:
        one = np.ones((1, 1))
        return {"top": (a[0], one[:, 0]), "bot": (a[0], one[:, 0])}
    if want_top:
        w, s = eigh_tridiagonal(a, b, select="i", select_range=(m - 1, m - 1))
        out["top"] = (w[0], s[:, 0])
    if want_bot:
        w, s = eigh_tridiagonal(a, b, select="i", select_range=(0, 0))
        out["bot"] = (w[0], s[:, 0])
    return out


def _lanczos_ends(
    matvec: Callable[..., np.ndarray],
    n: int,
    project: _Projector,
    *,
    ncv: int,
    tol: float,
    maxiter: int,
    seed: int,
    want_bot: bool = True,
    progress: Callable[[str], None] | None = None,
    fast: Callable[..., np.ndarray] | None = None,
    fast_target: float = 1e-7,
) -> _Ends:
    """Largest (and smallest) eigenpair of ``P A P`` on the range of the projector ``P``.

    Cycle 1 uses ``fast`` (a cheaper, float32 product) when given, until the Ritz
    estimates reach ``max(tol/2, fast_target)``; later cycles restart from its
    Ritz vectors with the exact float64 ``matvec``.  Residuals are always
    computed explicitly with ``matvec``.
    """
    from scipy.linalg.blas import daxpy, ddot, dnrm2, dscal

    rng = np.random.default_rng(seed)
    dim = n - project.k  # dimension of the space Lanczos works in
    steps_cap = max(1, min(ncv, dim))
    v0 = rng.standard_normal(n)
    total = 0
    best_top = best_bot = None
    cycle = 0
    while True:
        cycle += 1
        op = fast if (cycle == 1 and fast is not None) else matvec
        target = max(0.5 * tol, fast_target) if op is fast else 0.5 * tol
        project(v0)
        v0 = dscal(1.0 / dnrm2(v0), v0)
        # ---- pass 1: the recurrence, Ritz estimates every 20 steps
        alpha: list[float] = []
        beta: list[float] = []
        v, v_prev, b_prev = v0, None, 0.0
        ritz = None
        breakdown = False
        ring = [np.empty(n) for _ in range(3)]  # reused vectors: no allocation per step
        for j in range(steps_cap):
            w = op(v, ring[j % 3])
            if v_prev is not None:
                daxpy(v_prev, w, a=-b_prev)
            a = float(ddot(w, v))
            daxpy(v, w, a=-a)
            project(w)
            b = float(dnrm2(w))
            alpha.append(a)
            beta.append(b)
            m = j + 1
            breakdown = b <= 1e-10 * max(1.0, abs(a))
            if breakdown or m == steps_cap or m % 20 == 0:
                ritz = _ritz(alpha, beta, True, want_bot)
                est_top = b * abs(ritz["top"][1][-1])
                est_bot = b * abs(ritz["bot"][1][-1]) if want_bot else 0.0
                if breakdown or max(est_top, est_bot) <= target or total + m >= maxiter:
                    break
            dscal(1.0 / b, w)
            v_prev, v, b_prev = v, w, b
        steps = len(alpha)
        total += steps
        if progress is not None:
            kind = "float32 products" if op is fast else "float64"
            progress(f"lanczos cycle {cycle} ({kind}): {steps} steps, forming Ritz vectors")
        # ---- pass 2: regenerate the same vectors, accumulate the Ritz vectors
        # (in batches of `batch` vectors: one matrix product per batch instead of
        # two axpys per step, which saves memory traffic)
        coef = np.stack([ritz["top"][1], ritz["bot"][1]] if want_bot else [ritz["top"][1]])
        ys = coef[:, :1] * v0[None, :]
        batch = max(3, min(16, steps))
        buf = np.empty((batch, n))
        v, v_prev, b_prev = v0, None, 0.0
        for j in range(steps - 1):
            slot = j % batch
            w = op(v, buf[slot])
            if v_prev is not None:
                daxpy(v_prev, w, a=-b_prev)
            daxpy(v, w, a=-alpha[j])
            project(w)
            dscal(1.0 / beta[j], w)
            if slot == batch - 1 or j == steps - 2:
                ys += coef[:, j + 1 - slot : j + 2] @ buf[: slot + 1]
            v_prev, v, b_prev = v, w, beta[j]
        y_top = ys[0].copy()
        y_bot = ys[1].copy() if want_bot else None
        del buf, ys
        # ---- explicit residuals, always with the float64 product
        res = []
        for y in (y_top, y_bot) if want_bot else (y_top,):
            project(y)
            y /= np.linalg.norm(y)
            ay = matvec(y)
            theta = float(y @ ay)
            r = ay - theta * y
            project(r)  # residual within the deflated operator P A P
            res.append((theta, y, float(np.linalg.norm(r))))
        if best_top is None or res[0][2] < best_top[2]:
            best_top = res[0]
        if want_bot and (best_bot is None or res[1][2] < best_bot[2]):
            best_bot = res[1]
        r_top, r_bot = best_top[2], (best_bot[2] if want_bot else 0.0)
        if progress is not None:
            progress(f"lanczos cycle {cycle}: residuals {r_top:.1e}, {r_bot:.1e}")
        if max(r_top, r_bot) <= tol or (breakdown and op is matvec) or total >= maxiter:
            break
        # restart from the Ritz vectors of both ends
        v0 = best_top[1] + best_bot[1] if want_bot else best_top[1].copy()
    top, x_top, r_top = best_top
    bot, x_bot, r_bot = best_bot if want_bot else (np.nan, None, 0.0)
    return _Ends(top, bot, x_top, x_bot, r_top, r_bot, total, max(r_top, r_bot) <= tol)


def _rayleigh_residual(a, x: np.ndarray) -> tuple[float, float]:
    ax = a @ x
    theta = float(x @ ax)
    return theta, float(np.linalg.norm(ax - theta * x))


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
        Run the first Lanczos cycle with float32 sparse products (about 2x
        cheaper, relative error about 1e-7), then restart from its Ritz
        vectors in float64 until ``tol``; every reported residual is computed
        in float64.  Default: on for ``n >= 100000``.
    normalised : bool
        Use the normalised adjacency ``D^{-1/2} A D^{-1/2}`` instead of ``A``
        (top eigenvalue 1, Perron vector ``sqrt(deg)``); ``degree`` is then the
        graph's degree as before but the eigenvalues are those of the normalised
        matrix.  For a ``d``-regular graph this is ``A / d``.

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
    t0 = time.perf_counter()
    a = _adjacency(g)
    connected, colour = _structure(a)
    bipartite = colour is not None if connected else g.is_bipartite()
    d = g.degree
    n = g.n
    if normalised:
        a = normalised_operator(a)
        d = None if d is None else 1
    if n <= max(dense_limit, 2):  # n = 2 bipartite leaves Lanczos an empty space
        if progress is not None:
            progress(f"spectrum: dense eigh, n={n}")
        with _single_blas():
            return _dense_spectrum(a, d, connected, bipartite, t0)
    if progress is not None:
        progress(f"spectrum: Lanczos, n={n}, edges={g.num_edges}")
    ncv = int(ncv or min(n, 4000))
    maxiter = int(maxiter or 3 * ncv)
    mv = _MatVec(a, threads)
    fast = mv.fast if (n >= 100_000 if mixed is None else mixed) else None
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
    return SpectralResult(
        n=n,
        degree=d,
        lambda_1=float(w[-1]),
        lambda_2=float(w[-2]),
        lambda_min=float(w[0]),
        lam=lam,
        residual_1=resid(n - 1),
        residual_2=resid(n - 2),
        residual_min=resid(0),
        method="dense eigh",
        iterations=0,
        seconds=time.perf_counter() - t0,
        connected=connected,
        bipartite=bipartite,
        lambda_min_nontrivial=lmin_nt,
        residual_min_nontrivial=resid(i_min_nt) if lmin_nt is not None else 0.0,
        converged=True,
        trivial=trivial,
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
    a, mv, n, d, connected, bipartite, colour, ncv, maxiter, tol, seed, progress, t0, fast
) -> SpectralResult:
    steps = 0
    converged = True
    if d is not None:
        lambda_1, r1 = float(d), 0.0
        vectors = [colour] if (connected and bipartite) else []
        proj = _Projector(n, constant=True, vectors=vectors)
        method = "lanczos (two-pass, constant vector deflated"
        method += ", +-1 bipartition vector deflated)" if vectors else ")"
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
        )
        steps += perron.steps
        converged &= perron.converged
        lambda_1, r1 = perron.top, perron.r_top
        x1 = perron.x_top
        vectors = [x1] + ([x1 * colour] if (connected and bipartite) else [])
        proj = _Projector(n, constant=False, vectors=vectors)
        method = "lanczos (two-pass, Perron vector computed then deflated)"
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
        return SingularValues(
            float(s[0]), s2, resid(1), "dense svd", resid(0), 0, True, time.perf_counter() - t0
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
            )
            steps += perron.steps
            converged &= perron.converged
            sigma_1, r1 = _triplet(k_mat, perron.x_top)
            proj = _Projector(dim, vectors=[perron.x_top])
            method = "lanczos on Gram matrix (two-pass, Perron vector computed then deflated)"
        if dim - proj.k < 1:
            sigma_2, r2 = 0.0, 0.0
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
            )
            steps += ends.steps
            sigma_2, r2 = _triplet(k_mat, ends.x_top)
        converged = bool(converged and r2 <= tol and r1 <= tol)
        if not converged:
            warnings.warn(
                f"bipartite_singular_values: residual {max(r1, r2):.2e} did not reach "
                f"tol={tol:.1e} in {steps} steps (converged=False)",
                RuntimeWarning,
                stacklevel=2,
            )
        return SingularValues(
            sigma_1, sigma_2, r2, method, r1, steps, converged, time.perf_counter() - t0
        )
    finally:
        blas.__exit__(None, None, None)
        fwd.close()
        bwd.close()


def _triplet(k_mat, v: np.ndarray) -> tuple[float, float]:
    """``(sigma, error bar)`` of the right singular vector estimate ``v`` of ``k_mat``."""
    v = v / np.linalg.norm(v)
    kv = k_mat @ v
    sigma = float(np.linalg.norm(kv))
    gram_res = float(np.linalg.norm(k_mat.T @ kv - sigma**2 * v))
    if sigma == 0.0:
        return 0.0, math.sqrt(gram_res)
    return sigma, min(gram_res / sigma, math.sqrt(gram_res))
