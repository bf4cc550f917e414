"""Graph types: undirected multigraphs and bipartite layers, held as CSR numpy arrays.

Conventions (stated once, used everywhere)
------------------------------------------
* Nodes are the integers ``0 .. n-1``.
* ``Graph`` is an undirected multigraph.  Row ``u`` of its CSR arrays lists the
  neighbours of ``u`` *with multiplicity*, so the adjacency matrix is
  ``A[u, v] = number of times v occurs in row u`` and the degree of ``u`` is the
  row length.
* A **self-loop adds 2** to the degree of its node and 2 to the adjacency
  diagonal: a loop at ``u`` occurs twice in row ``u``.  This is the textbook
  convention (Margulis, Cayley graphs with involutions), under which
  ``sum(degrees) == 2 * edges`` and every row of a d-regular graph sums to d.
* **Multi-edges** are kept: an edge repeated k times contributes k to
  ``A[u, v]`` and to both degrees.
* ``BipartiteGraph`` is one layer from ``left`` input nodes to ``right`` output
  nodes.  Row ``v`` of its CSR arrays lists the left neighbours of output ``v``
  (with multiplicity), so its biadjacency matrix has shape ``(right, left)``.
  As an undirected graph, left node ``u`` is node ``u`` and right node ``v`` is
  node ``left + v``.

The ``fingerprint`` of a graph is the sha256 of its kind, its sizes and its
sorted edge list with multiplicities, so two graphs have the same fingerprint
exactly when they are equal as labelled multigraphs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    import scipy.sparse as sp

__all__ = ["Graph", "BipartiteGraph", "csr_from_pairs"]


def _as_index_array(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: node labels must be integers")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: node labels must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False).ravel()


def csr_from_pairs(
    n_rows: int, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr, indices)`` of the pairs ``(rows[i], cols[i])``, each row sorted."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    order = np.lexsort((cols, rows))
    indices = cols[order]
    counts = np.bincount(rows, minlength=n_rows)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, indices


def _sha256(kind: str, sizes: tuple[int, ...], u: np.ndarray, v: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(kind.encode())
    h.update(np.asarray(sizes, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(u, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(v, dtype="<i8").tobytes())
    return h.hexdigest()


def _check_csr(indptr: np.ndarray, indices: np.ndarray, n_rows: int, n_cols: int, what: str):
    if indptr.ndim != 1 or indptr.shape[0] != n_rows + 1:
        raise ValueError(f"{what}: indptr must have length {n_rows + 1}")
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != indices.shape[0]:
        raise ValueError(f"{what}: indptr must start at 0, be non-decreasing and end at nnz")
    if indices.size and (indices.min() < 0 or indices.max() >= n_cols):
        raise ValueError(f"{what}: column index out of range 0..{n_cols - 1}")


@dataclass(frozen=True, eq=False)
class Graph:
    """Undirected multigraph on nodes ``0..n-1`` stored as symmetric CSR.

    Use :meth:`from_edges` or :meth:`from_csr` rather than the constructor.
    ``name`` is a free-form description (the construction string when built by a
    generator); it does not enter the fingerprint.

    Examples
    --------
    >>> g = Graph.from_edges(3, [0, 1, 2], [1, 2, 0])
    >>> g.degrees().tolist()
    [2, 2, 2]
    >>> Graph.from_edges(1, [0], [0]).degrees().tolist()  # a self-loop adds 2
    [2]
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    name: str = ""
    meta: dict = field(default_factory=dict)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_edges(cls, n: int, u, v, name: str = "", meta: dict | None = None) -> Graph:
        """Graph with one edge per pair ``(u[i], v[i])``; repeats are multi-edges, u==v loops."""
        n = _check_n(n)
        u = _as_index_array(u, "u")
        v = _as_index_array(v, "v")
        if u.shape != v.shape:
            raise ValueError("u and v must have the same length")
        if u.size and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n):
            raise ValueError(f"edge endpoint out of range 0..{n - 1}")
        rows = np.concatenate([u, v])
        cols = np.concatenate([v, u])
        indptr, indices = csr_from_pairs(n, rows, cols)
        return cls(n, indptr, indices, name, dict(meta or {}))

    @classmethod
    def from_csr(
        cls, n: int, indptr, indices, name: str = "", meta: dict | None = None, check: bool = True
    ) -> Graph:
        """Graph from CSR neighbour lists (with multiplicity; a loop listed twice).

        With ``check`` the adjacency is verified to be symmetric with an even
        diagonal; rows are sorted.
        """
        n = _check_n(n)
        indptr = np.asarray(indptr, dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64)
        _check_csr(indptr, indices, n, n, "Graph")
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        indptr, indices = csr_from_pairs(n, rows, indices)
        g = cls(n, indptr, indices, name, dict(meta or {}))
        if check:
            a = g.adjacency()
            if (a != a.T).nnz:
                raise ValueError("Graph: neighbour lists are not symmetric")
            if np.any(a.diagonal() % 2):
                raise ValueError("Graph: a self-loop must be listed twice in its row")
        return g

    # -- basic properties -----------------------------------------------------
    @property
    def num_edges(self) -> int:
        """Number of edges, counting multiplicity (a loop is one edge)."""
        return int(self.indices.shape[0] // 2)

    def degrees(self) -> np.ndarray:
        """Degree of every node (a loop counts 2)."""
        return np.diff(self.indptr)

    @property
    def degree(self) -> int | None:
        """The common degree if the graph is regular, else ``None``."""
        deg = self.degrees()
        if self.n == 0 or deg.min() != deg.max():
            return None
        return int(deg[0])

    def neighbors(self, u: int) -> np.ndarray:
        """Neighbours of ``u`` with multiplicity, sorted."""
        return self.indices[self.indptr[u] : self.indptr[u + 1]]

    def edge_array(self) -> np.ndarray:
        """Canonical edge list: int64 array ``(m, 2)`` with ``u <= v``, sorted, with repeats."""
        rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.indptr))
        cols = self.indices
        keep = rows < cols
        u, v = rows[keep], cols[keep]
        loops = rows[rows == cols]  # each loop appears twice in its row, sorted together
        loops = loops[::2]
        u = np.concatenate([u, loops])
        v = np.concatenate([v, loops])
        order = np.lexsort((v, u))
        return np.stack([u[order], v[order]], axis=1)

    @property
    def fingerprint(self) -> str:
        """sha256 of ``("graph", n)`` and the canonical edge list."""
        e = self.edge_array()
        return _sha256("graph", (self.n,), e[:, 0], e[:, 1])

    def is_bipartite(self) -> bool:
        """True if the graph has a proper 2-colouring (no odd cycle, no loop)."""
        return self.bipartition() is not None

    def bipartition(self) -> np.ndarray | None:
        """A 0/1 colour per node when bipartite, else ``None``.

        Level-synchronous BFS from one root per connected component; colour is
        the parity of the BFS depth, then every edge is checked.
        """
        from scipy.sparse.csgraph import connected_components

        a = self.adjacency()
        _, labels = connected_components(a, directed=False)
        _, roots = np.unique(labels, return_index=True)
        colour = np.full(self.n, -1, dtype=np.int8)
        colour[roots] = 0
        frontier = roots
        level = 0
        while frontier.size:
            level += 1
            nbrs = a[frontier].indices
            new = np.unique(nbrs[colour[nbrs] == -1])
            colour[new] = level % 2
            frontier = new
        e = self.edge_array()
        if np.any(colour[e[:, 0]] == colour[e[:, 1]]):
            return None
        return colour

    # -- conversion -----------------------------------------------------------
    def adjacency(self, dtype=np.int64) -> sp.csr_matrix:
        """scipy.sparse CSR adjacency (loops contribute 2 on the diagonal)."""
        import scipy.sparse as sp

        data = np.ones(self.indices.shape[0], dtype=dtype)
        a = sp.csr_matrix((data, self.indices.copy(), self.indptr.copy()), shape=(self.n, self.n))
        a.sum_duplicates()
        return a

    @classmethod
    def from_scipy(cls, a, name: str = "") -> Graph:
        """Graph from a symmetric non-negative integer sparse/dense matrix (diagonal even)."""
        import scipy.sparse as sp

        a = sp.csr_matrix(a)
        if a.shape[0] != a.shape[1]:
            raise ValueError(f"adjacency must be square, got shape {a.shape}")
        data = a.data
        if np.any(data < 0) or np.any(data != np.round(data)):
            raise ValueError("adjacency entries must be non-negative integers (multiplicities)")
        if (a != a.T).nnz:
            raise ValueError("adjacency must be symmetric")
        if np.any(a.diagonal() % 2):
            raise ValueError("adjacency diagonal must be even: a self-loop adds 2")
        coo = a.tocoo()
        reps = coo.data.astype(np.int64)
        rows = np.repeat(coo.row.astype(np.int64), reps)
        cols = np.repeat(coo.col.astype(np.int64), reps)
        indptr, indices = csr_from_pairs(a.shape[0], rows, cols)
        return cls(a.shape[0], indptr, indices, name)

    def to_networkx(self) -> nx.MultiGraph:
        """networkx MultiGraph (a loop is one networkx edge; networkx also counts it 2)."""
        import networkx as nx

        g = nx.MultiGraph()
        g.add_nodes_from(range(self.n))
        g.add_edges_from(self.edge_array().tolist())
        return g

    @classmethod
    def from_networkx(cls, g, name: str = "") -> Graph:
        """Graph from a networkx (Multi)Graph whose nodes are ``0..n-1``."""
        n = g.number_of_nodes()
        nodes = set(g.nodes())
        if nodes != set(range(n)):
            raise ValueError("networkx graph nodes must be the integers 0..n-1")
        if g.is_directed():
            raise ValueError("networkx graph must be undirected")
        edges = np.array([(u, v) for u, v, *_ in g.edges], dtype=np.int64).reshape(-1, 2)
        return cls.from_edges(n, edges[:, 0], edges[:, 1], name=name or g.name)

    def __eq__(self, other) -> bool:
        return isinstance(other, Graph) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        d = self.degree
        deg = f"{d}-regular" if d is not None else "irregular"
        label = f" {self.name!r}" if self.name else ""
        head = label.strip() or f"n={self.n}"
        return f"Graph({head}, n={self.n}, edges={self.num_edges}, {deg})"


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"n: must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(f"n: must be positive, got {n}")
    return int(n)


@dataclass(frozen=True, eq=False)
class BipartiteGraph:
    """One layer: ``left`` input nodes, ``right`` output nodes, CSR over outputs.

    Row ``v`` (``indices[indptr[v]:indptr[v+1]]``) lists the input nodes feeding
    output ``v``, sorted, with multiplicity.  ``block`` records that the layer
    was built on blocks of ``block`` nodes (both sides), each output block
    joined to whole input blocks; it is metadata the compiler uses for
    block-sparse kernels and does not enter the fingerprint (the node-level
    edges already determine it).

    Examples
    --------
    >>> b = BipartiteGraph.from_edges(3, 2, left_nodes=[0, 1, 2], right_nodes=[0, 0, 1])
    >>> b.right_degrees().tolist(), b.left_degrees().tolist()
    ([2, 1], [1, 1, 1])
    """

    left: int
    right: int
    indptr: np.ndarray
    indices: np.ndarray
    block: int = 1
    name: str = ""
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_edges(
        cls,
        left: int,
        right: int,
        left_nodes,
        right_nodes,
        block: int = 1,
        name: str = "",
        meta: dict | None = None,
    ) -> BipartiteGraph:
        """Layer with one edge per pair ``(left_nodes[i] -> right_nodes[i])``."""
        left, right = _check_n(left), _check_n(right)
        lu = _as_index_array(left_nodes, "left_nodes")
        rv = _as_index_array(right_nodes, "right_nodes")
        if lu.shape != rv.shape:
            raise ValueError("left_nodes and right_nodes must have the same length")
        if lu.size and (lu.min() < 0 or lu.max() >= left):
            raise ValueError(f"left node out of range 0..{left - 1}")
        if rv.size and (rv.min() < 0 or rv.max() >= right):
            raise ValueError(f"right node out of range 0..{right - 1}")
        indptr, indices = csr_from_pairs(right, rv, lu)
        return cls(left, right, indptr, indices, _check_block(block, left, right), name, meta or {})

    @classmethod
    def from_csr(
        cls, left: int, right: int, indptr, indices, block: int = 1, name: str = "", meta=None
    ) -> BipartiteGraph:
        """Layer from CSR rows over outputs (rows are sorted here)."""
        left, right = _check_n(left), _check_n(right)
        indptr = np.asarray(indptr, dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64)
        _check_csr(indptr, indices, right, left, "BipartiteGraph")
        rows = np.repeat(np.arange(right, dtype=np.int64), np.diff(indptr))
        indptr, indices = csr_from_pairs(right, rows, indices)
        return cls(left, right, indptr, indices, _check_block(block, left, right), name, meta or {})

    @classmethod
    def from_ell(cls, left: int, ell, block: int = 1, name: str = "", meta=None) -> BipartiteGraph:
        """Layer whose output ``v`` reads the inputs ``ell[v, :]`` (every row the same length)."""
        ell = _as_index_array(ell, "ell").reshape(np.shape(ell))
        if ell.ndim != 2:
            raise ValueError("ell: must be a 2-d array (outputs, degree)")
        right, d = ell.shape
        indptr = np.arange(right + 1, dtype=np.int64) * d
        return cls.from_csr(left, right, indptr, ell.ravel(), block, name, meta)

    # -- properties --------------------------------------------------------------
    @property
    def num_edges(self) -> int:
        return int(self.indices.shape[0])

    def right_degrees(self) -> np.ndarray:
        """In-degree of every output node."""
        return np.diff(self.indptr)

    def left_degrees(self) -> np.ndarray:
        """Out-degree of every input node."""
        return np.bincount(self.indices, minlength=self.left)

    @cached_property
    def max_degrees(self) -> tuple[int, int]:
        """``(largest in-degree of an output, largest out-degree of an input)``, computed once.

        >>> BipartiteGraph.from_edges(3, 2, [0, 1, 2], [0, 0, 1]).max_degrees
        (2, 1)
        """
        din = int(self.right_degrees().max()) if self.right else 0
        dout = int(self.left_degrees().max()) if self.left else 0
        return din, dout

    @cached_property
    def distinct_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct input neighbourhoods of the outputs and the row of each output.

        Returns ``(rows, of)``: ``rows`` is ``(k, D)`` with each distinct neighbour
        list padded by the sentinel ``left`` to the largest in-degree ``D``, and
        output ``v``'s neighbours are ``rows[of[v]]``.  A grouped layer has few
        distinct rows, an expander about ``right``.  Computed once per graph (the
        graph is immutable).

        >>> g = BipartiteGraph.from_edges(4, 3, [0, 1, 0, 1, 2], [0, 0, 1, 1, 2])
        >>> rows, of = g.distinct_rows
        >>> len(rows), rows[of].tolist()
        (2, [[0, 1], [0, 1], [2, 4]])
        """
        deg = self.right_degrees()
        width = int(deg.max()) if deg.size else 0
        if width and deg.min() == width:
            table = self.indices.reshape(self.right, width)
        else:
            table = np.full((self.right, width), self.left, dtype=np.int64)
            rows = np.repeat(np.arange(self.right), deg)
            table[rows, np.arange(self.indices.shape[0]) - self.indptr[rows]] = self.indices
        w = np.random.default_rng(0).integers(1, 2**62, size=table.shape[1], dtype=np.int64)
        keys = (table.astype(np.int64) * w).sum(axis=1)  # wraps mod 2^64; verified below
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        uniq, inv = table[first], inv.reshape(-1)
        if not np.array_equal(uniq[inv], table):  # a hash collision: no deduplication
            uniq, inv = table, np.arange(table.shape[0])
        return uniq, inv

    @property
    def degree(self) -> int | None:
        """Common in-degree of the outputs (inputs per output), or ``None``."""
        deg = self.right_degrees()
        return int(deg[0]) if deg.min() == deg.max() else None

    @property
    def left_degree(self) -> int | None:
        deg = self.left_degrees()
        return int(deg[0]) if deg.min() == deg.max() else None

    @property
    def density(self) -> float:
        """Fraction of the ``left * right`` possible (simple) edges that are present."""
        return self.num_edges / (self.left * self.right)

    def ell(self) -> np.ndarray:
        """``(right, degree)`` table of input nodes per output; needs a constant in-degree."""
        d = self.degree
        if d is None:
            raise ValueError("ell: outputs have different in-degrees; no ELL table")
        return self.indices.reshape(self.right, d)

    def block_ell(self) -> np.ndarray:
        """``(right/block, D)`` table of input *blocks* per output block.

        Verifies that the node-level edges are exactly the block structure
        (each output block joined to whole input blocks, same list for every
        node of the block).
        """
        b = self.block
        if b == 1:
            return self.ell()
        ell = self.ell()
        d = ell.shape[1]
        if d % b:
            raise ValueError(f"block_ell: degree {d} is not a multiple of block {b}")
        blocks = ell.reshape(self.right // b, b, d // b, b)
        base = blocks[:, :, :, 0] // b
        expect = base[..., None] * b + np.arange(b)
        if not np.array_equal(blocks, expect) or not np.all(base == base[:, :1, :]):
            raise ValueError("block_ell: the edges are not whole blocks")
        return base[:, 0, :]

    def biadjacency(self, dtype=np.int64) -> sp.csr_matrix:
        """scipy.sparse CSR ``(right, left)``: entry = edge multiplicity."""
        import scipy.sparse as sp

        data = np.ones(self.indices.shape[0], dtype=dtype)
        m = sp.csr_matrix(
            (data, self.indices.copy(), self.indptr.copy()), shape=(self.right, self.left)
        )
        m.sum_duplicates()
        return m

    def edge_array(self) -> np.ndarray:
        """``(m, 2)`` int64 array of ``(left, right)`` pairs, sorted by right then left."""
        rows = np.repeat(np.arange(self.right, dtype=np.int64), np.diff(self.indptr))
        return np.stack([self.indices, rows], axis=1)

    @property
    def fingerprint(self) -> str:
        """sha256 of ``("bipartite", left, right)`` and the sorted edge list."""
        e = self.edge_array()
        return _sha256("bipartite", (self.left, self.right), e[:, 0], e[:, 1])

    def to_graph(self) -> Graph:
        """The undirected graph on ``left + right`` nodes (right node v is ``left + v``)."""
        e = self.edge_array()
        return Graph.from_edges(self.left + self.right, e[:, 0], e[:, 1] + self.left, self.name)

    def transpose(self) -> BipartiteGraph:
        """The reversed layer: outputs become inputs."""
        e = self.edge_array()
        return BipartiteGraph.from_edges(
            self.right, self.left, e[:, 1], e[:, 0], self.block, self.name
        )

    @classmethod
    def from_scipy(cls, m, block: int = 1, name: str = "") -> BipartiteGraph:
        """Layer from a ``(right, left)`` biadjacency matrix of multiplicities."""
        import scipy.sparse as sp

        m = sp.csr_matrix(m)
        if m.nnz and (np.any(m.data < 0) or np.any(m.data != np.round(m.data))):
            raise ValueError("biadjacency entries must be non-negative integers")
        coo = m.tocoo()
        reps = coo.data.astype(np.int64)
        return cls.from_edges(
            m.shape[1],
            m.shape[0],
            np.repeat(coo.col.astype(np.int64), reps),
            np.repeat(coo.row.astype(np.int64), reps),
            block=block,
            name=name,
        )

    def to_networkx(self) -> nx.MultiGraph:
        """networkx MultiGraph with node attribute ``bipartite`` (0 = left, 1 = right)."""
        g = self.to_graph().to_networkx()
        for u in range(self.left + self.right):
            g.nodes[u]["bipartite"] = 0 if u < self.left else 1
        return g

    @classmethod
    def from_networkx(cls, g, left: int, name: str = "") -> BipartiteGraph:
        """Layer from a networkx graph on ``0..left+right-1``; nodes below ``left`` are inputs."""
        full = Graph.from_networkx(g)
        e = full.edge_array()
        if np.any((e[:, 0] < left) == (e[:, 1] < left)):
            raise ValueError("networkx graph has an edge inside one side of the bipartition")
        return cls.from_edges(left, full.n - left, e[:, 0], e[:, 1] - left, name=name)

    def __eq__(self, other) -> bool:
        return isinstance(other, BipartiteGraph) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        d = self.degree
        return (
            f"BipartiteGraph({self.name or 'layer'}: {self.left} -> {self.right}, "
            f"degree={d if d is not None else 'irregular'}, block={self.block})"
        )


def _check_block(block, left: int, right: int) -> int:
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"block: must be a positive integer, got {block!r}")
    if left % block or right % block:
        raise ValueError(f"block: {block} must divide both widths {left} and {right}")
    return int(block)
