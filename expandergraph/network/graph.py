"""NetworkGraph: a whole network (skips and concatenations included) as a DAG of channels.

Conventions (stated once, used everywhere)
------------------------------------------
* **Nodes are tensors**, each with a channel (or feature) width; a channel is
  ``(tensor, index)``.  Tensors are named by their spec location
  (``layers[3].body[1]``), plus ``"input"`` (the network input, the only tensor
  without incoming edges) and ``"output"`` (the final tensor).
* **Spatial positions are not nodes.**  A ``k x k`` convolution's channel edge
  ``u -> v`` stands for all its taps; stride and padding do not change channels.
* A tensor is the **sum** of its incoming edges.  Edge kinds (each a 0/1 map,
  with multiplicity, from the channels of ``source`` to those of ``target``):

  - ``graph``: a :class:`~expandergraph.graph.BipartiteGraph` (block-aware:
    its ``block`` is kept), channel ``u`` of the source to ``v`` of the target;
  - ``identity``: channel ``i`` to ``i``.  Every per-channel operation is one:
    activation, norm, pooling, dropout, depthwise convolution.  A residual
    ``y = body(x) + x`` is the tensor ``y`` with identity edges from the body's
    output and from ``x``.  A **strided identity shortcut** (pooling or
    subsampling) is an identity edge, since positions are not nodes;
  - ``embed``: channel ``i`` to ``offset + i`` (a concatenation is one embed
    per input, at consecutive offsets; a zero-padded shortcut is an embed);
  - ``permute``: output channel ``j`` reads input channel ``perm[j]`` (shuffle);
  - ``flatten``: ``C x H x W`` to ``C*H*W`` features; channel ``c`` goes to its
    ``H*W`` features ``c*H*W .. c*H*W + H*W - 1`` (``spatial = H*W``).
* A **1x1 projection shortcut** is a ``graph`` edge on the shortcut branch
  (its own tensor, named by its spec location) joined to the body's output by
  identity edges into the sum tensor.
* Paths use one edge per step, identity and concat edges included; an edge of
  multiplicity ``k`` counts ``k`` times.
* ``fingerprint``: sha256 of the canonical JSON of the tensors (name, width)
  and the edges (kind, source, target, parameters, graph fingerprint), sorted;
  ``layer_fingerprints`` maps every graph edge's target to its graph's
  fingerprint.  Names enter the fingerprint; insertion order does not.
* File format (:meth:`NetworkGraph.save`): a genuine ``.npz`` (JSON header +
  CSR arrays) whose zip comment is the sha256 of every byte before it, so any
  change or truncation anywhere in the file is refused on :meth:`load`.

A :class:`~expandergraph.layered.LayeredGraph` is the chain special case
(:meth:`NetworkGraph.from_layered`, :meth:`NetworkGraph.to_layered`).

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018
§3-4 (X-ResNet, X-DenseNet); He et al., CVPR 2016; Huang et al., CVPR 2017.

Examples
--------
>>> from expandergraph import BipartiteGraph
>>> g = BipartiteGraph.from_ell(4, [[0, 1], [2, 3], [0, 2], [1, 3]])
>>> net = NetworkGraph(4)
>>> net.graph("layers[0].body[0]", "input", g)
'layers[0].body[0]'
>>> net.add("layers[0]", ["layers[0].body[0]", "input"])
'layers[0]'
>>> net.output("layers[0]")
'output'
>>> net.widths["output"], len(net.edges)
(4, 4)
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..graph import BipartiteGraph
from ..layered import LayeredGraph
from ..report import first_line

__all__ = ["Edge", "NetworkGraph", "EDGE_KINDS", "FORMAT"]

#: edge kinds (module docstring)
EDGE_KINDS = ("graph", "identity", "embed", "permute", "flatten")
#: ``format`` tag of a saved network file
FORMAT = "xnets.network/1"
_DIGEST = 64  # hex sha256 in the zip comment


@dataclass(frozen=True, eq=False)
class Edge:
    """One edge bundle from tensor ``source`` to tensor ``target`` (module docstring)."""

    kind: str
    source: str
    target: str
    in_width: int
    out_width: int
    graph: BipartiteGraph | None = None
    offset: int = 0
    perm: np.ndarray | None = None
    spatial: int = 1
    meta: dict = field(default_factory=dict)

    def gather(self) -> tuple[np.ndarray, np.ndarray]:
        """For a one-input-per-output edge: ``(rows, src)``, target rows and their source."""
        if self.kind == "identity":
            r = np.arange(self.out_width, dtype=np.int64)
            return r, r
        if self.kind == "embed":
            r = np.arange(self.in_width, dtype=np.int64)
            return r + self.offset, r
        if self.kind == "permute":
            return np.arange(self.out_width, dtype=np.int64), self.perm
        if self.kind == "flatten":
            r = np.arange(self.out_width, dtype=np.int64)
            return r, r // self.spatial
        raise ValueError(f"edge {self.source} -> {self.target}: a graph edge has no gather form")

    def matrix(self):
        """scipy CSR ``(out_width, in_width)`` of multiplicities."""
        import scipy.sparse as sp

        if self.kind == "graph":
            return self.graph.biadjacency(dtype=np.int64)
        rows, src = self.gather()
        data = np.ones(rows.shape[0], dtype=np.int64)
        return sp.csr_matrix((data, (rows, src)), shape=(self.out_width, self.in_width))

    def record(self) -> dict:
        """Canonical JSON-able description (enters the fingerprint)."""
        d = {"kind": self.kind, "source": self.source, "target": self.target}
        d.update(in_width=self.in_width, out_width=self.out_width)
        if self.kind == "graph":
            d.update(fingerprint=self.graph.fingerprint, block=self.graph.block)
        elif self.kind == "embed":
            d["offset"] = self.offset
        elif self.kind == "permute":
            d["perm"] = hashlib.sha256(np.asarray(self.perm, "<i8").tobytes()).hexdigest()
        elif self.kind == "flatten":
            d["spatial"] = self.spatial
        return d

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.record(), sort_keys=True).encode()).hexdigest()


def _check_width(w, what: str) -> int:
    if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
        raise ValueError(f"{what}: width must be a positive integer, got {w!r}")
    return int(w)


class NetworkGraph:
    """A DAG of tensors joined by :class:`Edge` bundles; built with the methods below.

    ``NetworkGraph(width)`` starts with the tensor ``"input"``.  Every builder
    method adds one tensor (refusing a name already used) and returns its name.
    ``output(name)`` adds the final tensor ``"output"`` (an identity edge).
    """

    def __init__(self, input_width: int, name: str = ""):
        self.name = name
        self.widths: dict[str, int] = {"input": _check_width(input_width, "input")}
        self.edges: list[Edge] = []
        self._in: dict[str, list[Edge]] = {"input": []}
        self._out: dict[str, list[Edge]] = {"input": []}

    # -- building -------------------------------------------------------------------
    def _new(self, name: str, width: int) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"tensor name: must be a non-empty string, got {name!r}")
        if name in self.widths:
            raise ValueError(f"{name}: tensor already exists")
        self.widths[name] = _check_width(width, name)
        self._in[name], self._out[name] = [], []

    def _src(self, name: str, where: str) -> int:
        if name not in self.widths:
            raise ValueError(f"{where}: unknown source tensor {name!r}")
        return self.widths[name]

    def _edge(self, e: Edge) -> None:
        if e.kind not in EDGE_KINDS:
            raise ValueError(f"{e.target}: unknown edge kind {e.kind!r}")
        self.edges.append(e)
        self._in[e.target].append(e)
        self._out[e.source].append(e)

    def graph(self, name: str, source: str, layer: BipartiteGraph, **meta) -> str:
        """Tensor ``name`` = the graph layer ``layer`` applied to ``source``."""
        if not isinstance(layer, BipartiteGraph):
            raise ValueError(f"{name}: expected a BipartiteGraph, got {type(layer).__name__}")
        w = self._src(source, name)
        if layer.left != w:
            raise ValueError(f"{name}: graph input width {layer.left} != {source} width {w}")
        self._new(name, layer.right)
        self._edge(Edge("graph", source, name, w, layer.right, graph=layer, meta=meta))
        return name

    def identity(self, name: str, source: str) -> str:
        """Tensor ``name`` = a per-channel op of ``source`` (channel i -> i)."""
        w = self._src(source, name)
        self._new(name, w)
        self._edge(Edge("identity", source, name, w, w))
        return name

    def output(self, source: str) -> str:
        """The final tensor ``"output"``: an identity edge from ``source``."""
        return self.identity("output", source)

    def permute(self, name: str, source: str, perm) -> str:
        """Tensor ``name``: output channel ``j`` is channel ``perm[j]`` of ``source``."""
        w = self._src(source, name)
        p = np.asarray(perm)
        if p.ndim != 1 or p.dtype.kind not in "iu" or not np.array_equal(np.sort(p), np.arange(w)):
            raise ValueError(f"{name}: perm must be a permutation of 0..{w - 1}")
        self._new(name, w)
        self._edge(Edge("permute", source, name, w, w, perm=p.astype(np.int64)))
        return name

    def shuffle(self, name: str, source: str, groups: int) -> str:
        """Channel shuffle: output ``j*g + i`` is input ``i*(C/g) + j`` (ShuffleNet)."""
        w = self._src(source, name)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if w % groups:
            raise ValueError(f"{name}: groups {groups} must divide the channel count {w}")
        perm = np.arange(w).reshape(groups, w // groups).T.ravel()
        return self.permute(name, source, perm)

    def flatten(self, name: str, source: str, spatial: int) -> str:
        """``C x H x W`` to ``C*H*W`` features with ``spatial = H*W``."""
        w = self._src(source, name)
        s = _check_width(spatial, f"{name}.spatial")
        self._new(name, w * s)
        self._edge(Edge("flatten", source, name, w, w * s, spatial=s))
        return name

    def add(self, name: str, sources: list[str]) -> str:
        """Tensor ``name`` = the sum of ``sources`` (equal widths; a residual join)."""
        if not sources:
            raise ValueError(f"{name}: add needs at least one source")
        ws = {s: self._src(s, name) for s in sources}
        if len(set(ws.values())) != 1:
            raise ValueError(f"{name}: add needs equal widths, got {ws}")
        w = next(iter(ws.values()))
        self._new(name, w)
        for s in sources:
            self._edge(Edge("identity", s, name, w, w))
        return name

    def concat(self, name: str, sources: list[str]) -> str:
        """Tensor ``name`` = the channel concatenation of ``sources``, in order."""
        if not sources:
            raise ValueError(f"{name}: concat needs at least one source")
        ws = [self._src(s, name) for s in sources]
        self._new(name, sum(ws))
        off = 0
        for s, w in zip(sources, ws):
            self._edge(Edge("embed", s, name, w, self.widths[name], offset=off))
            off += w
        return name

    def embed(self, name: str, source: str, width: int, offset: int = 0) -> str:
        """Tensor ``name`` of ``width`` channels; source channel ``i`` to ``offset + i``."""
        w = self._src(source, name)
        width = _check_width(width, name)
        if offset < 0 or offset + w > width:
            raise ValueError(f"{name}: channels {offset}..{offset + w - 1} exceed width {width}")
        self._new(name, width)
        self._edge(Edge("embed", source, name, w, width, offset=int(offset)))
        return name

    # -- structure -------------------------------------------------------------------
    @property
    def tensors(self) -> list[str]:
        """Tensor names in a topological order (insertion order is one)."""
        return list(self.widths)

    def incoming(self, name: str) -> list[Edge]:
        return list(self._in[self._tensor(name)])

    def outgoing(self, name: str) -> list[Edge]:
        return list(self._out[self._tensor(name)])

    def _tensor(self, name: str) -> str:
        if name not in self.widths:
            raise ValueError(f"tensor: unknown tensor {name!r}")
        return name

    def validate(self) -> None:
        """Refuse an unfinished network: no ``"output"``, or a tensor that leads nowhere."""
        if "output" not in self.widths:
            raise ValueError("network: no 'output' tensor (call output(name))")
        for t in self.widths:
            if t != "output" and not self._out[t]:
                raise ValueError(f"{t}: tensor feeds nothing (dead end before 'output')")

    @property
    def graph_edges(self) -> list[Edge]:
        return [e for e in self.edges if e.kind == "graph"]

    @property
    def layer_fingerprints(self) -> dict[str, str]:
        """``{target tensor: graph fingerprint}`` for every graph edge."""
        return {e.target: e.graph.fingerprint for e in self.graph_edges}

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical description (module docstring)."""
        doc = {
            "tensors": sorted([n, w] for n, w in self.widths.items()),
            "edges": sorted(json.dumps(e.record(), sort_keys=True) for e in self.edges),
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    # -- chains ----------------------------------------------------------------------
    @classmethod
    def from_layered(cls, lg: LayeredGraph) -> NetworkGraph:
        """The chain: ``input -> layers[0] -> ... -> layers[L-1] -> output``."""
        if not isinstance(lg, LayeredGraph):
            raise ValueError(f"lg: expected a LayeredGraph, got {type(lg).__name__}")
        net = cls(lg.widths[0])
        prev = "input"
        for k, layer in enumerate(lg):
            prev = net.graph(f"layers[{k}]", prev, layer)
        net.output(prev)
        return net

    def to_layered(self) -> LayeredGraph:
        """The graph layers as a chain; refuses a network that is not one chain."""
        self.validate()
        layers, names, t = [], [], "input"
        while t != "output":
            outs = self._out[t]
            if len(outs) != 1 or outs[0].kind not in ("graph", "identity"):
                raise ValueError(f"{t}: the network is not a chain of graph layers")
            e = outs[0]
            if len(self._in[e.target]) != 1:
                raise ValueError(f"{e.target}: the network is not a chain (a join)")
            if e.kind == "graph":
                layers.append(e.graph)
                names.append(e.graph.name)
            t = e.target
        if not layers:
            raise ValueError("network: no graph layers")
        return LayeredGraph(layers, names)

    # -- spec lowering ---------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec, graphs: dict | None = None) -> NetworkGraph:
        """Lower a :class:`~expandergraph.spec.Spec` (nested layers included).

        Works for a graph spec and for a network spec alike: it reads each
        layer's structural ``role`` (:data:`expandergraph.spec.ROLES`), never a
        network kind.  ``graphs`` maps spec locations to already built layer
        graphs (default: :func:`expandergraph.spec.layer_graph`).  Rules: graph
        layers are graph edges; channelwise layers (activation, norm, pool,
        dropout, depthwise in a network spec) are identity edges; ``shuffle`` a
        permutation; ``flatten`` of ``(C, H, W)`` a flatten edge (``spatial =
        H*W``); ``residual`` is ``add([body, shortcut or x])``; ``concat`` is
        ``concat([x, body])``; the last tensor feeds ``"output"``.
        """
        from ..spec import layer_graph

        graphs = graphs or {}
        net = cls(spec.input[0], spec.name or "")

        def lower(layers, x: str) -> str:
            for layer in layers:
                w = layer.where
                if layer.has_graph:
                    g = graphs.get(w)
                    x = net.graph(w, x, g if g is not None else layer_graph(layer), where=w)
                elif layer.role == "shuffle":
                    x = net.shuffle(w, x, layer.options["groups"])
                elif layer.role == "flatten":
                    shape = layer.in_shape
                    hw = int(np.prod(shape[1:])) if len(shape) > 1 else 1
                    x = net.flatten(w, x, hw)
                elif layer.role == "residual":
                    body = lower(layer.body, x)
                    short = lower(layer.shortcut, x) if layer.shortcut else x
                    x = net.add(w, [body, short])
                elif layer.role == "concat":
                    x = net.concat(w, [x, lower(layer.body, x)])
                else:
                    x = net.identity(w, x)
            return x

        net.output(lower(spec.layers, "input"))
        return net

    # -- interop ---------------------------------------------------------------------
    def to_networkx(self):
        """networkx ``DiGraph`` on ``(tensor, channel)``; edge attribute ``count`` (multiplicity).

        Two edge bundles joining the same channels add their counts.
        """
        import networkx as nx

        g = nx.DiGraph(name=self.name)
        for t, w in self.widths.items():
            g.add_nodes_from(((t, c) for c in range(w)), tensor=t)
        for e in self.edges:
            coo = e.matrix().tocoo()
            for v, u, k in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()):
                a, b = (e.source, u), (e.target, v)
                if g.has_edge(a, b):
                    g[a][b]["count"] += k
                else:
                    g.add_edge(a, b, count=k, kind=e.kind)
        return g

    # -- files -----------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write one ``.npz`` file whose zip comment is the sha256 of all bytes before it."""
        self.validate()
        header = {"format": FORMAT, "name": self.name, "fingerprint": self.fingerprint}
        header["tensors"] = [[n, w] for n, w in self.widths.items()]
        records, arrays = [], {}
        for k, e in enumerate(self.edges):
            r = e.record()
            if e.kind == "graph":
                arrays[f"indptr_{k}"] = e.graph.indptr
                arrays[f"indices_{k}"] = e.graph.indices
                r["name"] = e.graph.name
            if e.kind == "permute":
                arrays[f"perm_{k}"] = e.perm
            records.append(r)
        header["edges"] = records
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("header.npy", _npy(np.frombuffer(json.dumps(header).encode(), np.uint8)))
            for key, arr in arrays.items():
                zf.writestr(f"{key}.npy", _npy(np.ascontiguousarray(arr, dtype="<i8")))
            zf.comment = b"0" * _DIGEST
        data = buf.getvalue()
        digest = hashlib.sha256(data[:-_DIGEST]).hexdigest().encode()
        Path(path).write_bytes(data[:-_DIGEST] + digest)

    @classmethod
    def load(cls, path: str | Path) -> NetworkGraph:
        """Read a :meth:`save` file; any changed or missing byte raises ``ValueError``."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ValueError(f"{path}: cannot read network file ({exc.strerror})") from None
        body, digest = data[:-_DIGEST], data[-_DIGEST:]
        if len(data) <= _DIGEST or hashlib.sha256(body).hexdigest().encode() != digest:
            raise ValueError(f"{path}: integrity check failed (file changed or truncated)")
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
            header = json.loads(bytes(z["header"]).decode())
            if header.get("format") != FORMAT:
                raise ValueError("not an xnets network file")
            first, *rest = header["tensors"]
            if first[0] != "input":
                raise ValueError("the first tensor must be 'input'")
            net = cls(first[1], header.get("name", ""))
            for n, w in rest:
                net._new(n, w)
            for k, r in enumerate(header["edges"]):
                net._load_edge(k, r, z)
        except (KeyError, ValueError, TypeError, IndexError, OSError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: cannot read network file ({first_line(exc)})") from None
        if net.fingerprint != header["fingerprint"]:
            raise ValueError(f"{path}: network fingerprint mismatch (file corrupt)")
        return net

    def _load_edge(self, k: int, r: dict, z) -> None:
        kind, s, t = r["kind"], r["source"], r["target"]
        wi, wo = int(r["in_width"]), int(r["out_width"])
        if self.widths.get(s) != wi or self.widths.get(t) != wo:
            raise ValueError(f"edges[{k}]: widths do not match the tensors")
        if kind == "graph":
            g = BipartiteGraph.from_csr(
                wi, wo, z[f"indptr_{k}"], z[f"indices_{k}"], r["block"], r.get("name", "")
            )
            if g.fingerprint != r["fingerprint"]:
                raise ValueError(f"edges[{k}]: layer fingerprint mismatch")
            e = Edge(kind, s, t, wi, wo, graph=g)
        elif kind == "permute":
            e = Edge(kind, s, t, wi, wo, perm=np.asarray(z[f"perm_{k}"], dtype=np.int64))
        else:
            off, sp = int(r.get("offset", 0)), int(r.get("spatial", 1))
            e = Edge(kind, s, t, wi, wo, offset=off, spatial=sp)
        self._edge(e)

    def __repr__(self) -> str:
        return (
            f"NetworkGraph({self.name or 'network'}: {len(self.widths)} tensors, "
            f"{len(self.graph_edges)} graph layers, {len(self.edges)} edges)"
        )


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()
