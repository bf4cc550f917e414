"""Several processes: the process-group handle (:class:`Dist`) and the collectives training uses.

Conventions: under ``torchrun`` (``WORLD_SIZE > 1``) :func:`init_dist` joins the
process group (nccl on the GPU, gloo on the CPU) unless one is already initialised;
with one process every collective is a no-op.  Only rank 0 (:attr:`Dist.main`)
writes files.

Example
-------
>>> d = Dist()
>>> d.main, d.world
(True, 1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["Dist", "init_dist", "all_reduce", "barrier"]


@dataclass
class Dist:
    """This process's place in the process group: ``rank`` of ``world``, GPU ``local_rank``.

    ``owner`` is True when :func:`init_dist` initialised the group (the caller then
    destroys it).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owner: bool = False

    @property
    def main(self) -> bool:
        """Whether this is rank 0, the process that logs and writes files."""
        return self.rank == 0


def init_dist(device_type: str) -> Dist:
    """Join the ``torchrun`` process group if there is one; ``Dist()`` for a single process.

    Reads ``WORLD_SIZE`` and ``LOCAL_RANK``; on ``"cuda"`` it selects GPU ``LOCAL_RANK``.

    Example
    -------
    >>> init_dist("cpu").world
    1
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local)
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), local, owner=True)


def all_reduce(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum ``t`` over all processes in place (nothing with one process); return ``t``.

    Example
    -------
    >>> all_reduce(torch.ones(2), Dist())
    tensor([1., 1.])
    """
    if d.world > 1:
        import torch.distributed as dist

        dist.all_reduce(t)
    return t


def barrier(d: Dist) -> None:
    """Wait for every process (nothing with one process)."""
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()
