"""Do expanders beat grouped convolutions at equal sparsity?  (Fashion-MNIST)

Trains the small MobileNet-style network ``VARIANT-mobilenet-small`` of
:mod:`compiler.models` (3x3 stem, five depthwise-separable blocks, every
pointwise 1x1 conv but the first sparse) in four variants:

* ``x``: random expander 1x1 convs (the X-Net),
* ``grouped``: grouped 1x1 convs with the same number of weights,
* ``grouped-shuffle``: grouped + channel shuffle (ShuffleNet-style),
* ``dense``: the original network (density-independent, trained once per seed),

at densities 1/4, 1/8 and 1/16, with several seeds each, the *same* epochs,
schedule and hyperparameters for every run (SGD + Nesterov, cosine schedule,
``compiler.train.fit``).  The model of each run is selected on a validation
split carved from the training subset; the test set (all 10,000 images) is
evaluated once at the end.  Reports mean ± std test accuracy, parameters and
FLOPs (MACs of non-zero weights, ``compiler.counting.count``) and training
throughput (samples/s, mean over epochs), and the machine load average
(the machine may be shared: throughput numbers are only comparable within a run).

Usage::

    python3 benchmarks/expander_vs_grouped.py --quick      # smoke test, ~1 min
    python3 benchmarks/expander_vs_grouped.py              # full run

writes ``benchmarks/results/expander_vs_grouped.json`` and ``.png`` (the quick
mode writes ``*_quick.json``/``.png``).

Reference: Prabhu, Varma and Namboodiri, "Deep Expander Networks", ECCV 2018,
§5 (expanders vs grouped convolutions on MobileNet, ~4% better at equal
sparsity).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from compiler import models  # noqa: E402
from compiler.counting import count  # noqa: E402
from compiler.data import load_dataset  # noqa: E402
from compiler.train import TrainConfig, fit  # noqa: E402

VARIANTS = ("x", "grouped", "grouped-shuffle", "dense")
DENSITIES = ("1/4", "1/8", "1/16")
RESULTS = ROOT / "benchmarks" / "results"


def _mean_std(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def _runs(variants, densities, seeds):
    for seed in seeds:
        for density in densities:
            for v in variants:
                if v != "dense":
                    yield v, density, seed
        if "dense" in variants:
            yield "dense", None, seed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny smoke test")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--limit", type=int, default=None, help="training images used (with val)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest when shared)"
    )
    p.add_argument(
        "--size", type=int, default=14, help="image side after average pooling (28: none)"
    )
    p.add_argument("--backend", default="masked", help="expander backend for every variant")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default=None, help="JSON path (default under benchmarks/results)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    epochs = args.epochs or (1 if args.quick else 4)
    limit = args.limit or (600 if args.quick else 12000)
    seeds = list(range(1 if args.quick else args.seeds))
    densities = DENSITIES[:1] if args.quick else DENSITIES
    stem = "expander_vs_grouped_quick" if args.quick else "expander_vs_grouped"
    out_json = Path(args.out) if args.out else RESULTS / f"{stem}.json"
    out_png = out_json.with_suffix(".png")
    out_json.parent.mkdir(parents=True, exist_ok=True)

    train = load_dataset("fashion-mnist", args.data_dir, split="train")
    test = load_dataset("fashion-mnist", args.data_dir, split="test")
    if args.quick:
        test = test.subset(torch.arange(1000).numpy())
    if 28 % args.size:
        raise ValueError(f"--size: {args.size} must divide 28")
    train, test = _downsample(train, 28 // args.size), _downsample(test, 28 // args.size)
    cfg = dict(
        epochs=epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule="cosine",
        weight_decay=5e-4,
        limit=limit,
        val_fraction=1 / 6,
        split_seed=0,
        quiet=True,
    )
    record = {
        "benchmark": "expander_vs_grouped",
        "network": "VARIANT-mobilenet-small (compiler.models.mobilenet)",
        "data": "fashion-mnist",
        "train_images_incl_val": limit,
        "val_fraction": 1 / 6,
        "test_images": len(test),
        "train_config": cfg,
        "seeds": seeds,
        "densities": list(densities),
        "variants": list(VARIANTS),
        "image_size": args.size,
        "backend": args.backend,
        "torch_threads": args.threads,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "load_avg_start": os.getloadavg(),
        "runs": [],
        "summary": [],
    }
    t_start = time.perf_counter()
    todo = list(_runs(VARIANTS, densities, seeds))
    for i, (variant, density, seed) in enumerate(todo, 1):
        name = f"{variant}-mobilenet-small"
        opts = {
            "seed": seed,
            "input_shape": list(train.shape),
            "num_classes": 10,
            "backend": args.backend,
        }
        if density is not None:
            opts["density"] = density
        probe = models.build(name, **opts)
        c = count(probe, tuple(train.shape))
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        summary = fit(
            lambda name=name, opts=opts: models.build(name, **opts),
            (train, test),
            TrainConfig(seed=seed, **cfg),
        )
        hist = summary["history"]
        run = {
            "variant": variant,
            "density": density,
            "seed": seed,
            "test_acc": summary["test_acc"],
            "best_val_acc": summary["best_val_acc"],
            "best_epoch": summary["best_epoch"],
            "params": c["params"],
            "flops": c["flops"],
            "dense_flops": c["dense_flops"],
            "throughput": statistics.fmean(r["throughput"] for r in hist),
            "seconds": time.perf_counter() - t0,
            "load_avg_1min": [load0, os.getloadavg()[0]],
            "certified": summary.get("certified"),
            "override": summary.get("override"),
        }
        record["runs"].append(run)
        print(
            f"[{i}/{len(todo)}] {name} density={density} seed={seed}: test acc "
            f"{run['test_acc']:.4f} (val {run['best_val_acc']:.4f}), {run['flops']} MACs, "
            f"{run['params']} params, {run['throughput']:.0f} samples/s, "
            f"{run['seconds']:.0f} s, load {load0:.1f}",
            flush=True,
        )
        _summarize(record)
        record["elapsed_s"] = time.perf_counter() - t_start
        record["load_avg_end"] = os.getloadavg()
        out_json.write_text(json.dumps(record, indent=1))
    _plot(record, out_png)
    print(f"wrote {out_json} and {out_png} in {record['elapsed_s']:.0f} s")
    for row in record["summary"]:
        print(
            f"{row['variant']:>16} density={row['density']!s:>5}: "
            f"{100 * row['test_acc_mean']:.2f} ± {100 * row['test_acc_std']:.2f} % "
            f"({row['n']} seeds), {row['flops']} MACs, {row['params']} params, "
            f"{row['throughput_mean']:.0f} samples/s"
        )
    return 0


def _downsample(ds, factor: int):
    """``factor x factor`` average pooling of every image (``factor == 1``: unchanged)."""
    if factor == 1:
        return ds
    images = torch.nn.functional.avg_pool2d(ds.images, factor)
    return type(ds)(ds.name, images.contiguous(), ds.labels, ds.num_classes)


def _summarize(record: dict) -> None:
    groups: dict[tuple, list[dict]] = {}
    for r in record["runs"]:
        groups.setdefault((r["variant"], r["density"]), []).append(r)
    rows = []
    for (variant, density), rs in groups.items():
        m, s = _mean_std([r["test_acc"] for r in rs])
        vm, vs = _mean_std([r["best_val_acc"] for r in rs])
        rows.append(
            {
                "variant": variant,
                "density": density,
                "n": len(rs),
                "test_acc_mean": m,
                "test_acc_std": s,
                "val_acc_mean": vm,
                "val_acc_std": vs,
                "params": rs[0]["params"],
                "flops": rs[0]["flops"],
                "throughput_mean": statistics.fmean(r["throughput"] for r in rs),
            }
        )
    record["summary"] = rows


def _plot(record: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    rows = record["summary"]
    dense = [r for r in rows if r["variant"] == "dense"]
    for variant, marker in (("x", "o"), ("grouped", "s"), ("grouped-shuffle", "^")):
        rs = sorted(
            (r for r in rows if r["variant"] == variant),
            key=lambda r: -eval(r["density"]),  # noqa: S307 - our own "1/8" strings
        )
        if not rs:
            continue
        xs = [int(r["density"].split("/")[1]) for r in rs]
        ys = [100 * r["test_acc_mean"] for r in rs]
        es = [100 * r["test_acc_std"] for r in rs]
        ax1.errorbar(xs, ys, yerr=es, marker=marker, capsize=3, label=variant)
        ax2.errorbar(
            [r["flops"] for r in rs], ys, yerr=es, marker=marker, capsize=3, ls="", label=variant
        )
    for r in dense:
        ax1.axhline(100 * r["test_acc_mean"], color="k", ls="--", label="dense")
        ax2.errorbar(
            [r["flops"]],
            [100 * r["test_acc_mean"]],
            yerr=[100 * r["test_acc_std"]],
            marker="*",
            color="k",
            capsize=3,
            ls="",
            label="dense",
        )
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("1 / density (g)")
    ax1.set_ylabel("test accuracy (%)")
    ax1.set_title("Fashion-MNIST, mean ± std over seeds")
    ax2.set_xscale("log")
    ax2.set_xlabel("MACs per image (non-zero weights)")
    ax2.set_title("accuracy vs FLOPs")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
