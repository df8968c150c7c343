"""Index samplers for map-style video datasets."""
from __future__ import annotations

import numpy as np
import torch


class EpochSampler(torch.utils.data.Sampler):
    """Deterministic, resumable, rank-sharded sampler yielding ``(epoch, index)`` pairs.

    Each epoch is a permutation drawn from ``(seed, epoch)``, cut into *global* batches of
    ``world_size * batch_size`` videos; rank ``r`` takes the ``r``-th slice of every global
    batch. So no index is repeated across ranks within an epoch (apart from wrap-around on
    datasets smaller than one global batch), and ``world_size`` processes with ``batch_size``
    each see exactly the batches of one process with ``world_size * batch_size``: DDP
    training matches single-process training. ``start_batch`` skips batches already seen
    before a resume. Yielding the epoch with the index keeps persistent DataLoader workers in
    step without re-creating them every epoch.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start_batch = 0, 0
        self.batches_per_epoch = max(1, n // (batch_size * world_size))

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        """Iterate ``epoch`` from batch ``start_batch`` on. (Deliberately not called
        ``set_epoch``: wrappers such as Fabric's DataLoader call ``set_epoch`` with their own
        count of iterations, which would undo a resume position.)"""
        self.epoch, self.start_batch = epoch, start_batch

    def indices(self, epoch: int) -> np.ndarray:
        """This rank's indices for ``epoch`` (whole batches only)."""
        perm = np.random.default_rng([self.seed, epoch, 7]).permutation(self.n)
        glob = self.batch_size * self.world_size
        need = self.batches_per_epoch * glob
        if need > self.n:  # tiny datasets: wrap around so every rank gets full batches
            perm = np.resize(perm, need)
        batches = perm[:need].reshape(self.batches_per_epoch, self.world_size, self.batch_size)
        return batches[:, self.rank].reshape(-1)

    def __iter__(self):
        idx = self.indices(self.epoch)[self.start_batch * self.batch_size:]
        return iter([(self.epoch, int(i)) for i in idx])

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size
