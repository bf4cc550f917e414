"""Singular values of a layer's biadjacency: the two largest, and the mixing-bound spectrum.

Conventions
-----------
* A layer's matrix is its ``(right, left)`` biadjacency ``B``
  (:meth:`expandergraph.graph.BipartiteGraph.biadjacency`); singular values are
  ``sigma_1 >= sigma_2 >= ...``.  The normalised matrix is
  ``N = D_r^{-1/2} B D_l^{-1/2}`` (:func:`expandergraph.matvec.normalised_operator`),
  whose top singular value is 1 with singular vectors ``sqrt(d_r / |E|)`` and
  ``sqrt(d_l / |E|)``.
* Every value comes with an error bar: some singular value lies within it
  (dense SVD: residual plus a rounding floor; Lanczos: the explicit triplet
  residual of the Ritz vector).  That it is the *extreme* one holds with high
  probability for Lanczos from a random start, and
  :attr:`SingularValues.sigma_2_upper` is a Kuczynski-Wozniakowski upper
  bound (:mod:`expandergraph.kw`) that fails with probability at most ``delta``.
* Both :func:`bipartite_singular_values` and :func:`layer_spectrum` run the one
  Lanczos engine of :mod:`expandergraph.lanczos` on the Gram matrix of the
  smaller side, with the known top singular vector deflated.

References
----------
Golub and Van Loan, *Matrix Computations*, 4th ed., sec. 8.6 and 10.4;
Hoory, Linial and Wigderson, "Expander graphs and their applications",
Bull. AMS 43 (2006) sec. 2.4 (the bipartite expander mixing lemma);
F. Chung, *Spectral Graph Theory* (1997) ch. 1 (normalised matrices).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable

import numpy as np

from .graph import BipartiteGraph
from .kw import kw_epsilon, kw_interval
from .lanczos import Projector, check_delta, check_options, lanczos_ends
from .matvec import MatVec, gershgorin, normalised_operator
from .spectral_results import LayerSpectrum, SingularValues
from .threads import single_blas

__all__ = [
    "SingularValues",
    "bipartite_singular_values",
    "LayerSpectrum",
    "layer_spectrum",
    "layer_spectra",
    "DENSE_FLOOR",
]

#: dense eigh/svd backward error taken as ``DENSE_FLOOR * n * u * ||A||``
DENSE_FLOOR = 4.0


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
    otherwise Lanczos (:mod:`expandergraph.lanczos`) on the Gram matrix of the smaller side
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
    check_options(dense_limit, tol, ncv, threads)
    check_delta(delta)
    t0 = time.perf_counter()
    bm = b.biadjacency(dtype=np.float64)
    if normalised:
        bm = normalised_operator(bm)
    if b.left * b.right <= dense_limit**2:
        if progress is not None:
            progress(f"singular values: dense svd, {b.right} x {b.left}")
        dense = bm.toarray()
        with single_blas():
            u, s, vt = np.linalg.svd(dense, full_matrices=False)

        def resid(k: int) -> float:
            if k >= s.shape[0]:
                return 0.0
            r1 = dense.T @ u[:, k] - s[k] * vt[k]
            r2 = dense @ vt[k] - s[k] * u[:, k]
            return float(math.hypot(np.linalg.norm(r1), np.linalg.norm(r2)))

        s2 = float(s[1]) if s.shape[0] > 1 else 0.0
        floor = DENSE_FLOOR * max(dense.shape) * np.finfo(float).eps * max(float(s[0]), 1.0)
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
    fwd, bwd = MatVec(k_mat, threads), MatVec(k_mat.T.tocsr(), threads)
    blas = single_blas()
    blas.__enter__()
    try:
        mid = np.empty(k_mat.shape[0])

        def gram(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
            return bwd(fwd(x, mid), out)

        dl, dr = b.left_degree, b.degree
        steps, converged = 0, True
        if normalised and dl is not None and dr is not None:
            sigma_1, r1 = 1.0, 0.0
            proj = Projector(dim, constant=True)
            method = "lanczos on normalised Gram matrix (two-pass, constant vector deflated)"
        elif dl is not None and dr is not None and not normalised:
            sigma_1, r1 = math.sqrt(dl * dr), 0.0
            proj = Projector(dim, constant=True)
            method = "lanczos on Gram matrix (two-pass, constant vector deflated)"
        else:
            perron = lanczos_ends(
                gram,
                dim,
                Projector(dim),
                ncv=ncv,
                tol=0.5 * tol,
                maxiter=maxiter,
                seed=seed,
                want_bot=False,
                store_budget=store_budget,
                threads=fwd.threads,
            )
            steps += perron.steps
            converged &= perron.converged
            sigma_1, r1 = _triplet(k_mat, perron.x_top)
            proj = Projector(dim, vectors=[perron.x_top])
            method = "lanczos on Gram matrix (two-pass, Perron vector computed then deflated)"
        count0 = fwd.count
        kw = {"sigma_2_bound": None, "upper_method": "", "kw_steps": 0}
        if dim - proj.k < 1:
            sigma_2, r2 = 0.0, 0.0
            kw.update(sigma_2_bound=0.0, upper_method="sigma_2 = 0: nothing left after deflation")
        else:
            ends = lanczos_ends(
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
                threads=fwd.threads,
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
    k1 = ends.kw_steps
    # ||K^T K|| <= ||K||_1 ||K||_inf (certain), and the Gram matrix is PSD
    hi = gershgorin(k_mat) * gershgorin(k_mat.T.tocsr())
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


#: largest side of a layer whose mixing spectrum is taken by dense SVD (see layer_spectrum)
LAYER_DENSE_LIMIT = 200


class _GramOperator:
    """``x -> K^T K x`` for ``K = c * B' - avg J`` (``B'`` = ``B`` or ``B^T``, the taller one).

    ``K`` maps the smaller side (dimension ``dim``) to the larger one;
    ``scale_in``/``scale_out`` (diagonals) turn ``B'`` into the normalised matrix.
    """

    def __init__(self, b, avg: float = 0.0, scale_in=None, scale_out=None, threads=None):
        self.k = b if b.shape[1] <= b.shape[0] else b.T.tocsr()
        self.dim = self.k.shape[1]
        self.avg, self.si, self.so = avg, scale_in, scale_out
        if b.shape[1] > b.shape[0]:
            self.si, self.so = scale_out, scale_in
        self.fwd = MatVec(self.k, threads)
        self.bwd = MatVec(self.k.T.tocsr(), threads)
        self.mid = np.empty(self.k.shape[0])

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``K x``."""
        xs = x if self.si is None else self.si * x
        y = self.fwd(xs)
        if self.so is not None:
            y *= self.so
        if self.avg:
            y -= self.avg * x.sum()
        return y

    def apply_t(self, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``K^T y``."""
        ys = y if self.so is None else self.so * y
        x = self.bwd(ys, out)
        if self.si is not None:
            x *= self.si
        if self.avg:
            x -= self.avg * y.sum()
        return x

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        np.copyto(self.mid, self.apply(x))
        return self.apply_t(self.mid, out)

    def close(self) -> None:
        self.fwd.close()
        self.bwd.close()


def _top_singular(op: _GramOperator, proj: Projector, tol: float, seed: int) -> tuple:
    """``(sigma, error bar)``: top singular value of ``K`` on the range of ``proj`` (Lanczos)."""
    dim = op.dim
    if dim - proj.k < 1:
        return 0.0, 0.0
    ncv = min(dim, 4000)
    ends = lanczos_ends(op, dim, proj, ncv=ncv, tol=tol, maxiter=3 * ncv, seed=seed, want_bot=False)
    v = ends.x_top / np.linalg.norm(ends.x_top)
    kv = op.apply(v)
    sigma = float(np.linalg.norm(kv))
    res = op.apply_t(kv) - sigma**2 * v
    proj(res)  # the deflated vectors are exact singular vectors: P K^T K P
    gram_res = float(np.linalg.norm(res))
    if sigma == 0.0:
        return 0.0, math.sqrt(gram_res)
    return sigma, min(gram_res / sigma, math.sqrt(gram_res))


def layer_spectrum(
    layer: BipartiteGraph, *, dense_limit: int = LAYER_DENSE_LIMIT, tol: float = 1e-9
) -> LayerSpectrum:
    """The singular values of a layer that the mixing bounds use (:class:`LayerSpectrum`).

    Dense SVD (``numpy.linalg.svd``) when ``left * right * min(left, right) <=
    dense_limit**3``; otherwise the Lanczos engine (:mod:`expandergraph.lanczos`)
    on the Gram matrix of the smaller side, for ``||B - avg J||`` and, when the
    layer is not biregular, for ``mu`` with the exact top singular vector
    ``sqrt(d / |E|)`` of the normalised matrix deflated; ``error`` is the
    largest triplet residual (``tol`` is the target Gram residual).  Nothing is
    cached: :func:`layer_spectra` computes a chain's spectra once per distinct layer.

    Reference: Hoory, Linial and Wigderson (2006) §2.4 (the bipartite expander
    mixing lemma); F. Chung, Spectral Graph Theory (1997) ch. 1 (normalised
    matrices).

    Examples
    --------
    >>> s = layer_spectrum(BipartiteGraph.from_ell(2, [[0, 1], [0, 1]]))
    >>> round(s.sigma1, 9), round(s.sigma2, 9), round(s.mu, 9)
    (2.0, 0.0, 0.0)
    """
    if not isinstance(layer, BipartiteGraph):
        raise ValueError(f"layer: expected a BipartiteGraph, got {type(layer).__name__}")
    check_options(dense_limit, tol, None, None)
    b = layer.biadjacency(dtype=np.float64)
    dr = np.asarray(b.sum(axis=1)).ravel()
    dl = np.asarray(b.sum(axis=0)).ravel()
    edges = float(dr.sum())
    right_regular = bool(dr.min() == dr.max())
    left_regular = bool(dl.min() == dl.max())
    biregular = right_regular and left_regular
    avg = edges / (layer.left * layer.right)
    if edges == 0:
        return LayerSpectrum(0.0, 0.0, 0.0, 1.0, biregular, True, True, "no edges", 0.0)
    with np.errstate(divide="ignore"):
        ir = np.where(dr > 0, 1 / np.sqrt(dr), 0.0)
        il = np.where(dl > 0, 1 / np.sqrt(dl), 0.0)
    if layer.left * layer.right * min(layer.left, layer.right) <= dense_limit**3:
        dense = b.toarray()
        with single_blas():
            s = np.linalg.svd(dense, compute_uv=False)
            dev = float(np.linalg.svd(dense - avg, compute_uv=False)[0])
            sn = np.linalg.svd(ir[:, None] * dense * il[None, :], compute_uv=False)
        s1, s2 = float(s[0]), float(s[1]) if s.shape[0] > 1 else 0.0
        mu = float(sn[1]) if sn.shape[0] > 1 else 0.0
        err = 1e-12 * max(s1, 1.0)
        return LayerSpectrum(
            s1, s2, dev, mu, biregular, right_regular, left_regular, "dense svd", err
        )
    with single_blas():
        op = _GramOperator(b, avg)
        try:
            dim = op.dim
            dev, e1 = _top_singular(op, Projector(dim), tol, seed=0)
        finally:
            op.close()
        if biregular:
            s1 = math.sqrt(float(dl[0]) * float(dr[0]))
            s2, mu, e2 = dev, dev / s1, e1 / s1
        else:
            op = _GramOperator(b, 0.0, scale_in=il, scale_out=ir)
            try:
                side = dl if op.si is il else dr
                top = np.sqrt(side / edges)  # exact top singular vector of N on that side
                mu, e2 = _top_singular(op, Projector(op.dim, vectors=[top]), tol, seed=1)
            finally:
                op.close()
            s1 = s2 = None  # not needed by any bound; svds would double the cost
    return LayerSpectrum(
        s1,
        s2,
        float(dev),
        float(min(mu, 1.0)),
        biregular,
        right_regular,
        left_regular,
        "lanczos (Gram matrix, top singular vector deflated)",
        float(max(e1, e2)),
    )


def layer_spectra(
    layers: Iterable[BipartiteGraph],
    *,
    cache: dict[str, LayerSpectrum] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[LayerSpectrum]:
    """:func:`layer_spectrum` of every layer, computed once per distinct fingerprint.

    ``cache`` (a dict the caller holds, fingerprint -> spectrum) carries results
    across calls; it is read and filled in.  ``progress`` is called once per
    computed layer.

    Examples
    --------
    >>> full = BipartiteGraph.from_ell(2, [[0, 1], [0, 1]])
    >>> memo = {}
    >>> a, b = layer_spectra([full, full], cache=memo)
    >>> a is b, len(memo)
    (True, 1)
    """
    memo = {} if cache is None else cache
    out = []
    for k, layer in enumerate(layers):
        key = layer.fingerprint
        if key not in memo:
            if progress is not None:
                progress(f"singular values of layer {k}")
            memo[key] = layer_spectrum(layer)
        out.append(memo[key])
    return out
