"""The math of expander layers: one entry point per layer type, dispatching to a backend.

Every backend reads the ELL layout of :mod:`compiler.layout` (``index``
``(out_blocks, D)``, packed weight ``(out_blocks, D, block, block[, kh,
kw])``).  :func:`xlinear` and :func:`xconv2d` validate their arguments once and
call one backend module:

``"masked"``
    :mod:`compiler.backends.masked`, the reference: the dense masked weight and
    ``F.linear`` / ``F.conv2d`` (what the authors' released code does).
``"gather"``
    :mod:`compiler.backends.gather`, the fast CPU path (the paper's "gather"
    method, §3.3): gathers and batched matmuls or grouped convolutions.
``"triton"``
    :mod:`compiler.backends.triton`, the block-sparse kernels of
    :mod:`compiler.kernels` (Triton imported lazily).
``"auto"``
    Resolved per layer shape by the measured rule of :func:`auto_backend`
    (``triton`` on CUDA; on the CPU ``gather`` for blocks >= 8 at density
    <= 1/4, ``masked`` otherwise).  Layers resolve it once, when built.

Every backend refuses an input whose width (features, channels) is not the
layer's, with the one-line ``ValueError`` of :func:`check_width`.  All
backends compute the same function and the same gradients (input, weight,
bias) up to floating-point rounding.

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§3.2-3.3.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import torch

from .backends import gather as _gather
from .backends import masked as _masked
from .backends import triton as _triton
from .backends.gather import CONV_CHUNK_ELEMENTS, GATHER_CHUNK_ELEMENTS, GatherPlan, gather_plan
from .kernels.launch import TableCheck
from .layout import as_pair, block_mask, dense_weight, packed_weight

__all__ = [
    "BACKENDS",
    "xlinear",
    "xconv2d",
    "check_backend",
    "check_width",
    "auto_backend",
    "AUTO_RULE",
    "auto_kind",
    # defined elsewhere, importable from here as before
    "GATHER_CHUNK_ELEMENTS",
    "CONV_CHUNK_ELEMENTS",
    "GatherPlan",
    "gather_plan",
    "dense_weight",
    "packed_weight",
    "block_mask",
]

#: The backend names every expander layer and :func:`xlinear` / :func:`xconv2d` accept.
BACKENDS: tuple[str, ...] = ("auto", "masked", "gather", "triton")


#: The ``auto`` rule on the CPU, per layer kind: ``(least block, largest density)``
#: for which ``gather`` is picked; ``masked`` (dense math) otherwise.  Measured with
#: ``benchmarks/bench_layers.py --only auto`` (2 threads, fwd+bwd) on two machines
#: (an Intel Xeon with AVX-512 and an AMD EPYC): see :func:`auto_backend`.
AUTO_RULE: Mapping[str, tuple[int, float]] = MappingProxyType(
    {"linear": (16, 1 / 8), "conv1x1": (32, 1 / 8), "conv": (8, 1 / 4)}
)


def auto_kind(kernel_size: tuple[int, int] | None) -> str:
    """The :data:`AUTO_RULE` kind of a layer: ``"linear"`` (no kernel), ``"conv1x1"`` or ``"conv"``.

    Examples
    --------
    >>> auto_kind(None), auto_kind((1, 1)), auto_kind((3, 3))
    ('linear', 'conv1x1', 'conv')
    """
    if kernel_size is None:
        return "linear"
    return "conv1x1" if tuple(kernel_size) == (1, 1) else "conv"


def auto_backend(
    in_width: int,
    block: int,
    degree: int,
    *,
    kernel_size: tuple[int, int] | None = None,
    device: str | torch.device | None = None,
    triton_available: bool | None = None,
) -> str:
    """The backend ``"auto"`` picks for a layer: the fastest correct one, by a measured rule.

    * CUDA device (``device``, default: CUDA if available) with
      the Triton kernels available (:func:`compiler.kernels.triton_available`):
      ``"triton"``.
    * Otherwise (CPU): ``"gather"`` when ``block >= least`` and the density
      ``degree / in_width <= largest`` for the layer's kind in
      :data:`AUTO_RULE` (``kernel_size`` ``None`` for a linear layer):
      linear block >= 16 at density <= 1/8, 1x1 convolution block >= 32 at
      density <= 1/8, a larger kernel block >= 8 at density <= 1/4; else
      ``"masked"``.  Why: gather does ``density`` of the dense work, but in
      ``block x block`` matmuls with an extra gather pass; small blocks make
      those matmuls memory-bound (block 1: 0.1-0.2x the masked layer), and at
      density 1/4 and above the saved work does not pay for the gathers
      except for a spatial kernel, whose ``kh*kw`` taps reuse each gathered
      channel.  The thresholds come from the calibration sweep of
      ``benchmarks/bench_layers.py --only auto`` (linear, 3x3 and 1x1
      convolutions, blocks 1-16, densities 1/2-1/8, and the block-32/64 goal
      shapes), recorded in ``benchmarks/results/bench_layers.json`` under
      ``"auto"``: every shape of both machines' sweeps is picked right or
      within 10% of the faster backend.

    The rule depends only on the layer's shape, so it is fixed when the layer
    is built (``masked`` and the others store the weight differently).

    Examples
    --------
    >>> auto_backend(4096, 32, 512, device="cpu")
    'gather'
    >>> auto_backend(4096, 1, 512, device="cpu")
    'masked'
    >>> auto_backend(128, 16, 16, kernel_size=(1, 1), device="cpu")  # a small 1x1 conv
    'masked'
    >>> auto_backend(64, 16, 64, device="cpu")  # a dense graph
    'masked'
    """
    dev = torch.device(device) if device is not None else None
    cuda = dev.type == "cuda" if dev is not None else torch.cuda.is_available()
    if cuda:
        if triton_available is None:
            triton_available = _triton.available()
        if triton_available:
            return "triton"
    least, largest = AUTO_RULE[auto_kind(kernel_size)]
    if block >= least and degree <= largest * in_width:
        return "gather"
    return "masked"


def check_backend(backend: object, who: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS`, else a one-line ``ValueError``.

    Examples
    --------
    >>> check_backend("gather", "XLinear")
    'gather'
    >>> check_backend("cuda", "XLinear")
    Traceback (most recent call last):
    ValueError: XLinear: backend='cuda' must be one of auto, masked, gather, triton
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"{who}: backend={backend!r} must be one of {', '.join(BACKENDS)}")
    return backend


def check_width(x: torch.Tensor, expected: int, who: str, kind: str = "linear") -> None:
    """Refuse an input whose width is not the layer's, with one clear line.

    ``kind`` is ``"linear"`` (width = last dimension, "features") or
    ``"conv2d"`` (4-d ``(N, C, H, W)``, width = ``C``, "channels").  Every
    backend calls this, so a wider input is never silently truncated and a
    narrower one never reaches an index error.

    Examples
    --------
    >>> check_width(torch.zeros(2, 3), 4, "XLinear")
    Traceback (most recent call last):
    ValueError: XLinear: input has 3 features (x shape (2, 3)), the layer expects in_features=4
    """
    if kind == "conv2d":
        if x.dim() != 4:
            raise ValueError(f"{who}: input must be 4-d (N, C, H, W), got shape {tuple(x.shape)}")
        got, unit, name = x.shape[1], "channels", "in_channels"
    else:
        if x.dim() < 1:
            raise ValueError(f"{who}: input must have a feature dimension, got a scalar")
        got, unit, name = x.shape[-1], "features", "in_features"
    if got != expected:
        raise ValueError(
            f"{who}: input has {got} {unit} (x shape {tuple(x.shape)}), "
            f"the layer expects {name}={expected}"
        )


def _expected_width(index, b, in_width, plan, t_index) -> int | None:
    """The layer's input width: given, or read off the plan / transposed table."""
    if in_width is not None:
        return int(in_width)
    if plan is not None:
        return int(plan.inverse.shape[0]) * b
    if t_index is not None:
        return int(t_index.shape[0]) * b
    return None


def _check_index_range(index: torch.Tensor, inp: int, b: int, who: str) -> None:
    if index.numel() and int(index.max()) >= inp // b:
        need = (int(index.max()) + 1) * b
        raise ValueError(
            f"{who}: input width {inp} is too narrow for the index table, which reads "
            f"input blocks up to width {need}"
        )


def _check_tables(weight: torch.Tensor, index: torch.Tensor, block: int | None, ndim: int):
    """Validate the packed weight against the index table; return ``(ob, d, block)``."""
    if index.dim() != 2:
        raise ValueError(f"index: must be 2-d (out_blocks, D), got shape {tuple(index.shape)}")
    if index.dtype != torch.int64:
        raise ValueError(f"index: must be int64, got {index.dtype}")
    if weight.dim() != ndim:
        raise ValueError(f"weight: must be {ndim}-d packed, got shape {tuple(weight.shape)}")
    ob, d = index.shape
    if tuple(weight.shape[:2]) != (ob, d) or weight.shape[2] != weight.shape[3]:
        raise ValueError(
            f"weight: shape {tuple(weight.shape)} does not match index {tuple(index.shape)} "
            "(expected (out_blocks, D, block, block, ...))"
        )
    b = int(weight.shape[2])
    if block is not None and block != b:
        raise ValueError(f"block: {block} does not match the weight's block size {b}")
    return ob, d, b


def _resolve(backend, x: torch.Tensor, inp: int, b: int, d: int, who: str, kernel=None) -> str:
    check_backend(backend, who)
    if backend == "auto":
        return auto_backend(inp, b, d * b, kernel_size=kernel, device=x.device)
    return backend


def xlinear(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None = None,
    block: int | None = None,
    backend: str = "gather",
    *,
    t_index: torch.Tensor | None = None,
    t_slot: torch.Tensor | None = None,
    plan: GatherPlan | None = None,
    in_width: int | None = None,
    table_check: TableCheck | None = None,
) -> torch.Tensor:
    """Expander linear map ``y = x W^T + bias`` with ``W`` supported on the graph.

    Conventions: ``x`` is ``(..., in_features)``; ``weight`` is packed
    ``(out_blocks, D, block, block)`` and ``index`` ``(out_blocks, D)`` int64 as
    in :mod:`compiler.layout`; the result is ``(..., out_blocks*block)``.
    ``block`` may be omitted (it is read from ``weight``).  ``t_index``/``t_slot``
    are the transposed tables the ``triton`` backend needs and ``table_check``
    the :class:`~compiler.kernels.launch.TableCheck` that remembers them
    verified; ``plan`` is the :class:`~compiler.backends.gather.GatherPlan` of
    the ``gather`` backend (all built on the fly if absent; layers build them
    once).  ``in_width`` is the layer's ``in_features`` (read off ``plan`` or
    ``t_index`` when omitted); every backend refuses an input of another width
    with the one-line ``ValueError`` of :func:`check_width`.

    Reference: Prabhu et al., ECCV 2018, §3.2 (X-Linear), §3.3 (gather).

    Examples
    --------
    >>> w = torch.ones(2, 1, 1, 1)
    >>> xlinear(torch.tensor([[1.0, 2.0, 3.0]]), w, torch.tensor([[2], [0]]))
    tensor([[3., 1.]])
    """
    check_backend(backend, "xlinear")
    _, d, b = _check_tables(weight, index, block, 4)
    expected = _expected_width(index, b, in_width, plan, t_index)
    if expected is not None:
        check_width(x, expected, "xlinear")
    inp = x.shape[-1]
    if inp % b:
        raise ValueError(f"x: last dimension {inp} is not a multiple of block {b}")
    if expected is None:
        _check_index_range(index, inp, b, "xlinear")
    backend = _resolve(backend, x, inp, b, d, "xlinear")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, inp)
    if backend == "masked":
        y = _masked.xlinear(x2, weight, index, bias)
    elif backend == "gather":
        p = plan if plan is not None else gather_plan(index, inp // b)
        y = _gather.xlinear(x2, weight, index, bias, p)
    else:
        y = _triton.xlinear(x2, weight, index, bias, t_index, t_slot, table_check)
    return y.reshape(lead + (y.shape[-1],))


def xconv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None = None,
    block: int | None = None,
    backend: str = "gather",
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    *,
    t_index: torch.Tensor | None = None,
    t_slot: torch.Tensor | None = None,
    plan: GatherPlan | None = None,
    in_width: int | None = None,
    table_check: TableCheck | None = None,
) -> torch.Tensor:
    """Expander convolution: output channel ``v`` convolves only its graph neighbours.

    Conventions: ``x`` is ``(N, C_in, H, W)``; ``weight`` is packed
    ``(out_blocks, D, block, block, kh, kw)`` over the channel graph ``index``
    (:mod:`compiler.layout`); ``stride``, ``padding``, ``dilation`` as in
    ``F.conv2d`` (ints or pairs); ``t_index``/``t_slot``/``plan``/``in_width``
    (``in_channels``)/``table_check`` as in :func:`xlinear`.  The result equals
    ``F.conv2d`` with the dense weight of :func:`compiler.layout.dense_weight`.

    Reference: Prabhu et al., ECCV 2018, §3.2 (X-Conv), §3.3 (gather, then a
    grouped convolution with ``groups = C_out``).

    Examples
    --------
    >>> w = torch.ones(1, 1, 1, 1, 1, 1)
    >>> xconv2d(torch.arange(8.0).reshape(1, 2, 2, 2), w, torch.tensor([[1]])).flatten()
    tensor([4., 5., 6., 7.])
    """
    check_backend(backend, "xconv2d")
    _, d, b = _check_tables(weight, index, block, 6)
    stride, padding, dilation = (
        as_pair(stride, "stride", 1),
        as_pair(padding, "padding", 0),
        as_pair(dilation, "dilation", 1),
    )
    if x.dim() != 4:
        raise ValueError(f"x: must be 4-d (N, C, H, W), got shape {tuple(x.shape)}")
    expected = _expected_width(index, b, in_width, plan, t_index)
    if expected is not None:
        check_width(x, expected, "xconv2d", "conv2d")
    cin = x.shape[1]
    if cin % b:
        raise ValueError(f"x: {cin} channels is not a multiple of block {b}")
    if expected is None:
        _check_index_range(index, cin, b, "xconv2d")
    backend = _resolve(backend, x, cin, b, d, "xconv2d", tuple(weight.shape[4:6]))
    conv = (stride, padding, dilation)
    if backend == "masked":
        return _masked.xconv2d(x, weight, index, bias, *conv)
    if backend == "gather":
        p = plan if plan is not None else gather_plan(index, cin // b)
        return _gather.xconv2d(x, weight, index, bias, *conv, p)
    return _triton.xconv2d(x, weight, index, bias, *conv, t_index, t_slot, table_check)
