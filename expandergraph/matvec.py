"""Sparse matrix-vector products for the spectral solvers.

Conventions
-----------
* Matrices are scipy CSR with float64 values; :func:`adjacency_csr` is a
  graph's adjacency (multi-edges with multiplicity, a loop adds 2 to the
  diagonal, as in :mod:`expandergraph.graph`) and :func:`normalised_operator`
  its degree-normalised form ``D_r^{-1/2} A D_c^{-1/2}``.
* :class:`MatVec` is the threaded product ``y = A x`` that the Lanczos engine
  (:mod:`expandergraph.lanczos`) runs; it is bitwise reproducible.
* :func:`gershgorin` is the certain norm bound ``max_i sum_j |a_ij|``.

Examples
--------
>>> import networkx as nx
>>> a = adjacency_csr(Graph.from_networkx(nx.cycle_graph(4)))
>>> mv = MatVec(a)
>>> mv(np.ones(4)).tolist(), gershgorin(a)
([2.0, 2.0, 2.0, 2.0], 2.0)
>>> mv.close()
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .graph import Graph
from .threads import worker_threads

__all__ = ["MatVec", "adjacency_csr", "normalised_operator", "gershgorin"]


class MatVec:
    """``y = A x`` for a scipy CSR matrix, split in row blocks over threads and
    in two column halves for cache locality when ``x`` is large.

    scipy's sparse kernels release the GIL, so threads run in parallel.  Every
    output row is always computed by the same code path, so results are
    bitwise reproducible (needed by the two-pass Lanczos), whatever the number
    of threads.  The products accumulate in place into the output (scipy's
    ``csr_matvec`` kernel, with the public ``@`` as fallback), so no temporary
    vectors are allocated.  ``count`` counts the products; ``threads`` defaults
    to :func:`expandergraph.threads.worker_threads`.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> mv = MatVec(sp.csr_matrix(np.array([[0.0, 2.0], [1.0, 0.0]])))
    >>> mv(np.array([1.0, 3.0])).tolist(), mv.count
    ([6.0, 1.0], 1)
    >>> mv.close()
    """

    def __init__(self, a, threads: int | None = None):
        import scipy.sparse as sp

        a = sp.csr_matrix(a, dtype=np.float64)
        n_rows, n_cols = a.shape
        self.shape = a.shape
        self.threads = worker_threads(threads)
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


def adjacency_csr(g: Graph):
    """float64 CSR adjacency of ``g`` (int32 indices when they fit), for the spectral solvers.

    Shares the graph's sorted index arrays when ``g`` has no multi-edge or
    loop; otherwise sums the duplicates (:meth:`Graph.adjacency`).

    Examples
    --------
    >>> import networkx as nx
    >>> a = adjacency_csr(Graph.from_networkx(nx.path_graph(3)))
    >>> a.toarray().tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    import scipy.sparse as sp

    idx, ptr = g.indices, g.indptr
    same = idx[1:] == idx[:-1]
    if idx.size and np.any(same):
        starts = np.zeros(idx.size, dtype=bool)
        starts[ptr[1:-1][ptr[1:-1] < idx.size]] = True
        if np.any(same & ~starts[1:]):  # a multi-edge or a loop: sum the duplicates
            return g.adjacency(dtype=np.float64)
    small = max(g.n, idx.size) < 2**31 - 1
    it = np.int32 if small else np.int64
    return sp.csr_matrix(
        (np.ones(idx.size), idx.astype(it), ptr.astype(it)), shape=(g.n, g.n), copy=False
    )


def normalised_operator(a):
    """``D_r^{-1/2} A D_c^{-1/2}`` of a sparse matrix (row and column sums; 0 where a sum is 0).

    For a graph's adjacency this is the normalised adjacency; for a layer's
    ``(right, left)`` biadjacency the degree-normalised biadjacency, whose top
    singular value is 1 when the layer has no isolated node.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> m = normalised_operator(sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]])))
    >>> m.toarray().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    import scipy.sparse as sp

    rows = np.asarray(a.sum(axis=1)).ravel()
    cols = np.asarray(a.sum(axis=0)).ravel()
    with np.errstate(divide="ignore"):
        ir = np.where(rows > 0, 1.0 / np.sqrt(np.where(rows > 0, rows, 1.0)), 0.0)
        ic = np.where(cols > 0, 1.0 / np.sqrt(np.where(cols > 0, cols, 1.0)), 0.0)
    return sp.csr_matrix(sp.diags(ir) @ a @ sp.diags(ic))


def gershgorin(a) -> float:
    """``max_i sum_j |a_ij|`` of a sparse matrix: a certain bound on ``||a||_inf``.

    For a symmetric ``a`` it bounds the spectral radius (Gershgorin's theorem).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> gershgorin(sp.csr_matrix(np.array([[1.0, -2.0], [0.0, 3.0]])))
    3.0
    """
    if a.nnz == 0:
        return 0.0
    m = a if a.data.min() >= 0 else abs(a)
    return float(np.asarray(m.sum(axis=1)).max())
