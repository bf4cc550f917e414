"""Training engine: SGD with Nesterov momentum, atomic checkpoints, exact resume, DDP.

Conventions
-----------
* **One seed** (``TrainConfig.seed``) fixes everything: it is written into a
  spec's top-level ``seed`` (so it fixes the expander graphs), seeds python,
  numpy and torch before the model is built, and seeds the data order: epoch
  ``e`` shuffles with a ``torch.Generator`` seeded from ``(seed, e)``.  The
  validation split is a fixed stratified ``val_fraction`` of the training set
  (seed ``split_seed``, 0 by default), so every run seed sees the same split.
* **Model selection** uses the validation accuracy (the first epoch with the
  highest one wins).  The test set is evaluated **once**, at the end, with the
  best weights; the model is left holding those weights.
* **Loss.** The training loss is cross-entropy with ``label_smoothing``; the
  validation and test losses are plain cross-entropy.
* **Learning rate** is a pure function of the epoch (:func:`lr_at`): ``step``
  multiplies by ``gamma`` at each milestone (default: 50% and 75% of the
  epochs, the paper's 150/225 of 300), ``cosine`` anneals to 0 over the epochs.
  ``--resume`` may raise ``epochs``; the schedule then uses the new total from
  the next epoch on (exact for ``cosine``'s first epoch and fixed milestones).
* **Checkpoints.** After every epoch ``RUN/last.pt`` is written atomically
  (temporary file in the same directory, fsync, ``os.replace``), and
  ``RUN/best.pt`` too when validation accuracy improved.  A checkpoint is a
  dict of tensors and plain python values only (loadable with
  ``torch.load(weights_only=True)``): weights (which include the compiled
  layers' index tables), optimiser, schedule and grad-scaler state, the
  python/numpy/torch RNG states, epoch, best validation metric and its epoch,
  the metric history, the configuration, the graph fingerprints and the
  certificates' JSON, and a sha256 digest of all of it.
* **Resume** continues exactly: on CPU, a run interrupted after ``k`` epochs and
  resumed gives bitwise the same metrics and weights as an uninterrupted run
  (with the same number of threads; CPU kernels are deterministic then).  On
  the GPU ``torch.use_deterministic_algorithms(True, warn_only=True)`` is set
  for the run, which makes it reproducible as far as the kernels allow.
* **Outputs** in the run directory: ``last.pt``, ``best.pt``, ``metrics.csv`` and
  ``metrics.json`` (per epoch: train loss/acc, val loss/acc, lr, throughput in
  samples/s, seconds), ``curves.png`` and, at the end, ``summary.json``.
* **Several processes.** Under ``torchrun`` (``WORLD_SIZE > 1``) the model runs in
  ``DistributedDataParallel`` (gloo on CPU, nccl on GPU).  ``batch_size`` is
  the *global* batch: each of the ``W`` ranks takes ``batch_size / W`` samples
  of every batch (the epoch permutation, padded to a multiple of ``W``, dealt
  out round-robin), so ``W`` processes follow the same trajectory as one, up to
  floating-point summation order (BatchNorm statistics stay per rank).  Only
  rank 0 writes files.

Command line::

    python3 -m compiler.train compiler/specs/tiny-mlp.yaml --data digits --epochs 20 \
        --lr 0.05 --schedule cosine --seed 1 --out runs/tiny
    python3 -m compiler.train compiler/specs/tiny-mlp.yaml --data digits --epochs 40 \
        --lr 0.05 --schedule cosine --seed 1 --out runs/tiny --resume
    torchrun --nproc_per_node=2 -m compiler.train compiler/specs/tiny-cnn.yaml \
        --data fashion-mnist --batch-size 128 --out runs/cnn

``NAME_OR_SPEC`` is a spec file, a ``compiler.models`` name (``-O KEY=VALUE``
passes options to it) or ``package.module:function`` (a model factory).

Reference: Prabhu, Varma and Namboodiri, *Deep Expander Networks*, ECCV 2018
(training recipe); Sutskever et al., *On the importance of initialization and
momentum in deep learning*, ICML 2013 (Nesterov momentum); Loshchilov and
Hutter, *SGDR*, ICLR 2017 (cosine schedule).

Example
-------
>>> import torch.nn as nn
>>> net = lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
>>> cfg = TrainConfig(epochs=1, batch_size=64, lr=0.05, limit=300, quiet=True)
>>> result = fit(net, "digits", cfg)
>>> sorted(k for k in result if k.startswith("test_"))
['test_acc', 'test_loss', 'test_samples']
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import importlib
import inspect
import io
import json
import math
import os
import random
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import DATASETS, Dataset, load_dataset, stratified_split, validation_split

__all__ = [
    "TrainConfig",
    "fit",
    "lr_at",
    "build_model",
    "save_checkpoint",
    "load_checkpoint",
    "model_fingerprints",
    "add_train_command",
    "add_train_arguments",
    "train_main",
    "main",
]

#: format tag stored in every checkpoint
FORMAT = "xnets.checkpoint/1"
_SCHEDULES = ("step", "cosine")
_BACKENDS = ("gather", "masked", "triton")
_DEVICES = ("cpu", "cuda", "auto")
_SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# changing these on --resume would change what the run means
_RESUME_FIXED = ("seed", "batch_size", "limit", "val_fraction", "split_seed")
# the hyperparameters that define a run (``epochs`` may grow on --resume, so it is not one)
_IDENTITY_HYPER = _RESUME_FIXED + (
    "lr",
    "momentum",
    "nesterov",
    "weight_decay",
    "schedule",
    "milestones",
    "gamma",
    "label_smoothing",
    "augment",
    "amp",
)


def run_identity(model: nn.Module, config, data_name: str) -> dict:
    """What a run *is*: hashes of the canonical spec (every field), the data and the recipe.

    ``model``: the sha256 of the model's canonical spec (sorted-key JSON of every field,
    activations included) when it has one, else of its class, parameter names and shapes
    and graph fingerprints; ``network``: the network certificate's fingerprint;
    ``data``: the data description; ``hyper``: the hyperparameters that define the run
    (:data:`_IDENTITY_HYPER`); ``id``: the sha256 over all of them.  Every checkpoint
    carries it; ``--resume`` and the best checkpoint must match it.
    """
    import hashlib

    def digest(obj) -> str:
        text = json.dumps(obj, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    spec = getattr(model, "spec", None)
    if spec is not None and getattr(spec, "raw", None) is not None:
        model_part = digest({"spec": spec.raw})
    else:
        shapes = [[k, list(v.shape)] for k, v in model.state_dict().items() if hasattr(v, "shape")]
        model_part = digest(
            {"class": type(model).__name__, "shapes": shapes, "graphs": model_fingerprints(model)}
        )
    certs = getattr(model, "certificates", None) or {}
    network = certs.get("network").fingerprint if "network" in certs else None
    hyper = {k: getattr(config, k) for k in _IDENTITY_HYPER}
    ident = {"model": model_part, "network": network, "data": data_name, "hyper": hyper}
    ident["id"] = digest(ident)
    return ident


def _identity_mismatch(old: dict, new: dict) -> str | None:
    """A readable description of how two run identities differ (``None`` if they match)."""
    if old.get("id") == new.get("id"):
        return None
    for key in ("model", "network", "data"):
        if old.get(key) != new.get(key):
            what = "spec" if key == "model" else key
            return f"the {what} differs ({str(old.get(key))[:16]} vs {str(new.get(key))[:16]})"
    for k in _IDENTITY_HYPER:
        a, b = (old.get("hyper") or {}).get(k), (new.get("hyper") or {}).get(k)
        if a != b:
            return f"{k} differs ({a!r} vs {b!r})"
    return "the run identity differs"


# -- configuration ---------------------------------------------------------------
@dataclass
class TrainConfig:
    """Hyperparameters and run options of :func:`fit` (defaults: the paper's CIFAR recipe).

    ``milestones=None`` means 50% and 75% of ``epochs``; ``backend=None`` keeps
    each spec layer's own backend (default ``gather``); ``limit`` keeps a fixed
    stratified subset of that many training samples (before the validation
    split); ``stop_after`` ends this call after that many epochs, as if the run
    were interrupted (for resume tests); ``out=None`` writes no files.

    Example
    -------
    >>> TrainConfig(epochs=300).validate().default_milestones()
    [150, 225]
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    schedule: str = "step"
    milestones: list[int] | None = None
    gamma: float = 0.1
    label_smoothing: float = 0.0
    amp: bool = False
    seed: int = 0
    out: str | None = None
    resume: bool = False
    overwrite: bool = False
    backend: str | None = None
    device: str = "cpu"
    data_dir: str | None = None
    limit: int | None = None
    val_fraction: float = 0.1
    split_seed: int = 0
    augment: bool = False
    eval_batch_size: int = 512
    stop_after: int | None = None
    allow_uncertified: bool = False
    quiet: bool = False

    def default_milestones(self) -> list[int]:
        """The milestones in use: the given ones, or 50% and 75% of ``epochs``."""
        if self.milestones is not None:
            return list(self.milestones)
        return sorted({m for m in (self.epochs // 2, (3 * self.epochs) // 4) if m >= 1})

    def validate(self) -> TrainConfig:
        """Return ``self`` after checking every field; raise ``ValueError`` naming the field."""
        for name in ("epochs", "batch_size", "eval_batch_size"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name}: {v!r} must be an integer >= 1")
        for name in ("seed", "split_seed"):
            v = getattr(self, name)
            if not _is_int(v) or v < 0:
                raise ValueError(f"{name}: {v!r} must be an integer >= 0")
        for name in ("limit", "stop_after"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 1):
                raise ValueError(f"{name}: {v!r} must be an integer >= 1 (or None)")
        if not _finite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr: {self.lr!r} must be a finite number > 0")
        if not _finite(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum: {self.momentum!r} must lie in [0, 1)")
        if self.nesterov and self.momentum == 0:
            raise ValueError("momentum: Nesterov momentum needs momentum > 0 (or nesterov=False)")
        if not _finite(self.weight_decay) or self.weight_decay < 0:
            raise ValueError(f"weight_decay: {self.weight_decay!r} must be a finite number >= 0")
        if self.schedule not in _SCHEDULES:
            raise ValueError(f"schedule: {self.schedule!r} must be one of {', '.join(_SCHEDULES)}")
        if self.milestones is not None:
            ms = list(self.milestones)
            if not all(_is_int(m) and m >= 1 for m in ms) or any(
                b <= a for a, b in zip(ms, ms[1:])
            ):
                raise ValueError(f"milestones: {ms} must be strictly increasing epoch numbers >= 1")
            self.milestones = ms
        if not _finite(self.gamma) or not 0 < self.gamma <= 1:
            raise ValueError(f"gamma: {self.gamma!r} must lie in (0, 1]")
        if not _finite(self.label_smoothing) or not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing: {self.label_smoothing!r} must lie in [0, 1)")
        if not _finite(self.val_fraction) or not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction: {self.val_fraction!r} must lie in (0, 1)")
        if self.backend is not None and self.backend not in _BACKENDS:
            raise ValueError(f"backend: {self.backend!r} must be one of {', '.join(_BACKENDS)}")
        if self.device not in _DEVICES:
            raise ValueError(f"device: {self.device!r} must be one of {', '.join(_DEVICES)}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device: 'cuda' requested but torch.cuda.is_available() is False")
        if self.amp and self._device_type() != "cuda":
            raise ValueError("amp: mixed precision runs on the GPU only; use --device cuda")
        return self

    def _device_type(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def to_dict(self) -> dict:
        return asdict(self)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _finite(v) -> bool:
    return isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v))


def lr_at(epoch: int, config: TrainConfig) -> float:
    """Learning rate of 0-based ``epoch`` under ``config``'s schedule.

    ``step``: ``lr * gamma ** #{m in milestones : epoch >= m}`` (as
    ``torch.optim.lr_scheduler.MultiStepLR``); ``cosine``:
    ``lr * (1 + cos(pi * epoch / epochs)) / 2`` (as ``CosineAnnealingLR`` with
    ``T_max=epochs``, ``eta_min=0``).

    Reference: Loshchilov and Hutter, *SGDR*, ICLR 2017.

    Example
    -------
    >>> cfg = TrainConfig(epochs=300, lr=0.1)
    >>> [round(lr_at(e, cfg), 6) for e in (0, 149, 150, 225)]
    [0.1, 0.1, 0.01, 0.001]
    """
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
    drops = sum(1 for m in config.default_milestones() if epoch >= m)
    return config.lr * config.gamma**drops


# -- checkpoints -----------------------------------------------------------------
def _digest(obj, h=None) -> str:
    """sha256 over a nested structure of dicts, lists, tensors and scalars."""
    top = h is None
    h = hashlib.sha256() if top else h
    if isinstance(obj, dict):
        h.update(b"{")
        for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
            h.update(repr(k).encode() + b":")
            _digest(obj[k], h)
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for v in obj:
            _digest(v, h)
        h.update(b"]")
    elif isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    else:
        h.update(repr(obj).encode())
    return h.hexdigest() if top else ""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - not all platforms can open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    path = Path(path)
    tmp = str(path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never follow or reuse an existing name; 0o666 & ~umask like open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


_PLAIN = (str, int, float, bool, type(None))


def _check_plain(obj, where: str) -> None:
    """Refuse anything that ``torch.load(weights_only=True)`` would not load back."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if type(k) not in _PLAIN:
                raise ValueError(f"checkpoint: {where} has a key of type {type(k).__name__}")
            _check_plain(v, f"{where}[{k!r}]")
    elif isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
    elif not (type(obj) in _PLAIN or isinstance(obj, torch.Tensor)):
        raise ValueError(
            f"checkpoint: {where} is a {type(obj).__name__}; only tensors, dicts, lists, "
            "str, int, float, bool and None are allowed"
        )


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write a checkpoint dict atomically, adding the format tag and a sha256 digest.

    The payload may hold only what ``torch.load(weights_only=True)`` accepts
    (tensors, dicts, lists, str, int, float, bool, None); anything else is a
    ``ValueError`` that names where it sits.  It is written to a
    temporary file in the same directory, fsynced, then moved over ``path``
    with ``os.replace``, so ``path`` always holds either the old or the new
    checkpoint, never a partial one.

    Reference: the POSIX ``rename`` atomicity guarantee (IEEE Std 1003.1).

    Example
    -------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.pt")
    >>> save_checkpoint(p, {"epoch": 1, "w": torch.ones(2)})
    >>> load_checkpoint(p)["epoch"]
    1
    """
    body = {k: v for k, v in payload.items() if k != "digest"}
    _check_plain(body, "payload")
    body["format"] = FORMAT
    body["digest"] = _digest(body)
    buf = io.BytesIO()
    torch.save(body, buf)
    _atomic_write(Path(path), lambda fh: fh.write(buf.getvalue()))


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, safely; optionally load its weights.

    Uses ``torch.load(weights_only=True)``, so no code in the file can run.
    Raises a one-line ``ValueError`` for a missing, truncated or corrupted file
    (the stored sha256 digest must match), a foreign file (no xnets format
    tag), or, when ``model`` is given, a checkpoint of a different model
    (parameter names, shapes or graph fingerprints differ).  With ``model``,
    its ``state_dict`` is loaded (strictly) from the checkpoint.

    Example
    -------
    >>> import tempfile, os
    >>> net = nn.Linear(3, 2)
    >>> p = os.path.join(tempfile.mkdtemp(), "c.pt")
    >>> save_checkpoint(p, {"epoch": 0, "model": net.state_dict()})
    >>> sorted(load_checkpoint(p, nn.Linear(3, 2))["model"])
    ['bias', 'weight']
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"checkpoint: {p} does not exist")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or unsafe files
        text = str(exc)
        m = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if m:
            raise ValueError(
                f"checkpoint: {p} holds objects that weights-only loading refuses (it "
                f"needs the global {m.group(1)}, which is not allowed); no code in it ran"
            ) from None
        if re.search(r"Unsupported class|Trying to (call|instantiate|set)", text):
            raise ValueError(
                f"checkpoint: {p} holds objects that weights-only loading refuses "
                f"({_first_line(exc).split('. ')[0][:120]}); no code in it ran"
            ) from None
        raise ValueError(
            f"checkpoint: {p} is corrupt or not a torch file ({_first_line(exc).split('. ')[0]})"
        ) from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise ValueError(f"checkpoint: {p} is not an xnets checkpoint (no format tag {FORMAT!r})")
    body = {k: v for k, v in ck.items() if k != "digest"}
    if ck.get("digest") != _digest(body):
        raise ValueError(f"checkpoint: {p} is corrupt (content digest mismatch)")
    if model is not None:
        _check_same_model(model, ck, p)
        model.load_state_dict(ck["model"])
    return ck


def _check_same_model(model: nn.Module, ck: dict, path: Path) -> None:
    theirs = ck.get("model")
    if not isinstance(theirs, dict):
        raise ValueError(f"checkpoint: {path} holds no model weights")
    ours = model.state_dict()
    missing = [k for k in ours if k not in theirs]
    extra = [k for k in theirs if k not in ours]
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has unexpected {extra[0]!r}"
        raise ValueError(f"checkpoint: {path} is for a different model (it {what})")
    for k, v in ours.items():
        if not isinstance(v, torch.Tensor):  # extra state, checked by the module itself
            continue
        if not isinstance(theirs[k], torch.Tensor) or tuple(theirs[k].shape) != tuple(v.shape):
            raise ValueError(
                f"checkpoint: {path} is for a different model ({k!r} has shape "
                f"{list(getattr(theirs[k], 'shape', []))} there, {list(v.shape)} here)"
            )
    fp_theirs, fp_ours = ck.get("fingerprints") or [], model_fingerprints(model)
    if fp_theirs and fp_ours and list(fp_theirs) != list(fp_ours):
        i = next(
            (i for i, (a, b) in enumerate(zip(fp_theirs, fp_ours)) if a != b),
            min(len(fp_theirs), len(fp_ours)),
        )
        raise ValueError(
            f"checkpoint: {path} is for a different model (graph fingerprint {i} differs)"
        )


# -- models ----------------------------------------------------------------------
def _cert_fingerprints(cert) -> list[str]:
    if cert is None:
        return []
    if isinstance(cert, dict):
        # an XNet's {"layers[i]": layer cert, ..., "network": layered cert}: the layers
        layers = [
            c for c in cert.values() if getattr(c, "kind", None) not in ("layered", "network")
        ]
        return [f for c in (layers or cert.values()) for f in _cert_fingerprints(c)]
    if isinstance(cert, (list, tuple)):
        return [f for c in cert for f in _cert_fingerprints(c)]
    parts = getattr(cert, "parts", None)
    if parts:
        return [f for c in parts for f in _cert_fingerprints(c)]
    fp = getattr(cert, "fingerprint", None)
    return [str(fp)] if fp else []


def model_fingerprints(model: nn.Module) -> list[str]:
    """Graph fingerprints of a model's expander layers, in order (``[]`` for a plain model).

    Read from ``model.certificates``: a dict (an ``XNet``'s ``{"layers[i]":
    certificate, ..., "network": layered certificate}``) yields its per-layer
    certificates' fingerprints in order, the layered ones only when it has no
    other; a layered certificate yields one fingerprint per part; a list is
    concatenated in order.

    Example
    -------
    >>> model_fingerprints(nn.Linear(2, 2))
    []
    """
    model = getattr(model, "module", model)
    return _cert_fingerprints(getattr(model, "certificates", None))


def _certificates_json(model: nn.Module) -> str | None:
    cert = getattr(getattr(model, "module", model), "certificates", None)
    if cert is None:
        return None

    def conv(c):
        if isinstance(c, dict):
            return {str(k): conv(v) for k, v in c.items()}
        if isinstance(c, (list, tuple)):
            return [conv(v) for v in c]
        return c.to_dict() if hasattr(c, "to_dict") else str(c)

    return json.dumps(conv(cert))


def _call_with_supported(func: Callable, options: dict, *args):
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return func(*args)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return func(*args, **options)
    return func(*args, **{k: v for k, v in options.items() if k in params})


def _spec_flatten(raw: dict, data: Dataset | None, path: str) -> bool:
    """Whether a spec's ``input`` needs the images flattened; error if it cannot match."""
    if data is None or "input" not in raw:
        return False
    inp, shape = raw["input"], data.shape
    if _is_int(inp):
        if inp == int(np.prod(shape)):
            return True
        raise ValueError(
            f"model: spec {path} input {inp} does not match {data.name} images of shape "
            f"{'x'.join(map(str, shape))} (flattened: {int(np.prod(shape))})"
        )
    if isinstance(inp, (list, tuple)) and all(_is_int(v) for v in inp):
        if tuple(inp) == shape:
            return False
        if len(inp) == 1 and inp[0] == int(np.prod(shape)):
            return True
        raise ValueError(
            f"model: spec {path} input {list(inp)} does not match {data.name} images of shape "
            f"{list(shape)}"
        )
    return False


def _compile_fn():
    import compiler

    fn = getattr(compiler, "compile", None)
    if fn is None:
        try:
            fn = importlib.import_module("compiler.compile").compile
        except (ImportError, AttributeError):
            raise ValueError("model: compiler.compile is not available to build a spec") from None
    return fn


def build_model(
    name_or_spec: str,
    *,
    seed: int = 0,
    backend: str | None = None,
    data: Dataset | None = None,
    options: dict | None = None,
    allow_uncertified: bool = False,
) -> tuple[nn.Module, bool]:
    """Build the model that ``name_or_spec`` names; return ``(model, flatten_inputs)``.

    ``name_or_spec`` is one of:

    * a ``.yaml``/``.yml``/``.json`` spec file: it is read, its top-level
      ``seed`` is set to ``seed`` (so the run seed fixes the graphs), and it is
      lowered by ``compiler.compile(spec, backend=..., allow_uncertified=...)``.
      When the spec's ``input`` is an int ``F`` and ``data`` holds images
      ``(C, H, W)`` with ``C*H*W == F``, ``flatten_inputs`` is True (the
      trainer flattens every batch); any other mismatch is an error.
    * ``package.module:function``: a model factory, called with those of
      ``num_classes``, ``input_shape``, ``seed``, ``backend`` and ``options``
      that it accepts.
    * a model name for ``compiler.models.build(name, **options)``.

    Reference: DESIGN.md, "compiler" (specs are lowered by ``compiler.compile``).

    Example
    -------
    >>> net, flat = build_model("torch.nn:Identity")
    >>> type(net).__name__, flat
    ('Identity', False)
    """
    options = dict(options or {})
    extra: dict[str, Any] = {"seed": seed}
    if backend is not None:
        extra["backend"] = backend
    if data is not None:
        extra.update(num_classes=data.num_classes, input_shape=data.shape)
    text = str(name_or_spec)
    if text.lower().endswith(_SPEC_SUFFIXES):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"model: spec file {text!r} does not exist")
        raw = _read_spec(path)
        raw["seed"] = seed
        flatten = _spec_flatten(raw, data, text)
        model = _compile_fn()(raw, backend=backend, allow_uncertified=allow_uncertified)
        return model, flatten
    if _FACTORY_RE.match(text):
        mod_name, func_name = text.split(":")
        try:
            func = getattr(importlib.import_module(mod_name), func_name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"model: cannot import {text!r} ({_first_line(exc)})") from None
        _check_factory(text, func, mod_name)
        try:
            model = _call_with_supported(func, {**extra, **options})
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"model: factory {text!r} could not build a model for input shape "
                f"{extra.get('input_shape')} ({_first_line(exc)[:160]})"
            ) from None
    else:
        try:
            models = importlib.import_module("compiler.models")
            build = models.build
        except (ImportError, AttributeError):
            raise ValueError(
                f"model: unknown model {text!r} (not a spec file or module:function, and "
                "compiler.models is not available)"
            ) from None
        try:
            model = _call_with_supported(build, {**extra, **options}, text)
        except KeyError:
            raise ValueError(f"model: unknown model {text!r}") from None
        if isinstance(model, dict) or hasattr(model, "raw"):
            model = _compile_fn()(model, backend=backend, allow_uncertified=allow_uncertified)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model: {text!r} built a {type(model).__name__}, not a torch.nn.Module")
    return model, False


def _check_factory(text: str, func, mod_name: str) -> None:
    """Refuse a ``module:function`` that cannot be a model builder.

    Accepted: a Python function, or a ``torch.nn.Module`` subclass, whose result
    is then checked to be an ``nn.Module``.  Refused before any call: builtins
    (``builtins:exec``), other classes, and non-callables.
    """
    if mod_name == "builtins" or inspect.isbuiltin(func) or not callable(func):
        raise ValueError(
            f"model: {text!r} is not a model builder (a function or nn.Module class that "
            "builds a model for the input shape)"
        )
    if inspect.isclass(func) and not issubclass(func, nn.Module):
        raise ValueError(f"model: {text!r} is a class but not a torch.nn.Module subclass")


def _read_spec(path: Path) -> dict:
    """The spec file through :func:`expandergraph.spec.read_spec`, the one spec reader
    (duplicate keys, oversized files and over-deep nesting are refused)."""
    from expandergraph.spec import read_spec

    try:
        raw = read_spec(path)
    except ValueError as exc:
        msg = str(exc).removeprefix(f"{path}: ")
        raise type(exc)(f"model: cannot parse spec {path} ({msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"model: spec {path} must be a mapping at the top level")
    return dict(raw)


# -- distributed ----------------------------------------------------------------------
@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owner: bool = False  # this call initialised the process group

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_dist(device_type: str) -> _Dist:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local)
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size(), local, owner=True)


def _all_reduce(t: torch.Tensor, d: _Dist) -> torch.Tensor:
    if d.world > 1:
        import torch.distributed as dist

        dist.all_reduce(t)
    return t


def _barrier(d: _Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


# -- RNG ---------------------------------------------------------------------
def _stream_seed(*keys: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0])


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(version), "state": list(internal), "gauss_next": gauss_next},
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- one epoch ----------------------------------------------------------------------
def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding by ``H // 8`` (at least 1) and random horizontal flip."""
    b, _, h, w = x.shape
    pad = max(1, h // 8)
    xp = F.pad(x, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=gen)
    flip = torch.rand(b, generator=gen) < 0.5
    dev = x.device
    rows = (dy[:, None] + torch.arange(h)).to(dev)
    cols = (dx[:, None] + torch.arange(w)).to(dev)
    bi = torch.arange(b, device=dev)[:, None, None]
    out = xp[bi, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return torch.where(flip.to(dev)[:, None, None, None], out.flip(3), out).contiguous()


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
            n, generator=torch.Generator().manual_seed(_stream_seed(cfg.seed, epoch, 0))
        )
        if d.world > 1:
            total = -(-n // d.world) * d.world
            perm = torch.cat([perm, perm[: total - n]])[d.rank :: d.world]
        aug = torch.Generator().manual_seed(_stream_seed(cfg.seed, epoch, 1, d.rank))
        local = cfg.batch_size // d.world
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        starts = range(0, perm.shape[0], local)
        for i in _progress(starts, len(starts), f"epoch {epoch + 1}/{cfg.epochs}", self.show):
            idx = perm[i : i + local].to(data.images.device)
            x, y = data.images[idx], data.labels[idx]
            if cfg.augment:
                x = _augment(x, aug)
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
        loss_sum, correct, count = _all_reduce(sums, d).tolist()
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
            _all_reduce(sums, d)
        loss_sum, correct, count = sums.tolist()
        return loss_sum / max(count, 1), correct / max(count, 1)


# -- outputs -------------------------------------------------------------------------
_COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "throughput",
    "time",
)


def _write_metrics(out: Path, history: list[dict]) -> None:
    def write_csv(fh):
        w = csv.DictWriter(fh, fieldnames=list(_COLUMNS), lineterminator="\n")
        w.writeheader()
        for row in history:
            w.writerow({k: row[k] for k in _COLUMNS})

    _atomic_write(out / "metrics.csv", write_csv, "w")
    _atomic_write(out / "metrics.json", lambda fh: json.dump(history, fh, indent=1), "w")


def _plot(out: Path, history: list[dict], title: str) -> None:
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
    _atomic_write(out / "curves.png", lambda fh: fig.savefig(fh, format="png", dpi=100))


def _log(d: _Dist, cfg: TrainConfig, msg: str) -> None:
    if d.main and not cfg.quiet:
        print(msg, flush=True)


# -- fit ------------------------------------------------------------------------------
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


def _build(model, cfg: TrainConfig, train: Dataset, options: dict) -> tuple[nn.Module, bool, str]:
    if isinstance(model, nn.Module):
        return model, False, type(model).__name__
    if isinstance(model, (str, os.PathLike)):
        net, flat = build_model(
            str(model),
            seed=cfg.seed,
            backend=cfg.backend,
            data=train,
            options=options,
            allow_uncertified=cfg.allow_uncertified,
        )
        return net, flat, str(model)
    if callable(model):
        extra = {"num_classes": train.num_classes, "input_shape": train.shape, "seed": cfg.seed}
        net = _call_with_supported(model, {**extra, **options})
        if not isinstance(net, nn.Module):
            raise ValueError(f"model: the factory returned a {type(net).__name__}, not a Module")
        return net, False, getattr(model, "__name__", type(model).__name__)
    raise ValueError(f"model: expected a Module, a factory or a name, got {type(model).__name__}")


def _check_output(core: nn.Module, train: Dataset, flatten: bool, device) -> None:
    core.eval()
    x = train.images[:2].to(device)
    with torch.no_grad():
        try:
            out = core(x.flatten(1) if flatten else x)
        except RuntimeError as exc:
            raise ValueError(
                f"model: forward pass on {train.name} images of shape {list(train.shape)} "
                f"failed ({_first_line(exc)})"
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
    it accepts), or a name or spec path for :func:`build_model`.  ``data`` is
    a dataset name (train and test splits are loaded with
    ``config.data_dir``), a training :class:`Dataset`, or ``(train, test)``
    with ``test`` possibly ``None``.  The validation split is carved from
    the training data; the test set is evaluated once at the end with the
    best weights.  See the module doc for checkpoints, resume and DDP.

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
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    device_type = cfg._device_type()
    d = _init_dist(device_type)
    if cfg.batch_size % d.world:
        raise ValueError(
            f"batch_size: {cfg.batch_size} must be divisible by the {d.world} processes"
        )
    prev_det = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    if device_type == "cuda":  # CPU kernels are deterministic at a fixed thread count
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _fit(model, data, cfg, d, device_type, dict(model_options or {}))
    finally:
        if device_type == "cuda":
            torch.use_deterministic_algorithms(prev_det[0], warn_only=prev_det[1])
        if d.owner:
            import torch.distributed as dist

            dist.destroy_process_group()


def _fit(model, data, cfg: TrainConfig, d: _Dist, device_type: str, options: dict) -> dict:
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
        if out.is_dir() and any(not _TEMP_RE.match(f.name) for f in out.iterdir()):
            raise ValueError(
                f"out: {out} is not empty and holds no run; nothing was touched "
                "(choose an empty directory or pass --overwrite)"
            )

    _seed_everything(cfg.seed)
    core, flatten, model_name = _build(model, cfg, train, options)
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
        _check_resume(ck, cfg, data_name, last)
        if "identity" in ck:
            why = _identity_mismatch(ck["identity"], identity)
            if why:
                raise ValueError(f"resume: {last} belongs to another run: {why}")
        optimizer.load_state_dict(ck["optimizer"])
        if ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        history, best, start = list(ck["history"]), dict(ck["best"]), int(ck["epoch"])
        best_state = _load_best(out / "best.pt", core, best, start, identity)
        _set_rng_state(ck["rng"])
        if start >= cfg.epochs and (previous := _current_summary(out, history, best)):
            _log(d, cfg, f"{out} already completed {start} epochs; nothing to do")
            return previous
        # otherwise a missing or stale summary.json: finish the final evaluation and rewrite it
        _log(d, cfg, f"resumed {last} at epoch {start} (best val acc {best['val_acc']:.4f})")
    if out and d.main:
        out.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(out)
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
        "certificates": _certificates_json(core),
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
                "rng": _rng_state(),
                "best": best,
                "history": history,
                "config": cfg.to_dict(),
            }
            if improved:
                save_checkpoint(out / "best.pt", payload)
            save_checkpoint(last, payload)
            _write_metrics(out, history)
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
            _plot(out, history, f"{model_name} on {data_name} (seed {cfg.seed})")
        if done:
            _atomic_write(out / "summary.json", lambda fh: json.dump(summary, fh, indent=1), "w")
    _barrier(d)
    return summary


_TEMP_RE = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$")


def _remove_stale_temps(out: Path) -> list[str]:
    """Delete temporary files that a killed writer left in ``out`` (see :func:`_atomic_write`).

    A temp file is named ``.NAME.PID.HEX.tmp``; it is removed unless process
    ``PID`` is this one or still alive.  Returns the names removed.
    """
    removed = []
    for f in out.iterdir():
        m = _TEMP_RE.match(f.name)
        if not m or not f.is_file():
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # alive: may be writing right now
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError, OSError):
            continue
        try:
            f.unlink()
            removed.append(f.name)
        except OSError:  # pragma: no cover - raced with another cleaner
            pass
    return removed


def _current_summary(out: Path, history: list, best: dict) -> dict | None:
    """``summary.json`` if it describes the checkpointed run (same history and best), else None."""
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


def _to_device(ds: Dataset, device: torch.device) -> Dataset:
    if ds.images.device == device:
        return ds
    return Dataset(ds.name, ds.images.to(device), ds.labels.to(device), ds.num_classes)


def _check_resume(ck: dict, cfg: TrainConfig, data_name: str, path: Path) -> None:
    for key in ("epoch", "optimizer", "rng", "best", "history", "config"):
        if key not in ck:
            raise ValueError(f"checkpoint: {path} lacks {key!r}; it is not a training checkpoint")
    if ck.get("data") != data_name:
        raise ValueError(
            f"resume: {path} was trained on {ck.get('data')!r}, this run uses {data_name!r}"
        )
    old = ck["config"]
    for key in _RESUME_FIXED:
        if old.get(key) != getattr(cfg, key):
            raise ValueError(
                f"resume: {path} was trained with {key}={old.get(key)!r}, this run has "
                f"{key}={getattr(cfg, key)!r}"
            )


def _load_best(
    path: Path, core: nn.Module, best: dict, epoch: int, identity: dict | None = None
) -> dict | None:
    if best["epoch"] == 0:
        return None
    if not path.is_file():
        raise ValueError(f"resume: {path} is missing (best epoch {best['epoch']})")
    ck = load_checkpoint(path)
    _check_same_model(core, ck, path)
    if identity is not None and "identity" in ck:
        why = _identity_mismatch(ck["identity"], identity)
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


# -- command line --------------------------------------------------------------------
def _parse_option(text: str) -> tuple[str, Any]:
    key, eq, val = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} must be KEY=VALUE")
    val = val.strip()
    for conv in (int, float):
        try:
            return key.strip(), conv(val)
        except ValueError:
            pass
    if val.lower() in ("true", "false"):
        return key.strip(), val.lower() == "true"
    return key.strip(), val


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to ``p`` (for ``compiler.cli.register_command``).

    Example
    -------
    >>> p = argparse.ArgumentParser()
    >>> add_train_arguments(p)
    >>> p.parse_args(["spec.yaml", "--data", "digits", "--lr", "0.05"]).lr
    0.05
    """
    d = TrainConfig()
    p.add_argument("model", help="spec file (.yaml/.yml/.json), model name, or module:function")
    p.add_argument("--data", required=True, help=f"dataset: {', '.join(DATASETS)}")
    p.add_argument("--data-dir", default=None, help="directory with the dataset files")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch size")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--schedule", choices=_SCHEDULES, default=d.schedule)
    p.add_argument(
        "--milestones",
        type=int,
        nargs="*",
        default=None,
        help="epochs at which step multiplies lr by gamma (default: 50%%, 75%%)",
    )
    p.add_argument("--gamma", type=float, default=d.gamma)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--amp", action="store_true", help="mixed precision (GPU only)")
    p.add_argument("--augment", action="store_true", help="random crop (pad H/8) and flip")
    p.add_argument("--seed", type=int, default=d.seed, help="fixes graphs and training")
    p.add_argument("--out", default=None, help="run directory (default runs/MODEL-DATA-sSEED)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="start over in an existing --out")
    p.add_argument(
        "--backend",
        choices=_BACKENDS,
        default=None,
        help="expander-layer backend (default: the spec's, else gather)",
    )
    p.add_argument("--device", choices=_DEVICES, default=d.device)
    p.add_argument("--limit", type=int, default=None, help="use only N training samples")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size)
    p.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop after N epochs in this call, as if interrupted",
    )
    p.add_argument(
        "--allow-uncertified",
        action="store_true",
        help="compile a spec whose certificate fails (recorded)",
    )
    p.add_argument(
        "-O",
        "--model-option",
        action="append",
        type=_parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="option for compiler.models.build (repeatable)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or log lines")


def add_train_command(subparsers) -> argparse.ArgumentParser:
    """Register ``train`` on an ``argparse`` subparsers object; its handler is :func:`train_main`.

    Example
    -------
    >>> parser = argparse.ArgumentParser(prog="xnet")
    >>> _ = add_train_command(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["train", "m.yaml", "--data", "digits"])
    >>> args.func is train_main, args.epochs
    (True, 10)
    """
    p = subparsers.add_parser(
        "train",
        help="train a model on a dataset",
        description="Train a model (spec, name or module:function).",
    )
    add_train_arguments(p)
    p.set_defaults(func=train_main)
    return p


def _default_out(model: str, data: str, seed: int) -> str:
    stem = Path(model).stem if model.lower().endswith(_SPEC_SUFFIXES) else model
    stem = re.sub(r"[^\w.-]+", "_", stem)
    return str(Path("runs") / f"{stem}-{data}-s{seed}")


def train_main(args: argparse.Namespace) -> int:
    """Run :func:`fit` from parsed arguments; return the exit status.

    0 on success; on bad input a one-line ``xnet train: error: ...`` on stderr
    and status 2 (1 when a spec's certificate is refused).

    Example
    -------
    >>> train_main(argparse.Namespace(model="m.yaml", data="digits", epochs=0))
    2
    """
    names = {f.name for f in fields(TrainConfig)}
    kwargs = {k: v for k, v in vars(args).items() if k in names}
    prog = "xnet train"
    try:
        cfg = TrainConfig(**kwargs)
        if cfg.out is None:
            cfg.out = _default_out(str(args.model), str(args.data), cfg.seed)
        options = dict(getattr(args, "model_option", None) or [])
        fit(args.model, args.data, cfg, model_options=options)
    except (ValueError, FloatingPointError, OSError) as exc:
        print(f"{prog}: error: {_first_line(exc)}", file=sys.stderr)
        # a refused certificate exits 1, as ``xnet compile`` does; bad input exits 2
        return 1 if type(exc).__name__ == "CertificateError" else 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python3 -m compiler.train ...`` (also under ``torchrun``)."""
    parser = argparse.ArgumentParser(
        prog="python3 -m compiler.train", description=__doc__.split("\n")[0]
    )
    add_train_arguments(parser)
    return train_main(parser.parse_args(argv))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
