"""The compiled network: :class:`XNet`, and :func:`extract_graph` to read its graphs back.

An :class:`XNet` is a sequential container (``model.layers``, one module per
spec layer, so ``model.layers[i]`` is the spec's ``layers[i]``; a spec's
``residual``, ``concat`` and ``shuffle`` layers become :class:`Residual`,
:class:`Concat` and :class:`ChannelShuffle`, whose ``body``/``shortcut``
sequences hold the nested layers, so ``model.layers[3].body[1]`` is
``layers[3].body[1]``) that also carries

* ``certificates``: ``{"layers[i]": Certificate}`` (``"layers[i].body[j]"``
  inside nested layers) for every graph-bearing layer, plus ``"network"`` for
  the layered certificate when the spec is sequential and its graph layers
  chain;
* ``spec``: the :class:`expandergraph.spec.Spec` it was compiled from (or
  ``None``);
* ``override``: ``None``, or the record of an explicit ``allow_uncertified``
  override of failing certificates;
* ``input_shape``: the per-sample input shape, ``(F,)`` or ``(C, H, W)``.

``override`` and the certificates (as JSON text) are kept in ``state_dict``
(``_extra_state``), so a checkpoint says whether it came from an overridden
spec.  ``load_state_dict`` first checks every expander layer's graph
fingerprint against the incoming state and raises before anything is loaded.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from expandergraph import BipartiteGraph, Certificate, LayeredGraph

from .modules import XLayer, graph_from_index

__all__ = [
    "XNet",
    "Residual",
    "Concat",
    "ChannelShuffle",
    "extract_graph",
    "extract_layered",
    "extract_graphs",
    "network_from_layered",
    "expander_layers",
    "spec_name",
    "NET_FORMAT",
]

#: ``format`` tag of an XNet's extra state.
NET_FORMAT = "xnets.xnet/1"


class Residual(nn.Module):
    """``y = body(x) + shortcut(x)`` (``shortcut=None``: identity); the spec's ``residual``.

    Reference: He, Zhang, Ren and Sun, "Deep Residual Learning", CVPR 2016.

    Examples
    --------
    >>> r = Residual([nn.Identity()])
    >>> r(torch.ones(1, 2)).tolist()
    [[2.0, 2.0]]
    """

    def __init__(self, body: Sequence[nn.Module], shortcut: Sequence[nn.Module] | None = None):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut) if shortcut else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class Concat(nn.Module):
    """``y = cat([x, body(x)], dim=1)``: a DenseNet layer; the spec's ``concat``.

    Reference: Huang et al., "Densely Connected Convolutional Networks", CVPR 2017.

    Examples
    --------
    >>> Concat([nn.Identity()])(torch.ones(1, 2, 3, 3)).shape
    torch.Size([1, 4, 3, 3])
    """

    def __init__(self, body: Sequence[nn.Module]):
        super().__init__()
        self.body = nn.Sequential(*body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class ChannelShuffle(nn.Module):
    """Channel shuffle with ``groups``: ``(g, C/g)`` channels transposed to ``(C/g, g)``.

    Output channel ``j * g + i`` is input channel ``i * C/g + j``, so after a
    grouped conv every group of the next grouped conv sees every previous group.

    Reference: Zhang, Zhou, Lin and Sun, "ShuffleNet", CVPR 2018, §3.1.

    Examples
    --------
    >>> ChannelShuffle(2)(torch.arange(4.0).view(1, 4)).tolist()
    [[0.0, 2.0, 1.0, 3.0]]
    """

    def __init__(self, groups: int):
        super().__init__()
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"groups: must be a positive integer, got {groups!r}")
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        if c % self.groups:
            raise ValueError(f"groups: {self.groups} must divide the channel count {c}")
        rest = x.shape[2:]
        return x.reshape(b, self.groups, c // self.groups, *rest).transpose(1, 2).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


def spec_name(path: str, names: Sequence[str] | None = None) -> str:
    """The spec location of a module path: ``"layers.3.body.1"`` -> ``"layers[3].body[1]"``.

    ``names`` (an :class:`XNet`'s ``names``) replaces the top-level ``layers[i]``.

    Examples
    --------
    >>> spec_name("layers.3.shortcut.0"), spec_name("layers.2", ["stem", "a", "b"])
    ('layers[3].shortcut[0]', 'b')
    """
    parts = path.split(".")
    out: list[str] = []
    i = 0
    while i < len(parts):
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            out.append(f"{parts[i]}[{parts[i + 1]}]")
            i += 2
        else:
            out.append(parts[i])
            i += 1
    if names is not None and len(parts) >= 2 and parts[0] == "layers" and parts[1].isdigit():
        k = int(parts[1])
        if k < len(names):
            out[0] = names[k]
    return ".".join(out)


class XNet(nn.Module):
    """A compiled expander network: sequential layers plus their certificates.

    Conventions: see the module docstring.  Build one with
    :func:`compiler.compile`.

    Examples
    --------
    >>> from compiler.modules import XLinear
    >>> net = XNet([XLinear(8, 4, degree=2), nn.ReLU()], input_shape=(8,))
    >>> net(torch.randn(3, 8)).shape, net.names
    (torch.Size([3, 4]), ['layers[0]', 'layers[1]'])
    """

    def __init__(
        self,
        layers: Sequence[nn.Module],
        *,
        names: Sequence[str] | None = None,
        spec=None,
        certificates: dict[str, Certificate] | None = None,
        input_shape: Sequence[int] | None = None,
        override: str | None = None,
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(*layers)
        n = len(self.layers)
        self.names = list(names) if names is not None else [f"layers[{i}]" for i in range(n)]
        if len(self.names) != n:
            raise ValueError(f"names: need one name per layer ({n}), got {len(self.names)}")
        self.spec = spec
        self.certificates: dict[str, Certificate] = dict(certificates or {})
        self.input_shape = tuple(int(v) for v in input_shape) if input_shape else None
        self.override = override

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    @property
    def certified(self) -> bool:
        """True when every certificate passed (an override does not make it pass)."""
        return all(c.passed for c in self.certificates.values())

    def expander_layers(self) -> list[tuple[str, XLayer]]:
        """``(name, module)`` of the graph-bearing layers, nested ones included, in order.

        Names are spec locations (``layers[3]``, ``layers[3].body[1]``); the
        order is the depth-first order of :func:`expandergraph.spec.iter_layers`.
        """
        return [
            (spec_name(p, self.names), m)
            for p, m in self.layers.named_modules(prefix="layers")
            if isinstance(m, XLayer)
        ]

    # -- state ------------------------------------------------------------------
    def get_extra_state(self) -> dict:
        """Plain data: the override record, layer names and certificates as JSON text."""
        return {
            "format": NET_FORMAT,
            "override": self.override or "",
            "names": list(self.names),
            "input_shape": list(self.input_shape or ()),
            "certificates": {k: c.to_json() for k, c in self.certificates.items()},
        }

    def set_extra_state(self, state) -> None:
        if not isinstance(state, dict) or state.get("format") != NET_FORMAT:
            raise ValueError(f"XNet: extra state is not an {NET_FORMAT} record")
        self.override = state.get("override") or None
        certs = state.get("certificates") or {}
        if certs:
            self.certificates = {k: Certificate.from_json(v) for k, v in certs.items()}

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        # Check every expander layer before any tensor anywhere is overwritten.
        for path, m in self.named_modules():
            if isinstance(m, XLayer):
                m.check_state(state_dict, f"{prefix}{path}.", name=spec_name(path, self.names))
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def extra_repr(self) -> str:
        verdict = "certified" if self.certified else "NOT certified"
        if self.override:
            verdict += " (override recorded)"
        shape = "x".join(map(str, self.input_shape)) if self.input_shape else "?"
        return f"input={shape}, {verdict}"


def expander_layers(model: nn.Module) -> list[tuple[str, XLayer]]:
    """``(name, layer)`` for every :class:`XLinear`/:class:`XConv2d` in ``model``, in order.

    Names are the spec names (``"layers[3]"``) for an :class:`XNet`, otherwise
    the module paths of ``named_modules``.

    Examples
    --------
    >>> from compiler.modules import XLinear
    >>> [n for n, _ in expander_layers(nn.Sequential(XLinear(4, 4, degree=2)))]
    ['0']
    """
    if isinstance(model, XNet):
        return model.expander_layers()
    return [(n, m) for n, m in model.named_modules() if isinstance(m, XLayer)]


def extract_graphs(model: nn.Module) -> list[tuple[str, BipartiteGraph]]:
    """``(name, graph)`` for every expander layer, read back from its ``index`` buffers.

    Like :func:`extract_graph` but for any model, nested (residual, concat)
    or not: the graphs need not chain.  Names as in :func:`expander_layers`;
    their fingerprints equal those in ``model.certificates``.

    Examples
    --------
    >>> from compiler.modules import XLinear
    >>> net = nn.Sequential(XLinear(8, 4, degree=2), nn.ReLU(), XLinear(6, 4, degree=2))
    >>> [(n, g.left, g.right) for n, g in extract_graphs(net)]
    [('0', 8, 4), ('2', 6, 4)]
    """
    return [
        (name, graph_from_index(m.index, m.in_width, m.block, name))
        for name, m in expander_layers(model)
    ]


def extract_layered(model: nn.Module) -> LayeredGraph:
    """The model's connectivity, read back from its ``index`` buffers.

    One :class:`expandergraph.BipartiteGraph` per expander layer, in order,
    rebuilt from the (trained, saved or reloaded) ELL tables, never from a
    cached graph object; names as in :func:`expander_layers`.  Its
    fingerprints equal those in ``model.certificates`` when the model was
    compiled from a spec.  Raises ``ValueError`` when the model has no expander
    layer or the widths do not chain (e.g. a ``flatten`` of a spatial map
    between a conv and a linear layer; then use :func:`expander_layers`).

    Examples
    --------
    >>> from compiler.modules import XLinear
    >>> net = nn.Sequential(XLinear(8, 8, degree=2), nn.ReLU(), XLinear(8, 4, degree=2))
    >>> extract_layered(net).widths
    [8, 8, 4]
    """
    layers = expander_layers(model)
    if not layers:
        raise ValueError("model: has no expander (XLinear/XConv2d) layer")
    nested = next((n for n, _ in layers if "." in n and isinstance(model, XNet)), None)
    if nested is not None:
        raise ValueError(
            f"model: {nested} is inside a residual/concat layer, so the expander layers are "
            "not a chain; use extract_graphs"
        )
    graphs = [graph_from_index(m.index, m.in_width, m.block, name) for name, m in layers]
    try:
        return LayeredGraph(graphs, [n for n, _ in layers])
    except ValueError as exc:
        raise ValueError(f"model: the expander layers' widths do not chain ({exc})") from None


def extract_graph(model: nn.Module):
    """The model's network graph (:class:`expandergraph.network.NetworkGraph`), read back.

    Every layer graph is rebuilt from the (trained, saved or reloaded) ELL index
    buffers, never from a cached object; the network's structure (residuals,
    concatenations, shuffles, flatten) comes from the model's spec.  Its
    ``fingerprint`` equals ``model.certificates["network"].fingerprint`` for a
    model built by :func:`compiler.compile` (any zoo model, freshly compiled,
    trained, saved and reloaded).  A plain chain of expander modules (no spec)
    gives the chain network of :meth:`~expandergraph.network.NetworkGraph.from_layered`;
    :func:`extract_layered` gives the :class:`~expandergraph.LayeredGraph` of a chain.

    Examples
    --------
    >>> from compiler import compile
    >>> model = compile({"input": 16, "layers": [{"out": 16, "degree": 16}]})
    >>> extract_graph(model).fingerprint == model.certificates["network"].fingerprint
    True
    """
    from expandergraph.network import NetworkGraph

    layers = expander_layers(model)
    if not layers:
        raise ValueError("model: has no expander (XLinear/XConv2d) layer")
    graphs = {name: graph_from_index(m.index, m.in_width, m.block, name) for name, m in layers}
    if isinstance(model, XNet) and model.spec is not None:
        return NetworkGraph.from_spec(model.spec, graphs)
    lg = extract_layered(model)
    if isinstance(model, XNet):
        return network_from_layered(lg)
    return NetworkGraph.from_layered(lg)


def network_from_layered(lg: LayeredGraph):
    """The network graph of a model compiled from a ``LayeredGraph``: module names as tensors.

    ``compile(lg)`` puts a ReLU between consecutive layers, so graph layer ``k`` is
    module ``layers[2k]``; the ReLUs are identity edges.
    """
    from expandergraph.network import NetworkGraph

    net = NetworkGraph(lg.widths[0], "")
    prev = "input"
    for k, layer in enumerate(lg):
        if k:
            prev = net.identity(f"layers[{2 * k - 1}]", prev)
        prev = net.graph(f"layers[{2 * k}]", prev, layer)
    net.output(prev)
    return net
