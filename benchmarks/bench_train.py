"""Training throughput (samples/s) of ``x-mobilenet-small`` per backend, vs dense and grouped.

Run: ``python3 benchmarks/bench_train.py [--batch 128] [--steps 5] [--out PATH]``;
writes ``benchmarks/results/bench_train.json`` and prints a table.

Conventions
-----------
* Fashion-MNIST-shaped synthetic input ``(batch, 1, 28, 28)``, 10 classes
  (throughput does not depend on the pixel values); one training step is
  forward, cross-entropy, backward and an SGD update (momentum 0.9).
* ``torch.set_num_threads(2)`` and ``OMP_WAIT_POLICY=PASSIVE`` for every
  model alike; models are timed interleaved (round robin), one warm-up step
  each, then ``steps`` rounds; samples/s uses the median step time (the
  minimum is stored too).
* Models at each density ``1/g``: ``x-mobilenet-small`` compiled with the
  backends ``auto``, ``gather`` and ``masked``; ``dense``: the same network
  with plain ``nn.Conv2d``/``nn.Linear`` (no mask); ``grouped``: the
  ``grouped-mobilenet-small`` baseline with its grouped layers as
  ``nn.Conv2d(groups=g)`` (the speed ceiling of structured sparsity).

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§5 (X-MobileNet).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_layers import THREADS  # noqa: E402
from machine import machine_info  # noqa: E402

from compiler.models import build  # noqa: E402
from compiler.modules import XConv2d, XLinear  # noqa: E402


def plain_torch(net: nn.Module) -> nn.Module:
    """``net`` with every expander layer replaced by the plain torch layer of its graph.

    A dense graph becomes ``nn.Conv2d``/``nn.Linear``; a block-diagonal graph
    of ``g`` groups (density ``1/g``, the ``grouped`` baseline) becomes
    ``nn.Conv2d(groups=g)``.  Any other graph is refused.
    """
    for name, child in list(net.named_children()):
        if isinstance(child, (XConv2d, XLinear)):
            g = round(1 / child.density)
            if g > 1:
                mask = child.dense_weight().detach().reshape(child.out_width, child.in_width, -1)
                ref = torch.block_diag(*[torch.ones(child.out_width // g, child.in_width // g)] * g)
                if not torch.equal((mask.abs().sum(-1) != 0).float(), ref):
                    raise ValueError(f"{name}: graph is neither dense nor block-diagonal")
            bias = child.bias is not None
            if isinstance(child, XLinear):
                if g != 1:
                    raise ValueError(f"{name}: a sparse linear layer has no torch twin")
                new = nn.Linear(child.in_width, child.out_width, bias=bias)
            else:
                new = nn.Conv2d(
                    child.in_width,
                    child.out_width,
                    child.kernel,
                    child.stride,
                    child.padding,
                    child.dilation,
                    groups=g,
                    bias=bias,
                )
            setattr(net, name, new)
        else:
            plain_torch(child)
    return net


def models(density: str) -> dict:
    torch.manual_seed(0)
    out = {
        f"x/{be}": build("x-mobilenet-small", density=density, backend=be)
        for be in ("auto", "gather", "masked")
    }
    out["dense"] = plain_torch(build("dense-mobilenet-small"))
    out["grouped"] = plain_torch(build("grouped-mobilenet-small", density=density))
    return out


def step_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def bench(density: str, batch: int, steps: int) -> list[dict]:
    nets = models(density)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    fns = {k: step_fn(m.train(), x, y) for k, m in nets.items()}
    for fn in fns.values():
        fn()
    times: dict = {k: [] for k in fns}
    for _ in range(steps):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    rows = []
    dense_sps = batch / statistics.median(times["dense"])
    for k, v in times.items():
        med = statistics.median(v)
        backends = sorted(
            {m.backend for m in nets[k].modules() if isinstance(m, (XConv2d, XLinear))}
        )
        rows.append(
            {
                "model": k,
                "density": density,
                "batch": batch,
                "step_median_s": med,
                "step_min_s": min(v),
                "samples_per_s": batch / med,
                "vs_dense": batch / med / dense_sps,
                "layer_backends": backends,
                "params": sum(p.numel() for p in nets[k].parameters()),
            }
        )
        r = rows[-1]
        print(
            f"density {density:4s} {k:9s} {r['samples_per_s']:8.1f} samples/s "
            f"({r['vs_dense']:.2f}x dense; backends {','.join(backends) or 'torch'})",
            flush=True,
        )
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--densities", nargs="*", default=["1/2", "1/8"])
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_train.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(THREADS)
    start = time.time()
    load0 = os.getloadavg()
    print(f"machine: {machine_info(threads=THREADS)}\nload average at start: {load0}")
    rows = []
    for d in args.densities:
        rows += bench(d, args.batch, args.steps)
    result = {
        "benchmark": "bench_train",
        "model": "x-mobilenet-small",
        "input": [1, 28, 28],
        "data": "synthetic Fashion-MNIST-shaped tensors",
        "machine": machine_info(threads=THREADS),
        "load_average_start": load0,
        "load_average_end": os.getloadavg(),
        "seconds": round(time.time() - start, 1),
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"load average at end: {os.getloadavg()}\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
