"""Host-side launch machinery shared by the Triton kernels: configs, settings, validation.

Nothing here imports Triton, so layers can hold a :class:`TableCheck` and tests
can build :class:`LaunchConfig` objects on a machine without it.

State is explicit: the launch settings (config overrides and output poisoning,
for tests and tuning runs) are an immutable :class:`LaunchSettings` held in a
context variable, changed only inside :func:`launch_overrides` /
:func:`poison_outputs` blocks and read with :func:`launch_settings`; which
index tables have been verified is remembered by a :class:`TableCheck` object
its owner (a layer) keeps and passes in.

Reference: Triton tutorial 03 (matrix multiplication): tile sizes,
``num_warps`` and ``num_stages``; Python's :mod:`contextvars`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

import torch

from ..layout import as_pair

__all__ = [
    "BLOCK_SIZES",
    "DTYPES",
    "LaunchConfig",
    "LaunchSettings",
    "launch_settings",
    "launch_overrides",
    "poison_outputs",
    "empty",
    "interpreting",
    "next_power_of_2",
    "gemm_config",
    "reduce_config",
    "split_rows",
    "dot_precision",
    "upcast_dot",
    "TableCheck",
    "check_tables",
    "check_float",
    "check_device",
    "check_operands",
    "check_index_shape",
    "prepare_operands",
    "autocast_inputs",
    "kernel_pair",
]

#: Block sizes the kernels support (``tl.dot`` needs every dimension >= 16).
BLOCK_SIZES = (16, 32, 64)

#: Operand dtypes the kernels support (fp32 accumulation, output in the input dtype).
DTYPES = (torch.float32, torch.bfloat16, torch.float16)


# --------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class LaunchConfig:
    """Tile sizes and Triton launch options of one kernel call.

    ``block_m`` is the token tile (GEMM M; for the weight gradient, the token
    step of the reduction loop), a power of two >= 16 because ``tl.dot`` needs
    every dimension >= 16; ``split`` is the number of token splits of the
    weight-gradient reduction (``None``: heuristic).

    Reference: Triton tutorial 03 (matrix multiplication): tile sizes,
    ``num_warps`` and ``num_stages`` (software-pipelining depth).

    Examples
    --------
    >>> LaunchConfig(block_m=128, num_warps=8).num_stages
    3
    """

    block_m: int
    num_warps: int = 4
    num_stages: int = 3
    split: int | None = None

    def __post_init__(self):
        bm = self.block_m
        if not isinstance(bm, int) or bm < 16 or bm & (bm - 1):
            raise ValueError(f"LaunchConfig: block_m={bm!r} must be a power of two >= 16")
        if self.num_warps not in (1, 2, 4, 8, 16) or self.num_stages < 1:
            raise ValueError(
                f"LaunchConfig: num_warps={self.num_warps} must be a power of two <= 16 "
                f"and num_stages={self.num_stages} >= 1"
            )
        if self.split is not None and self.split < 1:
            raise ValueError(f"LaunchConfig: split={self.split} must be >= 1 or None")


@dataclass(frozen=True)
class LaunchSettings:
    """What the launchers read besides their arguments: config overrides and poisoning.

    ``overrides`` maps a kernel name (``fwd``, ``dx``, ``dw``, ``conv_fwd``,
    ``conv_dx``, ``conv_dw``) to the :class:`LaunchConfig` it must use;
    ``poison`` (``None``: off) is the value every buffer the kernels write is
    filled with first.  The defaults are the normal run.

    Examples
    --------
    >>> LaunchSettings().poison is None
    True
    """

    overrides: Mapping[str, LaunchConfig] = field(default_factory=dict)
    poison: float | None = None


_DEFAULT_SETTINGS = LaunchSettings()
_SETTINGS: contextvars.ContextVar[LaunchSettings | None] = contextvars.ContextVar(
    "xnets_launch_settings", default=None
)


def launch_settings() -> LaunchSettings:
    """The :class:`LaunchSettings` in force in this context (thread / task).

    Examples
    --------
    >>> with poison_outputs(1.0):
    ...     launch_settings().poison
    1.0
    >>> launch_settings().poison is None
    True
    """
    settings = _SETTINGS.get()
    return _DEFAULT_SETTINGS if settings is None else settings


@contextlib.contextmanager
def _settings(new: LaunchSettings) -> Iterator[LaunchSettings]:
    token = _SETTINGS.set(new)
    try:
        yield new
    finally:
        _SETTINGS.reset(token)


def launch_overrides(**configs: LaunchConfig) -> contextlib.AbstractContextManager:
    """Force launch configs by kernel name (``fwd``, ``dx``, ``dw``, ``conv_fwd``, ...).

    A context manager; nested blocks add to the outer overrides, and the
    settings are local to the thread (task).  Reference: Triton's
    ``triton.autotune`` does the same by benchmarking; this pins one config.

    Examples
    --------
    >>> with launch_overrides(dw=LaunchConfig(block_m=16, split=3)):
    ...     launch_settings().overrides["dw"].split
    3
    """
    for name, cfg in configs.items():
        if not isinstance(cfg, LaunchConfig):
            raise ValueError(f"launch_overrides: {name} must be a LaunchConfig, got {cfg!r}")
    cur = launch_settings()
    return _settings(replace(cur, overrides={**cur.overrides, **configs}))


def poison_outputs(value: float = float("nan")) -> contextlib.AbstractContextManager:
    """Fill every buffer the kernels write (outputs, gradients, partials) with ``value`` first.

    Lets a test prove that every element is written: an unwritten element
    keeps the poison (NaN propagates through the split-reduction sum).
    Reference: the output-poisoning check of FlashAttention's and Triton's
    kernel tests (outputs pre-filled, then compared elementwise).

    Examples
    --------
    >>> with poison_outputs():
    ...     bool(empty((2,), torch.float32, "cpu").isnan().all())
    True
    """
    return _settings(replace(launch_settings(), poison=float(value)))


def empty(shape, dtype: torch.dtype, device) -> torch.Tensor:
    """An output buffer: ``torch.empty``, or filled with the poison of :func:`poison_outputs`.

    Examples
    --------
    >>> tuple(empty((2, 3), torch.float32, "cpu").shape)
    (2, 3)
    """
    poison = launch_settings().poison
    if poison is None:
        return torch.empty(shape, dtype=dtype, device=device)
    return torch.full(shape, poison, dtype=dtype, device=device)


def interpreting() -> bool:
    """True when ``TRITON_INTERPRET`` is set: kernels then run on CPU tensors.

    Reference: Triton's debugging guide (the interpreter).

    Examples
    --------
    >>> isinstance(interpreting(), bool)
    True
    """
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def next_power_of_2(n: int) -> int:
    """The smallest power of two ``>= n`` (1 for ``n <= 1``), as ``triton.next_power_of_2``.

    Examples
    --------
    >>> next_power_of_2(5), next_power_of_2(16), next_power_of_2(0)
    (8, 16, 1)
    """
    return 1 << max(int(n) - 1, 0).bit_length()


def _num_sms(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 4


def _pick(name: str, cfg: LaunchConfig) -> LaunchConfig:
    return launch_settings().overrides.get(name, cfg)


def gemm_config(name: str, m: int, block: int, device: torch.device) -> LaunchConfig:
    """Heuristic launch config of the row-tiled kernels (forward, input gradient).

    GPU: token tile 128 (64 for small ``m``), 4 warps, 3 stages for ``block``
    64 and 4 stages below.  Interpreter: one tile of up to 64 rows (fewer,
    larger programs run faster in numpy).  An override for ``name`` wins.

    Examples
    --------
    >>> gemm_config("fwd", 20, 16, torch.device("cpu")).block_m
    32
    """
    if device.type != "cuda":
        bm = min(64, max(16, next_power_of_2(m)))
        return _pick(name, LaunchConfig(block_m=bm, num_warps=4, num_stages=1))
    bm = 128 if m >= 4096 else 64
    stages = 3 if block >= 64 else 4
    return _pick(name, LaunchConfig(block_m=bm, num_warps=4, num_stages=stages))


def reduce_config(name: str, m: int, edges: int, block: int, device: torch.device) -> LaunchConfig:
    """Heuristic launch config of the weight gradient (a reduction over ``m`` tokens).

    One program per edge block and token split; splits are added until there
    are about two programs per multiprocessor, keeping at least 8 token steps
    per split.  An explicit ``split`` in an override is honoured.

    Examples
    --------
    >>> reduce_config("dw", 1024, 1, 16, torch.device("cpu")).split  # 2 splits of 8 steps
    2
    """
    if device.type != "cuda":
        base = LaunchConfig(block_m=min(64, max(16, next_power_of_2(m))))
    else:
        base = LaunchConfig(block_m=64 if block >= 64 else 128, num_warps=4, num_stages=3)
    cfg = _pick(name, base)
    if cfg.split is None:
        want = math.ceil(2 * _num_sms(device) / max(edges, 1))
        most = max(1, m // (8 * cfg.block_m))
        cfg = replace(cfg, split=max(1, min(want, most)))
    return cfg


def split_rows(m: int, split: int, block_m: int) -> tuple[int, int]:
    """``(rows_per_split, splits)``: a multiple of ``block_m`` rows per split, no empty split.

    At most ``split`` splits; every token lies in exactly one.  Reference:
    split-K GEMM (CUTLASS "split-K serial/parallel" reductions).

    Examples
    --------
    >>> split_rows(70, 3, 16)
    (32, 3)
    """
    rows = max(block_m, math.ceil(math.ceil(m / max(split, 1)) / block_m) * block_m)
    return rows, max(1, math.ceil(m / rows))


def dot_precision(dtype: torch.dtype) -> str:
    """``tl.dot`` input precision: ``"ieee"`` for fp32 at ``highest`` matmul precision, else tf32.

    For 16-bit operands the value is ignored by Triton (tensor cores, fp32
    accumulate).  Reference: ``torch.set_float32_matmul_precision`` and
    ``tl.dot(input_precision=...)``.

    Examples
    --------
    >>> dot_precision(torch.bfloat16)
    'tf32'
    """
    if dtype == torch.float32 and torch.get_float32_matmul_precision() == "highest":
        return "ieee"
    return "tf32"


def upcast_dot(dtype: torch.dtype) -> bool:
    """Whether kernels must upcast bf16 ``tl.dot`` operands to fp32.

    True for bf16 under ``TRITON_INTERPRET=1``: the interpreter multiplies bf16
    bit patterns (Triton issue #11584); bf16 x bf16 products are exact in fp32.

    Examples
    --------
    >>> upcast_dot(torch.float32)
    False
    """
    return dtype == torch.bfloat16 and interpreting()


# --------------------------------------------------------------------------- validation
class TableCheck:
    """Remembers the last ELL table set it verified, so a layer verifies its tables once.

    :meth:`verify` checks ``index``/``t_index``/``t_slot`` in full (one device
    synchronisation) unless they are the very tensors, at the same versions
    (an in-place change bumps a tensor's version) and ``in_blocks``, it
    verified last.  A layer keeps one and passes it to every kernel call;
    without one, each call verifies.  A copy (``copy.deepcopy``, pickling)
    starts empty.

    Examples
    --------
    >>> idx, ti = torch.tensor([[1], [0]]), torch.tensor([[1], [0]])
    >>> ts = torch.zeros(2, 1, dtype=torch.long)
    >>> check = TableCheck()
    >>> check.verify(idx, ti, ts, 2, "demo")
    >>> check.verified(idx, ti, ts, 2)
    True
    """

    def __init__(self) -> None:
        self._refs: tuple = ()
        self._key: tuple = ()

    def __reduce__(self):
        # copies and pickles of a layer start unverified (weak references do not copy)
        return (TableCheck, ())

    @staticmethod
    def _key_of(index, t_index, t_slot, in_blocks: int) -> tuple:
        return (index._version, t_index._version, t_slot._version, int(in_blocks))

    def verified(self, index, t_index, t_slot, in_blocks: int) -> bool:
        """True when exactly these tensors, unchanged, were verified last."""
        tensors = (index, t_index, t_slot)
        return (
            len(self._refs) == 3
            and all(r() is t for r, t in zip(self._refs, tensors))
            and self._key == self._key_of(index, t_index, t_slot, in_blocks)
        )

    def verify(self, index, t_index, t_slot, in_blocks: int, what: str) -> None:
        """Raise ``ValueError`` unless the tables are consistent (see :func:`check_tables`)."""
        if self.verified(index, t_index, t_slot, in_blocks):
            return
        _verify_tables(index.long(), t_index.long(), t_slot.long(), in_blocks, what)
        self._refs = tuple(weakref.ref(t) for t in (index, t_index, t_slot))
        self._key = self._key_of(index, t_index, t_slot, in_blocks)


def _as_table(t, name: str, what: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"{what}: {name} must be a 2-d int32/int64 tensor")
    return t


def check_tables(
    index: torch.Tensor,
    t_index: torch.Tensor,
    t_slot: torch.Tensor,
    in_blocks: int,
    what: str,
    table_check: TableCheck | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate the ELL tables; return contiguous copies.

    Checks: ``0 <= index < in_blocks``; ``t_index``/``t_slot`` are
    ``(in_blocks, T)``, valid entries (``>= 0``) form a prefix of each row,
    padding is ``-1`` in both, and the valid pairs are exactly the transpose
    of ``index`` (every ``(ob, k)`` once, ``index[ob, k] == row``).  The
    content check synchronises the device; with a ``table_check`` it runs once
    per table set, not per call.

    Examples
    --------
    >>> t = torch.tensor([[0]])
    >>> check_tables(t, t, t, 2, "demo")
    Traceback (most recent call last):
    ValueError: demo: t_index and t_slot must both be (2, T>=1), got (1, 1) and (1, 1)
    """
    for name, t in (("index", index), ("t_index", t_index), ("t_slot", t_slot)):
        _as_table(t, name, what)
    out_blocks, d = index.shape
    if d < 1 or out_blocks < 1:
        raise ValueError(f"{what}: index must have at least one row and one column, got {d}")
    if t_index.shape != t_slot.shape or t_index.shape[0] != in_blocks or t_index.shape[1] < 1:
        raise ValueError(
            f"{what}: t_index and t_slot must both be ({in_blocks}, T>=1), "
            f"got {tuple(t_index.shape)} and {tuple(t_slot.shape)}"
        )
    if not (index.device == t_index.device == t_slot.device):
        raise ValueError(f"{what}: index, t_index and t_slot must be on one device")
    (table_check or TableCheck()).verify(index, t_index, t_slot, in_blocks, what)
    return index.contiguous(), t_index.contiguous(), t_slot.contiguous()


def _verify_tables(index, t_index, t_slot, in_blocks: int, what: str) -> None:
    out_blocks, d = index.shape
    if bool((index < 0).any() | (index >= in_blocks).any()):
        raise ValueError(f"{what}: index entries must lie in 0..{in_blocks - 1}")
    valid = t_index >= 0
    if bool((valid != (t_slot >= 0)).any()):
        raise ValueError(f"{what}: t_index and t_slot must have -1 padding in the same places")
    if bool((valid[:, 1:] & ~valid[:, :-1]).any()):
        raise ValueError(f"{what}: t_index padding (-1) must come after the valid entries")
    ob = t_index[valid]
    k = t_slot[valid]
    rows = torch.arange(in_blocks, device=index.device)[:, None].expand_as(t_index)[valid]
    ok = ob.numel() == out_blocks * d
    if ok:
        in_range = bool(((ob < out_blocks) & (k < d)).all())
        ok = in_range and bool(
            (index[ob.clamp(max=out_blocks - 1), k.clamp(max=d - 1)] == rows).all()
        )
        ok = ok and torch.unique(ob * d + k).numel() == out_blocks * d
    if not ok:
        raise ValueError(f"{what}: t_index/t_slot are not the transpose of index (transpose_ell)")


def check_float(t: torch.Tensor, name: str, what: str) -> None:
    """Refuse a tensor whose dtype is not one of :data:`DTYPES`.

    Examples
    --------
    >>> check_float(torch.zeros(1, dtype=torch.int32), "x", "demo")
    Traceback (most recent call last):
    ValueError: demo: x dtype must be float32, bfloat16 or float16, got torch.int32
    """
    if t.dtype not in DTYPES:
        raise ValueError(
            f"{what}: {name} dtype must be float32, bfloat16 or float16, got {t.dtype}"
        )


def check_device(x: torch.Tensor, what: str) -> None:
    """Refuse ``x`` unless it is on CUDA, or on the CPU under ``TRITON_INTERPRET=1``.

    Examples
    --------
    >>> check_device(torch.zeros(1, device="meta"), "demo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: demo: x is on meta; the Triton kernels need CUDA tensors ...
    """
    if x.device.type == "cuda":
        return
    if x.device.type == "cpu" and interpreting():
        return
    raise ValueError(
        f"{what}: x is on {x.device}; the Triton kernels need CUDA tensors "
        "(or TRITON_INTERPRET=1 for CPU tensors)"
    )


def autocast_inputs(*tensors, device_type: str) -> tuple:
    """Cast floating tensors to the autocast dtype when autocast is on (as ``F.linear`` does).

    Examples
    --------
    >>> autocast_inputs(torch.zeros(1), None, device_type="cpu")[1] is None
    True
    """
    if not hasattr(torch, "get_autocast_dtype") or not torch.is_autocast_enabled(device_type):
        return tensors
    dt = torch.get_autocast_dtype(device_type)
    return tuple(t.to(dt) if t is not None and t.is_floating_point() else t for t in tensors)


def check_operands(
    x: torch.Tensor, weight: torch.Tensor, index: torch.Tensor, ndim: int, what: str
) -> int:
    """The shape checks both kernels share; returns the block size.

    ``x`` and ``weight`` must be tensors; ``weight`` ``ndim``-d ``(out_blocks,
    D, block, block, ...)`` with ``block`` in :data:`BLOCK_SIZES` and its first
    two dimensions those of ``index``.  The width of ``x`` is the caller's to
    check (its axis differs).

    Examples
    --------
    >>> idx = torch.zeros(1, 1, dtype=torch.long)
    >>> check_operands(torch.zeros(2, 8), torch.zeros(1, 1, 8, 8), idx, 4, "demo")
    Traceback (most recent call last):
    ValueError: demo: block=8 must be 16, 32 or 64 (tl.dot needs >= 16)
    """
    if not isinstance(x, torch.Tensor) or not isinstance(weight, torch.Tensor):
        raise ValueError(f"{what}: x and weight must be tensors")
    shape = "(out_blocks, D, block, block" + ", kh, kw" * (ndim == 6) + ")"
    if weight.dim() != ndim or weight.shape[2] != weight.shape[3]:
        raise ValueError(f"{what}: weight must be {shape}, got {tuple(weight.shape)}")
    block = int(weight.shape[2])
    if block not in BLOCK_SIZES:
        raise ValueError(f"{what}: block={block} must be 16, 32 or 64 (tl.dot needs >= 16)")
    return block


def check_index_shape(weight: torch.Tensor, index: torch.Tensor, what: str) -> None:
    """Refuse an ``index`` whose shape is not the weight's ``(out_blocks, D)``.

    Examples
    --------
    >>> check_index_shape(torch.zeros(2, 1, 16, 16), torch.zeros(1, 1), "demo")
    Traceback (most recent call last):
    ValueError: demo: weight (2, 1, 16, 16) does not match index (1, 1)
    """
    if not isinstance(index, torch.Tensor) or tuple(weight.shape[:2]) != tuple(index.shape):
        got = tuple(index.shape) if isinstance(index, torch.Tensor) else type(index).__name__
        raise ValueError(f"{what}: weight {tuple(weight.shape)} does not match index {got}")


def prepare_operands(
    x: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    bias: torch.Tensor | None,
    what: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Device, autocast and dtype checks both kernels share; returns ``(x, weight, bias)``.

    ``x`` on a kernel device (:func:`check_device`); under autocast the
    operands are cast first; then ``x``, ``weight`` and ``bias`` must share one
    dtype of :data:`DTYPES` and one device with ``index``, and ``bias`` be
    ``(out_blocks*block,)``.

    Examples
    --------
    >>> w = torch.zeros(1, 1, 16, 16)
    >>> idx = torch.zeros(1, 1, dtype=torch.long)
    >>> prepare_operands(torch.zeros(2, 16), w, idx, torch.zeros(3), "demo")
    Traceback (most recent call last):
    ValueError: demo: bias must be (16,), got (3,)
    """
    check_device(x, what)
    x, weight, bias = autocast_inputs(x, weight, bias, device_type=x.device.type)
    check_float(x, "x", what)
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise ValueError(f"{what}: weight and bias dtype must equal x dtype {x.dtype}")
    if weight.device != x.device or index.device != x.device:
        raise ValueError(f"{what}: x, weight and the tables must be on one device")
    out = weight.shape[0] * weight.shape[2]
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != out):
        raise ValueError(f"{what}: bias must be ({out},), got {tuple(bias.shape)}")
    return x, weight, bias


def kernel_pair(value: object, name: str, least: int, what: str) -> tuple[int, int]:
    """:func:`compiler.layout.as_pair` with the kernel's name in the message.

    Examples
    --------
    >>> kernel_pair((2, 1), "stride", 1, "xconv2d_triton")
    (2, 1)
    """
    try:
        return as_pair(value, name, least)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
