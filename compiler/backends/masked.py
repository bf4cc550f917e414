"""The ``masked`` backend: dense masked math, the reference the other backends are tested by.

The packed weight is scattered into a dense ``(out, in[, kh, kw])`` matrix with
zeros off the graph (:func:`compiler.layout.dense_weight`) and ``F.linear`` /
``F.conv2d`` runs on it: clear, slow, differentiable by autograd.  This is what
the authors' released code does; no compute is saved.  A layer on this backend
keeps the dense weight and a fixed mask and calls :func:`linear` /
:func:`conv2d` with ``weight * mask`` directly.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§3 (X-Linear and X-Conv layers).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..layout import dense_weight

__all__ = ["ACTIVATIONS", "linear", "conv2d", "xlinear", "xconv2d"]

#: Activations the linear layers can fuse, by name (``None``: identity).
ACTIVATIONS = {None: lambda t: t, "relu": F.relu, "gelu": F.gelu}


def linear(
    x: torch.Tensor,
    dense: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
) -> torch.Tensor:
    """``act(x @ dense.T + bias)`` for a dense weight already zero off the graph.

    Examples
    --------
    >>> linear(torch.tensor([[2.0, 3.0]]), torch.tensor([[0.0, 1.0]])).tolist()
    [[3.0]]
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: must be one of None, 'relu', 'gelu', got {activation!r}")
    return ACTIVATIONS[activation](F.linear(x, dense, bias))


def conv2d(
    x: torch.Tensor,
    dense: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    """``F.conv2d`` of NCHW ``x`` with a dense ``(out, in, kh, kw)`` weight zero off the graph.

    Examples
    --------
    >>> tuple(conv2d(torch.ones(1, 2, 3, 3), torch.ones(1, 2, 1, 1)).shape)
    (1, 1, 3, 3)
    """
    return F.conv2d(x, dense, bias, stride=stride, padding=padding, dilation=dilation)


def xlinear(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
) -> torch.Tensor:
    """``act(x @ dense_weight(weight, index).T + bias)`` with autograd; ``x`` is ``(..., in)``.

    Reference: Prabhu et al., ECCV 2018, X-Linear: ``y_v = sum_{u in N(v)} W_uv x_u``.

    Examples
    --------
    >>> w = torch.ones(1, 1, 1, 1)
    >>> xlinear(torch.tensor([[2.0, 3.0]]), w, torch.tensor([[1]])).tolist()
    [[3.0]]
    """
    return linear(x, dense_weight(weight, index, x.shape[-1]), bias, activation)


def xconv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    """``F.conv2d`` of NCHW ``x`` with the dense masked weight of a packed one.

    Reference: Prabhu et al., ECCV 2018, X-Conv: output channel ``v`` convolves
    its neighbour input channels with full ``kh x kw`` kernels.

    Examples
    --------
    >>> w = torch.ones(1, 1, 1, 1, 1, 1)
    >>> y = xconv2d(torch.ones(1, 2, 3, 3), w, torch.tensor([[0]]))
    >>> tuple(y.shape), float(y.sum())
    ((1, 1, 3, 3), 9.0)
    """
    if x.dim() != 4:
        raise ValueError(f"x: must be 4-d (N, C, H, W), got shape {tuple(x.shape)}")
    dense = dense_weight(weight, index, x.shape[1])
    return conv2d(x, dense, bias, stride, padding, dilation)
