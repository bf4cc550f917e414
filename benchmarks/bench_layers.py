"""X-Linear and X-Conv2d on the CPU: gather backend vs dense, masked and torch BSR peers.

Run: ``python3 benchmarks/bench_layers.py [--quick] [--out PATH]``; writes
``benchmarks/results/bench_layers.json`` and prints a table with ratios.

Conventions
-----------
* ``torch.set_num_threads(2)`` and ``OMP_WAIT_POLICY=PASSIVE`` (unless set);
  float32; times are seconds per call, the
  *minimum* and the median of ``reps`` timed calls after one warm-up call (the
  machine is shared, so the minimum is the better estimate of what the code
  can do; both are in the JSON).  A layer and its peers are timed
  interleaved, round robin, so they see the same background load.  Ratios
  (``speedup`` = peer / gather) use minima.
* ``fwd`` is a forward pass under ``torch.no_grad()``; ``fwd+bwd`` is a
  forward pass and a backward pass with gradients for input, weight and bias.
* Every gather configuration is first checked against the dense masked weight
  on fresh random inputs (max relative error printed and stored), never timed
  on zeros.
* Peers: dense ``nn.Linear`` / ``nn.Conv2d`` of the same widths; the ``masked``
  backend (dense weight times mask, the reference code's method); torch BSR
  (``W.to_sparse_bsr(block)`` with ``F.linear``; ``to_sparse_csr`` for block 1),
  forward only (its backward to the input is unsupported on CPU), linear only
  (torch has no sparse convolution).  The grouped peer, the speed ceiling of
  a structured sparse layer of the same density (``groups = 1/density``, same
  work, no gather): a block-diagonal ``bmm`` for the linear layer,
  ``nn.Conv2d(groups=g)`` for convolutions, and for 1x1 convolutions also a
  grouped broadcast ``matmul`` over pixels (:class:`GroupedConv1x1`).
* Memory: peak resident-set growth (``VmHWM`` after resetting it through
  ``/proc/self/clear_refs``) of one fwd+bwd step, in a fresh subprocess with
  ``MALLOC_MMAP_THRESHOLD_=65536`` so freed buffers leave the process; the
  module, input and output gradient exist before the reset, and one warm-up
  step has run (one-time library allocations are not counted).

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§3.3 (the gather method).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Passive OpenMP waiting: on a shared, oversubscribed 2-core machine, spinning
# threads of many short ops stall each other (measured 3-5x slowdowns); this
# affects every peer alike.  Set before torch initialises OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import machine_info  # noqa: E402

from compiler import XConv2d, XLinear  # noqa: E402
from compiler import functional as XF  # noqa: E402

THREADS = 2


def timeit(fns: dict, reps: int) -> dict:
    """Time several callables interleaved (round robin), so they share the machine's load.

    One warm-up call each, then ``reps`` rounds; returns ``{name: {"min", "median", "reps"}}``.
    """
    for fn in fns.values():
        fn()
    times: dict = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {
        k: {"min": min(v), "median": statistics.median(v), "reps": reps} for k, v in times.items()
    }


def fwd_bwd(module, x, gy):
    def run():
        module.zero_grad(set_to_none=True)
        x.grad = None
        module(x).backward(gy)

    return run


def fwd(module, x):
    def run():
        with torch.no_grad():
            module(x)

    return run


class GroupedLinear(torch.nn.Module):
    """The grouped peer of an X-Linear layer: ``groups`` dense diagonal blocks, one ``bmm``.

    Same density (``1/groups``) and the same work as the expander layer, with
    no gather at all: the speed ceiling of a structured sparse layer.
    """

    def __init__(self, width: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        k = width // groups
        self.weight = torch.nn.Parameter(torch.randn(groups, k, k) / k**0.5)
        self.bias = torch.nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, w = x.shape
        xg = x.view(n, self.groups, w // self.groups).transpose(0, 1)
        return torch.bmm(xg, self.weight.transpose(1, 2)).transpose(0, 1).reshape(n, w) + self.bias


class GroupedConv1x1(torch.nn.Module):
    """The grouped-matmul peer of a 1x1 X-Conv2d: ``groups`` diagonal blocks over pixels.

    ``x`` viewed as ``(N, groups, C/groups, H*W)`` times the weight ``(groups,
    k, k)`` in one broadcast ``matmul``, in the NCHW layout: the same work as a
    1x1 ``nn.Conv2d(groups=groups)``, without the grouped convolution's
    overhead (it is the stronger of the two ceilings at this shape).
    """

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        k = channels // groups
        self.weight = torch.nn.Parameter(torch.randn(groups, k, k) / k**0.5)
        self.bias = torch.nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        xg = x.reshape(n, self.groups, c // self.groups, h * w)
        y = torch.matmul(self.weight, xg).view(n, c, h, w)
        return y + self.bias.view(1, c, 1, 1)


#: Issue 14's fwd+bwd goals (speed-up over dense): (kind, width, batch, density, block) -> goal.
GOALS: dict = {
    ("linear", 4096, 512, 1 / 8, 64): 5.0,
    ("linear", 4096, 512, 1 / 8, 32): 4.0,
    ("conv1", 256, 32, 1 / 8, 32): 3.0,
    ("conv3", 256, 32, 1 / 8, 32): 4.0,
}


def _goal_text(kind: str, r: dict) -> str:
    width = r.get("width", r.get("channels"))
    g = GOALS.get((kind, width, r["batch"], r["density"], r["block"]))
    return f" goal >= {g:.0f}x" if g else ""


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


# -- linear ---------------------------------------------------------------------------


def linear_grid(quick: bool, goal: bool = False) -> list[tuple[int, int, float, int]]:
    """(width, batch, density, block): the goal family in full, sweeps around it."""
    if quick:
        return [(1024, 256, 1 / 8, b) for b in (1, 32)]
    if goal:
        return [(4096, 512, 1 / 8, b) for b in (1, 32, 64)]
    grid = [(4096, 512, d, b) for d in (1 / 4, 1 / 8, 1 / 16) for b in (1, 16, 32, 64)]
    grid += [(w, 512, 1 / 8, b) for w in (1024, 2048) for b in (1, 16, 32, 64)]
    grid += [(4096, n, 1 / 8, b) for n in (256, 1024) for b in (32, 64)]
    return grid


def bench_linear(quick: bool, reps: int, goal: bool = False) -> list[dict]:
    out = []
    for width, batch, density, block in linear_grid(quick, goal):
        torch.manual_seed(0)
        layer = XLinear(width, width, density=density, block=block, seed=0)
        masked = XLinear(width, width, density=density, block=block, seed=0, backend="masked")
        dense = torch.nn.Linear(width, width)
        grouped = GroupedLinear(width, round(1 / density))
        x = torch.randn(batch, width, requires_grad=True)
        gy = torch.randn(batch, width)
        w_dense = layer.dense_weight().detach()
        with torch.no_grad():
            err = rel_err(layer(x[:64]), F.linear(x[:64], w_dense, layer.bias))
        r = reps if block > 1 else 1  # block 1 is slow (memory-bound); one timed call
        rec = {
            "width": width,
            "batch": batch,
            "density": density,
            "degree": layer.degree,
            "block": block,
            "max_rel_err_vs_dense": err,
        }
        fns = {"gather_fwd": fwd(layer, x), "dense_fwd": fwd(dense, x)}
        try:
            sparse = w_dense.to_sparse_bsr((block, block)) if block > 1 else w_dense.to_sparse_csr()
            with torch.no_grad():
                rec["bsr_rel_err"] = rel_err(F.linear(x[:64], sparse), F.linear(x[:64], w_dense))

            def bsr(sparse=sparse, x=x):
                with torch.no_grad():
                    F.linear(x, sparse)

            fns["bsr_fwd"] = bsr
        except (RuntimeError, NotImplementedError) as exc:
            rec["bsr_fwd"] = {"error": str(exc).splitlines()[0]}
        rec.update(timeit(fns, r))
        fns = {"gather_fwd_bwd": fwd_bwd(layer, x, gy), "dense_fwd_bwd": fwd_bwd(dense, x, gy)}
        if block in (1, 32) or quick:  # masked costs what dense costs: a few samples suffice
            fns["masked_fwd_bwd"] = fwd_bwd(masked, x, gy)
        if block > 1:
            fns["grouped_fwd_bwd"] = fwd_bwd(grouped, x, gy)
        rec.update(timeit(fns, r))
        out.append(rec)
        print(linear_line(rec), flush=True)
    return out


def _ratio(rec: dict, peer: str, mine: str) -> float | None:
    a, b = rec.get(peer), rec.get(mine)
    if not a or not b or "min" not in a or "min" not in b:
        return None
    return a["min"] / b["min"]


def linear_line(r: dict) -> str:
    def fmt(v):
        return f"{v:6.2f}x" if v is not None else "     - "

    return (
        f"linear w={r['width']:5d} n={r['batch']:5d} dens=1/{round(1 / r['density']):<3d} "
        f"b={r['block']:3d} | gather fwd {r['gather_fwd']['min'] * 1e3:8.1f} ms  "
        f"fwd+bwd {r['gather_fwd_bwd']['min'] * 1e3:8.1f} ms | vs dense fwd "
        f"{fmt(_ratio(r, 'dense_fwd', 'gather_fwd'))} fwd+bwd "
        f"{fmt(_ratio(r, 'dense_fwd_bwd', 'gather_fwd_bwd'))}{_goal_text('linear', r)} | "
        f"vs masked fwd+bwd {fmt(_ratio(r, 'masked_fwd_bwd', 'gather_fwd_bwd'))} | vs BSR fwd "
        f"{fmt(_ratio(r, 'bsr_fwd', 'gather_fwd'))} | grouped vs dense fwd+bwd "
        f"{fmt(_ratio(r, 'dense_fwd_bwd', 'grouped_fwd_bwd'))} (ideal "
        f"{1 / r['density']:.0f}x) | err {r['max_rel_err_vs_dense']:.1e}"
    )


# -- conv -------------------------------------------------------------------------------


def conv_grid(quick: bool, goal: bool = False, kernel: int = 3) -> list:
    """(channels, batch, density, block) at 32x32, ``kernel`` x ``kernel``, same padding."""
    if quick:
        return [(64, 4, 1 / 8, 8)]
    if goal or kernel == 1:
        return [(256, 32, 1 / 8, 32)] + ([(256, 32, 1 / 8, 1)] if kernel == 1 else [])
    grid = [(256, 32, 1 / 8, b) for b in (1, 16, 32)]
    grid += [(256, 32, 1 / 4, 32), (256, 32, 1 / 16, 16)]
    grid += [(512, 32, 1 / 8, b) for b in (32, 64)]
    return grid


def bench_conv(quick: bool, reps: int, goal: bool = False, kernel: int = 3) -> list[dict]:
    out = []
    hw = 8 if quick else 32
    pad = kernel // 2
    for c, batch, density, block in conv_grid(quick, goal, kernel):
        torch.manual_seed(0)
        layer = XConv2d(c, c, kernel, padding=pad, density=density, block=block, seed=0)
        dense = torch.nn.Conv2d(c, c, kernel, padding=pad)
        grouped = torch.nn.Conv2d(c, c, kernel, padding=pad, groups=round(1 / density))
        x = torch.randn(batch, c, hw, hw, requires_grad=True)
        gy = torch.randn(batch, c, hw, hw)
        w_dense = layer.dense_weight().detach()
        with torch.no_grad():
            err = rel_err(layer(x[:2]), F.conv2d(x[:2], w_dense, layer.bias, padding=pad))
        r = 1 if block == 1 else (reps if c < 512 else max(2, reps - 1))
        rec = {
            "channels": c,
            "batch": batch,
            "hw": hw,
            "kernel": kernel,
            "density": density,
            "degree": layer.degree,
            "block": block,
            "max_rel_err_vs_dense": err,
        }
        rec.update(timeit({"gather_fwd": fwd(layer, x), "dense_fwd": fwd(dense, x)}, r))
        fns = {"gather_fwd_bwd": fwd_bwd(layer, x, gy), "dense_fwd_bwd": fwd_bwd(dense, x, gy)}
        if block in (1, 32) and density == 1 / 8 or quick:
            masked = XConv2d(
                c, c, kernel, padding=pad, density=density, block=block, backend="masked"
            )
            fns["masked_fwd_bwd"] = fwd_bwd(masked, x, gy)
        if block > 1:
            fns["grouped_fwd_bwd"] = fwd_bwd(grouped, x, gy)
            if kernel == 1:
                fns["grouped_mm_fwd_bwd"] = fwd_bwd(GroupedConv1x1(c, round(1 / density)), x, gy)
        rec.update(timeit(fns, r))
        out.append(rec)
        print(conv_line(rec), flush=True)
    return out


def conv_line(r: dict) -> str:
    def fmt(v):
        return f"{v:6.2f}x" if v is not None else "     - "

    return (
        f"conv   C={r['channels']:4d} N={r['batch']:3d} {r['hw']}x{r['hw']} "
        f"{r['kernel']}x{r['kernel']} "
        f"dens=1/{round(1 / r['density']):<3d} b={r['block']:3d} | gather fwd "
        f"{r['gather_fwd']['min'] * 1e3:8.1f} ms  "
        f"fwd+bwd {r['gather_fwd_bwd']['min'] * 1e3:8.1f} ms"
        f" | vs dense fwd {fmt(_ratio(r, 'dense_fwd', 'gather_fwd'))} fwd+bwd "
        f"{fmt(_ratio(r, 'dense_fwd_bwd', 'gather_fwd_bwd'))}"
        f"{_goal_text('conv1' if r['kernel'] == 1 else 'conv3', r)} | vs masked fwd+bwd "
        f"{fmt(_ratio(r, 'masked_fwd_bwd', 'gather_fwd_bwd'))} | grouped vs dense fwd+bwd "
        f"{fmt(_ratio(r, 'dense_fwd_bwd', 'grouped_fwd_bwd'))}"
        + (
            f" grouped-matmul {fmt(_ratio(r, 'dense_fwd_bwd', 'grouped_mm_fwd_bwd'))}"
            if "grouped_mm_fwd_bwd" in r
            else ""
        )
        + " (ideal "
        f"{1 / r['density']:.0f}x) | err {r['max_rel_err_vs_dense']:.1e}"
    )


# -- memory -------------------------------------------------------------------------------

_MEM_CHILD = r"""
import json, sys, torch
sys.path.insert(0, {root!r})
torch.set_num_threads({threads})
from compiler import XLinear, XConv2d
kind, backend, size, batch, density, block = {args!r}
torch.manual_seed(0)
if kind == "linear":
    m = (torch.nn.Linear(size, size) if backend == "dense"
         else XLinear(size, size, density=density, block=block, backend=backend))
    x = torch.randn(batch, size, requires_grad=True)
else:
    m = (torch.nn.Conv2d(size, size, 3, padding=1) if backend == "dense"
         else XConv2d(size, size, 3, padding=1, density=density, block=block, backend=backend))
    x = torch.randn(batch, size, 32, 32, requires_grad=True)
with torch.no_grad():
    gy = torch.randn_like(m(x[:1])).expand((batch,) + tuple(m(x[:1]).shape[1:])).contiguous()
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
m(x).backward(gy)  # warm-up: one-time allocations of the libraries
m.zero_grad(set_to_none=True)
x.grad = None
base = rss()
open("/proc/self/clear_refs", "w").write("5")
m(x).backward(gy)
print(json.dumps({{"peak_bytes": hwm() - base}}))
"""


def measure_memory(kind, backend, size, batch, density, block) -> dict:
    code = _MEM_CHILD.format(
        root=str(ROOT), threads=THREADS, args=(kind, backend, size, batch, density, block)
    )
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    if proc.returncode:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_memory(quick: bool) -> list[dict]:
    if quick:
        cases = [("linear", 1024, 256, 1 / 8, b) for b in (1, 32)]
    else:
        cases = [("linear", 4096, 512, 1 / 8, b) for b in (1, 16, 32, 64)]
        cases += [("conv", 256, 32, 1 / 8, b) for b in (1, 16, 32)]
    out = []
    dense_peak: dict = {}
    for kind, size, batch, density, block in cases:
        key = (kind, size, batch)
        if key not in dense_peak:
            dense_peak[key] = measure_memory(kind, "dense", size, batch, None, None)
        g = measure_memory(kind, "gather", size, batch, density, block)
        rec = {
            "kind": kind,
            "size": size,
            "batch": batch,
            "density": density,
            "block": block,
            "gather_peak_bytes": g.get("peak_bytes"),
            "dense_peak_bytes": dense_peak[key].get("peak_bytes"),
        }
        if rec["gather_peak_bytes"] and rec["dense_peak_bytes"]:
            rec["ratio_gather_over_dense"] = rec["gather_peak_bytes"] / rec["dense_peak_bytes"]
        else:
            rec["error"] = g.get("error") or dense_peak[key].get("error")
        out.append(rec)
        ratio = rec.get("ratio_gather_over_dense")
        print(
            f"memory {kind:6s} size={size} batch={batch} dens=1/{round(1 / density)} b={block}: "
            f"gather {(rec['gather_peak_bytes'] or 0) / 2**20:8.1f} MiB, dense "
            f"{(rec['dense_peak_bytes'] or 0) / 2**20:8.1f} MiB, ratio "
            f"{ratio if ratio is None else round(ratio, 2)}",
            flush=True,
        )
    return out


def _goal(rec: dict | None, goal: float, **where) -> dict | None:
    if rec is None:
        return None
    s = _ratio(rec, "dense_fwd_bwd", "gather_fwd_bwd")
    return {
        **where,
        "value": s,
        "goal": goal,
        "met": s is not None and s >= goal,
        "ideal": 1 / rec["density"],
        "grouped_ceiling": _ratio(rec, "dense_fwd_bwd", "grouped_fwd_bwd"),
        "grouped_matmul_ceiling": _ratio(rec, "dense_fwd_bwd", "grouped_mm_fwd_bwd"),
        "vs_masked": _ratio(rec, "masked_fwd_bwd", "gather_fwd_bwd"),
        "vs_grouped": _ratio(rec, "grouped_fwd_bwd", "gather_fwd_bwd"),
    }


def goals(linear: list[dict], conv: list[dict], conv1: list[dict], memory: list[dict]) -> dict:
    """Issue 14's goals (fwd+bwd speed-up vs dense, ideal ``1/density`` beside them)."""

    def pick(rows, **kv):
        return next((r for r in rows if all(r.get(k) == v for k, v in kv.items())), None)

    lin = dict(width=4096, batch=512, density=1 / 8)
    out: dict = {
        "linear_4096_512_d8_b64": _goal(pick(linear, **lin, block=64), 5.0, block=64),
        "linear_4096_512_d8_b32": _goal(pick(linear, **lin, block=32), 4.0, block=32),
        "conv1x1_256_32_d8_b32": _goal(
            pick(conv1, channels=256, batch=32, density=1 / 8, block=32), 3.0, block=32
        ),
        "conv3x3_256_32_d8_b32": _goal(
            pick(conv, channels=256, batch=32, density=1 / 8, block=32), 4.0, block=32
        ),
    }
    out = {k: v for k, v in out.items() if v is not None}
    ratios = [m["ratio_gather_over_dense"] for m in memory if "ratio_gather_over_dense" in m]
    if ratios:
        out["memory_gather_over_dense"] = {
            "worst": max(ratios),
            "goal": 1.5,
            "met": max(ratios) <= 1.5,
            "cases": [(m["kind"], m["block"], m.get("ratio_gather_over_dense")) for m in memory],
        }
    return out


# -- the auto rule's calibration ------------------------------------------------------------


def auto_grid() -> list[tuple[str, int, int, float, int]]:
    """(kind, width, batch, density, block): small shapes around the rule's thresholds."""
    grid = [("linear", 1024, 256, d, b) for d in (1 / 2, 1 / 4, 1 / 8) for b in (1, 4, 8, 16)]
    grid += [("conv1", 128, 16, d, b) for d in (1 / 2, 1 / 8) for b in (1, 4, 8, 16)]
    grid += [("conv3", 128, 16, d, b) for d in (1 / 2, 1 / 8) for b in (1, 4, 8, 16)]
    # past the thresholds: block 32 (1x1 conv) and a 3x3 conv at density 1/4
    grid += [("linear", 1024, 256, 1 / 8, 32), ("conv1", 256, 16, 1 / 8, 32)]
    grid += [("conv3", 128, 16, 1 / 4, b) for b in (8, 16)]
    return grid


def _auto_layer(kernel: int, width: int, density: float, block: int, backend: str):
    if kernel == 0:
        return XLinear(width, width, density=density, block=block, backend=backend)
    return XConv2d(
        width, width, kernel, padding=kernel // 2, density=density, block=block, backend=backend
    )


def bench_auto(reps: int) -> list[dict]:
    """Time gather vs masked (fwd+bwd) per shape; record what ``auto`` picks and the winner."""
    out = []
    for kind, width, batch, density, block in auto_grid():
        torch.manual_seed(0)
        k = {"linear": 0, "conv1": 1, "conv3": 3}[kind]
        layers = {be: _auto_layer(k, width, density, block, be) for be in ("gather", "masked")}
        shape = (batch, width) if k == 0 else (batch, width, 16, 16)
        x = torch.randn(shape, requires_grad=True)
        with torch.no_grad():
            gy = torch.randn_like(layers["masked"](x))
        t = timeit({be: fwd_bwd(m, x, gy) for be, m in layers.items()}, reps)
        fastest = min(t, key=lambda be: t[be]["min"])
        rec = {
            "kind": kind,
            "width": width,
            "batch": batch,
            "density": density,
            "block": block,
            "gather_fwd_bwd": t["gather"],
            "masked_fwd_bwd": t["masked"],
            "fastest": fastest,
            "auto": layers["gather"].auto_backend(),
        }
        # a near tie (within 10%) is no wrong choice on a shared machine
        slower = t[rec["auto"]]["min"] / t[fastest]["min"]
        rec["auto_within_10pct_of_fastest"] = slower <= 1.10
        out.append(rec)
        print(
            f"auto   {kind:6s} w={width} dens=1/{round(1 / density)} b={block:2d} | gather "
            f"{t['gather']['min'] * 1e3:7.1f} ms masked {t['masked']['min'] * 1e3:7.1f} ms | "
            f"fastest {fastest:6s} auto {rec['auto']:6s} "
            f"{'ok' if rec['auto_within_10pct_of_fastest'] else 'WRONG'}",
            flush=True,
        )
    return out


def goal_lines(g: dict) -> list[str]:
    lines = []
    for k, v in g.items():
        if "value" in v:
            ceil = v["grouped_ceiling"]
            ceil = "-" if ceil is None else f"{ceil:.2f}"
            mm = v.get("grouped_matmul_ceiling")
            mm = "" if mm is None else f", grouped matmul {mm:.2f}x"
            lines.append(
                f"GOAL {k:24s} gather {v['value']:5.2f}x dense (goal >= {v['goal']}x, ideal "
                f"{v['ideal']:.0f}x, grouped ceiling "
                f"{ceil}x{mm})"
                f" {'MET' if v['met'] else 'NOT MET'}"
            )
        elif "worst" in v:
            lines.append(
                f"GOAL {k:24s} worst {v['worst']:.2f}x dense (goal <= 1.5x) "
                f"{'MET' if v['met'] else 'NOT MET'}"
            )
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny grid (a smoke test)")
    p.add_argument("--goal", action="store_true", help="only the goal shapes")
    p.add_argument("--reps", type=int, default=3, help="timed calls per measurement")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_layers.json"))
    sections = ["linear", "conv", "conv1x1", "memory", "auto"]
    p.add_argument("--skip", nargs="*", default=[], choices=sections)
    p.add_argument("--only", nargs="*", default=None, choices=sections)
    args = p.parse_args(argv)
    run = set(args.only if args.only is not None else sections) - set(args.skip)
    torch.set_num_threads(THREADS)
    start = time.time()
    load0 = os.getloadavg()
    print(f"machine: {machine_info(threads=THREADS)}")
    print(f"load average at start: {load0}; gather chunk {XF.GATHER_CHUNK_ELEMENTS} elements")
    grid = linear_grid(args.quick, args.goal) + conv_grid(args.quick, args.goal)
    for width, _, density, block in grid:
        if round(density * width) % block:  # fail before an hour of timing, not after
            raise SystemExit(f"grid: degree {round(density * width)} not a multiple of {block}")
    linear: list[dict] = []
    conv: list[dict] = []
    conv1: list[dict] = []
    memory: list[dict] = []
    auto: list[dict] = []

    def save(partial: bool) -> dict:
        result = {
            "benchmark": "bench_layers",
            "partial": partial,
            "grid": "quick" if args.quick else ("goal" if args.goal else "full"),
            "machine": machine_info(threads=THREADS),
            "load_average_start": load0,
            "load_average_end": os.getloadavg(),
            "note": "shared 2-core CPU; other jobs may run concurrently (see load averages); "
            "times are seconds, ratios use the minimum over reps",
            "gather_chunk_elements": XF.GATHER_CHUNK_ELEMENTS,
            "conv_chunk_elements": XF.CONV_CHUNK_ELEMENTS,
            "auto_rule": {
                "per_kind": {
                    k: {"min_block": v[0], "max_density": v[1]} for k, v in XF.AUTO_RULE.items()
                },
                "rule": "gather if block >= min_block and density <= max_density of the "
                "layer's kind (linear, conv1x1, conv), else masked",
            },
            "seconds": round(time.time() - start, 1),
            "linear": linear,
            "conv": conv,
            "conv1x1": conv1,
            "memory": memory,
            "auto": auto,
            "goals": goals(linear, conv, conv1, memory),
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
        return result

    if "linear" in run:
        linear += bench_linear(args.quick, args.reps, args.goal)
        save(True)
    if "conv1x1" in run:
        conv1 += bench_conv(args.quick, args.reps, args.goal, kernel=1)
        save(True)
    if "conv" in run:
        conv += bench_conv(args.quick, args.reps, args.goal)
        save(True)
    if "auto" in run:
        auto += bench_auto(1 if args.quick else args.reps)
        save(True)
    if "memory" in run:
        memory += bench_memory(args.quick)
    result = save(False)
    print(f"load average at end: {os.getloadavg()}")
    for line in goal_lines(result["goals"]):
        print(line)
    print(f"wrote {args.out} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
