"""Run outputs: ``metrics.csv``/``metrics.json``, ``curves.png`` and ``summary.json``.

Conventions: every file is written atomically (:func:`compiler.train.checkpoint.atomic_write`)
and only by rank 0.  A metrics row holds :data:`COLUMNS`: the 1-based epoch, train
loss/accuracy, validation loss/accuracy, the learning rate, throughput in samples/s
and the epoch's seconds.

Example
-------
>>> import tempfile
>>> out = Path(tempfile.mkdtemp())
>>> write_metrics(out, [dict.fromkeys(COLUMNS, 1)])
>>> (out / "metrics.csv").read_text().splitlines()[1]
'1,1,1,1,1,1,1,1'
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .checkpoint import atomic_write

__all__ = ["COLUMNS", "write_metrics", "plot_curves", "write_summary", "current_summary"]

#: the per-epoch metrics, in the order of ``metrics.csv``'s columns
COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "throughput",
    "time",
)


def write_metrics(out: Path, history: list[dict]) -> None:
    """Write ``out/metrics.csv`` (the :data:`COLUMNS` of every row) and ``out/metrics.json``."""

    def write_csv(fh):
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        for row in history:
            w.writerow({k: row[k] for k in COLUMNS})

    atomic_write(out / "metrics.csv", write_csv, "w")
    atomic_write(out / "metrics.json", lambda fh: json.dump(history, fh, indent=1), "w")


def plot_curves(out: Path, history: list[dict], title: str) -> None:
    """Write ``out/curves.png``: loss, accuracy (train and validation) and lr against epoch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ep = [r["epoch"] for r in history]
    fig = Figure(figsize=(12, 3.6))
    FigureCanvasAgg(fig)
    ax = fig.subplots(1, 3)
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        ax[0].plot(ep, [r[key] for r in history], marker=".", label=label)
    for key, label in (("train_acc", "train"), ("val_acc", "validation")):
        ax[1].plot(ep, [r[key] for r in history], marker=".", label=label)
    ax[2].plot(ep, [r["lr"] for r in history], marker=".")
    for a, name in zip(ax, ("loss", "accuracy", "learning rate")):
        a.set_xlabel("epoch")
        a.set_ylabel(name)
        a.grid(alpha=0.3)
    ax[0].legend()
    ax[1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(out / "curves.png", lambda fh: fig.savefig(fh, format="png", dpi=100))


def write_summary(out: Path, summary: dict) -> None:
    """Write ``out/summary.json`` (indented JSON)."""
    atomic_write(out / "summary.json", lambda fh: json.dump(summary, fh, indent=1), "w")


def current_summary(out: Path, history: list, best: dict) -> dict | None:
    """``summary.json`` if it describes the checkpointed run (same history and best), else None.

    Example
    -------
    >>> import tempfile
    >>> current_summary(Path(tempfile.mkdtemp()), [], {}) is None
    True
    """
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("stopped"):
        return None
    if summary.get("epochs") != len(history) or summary.get("best_epoch") != best.get("epoch"):
        return None
    if json.loads(json.dumps(summary.get("history"))) != json.loads(json.dumps(history)):
        return None
    return summary
