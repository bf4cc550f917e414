"""``@triton.jit`` helpers the kernels of :mod:`compiler.kernels` share (device side).

* :func:`row_tile`: the prologue of the row-tiled kernels (forward, input
  gradient): which block and which ``BLOCK_M`` rows a program owns, on a 1-d
  grid with the block index fastest;
* :func:`transposed_count`: the number of valid entries of a ``-1``-padded row
  of the transposed table (they form a prefix);
* :func:`dot_acc`: ``acc + a @ b`` in fp32, upcasting the operands first when
  the interpreter cannot multiply them (see :func:`compiler.kernels.launch.upcast_dot`).

Reference: the Triton language documentation (``triton.jit`` functions called
from kernels are inlined).
"""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["row_tile", "transposed_count", "dot_acc"]


@triton.jit
def row_tile(M, NB, BLOCK_M: tl.constexpr):
    """``(blk, rows, rmask)`` of this program: block ``pid % NB``, row tile ``pid // NB``."""
    pid = tl.program_id(0)
    blk = pid % NB
    rows = (pid // NB) * BLOCK_M + tl.arange(0, BLOCK_M)
    return blk, rows, rows < M


@triton.jit
def transposed_count(tidx_ptr, ib, T, T_POW2: tl.constexpr):
    """Valid (``>= 0``) entries of row ``ib`` of a ``(in_blocks, T)`` ``-1``-padded table."""
    toffs = tl.arange(0, T_POW2)
    trow = tl.load(tidx_ptr + ib * T + toffs, mask=toffs < T, other=-1)
    return tl.sum((trow >= 0).to(tl.int32), axis=0)


@triton.jit
def dot_acc(a, b, acc, PREC: tl.constexpr, UPCAST: tl.constexpr):
    """``acc + a @ b`` (fp32 accumulator), operands upcast to fp32 when ``UPCAST``."""
    if UPCAST:
        a = a.to(tl.float32)
        b = b.to(tl.float32)
    return tl.dot(a, b, acc, input_precision=PREC)
