"""Spec-dict building blocks shared by the model generators (``compiler.models``).

A model generator emits a plain spec mapping (see :mod:`expandergraph.spec`):
the networks are *data*, lowered by :func:`compiler.compile`.  This module
holds the one rule that turns a channel-mixing convolution into spec layers
for each **variant**:

==================  ===============================================================
variant             a sparse ``cin -> cout`` convolution of degree ``D`` becomes
==================  ===============================================================
``x``               ``conv`` with ``graph: biregular``, ``degree: D`` (X-Conv; see below)
``grouped``         ``conv`` with ``graph: grouped``, ``degree: D`` (``cin / D`` groups)
``grouped-shuffle`` the grouped conv followed by ``shuffle`` with ``cin / D`` groups
``dense``           ``conv`` with ``graph: dense`` (the original network)
==================  ===============================================================

**The expander graph.**  The paper draws, for every output channel, ``D``
distinct inputs uniformly at random (``random-bipartite``).  At low degree
that graph often leaves input channels unused (e.g. 32 -> 64 channels at
``D = 2``: about one unused input per graph), which the certificate refuses.
The models therefore use the *random biregular* graph (every output has ``D``
inputs, as in the paper, so parameters and FLOPs are the same, and every input
feeds ``cout * D / cin`` outputs) whenever ``cin`` divides ``cout * D``, and
the paper's ``random-bipartite`` otherwise; ``x_graph="random-bipartite"``
forces the paper's construction everywhere.

``D >= cin`` always gives a dense conv (the reference code's rule,
``ExpanderConv2d`` only when ``expandSize < in_channels``).  The degree of a
layer at compression ``c`` is ``D = cin // c`` (the reference mask rule:
every output channel takes ``cin / c`` inputs), so the density is ``1/c``.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§3-5; Zhang et al., "ShuffleNet", CVPR 2018 (channel shuffle).
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["VARIANTS", "X_GRAPHS", "conv", "linear", "bn_relu", "degree_for", "parse_density"]

#: the model-name prefixes, in the order ``names()`` lists them
VARIANTS = ("x", "grouped", "grouped-shuffle", "dense")
#: expander constructions of the ``x`` variant (``biregular`` falls back as documented)
X_GRAPHS = ("biregular", "random-bipartite")


def parse_density(value, name: str = "density") -> Fraction:
    """A density ``1/c`` from ``0.125``, ``"1/8"``, ``Fraction(1, 8)``; must lie in (0, 1].

    Examples
    --------
    >>> parse_density("1/8"), parse_density(0.25)
    (Fraction(1, 8), Fraction(1, 4))
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, str):
            x = Fraction(value.strip())
        elif isinstance(value, float):
            x = Fraction(value).limit_denominator(1 << 16)
        else:
            x = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(
            f"{name}: must be a number or a fraction like 1/8, got {value!r}"
        ) from None
    if not 0 < x <= 1:
        raise ValueError(f"{name}: must lie in (0, 1], got {value!r}")
    return x


def degree_for(cin: int, density: Fraction) -> int:
    """``D = floor(cin * density)`` (at least 1): :func:`expandergraph.degree.degree_for`, clamped.

    Examples
    --------
    >>> degree_for(96, Fraction(1, 2)), degree_for(3, Fraction(1, 8))
    (48, 1)
    """
    from expandergraph.degree import degree_for as rule

    return rule(cin, density=density, clamp=True, where="model layer")


def conv(
    cin: int,
    cout: int,
    variant: str,
    degree: int | None,
    kernel_size: int = 1,
    stride: int = 1,
    padding: int = 0,
    bias: bool = False,
    x_graph: str = "biregular",
) -> list[dict]:
    """Spec layers of one channel-mixing convolution (``degree=None``: dense).

    Examples
    --------
    >>> conv(16, 32, "grouped-shuffle", 4)
    [{'kind': 'conv', 'out': 32, 'kernel_size': 1, 'stride': 1, 'padding': 0, 'bias': False, \
'graph': 'grouped', 'degree': 4}, {'kind': 'shuffle', 'groups': 4}]
    """
    layer = {
        "kind": "conv",
        "out": cout,
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "bias": bias,
    }
    return _graph(layer, cin, variant, degree, x_graph)


def linear(
    fin: int,
    fout: int,
    variant: str,
    degree: int | None,
    bias: bool = True,
    x_graph: str = "biregular",
) -> list[dict]:
    """Spec layers of one linear layer (``degree=None``: dense); variants as :func:`conv`.

    Examples
    --------
    >>> linear(512, 512, "x", 128)
    [{'kind': 'linear', 'out': 512, 'bias': True, 'graph': 'biregular', 'degree': 128}]
    """
    return _graph({"kind": "linear", "out": fout, "bias": bias}, fin, variant, degree, x_graph)


def _graph(layer: dict, cin: int, variant: str, degree: int | None, x_graph: str) -> list[dict]:
    if x_graph not in X_GRAPHS:
        raise ValueError(f"x_graph: must be one of {', '.join(X_GRAPHS)}, got {x_graph!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant: must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if degree is None or degree >= cin or variant == "dense":
        return [{**layer, "graph": "dense"}]
    if variant == "x":
        graph = x_graph if (layer["out"] * degree) % cin == 0 else "random-bipartite"
        return [{**layer, "graph": graph, "degree": degree}]
    out = [{**layer, "graph": "grouped", "degree": degree}]
    if variant == "grouped-shuffle":
        out.append({"kind": "shuffle", "groups": cin // degree})
    return out


def bn_relu() -> list[dict]:
    """``[norm, relu]``.

    Examples
    --------
    >>> bn_relu()
    [{'kind': 'norm'}, {'kind': 'activation', 'fn': 'relu'}]
    """
    return [{"kind": "norm"}, {"kind": "activation", "fn": "relu"}]
