"""Random streams: one seed fixes python, numpy, torch, the data order and the augmentation.

Conventions: :func:`seed_everything` seeds python, numpy and torch before the model is
built; epoch ``e`` shuffles with a ``torch.Generator`` seeded by
``stream_seed(seed, e, 0)`` and rank ``r`` augments with one seeded by
``stream_seed(seed, e, 1, r)``, so the streams do not depend on how many epochs ran in
this process.  :func:`rng_state` / :func:`set_rng_state` carry the global generators
through a checkpoint (plain tensors and numbers only) for an exact resume.

Example
-------
>>> stream_seed(1, 0, 0) == stream_seed(1, 0, 0) != stream_seed(1, 1, 0)
True
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["stream_seed", "seed_everything", "rng_state", "set_rng_state", "augment"]


def stream_seed(*keys: int) -> int:
    """A 64-bit seed derived from ``keys`` by ``numpy.random.SeedSequence``.

    Example
    -------
    >>> 0 <= stream_seed(3, 4) < 2**64
    True
    """
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0])


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator (``seed % 2**32``) and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """The python, numpy, torch (and initialised CUDA) generator states as checkpoint data.

    Example
    -------
    >>> s = rng_state()
    >>> a = torch.rand(1)
    >>> set_rng_state(s)
    >>> bool(torch.rand(1) == a)
    True
    """
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


def set_rng_state(state: dict) -> None:
    """Restore the generator states saved by :func:`rng_state`."""
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


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding by ``H // 8`` (at least 1) and random horizontal flip.

    ``x`` is a batch ``(B, C, H, W)``; the offsets and flips are drawn from ``gen`` only.

    Reference: He et al., *Deep Residual Learning*, CVPR 2016, section 4.2 (the CIFAR
    augmentation).

    Example
    -------
    >>> augment(torch.zeros(2, 1, 8, 8), torch.Generator().manual_seed(0)).shape
    torch.Size([2, 1, 8, 8])
    """
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
