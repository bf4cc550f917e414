"""The package's one thread policy: worker threads for numpy/scipy loops, single-threaded BLAS.

Conventions
-----------
* Our own parallel loops (row blocks of a sparse product, bitset OR-reductions)
  run on :func:`worker_threads` threads; numpy's and scipy's kernels release the
  GIL, so plain threads run in parallel.
* BLAS/LAPACK calls run single-threaded inside :func:`single_blas`: threaded
  OpenBLAS spins and slows down 10x or more when the cores are shared, and the
  vectors our BLAS calls see are either tiny (dense solvers of a few thousand
  rows) or memory-bound (Lanczos axpys), where threads gain nothing.

Examples
--------
>>> 1 <= worker_threads() <= MAX_THREADS
True
>>> worker_threads(3)
3
>>> with single_blas():
...     pass
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral

__all__ = ["MAX_THREADS", "worker_threads", "single_blas"]

#: the most worker threads chosen by default (memory bandwidth saturates beyond)
MAX_THREADS = 4


def worker_threads(threads: int | None = None) -> int:
    """``threads`` if given, else ``min(MAX_THREADS, cpu_count)``; at least 1.

    Examples
    --------
    >>> worker_threads(1)
    1
    """
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, Integral) or threads < 1:
            raise ValueError(f"threads: must be a positive integer, got {threads!r}")
        return int(threads)
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


@contextmanager
def single_blas() -> Iterator[None]:
    """Run BLAS/LAPACK single-threaded inside the block (no-op without threadpoolctl).

    Examples
    --------
    >>> import numpy as np
    >>> with single_blas():
    ...     float(np.linalg.norm(np.ones(4)))
    2.0
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's stack
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
