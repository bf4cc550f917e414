"""The ``triton`` backend: the block-sparse kernels of :mod:`compiler.kernels`.

Triton itself is imported on the first kernel call; a machine without it gets
a one-line ``RuntimeError`` naming the fix.  The functions here take the
transposed tables (built from ``index`` when absent) and an optional
:class:`~compiler.kernels.launch.TableCheck` (a layer keeps one so its tables
are verified once).

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018;
Tillet, Kung and Cox, "Triton", MAPL 2019.
"""

from __future__ import annotations

import torch

from ..kernels import triton_available, xconv2d_triton, xlinear_triton
from ..kernels.launch import TableCheck
from ..layout import transposed_tables

__all__ = ["available", "xlinear", "xconv2d"]


def available() -> bool:
    """Whether the kernels can run here (:func:`compiler.kernels.triton_available`).

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return triton_available()


def _tables(index, in_blocks, t_index, t_slot):
    if t_index is not None and t_slot is not None:
        return t_index, t_slot
    return transposed_tables(index, in_blocks)


def _run(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except ImportError as exc:  # triton missing, or failing to initialise
        raise RuntimeError(
            f"backend 'triton': the Triton kernels cannot be imported ({exc}); "
            "install triton or use backend='gather'"
        ) from exc


def xlinear(
    x2: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None,
    t_index: torch.Tensor | None = None,
    t_slot: torch.Tensor | None = None,
    table_check: TableCheck | None = None,
) -> torch.Tensor:
    """:func:`compiler.kernels.xlinear_triton` of a 2-d ``x2`` ``(N, in)``.

    Examples
    --------
    >>> dev = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: with TRITON_INTERPRET=1
    >>> w = torch.randn(2, 1, 16, 16, device=dev)
    >>> idx = torch.tensor([[0], [1]], device=dev)
    >>> xlinear(torch.randn(8, 32, device=dev), w, idx, None).shape
    torch.Size([8, 32])
    """
    ti, ts = _tables(index, x2.shape[-1] // weight.shape[2], t_index, t_slot)
    return _run(xlinear_triton, x2, weight, index, ti, ts, bias, table_check=table_check)


def xconv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    t_index: torch.Tensor | None = None,
    t_slot: torch.Tensor | None = None,
    table_check: TableCheck | None = None,
) -> torch.Tensor:
    """:func:`compiler.kernels.xconv2d_triton` of NCHW ``x``.

    Examples
    --------
    >>> dev = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: with TRITON_INTERPRET=1
    >>> w = torch.randn(2, 1, 16, 16, 3, 3, device=dev)
    >>> idx = torch.tensor([[1], [0]], device=dev)
    >>> x = torch.randn(2, 32, 5, 5, device=dev)
    >>> xconv2d(x, w, idx, None, (1, 1), (1, 1), (1, 1)).shape
    torch.Size([2, 32, 5, 5])
    """
    ti, ts = _tables(index, x.shape[1] // weight.shape[2], t_index, t_slot)
    return _run(
        xconv2d_triton,
        x,
        weight,
        index,
        ti,
        ts,
        bias,
        stride,
        padding,
        dilation,
        table_check=table_check,
    )
