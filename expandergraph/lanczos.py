"""Lanczos for the extreme eigenpairs of a deflated symmetric operator, with error bars.

Conventions
-----------
* The operator is ``P A P`` with ``A`` symmetric (given by a product ``x -> A x``,
  e.g. :class:`expandergraph.matvec.MatVec`) and ``P`` the orthogonal projection
  of a :class:`Projector` onto the complement of a few known vectors.
* :func:`lanczos_ends` runs the three-term recurrence (memory ``O(n)``, at
  most ``ncv`` steps per cycle), watches the Ritz estimates ``beta_m |s_m|``
  and forms the Ritz vectors of both ends (from a stored float32 basis, or by
  regenerating the Lanczos vectors in a second pass); every reported residual
  ``||P A y - theta y||`` is computed explicitly in float64.  A cycle that
  misses ``tol`` restarts from its Ritz vectors.
* For the Kuczynski-Wozniakowski bound (:mod:`expandergraph.kw`) it records
  the Ritz values and step count of its first cycle: one run from one random
  start.  :func:`rounding_floor` and :func:`deflation_defect` are the slack the
  callers add to that bound.

References
----------
Parlett, *The Symmetric Eigenvalue Problem*, SIAM 1998, ch. 13 (Lanczos, the
two-pass variant).

Examples
--------
>>> import scipy.sparse as sp
>>> from expandergraph.matvec import MatVec
>>> a = sp.csr_matrix(np.diag([3.0, 1.0, 0.5, -2.0]))
>>> e = lanczos_ends(MatVec(a), 4, Projector(4), ncv=10, tol=1e-10, maxiter=40, seed=0)
>>> round(e.top, 9), round(e.bot, 9)
(3.0, -2.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .matvec import gershgorin
from .threads import worker_threads

__all__ = [
    "Projector",
    "LanczosEnds",
    "lanczos_ends",
    "rayleigh_residual",
    "rounding_floor",
    "deflation_defect",
    "check_options",
    "check_delta",
]


def check_options(dense_limit, tol, ncv, threads) -> None:
    """One-line ``ValueError`` for a bad ``dense_limit``, ``tol``, ``ncv`` or ``threads``.

    Examples
    --------
    >>> check_options(2000, 1e-8, None, None)
    >>> check_options(2000, 2.0, None, None)
    Traceback (most recent call last):
    ...
    ValueError: tol: must be a number in (0, 1), got 2.0
    """
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


def check_delta(delta) -> None:
    """One-line ``ValueError`` unless ``delta`` is a failure probability in ``(0, 1)``."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise ValueError(f"delta: must be a failure probability in (0, 1), got {delta!r}")


class Projector:
    """Orthogonal projection onto the complement of a few known vectors, in place.

    ``constant=True`` also projects out the constant vector (first, and the
    other vectors are made orthogonal to it); ``q`` holds the orthonormalised
    vectors and ``k`` the dimension removed.

    Examples
    --------
    >>> p = Projector(3, constant=True)
    >>> w = np.array([1.0, 2.0, 6.0])
    >>> p(w)
    >>> w.tolist(), p.k
    ([-2.0, -1.0, 3.0], 1)
    """

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
class LanczosEnds:
    """Result of :func:`lanczos_ends`: the top (and bottom) Ritz pair, residuals, steps.

    ``kw_*`` describe the first cycle only (one run from one random start), as
    the Kuczynski-Wozniakowski bound needs; ``kw_f32`` says it used float32 products.
    """

    top: float
    bot: float
    x_top: np.ndarray | None
    x_bot: np.ndarray | None
    r_top: float
    r_bot: float
    steps: int
    converged: bool
    # cycle 1 (ONE run from ONE random start), for the Kuczynski-Wozniakowski bound
    kw_steps: int = 0
    kw_top: float = float("nan")
    kw_bot: float = float("nan")
    kw_f32: bool = False


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


def _store_rows(n: int, budget: int | None) -> int:
    """How many float64 Lanczos vectors of length ``n`` fit in the basis budget (bytes).

    ``None`` or a negative budget: a third of the available memory, at most 8 GiB.
    """
    if budget is None or budget < 0:
        avail = 0
        try:
            with open("/proc/meminfo") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        avail = int(line.split()[1]) * 1024
                        break
        except OSError:  # pragma: no cover - not Linux
            avail = 0
        budget = min(avail // 3, 8 * 2**30)
    return int(max(budget, 0) // (8 * n))


def _basis(rows: int, n: int) -> np.ndarray:
    """Uninitialised ``(rows, n)`` float64 array whose pages are faulted in lazily, 4 KiB each.

    The Lanczos basis is written once, row by row, and read sequentially, so
    transparent huge pages buy nothing there; faulting them in costs more than
    the sparse product itself on a virtual machine (measured: 22 ms per 8 MB row
    against 1 ms with 4 KiB pages, at n = 10^6).  Rows never reached cost no
    memory.  Falls back to ``numpy.empty`` where anonymous ``mmap`` is missing.
    """
    import mmap

    size = rows * n * 8
    try:
        buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return np.empty((rows, n))
    advice = getattr(mmap, "MADV_NOHUGEPAGE", None)
    if advice is not None:
        try:
            buf.madvise(advice)
        except OSError:  # pragma: no cover - kernel without THP
            pass
    return np.frombuffer(buf, dtype=np.float64).reshape(rows, n)


def lanczos_ends(
    matvec: Callable[..., np.ndarray],
    n: int,
    project: Projector,
    *,
    ncv: int,
    tol: float,
    maxiter: int,
    seed: int,
    want_bot: bool = True,
    progress: Callable[[str], None] | None = None,
    fast: Callable[..., np.ndarray] | None = None,
    fast_target: float = 1e-7,
    store_budget: int | None = None,
    threads: int | None = None,
) -> LanczosEnds:
    """Largest (and smallest) eigenpair of ``P A P`` on the range of the projector ``P``.

    Cycle 1 uses ``fast`` (a cheaper, float32 product) when given, until the Ritz
    estimates reach ``max(tol/2, fast_target)``; later cycles restart from its
    Ritz vectors with the exact float64 ``matvec``.  Residuals are always
    computed explicitly with ``matvec``.

    The first Lanczos vectors are kept (float64, written in place by the
    products) while they fit in ``store_budget`` bytes (default ``None``: a
    third of the available memory, at most 8 GiB; ``0``: none).  The Ritz
    vectors are combined from the stored rows, and pass two regenerates only
    the vectors beyond them, restarting the recurrence from the last two stored
    ones (bitwise the same vectors: the same operations in the same order).
    The combinations run on ``threads`` threads (default
    :func:`expandergraph.threads.worker_threads`), in column blocks.
    """
    from scipy.linalg.blas import daxpy, ddot, dnrm2, dscal

    rng = np.random.default_rng(seed)
    dim = n - project.k  # dimension of the space Lanczos works in
    steps_cap = max(1, min(ncv, dim))
    v0 = rng.standard_normal(n)
    total = 0
    best_top = best_bot = None
    cycle = 0
    kw: dict = {}
    rows = min(steps_cap, _store_rows(n, store_budget))
    basis = _basis(rows, n) if rows >= 2 else None
    ring = [np.empty(n) for _ in range(3)]  # reused vectors beyond the stored ones
    while True:
        cycle += 1
        op = fast if (cycle == 1 and fast is not None) else matvec
        target = max(0.5 * tol, fast_target) if op is fast else 0.5 * tol
        project(v0)
        v0 = dscal(1.0 / dnrm2(v0), v0)
        # ---- pass 1: the recurrence, Ritz estimates every 20 steps
        alpha: list[float] = []
        beta: list[float] = []
        if basis is not None:
            basis[0] = v0
            v = basis[0]
        else:
            v = v0
        v_prev, b_prev = None, 0.0
        ritz = None
        breakdown = False
        for j in range(steps_cap):
            w = op(v, basis[j + 1] if basis is not None and j + 1 < rows else ring[j % 3])
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
        if cycle == 1:
            kw = {
                "kw_steps": steps,
                "kw_top": float(ritz["top"][0]),
                "kw_bot": float(ritz["bot"][0]) if want_bot else float("nan"),
                "kw_f32": op is fast,
            }
        coef = np.stack([ritz["top"][1], ritz["bot"][1]] if want_bot else [ritz["top"][1]])
        if progress is not None:
            kind = "float32 products" if op is fast else "float64"
            progress(f"lanczos cycle {cycle} ({kind}): {steps} steps, forming Ritz vectors")
        stored = basis[: min(rows, steps)] if basis is not None else None
        ys = _regenerate(op, project, v0, alpha, beta, coef, n, stored, threads)
        res = _explicit(matvec, project, ys, want_bot)
        del ys
        if best_top is None or res[0][2] < best_top[2]:
            best_top = res[0]
        if want_bot and (best_bot is None or res[1][2] < best_bot[2]):
            best_bot = res[1]
        r_top, r_bot = best_top[2], (best_bot[2] if want_bot else 0.0)
        if progress is not None:
            progress(f"lanczos cycle {cycle}: {steps} steps, residuals {r_top:.1e}, {r_bot:.1e}")
        if max(r_top, r_bot) <= tol or (breakdown and op is matvec) or total >= maxiter:
            break
        # restart from the Ritz vectors of both ends
        v0 = best_top[1] + best_bot[1] if want_bot else best_top[1].copy()
    del basis, ring
    top, x_top, r_top = best_top
    bot, x_bot, r_bot = best_bot if want_bot else (np.nan, None, 0.0)
    return LanczosEnds(top, bot, x_top, x_bot, r_top, r_bot, total, max(r_top, r_bot) <= tol, **kw)


def _combine(coef: np.ndarray, rows: np.ndarray, out: np.ndarray, threads: int | None) -> None:
    """``out += coef @ rows`` in column blocks on ``threads`` threads (BLAS releases the GIL)."""
    n = rows.shape[1]
    t = worker_threads(threads)
    if t == 1 or n < 65536:
        out += coef @ rows
        return
    from concurrent.futures import ThreadPoolExecutor

    edges = np.linspace(0, n, 4 * t + 1).astype(np.int64)

    def block(i: int) -> None:
        c0, c1 = edges[i], edges[i + 1]
        out[:, c0:c1] += coef @ rows[:, c0:c1]

    with ThreadPoolExecutor(t) as pool:
        list(pool.map(block, range(4 * t)))


def _regenerate(op, project, v0, alpha, beta, coef, n, stored=None, threads=None) -> np.ndarray:
    """Ritz vectors ``coef @ V``: from the stored rows of ``V``, then pass two for the rest.

    Pass two reruns the recurrence from the last two stored vectors (or from
    ``v0``), in batches: one matrix product per batch instead of two axpys per
    step, which saves memory traffic.
    """
    from scipy.linalg.blas import daxpy, dscal

    steps = len(alpha)
    r = 0 if stored is None else stored.shape[0]
    if r >= 2:
        ys = np.zeros((coef.shape[0], n))
        _combine(coef[:, :r], stored, ys, threads)
        if r == steps:
            return ys
        j0, v, v_prev, b_prev = r - 1, stored[r - 1], stored[r - 2], beta[r - 2]
    else:
        ys = coef[:, :1] * v0[None, :]
        j0, v, v_prev, b_prev = 0, v0, None, 0.0
    batch = max(3, min(16, steps - j0))
    buf = np.empty((batch, n))
    for j in range(j0, steps - 1):
        slot = (j - j0) % batch
        w = op(v, buf[slot])
        if v_prev is not None:
            daxpy(v_prev, w, a=-b_prev)
        daxpy(v, w, a=-alpha[j])
        project(w)
        dscal(1.0 / beta[j], w)
        if slot == batch - 1 or j == steps - 2:
            _combine(coef[:, j + 1 - slot : j + 2], buf[: slot + 1], ys, threads)
        v_prev, v, b_prev = v, w, beta[j]
    return ys


def _explicit(matvec, project, ys, want_bot) -> list:
    """``(theta, unit y, ||P A y - theta y||)`` for each Ritz vector, in float64."""
    res = []
    for y in (ys[0].copy(), ys[1].copy()) if want_bot else (ys[0].copy(),):
        project(y)
        y /= np.linalg.norm(y)
        ay = matvec(y)
        theta = float(y @ ay)
        r = ay - theta * y
        project(r)  # residual within the deflated operator P A P
        res.append((theta, y, float(np.linalg.norm(r))))
    return res


def rayleigh_residual(a, x: np.ndarray) -> tuple[float, float]:
    """``(x^T A x, ||A x - theta x||)`` of a unit vector ``x``: an eigenvalue and its error bar.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> rayleigh_residual(sp.csr_matrix(np.diag([2.0, 1.0])), np.array([1.0, 0.0]))
    (2.0, 0.0)
    """
    ax = a @ x
    theta = float(x @ ax)
    return theta, float(np.linalg.norm(ax - theta * x))


def rounding_floor(a, steps: int, f32: bool) -> float:
    """Slack for rounding in a ``steps``-step Lanczos run (float64, or float32 products).

    ``10 steps u rho`` with ``rho`` the Gershgorin bound, plus the float32
    product error when ``f32`` (added to the Kuczynski-Wozniakowski bound).
    """
    rho = max(gershgorin(a), 1e-300)
    floor = 10.0 * max(steps, 1) * np.finfo(float).eps * rho
    if f32:  # float32 products: (A + E_j) v_j with ||E_j|| <= (nnz/row + 2) 2^-24 rho
        floor += 2.0 * (int(np.diff(a.indptr).max()) + 2) * 2.0**-24 * rho
    return float(floor)


def deflation_defect(a, proj: Projector, n: int) -> tuple[float, np.ndarray]:
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
