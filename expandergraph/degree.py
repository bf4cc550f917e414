"""The one density-to-degree rule: how many inputs each output of a graph layer reads.

A layer from ``width`` inputs asks for exactly one of

* ``degree``: ``D`` itself (``1 <= D <= width``);
* ``density``: ``x`` in ``(0, 1]``, ``D = floor(x * width)``;
* ``compression``: ``c >= 1``, ``D = floor(width / c)`` (density ``1/c``, the paper's rule:
  every output channel takes ``c_in / c`` inputs).

The floor is computed in exact rational arithmetic (``0.3`` is ``3/10``, not the binary
float just below it), so ``density=0.3`` at width 10 gives 3.  A rule that leaves
degree 0 is refused, unless ``clamp=True`` (the model zoo, whose narrow stems would
otherwise be undefined at small densities), which raises it to 1.  Specs
(:mod:`expandergraph.spec`), ``XLinear``/``XConv2d`` given a ``density`` and the model
blocks all call :func:`degree_for`.

Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3 (``D = c_in / c``).
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["degree_for", "as_fraction"]


def as_fraction(value, name: str = "density") -> Fraction:
    """An exact rational from an int, a float (by its shortest repr), a Fraction or ``"a/b"``.

    Examples
    --------
    >>> as_fraction(0.3), as_fraction("1/8"), as_fraction(2)
    (Fraction(3, 10), Fraction(1, 8), Fraction(2, 1))
    """
    if isinstance(value, bool):
        raise ValueError(f"{name}: must be a number, got {value!r}")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name}: must be finite, got {value!r}")
        return Fraction(repr(value))
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{name}: not a number or fraction: {value!r}") from None
    try:  # numpy scalars
        return as_fraction(value.item(), name)
    except AttributeError:
        raise ValueError(f"{name}: must be a number, got {value!r}") from None


def degree_for(
    width: int,
    *,
    degree=None,
    density=None,
    compression=None,
    clamp: bool = False,
    where: str = "layer",
) -> int:
    """Inputs per output for a layer of ``width`` inputs (module docstring for the rule).

    ``where`` prefixes error messages (e.g. ``"layers[2]"``); the message names the
    field, e.g. ``layers[2].density: 0.01 leaves degree 0 for input width 16``.

    Examples
    --------
    >>> degree_for(16, density=0.3), degree_for(64, compression=8), degree_for(32, degree=5)
    (4, 8, 5)
    >>> degree_for(8, density="1/16", clamp=True)
    1
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"{where}: input width must be a positive integer, got {width!r}")
    given = [
        (k, v)
        for k, v in (("degree", degree), ("density", density), ("compression", compression))
        if v is not None
    ]
    if len(given) != 1:
        names = [k for k, _ in given]
        raise ValueError(f"{where}: give exactly one of degree, density, compression (got {names})")
    key, value = given[0]
    field = f"{where}.{key}"
    if key == "degree":
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                ok = float(value).is_integer()
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"{field}: must be an integer, got {value!r}")
            value = int(value)
        d = int(value)
    elif key == "density":
        x = as_fraction(value, field)
        if not 0 < x <= 1:
            raise ValueError(f"{field}: must be in (0, 1], got {value}")
        d = math.floor(x * width)
    else:
        c = as_fraction(value, field)
        if c < 1:
            raise ValueError(f"{field}: must be >= 1, got {value}")
        d = math.floor(width / c)
    if d < 1:
        if clamp and key != "degree":
            return 1
        shown = int(value) if isinstance(value, float) and value.is_integer() else value
        raise ValueError(f"{field}: {shown} leaves degree {d} for input width {width}")
    if d > width:
        raise ValueError(f"{field}: {d} exceeds the layer's input width {width}")
    return int(d)
