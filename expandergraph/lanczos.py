"""Two-pass Lanczos for the extreme eigenpairs of a deflated symmetric operator.

Internal engine of :mod:`expandergraph.spectrum` (conventions there): the
threaded CSR product :class:`_MatVec`, the deflating :class:`_Projector` and
:func:`_lanczos_ends`, which also records, for the Kuczynski-Wozniakowski bound
(:mod:`expandergraph.kw`), the Ritz values and step count of its first cycle:
one run from one random start.

References
----------
Parlett, *The Symmetric Eigenvalue Problem*, SIAM 1998, ch. 13.

Examples
--------
>>> import scipy.sparse as sp
>>> a = sp.csr_matrix(np.diag([3.0, 1.0, 0.5, -2.0]))
>>> e = _lanczos_ends(_MatVec(a), 4, _Projector(4), ncv=10, tol=1e-10, maxiter=40, seed=0)
>>> round(e.top, 9), round(e.bot, 9)
(3.0, -2.0)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


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
    """How many float32 Lanczos vectors of length ``n`` fit in the basis budget (bytes)."""
    if budget is None:
        # default off: measured on the 2-core CI VM, writing fresh float32 basis
        # memory cost as much as the second pass it saves (page faults, presumably)
        return 0
    if budget < 0:
        avail = 0
        try:
            with open("/proc/meminfo") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        avail = int(line.split()[1]) * 1024
                        break
        except OSError:  # pragma: no cover - not Linux
            avail = 0
        budget = min(avail // 4, 8 * 2**30)
    return int(max(budget, 0) // (4 * n))


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
    store_budget: int | None = None,
) -> _Ends:
    """Largest (and smallest) eigenpair of ``P A P`` on the range of the projector ``P``.

    Cycle 1 uses ``fast`` (a cheaper, float32 product) when given, until the Ritz
    estimates reach ``max(tol/2, fast_target)``; later cycles restart from its
    Ritz vectors with the exact float64 ``matvec``.  Residuals are always
    computed explicitly with ``matvec``.

    The Lanczos vectors are kept in float32 while they fit in ``store_budget``
    bytes (default 0: off; -1: a quarter of the available memory, at most 8 GiB), so the
    Ritz vectors come without a second pass; if the explicit residual of such
    a Ritz vector misses ``tol`` (float32 storage rounding), or the basis did
    not fit, pass two regenerates the vectors exactly.
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
    while True:
        cycle += 1
        op = fast if (cycle == 1 and fast is not None) else matvec
        target = max(0.5 * tol, fast_target) if op is fast else 0.5 * tol
        project(v0)
        v0 = dscal(1.0 / dnrm2(v0), v0)
        basis = np.empty((rows, n), dtype=np.float32) if rows >= 2 else None
        # ---- pass 1: the recurrence, Ritz estimates every 20 steps
        alpha: list[float] = []
        beta: list[float] = []
        v, v_prev, b_prev = v0, None, 0.0
        ritz = None
        breakdown = False
        ring = [np.empty(n) for _ in range(3)]  # reused vectors: no allocation per step
        for j in range(steps_cap):
            if basis is not None:
                if j < rows:
                    basis[j] = v
                else:  # the basis outgrew its budget: free it, pass two will regenerate
                    basis = None
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
        del ring
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
        res = None
        if basis is not None and steps <= rows:
            # Ritz vectors from the stored basis (float64 accumulation in chunks)
            ys = np.zeros((coef.shape[0], n))
            for j0 in range(0, steps, 16):
                j1 = min(steps, j0 + 16)
                ys += coef[:, j0:j1] @ basis[j0:j1].astype(np.float64)
            del basis
            res = _explicit(matvec, project, ys, want_bot)
            if max(r[2] for r in res) > tol and max(est_top, est_bot) <= target:
                res = None  # float32 storage rounding shows: regenerate exactly
        else:
            del basis
        if res is None:
            if progress is not None:
                kind = "float32 products" if op is fast else "float64"
                progress(f"lanczos cycle {cycle} ({kind}): {steps} steps, forming Ritz vectors")
            ys = _regenerate(op, project, v0, alpha, beta, coef, n)
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
    top, x_top, r_top = best_top
    bot, x_bot, r_bot = best_bot if want_bot else (np.nan, None, 0.0)
    return _Ends(top, bot, x_top, x_bot, r_top, r_bot, total, max(r_top, r_bot) <= tol, **kw)


def _regenerate(op, project, v0, alpha, beta, coef, n) -> np.ndarray:
    """Pass two: rerun the recurrence and accumulate ``coef @ V`` (Ritz vectors).

    In batches of vectors: one matrix product per batch instead of two axpys
    per step, which saves memory traffic.
    """
    from scipy.linalg.blas import daxpy, dscal

    steps = len(alpha)
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


def _rayleigh_residual(a, x: np.ndarray) -> tuple[float, float]:
    ax = a @ x
    theta = float(x @ ax)
    return theta, float(np.linalg.norm(ax - theta * x))
