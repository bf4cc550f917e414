"""Tests of the issue-15 experiment infrastructure (benchmarks/expander_vs_grouped.py)."""

from __future__ import annotations

import json
import math
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import expander_vs_grouped as evg  # noqa: E402

from compiler.data import Dataset  # noqa: E402

SHAPE = (1, 28, 28)


def _data(n: int = 160) -> Dataset:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    images = torch.rand(n, 1, 28, 28, generator=g) * 0.1
    images[torch.arange(n), 0, labels, labels] = 1.0  # learnable signal
    return Dataset("synthetic", images, labels, 10)


def _args(tmp_path: Path, cells: str) -> Namespace:
    return Namespace(
        out=str(tmp_path / "r.json"), epochs=1, cells=cells, seeds=[0], device="cpu", backend=None
    )


def test_quick_grid_then_skip_and_resume(tmp_path, capsys):
    train, test = _data(), _data(60)
    data = {"name": "synthetic", "train": 160, "test": 60}
    args = _args(tmp_path, "grouped-shuffle:1/8,random-mask:1/8,random-mask:1/16")
    rec = evg.run_grid(args, train, test, data)
    runs = list(rec["runs"].values())
    assert len(runs) == 3 and all(r["done"] for r in runs)
    masks = sorted((r for r in runs if r["variant"] == "random-mask"), key=lambda r: r["flops"])
    assert masks[0]["params"] < masks[1]["params"] < 36874
    assert all(len(r["val_curve"]) == 1 for r in runs)
    assert {r["variant"] for r in runs} == {"grouped-shuffle", "random-mask"}
    on_disk = json.loads(Path(args.out).read_text())
    assert set(on_disk["runs"]) == set(rec["runs"])
    capsys.readouterr()
    rec2 = evg.run_grid(args, train, test, data)
    assert capsys.readouterr().out.count("skip ") == 3
    assert rec2["runs"] == json.loads(json.dumps(rec["runs"]))
    # raising the epochs changes the identity: a new run, not a skip
    args.epochs = 2
    rec3 = evg.run_grid(args, train, test, data)
    assert len(rec3["runs"]) == 6


def test_run_id_changes_with_each_part():
    base = evg.run_id({"a": 1}, 0, {"d": 1}, {"lr": 0.1})
    assert base == evg.run_id({"a": 1}, 0, {"d": 1}, {"lr": 0.1})
    others = [
        evg.run_id({"a": 2}, 0, {"d": 1}, {"lr": 0.1}),
        evg.run_id({"a": 1}, 1, {"d": 1}, {"lr": 0.1}),
        evg.run_id({"a": 1}, 0, {"d": 2}, {"lr": 0.1}),
        evg.run_id({"a": 1}, 0, {"d": 1}, {"lr": 0.2}),
    ]
    assert len({base, *others}) == 5


def test_summarize_matches_hand_computed_paired_t():
    a, b = [0.90, 0.91, 0.93], [0.88, 0.90, 0.90]
    runs = []
    for v, accs in (("x-biregular", a), ("grouped", b)):
        for seed, acc in enumerate(accs):
            runs.append(
                {
                    "variant": v,
                    "density": "1/8",
                    "seed": seed,
                    "done": True,
                    "test_acc": acc,
                    "flops": 1,
                    "params": 1,
                    "throughput": 1.0,
                    "status": "passed",
                    "certificate": {"reach_fraction": 1.0, "mixing_depth": 3},
                }
            )
    rows, paired = evg.summarize(runs)
    x = next(r for r in rows if r["variant"] == "x-biregular")
    assert x["test_acc_mean"] == pytest.approx(np.mean(a))
    assert x["test_acc_std"] == pytest.approx(np.std(a, ddof=1))
    (d,) = [p for p in paired if p["pair"] == "x-biregular - grouped"]
    diff = np.subtract(a, b)
    t = diff.mean() / (diff.std(ddof=1) / math.sqrt(3))
    assert d["mean_diff"] == pytest.approx(diff.mean())
    assert d["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), df=2))
    assert d["significant_0.05"] == (d["p_value"] < 0.05)


def test_flops_equal_across_sparse_variants_and_check_raises():
    for density in ("1/8", "1/16"):
        flops = {}
        for v in evg.SPARSE:
            torch.manual_seed(0)
            m, info = evg.build_variant(v, density, 0, SHAPE)
            flops[v] = evg.nonzero_flops(m, SHAPE)
            assert info["status"]
        evg.check_flops(flops, density)
        lo, hi = min(flops.values()), max(flops.values())
        assert hi <= lo * 1.01
    with pytest.raises(RuntimeError, match="differ by more than 1%"):
        evg.check_flops({"a": 100, "b": 102}, "1/8")


def test_random_mask_density_and_fixed():
    m1, info = evg.build_variant("random-mask", "1/8", 3, SHAPE)
    m2, _ = evg.build_variant("random-mask", "1/8", 3, SHAPE)
    m3, _ = evg.build_variant("random-mask", "1/8", 4, SHAPE)
    kept = total = 0
    for i in evg.SPARSE_LAYERS:
        k1 = m1.layers[i].parametrizations.weight[0].mask
        assert torch.equal(k1, m2.layers[i].parametrizations.weight[0].mask)
        assert set(k1.unique().tolist()) <= {0.0, 1.0}
        kept, total = kept + int(k1.sum()), total + k1.numel()
    assert not torch.equal(
        m1.layers[30].parametrizations.weight[0].mask, m3.layers[30].parametrizations.weight[0].mask
    )
    # 30720 weights at p = 1/8: within 5 binomial standard deviations
    sd = math.sqrt(total * (1 / 8) * (7 / 8))
    assert abs(kept - total / 8) < 5 * sd and info["mask_draws"] >= 1
    # masked weights stay zero through an optimiser step
    opt = torch.optim.SGD(m1.parameters(), lr=0.5)
    m1(torch.rand(4, *SHAPE)).sum().backward()
    opt.step()
    w = m1.layers[30].weight
    assert bool((w[m1.layers[30].parametrizations.weight[0].mask == 0] == 0).all())


def test_certificate_metrics_known_cases():
    torch.manual_seed(0)
    dense, _ = evg.build_variant("dense", None, 0, SHAPE)
    grouped, _ = evg.build_variant("grouped", "1/16", 0, SHAPE)
    shuffled, _ = evg.build_variant("grouped-shuffle", "1/16", 0, SHAPE)
    cd, cg, cs = (evg.certificate_metrics(m) for m in (dense, grouped, shuffled))
    assert cd["reach_fraction"] == 1.0 and cd["mixing_depth"] == 1
    assert cd["path_deviation"] == 0.0
    # 1/16 grouped, no shuffle: 16 groups stay separate -> reach 1/16
    assert cg["reach_fraction"] == pytest.approx(1 / 16)
    assert cs["reach_fraction"] == 1.0


def test_parse_cells_errors():
    assert evg.parse_cells("x-random:0.125") == [("x-random", "1/8")]
    with pytest.raises(ValueError, match="unknown variant"):
        evg.parse_cells("nope:1/8")
    with pytest.raises(ValueError, match="needs a density"):
        evg.parse_cells("grouped")


def test_interrupted_run_resumes_from_checkpoint(tmp_path):
    train, test = _data(), _data(60)
    data = {"name": "synthetic", "train": 160, "test": 60}
    args = _args(tmp_path, "x-biregular:1/8")
    args.epochs, args.stop_after = 2, 1
    (run,) = evg.run_grid(args, train, test, data)["runs"].values()
    assert not run["done"] and len(run["val_curve"]) == 1
    args.stop_after = None
    (resumed,) = evg.run_grid(args, train, test, data)["runs"].values()
    assert resumed["done"] and len(resumed["val_curve"]) == 2
    assert resumed["val_curve"][0] == run["val_curve"][0]
    fresh = _args(tmp_path / "fresh", "x-biregular:1/8")
    fresh.epochs = 2
    (tmp_path / "fresh").mkdir()
    (full,) = evg.run_grid(fresh, train, test, data)["runs"].values()
    assert full["val_curve"] == resumed["val_curve"]


def test_plots_include_the_epoch_curves(tmp_path):
    runs = {
        f"r{seed}{v}": {
            "variant": v,
            "density": "1/8",
            "seed": seed,
            "done": True,
            "test_acc": 0.9,
            "flops": 10,
            "params": 5,
            "throughput": 1.0,
            "status": "passed",
            "val_curve": [0.5 + 0.1 * seed, 0.7, 0.8],
            "certificate": {"reach_fraction": 1.0, "mixing_depth": 3},
        }
        for seed in range(2)
        for v in ("x-biregular", "grouped")
    }
    record = {"runs": runs}
    record["summary"], record["paired"] = evg.summarize(list(runs.values()))
    paths = evg.plot(record, tmp_path / "exp")
    names = sorted(p.name for p in paths)
    assert names == sorted(
        f"exp_{k}.png" for k in ("density", "flops", "reach", "mixing_depth", "curves")
    )
    assert all(p.stat().st_size > 1000 for p in paths)
