"""The training loop: :func:`fit` runs the epochs, checkpoints each one and resumes exactly.

Conventions
-----------
* **Model selection** uses the validation accuracy (the first epoch with the highest
  one wins).  The test set is evaluated **once**, at the end, with the best weights;
  the model is left holding those weights.
* **Loss.** The training loss is cross-entropy with ``label_smoothing``; the
  validation and test losses are plain cross-entropy.
* **Resume** continues exactly: on CPU, a run interrupted after ``k`` epochs and
  resumed gives bitwise the same metrics and weights as an uninterrupted run (with
  the same number of threads; CPU kernels are deterministic then).  On the GPU
  ``torch.use_deterministic_algorithms(True, warn_only=True)`` is set for the run.
* **Several processes.** ``batch_size`` is the *global* batch: each of the ``W``
  ranks takes ``batch_size / W`` samples of every batch (the epoch permutation,
  padded to a multiple of ``W``, dealt out round-robin), so ``W`` processes follow
  the same trajectory as one, up to floating-point summation order.

Reference: Prabhu, Varma and Namboodiri, *Deep Expander Networks*, ECCV 2018, section 5
(training recipe); Sutskever et al., *On the importance of initialization and momentum
in deep learning*, ICML 2013 (Nesterov momentum).

Example
-------
>>> import torch.nn as nn
>>> net = lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
>>> r = fit(net, "digits", TrainConfig(epochs=1, lr=0.05, limit=200, quiet=True))
>>> r["epochs"], "test_acc" in r
(1, True)
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import DATASETS, Dataset, load_dataset, stratified_split, validation_split
from .checkpoint import (
    TEMP_RE,
    certificates_json,
    check_same_model,
    load_checkpoint,
    model_fingerprints,
    network_fingerprint,
    remove_stale_temps,
    save_checkpoint,
)
from .config import TrainConfig, first_line
from .distributed import Dist, all_reduce, barrier, init_dist
from .factory import resolve_model
from .identity import check_resume, identity_mismatch, run_identity
from .outputs import current_summary, plot_curves, write_metrics, write_summary
from .rng import augment, rng_state, seed_everything, set_rng_state, stream_seed
from .schedule import lr_at

__all__ = ["fit", "deterministic"]

#: cuBLAS workspace setting that makes its GEMMs deterministic (NVIDIA cuBLAS docs,
#: "Results reproducibility")
CUBLAS_WORKSPACE = ":4096:8"


def _progress(iterable, total: int, desc: str, show: bool):
    if not show:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True)


class _Runner:
    """Everything one :func:`fit` call needs per step; keeps ``fit`` readable."""

    def __init__(self, cfg, model, core, optimizer, scaler, device, flatten, dist, show):
        self.cfg, self.model, self.core = cfg, model, core
        self.optimizer, self.scaler, self.device = optimizer, scaler, device
        self.flatten, self.dist, self.show = flatten, dist, show
        self.amp = cfg.amp
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp)

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) if self.flatten else x

    def train_epoch(self, data: Dataset, epoch: int) -> tuple[float, float, int]:
        cfg, d = self.cfg, self.dist
        self.model.train()
        n = len(data)
        perm = torch.randperm(
            n, generator=torch.Generator().manual_seed(stream_seed(cfg.seed, epoch, 0))
        )
        if d.world > 1:
            total = -(-n // d.world) * d.world
            perm = torch.cat([perm, perm[: total - n]])[d.rank :: d.world]
        aug = torch.Generator().manual_seed(stream_seed(cfg.seed, epoch, 1, d.rank))
        local = cfg.batch_size // d.world
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        starts = range(0, perm.shape[0], local)
        for i in _progress(starts, len(starts), f"epoch {epoch + 1}/{cfg.epochs}", self.show):
            idx = perm[i : i + local].to(data.images.device)
            x, y = data.images[idx], data.labels[idx]
            if cfg.augment:
                x = augment(x, aug)
            with self._autocast():
                out = self.model(self._prep(x))
                loss = self.criterion(out.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            with torch.no_grad():
                sums[0] += loss.detach().double() * y.shape[0]
                sums[1] += (out.argmax(1) == y).sum()
                sums[2] += y.shape[0]
        loss_sum, correct, count = all_reduce(sums, d).tolist()
        if not math.isfinite(loss_sum):
            raise FloatingPointError(f"training diverged: loss is {loss_sum} in epoch {epoch + 1}")
        return loss_sum / count, correct / count, int(count)

    @torch.no_grad()
    def evaluate(self, data: Dataset, sharded: bool = True) -> tuple[float, float]:
        d = self.dist
        self.core.eval()
        idx_all = torch.arange(len(data), device=data.images.device)
        if sharded and d.world > 1:
            idx_all = idx_all[d.rank :: d.world]
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        step = self.cfg.eval_batch_size
        starts = range(0, idx_all.shape[0], step)
        for i in _progress(starts, len(starts), "eval", self.show):
            idx = idx_all[i : i + step]
            x, y = data.images[idx], data.labels[idx]
            with self._autocast():
                out = self.core(self._prep(x)).float()
            sums[0] += F.cross_entropy(out, y, reduction="sum").double()
            sums[1] += (out.argmax(1) == y).sum()
            sums[2] += y.shape[0]
        if sharded:
            all_reduce(sums, d)
        loss_sum, correct, count = sums.tolist()
        return loss_sum / max(count, 1), correct / max(count, 1)


def _log(d: Dist, cfg: TrainConfig, msg: str) -> None:
    if d.main and not cfg.quiet:
        print(msg, flush=True)


def _resolve_data(data, cfg: TrainConfig) -> tuple[Dataset, Dataset | None, str]:
    if isinstance(data, str):
        train = load_dataset(data, cfg.data_dir, split="train")
        test = load_dataset(data, cfg.data_dir, split="test")
        return train, test, data
    if isinstance(data, Dataset):
        return data, None, data.name
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], Dataset):
        if data[1] is not None and not isinstance(data[1], Dataset):
            raise ValueError("data: the test part of (train, test) must be a Dataset or None")
        return data[0], data[1], data[0].name
    raise ValueError(
        f"data: expected a dataset name ({', '.join(DATASETS)}), a Dataset or (train, test)"
    )


def _check_output(core: nn.Module, train: Dataset, flatten: bool, device) -> None:
    core.eval()
    x = train.images[:2].to(device)
    with torch.no_grad():
        try:
            out = core(x.flatten(1) if flatten else x)
        except RuntimeError as exc:
            raise ValueError(
                f"model: forward pass on {train.name} images of shape {list(train.shape)} "
                f"failed ({first_line(exc)})"
            ) from None
    if out.ndim != 2 or out.shape[1] != train.num_classes:
        raise ValueError(
            f"model: output has shape {list(out.shape)}, expected (N, {train.num_classes}) "
            f"for {train.name}"
        )


def _cpu_state(module: nn.Module) -> dict:
    return {
        k: v.detach().to("cpu", copy=True) if isinstance(v, torch.Tensor) else copy.deepcopy(v)
        for k, v in module.state_dict().items()
    }


def _to_device(ds: Dataset, device: torch.device) -> Dataset:
    if ds.images.device == device:
        return ds
    return Dataset(ds.name, ds.images.to(device), ds.labels.to(device), ds.num_classes)


def _load_best(
    path: Path, core: nn.Module, best: dict, epoch: int, identity: dict | None = None
) -> dict | None:
    if best["epoch"] == 0:
        return None
    if not path.is_file():
        raise ValueError(f"resume: {path} is missing (best epoch {best['epoch']})")
    ck = load_checkpoint(path)
    check_same_model(core, ck, path)
    if identity is not None and "identity" in ck:
        why = identity_mismatch(ck["identity"], identity)
        if why:
            raise ValueError(f"resume: {path} belongs to another run: {why}")
    if ck.get("epoch") != best["epoch"] and ck.get("epoch", 0) <= epoch:
        raise ValueError(
            f"resume: {path} holds epoch {ck.get('epoch')}, but the best epoch is {best['epoch']}"
        )
    return {
        k: v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)
        for k, v in ck["model"].items()
    }


@contextlib.contextmanager
def deterministic(device_type: str) -> Iterator[None]:
    """Ask for deterministic kernels for the duration of a run on ``device_type``.

    On ``"cuda"`` it sets ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (cuBLAS needs it for
    reproducible GEMMs; a value already in the environment is kept) and turns on
    ``torch.use_deterministic_algorithms(True, warn_only=True)``; on exit both are put
    back as they were (the variable is removed again if this call set it).  On
    ``"cpu"`` nothing is changed: CPU kernels are deterministic at a fixed thread count.

    Reference: NVIDIA cuBLAS documentation, "Results reproducibility".

    Example
    -------
    >>> with deterministic("cpu"):
    ...     torch.are_deterministic_algorithms_enabled()
    False
    """
    if device_type != "cuda":
        yield
        return
    set_env = "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    if set_env:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    prev = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
        if set_env:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def fit(
    model: nn.Module | Callable[..., nn.Module] | str,
    data: str | Dataset | tuple[Dataset, Dataset | None],
    config: TrainConfig | None = None,
    *,
    model_options: dict | None = None,
) -> dict:
    """Train ``model`` on ``data`` under ``config``; return the summary dict.

    ``model`` is a ``torch.nn.Module``, a factory (called after seeding, with
    those of ``num_classes``, ``input_shape``, ``seed`` and ``model_options``
    it accepts), or a name or spec path for :func:`compiler.train.build_model`.
    ``data`` is a dataset name (train and test splits are loaded with
    ``config.data_dir``), a training :class:`Dataset`, or ``(train, test)``
    with ``test`` possibly ``None``.  The validation split is carved from
    the training data; the test set is evaluated once at the end with the
    best weights.  See :mod:`compiler.train` for checkpoints, resume and DDP;
    on the GPU the run is made deterministic by :func:`deterministic`.

    The result holds ``test_acc``, ``test_loss``, ``best_epoch``,
    ``best_val_acc``, ``params``, ``seed``, ``fingerprints`` and the per-epoch
    ``history`` (and ``stopped: True`` and no test metrics when
    ``config.stop_after`` ended the call early).

    Reference: Prabhu et al., ECCV 2018, section 5 (training recipe).

    Example
    -------
    >>> net = lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    >>> r = fit(net, "digits", TrainConfig(epochs=2, lr=0.05, limit=200, quiet=True))
    >>> r["best_epoch"] in (1, 2), len(r["history"])
    (True, 2)
    """
    cfg = replace(config or TrainConfig())
    cfg.validate()
    device_type = cfg.device_type()
    with deterministic(device_type):
        d = init_dist(device_type)
        try:
            if cfg.batch_size % d.world:
                raise ValueError(
                    f"batch_size: {cfg.batch_size} must be divisible by the {d.world} processes"
                )
            return _fit(model, data, cfg, d, device_type, dict(model_options or {}))
        finally:
            if d.owner:
                import torch.distributed as dist

                dist.destroy_process_group()


def _check_out(cfg: TrainConfig, out: Path | None, last: Path | None) -> None:
    """Refuse an output directory that would mix runs (one-line ``ValueError``)."""
    if out is not None and out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} exists and is not a directory")
    if cfg.resume and last is None:
        raise ValueError("resume: needs an output directory (out) holding last.pt")
    if cfg.resume and not last.is_file():
        raise ValueError(f"resume: no checkpoint at {last} to resume from")
    if out and not cfg.resume and not cfg.overwrite:
        if last.exists() or (out / "summary.json").exists():
            raise ValueError(
                f"out: {out} already holds a run; pass --resume to continue it or --overwrite"
            )
        if out.is_dir() and any(not TEMP_RE.match(f.name) for f in out.iterdir()):
            raise ValueError(
                f"out: {out} is not empty and holds no run; nothing was touched "
                "(choose an empty directory or pass --overwrite)"
            )


def _fit(model, data, cfg: TrainConfig, d: Dist, device_type: str, options: dict) -> dict:
    started = time.perf_counter()
    device = torch.device(f"cuda:{d.local_rank}" if device_type == "cuda" else "cpu")
    train_full, test, data_name = _resolve_data(data, cfg)
    if cfg.limit is not None and cfg.limit < len(train_full):
        _, keep = stratified_split(train_full.labels.numpy(), cfg.limit / len(train_full), 0)
        train_full = train_full.subset(keep)
    try:
        train, val = validation_split(train_full, cfg.val_fraction, cfg.split_seed)
    except ValueError:
        raise ValueError(
            f"val_fraction: {cfg.val_fraction} of {len(train_full)} training samples leaves "
            "an empty training or validation set"
        ) from None
    out = Path(cfg.out) if cfg.out else None
    last = out / "last.pt" if out else None
    _check_out(cfg, out, last)

    seed_everything(cfg.seed)
    core, flatten, model_name = resolve_model(model, cfg, train, options)
    core = core.to(device)
    _check_output(core, train, flatten, device)
    train, val = _to_device(train, device), _to_device(val, device)
    params = int(sum(p.numel() for p in core.parameters()))
    fingerprints = model_fingerprints(core)
    optimizer = torch.optim.SGD(
        core.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
    )
    scaler = torch.amp.GradScaler(device_type, enabled=cfg.amp)
    history: list[dict] = []
    best = {"val_acc": -1.0, "val_loss": math.inf, "epoch": 0}
    best_state = None
    start = 0
    identity = run_identity(core, cfg, data_name)
    if cfg.resume:
        ck = load_checkpoint(last, core)
        check_resume(ck, cfg, data_name, last)
        if "identity" in ck:
            why = identity_mismatch(ck["identity"], identity)
            if why:
                raise ValueError(f"resume: {last} belongs to another run: {why}")
        optimizer.load_state_dict(ck["optimizer"])
        if ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        history, best, start = list(ck["history"]), dict(ck["best"]), int(ck["epoch"])
        best_state = _load_best(out / "best.pt", core, best, start, identity)
        set_rng_state(ck["rng"])
        if start >= cfg.epochs and (previous := current_summary(out, history, best)):
            _log(d, cfg, f"{out} already completed {start} epochs; nothing to do")
            return previous
        # otherwise a missing or stale summary.json: finish the final evaluation and rewrite it
        _log(d, cfg, f"resumed {last} at epoch {start} (best val acc {best['val_acc']:.4f})")
    if out and d.main:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(out)
    net = core
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(core, device_ids=[d.local_rank] if device_type == "cuda" else None)

    show = d.main and not cfg.quiet and sys.stderr.isatty()
    runner = _Runner(cfg, net, core, optimizer, scaler, device, flatten, d, show)
    meta = {
        "model_name": model_name,
        "data": data_name,
        "flatten": flatten,
        "fingerprints": fingerprints,
        "network_fingerprint": network_fingerprint(core),
        "certificates": certificates_json(core),
        "world_size": d.world,
        "torch_version": str(torch.__version__),
        "identity": identity,
    }
    ran = 0
    epoch = start
    for epoch in range(start, cfg.epochs):
        if cfg.stop_after is not None and ran >= cfg.stop_after:
            break
        lr = lr_at(epoch, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        t0 = time.perf_counter()
        train_loss, train_acc, seen = runner.train_epoch(train, epoch)
        t_train = time.perf_counter() - t0
        val_loss, val_acc = runner.evaluate(val)
        row = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "throughput": seen / max(t_train, 1e-9),
            "time": time.perf_counter() - t0,
        }
        history.append(row)
        improved = val_acc > best["val_acc"]
        if improved:
            best = {"val_acc": val_acc, "val_loss": val_loss, "epoch": epoch + 1}
            best_state = _cpu_state(core)
        ran += 1
        if out and d.main:
            payload = {
                **meta,
                "epoch": epoch + 1,
                "model": _cpu_state(core),
                "optimizer": optimizer.state_dict(),
                "scheduler": {
                    "schedule": cfg.schedule,
                    "milestones": cfg.default_milestones(),
                    "gamma": cfg.gamma,
                    "epochs": cfg.epochs,
                    "lr": lr,
                },
                "scaler": scaler.state_dict() if cfg.amp else None,
                "rng": rng_state(),
                "best": best,
                "history": history,
                "config": cfg.to_dict(),
            }
            if improved:
                save_checkpoint(out / "best.pt", payload)
            save_checkpoint(last, payload)
            write_metrics(out, history)
        _log(
            d,
            cfg,
            f"epoch {epoch + 1}/{cfg.epochs}  train loss {train_loss:.4f} acc {train_acc:.4f}  "
            f"val loss {val_loss:.4f} acc {val_acc:.4f}  lr {lr:.4g}  "
            f"{row['throughput']:.0f} samples/s",
        )
    done = len(history) >= cfg.epochs
    summary = {
        "model": model_name,
        "data": data_name,
        "seed": cfg.seed,
        "params": params,
        "fingerprints": fingerprints,
        "identity": identity["id"],
        "certified": getattr(core, "certified", None),
        "override": getattr(core, "override", None),
        "epochs": len(history),
        "best_epoch": best["epoch"],
        "best_val_acc": best["val_acc"],
        "best_val_loss": best["val_loss"],
        "train_samples": len(train),
        "val_samples": len(val),
        "world_size": d.world,
        "device": str(device),
        "config": cfg.to_dict(),
        "history": history,
    }
    if not done:
        summary["stopped"] = True
    else:
        if best_state is not None:
            core.load_state_dict(best_state)
        if test is not None and d.main:
            test_loss, test_acc = runner.evaluate(_to_device(test, device), sharded=False)
            summary.update(test_acc=test_acc, test_loss=test_loss, test_samples=len(test))
            _log(
                d, cfg, f"test acc {test_acc:.4f} loss {test_loss:.4f} (best epoch {best['epoch']})"
            )
        summary["seconds"] = time.perf_counter() - started
    if out and d.main:
        if history:
            plot_curves(out, history, f"{model_name} on {data_name} (seed {cfg.seed})")
        if done:
            write_summary(out, summary)
    barrier(d)
    return summary
