"""X-ResNet spec generators: CIFAR ResNet-(6n+2) and ImageNet ResNet-18/34/50.

Every 3x3 and 1x1 convolution inside the residual blocks, projection
shortcuts included, is sparse with ``D = cin // c`` (compression ``c``,
density ``1/c``); the stem and the classifier are dense.  Blocks are
``kind: residual`` layers (``y = body(x) + shortcut(x)``) followed by a ReLU.

* **CIFAR** (He et al. 2016, §4.2): a 3x3 ``3 -> 16`` stem, three stages of
  ``n = (depth - 2) / 6`` basic blocks at widths 16, 32, 64 (stride 2 at the
  start of stages 2 and 3, with a 1x1 projection shortcut + BN there), global
  average pool, dense ``64 -> num_classes``.
* **ImageNet**: a 7x7/2 ``3 -> 64`` stem, BN, ReLU, 3x3/2 max pool; stages of
  basic blocks (18: 2-2-2-2, 34: 3-4-6-3) or bottleneck blocks (50: 3-4-6-3,
  expansion 4) at widths 64, 128, 256, 512; global average pool; dense
  classifier.

Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §5 (X-ResNet at c = 2);
He, Zhang, Ren and Sun, "Deep Residual Learning", CVPR 2016.
"""

from __future__ import annotations

from fractions import Fraction

from .blocks import bn_relu, conv, degree_for, linear

__all__ = ["resnet", "CIFAR_DEPTHS", "IMAGENET_DEPTHS"]

CIFAR_DEPTHS = (20, 56, 110)
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}


def _block(kind: str, cin: int, width: int, stride: int, variant: str, density) -> tuple:
    def sparse(ci, co, k, s, p):
        return conv(ci, co, variant, degree_for(ci, density), k, s, p)

    if kind == "basic":
        cout = width
        body = sparse(cin, cout, 3, stride, 1) + bn_relu() + sparse(cout, cout, 3, 1, 1)
        body.append({"kind": "norm"})
    else:
        cout = 4 * width
        body = sparse(cin, width, 1, 1, 0) + bn_relu()
        body += sparse(width, width, 3, stride, 1) + bn_relu()
        body += sparse(width, cout, 1, 1, 0) + [{"kind": "norm"}]
    layer: dict = {"kind": "residual", "body": body}
    if stride != 1 or cin != cout:
        layer["shortcut"] = sparse(cin, cout, 1, stride, 0) + [{"kind": "norm"}]
    return [layer, {"kind": "activation", "fn": "relu"}], cout


def resnet(
    depth: int,
    variant: str = "x",
    density: Fraction = Fraction(1, 2),
    num_classes: int | None = None,
    input_shape: tuple | None = None,
) -> dict:
    """The (X-)ResNet spec mapping of ``depth`` (CIFAR 6n+2, or ImageNet 18/34/50).

    Reference: Prabhu et al., ECCV 2018, §5; He et al., CVPR 2016.

    Examples
    --------
    >>> s = resnet(20)
    >>> s["input"], sum(1 for l in s["layers"] if l["kind"] == "residual")
    ([3, 32, 32], 9)
    """
    if depth in IMAGENET_DEPTHS:
        kind, counts = IMAGENET_DEPTHS[depth]
        shape = tuple(input_shape or (3, 224, 224))
        layers = conv(shape[0], 64, "dense", None, 7, 2, 3) + bn_relu()
        layers.append({"kind": "pool", "pool": "max", "size": 3, "stride": 2, "padding": 1})
        cin, widths = 64, (64, 128, 256, 512)
        classes = num_classes or 1000
    elif depth >= 8 and (depth - 2) % 6 == 0:
        n = (depth - 2) // 6
        kind, counts = "basic", (n, n, n)
        shape = tuple(input_shape or (3, 32, 32))
        layers = conv(shape[0], 16, "dense", None, 3, 1, 1) + bn_relu()
        cin, widths = 16, (16, 32, 64)
        classes = num_classes or 10
    else:
        raise ValueError(
            f"depth: {depth} must be 6n+2 (CIFAR, e.g. 20, 56, 110) or one of 18, 34, 50"
        )
    for stage, (width, count) in enumerate(zip(widths, counts)):
        for i in range(count):
            stride = 2 if stage > 0 and i == 0 else 1
            block, cin = _block(kind, cin, width, stride, variant, density)
            layers += block
    layers += [{"kind": "pool", "pool": "adaptive_avg", "size": 1}, {"kind": "flatten"}]
    layers += linear(cin, classes, "dense", None)
    return {"input": list(shape), "layers": layers}
