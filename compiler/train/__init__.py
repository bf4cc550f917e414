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
  the metric history, the configuration, the graph fingerprints, the network
  fingerprint and the certificates' JSON, and a sha256 digest of all of it.
  Loading one into a model checks that the model is the one it was written for
  (weights' names and shapes, graph and network fingerprints).
* **Resume** continues exactly: on CPU, a run interrupted after ``k`` epochs and
  resumed gives bitwise the same metrics and weights as an uninterrupted run
  (with the same number of threads; CPU kernels are deterministic then).  On
  the GPU ``torch.use_deterministic_algorithms(True, warn_only=True)`` and
  ``CUBLAS_WORKSPACE_CONFIG`` are set for the run only
  (:func:`compiler.train.loop.deterministic`), which makes it reproducible as far
  as the kernels allow.
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

Modules: :mod:`~compiler.train.config` (:class:`TrainConfig`),
:mod:`~compiler.train.schedule` (:func:`lr_at`), :mod:`~compiler.train.factory`
(:func:`build_model`), :mod:`~compiler.train.checkpoint`,
:mod:`~compiler.train.identity` (:func:`run_identity`), :mod:`~compiler.train.rng`,
:mod:`~compiler.train.distributed`, :mod:`~compiler.train.loop` (:func:`fit`),
:mod:`~compiler.train.outputs` and :mod:`~compiler.train.cli`.

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

# ``os`` stays an attribute of the package: tests patch ``compiler.train.os.fsync``
import os  # noqa: F401

from .checkpoint import (
    FORMAT,
    load_checkpoint,
    model_fingerprints,
    network_fingerprint,
    save_checkpoint,
)
from .cli import add_train_arguments, add_train_command, main, train_main
from .config import TrainConfig
from .factory import build_model
from .identity import run_identity
from .loop import fit
from .schedule import lr_at

__all__ = [
    "TrainConfig",
    "fit",
    "lr_at",
    "build_model",
    "save_checkpoint",
    "load_checkpoint",
    "model_fingerprints",
    "network_fingerprint",
    "run_identity",
    "FORMAT",
    "add_train_command",
    "add_train_arguments",
    "train_main",
    "main",
]
