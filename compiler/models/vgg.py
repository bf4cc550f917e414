"""X-VGG16-BN for CIFAR as a spec generator.

Layout (the authors' ``vggcifar_expander.py``, configuration D with batch norm):
a dense stem ``3 -> 64`` 3x3 conv, then the 13-entry VGG16 list
``64, M, 128, 128, M, 256 x3, M, 512 x3, M, 512 x3, M`` of 3x3 convs (each
followed by BN and ReLU) with per-conv degrees ``64, 64, 64, 16 x9``; a conv
is dense when its degree is at least its input width (so the stem, the
``64 -> 64`` and the ``64 -> 128`` convs are dense, ``128 -> 128`` has D = 64
and the nine deeper convs D = 16).  Classifier: ``512 -> 512`` with D = 128,
ReLU, dense ``512 -> num_classes``.  ``density`` (if given) replaces these
degrees by ``D = cin * density`` on every conv but the stem and on the
512 -> 512 layer.

Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §5 (X-VGG16: 93.07% on
CIFAR-10 with about 0.8M parameters).
"""

from __future__ import annotations

from fractions import Fraction

from .blocks import bn_relu, conv, degree_for, linear

__all__ = ["vgg16_bn"]

_CFG = [64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
_DEGREES = [64, "M", 64, 64, "M", 16, 16, 16, "M", 16, 16, 16, "M", 16, 16, 16, "M"]


def vgg16_bn(
    variant: str = "x",
    density: Fraction | None = None,
    num_classes: int = 10,
    input_shape: tuple = (3, 32, 32),
) -> dict:
    """The (X-)VGG16-BN spec mapping; see the module docstring for the layout.

    Reference: Prabhu et al., ECCV 2018, §5.

    Examples
    --------
    >>> s = vgg16_bn()
    >>> [l.get("degree") for l in s["layers"] if l.get("kind") == "conv"][:5]
    [None, None, None, 64, 16]
    """
    c_in = input_shape[0]
    layers = conv(c_in, 64, "dense", None, 3, 1, 1) + bn_relu()
    cin = 64
    for width, d in zip(_CFG, _DEGREES):
        if width == "M":
            layers.append({"kind": "pool", "pool": "max", "size": 2})
            continue
        deg = d if density is None else degree_for(cin, density)
        layers += conv(cin, width, variant, deg, 3, 1, 1) + bn_relu()
        cin = width
    layers += [{"kind": "pool", "pool": "adaptive_avg", "size": 1}, {"kind": "flatten"}]
    deg = 128 if density is None else degree_for(512, density)
    layers += linear(512, 512, variant, deg) + [{"kind": "activation", "fn": "relu"}]
    layers += linear(512, num_classes, "dense", None)
    return {"input": list(input_shape), "layers": layers}
