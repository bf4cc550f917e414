"""The training configuration (:class:`TrainConfig`) and the checks behind its one-line errors.

Conventions: every field is checked by :meth:`TrainConfig.validate`, which raises a
one-line ``ValueError`` that starts with the field's name (``"lr: -1 must be ..."``).
:func:`is_finite` (with :func:`expandergraph.fields.is_int`) is the number test used
there and by the spec reader in :mod:`compiler.train.factory`; errors are shortened to
one line by :func:`expandergraph.report.first_line`.

Example
-------
>>> TrainConfig(epochs=300).validate().default_milestones()
[150, 225]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from expandergraph.fields import is_int
from expandergraph.report import first_line

from ..functional import BACKENDS  # the backend names a run may force (``auto`` included)

__all__ = ["TrainConfig", "SCHEDULES", "BACKENDS", "DEVICES", "is_int", "is_finite", "first_line"]

#: learning-rate schedules :func:`compiler.train.lr_at` knows
SCHEDULES = ("step", "cosine")
#: devices a run may ask for (``auto``: the GPU when there is one)
DEVICES = ("cpu", "cuda", "auto")


def is_finite(v) -> bool:
    """Whether ``v`` is a finite python or numpy number.

    Example
    -------
    >>> is_finite(0.5), is_finite(float("nan")), is_finite("1")
    (True, False, False)
    """
    return isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v))


@dataclass
class TrainConfig:
    """Hyperparameters and run options of :func:`compiler.train.fit` (defaults: the paper's
    CIFAR recipe).

    ``milestones=None`` means 50% and 75% of ``epochs``; ``backend=None`` keeps
    each spec layer's own backend (default ``gather``); ``limit`` keeps a fixed
    stratified subset of that many training samples (before the validation
    split); ``stop_after`` ends this call after that many epochs, as if the run
    were interrupted (for resume tests); ``out=None`` writes no files.

    Reference: Prabhu, Varma and Namboodiri, *Deep Expander Networks*, ECCV 2018, section 5.

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
            if not is_int(v) or v < 1:
                raise ValueError(f"{name}: {v!r} must be an integer >= 1")
        for name in ("seed", "split_seed"):
            v = getattr(self, name)
            if not is_int(v) or v < 0:
                raise ValueError(f"{name}: {v!r} must be an integer >= 0")
        for name in ("limit", "stop_after"):
            v = getattr(self, name)
            if v is not None and (not is_int(v) or v < 1):
                raise ValueError(f"{name}: {v!r} must be an integer >= 1 (or None)")
        if not is_finite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr: {self.lr!r} must be a finite number > 0")
        if not is_finite(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum: {self.momentum!r} must lie in [0, 1)")
        if self.nesterov and self.momentum == 0:
            raise ValueError("momentum: Nesterov momentum needs momentum > 0 (or nesterov=False)")
        if not is_finite(self.weight_decay) or self.weight_decay < 0:
            raise ValueError(f"weight_decay: {self.weight_decay!r} must be a finite number >= 0")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: {self.schedule!r} must be one of {', '.join(SCHEDULES)}")
        if self.milestones is not None:
            ms = list(self.milestones)
            if not all(is_int(m) and m >= 1 for m in ms) or any(b <= a for a, b in zip(ms, ms[1:])):
                raise ValueError(f"milestones: {ms} must be strictly increasing epoch numbers >= 1")
            self.milestones = ms
        if not is_finite(self.gamma) or not 0 < self.gamma <= 1:
            raise ValueError(f"gamma: {self.gamma!r} must lie in (0, 1]")
        if not is_finite(self.label_smoothing) or not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing: {self.label_smoothing!r} must lie in [0, 1)")
        if not is_finite(self.val_fraction) or not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction: {self.val_fraction!r} must lie in (0, 1)")
        if self.backend is not None and self.backend not in BACKENDS:
            raise ValueError(f"backend: {self.backend!r} must be one of {', '.join(BACKENDS)}")
        if self.device not in DEVICES:
            raise ValueError(f"device: {self.device!r} must be one of {', '.join(DEVICES)}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device: 'cuda' requested but torch.cuda.is_available() is False")
        if self.amp and self.device_type() != "cuda":
            raise ValueError("amp: mixed precision runs on the GPU only; use --device cuda")
        return self

    def device_type(self) -> str:
        """``"cuda"`` or ``"cpu"``: the device kind the run uses (``auto`` resolved).

        Example
        -------
        >>> TrainConfig(device="cpu").device_type()
        'cpu'
        """
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def to_dict(self) -> dict:
        """Every field as a plain dict (what a checkpoint and ``summary.json`` store)."""
        return asdict(self)
