"""X-DenseNet-BC spec generator (CIFAR).

Layout (Huang et al. 2017, DenseNet-BC, as in the authors' CIFAR code):

* stem: dense 3x3 conv ``C -> 2k`` (padding 1, no bias);
* three dense blocks of ``n = (depth - 4) / 6`` bottleneck layers; each layer is
  ``kind: concat`` with body ``BN, ReLU, 1x1 conv cin -> 4k, BN, ReLU,
  3x3 conv 4k -> k`` (so the width grows by ``k``);
* between blocks a transition ``BN, ReLU, 1x1 conv cin -> cin/2, 2x2 avg pool``;
* ``BN, ReLU``, global average pool, dense ``-> num_classes``.

Every conv except the stem, the transitions included, is sparse with
``D = cin // c`` (compression ``c = 2`` by default: density 1/2); the
classifier is dense.  With these rules ``count`` gives 1.447, 3.246, 5.763
and 8.996 x 10^8 MACs for k = 24, 36, 48, 60 on 32x32, the paper's 1.44,
3.24, 5.75, 8.98 within 1%.

Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §5 (X-DenseNet-BC-40);
Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017.
"""

from __future__ import annotations

from fractions import Fraction

from .blocks import bn_relu, conv, degree_for, linear

__all__ = ["densenet_bc", "GROWTHS"]

GROWTHS = (24, 36, 48, 60)


def densenet_bc(
    depth: int = 40,
    growth: int = 24,
    variant: str = "x",
    density: Fraction = Fraction(1, 2),
    num_classes: int = 10,
    input_shape: tuple = (3, 32, 32),
) -> dict:
    """The (X-)DenseNet-BC spec mapping; see the module docstring for the layout.

    Reference: Prabhu et al., ECCV 2018, §5; Huang et al., CVPR 2017.

    Examples
    --------
    >>> s = densenet_bc(40, 24)
    >>> sum(1 for l in s["layers"] if l["kind"] == "concat")
    18
    """
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth: {depth} must be 6n+4 with n >= 1 (e.g. 40, 100)")
    if not isinstance(growth, int) or growth < 1:
        raise ValueError(f"growth: {growth!r} must be a positive integer")
    n = (depth - 4) // 6
    k = growth

    def sparse(ci, co, ks, p):
        return conv(ci, co, variant, degree_for(ci, density), ks, 1, p)

    layers = conv(input_shape[0], 2 * k, "dense", None, 3, 1, 1)
    cin = 2 * k
    for block in range(3):
        for _ in range(n):
            body = bn_relu() + sparse(cin, 4 * k, 1, 0) + bn_relu() + sparse(4 * k, k, 3, 1)
            layers.append({"kind": "concat", "body": body})
            cin += k
        if block < 2:
            layers += bn_relu() + sparse(cin, cin // 2, 1, 0)
            layers.append({"kind": "pool", "pool": "avg", "size": 2})
            cin //= 2
    layers += bn_relu() + [{"kind": "pool", "pool": "adaptive_avg", "size": 1}]
    layers += [{"kind": "flatten"}] + linear(cin, num_classes, "dense", None)
    return {"input": list(input_shape), "layers": layers}
