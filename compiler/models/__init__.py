"""The paper's networks as layer-graph specs: ``build(name)``, ``spec(name)``, ``names()``.

Every model is a spec mapping emitted by a generator in this package
(:mod:`~compiler.models.vgg`, :mod:`~compiler.models.resnet`,
:mod:`~compiler.models.densenet`, :mod:`~compiler.models.mobilenet`) and
built by :func:`compiler.compile`, so its graphs are certified and carried
by the modules like any other spec.

Names are ``VARIANT-FAMILY``:

* ``VARIANT``: ``x`` (random expander convs, the X-Net), ``grouped`` (grouped
  convs with ``cin / D`` groups at the same density), ``grouped-shuffle``
  (grouped + channel shuffle, ShuffleNet-style), ``dense`` (the original);
  see :mod:`compiler.models.blocks`.
* ``FAMILY``: ``vgg16-bn`` (CIFAR), ``resnet-20|56|110`` (CIFAR, any 6n+2),
  ``resnet-18|34|50`` (ImageNet), ``densenet-bc-40-24|36|48|60`` (CIFAR, any
  ``densenet-bc-DEPTH-GROWTH``), ``mobilenet-0.5|1.0`` (ImageNet 224x224, any
  width), ``mobilenet-small`` (the 28x28 network of
  ``benchmarks/expander_vs_grouped.py``).

Options (all optional): one of ``density`` (``0.125`` or ``"1/8"``),
``compression`` (``c``, density ``1/c``) or ``groups`` (``g``, density
``1/g``); defaults: density 1/2, except ``x-vgg16-bn``, which uses the
paper's per-layer degrees unless a density is given.  ``num_classes``,
``input_shape`` (``[C, H, W]``), ``seed`` (fixes every graph), ``x_graph``
(``biregular``, the default, or the paper's ``random-bipartite``; see
:mod:`compiler.models.blocks`), and for
:func:`build` also ``backend`` and ``allow_uncertified``.  The ``grouped``
baselines are disconnected by design, so :func:`build` compiles them with
``allow_uncertified=True``, recorded in ``model.override``.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018, §5.
"""

from __future__ import annotations

import re
from fractions import Fraction

from torch import nn

from .blocks import VARIANTS, X_GRAPHS, parse_density
from .densenet import GROWTHS, densenet_bc
from .mobilenet import WIDTHS, mobilenet, mobilenet_small
from .resnet import CIFAR_DEPTHS, IMAGENET_DEPTHS, resnet
from .vgg import vgg16_bn

__all__ = ["build", "spec", "names", "parse_name", "UnknownModelError", "VARIANTS"]


class UnknownModelError(KeyError, ValueError):
    """A name that is no model: a ``ValueError`` (and a ``KeyError``, as a lookup miss)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


_NAME_RE = re.compile(r"^(x|grouped-shuffle|grouped|dense)-(.+)$")
_SPEC_OPTIONS = (
    "density",
    "compression",
    "groups",
    "num_classes",
    "input_shape",
    "seed",
    "x_graph",
)


def _families() -> list[str]:
    fams = ["vgg16-bn"]
    fams += [f"resnet-{d}" for d in CIFAR_DEPTHS + tuple(IMAGENET_DEPTHS)]
    fams += [f"densenet-bc-40-{k}" for k in GROWTHS]
    fams += [f"mobilenet-{w}" for w in WIDTHS] + ["mobilenet-small"]
    return fams


def names() -> list[str]:
    """Every listed model name (``VARIANT-FAMILY``); parametrised families accept more.

    Examples
    --------
    >>> "x-densenet-bc-40-24" in names(), "grouped-mobilenet-0.5" in names()
    (True, True)
    """
    return [f"{v}-{f}" for v in VARIANTS for f in _families()]


def parse_name(name: str) -> tuple[str, str]:
    """``(variant, family)`` of a model name; ``ValueError`` if it follows no scheme.

    Examples
    --------
    >>> parse_name("grouped-shuffle-mobilenet-0.5")
    ('grouped-shuffle', 'mobilenet-0.5')
    """
    m = _NAME_RE.match(name) if isinstance(name, str) else None
    if not m:
        raise UnknownModelError(
            f"name: {name!r} is not a model name (VARIANT-FAMILY with VARIANT one of "
            f"{', '.join(VARIANTS)}; see compiler.models.names())"
        )
    return m.group(1), m.group(2)


def _density(options: dict, default: Fraction | None) -> Fraction | None:
    given = [k for k in ("density", "compression", "groups") if options.get(k) is not None]
    if len(given) > 1:
        raise ValueError(f"options: give one of density, compression, groups (got {given})")
    if not given:
        return default
    key = given[0]
    value = options[key]
    if key == "density":
        return parse_density(value)
    try:
        c = Fraction(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        c = None
    if c is None or c < 1:
        raise ValueError(f"{key}: must be a number >= 1, got {value!r}")
    return 1 / c


def spec(name: str, **options) -> dict:
    """The spec mapping of model ``name`` (options: see the module docstring).

    Reference: Prabhu et al., ECCV 2018, §5.

    Examples
    --------
    >>> s = spec("x-resnet-20", compression=4, seed=3)
    >>> s["name"], s["seed"], s["layers"][3]["body"][0]["degree"]
    ('x-resnet-20', 3, 4)
    """
    unknown = sorted(set(options) - set(_SPEC_OPTIONS))
    if unknown:
        raise ValueError(
            f"options: unknown option(s) {unknown} (known: {', '.join(_SPEC_OPTIONS)})"
        )
    variant, family = parse_name(name)
    kw: dict = {}
    if options.get("num_classes") is not None:
        n = options["num_classes"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"num_classes: must be a positive integer, got {n!r}")
        kw["num_classes"] = n
    if options.get("input_shape") is not None:
        shape = options["input_shape"]
        if not isinstance(shape, (list, tuple)) or len(shape) != 3:
            raise ValueError(f"input_shape: must be [C, H, W], got {shape!r}")
        kw["input_shape"] = tuple(shape)
    half = Fraction(1, 2)
    if family == "vgg16-bn":
        raw = vgg16_bn(variant, _density(options, None), **kw)
    elif m := re.fullmatch(r"resnet-(\d+)", family):
        raw = resnet(int(m.group(1)), variant, _density(options, half), **kw)
    elif m := re.fullmatch(r"densenet-bc-(\d+)-(\d+)", family):
        raw = densenet_bc(int(m.group(1)), int(m.group(2)), variant, _density(options, half), **kw)
    elif family == "mobilenet-small":
        raw = mobilenet_small(variant, _density(options, half), **kw)
    elif m := re.fullmatch(r"mobilenet-(\d+(?:\.\d+)?)", family):
        raw = mobilenet(float(m.group(1)), variant, _density(options, half), **kw)
    else:
        raise UnknownModelError(f"name: unknown model family {family!r} in {name!r} (see names())")
    seed = options.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: must be an integer >= 0, got {seed!r}")
    x_graph = options.get("x_graph", "biregular")
    if x_graph not in X_GRAPHS:
        raise ValueError(f"x_graph: must be one of {', '.join(X_GRAPHS)}, got {x_graph!r}")
    if x_graph != "biregular":
        _replace_graph(raw["layers"], "biregular", x_graph)
    return {"name": name, "seed": seed, **raw}


def _replace_graph(layers: list, old: str, new: str) -> None:
    for layer in layers:
        if layer.get("graph") == old:
            layer["graph"] = new
        for key in ("body", "shortcut"):
            _replace_graph(layer.get(key, []), old, new)


def build(
    name: str,
    *,
    backend: str | None = None,
    allow_uncertified: bool | None = None,
    **options,
) -> nn.Module:
    """Compile model ``name`` with :func:`compiler.compile` (options: module docstring).

    ``allow_uncertified`` defaults to True for the ``grouped`` and
    ``grouped-shuffle`` baselines (their graphs are disconnected by design;
    the override is recorded in ``model.override``) and False otherwise.

    Reference: Prabhu et al., ECCV 2018, §5.

    Examples
    --------
    >>> net = build("grouped-mobilenet-small", groups=4)
    >>> net.override is not None, net.input_shape
    (True, (1, 28, 28))
    """
    from ..compile import compile as compile_spec

    raw = spec(name, **options)
    if allow_uncertified is None:
        allow_uncertified = parse_name(name)[0] in ("grouped", "grouped-shuffle")
    return compile_spec(raw, backend=backend, allow_uncertified=allow_uncertified)
