"""Field checks for spec values: each returns the value or raises a one-line ``ValueError``.

Every message starts with ``where`` (a spec location such as ``layers[2].degree``)
and names what is wrong.  Booleans are never integers here (YAML ``true`` is not
``1``).  These are the checks both the graph spec (:mod:`expandergraph.spec`) and
the compiler's network vocabulary use.

Examples
--------
>>> as_int(3, "layers[0].out")
3
>>> as_pair([3, 1], "layers[0].kernel_size", 1)
(3, 1)
>>> try:
...     as_int(True, "layers[0].out")
... except ValueError as e:
...     print(e)
layers[0].out: must be an integer, got True
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["is_int", "as_int", "as_number", "as_pair", "as_choice", "as_option", "shown"]

#: integers of more bits than this are refused (no width, degree or seed needs them,
#: and Python cannot print one of over 4300 digits in a message)
MAX_INT_BITS = 256
_SHOWN_CHARS = 80


def shown(value) -> str:
    """``repr(value)`` for an error message: one line, at most about 80 characters.

    >>> shown(2**300), shown(list(range(100)))
    ('an integer of 301 bits', '[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1...')
    """
    if is_int(value) and int(value).bit_length() > MAX_INT_BITS:
        return f"an integer of {int(value).bit_length()} bits"
    try:
        text = repr(value)
    except ValueError:  # a container holding an integer too long to print
        return f"a {type(value).__name__} holding an integer too large to print"
    text = text.replace("\n", " ")
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 20] + "..."


def is_int(x) -> bool:
    """True for a Python or numpy integer that is not a ``bool``.

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def as_int(value, where: str, lo: int = 1) -> int:
    """``value`` as an integer ``>= lo`` (default: positive)."""
    if not is_int(value):
        raise ValueError(f"{where}: must be an integer, got {shown(value)}")
    if int(value).bit_length() > MAX_INT_BITS:
        raise ValueError(f"{where}: must be below 2**{MAX_INT_BITS}, got {shown(value)}")
    if value < lo:
        rule = "positive" if lo == 1 else f">= {lo}"
        raise ValueError(f"{where}: must be {rule}, got {value}")
    return int(value)


def as_number(value, where: str) -> float:
    """``value`` as a finite float (ints accepted, booleans and NaN/inf refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{where}: must be a finite number, got {shown(value)}")
    try:
        x = float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError(
            f"{where}: must be a finite number, got an integer too large for a float"
        ) from None
    if not math.isfinite(x):
        raise ValueError(f"{where}: must be a finite number, got {shown(value)}")
    return x


def as_pair(value, where: str, lo: int) -> tuple[int, int]:
    """An integer or an ``[h, w]`` pair of integers ``>= lo``, as ``(h, w)``."""
    if is_int(value):
        v = as_int(value, where, lo)
        return (v, v)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (as_int(value[0], where, lo), as_int(value[1], where, lo))
    raise ValueError(f"{where}: must be an integer or an [h, w] pair, got {shown(value)}")


def as_choice(value, where: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{where}: must be one of {', '.join(choices)}, got {shown(value)}")
    return value


def as_option(value):
    """A validated value as stored in options: lists become tuples, the rest is kept."""
    return tuple(value) if isinstance(value, list) else value
