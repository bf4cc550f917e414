"""Edge-list files in networkx's ``read_edgelist`` format.

One ``u v`` pair per line; ``#`` starts a comment; blank lines are skipped;
nodes are integers ``0..n-1`` where ``n = max node + 1`` unless a header
comment ``# n=N`` fixes it (isolated trailing nodes then survive a round
trip).  A repeated line is a multi-edge and ``u u`` is a self-loop (which
adds 2 to the degree of ``u``, see :mod:`expandergraph.graph`).  Extra columns
(networkx writes edge data such as ``{}``) are ignored.

Example
-------
>>> import io
>>> g = parse_edgelist(io.StringIO("# n=4\\n0 1\\n1 2\\n"))
>>> g.n, g.num_edges
(4, 2)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO

import numpy as np

from .graph import Graph
from .limits import check_bytes

__all__ = ["parse_edgelist", "read_edgelist", "write_edgelist"]

_HEADER = re.compile(r"#\s*n\s*=\s*(\d+)\s*$")


def parse_edgelist(stream: IO[str], source: str = "<edgelist>") -> Graph:
    """Parse an edge list from a text stream; errors name ``source`` and the line."""
    us: list[int] = []
    vs: list[int] = []
    n_header: int | None = None
    for lineno, raw in enumerate(stream, 1):
        line = raw.strip()
        m = _HEADER.match(line)
        if m:
            digits = m.group(1)
            if len(digits) > 30:  # far beyond any size that fits; int() would refuse > 4300
                raise ValueError(f"{source}:{lineno}: header n has {len(digits)} digits")
            n_header = int(digits)
            continue
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"{source}:{lineno}: malformed line {raw.strip()!r} (expected 'u v')")
        pair = []
        for tok in parts[:2]:
            if len(tok) > 30:
                raise ValueError(f"{source}:{lineno}: node {tok[:20]}... has {len(tok)} characters")
            try:
                val = int(tok)
            except ValueError:
                raise ValueError(
                    f"{source}:{lineno}: node {tok!r} is not a non-negative integer"
                ) from None
            if val < 0:
                raise ValueError(f"{source}:{lineno}: node {val} is negative")
            pair.append(val)
        us.append(pair[0])
        vs.append(pair[1])
    if not us:
        raise ValueError(f"{source}: empty graph (no edges)")
    u = np.asarray(us, dtype=np.int64)
    v = np.asarray(vs, dtype=np.int64)
    n = int(max(u.max(), v.max())) + 1
    if n_header is not None:
        if n_header < n:
            raise ValueError(f"{source}: header n={n_header} but node {n - 1} occurs")
        n = n_header
    # CSR of both edge directions plus the sort keys, and the n+1 row pointers
    check_bytes("edgelist", f"{source}: n={n}", 8 * (2 * (n + 1) + 8 * u.size))
    return Graph.from_edges(n, u, v, name=source)


def read_edgelist(path: str | Path) -> Graph:
    """Read an edge-list file (see module doc)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with open(path, encoding="utf-8", errors="strict") as fh:
        try:
            return parse_edgelist(fh, str(path))
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text file") from None


def write_edgelist(graph: Graph, path: str | Path) -> None:
    """Write ``graph`` as an edge list with a ``# n=N`` header (bipartite layers: ``to_graph``)."""
    if not isinstance(graph, Graph):
        graph = graph.to_graph()
    e = graph.edge_array()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"# {graph.name or 'graph'}\n# n={graph.n}\n")
        np.savetxt(fh, e, fmt="%d")
