"""The network spec: the compiler's vocabulary on top of the graph spec.

A network spec is a graph spec (:mod:`expandergraph.spec`: widths, graph layers,
``residual``/``concat``/``shuffle`` topology) plus what a network needs and a graph
does not: conv geometry, activations, norms, pooling, dropout, biases and backends.
It is read by :func:`expandergraph.spec.load_spec` with :data:`NETWORK`, so both
formats share one reader and one set of structural rules; each layer's ``role``
tells graph code what it is without knowing these kinds.

Format
------
::

    name: tiny-cnn          # optional
    input: [1, 28, 28]      # features, or [C, H, W] for conv nets
    seed: 0
    backend: gather         # optional: auto | masked | gather | triton (default gather)
    certify: [reach_depth]  # optional (see expandergraph.spec)
    layers:
      - kind: conv
        out: 32
        degree: 1
        kernel_size: 3
        padding: 1
      - kind: activation
        fn: relu

============  ===========================================================================
kind          keys (role)
============  ===========================================================================
linear        the graph keys + bias, backend (graph; needs a flat input)
conv          the graph keys + kernel_size, stride, padding, dilation, bias, backend
              (graph; needs [C, H, W])
depthwise     kernel_size (required), stride, padding, dilation, bias, backend (channelwise)
activation    fn (relu | gelu | tanh | sigmoid | identity; default relu) (channelwise)
norm          (none) (channelwise)
pool          pool (max | avg | adaptive_avg; default max), size, stride, padding
              (channelwise; needs [C, H, W])
flatten       (none) (flatten: ``(C, H, W)`` to ``C*H*W`` features)
dropout       p (``0 <= p < 1``; default 0.5) (channelwise)
shuffle, residual, concat: as in the graph spec
============  ===========================================================================

Geometry: ``kernel_size`` (default 1 for ``conv``), ``stride`` (1), ``padding`` (0;
``"valid"`` = 0; ``"same"`` needs stride 1), ``dilation`` (1); each an int or an
``[h, w]`` pair.  The output size per spatial axis is :func:`compiler.layout.conv_output_size`,
``floor((H + 2 p - d (k - 1) - 1) / s) + 1`` (PyTorch's ``Conv2d``).  Pools:
``max``/``avg`` use window ``size`` (default 2), ``stride`` (default ``size``)
and ``padding`` (0, at most half the window); ``adaptive_avg`` outputs
``size x size`` (default 1).  ``bias`` defaults to true.  A layer's ``backend``
is only what the layer says; the spec-wide ``backend`` is in ``Spec.options``
and :func:`layer_backend` combines them.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3.

Examples
--------
>>> s = load_spec({"input": [1, 8, 8], "backend": "masked", "layers": [
...     {"kind": "conv", "out": 4, "degree": 1, "kernel_size": 3, "padding": 1},
...     {"kind": "pool", "size": 2}, {"kind": "flatten"}, {"out": 10, "graph": "dense"}]})
>>> for l in s.layers:
...     print(l.kind, l.role, l.out_shape)
conv graph (4, 8, 8)
pool channelwise (4, 4, 4)
flatten flatten (64,)
linear graph (10,)
>>> layer_backend(s.layers[0], s), layer_backend(s.layers[0], s, "gather")
('masked', 'gather')
"""

from __future__ import annotations

from pathlib import Path

from expandergraph.fields import as_choice, as_number, as_option, as_pair
from expandergraph.layered import LayeredGraph
from expandergraph.spec import (
    GRAPH_VOCABULARY,
    Kind,
    LayerSpec,
    Spec,
    Vocabulary,
    build_layered,
)
from expandergraph.spec import load_spec as _load_graph_spec
from expandergraph.specfile import SPEC_SUFFIXES

from .functional import BACKENDS
from .layout import conv_output_size

__all__ = [
    "NETWORK",
    "ACTIVATIONS",
    "POOLS",
    "BACKENDS",  # compiler.functional.BACKENDS, the one list of backend names
    "DEFAULT_BACKEND",
    "load_spec",
    "load_layered",
    "layer_backend",
]

ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "identity")
POOLS = ("max", "avg", "adaptive_avg")
DEFAULT_BACKEND = "gather"
_CONV_KEYS = ("kernel_size", "stride", "padding", "dilation")


def _bias_backend(raw: dict, where: str) -> dict:
    if "bias" in raw and not isinstance(raw["bias"], bool):
        raise ValueError(f"{where}.bias: must be true or false, got {raw['bias']!r}")
    opts = {"bias": raw.get("bias", True)}
    if "backend" in raw:
        opts["backend"] = as_choice(raw["backend"], f"{where}.backend", BACKENDS)
    return opts


def _geometry(raw: dict, where: str, kind: str, shape: tuple) -> tuple[dict, tuple[int, int]]:
    if "kernel_size" not in raw and kind == "depthwise":
        raise ValueError(f"{where}.kernel_size: required on a depthwise layer")
    k = as_pair(raw.get("kernel_size", 1), f"{where}.kernel_size", 1)
    s = as_pair(raw.get("stride", 1), f"{where}.stride", 1)
    dil = as_pair(raw.get("dilation", 1), f"{where}.dilation", 1)
    padding = raw.get("padding", 0)
    _, h, w = shape
    if padding == "same":
        if s != (1, 1):
            raise ValueError(f"{where}.padding: 'same' needs stride 1, got {raw.get('stride')}")
        if any(d * (kk - 1) % 2 for kk, d in zip(k, dil)):
            raise ValueError(
                f"{where}.padding: 'same' needs an odd (dilated) kernel, got kernel_size "
                f"{as_option(raw.get('kernel_size', 1))}"
            )
        out_hw = (h, w)
    else:
        p = as_pair(0 if padding == "valid" else padding, f"{where}.padding", 0)
        out_hw = conv_output_size((h, w), k, s, p, dil)
    if min(out_hw) < 1:
        raise ValueError(
            f"{where}: output spatial size {out_hw[0]}x{out_hw[1]} is empty "
            f"(input {h}x{w}, kernel_size {raw.get('kernel_size', 1)})"
        )
    opts = {key: as_option(raw.get(key, d)) for key, d in zip(_CONV_KEYS, (1, 1, 0, 1))}
    return opts, out_hw


def _linear(raw: dict, where: str, shape: tuple, out: int | None):
    return _bias_backend(raw, where), (out,)


def _conv(raw: dict, where: str, shape: tuple, out: int | None):
    opts = _bias_backend(raw, where)
    geo, hw = _geometry(raw, where, "conv", shape)
    return {**opts, **geo}, (out, *hw)


def _depthwise(raw: dict, where: str, shape: tuple, out: int | None):
    opts = _bias_backend(raw, where)
    geo, hw = _geometry(raw, where, "depthwise", shape)
    return {**opts, **geo}, (shape[0], *hw)


def _activation(raw: dict, where: str, shape: tuple, out: int | None):
    return {"fn": as_choice(raw.get("fn", "relu"), f"{where}.fn", ACTIVATIONS)}, shape


def _dropout(raw: dict, where: str, shape: tuple, out: int | None):
    p = as_number(raw.get("p", 0.5), f"{where}.p")
    if not 0 <= p < 1:
        raise ValueError(f"{where}.p: must be in [0, 1), got {p}")
    return {"p": p + 0.0}, shape  # -0.0 stored as 0.0


def _pool(raw: dict, where: str, shape: tuple, out: int | None):
    pool = as_choice(raw.get("pool", "max"), f"{where}.pool", POOLS)
    c, h, w = shape
    if pool == "adaptive_avg":
        for key in ("stride", "padding"):
            if key in raw:
                raise ValueError(f"{where}.{key}: does not apply to an adaptive_avg pool")
        size = as_pair(raw.get("size", 1), f"{where}.size", 1)
        return {"pool": pool, "size": as_option(raw.get("size", 1))}, (c, *size)
    size = as_pair(raw.get("size", 2), f"{where}.size", 1)
    stride = as_pair(raw.get("stride", raw.get("size", 2)), f"{where}.stride", 1)
    pad = as_pair(raw.get("padding", 0), f"{where}.padding", 0)
    if any(2 * p > k for p, k in zip(pad, size)):
        raise ValueError(f"{where}.padding: must be at most half the pool size {size}")
    out_hw = conv_output_size((h, w), size, stride, pad)
    if min(out_hw) < 1:
        raise ValueError(f"{where}: output spatial size {out_hw[0]}x{out_hw[1]} is empty")
    opts = {
        "pool": pool,
        "size": as_option(raw.get("size", 2)),
        "stride": as_option(raw.get("stride", raw.get("size", 2))),
        "padding": as_option(raw.get("padding", 0)),
    }
    return opts, (c, *out_hw)


def _check_top(raw: dict) -> dict:
    if "backend" in raw:
        return {"backend": as_choice(raw["backend"], "backend", BACKENDS)}
    return {}


#: the network vocabulary: the graph spec's kinds plus the compiler's
NETWORK = Vocabulary(
    name="network spec",
    kinds={
        "linear": Kind("graph", ("bias", "backend"), "flat", _linear),
        "conv": Kind("graph", _CONV_KEYS + ("bias", "backend"), "spatial", _conv),
        "depthwise": Kind("channelwise", _CONV_KEYS + ("bias", "backend"), "spatial", _depthwise),
        "activation": Kind("channelwise", ("fn",), "any", _activation),
        "norm": Kind("channelwise"),
        "pool": Kind("channelwise", ("pool", "size", "stride", "padding"), "spatial", _pool),
        "flatten": Kind("flatten"),
        "dropout": Kind("channelwise", ("p",), "any", _dropout),
        **{k: GRAPH_VOCABULARY.kinds[k] for k in ("shuffle", "residual", "concat")},
    },
    top_keys=("backend",),
    check_top=_check_top,
    spatial=True,
)
KINDS = tuple(NETWORK.kinds)


def load_spec(source: str | Path | dict | Spec, input_shape=None) -> Spec:
    """Read and validate a network spec (the format above); a network :class:`Spec` passes through.

    ``input_shape`` (an int or ``[C, H, W]``) replaces the spec's ``input``, every
    shape re-resolved (e.g. another image size).  Errors are one-line ``ValueError``
    starting with the location, as in :func:`expandergraph.spec.load_spec`.
    """
    if isinstance(source, Spec):
        # a Spec read in another vocabulary (a graph spec) is read again as a network spec
        spec = (
            source if source.vocabulary == NETWORK.name else _load_graph_spec(source.raw, NETWORK)
        )
    else:
        spec = _load_graph_spec(source, NETWORK)
    if input_shape is not None:
        spec = spec.with_input(input_shape, NETWORK)
    return spec


def load_layered(source: str | Path | dict | Spec) -> LayeredGraph:
    """The chain of a network spec's graph layers (:func:`expandergraph.spec.build_layered`).

    A ``.npz`` path is read as a saved :class:`~expandergraph.layered.LayeredGraph`.
    """
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() not in SPEC_SUFFIXES:
        from expandergraph.spec import load_layered as _load

        return _load(source)
    return build_layered(load_spec(source))


def layer_backend(layer: LayerSpec, spec: Spec | None = None, backend: str | None = None) -> str:
    """The backend of one graph layer: the layer's own, else ``backend``, else the spec's.

    Default :data:`DEFAULT_BACKEND`.  Precedence: a ``backend`` written on the
    layer wins over the ``compile(..., backend=)`` argument, which wins over the
    spec-wide ``backend`` key.
    """
    own = layer.options.get("backend")
    if own is not None:
        return own
    if backend is not None:
        return backend
    if spec is not None and spec.options.get("backend"):
        return spec.options["backend"]
    return DEFAULT_BACKEND
