"""Many negatives without a huge batch: the MoCo key queue and the instance memory bank.

:class:`KeyQueue` is MoCo's ring buffer of past keys (He et al. 2020, "Momentum Contrast for
Unsupervised Visual Representation Learning"), extended for video: each key is stored with
the id of its video and its time window, so keys from the query's own video (or only the
overlapping ones) can be masked as false negatives, and with its age, so old keys (encoded
by an older key encoder) can be down-weighted as in VideoMoCo (Pan et al. 2021). Keep one
queue per temporal scale (``nn.ModuleDict``). Under DDP, enqueue the keys gathered from all
ranks (:func:`vcl_core.losses.gather_with_grad` on detached keys) so every rank holds the
same queue.

:class:`MemoryBank` is the instance-discrimination memory of Wu et al. 2018 ("Unsupervised
Feature Learning via Non-Parametric Instance Discrimination"): one slowly updated embedding
per training item, negatives drawn from it at random.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .infonce import same_video_mask


class KeyQueue(nn.Module):
    """Ring buffer of ``size`` keys ``(size, dim)`` with video id, window and age per key.

    State lives in buffers (saved with the model's ``state_dict``). Until the queue has
    wrapped once only the filled slots count: :meth:`keys` and the per-key accessors return
    the ``len(queue)`` filled entries, in slot order. Ages count enqueue calls, VideoMoCo's
    way: the keys of the latest call have age 1 and every later call adds 1.

    Args:
        dim: key size ``D``.
        size: number of slots ``K`` (need not be a multiple of the batch size).

    Raises:
        ValueError: ``dim`` or ``size`` below 1.

    Examples:
        >>> q = KeyQueue(dim=16, size=5)
        >>> q.enqueue(torch.randn(3, 16), torch.tensor([0, 1, 2]), torch.zeros(3), torch.ones(3))
        >>> q.enqueue(torch.randn(3, 16), torch.tensor([3, 4, 5]), torch.zeros(3), torch.ones(3))
        >>> len(q), q.video_ids.tolist()   # id 5 wrapped round into slot 0, over id 0
        (5, [5, 1, 2, 3, 4])
    """

    def __init__(self, dim: int, size: int):
        super().__init__()
        if dim < 1 or size < 1:
            raise ValueError(f"dim and size must be >= 1, got dim={dim}, size={size}")
        self.dim, self.size = dim, size
        self.register_buffer("_keys", torch.zeros(size, dim))
        self.register_buffer("_video_ids", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("_starts", torch.zeros(size))
        self.register_buffer("_ends", torch.zeros(size))
        self.register_buffer("_ages", torch.zeros(size, dtype=torch.long))
        self.register_buffer("_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("_count", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self._count)

    @property
    def valid(self) -> torch.Tensor:
        """bool ``(size,)``: which slots hold a key."""
        return torch.arange(self.size, device=self._keys.device) < self._count

    def keys(self) -> torch.Tensor:
        """``(len, D)`` the stored keys (filled slots only), ready for ``extra_negatives``."""
        return self._keys[: len(self)]

    @property
    def video_ids(self) -> torch.Tensor:
        """``(len,)`` video id of each stored key."""
        return self._video_ids[: len(self)]

    @property
    def starts(self) -> torch.Tensor:
        """``(len,)`` window start of each stored key."""
        return self._starts[: len(self)]

    @property
    def ends(self) -> torch.Tensor:
        """``(len,)`` window end of each stored key."""
        return self._ends[: len(self)]

    @property
    def ages(self) -> torch.Tensor:
        """``(len,)`` enqueue calls since each key arrived (1 = the latest call)."""
        return self._ages[: len(self)]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, video_ids: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> None:
        """Write a batch of keys over the oldest slots, wrapping around the end of the buffer.

        Args:
            keys: ``(B, D)`` keys (detached and stored as float32).
            video_ids: ``(B,)`` integer video ids.
            starts, ends: ``(B,)`` time windows of the keys' clips.

        If ``B > size`` only the last ``size`` keys are kept.

        Raises:
            ValueError: shapes disagree with each other or with ``dim``.
        """
        b = keys.shape[0]
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"keys must be (B, {self.dim}), got {tuple(keys.shape)}")
        for name, t in (("video_ids", video_ids), ("starts", starts), ("ends", ends)):
            if t.shape != (b,):
                raise ValueError(f"{name} must be ({b},) like keys, got {tuple(t.shape)}")
        if b > self.size:
            keys, video_ids = keys[-self.size:], video_ids[-self.size:]
            starts, ends = starts[-self.size:], ends[-self.size:]
            b = self.size
        idx = (self._ptr + torch.arange(b, device=self._keys.device)) % self.size
        self._ages[: len(self)] += 1
        self._keys[idx] = keys.detach().to(self._keys)
        self._video_ids[idx] = video_ids.to(self._video_ids)
        self._starts[idx] = starts.to(self._starts)
        self._ends[idx] = ends.to(self._ends)
        self._ages[idx] = 1
        self._ptr.copy_((self._ptr + b) % self.size)
        self._count.clamp_(max=self.size - b).add_(b)

    def false_negative_mask(self, video_ids: torch.Tensor, starts: torch.Tensor | None = None,
                            ends: torch.Tensor | None = None, mode: str = "overlap") -> torch.Tensor:
        """bool ``(B, len)``: stored keys that come from each query's video (and overlap its window).

        Concatenate it after the in-batch mask to get ``info_nce``'s ``(B, B + len)`` mask, or
        use it to pick same-video keys as hard negatives. See :func:`same_video_mask`.

        Args:
            video_ids: ``(B,)`` query video ids.
            starts, ends: ``(B,)`` query windows (needed for ``mode="overlap"``).
            mode: ``"overlap"`` or ``"video"``.
        """
        return same_video_mask(video_ids, self.video_ids, starts, ends, self.starts, self.ends, mode=mode)

    def age_weights(self, decay: float) -> torch.Tensor:
        """``(len,)`` VideoMoCo's temporal decay ``decay ** age`` (pass as ``extra_negative_scale``).

        VideoMoCo (Pan et al. 2021) uses ``decay = 0.99999`` per iteration so stale keys,
        computed by an older key encoder, weigh less.

        Raises:
            ValueError: ``decay`` outside ``(0, 1]``.
        """
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"age decay must be in (0, 1], got {decay}")
        return decay ** self.ages.to(self._keys.dtype)


class MemoryBank(nn.Module):
    """One L2-normalised embedding per training item, updated by momentum (Wu et al. 2018).

    ``bank[i] <- normalize(momentum * bank[i] + (1 - momentum) * normalize(z))`` after each
    step in which item ``i`` was seen; negatives are drawn uniformly from the bank. Starts
    from random unit vectors.

    Args:
        num_items: number of items (videos, or clips) in the training set.
        dim: embedding size ``D``.
        momentum: weight of the old entry in ``[0, 1)`` (NPID uses 0.5).

    Raises:
        ValueError: sizes below 1 or momentum outside ``[0, 1)``.

    Examples:
        >>> bank = MemoryBank(num_items=100, dim=16)
        >>> bank.update(torch.tensor([3, 7]), torch.randn(2, 16))
        >>> neg, idx = bank.sample_negatives(10, exclude_indices=torch.tensor([3, 7]))
        >>> neg.shape
        torch.Size([10, 16])
    """

    def __init__(self, num_items: int, dim: int, momentum: float = 0.5):
        super().__init__()
        if num_items < 1 or dim < 1:
            raise ValueError(f"num_items and dim must be >= 1, got {num_items}, {dim}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.num_items, self.dim, self.momentum = num_items, dim, momentum
        self.register_buffer("bank", F.normalize(torch.randn(num_items, dim), dim=1))

    def get(self, indices: torch.Tensor) -> torch.Tensor:
        """``(B, D)`` the stored embeddings of items ``indices (B,)`` (NPID's positives)."""
        return self.bank[indices]

    @torch.no_grad()
    def update(self, indices: torch.Tensor, z: torch.Tensor) -> None:
        """Momentum-update the entries of ``indices (B,)`` with embeddings ``z (B, D)``.

        An item that appears several times in the batch is updated once with the mean of
        its normalised embeddings (a plain indexed write would keep an arbitrary one).

        Raises:
            ValueError: shapes disagree or an index is out of range.
        """
        if indices.dim() != 1 or z.shape != (indices.shape[0], self.dim):
            raise ValueError(f"indices must be (B,) and z (B, {self.dim}); "
                             f"got {tuple(indices.shape)}, {tuple(z.shape)}")
        if len(indices) and (indices.min() < 0 or indices.max() >= self.num_items):
            raise ValueError(f"indices must lie in [0, {self.num_items}), got {indices.min()}..{indices.max()}")
        uniq, inverse = torch.unique(indices, return_inverse=True)
        z = F.normalize(z.detach().to(self.bank), dim=1)
        sums = torch.zeros(len(uniq), self.dim, device=self.bank.device, dtype=self.bank.dtype)
        sums.index_add_(0, inverse, z)
        counts = torch.bincount(inverse, minlength=len(uniq)).to(sums)[:, None]
        new = self.momentum * self.bank[uniq] + (1 - self.momentum) * sums / counts
        self.bank[uniq] = F.normalize(new, dim=1)

    def sample_negatives(self, k: int, exclude_indices: torch.Tensor | None = None,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``k`` distinct entries drawn uniformly, never one of ``exclude_indices``.

        Args:
            k: number of negatives.
            exclude_indices: ``(B,)`` items that must not be drawn (the batch's own items,
                which are positives).
            generator: a CPU ``torch.Generator`` for reproducible draws.

        Returns:
            ``(negatives (k, D), indices (k,))``.

        Raises:
            ValueError: ``k`` is below 1 or more than the items left after exclusion.
        """
        allowed = torch.ones(self.num_items)
        if exclude_indices is not None:
            allowed[exclude_indices.cpu().long()] = 0
        available = int(allowed.sum())
        if not 1 <= k <= available:
            raise ValueError(f"cannot draw k={k} negatives from {available} items left after exclusion")
        idx = torch.multinomial(allowed, k, replacement=False, generator=generator).to(self.bank.device)
        return self.bank[idx], idx
