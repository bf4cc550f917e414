"""Do certified expanders beat grouped convolutions at equal sparsity?  (issue 15)

Full Fashion-MNIST 28x28: 54,000 train / 6,000 validation (fixed stratified split,
``split_seed=0``) / 10,000 test, evaluated once with the best-validation weights.
Augmentation: random crop after zero padding by 3 and horizontal flip (``fit``'s
``augment``, a tensor transform seeded by ``(seed, epoch)``).

Network: ``VARIANT-mobilenet-small`` (:mod:`compiler.models`) at its default width
(stem 16, pointwise widths 32, 64, 64, 128, 128); the four sparse pointwise convs
hold 2,408,448 of the dense network's 3,290,944 MACs (73%).

Variants (cells ``VARIANT:DENSITY``, densities 1/8 and 1/16), all compiled with
:func:`compiler.models.build`:

* ``x-biregular`` (``x_graph="biregular"``), ``x-random`` (the paper's
  ``random-bipartite``), ``grouped``, ``grouped-shuffle`` (recorded override);
* ``random-mask``: the dense network with fixed seeded 0/1 masks on the sparse
  layers' weights (every weight, kernel taps included, kept independently with
  probability = density; a draw whose FLOPs miss the X-Net's by more than 1% is
  redrawn, and the number of draws recorded); its channel graph is the set of
  (out, in) pairs with a kept tap;
* ``dense`` (density-independent).

FLOPs are MACs of non-zero weights (``compiler.counting.count``, masks counted);
all sparse variants of one density must agree within 1% or the run stops.
Every run is stored in the JSON under its identity (sha256 of spec, seed, data and
recipe); a rerun skips finished runs and resumes an interrupted one from
``RUNS/ID/last.pt``.  Beside accuracy every run records the certificate status and
:func:`certificate_metrics` of the model that was trained.

Usage::

    python3 benchmarks/expander_vs_grouped.py --quick
    python3 benchmarks/expander_vs_grouped.py --seeds 0,1,2 --epochs 30
    python3 benchmarks/expander_vs_grouped.py --cells x-biregular:1/8,grouped:1/8 --seeds 0

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018, §5.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from compiler import models  # noqa: E402
from compiler.counting import count  # noqa: E402
from compiler.data import Dataset, load_dataset  # noqa: E402
from compiler.network import ChannelShuffle, expander_layers, extract_graphs  # noqa: E402
from compiler.train import TrainConfig, fit  # noqa: E402
from expandergraph import BipartiteGraph, LayeredGraph  # noqa: E402

VARIANTS = ("x-biregular", "x-random", "grouped", "grouped-shuffle", "random-mask", "dense")
SPARSE = VARIANTS[:-1]
DENSITIES = ("1/8", "1/16")
RESULTS = ROOT / "benchmarks" / "results"
FLOPS_TOL = 0.01
#: indices (in ``XNet.layers``) of the sparse pointwise convs of ``mobilenet-small``
SPARSE_LAYERS = (12, 18, 24, 30)
RECIPE = dict(
    batch_size=128,
    lr=0.1,
    momentum=0.9,
    nesterov=True,
    weight_decay=5e-4,
    schedule="cosine",
    label_smoothing=0.1,
    augment=True,
    val_fraction=0.1,
    split_seed=0,
)


class _Mask(nn.Module):
    """Parametrization ``w -> w * mask`` with a fixed 0/1 buffer (saved in checkpoints)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w * self.mask


def parse_cells(text: str | None) -> list[tuple[str, str | None]]:
    """``"x-biregular:1/8,dense"`` -> ``[("x-biregular", "1/8"), ("dense", None)]``.

    Example
    -------
    >>> parse_cells("grouped:1/16,dense")
    [('grouped', '1/16'), ('dense', None)]
    """
    if not text:
        return [(v, d) for d in DENSITIES for v in SPARSE] + [("dense", None)]
    cells = []
    for item in text.split(","):
        v, _, d = item.strip().partition(":")
        if v not in VARIANTS:
            raise ValueError(f"--cells: unknown variant {v!r} (one of {', '.join(VARIANTS)})")
        if v == "dense":
            cells.append((v, None))
            continue
        if not d:
            raise ValueError(f"--cells: {item!r} needs a density, e.g. {v}:1/8")
        x = models.blocks.parse_density(d, "--cells density")
        cells.append((v, f"{x.numerator}/{x.denominator}"))
    return cells


def _name_opts(variant: str, density: str | None, seed: int, shape, backend) -> tuple:
    base = {"seed": seed, "input_shape": list(shape), "num_classes": 10, "backend": backend}
    if variant in ("dense", "random-mask"):
        return "dense-mobilenet-small", base
    opts = {**base, "density": density}
    if variant.startswith("x-"):
        opts["x_graph"] = "biregular" if variant == "x-biregular" else "random-bipartite"
        return "x-mobilenet-small", opts
    return f"{variant}-mobilenet-small", opts


def _flops_target(density: str, seed: int, shape) -> int:
    name, opts = _name_opts("x-biregular", density, seed, shape, None)
    return count(models.build(name, allow_uncertified=True, **opts), tuple(shape))["flops"]


def add_masks(model: nn.Module, density: str, seed: int, draw: int = 0) -> nn.Module:
    """Mask every weight of the sparse layers, kept independently with probability ``density``."""
    p = float(Fraction(density))
    gen = torch.Generator().manual_seed(1_000_003 * seed + 7919 * draw + 15)
    for i in SPARSE_LAYERS:
        layer = model.layers[i]
        mask = (torch.rand(layer.weight.shape, generator=gen) < p).to(layer.weight.dtype)
        parametrize.register_parametrization(layer, "weight", _Mask(mask))
    return model


def build_variant(variant: str, density: str | None, seed: int, shape, backend=None):
    """``(model, info)``: the compiled variant and its certificate status (and mask draws)."""
    name, opts = _name_opts(variant, density, seed, shape, backend)
    info: dict = {"model": name, "options": {k: v for k, v in opts.items() if k != "backend"}}
    try:
        model = models.build(name, **opts)
    except ValueError as exc:  # e.g. D=2 layers failing spectral_expansion at 1/16
        model = models.build(name, allow_uncertified=True, **opts)
        info["refused"] = str(exc).splitlines()[0][:300]
    if variant == "random-mask":
        target = _flops_target(density, seed, shape)
        for draw in range(100):
            trial = add_masks(models.build(name, **opts), density, seed, draw)
            if abs(nonzero_flops(trial, shape) / target - 1) <= FLOPS_TOL:
                model, info["mask_draws"] = trial, draw + 1
                break
        else:
            raise RuntimeError("random-mask: no draw within 1% of the X-Net's FLOPs")
    info["certified"] = bool(getattr(model, "certified", False))
    override = getattr(model, "override", None)
    info["override"] = None if override is None else str(override)[:500]
    info["status"] = "passed" if info["certified"] and override is None else "uncertified"
    if variant == "random-mask":
        info["status"] = "masked dense (the dense model's certificate; the mask is not certified)"
    return model, info


def nonzero_flops(model: nn.Module, shape) -> int:
    """MACs of non-zero weights; masked layers count their kept weights only."""
    c = count(model, tuple(shape))
    total = c["flops"]
    for i in SPARSE_LAYERS if hasattr(model, "layers") else ():
        layer = model.layers[i]
        if parametrize.is_parametrized(layer, "weight"):
            w = layer.weight
            rec = next(r for r in c["layers"] if r["name"] == f"layers[{i}]")
            total += int(rec["flops"] * (w != 0).sum().item() / w.numel()) - rec["flops"]
    return int(total)


def _masked_out(model: nn.Module) -> int:
    """Number of weights a random mask removes (0 without masks)."""
    return sum(
        int((m.parametrizations.weight[0].mask == 0).sum())
        for m in model.modules()
        if parametrize.is_parametrized(m, "weight")
    )


def check_flops(flops: dict[str, int], density: str) -> None:
    """Raise ``RuntimeError`` unless all sparse variants' FLOPs agree within 1%."""
    lo, hi = min(flops.values()), max(flops.values())
    if hi > lo * (1 + FLOPS_TOL):
        raise RuntimeError(f"FLOPs at density {density} differ by more than 1%: {flops}")


def _layer_graphs(model: nn.Module) -> list[BipartiteGraph]:
    """Chain of channel graphs in call order, shuffles folded in, masks applied."""
    graphs = dict(extract_graphs(model))
    names = dict(expander_layers(model))
    inv = {id(m): n for n, m in names.items()}
    chain: list[BipartiteGraph] = []
    for m in model.modules():
        if id(m) in inv:
            g = graphs[inv[id(m)]]
            if parametrize.is_parametrized(m, "weight"):
                keep = (m.weight.detach() != 0).flatten(2).any(2).numpy()
                idx = m.index.numpy()
                rows, cols = np.nonzero(keep)
                g = BipartiteGraph.from_edges(g.left, g.right, idx[rows, cols], rows)
            chain.append(g)
        elif isinstance(m, ChannelShuffle) and chain:
            prev = chain[-1]
            c = prev.right
            j = np.arange(c)  # output j*g+i is input i*C/g+j: new node of old node o
            perm = (j % (c // m.groups)) * m.groups + j // (c // m.groups)
            rows = np.repeat(np.arange(c), prev.right_degrees())
            chain[-1] = BipartiteGraph.from_edges(prev.left, c, prev.indices, perm[rows])
    return chain


def certificate_metrics(model: nn.Module, pairs: int = 64) -> dict:
    """Mixing depth, reach fraction and path-count deviation of the trained model's graph.

    Measured on the sparse part: from the input of the first sparse layer
    (``layers[1]``, the dense first pointwise conv's output) to the classifier's
    input (``layers[5]``).  From the network input everything is trivially mixed
    by the dense stem and first pointwise conv.  The graph is the chain of the
    model's channel graphs (depthwise convs, BN, ReLU and pooling are identity on
    channels; shuffles folded in); with :mod:`expandergraph.network_guarantees`
    present it is wrapped as a ``NetworkGraph`` (``NetworkGraph.from_layered``;
    the own chain keeps shuffles and masks, which the extracted graph omits),
    else :func:`expandergraph.mixing.reachability` on the chain
    (no path deviation then).  Path deviation: the largest ``|count/prediction-1|``
    over ``pairs`` seeded single (source, target) channel pairs.
    """
    lg = LayeredGraph(_layer_graphs(model))
    src, dst = "layers[1]", f"layers[{len(lg.layers) - 2}]"
    if importlib.util.find_spec("expandergraph.network_guarantees") is None:
        from expandergraph.mixing import reachability

        r = reachability(lg, 2)
        return {
            "method": "mixing.reachability (chain)",
            "mixing_depth": r.reach_depth,
            "reach_fraction": float(r.reach_fraction[len(lg.layers) - 4]),
            "path_deviation": None,
        }
    from expandergraph import network_guarantees as ng
    from expandergraph.network import NetworkGraph

    net = NetworkGraph.from_layered(lg)
    mix = ng.mixing_depth(net, src)
    rng = np.random.default_rng(0)
    ns, nt = net.widths[src], net.widths[dst]
    devs = [
        abs(ng.path_deviation(net, src, [int(rng.integers(ns))], dst, [int(rng.integers(nt))]))
        for _ in range(pairs)
    ]
    return {
        "method": "network_guarantees (NetworkGraph)",
        "from": src,
        "to": dst,
        "mixing_depth": mix.depth,
        "ideal_depth": mix.ideal,
        "reach_fraction": float(ng.reach_fraction(net, src, dst)),
        "path_deviation": float(max(devs)),
    }


def run_id(spec: dict, seed: int, data: dict, recipe: dict) -> str:
    """sha256 (16 hex digits) of the canonical JSON of ``(spec, seed, data, recipe)``."""
    blob = json.dumps([spec, seed, data, recipe], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _atomic_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    os.replace(tmp, path)


def load_data(quick: bool, data_dir: str) -> tuple[Dataset, Dataset, dict]:
    """Full train/test (or a stratified quick subset) and the data description."""
    train = load_dataset("fashion-mnist", data_dir, split="train")
    test = load_dataset("fashion-mnist", data_dir, split="test")
    if quick:
        train = train.subset(np.arange(1200))
        test = test.subset(np.arange(500))
    desc = {"name": "fashion-mnist", "train": len(train), "test": len(test)}
    return train, test, desc


def run_grid(args, train: Dataset, test: Dataset, data: dict) -> dict:
    """Run (or skip/resume) every ``(cell, seed)``; returns the results record."""
    out = Path(args.out)
    runs_dir = Path(getattr(args, "runs_dir", None) or out.parent / (out.stem + "_runs"))
    fresh = getattr(args, "fresh", False) or not out.is_file()
    record = {"runs": {}} if fresh else json.loads(out.read_text())
    if not isinstance(record.get("runs"), dict):  # the pre-issue-15 format: start afresh
        record = {"runs": {}}
    shape = tuple(train.shape)
    recipe = {**RECIPE, "epochs": args.epochs}
    cells = parse_cells(args.cells)
    record.update(
        benchmark="expander_vs_grouped",
        network="VARIANT-mobilenet-small, stem 16, pointwise 32,64,64,128,128",
        data=data,
        recipe=recipe,
        backend=args.backend,
        device=args.device,
        machine=platform.platform(),
        cpu_count=os.cpu_count(),
        cuda=torch.cuda.get_device_name(0) if args.device == "cuda" else None,
        torch=torch.__version__,
        threads=torch.get_num_threads(),
    )
    for seed in args.seeds:
        by_density: dict[str, dict[str, int]] = {}
        for variant, density in cells:
            torch.manual_seed(seed)
            model, info = build_variant(variant, density, seed, shape, args.backend)
            flops = nonzero_flops(model, shape)
            if density is not None:
                by_density.setdefault(density, {})[variant] = flops
                check_flops(by_density[density], density)
            name, opts = _name_opts(variant, density, seed, shape, None)
            opts.pop("backend")
            spec = models.spec(name, **opts)
            rid = run_id({"variant": variant, "density": density, "spec": spec}, seed, data, recipe)
            if record["runs"].get(rid, {}).get("done"):
                print(f"skip {variant}:{density} seed {seed} ({rid}, finished)", flush=True)
                continue
            run_dir = runs_dir / rid
            cfg = TrainConfig(
                **recipe,
                seed=seed,
                out=str(run_dir),
                resume=(run_dir / "last.pt").is_file(),
                device=args.device,
                stop_after=getattr(args, "stop_after", None),
                quiet=True,
            )
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            s = fit(lambda m=model: m, (train, test), cfg)
            hist = s["history"]
            record["runs"][rid] = {
                "variant": variant,
                "density": density,
                "seed": seed,
                "done": "test_acc" in s,
                "test_acc": s.get("test_acc"),
                "best_val_acc": s["best_val_acc"],
                "best_epoch": s["best_epoch"],
                "val_curve": [r["val_acc"] for r in hist],
                "params": count(model, shape)["params"] - _masked_out(model),
                "flops": flops,
                # the median epoch: robust to an epoch slowed by another job
                "throughput": statistics.median(r["throughput"] for r in hist),
                "seconds": time.perf_counter() - t0,
                "load_avg_1min": [load0, os.getloadavg()[0]],
                **info,
                "certificate": certificate_metrics(model),
            }
            r = record["runs"][rid]
            if not r["done"]:
                print(f"{variant}:{density} seed {seed}: stopped after {len(hist)} epochs")
                _atomic_json(out, record)
                continue
            print(
                f"{variant}:{density} seed {seed}: test {r['test_acc']:.4f} val "
                f"{r['best_val_acc']:.4f} {flops} MACs {r['throughput']:.0f}/s "
                f"{r['status']} reach {r['certificate']['reach_fraction']:.3f}",
                flush=True,
            )
            record["summary"], record["paired"] = summarize(list(record["runs"].values()))
            _atomic_json(out, record)
    record["summary"], record["paired"] = summarize(list(record["runs"].values()))
    _atomic_json(out, record)
    return record


def summarize(runs: list[dict]) -> tuple[list[dict], list[dict]]:
    """Mean ± std per cell, and paired X − baseline differences with ``ttest_rel`` p-values."""
    from scipy.stats import ttest_rel

    runs = [r for r in runs if r.get("done")]
    cells: dict[tuple, list[dict]] = {}
    for r in runs:
        cells.setdefault((r["variant"], r["density"]), []).append(r)
    rows = []
    for (v, d), rs in sorted(cells.items(), key=lambda kv: (str(kv[0][1]), kv[0][0])):
        acc = [r["test_acc"] for r in rs]
        rows.append(
            {
                "variant": v,
                "density": d,
                "n": len(rs),
                "test_acc_mean": statistics.fmean(acc),
                "test_acc_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                "flops": rs[0]["flops"],
                "params": rs[0]["params"],
                "throughput_mean": statistics.fmean(r["throughput"] for r in rs),
                "status": sorted({r["status"] for r in rs}),
                "reach_fraction": statistics.fmean(r["certificate"]["reach_fraction"] for r in rs),
                "mixing_depth": [r["certificate"]["mixing_depth"] for r in rs],
            }
        )
    paired = []
    for x in ("x-biregular", "x-random"):
        for base in ("grouped", "grouped-shuffle", "random-mask"):
            for d in sorted({r["density"] for r in runs if r["density"]}):
                a = {r["seed"]: r["test_acc"] for r in cells.get((x, d), [])}
                b = {r["seed"]: r["test_acc"] for r in cells.get((base, d), [])}
                seeds = sorted(set(a) & set(b))
                if not seeds:
                    continue
                diffs = [a[s] - b[s] for s in seeds]
                p = None
                if len(seeds) > 1 and len(set(diffs)) > 1:
                    p = float(ttest_rel([a[s] for s in seeds], [b[s] for s in seeds]).pvalue)
                paired.append(
                    {
                        "pair": f"{x} - {base}",
                        "density": d,
                        "seeds": seeds,
                        "diffs": diffs,
                        "mean_diff": statistics.fmean(diffs),
                        "p_value": p,
                        "significant_0.05": p is not None and p < 0.05,
                    }
                )
    return rows, paired


def plot(record: dict, stem: Path) -> list[Path]:
    """Accuracy vs density, FLOPs, reach fraction and mixing depth (one PNG each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = record.get("summary", [])
    panels = {
        "density": lambda r: 1 / float(Fraction(r["density"])) if r["density"] else 1.0,
        "flops": lambda r: r["flops"],
        "reach": lambda r: r["reach_fraction"],
        "mixing_depth": lambda r: statistics.fmean(
            [m if m is not None else 8 for m in r["mixing_depth"]]
        ),
    }
    paths = []
    for key, fx in panels.items():
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for v in VARIANTS:
            rs = [r for r in rows if r["variant"] == v]
            if rs:
                ax.errorbar(
                    [fx(r) for r in rs],
                    [100 * r["test_acc_mean"] for r in rs],
                    yerr=[100 * r["test_acc_std"] for r in rs],
                    marker="o",
                    capsize=3,
                    ls="",
                    label=v,
                )
        ax.set_xlabel(
            {
                "density": "1 / density",
                "flops": "MACs (non-zero weights)",
                "reach": "reach fraction, first sparse input -> classifier input",
                "mixing_depth": "mixing depth (never mixed plotted at 8)",
            }[key]
        )
        if key in ("density", "flops"):
            ax.set_xscale("log")
        ax.set_ylabel("test accuracy (%)")
        paths.append(_save(fig, ax, stem, key, plt, legend=7))
    paths.append(_plot_curves(record, stem, plt))
    return paths


def _save(fig, ax, stem: Path, key: str, plt, legend: int) -> Path:
    """Grid, legend, tight layout; write ``<stem>_<key>.png`` and close the figure."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend)
    fig.tight_layout()
    path = stem.parent / f"{stem.name}_{key}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_curves(record: dict, stem: Path, plt) -> Path:
    """Validation accuracy per epoch, mean over seeds, one line per cell: the plateau."""
    cells: dict[tuple, list[list[float]]] = {}
    for r in record.get("runs", {}).values():
        if r.get("done") and r.get("val_curve"):
            cells.setdefault((r["variant"], r["density"]), []).append(r["val_curve"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for (v, d), curves in sorted(cells.items(), key=lambda kv: (str(kv[0][1]), kv[0][0])):
        m = min(len(c) for c in curves)
        mean = [100 * statistics.fmean(c[i] for c in curves) for i in range(m)]
        ls = "-" if d in (None, "1/8") else "--"
        ax.plot(range(1, m + 1), mean, ls, label=f"{v} {d or ''} (n={len(curves)})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%), mean over seeds")
    return _save(fig, ax, stem, "curves", plt, legend=6)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke test on a small subset")
    p.add_argument("--cells", default=None, help="e.g. x-biregular:1/8,grouped:1/8,dense")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--backend", default="auto", help="expander backend (default: auto)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default=None, help="results JSON")
    p.add_argument(
        "--runs-dir", default=None, help="checkpoints (default runs/expander_vs_grouped)"
    )
    args = p.parse_args(argv)
    try:
        args.seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds: {args.seeds!r} must be comma-separated integers")
    if args.quick:
        args.epochs = args.epochs or 1
        args.cells = args.cells or ",".join(f"{v}:1/8" for v in SPARSE) + ",dense"
        args.seeds = args.seeds[:1] if argv is None or "--seeds" not in argv else args.seeds
    args.epochs = args.epochs or 30
    args.fresh = args.quick  # the smoke test always trains
    if args.quick and args.runs_dir is None:
        import tempfile

        args.runs_dir = tempfile.mkdtemp(prefix="evg-quick-")
    args.runs_dir = args.runs_dir or str(ROOT / "runs" / "expander_vs_grouped")
    stem = "expander_vs_grouped_quick" if args.quick else "expander_vs_grouped"
    args.out = args.out or str(RESULTS / f"{stem}.json")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    train, test, data = load_data(args.quick, args.data_dir)
    record = run_grid(args, train, test, data)
    out = Path(args.out)
    plot(record, out.parent / out.stem)
    for r in record["summary"]:
        print(
            f"{r['variant']:>16} {r['density']!s:>5}: {100 * r['test_acc_mean']:.2f} ± "
            f"{100 * r['test_acc_std']:.2f} % (n={r['n']}) {r['flops']} MACs {r['status']}"
        )
    for d in record["paired"]:
        print(f"{d['pair']} @ {d['density']}: {d['mean_diff']:+.4f} p={d['p_value']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
