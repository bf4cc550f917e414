"""Block-sparse Triton kernels: the ``triton`` backend of XLinear and XConv2d.

Every function here reads the ELL block tables of :mod:`compiler.layout`.  Triton
is imported lazily, on the first kernel call, so that importing this package
never fails (and never fixes ``TRITON_INTERPRET`` too early) on a machine
without Triton; :func:`triton_available` says whether the kernels can run.

Reference: Prabhu, Varma and Namboodiri, *Deep Expander Networks*, ECCV 2018;
Tillet, Kung and Cox, *Triton*, MAPL 2019.
"""

from __future__ import annotations

import importlib
import os

import torch

__all__ = ["xlinear_triton", "xconv2d_triton", "triton_available"]


def triton_available() -> bool:
    """True when Triton imports and there is a device to run on.

    The device is a CUDA GPU, or the CPU when ``TRITON_INTERPRET=1`` (the
    Triton interpreter, slow, used by the tests).

    Reference: Triton's debugging guide (``TRITON_INTERPRET``).

    Examples
    --------
    >>> isinstance(triton_available(), bool)
    True
    """
    try:
        importlib.import_module("triton")
    except ImportError:
        return False
    interp = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
    return interp or torch.cuda.is_available()


def xlinear_triton(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    t_index: torch.Tensor,
    t_slot: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
    *,
    table_check=None,
) -> torch.Tensor:
    """Block-sparse X-Linear; see :func:`compiler.kernels.linear.xlinear_triton`.

    Reference: Prabhu et al., ECCV 2018 (X-Linear).

    Examples
    --------
    >>> import numpy as np
    >>> from compiler.layout import transpose_ell
    >>> dev = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: with TRITON_INTERPRET=1
    >>> ti, ts, _ = transpose_ell(np.array([[0], [1]]), 2)
    >>> idx, ti, ts = (torch.as_tensor(t, device=dev) for t in ([[0], [1]], ti, ts))
    >>> w = torch.randn(2, 1, 16, 16, device=dev)
    >>> xlinear_triton(torch.randn(8, 32, device=dev), w, idx, ti, ts, None).shape
    torch.Size([8, 32])
    """
    from .linear import xlinear_triton as impl

    return impl(
        x, weight, index, t_index, t_slot, bias=bias, activation=activation, table_check=table_check
    )


def xconv2d_triton(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    t_index: torch.Tensor,
    t_slot: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int | tuple[int, int],
    padding: int | tuple[int, int],
    dilation: int | tuple[int, int],
    *,
    table_check=None,
) -> torch.Tensor:
    """Block-sparse X-Conv2d (implicit GEMM); see :func:`compiler.kernels.conv.xconv2d_triton`.

    Reference: Prabhu et al., ECCV 2018 (X-Conv).

    Examples
    --------
    >>> import numpy as np
    >>> from compiler.layout import transpose_ell
    >>> dev = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: with TRITON_INTERPRET=1
    >>> ti, ts, _ = transpose_ell(np.array([[1], [0]]), 2)
    >>> idx, ti, ts = (torch.as_tensor(t, device=dev) for t in ([[1], [0]], ti, ts))
    >>> w = torch.randn(2, 1, 16, 16, 3, 3, device=dev)
    >>> x = torch.randn(2, 32, 5, 5, device=dev)
    >>> xconv2d_triton(x, w, idx, ti, ts, None, 1, 1, 1).shape
    torch.Size([2, 32, 5, 5])
    """
    from .conv import xconv2d_triton as impl

    return impl(
        x, weight, index, t_index, t_slot, bias, stride, padding, dilation, table_check=table_check
    )
