"""The graph spec: widths, graph layers and topology, and the reader both spec formats share.

A **graph spec** names an input width and a list of layers, and says nothing but
graph structure: the width of every tensor, each graph layer's construction,
degree, block and seed, and the ``residual``, ``concat`` and ``shuffle``
topology.  ``expandergraph`` certifies it (:func:`load_layered` for a chain,
:meth:`expandergraph.network.NetworkGraph.from_spec` for any spec).

A **network spec** (the compiler's format) is a graph spec plus network
vocabulary: conv geometry, activations, norms, pooling, dropout, biases and
backends.  That vocabulary lives in the compiler (``compiler.spec``), which
reads network specs with this module's :func:`load_spec` and its own
:class:`Vocabulary`: one reader, one set of structural rules, and every layer
carries its structural ``role`` so that graph code never needs a network kind.

Graph-spec format
-----------------
::

    name: mlp               # optional
    input: 784              # level-0 width
    seed: 0                 # optional, default 0; a layer's seed defaults to seed + index
    certify: [reach_depth]  # optional: check names, or {checks: [...], alpha_max: 0.98, ...}
    layers:
      - out: 512            # kind: linear (a graph layer) is the default
        graph: random-bipartite   # default; also biregular, grouped, local, dense, lps-bipartite
        degree: 16          # inputs per output node; or density: 0.125; or compression: 8
        seed: 0             # optional
        block: 1            # optional: connect whole blocks of this many nodes
      - kind: shuffle
        groups: 4

Kinds of a graph spec (``kind`` itself is allowed everywhere; anything else is
an error, never ignored):

============  ===========================================================================
kind          keys
============  ===========================================================================
linear        in, out, graph, degree | density | compression, seed, block
shuffle       groups (required; divides the width): channel shuffle (ShuffleNet)
residual      body (non-empty layer list), shortcut (layer list; omitted or empty:
              identity): ``y = body(x) + shortcut(x)``, both outputs of equal width
concat        body (non-empty layer list): ``y = cat([x, body(x)])``, a DenseNet layer
============  ===========================================================================

Roles (:data:`ROLES`), the structural meaning of a kind in any vocabulary:
``graph`` (a bipartite graph from the input width to ``out``), ``channelwise``
(channel ``i`` to channel ``i``; the spatial size may change), ``flatten``
(``(C, H, W)`` to ``C*H*W`` features), ``shuffle``, ``residual`` and ``concat``.

Nested layers are located as ``layers[3].body[1]`` (or ``.shortcut[0]``) in
errors, certificates and compiled modules.  A nested layer's ``seed`` defaults
to ``seed + len(layers) + k``, with ``k`` its number in the depth-first
traversal of :func:`iter_layers` (top-level layers keep ``seed + index``).
:func:`build_layered` refuses nested specs (they are not a chain);
:func:`layer_graphs` returns every graph in traversal order.

Rules and stated defaults:

* ``out`` is required on graph layers.  ``in`` is optional and, when given, must
  equal the width the chain has reached.
* The degree ``D`` counts input *nodes* per output node.  Exactly one of
  ``degree`` (``1 <= D <= in``), ``density`` (``0 < x <= 1``, ``D = floor(x * in)``)
  or ``compression`` (``c >= 1``, ``D = floor(in / c)``, the reference code's rule)
  is given (:func:`expandergraph.degree.degree_for`; ``density``/``compression``
  may be an exact ``"a/b"`` string, e.g. ``density: 1/8``); ``dense`` takes none
  (``D = in``).  ``D >= 1`` always.
* ``block`` (default 1) must divide ``in``, ``out`` and ``D``: the layer is built
  on ``in/block -> out/block`` blocks with block degree ``D/block`` and expanded
  with :func:`expandergraph.generators.derived.block_expander`
  (:func:`expandergraph.construct.layer_graph`).
* ``grouped`` has ``groups = in / D`` (``D`` must divide ``in``, and ``groups`` must
  divide ``out``); ``biregular`` needs ``out * D`` divisible by ``in``;
  ``lps-bipartite`` needs ``in == out == q(q²-1)/2`` and ``D = p + 1``.

Errors are ``ValueError`` whose message starts with the location, e.g.
``layers[2].degree: 600 exceeds the layer's input width 512``.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3
(X-Linear, X-Conv, compression ``D = c_in / c``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from . import degree as degree_rule  # looked up at call time: one rule, patchable in tests
from .construct import LAYER_GRAPHS
from .construct import layer_graph as _build_layer_graph
from .fields import MAX_INT_BITS, as_int, as_number, is_int, shown
from .graph import BipartiteGraph
from .layered import LayeredGraph
from .limits import SizeLimitError, check_bytes
from .specfile import MAX_SPEC_BYTES, SPEC_SUFFIXES, read_spec  # noqa: F401 - re-exported

__all__ = [
    "LayerSpec",
    "Spec",
    "Kind",
    "Vocabulary",
    "GRAPH_VOCABULARY",
    "load_spec",
    "read_spec",
    "layer_graph",
    "layer_graphs",
    "iter_layers",
    "build_layered",
    "load_layered",
    "GRAPHS",
    "KINDS",
    "ROLES",
    "CERTIFY_PARAMS",
]

ROLES = ("graph", "channelwise", "flatten", "shuffle", "residual", "concat")
GRAPHS = LAYER_GRAPHS
#: the structural keys of each role (a kind adds its own)
ROLE_KEYS: dict[str, tuple[str, ...]] = {
    "graph": ("in", "out", "graph", "degree", "density", "compression", "seed", "block"),
    "channelwise": (),
    "flatten": (),
    "shuffle": ("groups",),
    "residual": ("body", "shortcut"),
    "concat": ("body",),
}
GRAPH_KEYS = ROLE_KEYS["graph"]
_BASE_TOP_KEYS = ("input", "seed", "layers", "name", "certify")
#: caps on what a spec may ask for, checked before the work is done
MAX_LAYERS = 100_000  # layers in all, nested ones included
MAX_DEPTH = 32  # residual/concat nesting levels

#: ``resolve(raw, where, in_shape, out) -> (options, out_shape)``: a kind's own keys,
#: validated, and the tensor shape it produces (``out`` is ``None`` unless the role is graph)
Resolve = Callable[[dict, str, tuple, "int | None"], "tuple[dict, tuple]"]


@dataclass(frozen=True)
class Kind:
    """One layer kind of a :class:`Vocabulary`: its structural role and its own keys.

    ``keys`` are the keys the kind adds to its role's structural keys;
    ``needs`` is ``"flat"``, ``"spatial"`` (``[C, H, W]``) or ``"any"``;
    ``resolve`` validates those keys and returns ``(options, out_shape)`` (default:
    no options, the width kept or, for a graph layer, replaced by ``out``).
    """

    role: str
    keys: tuple[str, ...] = ()
    needs: str = "any"
    resolve: Resolve | None = None


@dataclass(frozen=True)
class Vocabulary:
    """The layer kinds a spec format allows, and its top-level keys beyond the graph spec's.

    ``check_top(raw) -> options`` validates those top-level keys; ``spatial``
    allows a ``[C, H, W]`` input; ``hint`` is appended to an unknown-kind error.
    """

    name: str
    kinds: Mapping[str, Kind]
    top_keys: tuple[str, ...] = ()
    check_top: Callable[[dict], dict] | None = None
    spatial: bool = False
    hint: str = ""

    @property
    def layer_keys(self) -> frozenset:
        """Every key some kind of this vocabulary allows (``kind`` included)."""
        keys = {"kind"}
        for k in self.kinds.values():
            keys.update(ROLE_KEYS[k.role], k.keys)
        return frozenset(keys)


#: the graph spec: graph layers (``linear``) and topology; widths only
GRAPH_VOCABULARY = Vocabulary(
    name="graph spec",
    kinds={
        "linear": Kind("graph"),
        "shuffle": Kind("shuffle"),
        "residual": Kind("residual"),
        "concat": Kind("concat"),
    },
    hint="network layers (conv, activation, pool, ...) belong to network specs, "
    "which the compiler reads: compiler.spec.load_spec, `xnet certify FILE`",
)
KINDS = tuple(GRAPH_VOCABULARY.kinds)


@dataclass(frozen=True)
class LayerSpec:
    """One validated layer of a :class:`Spec` with its widths and shapes resolved.

    ``in_width``/``out`` are channel or feature widths; layers without a graph
    keep the width except ``flatten``.  ``graph``/``degree`` are ``None`` on
    layers without a graph (``block`` is 1).  ``options`` holds the kind's own
    keys (and ``groups`` of a shuffle), validated, with the stated defaults filled
    in.  ``in_shape``/``out_shape`` are ``(C, H, W)`` or ``(F,)``.  ``role`` is
    the structural meaning (:data:`ROLES`).
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
    role: str = "channelwise"

    @property
    def has_graph(self) -> bool:
        """True for graph layers (role ``graph``: ``linear``, and ``conv`` in network specs)."""
        return self.role == "graph"

    @property
    def is_nested(self) -> bool:
        """True for ``residual`` and ``concat`` layers (they hold ``body``/``shortcut``)."""
        return self.role in ("residual", "concat")

    @property
    def where(self) -> str:
        """The layer's location, e.g. ``layers[3]`` or ``layers[3].body[1]``."""
        return self.path or f"layers[{self.index}]"


@dataclass(frozen=True)
class Spec:
    """A validated spec; see the module docstring for the graph-spec format.

    ``options`` holds the vocabulary's own top-level keys, validated (for a
    network spec, e.g. ``backend``); ``vocabulary`` names the format it was read as.
    """

    input: tuple[int, ...]
    layers: tuple[LayerSpec, ...]
    seed: int = 0
    name: str | None = None
    raw: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    vocabulary: str = "graph spec"

    @property
    def graph_layers(self) -> tuple[LayerSpec, ...]:
        """The graph layers in traversal order (see :func:`iter_layers`)."""
        return tuple(layer for layer in iter_layers(self.layers) if layer.has_graph)

    @property
    def nested(self) -> bool:
        """True when some layer is a ``residual`` or ``concat`` (the spec is not a chain)."""
        return any(layer.is_nested for layer in self.layers)

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

    def with_keys(self, vocabulary: Vocabulary, **keys) -> Spec:
        """The same spec read again with top-level ``keys`` replaced (every shape re-resolved).

        The one way to change a loaded spec: e.g. ``spec.with_keys(vocab, seed=3)``.
        """
        raw = dict(self.raw)
        raw.update(keys)
        return load_spec(raw, vocabulary)

    def with_input(self, shape: tuple[int, ...] | int, vocabulary: Vocabulary) -> Spec:
        """The same spec with another ``input`` (:meth:`with_keys`); ``self`` if it is equal."""
        if is_int(shape):
            value = int(shape)
            shape = (value,)
        elif isinstance(shape, (list, tuple)):
            value = shape[0] if len(shape) == 1 and is_int(shape[0]) else list(shape)
            shape = tuple(shape)
        else:  # refused by the reader with the ``input`` message
            value = shape
        if shape == self.input:
            return self
        return self.with_keys(vocabulary, input=value)


# -- validation --------------------------------------------------------------------


def _input_shape(value, vocab: Vocabulary) -> tuple[int, ...]:
    if vocab.spatial:
        msg = f"input: must be a positive integer or [C, H, W], got {shown(value)}"
    else:
        msg = (
            f"input: must be a positive integer (the {vocab.name}'s input width), "
            f"got {shown(value)}"
        )
    if is_int(value):
        if value < 1 or int(value).bit_length() > MAX_INT_BITS:
            raise ValueError(msg)
        return (int(value),)
    lengths = (1, 3) if vocab.spatial else (1,)
    if isinstance(value, (list, tuple)) and len(value) in (1, 3):
        if all(is_int(v) and 1 <= v and int(v).bit_length() <= MAX_INT_BITS for v in value):
            if len(value) in lengths:
                return tuple(int(v) for v in value)
            raise ValueError(
                f"input: {list(value)} is a [C, H, W] shape, which a {vocab.name} does not "
                f"have (its input is a width); {vocab.hint}"
            )
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
    key = given[0]
    if key == "degree":
        value = as_int(raw["degree"], f"{where}.degree")
    elif isinstance(raw[key], (str, Fraction)):  # "1/8": exact, as degree_for reads it
        value = degree_rule.as_fraction(raw[key], f"{where}.{key}")
    else:
        value = as_number(raw[key], f"{where}.{key}")
    return degree_rule.degree_for(width, where=where, **{key: value})


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


class _Reader:
    """Reads the layers of one spec in one vocabulary (seed and size counters included)."""

    def __init__(self, vocab: Vocabulary, seed: int, n_top: int):
        self.vocab = vocab
        self.next_seed = seed + n_top  # the next nested layer's default seed
        self.seen = n_top  # layers in all, nested ones included

    def sublayers(self, raw, where: str, shape: tuple) -> tuple[tuple, tuple]:
        """Validate a nested ``body``/``shortcut`` list; returns ``(layers, out_shape)``."""
        if not isinstance(raw, list):
            raise ValueError(f"{where}: must be a list of layers, got {type(raw).__name__}")
        depth = where.count(".body") + where.count(".shortcut")
        if depth > MAX_DEPTH:
            short = where if len(where) < 80 else where[:60] + "..."
            raise ValueError(f"{short}: residual/concat nesting deeper than {MAX_DEPTH} levels")
        out = []
        for i, sub in enumerate(raw):
            self.seen += 1
            if self.seen > MAX_LAYERS:
                raise SizeLimitError(
                    f"{where}: more than {MAX_LAYERS} layers in all (nested included)"
                )
            seed = self.next_seed
            self.next_seed += 1
            layer = self.layer(sub, i, shape, seed, f"{where}[{i}]")
            out.append(layer)
            shape = layer.out_shape
        return tuple(out), shape

    def nested(self, raw: dict, index: int, where: str, kind: str, role: str, shape: tuple):
        if "body" not in raw:
            raise ValueError(f"{where}.body: required on a {kind!r} layer")
        if not isinstance(raw["body"], list) or not raw["body"]:
            raise ValueError(f"{where}.body: must be a non-empty list of layers")
        body, body_shape = self.sublayers(raw["body"], f"{where}.body", shape)
        shortcut: tuple = ()
        if role == "residual":
            short_shape = shape
            if raw.get("shortcut"):
                shortcut, short_shape = self.sublayers(raw["shortcut"], f"{where}.shortcut", shape)
            elif "shortcut" in raw and not isinstance(raw["shortcut"], list):
                raise ValueError(f"{where}.shortcut: must be a list of layers (empty: identity)")
            if body_shape != short_shape:
                raise ValueError(
                    f"{where}: body output {list(body_shape)} does not match the shortcut "
                    f"output {list(short_shape)} (y = body(x) + shortcut(x) needs equal shapes)"
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
            index, kind, shape[0], out_shape[0], None, None, 0, 1, {}, shape, out_shape,
            where, body, shortcut, role,
        )  # fmt: skip

    def layer(self, raw, index: int, shape: tuple, seed: int, where: str | None = None):
        """One layer; top-level layers are called with ``where=None``."""
        where = where or f"layers[{index}]"
        vocab = self.vocab
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: must be a mapping, got {type(raw).__name__}")
        all_keys = vocab.layer_keys
        for key in raw:
            if key not in all_keys:
                raise ValueError(f"{where}: unknown key {shown(key)}")
        kind = raw.get("kind", "linear")
        if not isinstance(kind, str) or kind not in vocab.kinds:
            hint = f"; {vocab.hint}" if vocab.hint else ""
            raise ValueError(
                f"{where}.kind: unknown kind {shown(kind)} (known: {', '.join(vocab.kinds)}){hint}"
            )
        spec_kind = vocab.kinds[kind]
        role = spec_kind.role
        allowed = set(ROLE_KEYS[role]) | set(spec_kind.keys) | {"kind"}
        for key in raw:
            if key not in allowed:
                if key in GRAPH_KEYS:
                    raise ValueError(
                        f"{where}: graph key {key!r} is not allowed on a {kind!r} layer "
                        "(layers without a graph keep the width)"
                    )
                raise ValueError(f"{where}: key {key!r} does not apply to kind {kind!r}")
        flat = len(shape) == 1
        width = shape[0]
        if spec_kind.needs == "spatial" and flat:
            raise ValueError(f"{where}: kind {kind!r} needs a [C, H, W] input, got width {width}")
        if spec_kind.needs == "flat" and not flat:
            raise ValueError(
                f"{where}: kind {kind!r} needs a flat input, got shape {list(shape)}; "
                "add a 'flatten' layer"
            )
        seed = as_int(raw.get("seed", seed), f"{where}.seed", 0)
        if role in ("residual", "concat"):
            return self.nested(raw, index, where, kind, role, shape)
        if role == "shuffle":
            if "groups" not in raw:
                raise ValueError(f"{where}.groups: required on a {kind!r} layer")
            groups = as_int(raw["groups"], f"{where}.groups")
            if width % groups:
                raise ValueError(f"{where}.groups: {groups} must divide the channel count {width}")
            return LayerSpec(
                index, kind, width, width, None, None, seed, 1, {"groups": groups}, shape,
                shape, where, role=role,
            )  # fmt: skip
        if role == "graph":
            return self.graph_layer(raw, index, where, kind, spec_kind, shape, seed)
        if role == "flatten":
            options, out_shape = {}, (math.prod(shape),)
        elif spec_kind.resolve is not None:
            options, out_shape = spec_kind.resolve(raw, where, shape, None)
            if out_shape[0] != width:  # pragma: no cover - a vocabulary bug
                raise ValueError(f"{where}: a channelwise kind {kind!r} changed the width")
        else:
            options, out_shape = {}, shape
        return LayerSpec(
            index, kind, width, out_shape[0], None, None, seed, 1, options, shape, out_shape,
            where, role=role,
        )  # fmt: skip

    def graph_layer(self, raw, index, where, kind, spec_kind: Kind, shape, seed) -> LayerSpec:
        width = shape[0]
        if "out" not in raw:
            raise ValueError(f"{where}.out: required on a {kind!r} layer")
        out = as_int(raw["out"], f"{where}.out")
        if "in" in raw:
            given = as_int(raw["in"], f"{where}.in")
            if given != width:
                raise ValueError(
                    f"{where}.in: {given} does not chain: the previous layer's width is {width}"
                )
        graph = raw.get("graph", "random-bipartite")
        if not isinstance(graph, str) or graph not in GRAPHS:
            raise ValueError(
                f"{where}.graph: unknown construction {shown(graph)} (known: {', '.join(GRAPHS)})"
            )
        block = as_int(raw.get("block", 1), f"{where}.block")
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
        if spec_kind.resolve is not None:
            options, out_shape = spec_kind.resolve(raw, where, shape, out)
        else:
            options, out_shape = {}, (out, *shape[1:])
        return LayerSpec(
            index, kind, width, out, graph, d, seed, block, options, shape, out_shape, where,
            role="graph",
        )  # fmt: skip


def load_spec(source: str | Path | dict, vocabulary: Vocabulary | None = None) -> Spec:
    """Read and validate a spec; widths (and, in a network spec, spatial sizes) are resolved.

    ``source`` is a path to a ``.yaml``/``.yml``/``.json`` file or an equivalent
    mapping.  ``vocabulary`` is the format: :data:`GRAPH_VOCABULARY` (default, the
    graph spec of the module docstring) or the compiler's network vocabulary.
    Raises ``ValueError`` with a one-line message that starts with the location
    (``layers[2].degree: ...``, or ``spec.yaml: malformed YAML (line 3: ...)``).

    Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018 §3.

    Examples
    --------
    >>> s = load_spec({"input": 784, "layers": [{"out": 512, "degree": 16},
    ...                                         {"kind": "shuffle", "groups": 4}]})
    >>> [(l.kind, l.role, l.in_width, l.out, l.degree, l.seed) for l in s.layers]
    [('linear', 'graph', 784, 512, 16, 0), ('shuffle', 'shuffle', 512, 512, None, 1)]
    >>> try:
    ...     load_spec({"input": 8, "layers": [{"kind": "activation"}]})
    ... except ValueError as e:
    ...     print(str(e).split(";")[0])
    layers[0].kind: unknown kind 'activation' (known: linear, shuffle, residual, concat)
    """
    vocab = vocabulary or GRAPH_VOCABULARY
    if isinstance(source, dict):
        raw = source
    elif isinstance(source, (str, Path)):
        path = Path(source)
        raw = read_spec(path)
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: the top level must be a mapping with 'input' and 'layers'")
    else:
        raise ValueError(f"source: expected a path or a mapping, got {type(source).__name__}")
    top_keys = _BASE_TOP_KEYS + vocab.top_keys
    for key in raw:
        if key not in top_keys:
            hint = f"; {vocab.hint}" if vocab.hint else ""
            raise ValueError(f"spec: unknown key {shown(key)} (known: {', '.join(top_keys)}){hint}")
    if "input" not in raw:
        what = "a positive integer or [C, H, W]" if vocab.spatial else "a positive integer"
        raise ValueError(f"input: required ({what})")
    shape = _input_shape(raw["input"], vocab)
    seed = as_int(raw.get("seed", 0), "seed", 0)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"name: must be a string, got {shown(name)}")
    options = vocab.check_top(raw) if vocab.check_top is not None else {}
    if "certify" in raw:
        _certify_block(raw["certify"])
    layers = raw.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ValueError("layers: must be a non-empty list of layers")
    if len(layers) > MAX_LAYERS:
        raise SizeLimitError(f"layers: {len(layers)} layers exceed the limit of {MAX_LAYERS}")
    reader = _Reader(vocab, seed, len(layers))
    out = []
    for i, layer_raw in enumerate(layers):
        layer = reader.layer(layer_raw, i, shape, seed + i)
        out.append(layer)
        shape = layer.out_shape
    inp = _input_shape(raw["input"], vocab)
    # the spec keeps its own copy: changing the caller's mapping later changes nothing
    return Spec(inp, tuple(out), seed, name, copy.deepcopy(raw), options, vocab.name)


#: parameters a ``certify`` mapping may set (see :func:`expandergraph.certify.certify`
#: and :func:`expandergraph.guarantees.certify_layered`)
CERTIFY_PARAMS = ("alpha_max", "rho", "delta", "kappa", "sigma", "eps_max")


#: the range of each certify parameter (those of certify and certify_layered)
_CERTIFY_RANGES = {
    "alpha_max": (lambda v: v > 0, lambda v: v < 1, "in (0, 1)"),
    "rho": (lambda v: v > 0, lambda v: v <= 1, "in (0, 1]"),
    "delta": (lambda v: v > 0, lambda v: v < 1, "in (0, 1)"),
    "kappa": (lambda v: v >= 1, lambda v: v < math.inf, "a finite number >= 1"),
    "sigma": (lambda v: v > 0, lambda v: v <= 1, "in (0, 1]"),
    "eps_max": (lambda v: v > 0, lambda v: v < math.inf, "a positive finite number"),
}


def _certify_block(c) -> None:
    """``certify``: a list of check names, or ``{checks: [...], alpha_max: ..., ...}``."""
    if isinstance(c, dict):
        unknown = [k for k in c if k not in CERTIFY_PARAMS and k != "checks"]
        if unknown:
            k = unknown[0]
            name = k if isinstance(k, str) and k.isidentifier() else shown(k)
            raise ValueError(
                f"certify.{name}: unknown key (known: checks, {', '.join(CERTIFY_PARAMS)})"
            )
        for k in CERTIFY_PARAMS:
            if k not in c:
                continue
            v = c[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"certify.{k}: must be a number, got {shown(v)}")
            lo, hi, rule = _CERTIFY_RANGES[k]
            if not (lo(v) and hi(v)):
                raise ValueError(f"certify.{k}: must be {rule}, got {shown(v)}")
        if "checks" in c:
            _certify_names(c["checks"], "certify.checks")
        return
    _certify_names(c, "certify")


def _certify_names(c, where: str) -> None:
    if not isinstance(c, list) or not all(isinstance(x, str) and x.strip() for x in c):
        raise ValueError(f"{where}: must be a list of check names, got {shown(c)}")


# -- building graphs ---------------------------------------------------------------


def layer_graph(layer: LayerSpec) -> BipartiteGraph:
    """Build the bipartite graph of one graph layer (block variants expanded).

    The graph maps ``layer.in_width`` inputs (channels for ``conv``) to
    ``layer.out`` outputs with in-degree ``layer.degree``; it is reproducible from
    ``layer.seed``.  Its ``name`` is the construction string that
    :func:`expandergraph.construct.build` rebuilds it from (with a ``block:`` prefix
    for ``block > 1``).  It is :func:`expandergraph.construct.layer_graph` with the
    layer's fields, so a module given the same parameters gets the same graph.
    Errors are ``ValueError`` prefixed with the layer's location.

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
    return _build_layer_graph(
        layer.graph,
        layer.in_width,
        layer.out,
        layer.degree,
        seed=layer.seed,
        block=layer.block,
        where=layer.where,
    )


def iter_layers(layers) -> list[LayerSpec]:
    """Every layer of ``layers`` (a :class:`Spec` or a layer tuple), depth first.

    Traversal order: a ``residual``/``concat`` layer itself, then its ``body``
    layers, then its ``shortcut`` layers (each recursively).  This is the order
    of :func:`layer_graphs` and of :attr:`Spec.graph_layers`.

    Examples
    --------
    >>> s = load_spec({"input": 4, "layers": [{"kind": "residual", "body": [
    ...     {"out": 4, "degree": 2}, {"kind": "shuffle", "groups": 2}]}]})
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
    >>> s = load_spec({"input": 4, "layers": [{"kind": "concat", "body": [
    ...     {"out": 2, "degree": 2}]}]})
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
    ...                                        {"kind": "shuffle", "groups": 4},
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
    if p.suffix.lower() not in SPEC_SUFFIXES:
        raise ValueError(f"{p}: expected a spec (.yaml, .yml, .json) or a saved .npz")
    return build_layered(load_spec(p))
