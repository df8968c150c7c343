"""Hard negatives for InfoNCE: importance re-weighting and top-k mining.

Both act on a logit matrix ``(B, N)`` (already divided by the temperature) and a bool matrix
``(B, N)`` that says which columns of each row are negatives (not the positive, not a masked
false negative). :func:`vcl_core.losses.info_nce` exposes them as ``hard_negative_beta`` and
``hard_negative_top_k``; they are kept here so the estimator can be read on its own.

Re-weighting follows Robinson et al., "Contrastive Learning with Hard Negative Samples"
(ICLR 2021), without the debiasing term (``tau_plus = 0``): the denominator's sum over the
``M`` negatives ``sum_j exp(l_j)`` becomes ``M * sum_j q_j exp(l_j)`` with
``q = softmax(beta * l)`` over the negatives, so negatives that already score high (hard ones)
count more. ``beta = 0`` gives back plain InfoNCE. As in the authors' code, gradients flow
through the weights ``q``.

Top-k mining keeps, for each query, only the ``k`` highest-scoring negatives in the
denominator (the rest are dropped as if masked); with ``k >= M`` nothing changes.
"""
from __future__ import annotations

import torch


def _check(logits: torch.Tensor, negatives: torch.Tensor) -> None:
    if logits.dim() != 2:
        raise ValueError(f"logits must be (B, N), got {tuple(logits.shape)}")
    if negatives.shape != logits.shape or negatives.dtype != torch.bool:
        raise ValueError(f"negatives must be a bool tensor of shape {tuple(logits.shape)}, "
                         f"got {negatives.dtype} {tuple(negatives.shape)}")


def reweight_hard_negatives(logits: torch.Tensor, negatives: torch.Tensor, beta: float) -> torch.Tensor:
    """Add ``log(M_i * q_ij)`` to each negative logit, ``q_i = softmax(beta * logits_i)`` over negatives.

    ``exp`` of the returned negative logits sums to ``M_i * sum_j q_ij exp(l_ij)``: the
    hard-negative estimator of Robinson et al. (ICLR 2021, eq. 5 with ``tau_plus = 0``; their
    code's ``(imp * neg).sum() / imp.mean()``). Non-negative columns are returned unchanged;
    rows with no negative are returned unchanged.

    Args:
        logits: ``(B, N)`` similarities divided by the temperature (finite).
        negatives: bool ``(B, N)``; True where column ``j`` is a negative of row ``i``.
        beta: concentration ``>= 0``; 0 leaves the logits as they are, larger values put more
            weight on the negatives most similar to the query.

    Returns:
        ``(B, N)`` logits to feed to a softmax cross-entropy.

    Raises:
        ValueError: ``beta < 0`` or shapes disagree.

    Examples:
        >>> logits = torch.randn(4, 6)
        >>> neg = ~torch.eye(4, 6, dtype=torch.bool)
        >>> reweight_hard_negatives(logits, neg, beta=1.0).shape
        torch.Size([4, 6])
    """
    _check(logits, negatives)
    if beta < 0:
        raise ValueError(f"hard-negative beta must be >= 0, got {beta}")
    if beta == 0:
        return logits
    has_negative = negatives.any(dim=1, keepdim=True)
    tilted = (beta * logits).masked_fill(~negatives, float("-inf"))
    # A row without negatives would be all -inf: log_softmax gives NaN there, and NaN leaks
    # into the gradient even through torch.where, so such rows get a harmless zero row.
    tilted = torch.where(has_negative, tilted, torch.zeros_like(tilted))
    log_q = torch.log_softmax(tilted, dim=1)
    log_m = negatives.sum(dim=1, keepdim=True).clamp_min(1).to(logits.dtype).log()
    return torch.where(negatives, logits + log_m + log_q, logits)


def keep_hardest_negatives(logits: torch.Tensor, negatives: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` highest-scoring negatives of each row (top-k hard-negative mining).

    Args:
        logits: ``(B, N)`` similarities (any monotone scale).
        negatives: bool ``(B, N)``; True where column ``j`` is a negative of row ``i``.
        k: how many negatives to keep per row (``>= 1``); rows with fewer keep all of theirs.

    Returns:
        bool ``(B, N)``, a subset of ``negatives`` with at most ``k`` True per row.

    Raises:
        ValueError: ``k < 1`` or shapes disagree.

    Examples:
        >>> logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
        >>> keep_hardest_negatives(logits, torch.tensor([[False, True, True, True]]), k=2)
        tensor([[False,  True, False,  True]])
    """
    _check(logits, negatives)
    if k < 1:
        raise ValueError(f"hard_negative_top_k must be >= 1, got {k}")
    k = min(k, logits.shape[1])
    idx = logits.detach().masked_fill(~negatives, float("-inf")).topk(k, dim=1).indices
    keep = torch.zeros_like(negatives).scatter_(1, idx, True)
    return keep & negatives
