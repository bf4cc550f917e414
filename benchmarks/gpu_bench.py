"""GPU benchmark of the block-sparse Triton kernels against their peers, in one call.

Run on a CUDA machine (an H200 here):

    python3 benchmarks/gpu_bench.py [--out benchmarks/results/gpu_bench.json]

Smoke mode (tiny shapes; on a machine without CUDA it runs the Triton
interpreter on the CPU, so it only proves that the script executes):

    python3 benchmarks/gpu_bench.py --smoke

Compile check (no GPU needed): compile every kernel for sm_90 with the
``ptxas`` that Triton ships, and print shared memory and whether the PTX uses
``wgmma`` (Hopper tensor cores) or ``mma.sync``:

    python3 benchmarks/gpu_bench.py --compile-check

What it does, in this order:

1. Names the GPU, torch, Triton and CUDA versions, and measures two ceilings:
   device-to-device copy bandwidth and a bf16 8192^3 matrix product.
2. For every case, checks each variant against the masked reference (fp32
   math, TF32 off) on fresh random inputs, never zeros: output and, for the
   Triton kernels, the x / weight / bias gradients.
3. Times each variant with the median of ``triton.testing.do_bench``, rotating
   among several input buffers.
   * XLinear, bf16, 16,384 tokens, widths 2048/4096/8192, densities 1/4, 1/8,
     1/16, blocks 32 and 64: Triton forward and forward+backward; peers dense
     cuBLAS (``F.linear``), dense with a mask (weight * mask, as the paper's
     released code), torch BSR forward (``F.linear`` with ``to_sparse_bsr``)
     and the gather backend (``compiler.functional``, backend="gather"; a
     local index_select + batched matmul when that module is missing).
   * XConv2d, bf16, N=64, C=256 and 512, 32x32 and 16x16, 3x3, padding 1,
     densities 1/4 and 1/8, block 32: Triton forward and forward+backward;
     peers dense cuDNN (channels-last), masked dense and gather (index_select
     + grouped convolution).
4. A small launch-config sweep (token tile, warps, stages) at width 4096,
   density 1/8, for tuning the heuristics in ``compiler/kernels/linear.py``.
5. Prints a table with the roofline arithmetic and writes JSON.

Roofline: for each case, ``FLOPs`` are the multiply-adds of the non-zero
weights (x2), ``bytes`` the fewest bytes each kernel must move (its inputs
read once, its outputs written once: forward x, W -> y; input gradient dy, W
-> dx; weight gradient dy, x -> dW).  The floor is ``max(FLOPs / peak, bytes /
bandwidth)`` with the measured ceilings (the JSON also gives the forward's
x-tile reads, ``tokens * out_blocks * D * block`` elements, mostly served by
L2: each x tile is read once per output block that uses it) (datasheet H200: ~4.8 TB/s HBM3e,
~790 TFLOP/s dense bf16 measured here).  The issue's goal for width >= 4096:
forward+backward speedup over dense >= 0.8 * min(1/density, dense time /
sparse floor), and faster than torch BSR forward at every density.

The whole run is bounded by ``--budget`` seconds (default 270): cases left
when it runs out are listed as skipped, never silently dropped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASHEET_BW = 4.8e12  # bytes/s, H200 HBM3e
DATASHEET_BF16 = 790e12  # FLOP/s, dense bf16 matrix rate measured on an H200 here


# ----------------------------------------------------------------------------- setup
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny shapes; interpreter without CUDA")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")
    p.add_argument("--budget", type=float, default=270.0, help="seconds for the whole run")
    p.add_argument("--compile-check", action="store_true", help="compile for sm_90 and exit")
    p.add_argument("--no-tune", action="store_true", help="skip the launch-config sweep")
    p.add_argument("--rotate", type=int, default=3, help="input buffers rotated while timing")
    return p.parse_args(argv)


ARGS = parse_args()
CUDA = torch.cuda.is_available()
if ARGS.compile_check:
    os.environ.pop("TRITON_INTERPRET", None)
if ARGS.smoke and not CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")
if not CUDA and not ARGS.smoke and not ARGS.compile_check:
    sys.exit("gpu_bench.py: no CUDA device; run with --smoke to check the script on the CPU")

import triton  # noqa: E402

from compiler.kernels import linear as KL  # noqa: E402
from compiler.kernels import xconv2d_triton, xlinear_triton  # noqa: E402
from compiler.layout import dense_weight, packed_weight, transpose_ell  # noqa: E402

DEV = torch.device("cuda" if CUDA else "cpu")
DTYPE = torch.bfloat16
T0 = time.perf_counter()
SKIPPED: list[str] = []


def elapsed() -> float:
    return time.perf_counter() - T0


def over_budget(what: str) -> bool:
    if elapsed() > ARGS.budget:
        SKIPPED.append(f"{what}: time budget of {ARGS.budget:.0f} s spent")
        print(f"  skipped {what} (budget)", flush=True)
        return True
    return False


def sync():
    if CUDA:
        torch.cuda.synchronize()


def bench(fn) -> float:
    """Median milliseconds: do_bench on CUDA; on CPU (smoke) a perf_counter median of 3."""
    if CUDA:
        return float(triton.testing.do_bench(fn, warmup=10, rep=40, return_mode="median"))
    fn()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


class Rotor:
    """Cycle through several input buffer sets so that timing never reuses one in L2."""

    def __init__(self, sets):
        self.sets = sets
        self.i = 0

    def next(self):
        self.i = (self.i + 1) % len(self.sets)
        return self.sets[self.i]


def rel_err(actual, expected) -> float:
    a, e = actual.detach().float(), expected.detach().float()
    err = float((a - e).norm() / e.norm().clamp_min(1e-30))
    return err if math.isfinite(err) else float("inf")


def random_tables(in_blocks, out_blocks, d, seed):
    """The paper's random left-regular graph on blocks, plus its transposed tables."""
    rng = np.random.default_rng(seed)
    idx = np.stack([np.sort(rng.choice(in_blocks, d, replace=False)) for _ in range(out_blocks)])
    ti, ts, _ = transpose_ell(idx, in_blocks)
    return tuple(torch.as_tensor(a, device=DEV) for a in (idx, ti, ts))


def measure_ceilings() -> dict:
    if not CUDA:
        return {"copy_bytes_per_s": None, "bf16_flops": None}
    src = torch.empty(1 << 29, dtype=DTYPE, device=DEV).normal_()  # 1 GiB each way
    dst = torch.empty_like(src)
    copy_ms = bench(lambda: dst.copy_(src))
    bw = 2 * src.numel() * src.element_size() / (copy_ms * 1e-3)
    a = torch.randn(8192, 8192, dtype=DTYPE, device=DEV)
    b = torch.randn(8192, 8192, dtype=DTYPE, device=DEV)
    mm_ms = bench(lambda: a @ b)
    return {"copy_bytes_per_s": bw, "bf16_flops": 2 * 8192**3 / (mm_ms * 1e-3)}


def gather_impls():
    """Prefer the project's gather backend (``compiler.functional``, backend="gather")."""
    try:
        import compiler.functional as cf

        def lin(x, w, idx, bias):
            return cf.xlinear(x, w, idx, bias, backend="gather")

        def conv(x, w, idx, bias):
            return cf.xconv2d(x, w, idx, bias, backend="gather", padding=1)

        return lin, conv
    except Exception as exc:  # not written yet, or failing to import
        print(f"compiler.functional unavailable ({exc}); using the local gather", flush=True)
        return None, None


def local_gather_linear(x, w, idx, bias):
    """index_select the neighbour blocks, then one batched matmul per output block."""
    m = x.shape[0]
    ob, d, b, _ = w.shape
    xg = x.view(m, -1, b)[:, idx.reshape(-1)].view(m, ob, d * b).transpose(0, 1)
    wg = w.permute(0, 2, 1, 3).reshape(ob, b, d * b)
    y = torch.bmm(xg, wg.transpose(1, 2)).transpose(0, 1).reshape(m, ob * b)
    return y if bias is None else y + bias


def local_gather_conv(x, w, idx, bias, padding):
    """index_select the neighbour channels, then a grouped convolution (groups = out_blocks)."""
    ob, d, b, _, kh, kw = w.shape
    ch = (idx[:, :, None] * b + torch.arange(b, device=idx.device)).reshape(-1)
    wg = w.permute(0, 2, 1, 3, 4, 5).reshape(ob * b, d * b, kh, kw)
    return F.conv2d(x.index_select(1, ch), wg, bias, padding=padding, groups=ob)


# ----------------------------------------------------------------------------- roofline
def roofline(flops_fwd, bytes_fwd, bytes_bwd, ceil) -> dict:
    bw = ceil.get("copy_bytes_per_s") or DATASHEET_BW
    peak = ceil.get("bf16_flops") or DATASHEET_BF16
    t_fwd = max(flops_fwd / peak, bytes_fwd / bw)
    t_fb = max(3 * flops_fwd / peak, (bytes_fwd + bytes_bwd) / bw)
    return {
        "flops_fwd": flops_fwd,
        "bytes_fwd": bytes_fwd,
        "bytes_fwdbwd": bytes_fwd + bytes_bwd,
        "intensity_fwd": flops_fwd / bytes_fwd,
        "floor_fwd_ms": t_fwd * 1e3,
        "floor_fwdbwd_ms": t_fb * 1e3,
        "bound_fwd": "memory" if bytes_fwd / bw > flops_fwd / peak else "compute",
        "bound_fwdbwd": "memory"
        if (bytes_fwd + bytes_bwd) / bw > 3 * flops_fwd / peak
        else "compute",
        "bandwidth_used": bw,
        "peak_used": peak,
    }


# ----------------------------------------------------------------------------- XLinear
def linear_case(width, density, block, tokens, ceil, gather_lin, dense_cache) -> dict:
    in_blocks = out_blocks = width // block
    d = max(1, round(in_blocks * density))
    case = {"width": width, "density": density, "block": block, "tokens": tokens, "degree": d}
    idx, ti, ts = random_tables(in_blocks, out_blocks, d, seed=width + block + d)
    scale = 1.0 / math.sqrt(d * block)
    w = (torch.randn(out_blocks, d, block, block, device=DEV) * scale).to(DTYPE)
    bias = torch.randn(width, device=DEV).to(DTYPE)
    wd = dense_weight(w, idx, width)  # masked dense weight (out, in)
    mask = (wd != 0).to(DTYPE)
    xs = [torch.randn(tokens, width, device=DEV, dtype=DTYPE) for _ in range(ARGS.rotate)]
    gs = [torch.randn(tokens, width, device=DEV, dtype=DTYPE) for _ in range(ARGS.rotate)]

    # ---- correctness on fresh random inputs (fp32 masked reference, TF32 off)
    x = torch.randn(tokens, width, device=DEV, dtype=DTYPE).requires_grad_()
    wq = w.clone().requires_grad_()
    bq = bias.clone().requires_grad_()
    g = torch.randn(tokens, width, device=DEV, dtype=DTYPE)
    with KL.poison_outputs(float("nan")):
        y = xlinear_triton(x, wq, idx, ti, ts, bq)
        gx, gw, gb = torch.autograd.grad(y, [x, wq, bq], g)
    xf, wdf, gf = x.detach().float(), wd.float(), g.float()
    yr = F.linear(xf, wdf, bias.float())
    errs = {
        "triton_y": rel_err(y, yr),
        "triton_dx": rel_err(gx, gf @ wdf),
        "triton_dw": rel_err(gw, packed_weight(gf.T @ xf, idx, block)),
        "triton_db": rel_err(gb, gf.sum(0)),
        "masked_y": rel_err(F.linear(x.detach(), wd * mask, bias), yr),
    }
    del gx, gw, gb, y
    gather = gather_lin or local_gather_linear
    gathered_bytes = tokens * out_blocks * d * block * 2
    do_gather = gather_lin is not None or gathered_bytes <= 4e9  # local one materialises it
    if do_gather:
        errs["gather_y"] = rel_err(gather(x.detach(), w, idx, bias), yr)
    else:
        case["gather_skipped"] = f"gathered tensor {gathered_bytes / 1e9:.1f} GB > 4 GB"
    wbsr = None
    try:
        wbsr = wd.to_sparse_bsr((block, block))
        errs["bsr_y"] = rel_err(F.linear(x.detach(), wbsr, bias), yr)
    except Exception as exc:  # torch BSR lacks some dtype/device/block combinations
        case["bsr_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        wbsr = None
    del yr, xf, gf, x
    case["rel_err"] = errs
    case["correct"] = all(v < 3e-2 for v in errs.values())

    # ---- timing (median of do_bench, rotating input buffers)
    rot = Rotor(list(zip(xs, gs)))
    ms = {}
    ms["triton_fwd"] = bench(lambda: xlinear_triton(rot.next()[0], w, idx, ti, ts, bias))
    wt, bt = w.clone().requires_grad_(), bias.clone().requires_grad_()

    def triton_fb():
        xb, gb_ = rot.next()
        xb = xb.detach().requires_grad_()
        y_ = xlinear_triton(xb, wt, idx, ti, ts, bt)
        return torch.autograd.grad(y_, [xb, wt, bt], gb_)

    ms["triton_fwdbwd"] = bench(triton_fb)
    if width not in dense_cache:
        wfull = (torch.randn(width, width, device=DEV) * width**-0.5).to(DTYPE).requires_grad_()
        bfull = bias.clone().requires_grad_()
        fwd = bench(lambda: F.linear(rot.next()[0], wfull, bfull))

        def dense_fb():
            xb, gb_ = rot.next()
            xb = xb.detach().requires_grad_()
            return torch.autograd.grad(F.linear(xb, wfull, bfull), [xb, wfull, bfull], gb_)

        dense_cache[width] = (fwd, bench(dense_fb))
        del wfull, bfull
    ms["dense_fwd"], ms["dense_fwdbwd"] = dense_cache[width]
    wm = wd.clone().requires_grad_()
    ms["masked_fwd"] = bench(lambda: F.linear(rot.next()[0], wm * mask, bias))

    def masked_fb():
        xb, gb_ = rot.next()
        xb = xb.detach().requires_grad_()
        return torch.autograd.grad(F.linear(xb, wm * mask, bias), [xb, wm], gb_)

    ms["masked_fwdbwd"] = bench(masked_fb)
    if wbsr is not None:
        ms["bsr_fwd"] = bench(lambda: F.linear(rot.next()[0], wbsr, bias))
    if do_gather:
        wg = w.clone().requires_grad_()
        ms["gather_fwd"] = bench(lambda: gather(rot.next()[0], w, idx, bias))

        def gather_fb():
            xb, gb_ = rot.next()
            xb = xb.detach().requires_grad_()
            return torch.autograd.grad(gather(xb, wg, idx, bias), [xb, wg], gb_)

        ms["gather_fwdbwd"] = bench(gather_fb)
    case["ms"] = ms

    # ---- roofline arithmetic
    nnz = out_blocks * d * block * block
    flops = 2.0 * tokens * nnz
    act = tokens * width * 2  # one bf16 activation matrix, bytes
    bytes_fwd = 2 * act + nnz * 2 + width * 2
    bytes_bwd = 4 * act + nnz * 2 * 2  # dx: dy, W -> dx; dW: dy, x -> dW
    roof = roofline(flops, bytes_fwd, bytes_bwd, ceil)
    dense_roof = roofline(flops / density, 2 * act + width * width * 2, 4 * act, ceil)
    speed_fb = ms["dense_fwdbwd"] / ms["triton_fwdbwd"]
    bound = min(1 / density, ms["dense_fwdbwd"] / roof["floor_fwdbwd_ms"])
    # x tiles are re-read once per (output block, neighbour): L2 traffic of the forward
    roof["x_tile_reads_bytes_fwd"] = tokens * out_blocks * d * block * 2
    case["roofline"] = roof
    case["dense_floor_fwdbwd_ms"] = dense_roof["floor_fwdbwd_ms"]
    case["speedup_fwd"] = ms["dense_fwd"] / ms["triton_fwd"]
    case["speedup_fwdbwd"] = speed_fb
    case["goal_fwdbwd"] = 0.8 * bound
    case["vs_bsr_fwd"] = ms["bsr_fwd"] / ms["triton_fwd"] if "bsr_fwd" in ms else None
    case["meets_goal"] = bool(
        width >= 4096
        and speed_fb >= case["goal_fwdbwd"]
        and (case["vs_bsr_fwd"] is None or case["vs_bsr_fwd"] > 1)
    )
    case["pct_of_floor_fwd"] = 100 * roof["floor_fwd_ms"] / ms["triton_fwd"]
    case["pct_of_floor_fwdbwd"] = 100 * roof["floor_fwdbwd_ms"] / ms["triton_fwdbwd"]
    return case


# ----------------------------------------------------------------------------- XConv2d
def conv_case(n, channels, hw, density, block, ceil, gather_conv) -> dict:
    blocks = channels // block
    d = max(1, round(blocks * density))
    case = {
        "N": n,
        "C": channels,
        "HW": hw,
        "k": 3,
        "density": density,
        "block": block,
        "degree": d,
    }
    idx, ti, ts = random_tables(blocks, blocks, d, seed=channels + hw + d)
    scale = 1.0 / math.sqrt(d * block * 9)
    w = (torch.randn(blocks, d, block, block, 3, 3, device=DEV) * scale).to(DTYPE)
    bias = torch.randn(channels, device=DEV).to(DTYPE)
    wd = dense_weight(w, idx, channels)
    mask = (wd != 0).to(DTYPE)
    cl = torch.channels_last

    def rnd():
        return torch.randn(n, channels, hw, hw, device=DEV, dtype=DTYPE).to(memory_format=cl)

    xs = [rnd() for _ in range(ARGS.rotate)]
    gs = [rnd() for _ in range(ARGS.rotate)]

    x = rnd().requires_grad_()
    wq, bq = w.clone().requires_grad_(), bias.clone().requires_grad_()
    g = rnd()
    with KL.poison_outputs(float("nan")):
        y = xconv2d_triton(x, wq, idx, ti, ts, bq, 1, 1, 1)
        gx, gw, gb = torch.autograd.grad(y, [x, wq, bq], g)
    old_tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        xf = x.detach().float().requires_grad_()
        wdf = wd.float().requires_grad_()
        yr = F.conv2d(xf, wdf, bias.float(), padding=1)
        rx, rw = torch.autograd.grad(yr, [xf, wdf], g.float())
    finally:
        torch.backends.cudnn.allow_tf32 = old_tf32
    gather = gather_conv or (lambda x_, w_, i_, b_: local_gather_conv(x_, w_, i_, b_, 1))
    errs = {
        "triton_y": rel_err(y, yr),
        "triton_dx": rel_err(gx, rx),
        "triton_dw": rel_err(gw, packed_weight(rw, idx, block)),
        "triton_db": rel_err(gb, g.float().sum((0, 2, 3))),
        "masked_y": rel_err(F.conv2d(x.detach(), wd * mask, bias, padding=1), yr),
        "gather_y": rel_err(gather(x.detach(), w, idx, bias), yr),
    }
    del y, gx, gw, gb, yr, rx, rw, xf, x
    case["rel_err"] = errs
    case["correct"] = all(v < 3e-2 for v in errs.values())

    rot = Rotor(list(zip(xs, gs)))
    ms = {}
    ms["triton_fwd"] = bench(lambda: xconv2d_triton(rot.next()[0], w, idx, ti, ts, bias, 1, 1, 1))
    wt, bt = w.clone().requires_grad_(), bias.clone().requires_grad_()

    def triton_fb():
        xb, gb_ = rot.next()
        xb = xb.detach().requires_grad_()
        y_ = xconv2d_triton(xb, wt, idx, ti, ts, bt, 1, 1, 1)
        return torch.autograd.grad(y_, [xb, wt, bt], gb_)

    ms["triton_fwdbwd"] = bench(triton_fb)
    wfull = (torch.randn(channels, channels, 3, 3, device=DEV) * scale).to(DTYPE)
    wfull = wfull.to(memory_format=cl).requires_grad_()
    ms["dense_fwd"] = bench(lambda: F.conv2d(rot.next()[0], wfull, bias, padding=1))

    def dense_fb():
        xb, gb_ = rot.next()
        xb = xb.detach().requires_grad_()
        return torch.autograd.grad(F.conv2d(xb, wfull, bias, padding=1), [xb, wfull], gb_)

    ms["dense_fwdbwd"] = bench(dense_fb)
    wm = wd.clone().requires_grad_()
    ms["masked_fwd"] = bench(lambda: F.conv2d(rot.next()[0], wm * mask, bias, padding=1))

    def masked_fb():
        xb, gb_ = rot.next()
        xb = xb.detach().requires_grad_()
        return torch.autograd.grad(F.conv2d(xb, wm * mask, bias, padding=1), [xb, wm], gb_)

    ms["masked_fwdbwd"] = bench(masked_fb)
    wg = w.clone().requires_grad_()
    ms["gather_fwd"] = bench(lambda: gather(rot.next()[0], w, idx, bias))

    def gather_fb():
        xb, gb_ = rot.next()
        xb = xb.detach().requires_grad_()
        return torch.autograd.grad(gather(xb, wg, idx, bias), [xb, wg], gb_)

    ms["gather_fwdbwd"] = bench(gather_fb)
    case["ms"] = ms

    nnz = blocks * d * block * block * 9
    pix = n * hw * hw
    flops = 2.0 * pix * nnz
    act = pix * channels * 2
    roof = roofline(flops, 2 * act + nnz * 2, 4 * act + 4 * nnz, ceil)
    case["roofline"] = roof
    case["speedup_fwd"] = ms["dense_fwd"] / ms["triton_fwd"]
    case["speedup_fwdbwd"] = ms["dense_fwdbwd"] / ms["triton_fwdbwd"]
    case["pct_of_floor_fwd"] = 100 * roof["floor_fwd_ms"] / ms["triton_fwd"]
    case["pct_of_floor_fwdbwd"] = 100 * roof["floor_fwdbwd_ms"] / ms["triton_fwdbwd"]
    return case


# ----------------------------------------------------------------------------- tuning sweep
def tune(width, density, blocks, tokens) -> list[dict]:
    rows = []
    grid_mm = [(64, 4, 3), (128, 4, 3), (128, 4, 4), (128, 8, 3), (256, 8, 3)]
    grid_dw = [(64, 4, 3), (128, 4, 3), (128, 8, 4)]
    if not CUDA:
        grid_mm, grid_dw = [(16, 4, 1), (32, 4, 1)], [(16, 4, 1)]
    for block in blocks:
        if over_budget(f"tune block {block}"):
            break
        in_blocks = width // block
        d = max(1, round(in_blocks * density))
        idx, ti, ts = random_tables(in_blocks, in_blocks, d, seed=7)
        w = (torch.randn(in_blocks, d, block, block, device=DEV) / math.sqrt(d * block)).to(DTYPE)
        xs = [torch.randn(tokens, width, device=DEV, dtype=DTYPE) for _ in range(ARGS.rotate)]
        rot = Rotor(xs)
        calls = {
            "fwd": lambda rot=rot, w=w, idx=idx: KL._fwd(rot.next(), w, idx, None, 0, False),
            "dx": lambda rot=rot, w=w, ti=ti, ts=ts, n=in_blocks: KL._dx(rot.next(), w, ti, ts, n),
            "dw": lambda rot=rot, x=xs[0], w=w, idx=idx: KL._dw(
                rot.next(), x, idx, w.shape, w.dtype
            ),
        }
        for kernel, grid in (("fwd", grid_mm), ("dx", grid_mm), ("dw", grid_dw)):
            for bm, warps, stages in grid:
                if over_budget(f"tune {kernel} B={block} {bm}/{warps}/{stages}"):
                    continue
                cfg = KL.LaunchConfig(block_m=bm, num_warps=warps, num_stages=stages)
                try:
                    with KL.launch_overrides(**{kernel: cfg}):
                        t = bench(calls[kernel])
                    err = None
                except Exception as exc:  # e.g. out of shared memory for a large tile
                    t, err = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                rows.append(
                    {
                        "kernel": kernel,
                        "block": block,
                        "block_m": bm,
                        "num_warps": warps,
                        "num_stages": stages,
                        "ms": t,
                        "error": err,
                    }
                )
    return rows


# ----------------------------------------------------------------------------- compile check
def compile_check() -> int:
    """Compile each kernel for sm_90 without a GPU; print shared memory and MMA flavour."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from compiler.kernels import conv as KC

    target = GPUTarget("cuda", 90, 32)
    failures = 0
    for dt, blocks in (("bf16", (32, 64)), ("fp16", (64,)), ("fp32", (32,))):
        for block in blocks:
            common = {"BLOCK": block, "BLOCK_M": 128, "UPCAST": False}
            common["PREC"] = "ieee" if dt == "fp32" else "tf32"
            kernels = [
                (
                    "linear fwd",
                    KL._xlinear_fwd_kernel,
                    {"HAS_BIAS": True, "ACT": 2, "STORE_Z": True},
                ),
                ("linear dx", KL._xlinear_dx_kernel, {"T_POW2": 16}),
                ("linear dw", KL._xlinear_dw_kernel, {}),
                ("conv fwd", KC._xconv_fwd_kernel, {"KH": 3, "KW": 3, "HAS_BIAS": True}),
                ("conv dx", KC._xconv_dx_kernel, {"KH": 3, "KW": 3, "T_POW2": 16}),
                ("conv dw", KC._xconv_dw_kernel, {"KH": 3, "KW": 3}),
            ]
            for name, kernel, extra in kernels:
                consts = dict(common, **extra)
                sig = {}
                for arg in kernel.arg_names:
                    if arg in consts:
                        sig[arg] = "constexpr"
                    elif arg in ("idx_ptr", "tidx_ptr", "tslot_ptr"):
                        sig[arg] = "*i64"
                    elif arg == "dw_ptr":
                        sig[arg] = "*fp32"
                    elif arg.endswith("_ptr"):
                        sig[arg] = f"*{dt}"
                    else:
                        sig[arg] = "i32"
                # as the JIT would specialise real calls: 16-aligned pointers and strides
                aligned = [
                    (i,)
                    for i, arg in enumerate(kernel.arg_names)
                    if arg.endswith("_ptr") or arg.startswith("stride") or arg in ("C_IN", "C_OUT")
                ]
                attrs = {key: [["tt.divisibility", 16]] for key in aligned}
                t = time.perf_counter()
                try:
                    src = ASTSource(fn=kernel, signature=sig, constexprs=consts, attrs=attrs)
                    k = triton.compile(
                        src, target=target, options={"num_warps": 4, "num_stages": 3}
                    )
                    ptx = k.asm.get("ptx", "")
                    mma = "wgmma" if "wgmma" in ptx else "mma.sync" if "mma.sync" in ptx else "fma"
                    mma += " cp.async" if "cp.async" in ptx else " sync-loads"
                    print(
                        f"{dt:4s} B={block:2d} {name:10s} smem {k.metadata.shared:6d} B  {mma:8s} "
                        f"({time.perf_counter() - t:.1f} s)",
                        flush=True,
                    )
                except Exception as exc:
                    failures += 1
                    print(
                        f"{dt:4s} B={block:2d} {name:10s} FAILED {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200]}",
                        flush=True,
                    )
    print(f"compile check: {failures} failure(s), triton {triton.__version__}")
    return failures


# ----------------------------------------------------------------------------- main
def fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def main():
    meta = {
        "mode": "smoke" if ARGS.smoke else "full",
        "gpu": torch.cuda.get_device_name(0) if CUDA else f"none (CPU {platform.machine()})",
        "sm_count": torch.cuda.get_device_properties(0).multi_processor_count if CUDA else None,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "cuda": torch.version.cuda,
        "interpreter": KL.interpreting(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "dtype": str(DTYPE),
        "timing": "triton.testing.do_bench median (warmup 10 ms, rep 40 ms)"
        if CUDA
        else "perf_counter median of 3 (smoke)",
        "rotated_buffers": ARGS.rotate,
    }
    print(
        f"gpu_bench: {meta['gpu']} | torch {meta['torch']} | triton {meta['triton']} | "
        f"cuda {meta['cuda']} | mode {meta['mode']}",
        flush=True,
    )
    ceil = measure_ceilings()
    meta["ceilings"] = ceil
    if CUDA:
        print(
            f"ceilings: copy {ceil['copy_bytes_per_s'] / 1e12:.2f} TB/s (datasheet 4.8), "
            f"bf16 matmul {ceil['bf16_flops'] / 1e12:.0f} TFLOP/s",
            flush=True,
        )
    gather_lin, gather_conv = gather_impls()
    meta["gather_impl"] = {
        "linear": "compiler.functional.xlinear" if gather_lin else "local (this script)",
        "conv": "compiler.functional.xconv2d" if gather_conv else "local (this script)",
    }
    if ARGS.smoke:
        lin_grid = [(64, 0.5, 16), (64, 0.25, 16), (64, 0.5, 32)]
        tokens = 40
        conv_grid = [(2, 32, 6, 0.5, 16)]
        tune_args = (64, 0.5, (16,), 40)
    else:
        lin_grid = [
            (wd, dens, b)
            for wd in (2048, 4096, 8192)
            for b in (32, 64)
            for dens in (1 / 4, 1 / 8, 1 / 16)
        ]
        tokens = 16384
        conv_grid = [
            (64, c, hw, dens, 32) for c in (256, 512) for hw in (32, 16) for dens in (1 / 4, 1 / 8)
        ]
        tune_args = (4096, 1 / 8, (32, 64), 16384)

    results = {"meta": meta, "linear": [], "conv": [], "tune": [], "skipped": SKIPPED}
    dense_cache: dict = {}
    for width, dens, block in lin_grid:
        name = f"linear w={width} density=1/{round(1 / dens)} block={block}"
        if over_budget(name):
            continue
        t = time.perf_counter()
        case = linear_case(width, dens, block, tokens, ceil, gather_lin, dense_cache)
        results["linear"].append(case)
        print(
            f"  {name}: correct={case['correct']} fwd+bwd x{case['speedup_fwdbwd']:.2f} "
            f"({time.perf_counter() - t:.1f} s)",
            flush=True,
        )
        if CUDA:
            torch.cuda.empty_cache()
    for n, c, hw, dens, block in conv_grid:
        name = f"conv N={n} C={c} {hw}x{hw} density=1/{round(1 / dens)} block={block}"
        if over_budget(name):
            continue
        t = time.perf_counter()
        case = conv_case(n, c, hw, dens, block, ceil, gather_conv)
        results["conv"].append(case)
        print(
            f"  {name}: correct={case['correct']} fwd+bwd x{case['speedup_fwdbwd']:.2f} "
            f"({time.perf_counter() - t:.1f} s)",
            flush=True,
        )
        if CUDA:
            torch.cuda.empty_cache()
    if not ARGS.no_tune:
        results["tune"] = tune(*tune_args)
    meta["wall_s"] = elapsed()

    out = (
        Path(ARGS.out)
        if ARGS.out
        else (
            Path("/tmp/gpu_bench_smoke.json")
            if ARGS.smoke
            else ROOT / "benchmarks" / "results" / "gpu_bench.json"
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    report(results, out)


def report(results, out):
    bw = results["meta"]["ceilings"].get("copy_bytes_per_s") or DATASHEET_BW
    pk = results["meta"]["ceilings"].get("bf16_flops") or DATASHEET_BF16
    print(
        f"\nRoofline: floor = max(FLOPs / {pk / 1e12:.0f} TFLOP/s, bytes / {bw / 1e12:.2f} TB/s);"
        " FLOPs = 2 x tokens x nnz(W); bytes = each kernel's inputs read once + outputs written"
        " once (bf16)."
    )
    print(
        "goal (issue 5, width >= 4096): fwd+bwd speedup over dense >= 0.8 x min(1/density, "
        "dense_ms / sparse_floor_ms), and Triton fwd faster than torch BSR fwd.\n"
    )
    if results["tune"]:
        print("launch-config sweep (ms; block_m/warps/stages):")
        for r in results["tune"]:
            print(
                f"  {r['kernel']:3s} B={r['block']:2d} {r['block_m']:3d}/{r['num_warps']}/"
                f"{r['num_stages']}: {fmt(r['ms'])} {r['error'] or ''}"
            )
    if results["conv"]:
        print("\nXConv2d bf16 3x3 pad 1 (ms):")
        print(
            f"{'N':>3} {'C':>4} {'HW':>3} {'dens':>5} {'ok':>3} {'tri_f':>7} {'tri_fb':>7} "
            f"{'dns_f':>7} {'dns_fb':>7} {'msk_fb':>7} {'gth_fb':>7} {'x_f':>5} {'x_fb':>5} "
            f"{'%flr':>5}"
        )
        for c in results["conv"]:
            m = c["ms"]
            print(
                f"{c['N']:>3} {c['C']:>4} {c['HW']:>3} 1/{round(1 / c['density']):<3} "
                f"{'y' if c['correct'] else 'NO':>3} {m['triton_fwd']:7.3f} "
                f"{m['triton_fwdbwd']:7.3f} {m['dense_fwd']:7.3f} {m['dense_fwdbwd']:7.3f} "
                f"{m['masked_fwdbwd']:7.3f} {m['gather_fwdbwd']:7.3f} {c['speedup_fwd']:5.2f} "
                f"{c['speedup_fwdbwd']:5.2f} {c['pct_of_floor_fwdbwd']:5.1f}"
            )
    if results["linear"]:
        print(
            "\nXLinear bf16 (ms); x_* = dense/triton; goal = 0.8*min(1/d, dense/floor); "
            "%flr = floor/measured (fwd+bwd)"
        )
        print(
            f"{'width':>5} {'B':>2} {'dens':>5} {'ok':>3} {'GFLOP':>6} {'MB':>6} {'F/B':>5} "
            f"{'floor':>6} {'tri_f':>7} {'tri_fb':>7} {'dns_f':>7} {'dns_fb':>7} {'bsr_f':>7} "
            f"{'gth_fb':>7} {'msk_fb':>7} {'x_f':>5} {'x_fb':>5} {'goal':>5} {'vsBSR':>5} "
            f"{'%flr':>5} {'met':>3}"
        )
        for c in results["linear"]:
            m, r = c["ms"], c["roofline"]
            print(
                f"{c['width']:>5} {c['block']:>2} 1/{round(1 / c['density']):<3} "
                f"{'y' if c['correct'] else 'NO':>3} {r['flops_fwd'] / 1e9:6.1f} "
                f"{r['bytes_fwdbwd'] / 1e6:6.0f} {r['intensity_fwd']:5.0f} "
                f"{r['floor_fwdbwd_ms']:6.3f} {m['triton_fwd']:7.3f} {m['triton_fwdbwd']:7.3f} "
                f"{m['dense_fwd']:7.3f} {m['dense_fwdbwd']:7.3f} {fmt(m.get('bsr_fwd')):>7} "
                f"{fmt(m.get('gather_fwdbwd')):>7} {m['masked_fwdbwd']:7.3f} "
                f"{c['speedup_fwd']:5.2f} {c['speedup_fwdbwd']:5.2f} {c['goal_fwdbwd']:5.2f} "
                f"{fmt(c['vs_bsr_fwd'], '5.2f'):>5} {c['pct_of_floor_fwdbwd']:5.1f} "
                f"{'y' if c['meets_goal'] else '-':>3}"
            )
    bad = [c for c in results["linear"] + results["conv"] if not c["correct"]]
    for c in bad:
        print(f"INCORRECT: {c}")
    if results["skipped"]:
        print("skipped:", "; ".join(results["skipped"]))
    print(f"\nwrote {out} ({results['meta']['wall_s']:.0f} s); {len(bad)} incorrect case(s)")
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    if ARGS.compile_check:
        sys.exit(1 if compile_check() else 0)
    main()
