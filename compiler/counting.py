"""Parameters and FLOPs of compiled networks, counting only the weights that exist.

Conventions
-----------
* **FLOPs are multiply-accumulates (MACs) of non-zero weights**, per sample
  (batch 1), the paper's convention: a dense ``Linear(in, out)`` costs
  ``in*out`` per token, an ``XLinear`` ``D*out``; a ``Conv2d`` costs
  ``out * in/groups * kh*kw * H_out*W_out``, an ``XConv2d`` ``out * D * kh*kw *
  H_out*W_out``.  Biases, activations, norms, pooling, channel shuffles and
  the additions/concatenations of residual and concat layers add no MACs
  (the paper counts only conv/linear MACs; with this rule X-DenseNet-BC-40 at
  compression 2 gives the paper's 1.44/3.24/5.75/8.98 x 10^8 for k =
  24/36/48/60 within 1%).
* **Parameters** are the trainable numbers that exist: an expander layer counts
  ``out_blocks * D/block * block**2 * kh*kw`` weights plus its bias (also on the
  ``masked`` backend, whose dense parameter is mostly fixed zeros); any other
  module counts its own parameters (each module once, even if called twice).
* The **dense equivalent** of an expander layer is the same layer with every
  input connected (``D = in``); other modules are their own dense equivalent.
* The walk is generic: every leaf module (and every expander layer) is hooked,
  one forward pass on zeros (batch 1, eval mode, no grad) at the given input
  shape records each call's input and output shape, and a per-type counter
  turns them into numbers (:data:`COUNTERS`; pass ``counters=`` to
  :func:`count` for other module types).

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§3 (FLOPs of X-Conv scale by ``D / c_in``) and its authors' FLOP tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType

import torch
from torch import nn

from .modules import XConv2d, XLayer, XLinear

__all__ = ["LayerCount", "count", "Counter", "COUNTERS"]


@dataclass
class LayerCount:
    """The cost of one module call: shapes are per sample (no batch axis)."""

    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    flops: int
    dense_params: int
    dense_flops: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["in_shape"], d["out_shape"] = list(self.in_shape), list(self.out_shape)
        return d


#: ``(params, flops, dense_params, dense_flops) = counter(module, in_shape, out_shape)``;
#: shapes without the batch axis.  Looked up along the module type's MRO.
Counter = Callable[[nn.Module, tuple, tuple], tuple[int, int, int, int]]


def _own_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters(recurse=False))


def _tokens(shape: tuple) -> int:
    return math.prod(shape[:-1]) if len(shape) > 1 else 1


def _count_x(m: XLayer, i: tuple, o: tuple) -> tuple[int, int, int, int]:
    bias = m.out_width if m.bias is not None else 0
    area = m.kernel_area
    positions = math.prod(o[1:]) if isinstance(m, XConv2d) else _tokens(i)
    flops = m.out_width * m.degree * area * positions
    dense_flops = m.out_width * m.in_width * area * positions
    return m.num_weights + bias, flops, m.out_width * m.in_width * area + bias, dense_flops


def _count_linear(m: nn.Linear, i: tuple, o: tuple) -> tuple[int, int, int, int]:
    p = _own_params(m)
    f = m.in_features * m.out_features * _tokens(i)
    return p, f, p, f


def _count_conv(m: nn.Conv2d, i: tuple, o: tuple) -> tuple[int, int, int, int]:
    p = _own_params(m)
    k = math.prod(m.kernel_size)
    f = m.out_channels * (m.in_channels // m.groups) * k * math.prod(o[1:])
    return p, f, p, f


def _count_other(m: nn.Module, i: tuple, o: tuple) -> tuple[int, int, int, int]:
    p = _own_params(m)
    return p, 0, p, 0


#: the built-in counters, looked up along a module type's MRO (read-only; pass
#: ``counters=`` to :func:`count` for other module types)
COUNTERS: Mapping[type, Counter] = MappingProxyType(
    {XLayer: _count_x, nn.Linear: _count_linear, nn.Conv2d: _count_conv}
)


def _counter(m: nn.Module, table: Mapping[type, Counter]) -> Counter:
    for cls in type(m).__mro__:
        if cls in table:
            return table[cls]
    return _count_other


def _kind(m: nn.Module) -> str:
    if isinstance(m, XLinear):
        return "linear"
    if isinstance(m, XConv2d):
        return "conv"
    return type(m).__name__


def _shape(t) -> tuple[int, ...]:
    if isinstance(t, (tuple, list)):
        t = next((v for v in t if isinstance(v, torch.Tensor)), None)
    return tuple(int(v) for v in t.shape[1:]) if isinstance(t, torch.Tensor) else ()


def _run(model: nn.Module, shape: tuple[int, ...]) -> None:
    p = next(model.parameters(), None)
    dev = p.device if p is not None else "cpu"
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    model(torch.zeros((1,) + shape, device=dev, dtype=dtype))


def count(
    model: nn.Module,
    input_shape: Sequence[int] | None = None,
    counters: Mapping[type, Counter] | None = None,
) -> dict:
    """Per-layer and total parameters and FLOPs (MACs of non-zero weights) of ``model``.

    ``input_shape`` is per sample, ``(F,)`` or ``(C, H, W)``; it defaults to
    ``model.input_shape`` (set on an :class:`~compiler.network.XNet`).  Returns
    ``{"input_shape", "layers": [LayerCount.to_dict(), ...], "params", "flops",
    "dense_params", "dense_flops"}``; layers are leaf modules and expander
    layers in call order, named by module path (or spec location for an
    ``XNet``, e.g. ``layers[3].body[1]``).
    Parameters not owned by any called module are added to ``params`` (and
    ``dense_params``) as they are.  ``counters`` adds or replaces counters for
    module types (``type -> counter``, see :data:`Counter`) for this call only.
    Conventions: see the module docstring.

    Reference: Prabhu, Varma and Namboodiri, ECCV 2018, §3.

    Examples
    --------
    >>> net = nn.Sequential(XLinear(64, 32, degree=8), nn.ReLU(), nn.Linear(32, 10))
    >>> c = count(net, (64,))
    >>> c["flops"], c["dense_flops"], c["params"]
    (576, 2368, 618)
    >>> def bilinear(m, i, o):
    ...     p = sum(t.numel() for t in m.parameters())
    ...     return p, m.weight.numel(), p, m.weight.numel()
    >>> class Pair(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.b = nn.Bilinear(4, 4, 2)
    ...     def forward(self, x):
    ...         return self.b(x, x)
    >>> count(Pair(), (4,), counters={nn.Bilinear: bilinear})["flops"]
    32
    """
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
        if not input_shape:
            raise ValueError("input_shape: required (the model does not record one)")
    shape = tuple(input_shape)
    if not shape or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape
    ):
        raise ValueError(f"input_shape: must be positive integers, got {input_shape!r}")
    from .network import spec_name

    table = {**COUNTERS, **(counters or {})}

    spec_names = getattr(model, "names", None) if hasattr(model, "layers") else None
    records: list[tuple[str, nn.Module, tuple, tuple]] = []
    hooks = []
    for path, m in model.named_modules():
        if isinstance(m, XLayer) or (not any(True for _ in m.children()) and m is not model):
            label = spec_name(path, spec_names) if spec_names is not None else path

            def hook(mod, args, out, label=label):
                records.append((label, mod, _shape(args), _shape(out)))

            hooks.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _run(model, shape)
    except Exception as exc:
        raise ValueError(f"input_shape: the model cannot run on {list(shape)} ({exc})") from None
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    layers: list[LayerCount] = []
    seen: set[int] = set()
    for name, m, i, o in records:
        params, flops, dparams, dflops = _counter(m, table)(m, i, o)
        if id(m) in seen:
            params = dparams = 0
        seen.add(id(m))
        layers.append(LayerCount(name, _kind(m), i, o, params, flops, dparams, dflops))
    counted = {id(p) for m in model.modules() if id(m) in seen for p in m.parameters()}
    rest = sum(p.numel() for p in model.parameters() if id(p) not in counted)
    return {
        "input_shape": list(shape),
        "layers": [layer.to_dict() for layer in layers],
        "params": sum(layer.params for layer in layers) + rest,
        "flops": sum(layer.flops for layer in layers),
        "dense_params": sum(layer.dense_params for layer in layers) + rest,
        "dense_flops": sum(layer.dense_flops for layer in layers),
    }
