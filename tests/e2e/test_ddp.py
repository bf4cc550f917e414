"""DistributedDataParallel on CPU: torchrun with 2 gloo processes on a tiny model.

The 2-process run must follow the 1-process trajectory (same global batches,
gradients averaged over ranks), up to floating-point summation order, and only
rank 0 may write files.  The subprocess timeout only guards against a hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn

from compiler.train import TrainConfig, fit, load_checkpoint

TINY = textwrap.dedent(
    """
    import torch.nn as nn

    def mlp():
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10))
    """
)
ARGS = ["--data", "digits", "--limit", "240", "--batch-size", "32", "--epochs", "2"]
ARGS += ["--lr", "0.1", "--schedule", "cosine", "--seed", "5", "-q"]


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10))


def test_torchrun_two_processes_match_one(tmp_path):
    (tmp_path / "tiny_models_ddp.py").write_text(TINY)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(tmp_path))
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "compiler.train", "tiny_models_ddp:mlp", *ARGS, "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(os.listdir(out)) == [
        "best.pt",
        "curves.png",
        "last.pt",
        "metrics.csv",
        "metrics.json",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["seed"] == 5 and summary["epochs"] == 2
    assert load_checkpoint(out / "last.pt", mlp())["world_size"] == 2

    torch.set_num_threads(1)  # as the torchrun workers (OMP_NUM_THREADS=1)
    single = fit(
        mlp,
        "digits",
        TrainConfig(
            epochs=2, batch_size=32, lr=0.1, schedule="cosine", seed=5, limit=240, quiet=True
        ),
    )
    ddp = json.loads((out / "metrics.json").read_text())
    assert summary["train_samples"] == single["train_samples"] == 216  # even: no padding
    for a, b in zip(ddp, single["history"]):
        for key in ("train_loss", "val_loss"):
            assert a[key] == pytest.approx(b[key], rel=1e-4), key
        for key in ("train_acc", "val_acc"):
            assert a[key] == pytest.approx(b[key], abs=2 / 216), key
        assert a["lr"] == b["lr"]
    assert summary["test_acc"] == pytest.approx(single["test_acc"], abs=2 / 359)
