"""Run identity: what a training run *is*, and the checks that a checkpoint belongs to it.

Conventions: a run is fixed by its model (the canonical spec, every field), its network
fingerprint, its data and the hyperparameters in :data:`IDENTITY_HYPER` (``epochs`` is
not one: it may grow on ``--resume``).  Every checkpoint carries :func:`run_identity`;
``--resume`` and the best checkpoint must match it, and the fields in
:data:`RESUME_FIXED` must not change on ``--resume``.

Example
-------
>>> import torch.nn as nn
>>> from compiler.train.config import TrainConfig
>>> a = run_identity(nn.Linear(2, 2), TrainConfig(), "digits")
>>> b = run_identity(nn.Linear(2, 2), TrainConfig(lr=0.2), "digits")
>>> identity_mismatch(a, b)
'lr differs (0.1 vs 0.2)'
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch.nn as nn

from .checkpoint import model_fingerprints
from .config import TrainConfig

__all__ = ["RESUME_FIXED", "IDENTITY_HYPER", "run_identity", "identity_mismatch", "check_resume"]

#: configuration fields that ``--resume`` may not change (they would change what the run means)
RESUME_FIXED = ("seed", "batch_size", "limit", "val_fraction", "split_seed")
#: the hyperparameters that define a run (``epochs`` may grow on ``--resume``, so it is not one)
IDENTITY_HYPER = RESUME_FIXED + (
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


def _sha(obj) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_identity(model: nn.Module, config, data_name: str) -> dict:
    """What a run *is*: hashes of the canonical spec (every field), the data and the recipe.

    ``model``: the sha256 of the model's canonical spec (sorted-key JSON of every field,
    activations included) when it has one, else of its class, parameter names and shapes
    and graph fingerprints; ``network``: the network certificate's fingerprint;
    ``data``: the data description; ``hyper``: the hyperparameters that define the run
    (:data:`IDENTITY_HYPER`); ``id``: the sha256 over all of them.  Every checkpoint
    carries it; ``--resume`` and the best checkpoint must match it.

    Example
    -------
    >>> ident = run_identity(nn.Linear(2, 2), TrainConfig(), "digits")
    >>> sorted(ident), ident["network"]
    (['data', 'hyper', 'id', 'model', 'network'], None)
    """
    spec = getattr(model, "spec", None)
    if spec is not None and getattr(spec, "raw", None) is not None:
        model_part = _sha({"spec": spec.raw})
    else:
        shapes = [[k, list(v.shape)] for k, v in model.state_dict().items() if hasattr(v, "shape")]
        model_part = _sha(
            {"class": type(model).__name__, "shapes": shapes, "graphs": model_fingerprints(model)}
        )
    certs = getattr(model, "certificates", None) or {}
    network = certs.get("network").fingerprint if "network" in certs else None
    hyper = {k: getattr(config, k) for k in IDENTITY_HYPER}
    ident = {"model": model_part, "network": network, "data": data_name, "hyper": hyper}
    ident["id"] = _sha(ident)
    return ident


def identity_mismatch(old: dict, new: dict) -> str | None:
    """A readable description of how two run identities differ (``None`` if they match).

    Example
    -------
    >>> identity_mismatch({"id": "a"}, {"id": "a"}) is None
    True
    """
    if old.get("id") == new.get("id"):
        return None
    for key in ("model", "network", "data"):
        if old.get(key) != new.get(key):
            what = "spec" if key == "model" else key
            return f"the {what} differs ({str(old.get(key))[:16]} vs {str(new.get(key))[:16]})"
    for k in IDENTITY_HYPER:
        a, b = (old.get("hyper") or {}).get(k), (new.get("hyper") or {}).get(k)
        if a != b:
            return f"{k} differs ({a!r} vs {b!r})"
    return "the run identity differs"


def check_resume(ck: dict, cfg: TrainConfig, data_name: str, path: Path) -> None:
    """Refuse to resume from ``ck`` (read from ``path``) unless it is a training checkpoint
    of this data with the same :data:`RESUME_FIXED` fields; one-line ``ValueError``.

    Example
    -------
    >>> check_resume({"epoch": 1}, TrainConfig(), "digits", Path("last.pt"))
    Traceback (most recent call last):
    ...
    ValueError: checkpoint: last.pt lacks 'optimizer'; it is not a training checkpoint
    """
    for key in ("epoch", "optimizer", "rng", "best", "history", "config"):
        if key not in ck:
            raise ValueError(f"checkpoint: {path} lacks {key!r}; it is not a training checkpoint")
    if ck.get("data") != data_name:
        raise ValueError(
            f"resume: {path} was trained on {ck.get('data')!r}, this run uses {data_name!r}"
        )
    old = ck["config"]
    for key in RESUME_FIXED:
        if old.get(key) != getattr(cfg, key):
            raise ValueError(
                f"resume: {path} was trained with {key}={old.get(key)!r}, this run has "
                f"{key}={getattr(cfg, key)!r}"
            )
