"""Kuczynski-Wozniakowski probabilistic bounds for Lanczos from a random start.

Conventions
-----------
* ``B`` is a symmetric positive semidefinite operator on a space of dimension
  ``n``; Lanczos runs ``k`` steps (Krylov space ``span{b, Bb, ..., B^(k-1) b}``,
  a ``k x k`` tridiagonal) from ``b`` uniformly distributed on the unit sphere
  (a projected Gaussian vector normalised is uniform on the sphere of the
  subspace it is projected on).  ``xi_k`` is the largest Ritz value.
* Theorem (KW 1992, Thm 4.2):
  ``P(xi_k < (1 - eps) lambda_max(B)) <= 1.648 sqrt(n) exp(-sqrt(eps) (2k - 1))``.
  Given a failure probability ``delta`` we solve for
  ``eps = (ln(1.648 sqrt(n) / delta) / (2k - 1))**2``; then, except with
  probability ``delta``, ``lambda_max(B) <= xi_k / (1 - eps)`` (vacuous if
  ``eps >= 1``).
* For an indefinite ``A`` (eigenvalues in ``[lo, hi]``) the Krylov space of
  ``A + cI`` is that of ``A`` and its Ritz values are shifted by ``c``.  With
  ``c = -lo`` (any ``c >= -lambda_min`` works: the failure event shrinks as
  ``c`` grows) ``lambda_max(A) <= xi + eps/(1-eps) (xi - lo)``; the same on
  ``-A`` bounds ``lambda_min`` from below.  :func:`kw_interval` alternates the
  two (each bound tightening the other's shift); every iterate is valid on the
  intersection of the two success events, so the failure probability is at
  most ``delta_top + delta_bot``.
* The theorem is about exact arithmetic; floating-point Lanczos (no
  reorthogonalisation) is used as if exact, plus a rounding floor added by the
  caller (Paige 1980; Greenbaum 1989: finite-precision Lanczos behaves like
  exact Lanczos on a matrix with eigenvalues in tiny intervals about ``A``'s).

References
----------
J. Kuczynski and H. Wozniakowski, *Estimating the largest eigenvalue by the
power and Lanczos algorithms with a random start*, SIAM J. Matrix Anal. Appl.
13(4) (1992) 1094-1122, Theorem 4.2.

Examples
--------
>>> eps = kw_epsilon(10**6, 500, 1e-6)
>>> round(kw_failure_probability(10**6, 500, eps), 12)
1e-06
"""

from __future__ import annotations

import math

__all__ = ["KW_CONSTANT", "kw_epsilon", "kw_failure_probability", "kw_interval"]

KW_CONSTANT = 1.648


def _check(n: int, k: int) -> None:
    for name, val in (("n", n), ("k", k)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"kw: {name}={val!r} must be a positive integer")


def kw_failure_probability(n: int, k: int, eps: float) -> float:
    """KW's bound ``1.648 sqrt(n) exp(-sqrt(eps) (2k-1))`` on ``P(xi_k < (1-eps) lambda_max)``.

    >>> kw_failure_probability(1, 1, 0.0)
    1.648
    """
    _check(n, k)
    if not (isinstance(eps, (int, float)) and 0 <= eps <= 1):
        raise ValueError(f"kw: eps={eps!r} must be a number in [0, 1]")
    return KW_CONSTANT * math.sqrt(n) * math.exp(-math.sqrt(eps) * (2 * k - 1))


def kw_epsilon(n: int, k: int, delta: float) -> float:
    """Smallest ``eps`` with ``kw_failure_probability(n, k, eps) <= delta`` (may exceed 1).

    >>> kw_epsilon(100, 1, 1.0) == math.log(16.48) ** 2
    True
    """
    _check(n, k)
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1 + 1e-12:
        raise ValueError(f"kw: delta={delta!r} must be a number in (0, 1]")
    root = max(math.log(KW_CONSTANT * math.sqrt(n) / delta), 0.0) / (2 * k - 1)
    return root * root


def kw_interval(
    xi_top: float,
    xi_bot: float | None,
    *,
    n: int,
    k: int,
    delta_top: float,
    delta_bot: float,
    lo: float,
    hi: float,
    floor: float = 0.0,
) -> tuple[float, float]:
    """``(upper bound on lambda_max, lower bound on lambda_min)`` from one Lanczos run.

    ``xi_top`` / ``xi_bot`` are the largest / smallest Ritz values of ``k``
    steps from one uniformly random start on a space of dimension ``n``;
    ``[lo, hi]`` is a deterministic enclosure of the spectrum (Gershgorin, or
    ``lo = 0`` for a PSD operator with ``xi_bot=None``).  The bounds hold
    except with probability ``delta_top + delta_bot`` (``delta_top`` alone when
    ``xi_bot`` is None); ``floor`` is added to the upper / subtracted from the
    lower bound.

    >>> u, l = kw_interval(1.0, None, n=1, k=10**6, delta_top=0.5, delta_bot=0.5, lo=0.0, hi=9.0)
    >>> 1.0 < u < 1.0 + 1e-10, l
    (True, 0.0)
    """
    if not lo <= xi_top <= hi + 1e-12 * max(1.0, abs(hi)):
        raise ValueError(f"kw_interval: xi_top={xi_top!r} outside the enclosure [{lo}, {hi}]")
    e_top = kw_epsilon(n, k, delta_top)
    e_bot = kw_epsilon(n, k, delta_bot) if xi_bot is not None else 1.0
    upper, lower = hi, lo
    for _ in range(200):
        new_u = hi if e_top >= 1 else min(hi, xi_top + e_top / (1 - e_top) * (xi_top - lower))
        new_l = lo
        if xi_bot is not None and e_bot < 1:
            new_l = max(lo, xi_bot - e_bot / (1 - e_bot) * (new_u - xi_bot))
        done = abs(new_u - upper) <= 1e-15 * max(1.0, abs(upper)) and new_l == lower
        upper, lower = new_u, new_l
        if done:
            break
    return float(upper + floor), float(lower - floor)
