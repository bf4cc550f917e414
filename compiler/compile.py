"""``compile``: lower a certified layer-graph spec into an :class:`~compiler.network.XNet`.

Pipeline, in this order: the network spec is validated by
:func:`compiler.spec.load_spec`; every graph layer's graph is built once by
:func:`expandergraph.spec.layer_graph`; the spec is lowered to one
:class:`expandergraph.network.NetworkGraph` holding those graphs; every layer
graph is certified by :func:`expandergraph.certify.certify` and the whole
network by :func:`expandergraph.network.certify_network`; only then are the
modules built, from the network graph's own layer graphs.  A certificate that
is not ``passed`` refuses the spec unless ``allow_uncertified=True``, in which
case the override is written on those certificates and on the model (and so
into its ``state_dict``).

Lowering of the spec's kinds:

============  ====================================================================
kind          module
============  ====================================================================
linear        :class:`~compiler.modules.XLinear` (``bias``, ``backend`` options)
conv          :class:`~compiler.modules.XConv2d` (``kernel_size``, ``stride``,
              ``padding`` (``"same"`` with an odd kernel), ``dilation``)
depthwise     ``nn.Conv2d(C, C, ..., groups=C)`` (dense per channel; no graph)
activation    ``nn.ReLU``, ``nn.GELU``, ``nn.Tanh``, ``nn.Sigmoid``, ``nn.Identity``
norm          ``nn.BatchNorm2d`` on ``[C, H, W]``, ``nn.BatchNorm1d`` on features
pool          ``nn.MaxPool2d`` / ``nn.AvgPool2d`` (``size``, ``stride``,
              ``padding``), ``nn.AdaptiveAvgPool2d(size)``
flatten       ``nn.Flatten()``
dropout       ``nn.Dropout(p)``
shuffle       :class:`~compiler.network.ChannelShuffle` (``groups``)
residual      :class:`~compiler.network.Residual`: ``body(x) + shortcut(x)``
              (identity shortcut when none is given)
concat        :class:`~compiler.network.Concat`: ``cat([x, body(x)], dim=1)``
============  ====================================================================

Graph layers inside ``residual``/``concat`` layers are certified like
top-level ones, under their locations (``layers[3].body[1]``); the
``"network"`` certificate covers the whole network, skips and concatenations
included.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018, §3.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from expandergraph import BipartiteGraph, Certificate, LayeredGraph
from expandergraph.guarantees import LAYER_CHECKS, LAYERED_CHECKS

from .modules import XConv2d, XLinear
from .network import ChannelShuffle, Concat, Residual, XNet, network_from_layered
from .spec import BACKENDS, DEFAULT_BACKEND, layer_backend, load_spec

__all__ = ["compile", "CertificateError", "DEFAULT_CHECKS", "DEFAULT_NETWORK_CHECKS"]


class CertificateError(ValueError):
    """A certificate was not ``passed`` and no override was given.

    ``status`` is the worst state among the refused certificates (``"failed"``,
    ``"incomplete"`` or ``"undecided"``); the CLI exits with its code.
    """

    def __init__(self, message: str, status: str = "failed"):
        super().__init__(message)
        self.status = status


#: Checks run on every layer graph when the spec names none (the layered certificate's own).
DEFAULT_CHECKS: tuple[str, ...] = LAYER_CHECKS

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


#: Layered checks computed when the spec names none: all of them.
DEFAULT_NETWORK_CHECKS: tuple[str, ...] = LAYERED_CHECKS
_LAYER_PARAMS = ("alpha_max", "rho", "delta")
_NETWORK_PARAMS = ("alpha_max", "delta", "kappa", "sigma", "eps_max")


def _split_checks(names: Sequence[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(layer checks, layered checks)`` of a spec's ``certify`` list."""
    if names is None:
        return DEFAULT_CHECKS, DEFAULT_NETWORK_CHECKS
    names = tuple(names)
    layer = tuple(c for c in names if c not in LAYERED_CHECKS)
    return layer or ("degrees",), tuple(c for c in names if c in LAYERED_CHECKS)


def _certify_layer(
    graph: BipartiteGraph, checks: Sequence[str], params: dict | None = None
) -> Certificate:
    from expandergraph.certify import certify

    kw = {k: v for k, v in (params or {}).items() if k in _LAYER_PARAMS}
    try:
        return certify(graph, checks=tuple(checks), **kw)
    except ValueError as exc:
        raise ValueError(f"certify: {exc}") from None


def _certify_network(
    net,
    checks: Sequence[str],
    parts: dict[str, Certificate],
    params: dict | None = None,
    subject: str | None = None,
) -> Certificate:
    """The network certificate of the spec's network graph (its layers already certified)."""
    from expandergraph.network import certify_network

    kw = {k: v for k, v in (params or {}).items() if k in _NETWORK_PARAMS}
    try:
        return certify_network(
            net, checks=tuple(checks), layer_certificates=parts, subject=subject, **kw
        )
    except ValueError as exc:
        raise ValueError(f"certify: {exc}") from None


def _conv_args(layer) -> dict:
    o = layer.options
    k = o.get("kernel_size", 1)
    padding = o.get("padding", 0)
    if padding == "same":
        dil = o.get("dilation", 1)
        ks = (k, k) if isinstance(k, int) else tuple(k)
        ds = (dil, dil) if isinstance(dil, int) else tuple(dil)
        if any((d * (kk - 1)) % 2 for kk, d in zip(ks, ds)):
            raise ValueError(
                f"{layer.where}.padding: 'same' needs an odd (dilated) kernel, got kernel_size {k}"
            )
        padding = tuple(d * (kk - 1) // 2 for kk, d in zip(ks, ds))
    return {
        "kernel_size": k,
        "stride": o.get("stride", 1),
        "padding": padding,
        "dilation": o.get("dilation", 1),
    }


def _graphless(layer) -> nn.Module:
    o, kind = layer.options, layer.kind
    if kind == "activation":
        return _ACTIVATIONS[o.get("fn", "relu")]()
    if kind == "norm":
        c = layer.in_shape[0]
        return nn.BatchNorm2d(c) if len(layer.in_shape) == 3 else nn.BatchNorm1d(c)
    if kind == "pool":
        pool = o.get("pool", "max")
        if pool == "adaptive_avg":
            return nn.AdaptiveAvgPool2d(o.get("size", 1))
        cls = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        return cls(o.get("size", 2), o.get("stride", o.get("size", 2)), o.get("padding", 0))
    if kind == "flatten":
        return nn.Flatten()
    if kind == "dropout":
        return nn.Dropout(o.get("p", 0.5))
    if kind == "depthwise":
        c = layer.in_shape[0]
        return nn.Conv2d(c, c, groups=c, bias=o.get("bias", True), **_conv_args(layer))
    raise ValueError(f"{layer.where}.kind: {kind!r} cannot be compiled")  # pragma: no cover


def _layer_graphs(layers, out: dict) -> dict:
    """Every graph layer's graph, keyed by spec location, nested layers included (in order)."""
    from expandergraph.spec import layer_graph

    for layer in layers:
        if layer.is_nested:
            _layer_graphs(layer.body, out)
            _layer_graphs(layer.shortcut or (), out)
        elif layer.has_graph:
            out[layer.where] = layer_graph(layer)
    return out


def _lower(layer, spec, backend: str | None, graphs: dict) -> nn.Module:
    """One spec layer as a module (nested layers recursively), from the network's graphs."""
    if layer.kind == "residual":
        body = [_lower(sub, spec, backend, graphs) for sub in layer.body]
        short = [_lower(sub, spec, backend, graphs) for sub in layer.shortcut]
        return Residual(body, short or None)
    if layer.kind == "concat":
        return Concat([_lower(sub, spec, backend, graphs) for sub in layer.body])
    if layer.kind == "shuffle":
        return ChannelShuffle(layer.options["groups"])
    if not layer.has_graph:
        return _graphless(layer)
    g = graphs[layer.where]  # the network graph's own layer graph: one object, no rebuild
    kw = {"bias": layer.options.get("bias", True), "backend": layer_backend(layer, spec, backend)}
    if layer.kind == "linear":
        m = XLinear(layer.in_width, layer.out, g, **kw)
    else:
        m = XConv2d(layer.in_width, layer.out, graph=g, **_conv_args(layer), **kw)
    m.seed = layer.seed
    return m


def _from_layered(lg: LayeredGraph, backend: str, input_shape) -> tuple[list, list, list]:
    if input_shape is not None and tuple(input_shape) != (lg.widths[0],):
        raise ValueError(
            f"input_shape: {tuple(input_shape)} does not match the layered graph's input "
            f"width {lg.widths[0]}"
        )
    modules: list[nn.Module] = []
    graphs: list[tuple[str, BipartiteGraph]] = []
    for i, g in enumerate(lg.layers):
        if i:
            modules.append(nn.ReLU())
        graphs.append((f"layers[{len(modules)}]", g))
        modules.append(XLinear(g.left, g.right, g, backend=backend))
    return modules, graphs, [(lg.widths[0],)]


def compile(
    spec_or_layered_graph,
    backend: str | None = None,
    allow_uncertified: bool = False,
    input_shape: Sequence[int] | int | None = None,
) -> XNet:
    """Build, certify and lower a layer-graph spec (or a ``LayeredGraph``) into an ``XNet``.

    ``spec_or_layered_graph`` is a spec (path to ``.yaml``/``.yml``/``.json``, a
    mapping, or an :class:`expandergraph.spec.Spec`) or an
    :class:`expandergraph.LayeredGraph` (lowered to ``XLinear`` layers with a
    ReLU between consecutive layers).  ``backend`` applies to every expander
    layer that does not name its own; default: the spec's ``backend``, else
    ``"gather"``.  ``input_shape`` replaces the spec's ``input`` (e.g. another
    image size); the widths must still chain.

    Certification: the spec's ``certify`` list names the checks; names in
    :data:`expandergraph.guarantees.LAYERED_CHECKS` (``reach_depth``,
    ``bound_depth``, ``path_mixing``) go to the layered certificate
    (``"network"``, computed on the chained graph layers), the others to every
    layer's certificate (at least ``degrees``: no dead output).  Without a
    ``certify`` key: :data:`DEFAULT_CHECKS` per layer and
    :data:`DEFAULT_NETWORK_CHECKS` (the informative Tanner depth bound) for the
    network.  If any certificate fails, a
    :class:`CertificateError` (a ``ValueError``) names the layer and the failed
    checks, unless ``allow_uncertified=True``: then the override is recorded in
    ``Certificate.override`` and ``model.override`` (which is kept in
    ``state_dict``).  Spec errors are ``ValueError`` naming layer and field.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §3.

    Examples
    --------
    >>> net = compile({"input": 64, "layers": [{"out": 64, "degree": 8},
    ...                                        {"kind": "activation"},
    ...                                        {"out": 10, "graph": "dense"}]})
    >>> sorted(net.certificates), net.certified
    (['layers[0]', 'layers[2]', 'network'], True)
    >>> net.layers[0].degree, net.layers[0].backend
    (8, 'gather')
    >>> narrow = {"input": 16, "layers": [{"out": 16, "degree": 8}, {"out": 8, "degree": 8}]}
    >>> try:  # 16 -> 16 -> 8 at degree 8 is too small to count paths uniformly
    ...     compile(narrow)
    ... except CertificateError as e:
    ...     print(e.status, str(e).split(" (")[0])
    failed network failed: path_uniformity
    """
    if not isinstance(allow_uncertified, bool):
        raise ValueError(f"allow_uncertified: must be True or False, got {allow_uncertified!r}")
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend: {backend!r} must be one of {', '.join(BACKENDS)}")
    from expandergraph.network import NetworkGraph

    spec = None
    names = None
    params: dict = {}
    # 1. spec -> network graph (the layer graphs are built once, here)
    if isinstance(spec_or_layered_graph, LayeredGraph):
        lg = spec_or_layered_graph
        modules, graph_list, shapes = _from_layered(lg, backend or DEFAULT_BACKEND, input_shape)
        graphs = dict(graph_list)
        net = network_from_layered(lg)
    elif isinstance(spec_or_layered_graph, (str, Path, dict)) or hasattr(
        spec_or_layered_graph, "layers"
    ):
        spec = load_spec(spec_or_layered_graph, input_shape)
        names = spec.certify
        params = spec.certify_params
        graphs = _layer_graphs(spec.layers, {})
        net = NetworkGraph.from_spec(spec, graphs)
        shapes = [spec.input]
    else:
        raise ValueError(
            "spec_or_layered_graph: expected a spec path, mapping, Spec or LayeredGraph, got "
            f"{type(spec_or_layered_graph).__name__}"
        )

    # 2. certify: every layer, then the whole network (skips and concatenations included)
    layer_checks, net_checks = _split_checks(names)
    certificates: dict[str, Certificate] = {}
    for name, g in graphs.items():
        certificates[name] = _certify_layer(g, layer_checks, params)
    if graphs:
        # always: a spec that drops the mixing checks gets an *incomplete* network certificate
        subject = spec.name if spec is not None and spec.name else None
        certificates["network"] = _certify_network(
            net, net_checks, dict(certificates), params, subject
        )

    # anything but "passed" (failed, incomplete, undecided) is refused without an override
    failed = [(n, c.problems()) for n, c in certificates.items() if not c.passed]
    override = None
    if failed:
        what = "; ".join(
            f"{n} {certificates[n].status}: {', '.join(f) or 'a check'}" for n, f in failed
        )
        if not allow_uncertified:
            states = {certificates[n].status for n, _ in failed}
            worst = next(x for x in ("failed", "incomplete", "undecided") if x in states)
            raise CertificateError(
                f"{what} (certificate refused; override with allow_uncertified=True, "
                "or --allow-uncertified on the command line)",
                worst,
            )
        override = f"allow_uncertified=True: {what}"
        for n, _ in failed:
            certificates[n].override = override
    # 3. modules, from the network graph's layer graphs
    if spec is not None:
        modules = [_lower(layer, spec, backend, graphs) for layer in spec.layers]
    model = XNet(
        modules,
        spec=spec,
        certificates=certificates,
        input_shape=shapes[0],
        override=override,
    )
    return model
