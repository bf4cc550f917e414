"""Node sets written as text: ``"0,3,10-19"`` (inclusive ranges), for the CLIs and notebooks."""

from __future__ import annotations

import numpy as np

__all__ = ["parse_node_set"]


def parse_node_set(text: str, width: int, option: str = "--sources") -> np.ndarray:
    """Node ids from ``"0,3,10-19"`` (inclusive ranges) for a level of ``width`` nodes.

    Items are separated by commas; ``a-b`` is the range ``a..b`` and needs
    ``a <= b``.  Every id must lie in ``0..width-1`` and appear once.  Returns a
    sorted int64 array; raises ``ValueError`` naming ``option`` otherwise.

    Reference: the usual page-range syntax of print dialogs.

    Examples
    --------
    >>> parse_node_set("0,3,10-12", 20).tolist()
    [0, 3, 10, 11, 12]
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{option}: empty node set (expected e.g. 0,3,10-19)")
    out: list[int] = []
    for item in text.split(","):
        item = item.strip()
        lo_text, dash, hi_text = item.partition("-")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if dash else lo
        except ValueError:
            raise ValueError(
                f"{option}: malformed item {item!r} (expected a node id or a range a-b)"
            ) from None
        if not lo_text.strip().isdigit() or (dash and not hi_text.strip().isdigit()):
            raise ValueError(f"{option}: malformed item {item!r} (node ids are >= 0)")
        if hi < lo:
            raise ValueError(f"{option}: range {item!r} is reversed (write {hi}-{lo})")
        if hi >= width:
            raise ValueError(
                f"{option}: node {hi} out of range 0..{width - 1} (the level has {width} nodes)"
            )
        out.extend(range(lo, hi + 1))
    arr = np.asarray(out, dtype=np.int64)
    uniq = np.unique(arr)
    if uniq.shape[0] != arr.shape[0]:
        values, counts = np.unique(arr, return_counts=True)
        raise ValueError(f"{option}: node {int(values[counts > 1][0])} is listed twice")
    return uniq
