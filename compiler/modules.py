"""Expander layers as PyTorch modules: :class:`XLinear` and :class:`XConv2d`.

Conventions
-----------
* The connectivity is a :class:`expandergraph.BipartiteGraph` from ``in``
  inputs (features or channels) to ``out`` outputs, stored as the ELL block
  index table ``index`` ``(out_blocks, D/block)`` of :mod:`compiler.layout`, a
  *persistent* buffer (it is in ``state_dict``).  The transposed tables
  ``t_index``/``t_slot`` (for the triton backend) and the gather plan
  ``plan_*`` (:func:`compiler.backends.gather.gather_plan`) are non-persistent
  buffers rebuilt from ``index``; :attr:`XLayer.table_check` remembers that
  the kernels verified them.
* ``degree`` ``D`` counts input *nodes* per output node (so ``D / block``
  blocks); ``density = D / in``.  Given no graph, the layer builds the paper's
  random graph with :func:`expandergraph.construct.layer_graph`
  (``"random-bipartite"`` on ``in/block -> out/block`` blocks, lifted with
  ``block_expander`` when ``block > 1``): the graph a spec layer with the same
  widths, degree, block and seed gets.  ``density`` gives ``D =
  floor(density * in)`` by :func:`expandergraph.degree.degree_for`.
* Weights exist only on edges: ``weight`` is ``(out_blocks, D/block, block,
  block[, kh, kw])``.  Only the ``masked`` backend holds a dense ``(out, in[,
  kh, kw])`` parameter (times a fixed mask, the math of
  :mod:`compiler.backends.masked`); :meth:`XLayer.to_backend` converts between
  the two without changing the function.
* Initialisation is Kaiming-uniform with the *true* fan-in ``D * kh * kw``
  (bound ``1/sqrt(fan_in)`` for weight and bias, as ``nn.Linear`` does with the
  dense fan-in).
* The graph's fingerprint (sha256 of its edge list) travels in ``state_dict``
  (``_extra_state``, plain str/int, so ``torch.load(weights_only=True)`` works).
  Loading a state built for a different graph raises ``ValueError`` naming the
  layer and both fingerprints, before any tensor of the layer is overwritten.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018, §3.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from expandergraph import BipartiteGraph
from expandergraph import degree as degree_rule
from expandergraph.construct import layer_graph

from . import functional as XF
from .backends import masked
from .backends.gather import GatherPlan, gather_plan
from .kernels.launch import TableCheck
from .layout import (
    as_pair,
    block_mask,
    conv_output_size,
    dense_weight,
    ell_from_graph,
    graph_from_index,
    is_int,
    packed_weight,
    transposed_tables,
)

__all__ = ["XLayer", "XLinear", "XConv2d", "graph_from_index", "STATE_FORMAT", "DEFAULT_GRAPH"]

#: ``format`` tag of a layer's extra state.
STATE_FORMAT = "xnets.xlayer/1"

#: The construction a layer given only a degree or a density builds.
DEFAULT_GRAPH = "random-bipartite"


def _positive(v, name: str, who: str) -> int:
    if not is_int(v) or v < 1:
        raise ValueError(f"{who}: {name}={v!r} must be a positive integer")
    return int(v)


class XLayer(nn.Module):
    """The base of :class:`XLinear` and :class:`XConv2d`: graph, tables, weight, backend.

    Not built directly.  Every expander layer is an instance (``isinstance(m,
    XLayer)`` finds them in a model); it has ``in_width``, ``out_width``,
    ``block``, ``kernel``, ``index`` and the properties below.

    Examples
    --------
    >>> isinstance(XLinear(8, 4, degree=2), XLayer)
    True
    """

    _kind = "layer"

    # -- construction --------------------------------------------------------
    def _build(
        self,
        inp: int,
        out: int,
        kernel: tuple[int, ...],
        graph,
        degree,
        density,
        block,
        seed,
        bias,
        backend,
        who: str,
    ) -> None:
        inp = _positive(inp, "in", who)
        out = _positive(out, "out", who)
        block = _positive(block, "block", who)
        if not is_int(seed) or seed < 0:
            raise ValueError(f"{who}: seed={seed!r} must be a non-negative integer")
        if not isinstance(bias, bool):
            raise ValueError(f"{who}: bias={bias!r} must be True or False")
        XF.check_backend(backend, who)
        graph = _resolve_graph(inp, out, graph, degree, density, block, int(seed), who)
        try:
            index = ell_from_graph(graph)
        except ValueError as exc:
            raise ValueError(f"{who}: graph cannot be stored as an ELL table ({exc})") from None
        self.in_width, self.out_width, self.block = inp, out, graph.block
        self.kernel = kernel
        self.seed = int(seed)
        self._graph = graph
        self._fingerprint = graph.fingerprint
        self.register_buffer("index", torch.from_numpy(index.copy()))
        self.table_check = TableCheck()
        self._set_transposed()
        ob, db, b = index.shape[0], index.shape[1], graph.block
        self.weight = nn.Parameter(torch.empty((ob, db, b, b) + kernel))
        if bias:
            self.bias = nn.Parameter(torch.empty(out))
        else:
            self.register_parameter("bias", None)
        self.backend = "gather"
        self.reset_parameters()
        self.to_backend(backend)

    def _set_transposed(self) -> None:
        """(Re)build the tables derived from ``index``: transposed ELL and gather plan."""
        in_blocks = self.in_width // self.block
        ti, ts = transposed_tables(self.index, in_blocks)
        self.register_buffer("t_index", ti, persistent=False)
        self.register_buffer("t_slot", ts, persistent=False)
        plan = gather_plan(self.index, in_blocks)
        self.register_buffer("plan_slots", plan.slots, persistent=False)
        self.register_buffer("plan_owners", plan.owners, persistent=False)
        self.register_buffer("plan_inverse", plan.inverse, persistent=False)
        self._plan_groups = plan.groups

    @property
    def plan(self) -> GatherPlan:
        """The gather backend's :class:`~compiler.backends.gather.GatherPlan` (built once)."""
        return GatherPlan(self.plan_slots, self.plan_owners, self.plan_inverse, self._plan_groups)

    # -- properties ----------------------------------------------------------
    @property
    def degree(self) -> int:
        """Inputs per output, in nodes (``D``)."""
        return int(self.index.shape[1]) * self.block

    @property
    def degree_blocks(self) -> int:
        """Input blocks per output block (``D / block``)."""
        return int(self.index.shape[1])

    @property
    def density(self) -> float:
        """Fraction of the dense weight that exists: ``D / in``."""
        return self.degree / self.in_width

    @property
    def fingerprint(self) -> str:
        """sha256 of the layer's graph (:attr:`expandergraph.BipartiteGraph.fingerprint`)."""
        return self._fingerprint

    @property
    def kernel_area(self) -> int:
        """Taps of the kernel (``kh * kw``; 1 for a linear layer)."""
        return math.prod(self.kernel)

    @property
    def graph(self) -> BipartiteGraph:
        """The layer's graph, read back from ``index`` (cached)."""
        g = self._graph
        if g is None:
            g = graph_from_index(self.index, self.in_width, self.block)
            self._graph = g
        return g

    @property
    def num_weights(self) -> int:
        """Number of weights on edges: ``out_blocks * D/block * block**2 * kernel area``."""
        ob, db = self.index.shape
        return int(ob * db * self.block * self.block * self.kernel_area)

    def packed_weight(self) -> torch.Tensor:
        """The weight in the packed layout, whatever the backend (a differentiable view/copy).

        Examples
        --------
        >>> XLinear(8, 4, degree=2, backend="masked").packed_weight().shape
        torch.Size([4, 2, 1, 1])
        """
        if self.backend == "masked":
            return packed_weight(self.weight, self.index, self.block)
        return self.weight

    def dense_weight(self) -> torch.Tensor:
        """The dense ``(out, in[, kh, kw])`` weight, zero off the graph.

        Examples
        --------
        >>> int((XLinear(8, 4, degree=2).dense_weight() != 0).sum())
        8
        """
        if self.backend == "masked":
            return self._masked_weight()
        return dense_weight(self.weight, self.index, self.in_width)

    # -- initialisation and backends ------------------------------------------
    def reset_parameters(self) -> None:
        """Kaiming-uniform with the true fan-in ``D * kernel area``: bound ``1/sqrt(fan_in)``.

        As ``nn.Linear``/``nn.Conv2d`` (``a = sqrt(5)``), but with the number of
        inputs that exist, so unit-variance inputs give outputs of the dense
        layer's variance.  Weight and bias are drawn from the global RNG.

        Reference: He et al., "Delving deep into rectifiers", ICCV 2015.

        Examples
        --------
        >>> layer = XLinear(64, 8, degree=4)
        >>> bool(layer.weight.abs().max() <= 0.5)  # 1/sqrt(4)
        True
        """
        bound = 1.0 / math.sqrt(self.degree * self.kernel_area)
        with torch.no_grad():
            packed = torch.empty(
                (self.index.shape[0], self.index.shape[1], self.block, self.block) + self.kernel,
                dtype=self.weight.dtype,
                device=self.weight.device,
            ).uniform_(-bound, bound)
            if self.backend == "masked":
                self.weight.copy_(dense_weight(packed, self.index, self.in_width))
            else:
                self.weight.copy_(packed)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def to_backend(self, backend: str) -> XLayer:
        """Switch backend in place without changing the function; returns ``self``.

        ``masked`` gets a dense parameter (built from the packed one) and a mask
        buffer; the other backends get the packed parameter back (built from the
        dense one, off-graph entries dropped).  The weight becomes a new
        ``Parameter``: build optimisers after converting.  ``"auto"`` picks
        by the measured rule of :func:`compiler.functional.auto_backend`:
        ``triton`` when CUDA and :mod:`compiler.kernels` are available; on the
        CPU ``gather`` for blocks >= 8 at density <= 1/4, else ``masked``.

        Examples
        --------
        >>> layer = XLinear(8, 4, degree=2)
        >>> x = torch.randn(3, 8)
        >>> y = layer(x)
        >>> torch.allclose(layer.to_backend("masked")(x), y, atol=1e-6)
        True
        """
        backend = XF.check_backend(backend, type(self).__name__)
        if backend == "auto":
            backend = self.auto_backend()
        old = self.backend
        if backend == old:
            return self
        w = self.weight
        with torch.no_grad():
            if backend == "masked":
                mask = block_mask(self.index, self.in_width, self.block)
                self.register_buffer("mask", mask, persistent=False)
                new = dense_weight(w.detach(), self.index, self.in_width)
            elif old == "masked":
                new = packed_weight(w.detach(), self.index, self.block)
                del self.mask
            else:
                new = None
        if new is not None:
            self.weight = nn.Parameter(new.contiguous(), requires_grad=w.requires_grad)
        self.backend = backend
        return self

    def auto_backend(self) -> str:
        """The backend ``"auto"`` picks for this shape (:func:`~compiler.functional.auto_backend`).

        Examples
        --------
        >>> XLinear(4096, 4096, density=1 / 8, block=32).auto_backend()
        'gather'
        >>> XLinear(4096, 4096, density=1 / 8).auto_backend()  # block 1
        'masked'
        """
        kernel = self.kernel_size if isinstance(self, XConv2d) else None
        return XF.auto_backend(self.in_width, self.block, self.degree, kernel_size=kernel)

    # -- forward helpers -------------------------------------------------------
    def _masked_weight(self) -> torch.Tensor:
        m = self.mask
        return self.weight * m.reshape(m.shape + (1,) * len(self.kernel)).to(self.weight.dtype)

    # -- state ----------------------------------------------------------------------
    def get_extra_state(self) -> dict:
        """Plain str/int record of the graph: fingerprint, widths, block, degree, kind."""
        return {
            "format": STATE_FORMAT,
            "kind": self._kind,
            "fingerprint": self._fingerprint,
            "in": int(self.in_width),
            "out": int(self.out_width),
            "block": int(self.block),
            "degree": int(self.degree),
        }

    def set_extra_state(self, state) -> None:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"{type(self).__name__}: extra state is not an {STATE_FORMAT} record")
        if state.get("fingerprint") != self._fingerprint:
            raise ValueError(
                f"{type(self).__name__}: graph fingerprint mismatch: state has "
                f"{state.get('fingerprint')}, layer has {self._fingerprint}"
            )

    def check_state(self, state_dict: dict, prefix: str = "", name: str | None = None) -> None:
        """Raise ``ValueError`` if ``state_dict`` holds a different graph for this layer.

        Compares the incoming ``index`` (through the fingerprint of the graph it
        encodes) and the incoming extra-state fingerprint with this layer's.
        Nothing is modified.  ``name`` labels the layer in the message (default:
        the key prefix).  ``load_state_dict`` calls it before loading, so the
        fingerprint travels with the model.

        Examples
        --------
        >>> a, b = XLinear(8, 4, degree=2, seed=0), XLinear(8, 4, degree=2, seed=1)
        >>> a.check_state(a.state_dict())
        >>> b.check_state(a.state_dict())  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ValueError: XLinear: graph fingerprint mismatch: ...
        """
        label = name or prefix.rstrip(".") or type(self).__name__
        mine = self._fingerprint
        extra = state_dict.get(prefix + "_extra_state")
        if extra is not None:
            got = extra.get("fingerprint") if isinstance(extra, dict) else None
            if not isinstance(extra, dict) or extra.get("format") != STATE_FORMAT:
                raise ValueError(
                    f"{label}: the state's extra state is not an {STATE_FORMAT} record"
                )
            if got != mine:
                raise ValueError(
                    f"{label}: graph fingerprint mismatch: state_dict has {got}, "
                    f"this layer has {mine}"
                )
        idx = state_dict.get(prefix + "index")
        if idx is None:
            return
        if isinstance(idx, torch.Tensor) and idx.shape == self.index.shape:
            if torch.equal(idx.to(self.index.device), self.index):
                return
        try:
            got = graph_from_index(idx, self.in_width, self.block).fingerprint
        except ValueError as exc:
            got = f"<not this layer's shape: {exc}>"
        if got != mine:
            raise ValueError(
                f"{label}: graph fingerprint mismatch: state_dict index encodes {got}, "
                f"this layer has {mine}"
            )

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        self.check_state(state_dict, prefix)
        key = prefix + "weight"
        w = state_dict.get(key)
        if isinstance(w, torch.Tensor) and w.shape != self.weight.shape:
            idx = state_dict.get(prefix + "index", self.index)
            idx = idx.to(w.device)
            n_k = len(self.kernel)
            if self.backend == "masked" and w.dim() == 4 + n_k:  # packed -> dense
                state_dict[key] = dense_weight(w, idx, self.in_width)
            elif self.backend != "masked" and w.dim() == 2 + n_k:  # dense -> packed
                state_dict[key] = packed_weight(w, idx, self.block)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        # the incoming table may list the same graph in another slot order
        self._set_transposed()
        if self.backend == "masked":
            self.mask = block_mask(self.index, self.in_width, self.block)

    def _common_repr(self) -> str:
        return (
            f"degree={self.degree}, block={self.block}, density={self.density:.4g}, "
            f"backend={self.backend}, bias={self.bias is not None}"
        )


def _resolve_graph(inp, out, graph, degree, density, block, seed, who) -> BipartiteGraph:
    if graph is not None:
        if not isinstance(graph, BipartiteGraph):
            raise ValueError(f"{who}: graph must be an expandergraph.BipartiteGraph")
        if degree is not None or density is not None:
            d = graph.degree
            if (degree is not None and degree != d) or (
                density is not None
                and d is not None
                and degree_rule.degree_for(inp, density=density, where=who) != d
            ):
                raise ValueError(
                    f"{who}: degree/density contradict the given graph (in-degree {d})"
                )
        if (graph.left, graph.right) != (inp, out):
            raise ValueError(
                f"{who}: graph is {graph.left} -> {graph.right}, layer is {inp} -> {out}"
            )
        if block != 1 and block != graph.block:
            graph = BipartiteGraph.from_csr(
                graph.left, graph.right, graph.indptr, graph.indices, block, graph.name, graph.meta
            )
        return graph
    if inp % block or out % block:
        raise ValueError(f"{who}: block={block} must divide in={inp} and out={out}")
    if (degree is None) == (density is None):
        raise ValueError(f"{who}: give exactly one of degree, density (or a graph)")
    if degree is not None:
        d = _positive(degree, "degree", who)
    else:
        if isinstance(density, bool) or not isinstance(density, (int, float)):
            raise ValueError(f"{who}: density={density!r} must be a number in (0, 1]")
        if not 0 < density <= 1:
            raise ValueError(f"{who}: density={density!r} must be in (0, 1]")
        d = degree_rule.degree_for(inp, density=density, where=who)  # the spec's rule: floor
    if d > inp:
        raise ValueError(f"{who}: degree={d} exceeds the input width {inp}")
    if d % block:
        raise ValueError(f"{who}: degree={d} (in nodes) must be a multiple of block={block}")
    return layer_graph(DEFAULT_GRAPH, inp, out, d, seed=seed, block=block, where=who)


class XLinear(XLayer):
    """Expander linear layer: output ``v`` reads only its ``D`` graph neighbours.

    ``y = x W^T + b`` with ``W[v, u] = 0`` unless ``u -> v`` is an edge of the
    layer's :class:`expandergraph.BipartiteGraph` (see the module docstring for
    storage, initialisation and state conventions).  Give a ``graph`` (``in ->
    out``), or one of ``degree`` (inputs per output, in nodes) and ``density``
    (``D = floor(density * in)``) to build the paper's random graph from ``seed``.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §3.2 (X-Linear).

    Examples
    --------
    >>> layer = XLinear(64, 32, degree=8)
    >>> layer(torch.randn(5, 64)).shape
    torch.Size([5, 32])
    >>> layer.weight.shape, layer.index.shape
    (torch.Size([32, 8, 1, 1]), torch.Size([32, 8]))
    """

    _kind = "linear"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        graph: BipartiteGraph | None = None,
        *,
        degree: int | None = None,
        density: float | None = None,
        block: int = 1,
        seed: int = 0,
        bias: bool = True,
        backend: str = "gather",
    ) -> None:
        super().__init__()
        self._build(
            in_features,
            out_features,
            (),
            graph,
            degree,
            density,
            block,
            seed,
            bias,
            backend,
            "XLinear",
        )

    @property
    def in_features(self) -> int:
        return self.in_width

    @property
    def out_features(self) -> int:
        return self.out_width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        XF.check_width(x, self.in_width, "XLinear")
        if self.backend == "masked":
            return masked.linear(x, self._masked_weight(), self.bias)
        return XF.xlinear(
            x,
            self.weight,
            self.index,
            self.bias,
            self.block,
            self.backend,
            t_index=self.t_index,
            t_slot=self.t_slot,
            plan=self.plan,
            in_width=self.in_width,
            table_check=self.table_check,
        )

    def extra_repr(self) -> str:
        return f"in_features={self.in_width}, out_features={self.out_width}, " + self._common_repr()


class XConv2d(XLayer):
    """Expander 2-d convolution: output channel ``v`` convolves only its ``D`` neighbours.

    Equal to ``nn.Conv2d(in_channels, out_channels, kernel_size, stride,
    padding, dilation)`` whose weight is zero for channel pairs that are not
    edges of the channel graph (``in_channels -> out_channels``).  ``graph``,
    ``degree``, ``density``, ``block``, ``seed``, ``bias`` and ``backend`` as in
    :class:`XLinear`; ``kernel_size``, ``stride``, ``padding``, ``dilation`` are
    ints or pairs.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §3.2 (X-Conv), §3.3.

    Examples
    --------
    >>> conv = XConv2d(16, 8, 3, padding=1, degree=4)
    >>> conv(torch.randn(2, 16, 5, 5)).shape
    torch.Size([2, 8, 5, 5])
    >>> conv.weight.shape
    torch.Size([8, 4, 1, 1, 3, 3])
    """

    _kind = "conv2d"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        graph: BipartiteGraph | None = None,
        *,
        degree: int | None = None,
        density: float | None = None,
        block: int = 1,
        seed: int = 0,
        bias: bool = True,
        backend: str = "gather",
    ) -> None:
        super().__init__()
        try:
            k = as_pair(kernel_size, "kernel_size", 1)
            self.stride = as_pair(stride, "stride", 1)
            self.padding = as_pair(padding, "padding", 0)
            self.dilation = as_pair(dilation, "dilation", 1)
        except ValueError as exc:
            raise ValueError(f"XConv2d: {exc}") from None
        self._build(
            in_channels,
            out_channels,
            k,
            graph,
            degree,
            density,
            block,
            seed,
            bias,
            backend,
            "XConv2d",
        )

    @property
    def in_channels(self) -> int:
        return self.in_width

    @property
    def out_channels(self) -> int:
        return self.out_width

    @property
    def kernel_size(self) -> tuple[int, int]:
        return self.kernel

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """Spatial output size for an ``h x w`` input (:func:`compiler.layout.conv_output_size`).

        Examples
        --------
        >>> XConv2d(4, 4, 3, stride=2, padding=1, degree=2).output_hw(9, 11)
        (5, 6)
        """
        return conv_output_size((h, w), self.kernel, self.stride, self.padding, self.dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        XF.check_width(x, self.in_width, "XConv2d", "conv2d")
        if self.backend == "masked":
            return masked.conv2d(
                x, self._masked_weight(), self.bias, self.stride, self.padding, self.dilation
            )
        return XF.xconv2d(
            x,
            self.weight,
            self.index,
            self.bias,
            self.block,
            self.backend,
            self.stride,
            self.padding,
            self.dilation,
            t_index=self.t_index,
            t_slot=self.t_slot,
            plan=self.plan,
            in_width=self.in_width,
            table_check=self.table_check,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_width}, {self.out_width}, kernel_size={self.kernel}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            + self._common_repr()
        )
