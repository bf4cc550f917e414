"""Benchmark: the network guarantees of the zoo models.

For every model family at its default density and its X, grouped,
grouped-shuffle and dense variants, from the network graph of spec lowering
(``NetworkGraph.from_spec``, no torch modules):

* **status**: :func:`expandergraph.network.certify_network` with per-layer
  certificates ``certify(g, checks=("degrees", "spectrum"))`` passed in;
* **mixing depth**: the certificate's worst start (``mixing_depth``,
  ``mixing_start``, ``ideal``), ``None`` when that start never mixes fully;
* **reach at the classifier's input**: the reach fraction from ``"input"`` at the
  *classifier's input*, defined as the source tensor of the last graph edge on
  the way back from ``"output"`` (non-graph edges such as identity/flatten are
  walked back through);
* **path deviation**: ``max |path_deviation|`` of exact path counts from random
  channel sets of ``"input"`` to random channel sets of the classifier's input
  (each set holds ``>= 25%`` of its tensor's channels), worst over ``--samples``
  seeded draws.  (To ``"output"`` it is exactly 0 for every zoo model: the
  classifier is dense.)

Also a plot of reach fraction against graph depth for three families, and the
time of ``certify_network`` on the largest zoo models with the per-layer
certificates passed in and from scratch, against the 10 s goal.

Usage: ``flock /tmp/xnets-bench.lock python3 benchmarks/bench_network.py``
(``--no-paths`` skips exact path counts; ``--no-plot``; ``--out FILE``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from machine import machine_info

import compiler.models as models
from expandergraph.certify import certify
from expandergraph.network import NetworkGraph, certify_network, path_deviation, reach_fractions
from expandergraph.spec import iter_layers, layer_graph, load_spec

FAMILIES = (
    "vgg16-bn",
    "resnet-20",
    "resnet-18",
    "densenet-bc-40-24",
    "mobilenet-0.5",
    "mobilenet-small",
)
VARIANTS = ("x", "grouped", "grouped-shuffle", "dense")
PLOT_FAMILIES = ("resnet-20", "densenet-bc-40-24", "mobilenet-0.5")
TIMED = ("x-resnet-50", "x-densenet-bc-40-60")
LAYER_CHECKS = ("degrees", "spectrum")
GOAL_S = 10.0
RESULTS = Path(__file__).resolve().parent / "results"


def network(name: str) -> tuple[NetworkGraph, dict]:
    """The network graph of zoo model ``name`` by spec lowering, and its layer graphs."""
    spec = load_spec(models.spec(name))
    graphs = {layer.where: layer_graph(layer) for layer in iter_layers(spec) if layer.has_graph}
    return NetworkGraph.from_spec(spec, graphs), graphs


def graph_depths(net: NetworkGraph, start: str) -> dict[str, int]:
    """Graph edges on the longest path from ``start`` to every tensor downstream of it."""
    depth = {start: 0}
    for t in net.tensors:  # tensors are in creation order, a topological order
        ds = [depth[e.source] + (e.kind == "graph") for e in net.incoming(t) if e.source in depth]
        if t != start and ds:
            depth[t] = max(ds)
    return depth


def classifier_input(net: NetworkGraph) -> str:
    """Source tensor of the last graph edge feeding ``"output"`` (walking back non-graph edges)."""
    x = "output"
    while True:
        edges = net.incoming(x)
        if not edges:
            raise ValueError(f"network {net!r}: no graph edge feeds 'output'")
        graph = [e for e in edges if e.kind == "graph"]
        if graph:
            return graph[-1].source
        x = edges[-1].source


def _subset(rng: np.random.Generator, n: int) -> np.ndarray:
    k = int(rng.integers(max(1, math.ceil(n / 4)), n + 1))
    return np.sort(rng.choice(n, size=k, replace=False))


def deviation(net: NetworkGraph, source: str, target: str, samples: int) -> float:
    """Worst ``|count / prediction - 1|`` over ``samples`` seeded (source, target) set pairs."""
    n_in, n_t = net.widths[source], net.widths[target]
    worst = 0.0
    for seed in range(samples):
        rng = np.random.default_rng(seed)
        s, t = _subset(rng, n_in), _subset(rng, n_t)
        worst = max(worst, abs(path_deviation(net, source, s, target, t)))
    return worst


def row(name: str, samples: int, paths: bool) -> tuple[dict, dict]:
    t0 = time.perf_counter()
    net, graphs = network(name)
    parts = {k: certify(g, checks=LAYER_CHECKS) for k, g in graphs.items()}
    cert = certify_network(net, layer_certificates=parts)
    s = cert.summary
    reach = reach_fractions(net)
    stem = net.graph_edges[0].target  # output of the first graph layer
    reach_stem = reach_fractions(net, start=stem)
    cls = classifier_input(net)
    t1 = time.perf_counter()
    dev = deviation(net, "input", cls, samples) if paths else None
    dev_stem = deviation(net, stem, cls, samples) if paths else None
    t2 = time.perf_counter()
    depth = graph_depths(net, "input")
    curve = sorted(
        [
            (depth[t], reach[t], None if t == stem else reach_stem.get(t))
            for t in reach
            if t in depth and t != "input"
        ],
        key=lambda c: (c[0], c[1]),
    )
    out = {
        "model": name,
        "status": cert.status,
        "problems": [p for p in cert.problems() if not p.startswith("layers[")][:4],
        "failed_layers": sum(1 for c in parts.values() if not c.passed),
        "graph_layers": len(graphs),
        "tensors": len(net.tensors),
        "mixing_depth": s.get("mixing_depth"),
        "mixing_start": s.get("mixing_start"),
        "ideal": s.get("ideal"),
        "classifier_input": cls,
        "classifier_input_width": int(net.widths[cls]),
        "reach_classifier_input": round(float(reach[cls]), 6),
        "reach_output": s.get("reach_output"),
        "path_deviation_classifier_input": None if dev is None else float(dev),
        "stem": stem,
        "reach_stem_classifier_input": round(float(reach_stem[cls]), 6),
        "path_deviation_stem_classifier_input": None if dev_stem is None else float(dev_stem),
        "path_deviation_output_certificate": s.get("path_deviation"),
        "seconds_certify": round(t1 - t0, 3),
        "seconds_paths": round(t2 - t1, 3),
    }
    return out, {
        "depth": [c[0] for c in curve],
        "reach": [c[1] for c in curve],
        "reach_stem": [c[2] for c in curve],
    }


def timing(name: str, repeats: int) -> dict:
    """``certify_network`` time with per-layer certificates passed in and from scratch."""
    net, graphs = network(name)
    t0 = time.perf_counter()
    parts = {k: certify(g, checks=LAYER_CHECKS) for k, g in graphs.items()}
    layers_s = time.perf_counter() - t0
    passed, scratch = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        c1 = certify_network(net, layer_certificates=parts)
        passed.append(time.perf_counter() - t)
        t = time.perf_counter()
        c2 = certify_network(net, layer_checks=LAYER_CHECKS)
        scratch.append(time.perf_counter() - t)
    res = {
        "model": name,
        "graph_layers": len(graphs),
        "status": [c1.status, c2.status],
        "layer_certificates_s": round(layers_s, 3),
        "with_layer_certificates_s": round(min(passed), 3),
        "from_scratch_s": round(min(scratch), 3),
        "repeats": repeats,
        "goal_s": GOAL_S,
    }
    res["ratio_with_layer_certificates"] = round(res["with_layer_certificates_s"] / GOAL_S, 3)
    res["ratio_from_scratch"] = round(res["from_scratch_s"] / GOAL_S, 3)
    return res


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(PLOT_FAMILIES)
    fig, axes = plt.subplots(2, n, figsize=(5 * n, 7.2), squeeze=False)
    for j, fam in enumerate(PLOT_FAMILIES):
        for i, (key, frm) in enumerate((("reach", "input"), ("reach_stem", "stem output"))):
            ax = axes[i][j]
            for v, style in zip(VARIANTS[:3], ("o-", "s--", "^:")):
                c = curves.get(f"{v}-{fam}")
                if c is None:
                    continue
                lo = 0 if key == "reach" else 1  # the stem output and its copies sit at depth 1
                keep = [k for k, y in enumerate(c[key]) if y is not None and c["depth"][k] > lo]
                d = np.array([c["depth"][k] for k in keep])
                r = np.array([c[key][k] for k in keep])
                ds = np.unique(d)
                ax.plot(ds, [r[d == k].min() for k in ds], style, ms=3, label=f"{v}-{fam}")
            ax.set_title(f"{fam}: reach from {frm} (min per depth)", fontsize=9)
            ax.set_xlabel("graph-layer depth of tensor from input")
            ax.set_ylabel(f"reach fraction from {frm}")
            ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-paths", action="store_true")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "bench_network.json")
    args = ap.parse_args()
    t_all = time.perf_counter()
    rows, curves = [], {}
    for fam in FAMILIES:
        for v in VARIANTS:
            r, c = row(f"{v}-{fam}", args.samples, not args.no_paths)
            rows.append(r)
            curves[r["model"]] = c
            print(
                f"{r['model']:32s} {r['status']:10s} mix={r['mixing_depth']} "
                f"from {r['mixing_start']} ideal={r['ideal']} "
                f"reach@cls={r['reach_classifier_input']:.4f} "
                f"dev@cls={r['path_deviation_classifier_input']} "
                f"stem: reach@cls={r['reach_stem_classifier_input']:.4f} "
                f"dev@cls={r['path_deviation_stem_classifier_input']} "
                f"({r['seconds_certify']}s + {r['seconds_paths']}s)",
                flush=True,
            )
    timings = [timing(n, args.repeats) for n in TIMED]
    for t in timings:
        print(
            f"certify_network {t['model']}: {t['with_layer_certificates_s']}s with layer "
            f"certificates (ratio {t['ratio_with_layer_certificates']} of goal {GOAL_S}s), "
            f"{t['from_scratch_s']}s from scratch (ratio {t['ratio_from_scratch']})",
            flush=True,
        )
    if not args.no_plot:
        plot(curves, RESULTS / "network_reach.png")
    result = {
        "machine": machine_info(),
        "definitions": {
            "classifier_input": "source tensor of the last graph edge feeding 'output'",
            "path_deviation": "max |count/prediction - 1|, input -> classifier input, "
            f"random sets >= 25% of channels, {args.samples} seeds",
            "depth": "graph edges on the longest path from 'input'",
        },
        "rows": rows,
        "curves": {k: curves[k] for k in curves if any(k.endswith(f) for f in PLOT_FAMILIES)},
        "timing": timings,
        "total_s": round(time.perf_counter() - t_all, 1),
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out} in {result['total_s']}s")


if __name__ == "__main__":
    main()
