"""Result records of the spectral solvers: eigenvalues and singular values with error bars.

Conventions
-----------
* Every value comes with an error bar (a residual: some eigenvalue or
  singular value lies within it) and, where a verdict needs one, a true upper
  bound (``*_upper``): certain for the dense solvers, and for Lanczos the
  Kuczynski-Wozniakowski bound (:mod:`expandergraph.kw`), which fails with
  probability at most ``delta``.
* :class:`SpectralResult` comes from :func:`expandergraph.spectrum.adjacency_spectrum`,
  :class:`SingularValues` from :func:`expandergraph.singular.bipartite_singular_values`
  and :class:`LayerSpectrum` from :func:`expandergraph.singular.layer_spectrum`
  (all importable from :mod:`expandergraph.spectrum`).

Examples
--------
>>> sv = SingularValues(2.0, 0.5, 1e-9, "dense svd", sigma_2_bound=0.5 + 2e-9)
>>> s1, s2, res, method = sv
>>> sv.sigma_2_upper, sv.sigma_2_lower
(0.500000002, 0.499999999)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["SpectralResult", "SingularValues", "LayerSpectrum"]


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


# ---------------------------------------------------------------------------
# validation and structure
# ---------------------------------------------------------------------------


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


@dataclass
class LayerSpectrum:
    """Singular values of one layer's ``(right, left)`` biadjacency ``B``.

    * ``sigma1``, ``sigma2``: the two largest singular values of ``B`` (``None``
      for large layers that are not biregular: no bound needs them there).
    * ``deviation``: ``||B - (|E| / (left * right)) J||_2``, the norm of ``B`` minus
      its average; equals ``sigma2`` when the layer is biregular.
    * ``mu``: the second singular value of the normalised biadjacency
      ``N = D_r^{-1/2} B D_l^{-1/2}`` (whose top singular value is 1); equals
      ``sigma2 / sqrt(d_l d_r)`` when biregular.  ``mu = 1`` for a disconnected
      layer such as ``grouped`` with ``groups > 1``.
    * ``error``: an upper bound on the numerical error of ``deviation`` and ``mu``
      (Lanczos residual; ``~1e-12`` for dense SVD).
    """

    sigma1: float | None
    sigma2: float | None
    deviation: float
    mu: float
    biregular: bool
    right_regular: bool
    left_regular: bool
    method: str
    error: float

    def to_dict(self) -> dict:
        return asdict(self)
