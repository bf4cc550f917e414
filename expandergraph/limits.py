"""Size caps: refuse work that cannot fit in memory *before* allocating anything.

Conventions: every reader and generator that allocates in proportion to a
user-given size (a node count, a width, a layer count) first estimates the bytes
it will need and calls :func:`check_bytes`.  The limit is the machine's physical
memory (64 GiB where it cannot be read), overridable with the environment
variable ``XNETS_MAX_BYTES`` (an integer number of bytes).  The refusal is a
:class:`SizeLimitError`, a ``ValueError`` that names the parameter and gives the
estimate.

Examples
--------
>>> check_bytes("random_regular", "n=10", 800)
>>> try:
...     check_bytes("random_regular", "n=10**12", 10**20)
... except SizeLimitError as e:
...     print(str(e).split(" (")[0])
random_regular: n=10**12 needs about 9.31e+10 GiB of memory
"""

from __future__ import annotations

import os

__all__ = ["SizeLimitError", "max_bytes", "check_bytes", "human_bytes"]

_GIB = 1 << 30


class SizeLimitError(ValueError):
    """A size that cannot fit in memory (refused before any allocation)."""


def max_bytes() -> int:
    """The memory limit in bytes: ``$XNETS_MAX_BYTES``, else physical memory, else 64 GiB."""
    env = os.environ.get("XNETS_MAX_BYTES", "").strip()
    if env:
        try:
            return max(int(env), 0)
        except ValueError:
            raise ValueError(
                f"XNETS_MAX_BYTES={env!r} must be an integer number of bytes"
            ) from None
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - non-POSIX
        return 64 * _GIB


def human_bytes(nbytes: float) -> str:
    """``nbytes`` in GiB (MiB below 1 GiB, scientific above 10⁶ GiB)."""
    if nbytes >= 1e6 * _GIB:
        return f"{nbytes / _GIB:.2e} GiB"
    if nbytes >= _GIB:
        return f"{nbytes / _GIB:.1f} GiB"
    return f"{nbytes / (1 << 20):.1f} MiB"


def check_bytes(func: str, what: str, nbytes: float) -> None:
    """Raise :class:`SizeLimitError` if ``nbytes`` exceeds :func:`max_bytes`.

    ``func`` names the caller, ``what`` the offending size (e.g. ``"n=10**12"``).
    """
    limit = max_bytes()
    if nbytes > limit:
        raise SizeLimitError(
            f"{func}: {what} needs about {human_bytes(nbytes)} of memory "
            f"(limit {human_bytes(limit)}; set XNETS_MAX_BYTES to change it)"
        )
