"""Benchmark: reach depth and exact path counts on wide layered graphs, against scipy.sparse.

For widths 2^16 and 2^20 (12 layers of the paper's random layers, degree 16):

* reach depth by packed bitsets (all sources at 2^16; at 2^20 an all-pairs answer
  needs 2^40 bits per level, so a random sample of sources is followed and the
  result is labelled as sampled);
* an exact path count between two random sets of 1000 nodes, level 0 -> 12;
* baselines with scipy.sparse: the same count by repeated float64 SpMV (and its
  error against the exact integer), and reachability by boolean sparse matrix
  products while the product still fits in memory (width 2^12 in full; at the
  large widths until it outgrows the nnz budget).

Time (``time.perf_counter``) and peak memory (``tracemalloc``, numpy allocations
included) are recorded per step; results go to ``benchmarks/results/bench_paths.json``.

Usage: ``python3 benchmarks/bench_paths.py [--widths 16 20] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from machine import machine_info

from expandergraph import LayeredGraph
from expandergraph.generators.random import random_bipartite
from expandergraph.mixing import reachability
from expandergraph.paths import path_count

LAYERS, DEGREE, SET_SIZE = 12, 16, 1000
NNZ_BUDGET = 60_000_000  # boolean products stop here (~0.5 GB of CSR)


def measured(func, *args, **kw):
    tracemalloc.start()
    t0 = time.perf_counter()
    value = func(*args, **kw)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return value, {"seconds": round(seconds, 3), "peak_mib": round(peak / 2**20, 1)}


def spmv_count(lg, s, t):
    x = np.zeros(lg.widths[0])
    x[s] = 1.0
    for layer in lg:
        x = layer.biadjacency(dtype=np.float64) @ x
    return float(x[t].sum())


def boolean_powers(lg, budget=NNZ_BUDGET):
    """Reach by boolean sparse products C_t = (B_t C_{t-1}) > 0 until nnz exceeds the budget."""
    n0 = lg.widths[0]
    c = sp.identity(n0, dtype=np.int32, format="csr")
    fractions, depth = [], None
    for k, layer in enumerate(lg):
        b = layer.biadjacency(dtype=np.int32)
        estimate = min(c.nnz * (b.nnz / layer.right), n0 * layer.right)  # output nnz bound
        if estimate > budget:
            return {
                "fits": False,
                "levels_done": k,
                "nnz": int(c.nnz),
                "reach_depth": depth,
                "reach_fraction": fractions,
            }
        c = b @ c
        c.data[:] = 1
        c.eliminate_zeros()
        fractions.append(c.nnz / (n0 * layer.right))
        if depth is None and c.nnz == n0 * layer.right:
            depth = k + 1
        if c.nnz > budget:
            return {
                "fits": False,
                "levels_done": k + 1,
                "nnz": int(c.nnz),
                "reach_depth": depth,
                "reach_fraction": fractions,
            }
    return {
        "fits": True,
        "levels_done": len(lg),
        "nnz": int(c.nnz),
        "reach_depth": depth,
        "reach_fraction": fractions,
    }


def run_width(log2n: int, sample: int | None) -> dict:
    n = 1 << log2n
    out: dict = {"width": n, "layers": LAYERS, "degree": DEGREE}
    lg, out["build"] = measured(
        lambda: LayeredGraph([random_bipartite(n, n, DEGREE, seed=s) for s in range(LAYERS)])
    )
    rng = np.random.default_rng(0)
    sources = None if sample is None else np.sort(rng.choice(n, sample, replace=False))
    r, out["reach"] = measured(reachability, lg, 0, sources=sources)
    out["reach"].update(
        reach_depth=r.reach_depth,
        reach_fraction=[round(f, 9) for f in r.reach_fraction],
        sources=r.sources,
        sampled=r.sampled,
        log_D_n=round(log2n / 4, 3),
    )
    s = np.sort(rng.choice(n, SET_SIZE, replace=False))
    t = np.sort(rng.choice(n, SET_SIZE, replace=False))
    count, out["path_count"] = measured(path_count, lg, s, t, 0, LAYERS)
    approx, out["scipy_spmv_float64"] = measured(spmv_count, lg, s, t)
    predicted = DEGREE**LAYERS * SET_SIZE * SET_SIZE / n
    out["path_count"].update(
        count=count, predicted=predicted, ratio=count / predicted, exceeds_2_53=count > 2**53
    )
    out["scipy_spmv_float64"].update(
        value=approx, abs_error_vs_exact=abs(approx - count), exact_equal=approx == count
    )
    bp, out["scipy_boolean_powers"] = measured(boolean_powers, lg)
    out["scipy_boolean_powers"].update(bp)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--widths", type=int, nargs="+", default=[12, 16, 20], help="log2 widths")
    p.add_argument("--sample", type=int, default=1024, help="sources followed at 2^20")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_paths.json"))
    args = p.parse_args()
    results = {
        "benchmark": "bench_paths",
        "machine": machine_info(),
        "note": "run once, on 2 CPU cores shared with other jobs: timings are noisy upper "
        "bounds. Reach at 2^20 follows a random sample of sources (all-pairs needs 2^40 bits "
        "per level); at 2^12 and 2^16 it is exact over all pairs.",
        "runs": [],
    }
    for log2n in args.widths:
        sample = args.sample if log2n >= 20 else None
        print(f"width 2^{log2n} ...", flush=True)
        res = run_width(log2n, sample)
        print(json.dumps(res, default=str)[:600], flush=True)
        results["runs"].append(res)
    results["max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
