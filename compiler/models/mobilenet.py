"""X-MobileNet (v1) spec generators, and the small MobileNet of the experiment.

MobileNet v1 (Howard et al. 2017, Table 1) at width multiplier ``w`` on
224x224: a dense 3x3/2 stem ``3 -> 32w``, thirteen depthwise-separable blocks
(3x3 depthwise conv, BN, ReLU, 1x1 pointwise conv, BN, ReLU) with pointwise
widths ``64, 128/2, 128, 256/2, 256, 512/2, 512 x5, 1024/2, 1024`` (``/2``:
the depthwise conv has stride 2), global average pool, dense classifier.
Every pointwise conv except the first is sparse at density ``1/g``
(``D = cin // g``; the paper compares expander and grouped 1x1 convs at the
same ``g``); the first pointwise conv stays dense, as in the paper.

``mobilenet_small`` is the same pattern at Fashion-MNIST scale: a 3x3 stem
``C -> 16``, blocks ``32, 64/2, 64, 128/2, 128``, pool, dense classifier; all
pointwise convs but the first are sparse.

Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §5 (X-MobileNet-0.5 at
g = 2, 4, 8, 16); Howard et al., "MobileNets", arXiv:1704.04861.
"""

from __future__ import annotations

from fractions import Fraction

from .blocks import bn_relu, conv, degree_for, linear

__all__ = ["mobilenet", "mobilenet_small", "WIDTHS"]

WIDTHS = ("0.5", "1.0")
_V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
_V1 += [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
_SMALL = [(32, 1), (64, 2), (64, 1), (128, 2), (128, 1)]


def _net(stem: int, cfg, variant, density, num_classes, input_shape, stem_stride) -> dict:
    layers = conv(input_shape[0], stem, "dense", None, 3, stem_stride, 1) + bn_relu()
    cin = stem
    for i, (cout, stride) in enumerate(cfg):
        layers.append(
            {"kind": "depthwise", "kernel_size": 3, "stride": stride, "padding": 1, "bias": False}
        )
        layers += bn_relu()
        deg = None if i == 0 else degree_for(cin, density)
        layers += conv(cin, cout, variant, deg) + bn_relu()
        cin = cout
    layers += [{"kind": "pool", "pool": "adaptive_avg", "size": 1}, {"kind": "flatten"}]
    layers += linear(cin, num_classes, "dense", None)
    return {"input": list(input_shape), "layers": layers}


def mobilenet(
    width: float = 0.5,
    variant: str = "x",
    density: Fraction = Fraction(1, 2),
    num_classes: int = 1000,
    input_shape: tuple = (3, 224, 224),
) -> dict:
    """The (X-)MobileNet v1 spec mapping at width multiplier ``width``.

    Reference: Prabhu et al., ECCV 2018, §5; Howard et al. 2017.

    Examples
    --------
    >>> s = mobilenet(0.5, "grouped", Fraction(1, 8))
    >>> [l["degree"] for l in s["layers"] if l.get("graph") == "grouped"][:3]
    [4, 8, 8]
    """
    if width <= 0:
        raise ValueError(f"width: {width!r} must be positive")
    cfg = [(max(8, int(c * width)), s) for c, s in _V1]
    return _net(max(8, int(32 * width)), cfg, variant, density, num_classes, input_shape, 2)


def mobilenet_small(
    variant: str = "x",
    density: Fraction = Fraction(1, 2),
    num_classes: int = 10,
    input_shape: tuple = (1, 28, 28),
) -> dict:
    """The small MobileNet-style spec of the expander-vs-grouped experiment.

    Reference: Prabhu et al., ECCV 2018, §5; Howard et al. 2017.

    Examples
    --------
    >>> s = mobilenet_small("x", Fraction(1, 4))
    >>> [l["degree"] for l in s["layers"] if l.get("degree")]
    [8, 16, 16, 32]
    """
    return _net(16, _SMALL, variant, density, num_classes, input_shape, 1)
