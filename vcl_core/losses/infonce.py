"""InfoNCE and NT-Xent: the contrastive losses everything else builds on.

``info_nce`` (van den Oord et al. 2018; MoCo, He et al. 2020) scores each query against its
own key (the positive) and every other key in the batch plus optional extra negatives (a
queue, temporal hard negatives). Options that video needs:

- ``false_negative_mask``: drop logits of keys that are not really negatives (another clip of
  the same video, an overlapping window) from the denominator;
- ``positive_weights``: soft targets, e.g. neighbouring clips weighted by temporal distance;
- ``temperature`` per call (fixed, scheduled or learned by the caller).

``nt_xent`` is SimCLR's symmetric form (Chen et al. 2020): ``2N`` embeddings, each with one
positive and ``2N - 2`` negatives.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(query: torch.Tensor, key: torch.Tensor, temperature: float | torch.Tensor = 0.1,
             extra_negatives: torch.Tensor | None = None, false_negative_mask: torch.Tensor | None = None,
             positive_weights: torch.Tensor | None = None, normalize: bool = True,
             reduction: str = "mean") -> torch.Tensor:
    """InfoNCE of ``query[i]`` against ``key[i]`` with all other keys as negatives.

    Args:
        query: ``(B, D)``.
        key: ``(B, D)``; ``key[i]`` is the positive of ``query[i]``.
        temperature: scalar (float or 0-d tensor, e.g. a learned one).
        extra_negatives: ``(E, D)`` more negatives shared by every query.
        false_negative_mask: bool ``(B, B + E)``; True removes that key from row ``i``'s
            denominator. The positive (diagonal) is never removed.
        positive_weights: ``(B, B + E)`` non-negative soft targets (rows are normalised to sum
            to one). ``None`` means one-hot on the diagonal.
        normalize: L2-normalise query, key and negatives first (cosine similarity).
        reduction: ``mean``, ``sum`` or ``none`` (per-query losses).

    Returns:
        The loss (scalar, or ``(B,)`` with ``reduction="none"``).

    Raises:
        ValueError: shapes disagree.

    Examples:
        >>> q, k = torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = info_nce(q, k, temperature=0.2)
    """
    if query.shape != key.shape or query.dim() != 2:
        raise ValueError(f"query and key must both be (B, D); got {tuple(query.shape)} and {tuple(key.shape)}")
    if normalize:
        query, key = F.normalize(query, dim=1), F.normalize(key, dim=1)
    keys = key
    if extra_negatives is not None:
        if extra_negatives.dim() != 2 or extra_negatives.shape[1] != key.shape[1]:
            raise ValueError(f"extra_negatives must be (E, {key.shape[1]}), got {tuple(extra_negatives.shape)}")
        neg = F.normalize(extra_negatives, dim=1) if normalize else extra_negatives
        keys = torch.cat([key, neg.to(key.dtype)], dim=0)
    logits = query @ keys.T / temperature
    b, n = logits.shape
    diag = torch.zeros(b, n, dtype=torch.bool, device=logits.device)
    diag[torch.arange(b), torch.arange(b)] = True
    if false_negative_mask is not None:
        if false_negative_mask.shape != (b, n):
            raise ValueError(f"false_negative_mask must be {(b, n)}, got {tuple(false_negative_mask.shape)}")
        logits = logits.masked_fill(false_negative_mask & ~diag, float("-inf"))
    log_prob = F.log_softmax(logits.float(), dim=1)
    if positive_weights is None:
        loss = -log_prob[diag]
    else:
        if positive_weights.shape != (b, n):
            raise ValueError(f"positive_weights must be {(b, n)}, got {tuple(positive_weights.shape)}")
        w = positive_weights.float()
        w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
        loss = -(w * log_prob.masked_fill(torch.isinf(log_prob), 0.0)).sum(dim=1)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"unknown reduction {reduction!r}")


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float | torch.Tensor = 0.1) -> torch.Tensor:
    """SimCLR's normalised-temperature cross-entropy over ``2N`` embeddings.

    Row ``i`` of ``z1`` and row ``i`` of ``z2`` are positives; each embedding's negatives are
    the other ``2N - 2`` embeddings (itself excluded).

    Args:
        z1, z2: ``(N, D)`` projections of two views.
        temperature: softmax temperature.

    Returns:
        Scalar loss averaged over the ``2N`` anchors.
    """
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = (z @ z.T / temperature).float()
    sim.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)
