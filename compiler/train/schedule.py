"""The learning-rate schedule: a pure function of the epoch (:func:`lr_at`).

Conventions: ``step`` multiplies ``lr`` by ``gamma`` at each milestone (default: 50%
and 75% of the epochs, the paper's 150/225 of 300), ``cosine`` anneals to 0 over the
epochs.  ``--resume`` may raise ``epochs``; the schedule then uses the new total from
the next epoch on.

Reference: Loshchilov and Hutter, *SGDR*, ICLR 2017 (cosine schedule).

Example
-------
>>> from compiler.train.config import TrainConfig
>>> lr_at(150, TrainConfig(epochs=300, lr=0.1))
0.010000000000000002
"""

from __future__ import annotations

import math

from .config import TrainConfig

__all__ = ["lr_at"]


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
