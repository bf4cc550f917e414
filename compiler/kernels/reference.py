"""Pure-torch reference implementations of the block-sparse layers (dense-masked math).

These read the same ELL block tables as every backend (see :mod:`compiler.ell`):
``index`` is int ``(out_blocks, D)``, the weight is ``(out_blocks, D, block,
block[, kh, kw])`` and ``W[ob, k, i, j]`` joins input channel
``index[ob, k] * block + j`` to output channel ``ob * block + i``.  A repeated
input block in one row (a multi-edge) adds its weights.

They scatter the block weight into a dense masked matrix and call
``F.linear`` / ``F.conv2d``: clear, slow, differentiable with autograd.  The
Triton kernels are tested side by side with them, in the style of the Triton
tutorials and FlashAttention (a kernel next to a few lines of torch).

Reference: Prabhu, Varma and Namboodiri, *Deep Expander Networks*, ECCV 2018,
Sec. 3 (X-Linear and X-Conv layers); the released code is masked-dense.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "block_mask",
    "dense_weight",
    "blocks_from_dense",
    "xlinear_reference",
    "xconv2d_reference",
]

_ACTIVATIONS = {None: lambda t: t, "relu": F.relu, "gelu": F.gelu}


def _check_layout(weight: torch.Tensor, index: torch.Tensor, in_blocks: int, what: str) -> None:
    if index.dim() != 2 or index.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"{what}: index must be an int32/int64 (out_blocks, D) tensor")
    if weight.dim() < 4 or tuple(weight.shape[:2]) != tuple(index.shape):
        raise ValueError(f"{what}: weight must be (out_blocks, D, block, block, ...) like index")
    if weight.shape[2] != weight.shape[3]:
        raise ValueError(f"{what}: weight blocks must be square, got {tuple(weight.shape[2:4])}")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= in_blocks):
        raise ValueError(f"{what}: index entries must lie in 0..{in_blocks - 1}")


def block_mask(index: torch.Tensor, in_blocks: int, block: int) -> torch.Tensor:
    """Boolean ``(out_blocks*block, in_blocks*block)`` mask of the connected channel pairs.

    ``mask[ob*block + i, index[ob, k]*block + j]`` is True for every ``k, i, j``.

    Reference: Prabhu et al., ECCV 2018 (the released code multiplies by this mask).

    Examples
    --------
    >>> block_mask(torch.tensor([[1]]), 2, 1).tolist()
    [[False, True]]
    """
    out_blocks = index.shape[0]
    m = torch.zeros(out_blocks, in_blocks, dtype=torch.bool, device=index.device)
    m[torch.arange(out_blocks, device=index.device)[:, None], index.long()] = True
    return m.repeat_interleave(block, 0).repeat_interleave(block, 1)


def dense_weight(weight: torch.Tensor, index: torch.Tensor, in_blocks: int) -> torch.Tensor:
    """Dense ``(out, in[, kh, kw])`` weight with zeros off the graph (differentiable).

    Entry ``[ob*block + i, index[ob, k]*block + j]`` is the sum of
    ``weight[ob, k, i, j]`` over slots ``k`` naming the same input block.

    Reference: Prabhu et al., ECCV 2018, Sec. 3.

    Examples
    --------
    >>> w = torch.ones(1, 1, 2, 2)
    >>> dense_weight(w, torch.tensor([[1]]), 2).tolist()
    [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]
    """
    _check_layout(weight, index, in_blocks, "dense_weight")
    out_blocks, d, b = weight.shape[0], weight.shape[1], weight.shape[2]
    tail = tuple(weight.shape[4:])
    dev = weight.device
    rows = (torch.arange(out_blocks, device=dev) * b)[:, None, None, None] + torch.arange(
        b, device=dev
    )[None, None, :, None]
    cols = (index.long().to(dev) * b)[:, :, None, None] + torch.arange(b, device=dev)[
        None, None, None, :
    ]
    rows = rows.expand(out_blocks, d, b, b).reshape(-1)
    cols = cols.expand(out_blocks, d, b, b).reshape(-1)
    dense = weight.new_zeros((out_blocks * b, in_blocks * b) + tail)
    return dense.index_put((rows, cols), weight.reshape((-1,) + tail), accumulate=True)


def blocks_from_dense(dense: torch.Tensor, index: torch.Tensor, block: int) -> torch.Tensor:
    """Read the ELL blocks ``(out_blocks, D, block, block[, kh, kw])`` out of a dense matrix.

    The inverse of :func:`dense_weight` for graphs without repeated blocks; used
    to compare a dense masked weight gradient with a block gradient.

    Reference: the ELL layout of :mod:`compiler.ell`.

    Examples
    --------
    >>> d = torch.arange(8.0).reshape(2, 4)
    >>> blocks_from_dense(d, torch.tensor([[1]]), 2).tolist()
    [[[[2.0, 3.0], [6.0, 7.0]]]]
    """
    out_blocks, d = index.shape
    dev = dense.device
    ar = torch.arange(block, device=dev)
    rows = (torch.arange(out_blocks, device=dev) * block)[:, None, None, None] + ar[
        None, None, :, None
    ]
    cols = (index.long().to(dev) * block)[:, :, None, None] + ar[None, None, None, :]
    return dense[rows.expand(out_blocks, d, block, block), cols]


def xlinear_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
) -> torch.Tensor:
    """``act(x @ dense_weight(weight, index).T + bias)`` with autograd; x is ``(..., in)``.

    Reference: Prabhu et al., ECCV 2018, X-Linear: ``y_v = sum_{u in N(v)} W_uv x_u``.

    Examples
    --------
    >>> w = torch.ones(1, 1, 1, 1)
    >>> xlinear_reference(torch.tensor([[2.0, 3.0]]), w, torch.tensor([[1]])).tolist()
    [[3.0]]
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation: must be one of None, 'relu', 'gelu', got {activation!r}")
    b = weight.shape[2]
    if x.shape[-1] % b:
        raise ValueError(f"x: in_features {x.shape[-1]} is not a multiple of block {b}")
    w = dense_weight(weight, index, x.shape[-1] // b)
    return _ACTIVATIONS[activation](F.linear(x, w, bias))


def xconv2d_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride=(1, 1),
    padding=(0, 0),
    dilation=(1, 1),
) -> torch.Tensor:
    """``F.conv2d`` of NCHW ``x`` with the dense masked weight ``(out, in, kh, kw)``.

    Reference: Prabhu et al., ECCV 2018, X-Conv: output channel ``v`` convolves
    its neighbour input channels with full ``kh x kw`` kernels.

    Examples
    --------
    >>> w = torch.ones(1, 1, 1, 1, 1, 1)
    >>> y = xconv2d_reference(torch.ones(1, 2, 3, 3), w, torch.tensor([[0]]))
    >>> tuple(y.shape), float(y.sum())
    ((1, 1, 3, 3), 9.0)
    """
    if weight.dim() != 6:
        raise ValueError("weight: must be (out_blocks, D, block, block, kh, kw)")
    b = weight.shape[2]
    if x.dim() != 4 or x.shape[1] % b:
        raise ValueError(f"x: must be NCHW with channels a multiple of block {b}")
    w = dense_weight(weight, index, x.shape[1] // b)
    return F.conv2d(x, w, bias, stride=stride, padding=padding, dilation=dilation)
