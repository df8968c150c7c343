"""InfoNCE across processes: gather keys with gradients, score local rows against global columns.

With data parallelism each process holds ``B`` of the ``W * B`` videos of the global batch.
Contrasting only within the local ``B`` wastes negatives; computing the full ``WB x WB``
matrix on every process (PyTorchVideo, SlowFast) wastes compute. As lightly's
``NTXentLoss(gather_distributed=True)`` and CVRL (Qian et al. 2021) do, each process scores
its ``B`` queries against all ``W * B`` keys, with its queries' positives at columns
``rank * B + i``: a ``B x WB`` matrix per process, ``W`` times less work, same loss.

:func:`gather_with_grad` is the all-gather that lets gradients flow back to the process that
produced each key: forward concatenates every process's tensor; backward sums the incoming
gradients over processes (all-reduce) and keeps this process's slice (SimCLR's
``GatherLayer``; PyTorchVideo's ``AllGatherWithGradient``).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .infonce import contrastive_logits, info_nce_from_logits


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        g = torch.stack(grads)
        dist.all_reduce(g, op=dist.ReduceOp.SUM)
        return g[dist.get_rank()]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x (B, ...)`` from every process into ``(W * B, ...)``, differentiably.

    Rows ``rank * B .. rank * B + B - 1`` are this process's ``x``. The backward pass sums
    the gradient of every process's loss with respect to this process's rows, so each
    process's input gradient is the gradient of the *sum* of the per-process losses; with
    DDP averaging parameter gradients over processes that is the gradient of their mean.
    Outside a process group (or with one process) it returns ``x`` unchanged. Integer
    tensors (video ids, windows) can be gathered the same way, without gradient.

    Args:
        x: ``(B, ...)``; ``B`` and the other dimensions must be the same on every process.

    Returns:
        ``(W * B, ...)``.

    Examples:
        >>> z = torch.randn(4, 8)
        >>> gather_with_grad(z) is z  # not distributed
        True
    """
    if not is_distributed():
        return x
    return torch.cat(_GatherWithGrad.apply(x), dim=0)


def distributed_info_nce(query: torch.Tensor, key: torch.Tensor, temperature: float | torch.Tensor = 0.1,
                         extra_negatives: torch.Tensor | None = None,
                         false_negative_mask: torch.Tensor | None = None,
                         positive_weights: torch.Tensor | None = None, normalize: bool = True,
                         reduction: str = "mean", *, hard_negative_beta: float = 0.0,
                         hard_negative_top_k: int | None = None,
                         extra_negative_scale: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`info_nce` of this process's queries against the keys of every process.

    Each process passes its local ``query`` and ``key`` (``B`` rows each, the same ``B``
    everywhere); keys are gathered with :func:`gather_with_grad`, logits are ``(B, W*B + E)``
    and the positive of local row ``i`` is column ``rank * B + i``. Per-row losses equal
    those of single-process :func:`info_nce` on the concatenated global batch, so the mean of
    the per-process ``"mean"`` losses is the single-process loss, and parameter gradients
    averaged over processes (what DDP does) are the single-process gradients. Outside a
    process group it is exactly :func:`info_nce`.

    Args:
        query: ``(B, D)`` local queries.
        key: ``(B, D)`` local keys; ``key[i]`` is the positive of ``query[i]``.
        temperature: scalar.
        extra_negatives: ``(E, D)`` negatives shared by all processes (e.g. a queue that is
            filled with gathered keys, so it is identical everywhere); not gathered.
        false_negative_mask: bool ``(B, W*B + E)`` over local rows and global columns (build
            it from gathered video ids with :func:`same_video_mask`).
        positive_weights: ``(B, W*B + E)`` soft targets, same layout.
        normalize, reduction, hard_negative_beta, hard_negative_top_k, extra_negative_scale:
            as in :func:`info_nce`.

    Returns:
        The local loss (scalar, or ``(B,)`` with ``reduction="none"``).

    Raises:
        ValueError: shapes disagree (see :func:`info_nce`).

    Examples:
        >>> q, k = torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = distributed_info_nce(q, k, temperature=0.1)  # == info_nce(q, k, 0.1) here
    """
    if query.shape != key.shape or query.dim() != 2:
        raise ValueError(f"query and key must both be (B, D); got {tuple(query.shape)} and {tuple(key.shape)}")
    rank = dist.get_rank() if is_distributed() else 0
    if normalize:  # before the gather: each process normalises only its own rows
        query, key = F.normalize(query, dim=1), F.normalize(key, dim=1)
        if extra_negatives is not None:
            extra_negatives = F.normalize(extra_negatives, dim=1)
    global_keys = gather_with_grad(key)
    logits = contrastive_logits(query, global_keys, temperature, extra_negatives, extra_negative_scale,
                                normalize=False)
    targets = rank * query.shape[0] + torch.arange(query.shape[0], device=logits.device)
    return info_nce_from_logits(logits, targets, false_negative_mask, positive_weights, reduction,
                                hard_negative_beta=hard_negative_beta, hard_negative_top_k=hard_negative_top_k)
