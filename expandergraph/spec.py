"""The layer-graph spec: one YAML/JSON format for the whole project.

A spec names an input shape and a list of layers.  Graph-bearing layers
(``linear``, ``conv``) carry a bipartite connectivity graph from their input
width to their ``out`` width; graph-less layers (``activation``, ``norm``,
``pool``, ``flatten``, ``dropout``, ``depthwise``) keep the width (``flatten``
turns ``(C, H, W)`` into ``C*H*W`` features).  ``expandergraph`` builds a
:class:`~expandergraph.layered.LayeredGraph` from the graph-bearing layers; the
``compiler`` lowers the whole spec into modules.  Both read it through
:func:`load_spec`, so they agree on every width and spatial size.

Format
------
::

    name: mlp               # optional
    input: 784              # level-0 width (features), or [C, H, W] for conv nets
    seed: 0                 # optional, default 0; a layer's seed defaults to seed + index
    backend: gather         # optional: auto | masked | gather | triton
    certify: [degrees, spectrum, reach_depth]   # optional: check names
    layers:
      - out: 512            # kind: linear is the default
        graph: random-bipartite   # default; also biregular, grouped, local, dense, lps-bipartite
        degree: 16          # inputs per output node; or density: 0.125; or compression: 8
        seed: 0             # optional
        block: 1            # optional: connect whole blocks of this many nodes
      - kind: activation
        fn: relu

Keys allowed per ``kind`` (``kind`` itself is allowed everywhere; anything else
is an error, never ignored):

============  ===========================================================================
kind          keys
============  ===========================================================================
linear        in, out, graph, degree | density | compression, seed, block, bias, backend
conv          the linear keys + kernel_size, stride, padding, dilation
depthwise     kernel_size (required), stride, padding, dilation, bias, backend
activation    fn (relu | gelu | tanh | sigmoid | identity; default relu)
norm          (none)
pool          pool (max | avg | adaptive_avg; default max), size, stride, padding
flatten       (none)
dropout       p (``0 <= p < 1``; default 0.5)
shuffle       groups (required; divides the channel count): channel shuffle (ShuffleNet)
residual      body (non-empty layer list), shortcut (layer list; omitted or empty:
              identity): ``y = body(x) + shortcut(x)``, both outputs of equal shape
concat        body (non-empty layer list): ``y = cat([x, body(x)])`` on the channel
              (feature) axis, a DenseNet layer; spatial sizes must match
============  ===========================================================================

Nested layers are located as ``layers[3].body[1]`` (or ``.shortcut[0]``) in
errors, certificates and compiled modules.  A nested layer's ``seed`` defaults
to ``seed + len(layers) + k``, with ``k`` its number in the depth-first
traversal of :func:`iter_layers` (top-level layers keep ``seed + index``).
:func:`build_layered` refuses nested specs (they are not a chain);
:func:`layer_graphs` returns every graph in traversal order.

Rules and stated defaults:

* ``out`` is required on ``linear``/``conv`` (features or channels).  ``in`` is
  optional and, when given, must equal the width the chain has reached.
* The degree ``D`` counts input *nodes* per output node.  Exactly one of
  ``degree`` (``1 <= D <= in``), ``density`` (``0 < x <= 1``, ``D = floor(x * in)``)
  or ``compression`` (``c >= 1``, ``D = floor(in / c)``, the reference code's rule)
  is given; ``dense`` takes none (``D = in``).  ``D >= 1`` always.
* ``block`` (default 1) must divide ``in``, ``out`` and ``D``: the layer is built
  on ``in/block -> out/block`` blocks with block degree ``D/block`` and expanded
  with :func:`expandergraph.generators.derived.block_expander`.
* ``grouped`` has ``groups = in / D`` (``D`` must divide ``in``, and ``groups`` must
  divide ``out``); ``biregular`` needs ``out * D`` divisible by ``in``;
  ``lps-bipartite`` needs ``in == out == q(q²-1)/2`` and ``D = p + 1``.
* ``seed`` defaults to the top-level ``seed`` plus the layer's index in ``layers``.
* Conv/depthwise: ``kernel_size`` (default 1 for ``conv``), ``stride`` (1),
  ``padding`` (0; ``"valid"`` = 0; ``"same"`` needs stride 1), ``dilation`` (1); each an int or an
  ``[h, w]`` pair.  ``bias`` defaults to true.  The output size per spatial axis is
  ``floor((H + 2 p - d (k - 1) - 1) / s) + 1`` (the PyTorch ``Conv2d`` formula).
* Pool: ``max``/``avg`` use window ``size`` (default 2), ``stride`` (default
  ``size``) and ``padding`` (0): ``floor((H + 2 p - size) / stride) + 1``;
  ``adaptive_avg`` outputs ``size x size`` (default 1).
* ``linear`` needs a flat input (use ``flatten`` after conv layers); ``conv``,
  ``depthwise`` and ``pool`` need ``[C, H, W]``.

Errors are ``ValueError`` whose message starts with the location, e.g.
``layers[2].degree: 600 exceeds the layer's input width 512``.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3
(X-Linear, X-Conv, compression ``D = c_in / c``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .graph import BipartiteGraph
from .layered import LayeredGraph
from .limits import SizeLimitError, check_bytes

__all__ = [
    "LayerSpec",
    "Spec",
    "load_spec",
    "read_spec",
    "layer_graph",
    "layer_graphs",
    "iter_layers",
    "build_layered",
    "load_layered",
    "GRAPHS",
    "KINDS",
]

GRAPH_KINDS = ("linear", "conv")
GRAPHLESS_KINDS = ("activation", "norm", "pool", "flatten", "dropout", "depthwise", "shuffle")
#: kinds that hold sub-layer lists (``body``, ``shortcut``)
NESTED_KINDS = ("residual", "concat")
KINDS = GRAPH_KINDS + GRAPHLESS_KINDS + NESTED_KINDS
#: constructions a layer's ``graph`` may name
GRAPHS = ("random-bipartite", "biregular", "grouped", "local", "dense", "lps-bipartite")
ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "identity")
POOLS = ("max", "avg", "adaptive_avg")
BACKENDS = ("auto", "masked", "gather", "triton")
TOP_KEYS = ("input", "seed", "layers", "name", "backend", "certify")
GRAPH_KEYS = ("in", "out", "graph", "degree", "density", "compression", "seed", "block")
_CONV_KEYS = ("kernel_size", "stride", "padding", "dilation")
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "linear": GRAPH_KEYS + ("bias", "backend"),
    "conv": GRAPH_KEYS + _CONV_KEYS + ("bias", "backend"),
    "depthwise": _CONV_KEYS + ("bias", "backend"),
    "activation": ("fn",),
    "norm": (),
    "pool": ("pool", "size", "stride", "padding"),
    "flatten": (),
    "dropout": ("p",),
    "shuffle": ("groups",),
    "residual": ("body", "shortcut"),
    "concat": ("body",),
}
_ALL_LAYER_KEYS = {"kind"} | {k for keys in LAYER_KEYS.values() for k in keys}
_SPEC_SUFFIXES = (".yaml", ".yml", ".json")
#: caps on what a spec may ask for, checked before the work is done
MAX_SPEC_BYTES = 16 << 20  # a spec file larger than 16 MiB is refused unread
MAX_LAYERS = 100_000  # layers in all, nested ones included
MAX_DEPTH = 32  # residual/concat nesting levels


@dataclass(frozen=True)
class LayerSpec:
    """One validated layer of a :class:`Spec` with its widths and shapes resolved.

    ``in_width``/``out`` are channel (conv) or feature (linear) widths; graph-less
    layers keep the width except ``flatten``.  ``graph``/``degree`` are ``None``
    on graph-less layers (``block`` is 1).  ``options`` holds every other key,
    validated, with the stated defaults filled in.  ``in_shape``/``out_shape`` are
    ``(C, H, W)`` or ``(F,)``.
    """

    index: int
    kind: str
    in_width: int | None
    out: int | None
    graph: str | None
    degree: int | None
    seed: int
    block: int
    options: dict = field(default_factory=dict)
    in_shape: tuple | None = None
    out_shape: tuple | None = None
    path: str | None = None
    body: tuple = ()
    shortcut: tuple = ()

    @property
    def has_graph(self) -> bool:
        """True for graph-bearing kinds (``linear``, ``conv``)."""
        return self.kind in GRAPH_KINDS

    @property
    def is_nested(self) -> bool:
        """True for ``residual`` and ``concat`` layers (they hold ``body``/``shortcut``)."""
        return self.kind in NESTED_KINDS

    @property
    def where(self) -> str:
        """The layer's location, e.g. ``layers[3]`` or ``layers[3].body[1]``."""
        return self.path or f"layers[{self.index}]"


@dataclass(frozen=True)
class Spec:
    """A validated layer-graph spec; see the module docstring for the format."""

    input: tuple[int, ...]
    layers: tuple[LayerSpec, ...]
    seed: int = 0
    name: str | None = None
    raw: dict = field(default_factory=dict)

    @property
    def graph_layers(self) -> tuple[LayerSpec, ...]:
        """The graph-bearing layers in traversal order (see :func:`iter_layers`)."""
        return tuple(layer for layer in iter_layers(self.layers) if layer.has_graph)

    @property
    def nested(self) -> bool:
        """True when some layer is a ``residual`` or ``concat`` (the spec is not a chain)."""
        return any(layer.is_nested for layer in self.layers)

    @property
    def backend(self) -> str | None:
        return self.raw.get("backend")

    @property
    def certify(self) -> tuple[str, ...] | None:
        """The check names of the ``certify`` block (a list, or a mapping's ``checks``)."""
        c = self.raw.get("certify")
        if isinstance(c, dict):
            c = c.get("checks")
        return None if c is None else tuple(c)

    @property
    def certify_params(self) -> dict:
        """Claim parameters of a ``certify`` mapping (:data:`CERTIFY_PARAMS`); ``{}`` if none."""
        c = self.raw.get("certify")
        if not isinstance(c, dict):
            return {}
        return {k: c[k] for k in CERTIFY_PARAMS if k in c}


# -- reading files ----------------------------------------------------------------


def _yaml_loader():
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return loader.construct_mapping(node, deep)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return UniqueKeyLoader


def read_spec(path: str | Path) -> Any:
    """The parsed content of a spec file: the one reader every command uses.

    ``.yaml``/``.yml`` (any letter case) are read with a ``yaml.SafeLoader``
    subclass that refuses duplicate keys; ``.json`` with a duplicate-refusing
    ``json`` hook.  Files over :data:`MAX_SPEC_BYTES` and nesting too deep for
    the parser are refused.  Every error is one ``ValueError`` naming ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "S.YAML"
    >>> _ = p.write_text("input: 4\\nlayers: [{out: 4, degree: 2}]\\n")
    >>> read_spec(p)["input"]
    4
    >>> _ = p.write_text("input: 4\\ninput: 8\\n")
    >>> try:
    ...     read_spec(p)
    ... except ValueError as e:
    ...     print(str(e).split(": ", 1)[1])
    malformed YAML (line 2: duplicate key 'input')
    """
    path = Path(path)
    if path.suffix.lower() not in _SPEC_SUFFIXES:
        raise ValueError(f"{path}: a spec file must end in .yaml, .yml or .json")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    if size > MAX_SPEC_BYTES:
        raise SizeLimitError(
            f"{path}: spec file of {size} bytes exceeds the {MAX_SPEC_BYTES >> 20} MiB limit "
            f"(parsing it would need several times that in memory)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    try:
        return _parse_text(path, text)
    except RecursionError:
        raise ValueError(f"{path}: nesting too deep to parse") from None


def _parse_text(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":

        def pairs(items):
            out = {}
            for k, v in items:
                if k in out:
                    raise ValueError(f"{path}: malformed JSON (duplicate key {k!r})")
                out[k] = v
            return out

        try:
            return json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: malformed JSON (line {exc.lineno}: {exc.msg})") from None
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValueError(f"{path}: malformed YAML ({where}{problem})") from None
    except (TypeError, ValueError) as exc:  # e.g. an unhashable key such as {[1]: 2}
        raise ValueError(f"{path}: malformed YAML ({exc})") from None


# -- value checks ------------------------------------------------------------------


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _int(value, where: str, lo: int = 1) -> int:
    if not _is_int(value):
        raise ValueError(f"{where}: must be an integer, got {value!r}")
    if value < lo:
        rule = "positive" if lo == 1 else f">= {lo}"
        raise ValueError(f"{where}: must be {rule}, got {value}")
    return int(value)


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number, got {value!r}")
    return float(value)


def _pair(value, where: str, lo: int) -> tuple[int, int]:
    if _is_int(value):
        v = _int(value, where, lo)
        return (v, v)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (_int(value[0], where, lo), _int(value[1], where, lo))
    raise ValueError(f"{where}: must be an integer or an [h, w] pair, got {value!r}")


def _as_option(value):
    """Options keep an int when both entries agree with how they were given."""
    return tuple(value) if isinstance(value, list) else value


def _choice(value, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{where}: must be one of {', '.join(choices)}, got {value!r}")
    return value


# -- validation --------------------------------------------------------------------


def _input_shape(value) -> tuple[int, ...]:
    msg = f"input: must be a positive integer or [C, H, W], got {value!r}"
    if _is_int(value):
        if value < 1:
            raise ValueError(msg)
        return (int(value),)
    if isinstance(value, (list, tuple)) and len(value) in (1, 3):
        if all(_is_int(v) and v >= 1 for v in value):
            return tuple(int(v) for v in value)
    raise ValueError(msg)


def _resolve_degree(raw: dict, where: str, graph: str, width: int) -> int:
    given = [k for k in ("degree", "density", "compression") if k in raw]
    if len(given) > 1:
        raise ValueError(f"{where}: give exactly one of degree, density, compression (got {given})")
    if graph == "dense":
        if given:
            key = given[0]
            d = _resolve_degree(raw, where, "random-bipartite", width)
            if d != width:
                raise ValueError(
                    f"{where}.{key}: graph 'dense' connects all {width} inputs; "
                    f"{key} gives degree {d}"
                )
        return width
    if not given:
        raise ValueError(f"{where}: give one of degree, density, compression")
    from .degree import degree_for

    key = given[0]
    if key == "degree":
        value = _int(raw["degree"], f"{where}.degree")
    else:
        value = _number(raw[key], f"{where}.{key}")
    return degree_for(width, where=where, **{key: value})


def _check_construction(where: str, graph: str, width: int, out: int, d: int, block: int) -> None:
    left, right, db = width // block, out // block, d // block
    unit = f" blocks of {block}" if block > 1 else ""
    if graph == "grouped":
        if left % db:
            raise ValueError(
                f"{where}.degree: grouped needs the degree {db} to divide the input width "
                f"{left}{unit} (groups = in / degree)"
            )
        groups = left // db
        if right % groups:
            raise ValueError(
                f"{where}.out: grouped has {groups} groups, which must divide the output "
                f"width {right}{unit}"
            )
    elif graph == "biregular":
        if (right * db) % left:
            raise ValueError(
                f"{where}.degree: biregular needs out * degree = {right}*{db} divisible by "
                f"the input width {left}{unit}"
            )
    elif graph == "lps-bipartite" and left != right:
        raise ValueError(f"{where}.out: lps-bipartite needs out = in, got {out} != {width}")


def _conv_out(size: int, k: int, s: int, p: int, dil: int) -> int:
    return (size + 2 * p - dil * (k - 1) - 1) // s + 1


def _conv_options(raw: dict, where: str, kind: str, shape: tuple) -> tuple[dict, tuple[int, int]]:
    opts: dict = {}
    if "kernel_size" not in raw and kind == "depthwise":
        raise ValueError(f"{where}.kernel_size: required on a depthwise layer")
    k = _pair(raw.get("kernel_size", 1), f"{where}.kernel_size", 1)
    s = _pair(raw.get("stride", 1), f"{where}.stride", 1)
    dil = _pair(raw.get("dilation", 1), f"{where}.dilation", 1)
    padding = raw.get("padding", 0)
    _, h, w = shape
    if padding == "same":
        if s != (1, 1):
            raise ValueError(f"{where}.padding: 'same' needs stride 1, got {raw.get('stride')}")
        out_hw = (h, w)
    else:
        p = _pair(0 if padding == "valid" else padding, f"{where}.padding", 0)
        out_hw = tuple(_conv_out(n, *a) for n, a in zip((h, w), zip(k, s, p, dil)))
    if min(out_hw) < 1:
        raise ValueError(
            f"{where}: output spatial size {out_hw[0]}x{out_hw[1]} is empty "
            f"(input {h}x{w}, kernel_size {raw.get('kernel_size', 1)})"
        )
    for key, default in (("kernel_size", 1), ("stride", 1), ("padding", 0), ("dilation", 1)):
        opts[key] = _as_option(raw.get(key, default))
    return opts, out_hw


def _pool_options(raw: dict, where: str, shape: tuple) -> tuple[dict, tuple[int, int]]:
    pool = _choice(raw.get("pool", "max"), f"{where}.pool", POOLS)
    _, h, w = shape
    if pool == "adaptive_avg":
        for key in ("stride", "padding"):
            if key in raw:
                raise ValueError(f"{where}.{key}: does not apply to an adaptive_avg pool")
        size = _pair(raw.get("size", 1), f"{where}.size", 1)
        return {"pool": pool, "size": _as_option(raw.get("size", 1))}, size
    size = _pair(raw.get("size", 2), f"{where}.size", 1)
    stride = _pair(raw.get("stride", raw.get("size", 2)), f"{where}.stride", 1)
    pad = _pair(raw.get("padding", 0), f"{where}.padding", 0)
    if any(2 * p > k for p, k in zip(pad, size)):
        raise ValueError(f"{where}.padding: must be at most half the pool size {size}")
    out_hw = tuple(_conv_out(n, k, s, p, 1) for n, k, s, p in zip((h, w), size, stride, pad))
    if min(out_hw) < 1:
        raise ValueError(f"{where}: output spatial size {out_hw[0]}x{out_hw[1]} is empty")
    opts = {
        "pool": pool,
        "size": _as_option(raw.get("size", 2)),
        "stride": _as_option(raw.get("stride", raw.get("size", 2))),
        "padding": _as_option(raw.get("padding", 0)),
    }
    return opts, out_hw


def _sublayers(raw, where: str, shape: tuple, top: dict, seeds: list[int]) -> tuple:
    """Validate a nested ``body``/``shortcut`` list; returns ``(layers, out_shape)``."""
    if not isinstance(raw, list):
        raise ValueError(f"{where}: must be a list of layers, got {type(raw).__name__}")
    depth = where.count(".body") + where.count(".shortcut")
    if depth > MAX_DEPTH:
        short = where if len(where) < 80 else where[:60] + "..."
        raise ValueError(f"{short}: residual/concat nesting deeper than {MAX_DEPTH} levels")
    out = []
    for i, sub in enumerate(raw):
        seeds[1] += 1
        if seeds[1] > MAX_LAYERS:
            raise SizeLimitError(f"{where}: more than {MAX_LAYERS} layers in all (nested included)")
        seed = seeds[0]
        seeds[0] += 1
        layer = _layer(sub, i, shape, top, seed, f"{where}[{i}]", seeds)
        out.append(layer)
        shape = layer.out_shape
    return tuple(out), shape


def _nested(raw: dict, index: int, where: str, kind: str, shape: tuple, top: dict, seeds):
    if "body" not in raw:
        raise ValueError(f"{where}.body: required on a {kind!r} layer")
    if not isinstance(raw["body"], list) or not raw["body"]:
        raise ValueError(f"{where}.body: must be a non-empty list of layers")
    body, body_shape = _sublayers(raw["body"], f"{where}.body", shape, top, seeds)
    shortcut: tuple = ()
    if kind == "residual":
        short_shape = shape
        if raw.get("shortcut"):
            shortcut, short_shape = _sublayers(
                raw["shortcut"], f"{where}.shortcut", shape, top, seeds
            )
        elif "shortcut" in raw and not isinstance(raw["shortcut"], list):
            raise ValueError(f"{where}.shortcut: must be a list of layers (empty: identity)")
        if body_shape != short_shape:
            raise ValueError(
                f"{where}: body output {list(body_shape)} does not match the shortcut output "
                f"{list(short_shape)} (y = body(x) + shortcut(x) needs equal shapes)"
            )
        out_shape = body_shape
    else:  # concat: y = cat([x, body(x)], channel axis)
        if len(body_shape) != len(shape) or body_shape[1:] != shape[1:]:
            raise ValueError(
                f"{where}: body output {list(body_shape)} cannot be concatenated with the "
                f"input {list(shape)} (spatial sizes must match)"
            )
        out_shape = (shape[0] + body_shape[0], *shape[1:])
    return LayerSpec(
        index,
        kind,
        shape[0],
        out_shape[0],
        None,
        None,
        0,
        1,
        {},
        shape,
        out_shape,
        where,
        body,
        shortcut,
    )


def _layer(
    raw,
    index: int,
    shape: tuple,
    top: dict,
    top_seed: int,
    where: str | None = None,
    seeds: list[int] | None = None,
) -> LayerSpec:
    """One layer; top-level layers get ``seed = top_seed + index``, nested ones ``top_seed``."""
    nested_default = where is not None
    where = where or f"layers[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a mapping, got {type(raw).__name__}")
    for key in raw:
        if key not in _ALL_LAYER_KEYS:
            raise ValueError(f"{where}: unknown key {key!r}")
    kind = raw.get("kind", "linear")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"{where}.kind: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    allowed = set(LAYER_KEYS[kind]) | {"kind"}
    for key in raw:
        if key not in allowed:
            if key in GRAPH_KEYS:
                raise ValueError(
                    f"{where}: graph key {key!r} is not allowed on a {kind!r} layer "
                    "(graph-less layers keep the width)"
                )
            raise ValueError(f"{where}: key {key!r} does not apply to kind {kind!r}")
    flat = len(shape) == 1
    width = shape[0]
    if kind in ("conv", "depthwise", "pool") and flat:
        raise ValueError(f"{where}: kind {kind!r} needs a [C, H, W] input, got width {width}")
    if kind == "linear" and not flat:
        raise ValueError(
            f"{where}: kind 'linear' needs a flat input, got shape {list(shape)}; "
            "add a 'flatten' layer"
        )
    options: dict = {}
    if kind in ("linear", "conv", "depthwise"):
        if "bias" in raw and not isinstance(raw["bias"], bool):
            raise ValueError(f"{where}.bias: must be true or false, got {raw['bias']!r}")
        options["bias"] = raw.get("bias", True)
        backend = raw.get("backend", top.get("backend"))
        if backend is not None:
            options["backend"] = _choice(backend, f"{where}.backend", BACKENDS)
    seed = raw.get("seed", top_seed if nested_default else top_seed + index)
    seed = _int(seed, f"{where}.seed", 0)
    if kind in NESTED_KINDS:
        if seeds is None:
            raise ValueError(f"{where}: nested layers need a seed counter")  # pragma: no cover
        return _nested(raw, index, where, kind, shape, top, seeds)
    if kind == "shuffle":
        if "groups" not in raw:
            raise ValueError(f"{where}.groups: required on a 'shuffle' layer")
        groups = _int(raw["groups"], f"{where}.groups")
        if width % groups:
            raise ValueError(f"{where}.groups: {groups} must divide the channel count {width}")
        return LayerSpec(
            index, kind, width, width, None, None, seed, 1, {"groups": groups}, shape, shape, where
        )

    if kind in GRAPH_KINDS:
        if "out" not in raw:
            raise ValueError(f"{where}.out: required on a {kind!r} layer")
        out = _int(raw["out"], f"{where}.out")
        if "in" in raw:
            given = _int(raw["in"], f"{where}.in")
            if given != width:
                raise ValueError(
                    f"{where}.in: {given} does not chain: the previous layer's width is {width}"
                )
        graph = raw.get("graph", "random-bipartite")
        if not isinstance(graph, str) or graph not in GRAPHS:
            raise ValueError(
                f"{where}.graph: unknown construction {graph!r} (known: {', '.join(GRAPHS)})"
            )
        block = _int(raw.get("block", 1), f"{where}.block")
        if width % block or out % block:
            raise ValueError(
                f"{where}.block: {block} must divide the input width {width} and out {out}"
            )
        d = _resolve_degree(raw, where, graph, width)
        if d % block:
            key = next((k for k in ("degree", "density", "compression") if k in raw), "block")
            raise ValueError(
                f"{where}.{key}: degree {d} (in nodes) must be a multiple of block {block}"
            )
        _check_construction(where, graph, width, out, d, block)
        # the layer's graph: edge table, its sorted copy and the CSR pointers
        check_bytes(where, f"out={out}, degree={d}", 8 * (3 * out * d + width + out))
        if kind == "conv":
            conv, hw = _conv_options(raw, where, kind, shape)
            options.update(conv)
            out_shape = (out, *hw)
        else:
            out_shape = (out,)
        return LayerSpec(
            index, kind, width, out, graph, d, seed, block, options, shape, out_shape, where
        )

    if kind == "depthwise":
        conv, hw = _conv_options(raw, where, kind, shape)
        options.update(conv)
        out_shape = (width, *hw)
    elif kind == "pool":
        pool, hw = _pool_options(raw, where, shape)
        options.update(pool)
        out_shape = (width, *hw)
    elif kind == "flatten":
        out_shape = (math.prod(shape),)
    elif kind == "activation":
        options["fn"] = _choice(raw.get("fn", "relu"), f"{where}.fn", ACTIVATIONS)
        out_shape = shape
    elif kind == "dropout":
        p = _number(raw.get("p", 0.5), f"{where}.p")
        if not 0 <= p < 1:
            raise ValueError(f"{where}.p: must be in [0, 1), got {p}")
        options["p"] = p
        out_shape = shape
    else:  # norm
        out_shape = shape
    return LayerSpec(
        index, kind, width, out_shape[0], None, None, seed, 1, options, shape, out_shape, where
    )


def load_spec(source: str | Path | dict) -> Spec:
    """Read and validate a layer-graph spec; widths and spatial sizes are resolved.

    ``source`` is a path to a ``.yaml``/``.yml``/``.json`` file or an equivalent
    mapping.  Conventions, keys and defaults: see the module docstring.  Raises
    ``ValueError`` with a one-line message that starts with the location
    (``layers[2].degree: ...``, or ``spec.yaml: malformed YAML (line 3: ...)``).

    Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3.

    Examples
    --------
    >>> s = load_spec({"input": 784, "layers": [{"out": 512, "degree": 16},
    ...                                         {"kind": "activation"}]})
    >>> [(l.kind, l.in_width, l.out, l.degree, l.seed) for l in s.layers]
    [('linear', 784, 512, 16, 0), ('activation', 512, 512, None, 1)]
    """
    if isinstance(source, dict):
        raw = source
    elif isinstance(source, (str, Path)):
        path = Path(source)
        raw = read_spec(path)
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: the top level must be a mapping with 'input' and 'layers'")
    else:
        raise ValueError(f"source: expected a path or a mapping, got {type(source).__name__}")
    for key in raw:
        if key not in TOP_KEYS:
            raise ValueError(f"spec: unknown key {key!r} (known: {', '.join(TOP_KEYS)})")
    if "input" not in raw:
        raise ValueError("input: required (a positive integer or [C, H, W])")
    shape = _input_shape(raw["input"])
    seed = _int(raw.get("seed", 0), "seed", 0)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"name: must be a string, got {name!r}")
    if "backend" in raw:
        _choice(raw["backend"], "backend", BACKENDS)
    if "certify" in raw:
        _certify_block(raw["certify"])
    layers = raw.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ValueError("layers: must be a non-empty list of layers")
    if len(layers) > MAX_LAYERS:
        raise SizeLimitError(f"layers: {len(layers)} layers exceed the limit of {MAX_LAYERS}")
    out = []
    # [next nested seed (seed + len(layers) + traversal number), layers seen in all]
    seeds = [seed + len(layers), len(layers)]
    for i, layer_raw in enumerate(layers):
        layer = _layer(layer_raw, i, shape, raw, seed, None, seeds)
        out.append(layer)
        shape = layer.out_shape
    return Spec(_input_shape(raw["input"]), tuple(out), seed, name, raw)


#: parameters a ``certify`` mapping may set (see :func:`expandergraph.certify.certify`
#: and :func:`expandergraph.guarantees.certify_layered`)
CERTIFY_PARAMS = ("alpha_max", "rho", "delta", "kappa", "sigma", "eps_max")


def _certify_block(c) -> None:
    """``certify``: a list of check names, or ``{checks: [...], alpha_max: ..., ...}``."""
    if isinstance(c, dict):
        unknown = sorted(set(c) - set(CERTIFY_PARAMS) - {"checks"})
        if unknown:
            raise ValueError(
                f"certify.{unknown[0]}: unknown key (known: checks, {', '.join(CERTIFY_PARAMS)})"
            )
        for k in CERTIFY_PARAMS:
            if k in c and (isinstance(c[k], bool) or not isinstance(c[k], (int, float))):
                raise ValueError(f"certify.{k}: must be a number, got {c[k]!r}")
        if "checks" in c:
            _certify_names(c["checks"], "certify.checks")
        return
    _certify_names(c, "certify")


def _certify_names(c, where: str) -> None:
    if not isinstance(c, list) or not all(isinstance(x, str) and x.strip() for x in c):
        raise ValueError(f"{where}: must be a list of check names, got {c!r}")


# -- building graphs ---------------------------------------------------------------


def _construction(graph: str, left: int, right: int, d: int, seed: int) -> str:
    if graph == "random-bipartite":
        return f"random-bipartite:left={left},right={right},d={d},seed={seed}"
    if graph == "biregular":
        return f"biregular:left={left},right={right},dr={d},seed={seed}"
    if graph in ("grouped", "local"):
        return f"{graph}:left={left},right={right},d={d}"
    if graph == "dense":
        return f"dense:left={left},right={right}"
    if graph == "lps-bipartite":
        return f"lps-bipartite:left={left},right={right},p={d - 1}"
    raise ValueError(f"graph: unknown construction {graph!r}")  # pragma: no cover


def layer_graph(layer: LayerSpec) -> BipartiteGraph:
    """Build the bipartite graph of one graph-bearing layer (block variants expanded).

    The graph maps ``layer.in_width`` inputs (channels for ``conv``) to
    ``layer.out`` outputs with in-degree ``layer.degree``; it is reproducible from
    ``layer.seed``.  Its ``name`` is the construction string that
    :func:`expandergraph.construct.build` rebuilds it from (with a ``block:`` prefix
    for ``block > 1``).  Errors from the construction are re-raised as
    ``ValueError`` prefixed with the layer's location.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3 (random expander layers).

    Examples
    --------
    >>> s = load_spec({"input": 64, "layers": [{"out": 32, "degree": 8, "block": 4}]})
    >>> g = layer_graph(s.layers[0])
    >>> (g.left, g.right, g.degree, g.block)
    (64, 32, 8, 4)
    """
    if not layer.has_graph:
        raise ValueError(f"{layer.where}: kind {layer.kind!r} has no graph")
    from .construct import build

    b = layer.block
    text = _construction(
        layer.graph, layer.in_width // b, layer.out // b, layer.degree // b, layer.seed
    )
    if b > 1:
        text = f"block:block={b}/{text}"
    try:
        g = build(text)
    except ValueError as exc:
        raise ValueError(f"{layer.where}: {exc}") from None
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"{layer.where}.graph: construction {layer.graph!r} is not available ({exc})"
        ) from None
    if not isinstance(g, BipartiteGraph) or (g.left, g.right) != (layer.in_width, layer.out):
        raise ValueError(f"{layer.where}: construction {text!r} did not give the layer's widths")
    if g.degree != layer.degree:
        raise ValueError(
            f"{layer.where}: construction {text!r} gave in-degree {g.degree}, "
            f"expected {layer.degree}"
        )
    return g


def iter_layers(layers) -> list[LayerSpec]:
    """Every layer of ``layers`` (a :class:`Spec` or a layer tuple), depth first.

    Traversal order: a ``residual``/``concat`` layer itself, then its ``body``
    layers, then its ``shortcut`` layers (each recursively).  This is the order
    of :func:`layer_graphs` and of :attr:`Spec.graph_layers`.

    Examples
    --------
    >>> s = load_spec({"input": [4, 8, 8], "layers": [{"kind": "residual", "body": [
    ...     {"kind": "conv", "out": 4, "degree": 2}, {"kind": "norm"}]}]})
    >>> [l.where for l in iter_layers(s)]
    ['layers[0]', 'layers[0].body[0]', 'layers[0].body[1]']
    """
    if isinstance(layers, Spec):
        layers = layers.layers
    out: list[LayerSpec] = []
    for layer in layers:
        out.append(layer)
        out.extend(iter_layers(layer.body))
        out.extend(iter_layers(layer.shortcut))
    return out


def layer_graphs(spec: Spec) -> list[tuple[str, BipartiteGraph]]:
    """``(location, graph)`` for every graph-bearing layer, nested ones included.

    Works for any spec (sequential or with ``residual``/``concat`` layers);
    the order is that of :func:`iter_layers` and locations are
    ``layers[i]`` or ``layers[i].body[j]`` / ``.shortcut[j]``.  Unlike
    :func:`build_layered` the graphs need not chain.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3-4 (X-ResNet, X-DenseNet).

    Examples
    --------
    >>> s = load_spec({"input": [4, 8, 8], "layers": [{"kind": "concat", "body": [
    ...     {"kind": "conv", "out": 2, "degree": 2}]}]})
    >>> [(n, g.left, g.right) for n, g in layer_graphs(s)]
    [('layers[0].body[0]', 4, 2)]
    """
    return [(layer.where, layer_graph(layer)) for layer in spec.graph_layers]


def build_layered(spec: Spec) -> LayeredGraph:
    """One :class:`BipartiteGraph` per graph-bearing layer, in order, widths chained.

    Graph-less layers contribute no graph and keep the width, so consecutive
    graph layers chain, except across a ``flatten`` of a spatial map larger than
    1x1 (``C`` channels become ``C*H*W`` features): such a spec raises
    ``ValueError``; build its parts with :func:`layer_graph`.  Layer names are
    ``"layers[i]"`` with ``i`` the index in the spec.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> s = load_spec({"input": 16, "layers": [{"out": 16, "degree": 4},
    ...                                        {"kind": "activation"},
    ...                                        {"out": 8, "degree": 4}]})
    >>> lg = build_layered(s)
    >>> lg.widths, lg.names
    ([16, 16, 8], ['layers[0]', 'layers[2]'])
    """
    nested = next((layer for layer in spec.layers if layer.is_nested), None)
    if nested is not None:
        raise ValueError(
            f"{nested.where}: a {nested.kind!r} layer is not a chain of layers; "
            "build_layered needs a sequential spec (use layer_graphs for nested specs)"
        )
    layers = spec.graph_layers
    if not layers:
        raise ValueError("layers: the spec has no graph-bearing (linear/conv) layer")
    for prev, cur in zip(layers, layers[1:]):
        if cur.in_width != prev.out:
            raise ValueError(
                f"{cur.where}: input width {cur.in_width} does not chain with "
                f"{prev.where}'s output width {prev.out} (a flatten between them changes "
                "the width; certify the conv and linear parts separately)"
            )
    return LayeredGraph([layer_graph(layer) for layer in layers], [l.where for l in layers])


def load_layered(path: str | Path | dict | Spec) -> LayeredGraph:
    """A :class:`LayeredGraph` from a spec file (``.yaml``/``.yml``/``.json``) or a saved ``.npz``.

    A mapping or :class:`Spec` is accepted too.  ``.npz`` files are those written
    by :meth:`LayeredGraph.save` (fingerprints verified on load).

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018 §3.

    Examples
    --------
    >>> lg = load_layered({"input": 8, "layers": [{"out": 8, "graph": "dense"}]})
    >>> lg.widths, lg[0].degree
    ([8, 8], 8)
    """
    if isinstance(path, Spec):
        return build_layered(path)
    if isinstance(path, dict):
        return build_layered(load_spec(path))
    p = Path(path)
    if p.suffix.lower() == ".npz":
        if not p.is_file():
            raise ValueError(f"{p}: no such file")
        return LayeredGraph.load(p)
    if p.suffix.lower() not in _SPEC_SUFFIXES:
        raise ValueError(f"{p}: expected a spec (.yaml, .yml, .json) or a saved .npz")
    return build_layered(load_spec(p))
