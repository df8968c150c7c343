"""InfoNCE: the contrastive loss everything else builds on.

``info_nce`` (van den Oord et al. 2018; MoCo, He et al. 2020) scores each query against its
own key (the positive) and every other key in the batch plus optional extra negatives (a
queue, temporal hard negatives). Options that video needs:

- ``false_negative_mask``: drop logits of keys that are not really negatives (another clip of
  the same video, an overlapping window) from the denominator; build it with
  :func:`same_video_mask`;
- ``positive_weights``: soft targets (several positives per row, e.g. neighbouring clips
  weighted by their temporal distance);
- ``hard_negative_beta`` / ``hard_negative_top_k``: hard negatives (Robinson et al. 2021),
  see :mod:`vcl_core.losses.hard_negatives`;
- ``extra_negative_scale``: VideoMoCo's age decay of queued keys (Pan et al. 2021);
- ``temperature`` per call (fixed, scheduled or learned by the caller).

:func:`info_nce_from_logits` is the same loss on a ready logit matrix with arbitrary target
columns; :func:`vcl_core.losses.distributed_info_nce` uses it for local rows against global
columns. The recipes call it once per ordered pair of views (``a`` against ``b`` and ``b``
against ``a``), which is SimCLR's symmetric loss (Chen et al. 2020) without the negatives that
come from the anchor's own view.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .hard_negatives import keep_hardest_negatives, reweight_hard_negatives

_MASK_MODES = ("overlap", "video")


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """At least float32 (half/bfloat16 logits under AMP lose the softmax), float64 kept."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def same_video_mask(video_ids_q: torch.Tensor, video_ids_k: torch.Tensor,
                    starts_q: torch.Tensor | None = None, ends_q: torch.Tensor | None = None,
                    starts_k: torch.Tensor | None = None, ends_k: torch.Tensor | None = None,
                    mode: str = "overlap") -> torch.Tensor:
    """False-negative mask: which keys come from the query's own video (and time window).

    With ``mode="video"`` every key of the same video is flagged (instance discrimination at
    the video level). With ``mode="overlap"`` only keys whose time window ``[start, end)``
    overlaps the query's are flagged, so non-overlapping windows of the same video stay as
    negatives (TCLR's local-local intra-video negatives, Dave et al. 2022). Windows that only
    touch (``end_q == start_k``) do not overlap.

    Args:
        video_ids_q: ``(B,)`` integer video ids of the queries.
        video_ids_k: ``(N,)`` integer video ids of the keys (e.g. the batch's keys followed by
            a queue's, ``N = B + E``).
        starts_q, ends_q: ``(B,)`` query windows in seconds (or frames); needed for ``overlap``,
            ignored for ``video``.
        starts_k, ends_k: ``(N,)`` key windows, same unit.
        mode: ``"overlap"`` or ``"video"``.

    Returns:
        bool ``(B, N)``, True where key ``j`` is not a true negative of query ``i``; pass it as
        ``false_negative_mask`` (:func:`info_nce` never removes the positive itself).

    Raises:
        ValueError: unknown mode, missing windows for ``overlap``, or shapes disagree.

    Examples:
        >>> vid = torch.tensor([0, 0, 1])
        >>> t0, t1 = torch.tensor([0.0, 2.0, 0.0]), torch.tensor([1.0, 3.0, 1.0])
        >>> same_video_mask(vid, vid, t0, t1, t0, t1, mode="overlap").int()
        tensor([[1, 0, 0],
                [0, 1, 0],
                [0, 0, 1]], dtype=torch.int32)
    """
    if mode not in _MASK_MODES:
        raise ValueError(f"mode must be one of {_MASK_MODES}, got {mode!r}")
    if video_ids_q.dim() != 1 or video_ids_k.dim() != 1:
        raise ValueError(f"video ids must be 1-D, got {tuple(video_ids_q.shape)} and {tuple(video_ids_k.shape)}")
    same = video_ids_q[:, None] == video_ids_k[None, :]
    if mode == "video":
        return same
    windows = {"starts_q": starts_q, "ends_q": ends_q, "starts_k": starts_k, "ends_k": ends_k}
    missing = [name for name, t in windows.items() if t is None]
    if missing:
        raise ValueError(f"mode='overlap' needs the clip windows; missing {missing} "
                         "(or use mode='video' to mask every clip of the same video)")
    for name, t in windows.items():
        n = len(video_ids_q) if name.endswith("_q") else len(video_ids_k)
        if t.shape != (n,):
            raise ValueError(f"{name} must be ({n},), got {tuple(t.shape)}")
    overlap = (starts_q[:, None] < ends_k[None, :]) & (starts_k[None, :] < ends_q[:, None])
    return same & overlap


def contrastive_logits(query: torch.Tensor, key: torch.Tensor, temperature: float | torch.Tensor = 0.1,
                       extra_negatives: torch.Tensor | None = None,
                       extra_negative_scale: torch.Tensor | None = None, normalize: bool = True) -> torch.Tensor:
    """Similarity logits of queries against keys followed by extra negatives.

    Args:
        query: ``(B, D)``.
        key: ``(N, D)``.
        temperature: scalar (float or 0-d tensor).
        extra_negatives: ``(E, D)`` appended after the keys.
        extra_negative_scale: ``(E,)`` factors on the extra negatives' similarities, applied
            after normalisation and before the temperature (VideoMoCo's ``t ** age`` decay of
            queued keys, Pan et al. 2021; see :meth:`KeyQueue.age_weights`).
        normalize: L2-normalise everything first (cosine similarity).

    Returns:
        float ``(B, N + E)`` logits (``N`` without extra negatives).

    Raises:
        ValueError: dimensions disagree or a scale is given without extra negatives.
    """
    if query.dim() != 2 or key.dim() != 2 or query.shape[1] != key.shape[1]:
        raise ValueError(f"query and key must be (B, D) and (N, D); got {tuple(query.shape)} and {tuple(key.shape)}")
    if normalize:
        query, key = F.normalize(query, dim=1), F.normalize(key, dim=1)
    keys = key
    if extra_negatives is not None:
        if extra_negatives.dim() != 2 or extra_negatives.shape[1] != key.shape[1]:
            raise ValueError(f"extra_negatives must be (E, {key.shape[1]}), got {tuple(extra_negatives.shape)}")
        neg = F.normalize(extra_negatives, dim=1) if normalize else extra_negatives
        if extra_negative_scale is not None:
            if extra_negative_scale.shape != (neg.shape[0],):
                raise ValueError(f"extra_negative_scale must be ({neg.shape[0]},), "
                                 f"got {tuple(extra_negative_scale.shape)}")
            neg = neg * extra_negative_scale.to(neg.dtype)[:, None]
        keys = torch.cat([key, neg.to(key.dtype)], dim=0)
    elif extra_negative_scale is not None:
        raise ValueError("extra_negative_scale needs extra_negatives")
    return _upcast(query @ keys.T / temperature)


def info_nce_from_logits(logits: torch.Tensor, targets: torch.Tensor,
                         false_negative_mask: torch.Tensor | None = None,
                         positive_weights: torch.Tensor | None = None, reduction: str = "mean", *,
                         hard_negative_beta: float = 0.0, hard_negative_top_k: int | None = None) -> torch.Tensor:
    """Softmax cross-entropy over a logit matrix whose positive of row ``i`` is column ``targets[i]``.

    Column roles per row: *positives* are the target column and every column with a positive
    weight; *negatives* are the others, minus those flagged in ``false_negative_mask``,
    minus those dropped by top-k mining. Positives are never masked. Hard-negative
    re-weighting then acts on the remaining negatives only.

    Args:
        logits: ``(B, N)`` similarities already divided by the temperature.
        targets: ``(B,)`` long, the positive column of each row.
        false_negative_mask: bool ``(B, N)``; True removes that column from row ``i``'s
            denominator unless it is a positive.
        positive_weights: ``(B, N)`` non-negative soft targets, rows normalised to sum to one;
            ``None`` means one-hot on ``targets``.
        reduction: ``mean``, ``sum`` or ``none`` (per-row losses).
        hard_negative_beta: Robinson et al. (2021) concentration, ``0`` = off.
        hard_negative_top_k: keep only the ``k`` hardest negatives per row, ``None`` = all.

    Returns:
        The loss (scalar, or ``(B,)`` with ``reduction="none"``).

    Raises:
        ValueError: shapes disagree, negative or all-zero weight rows, unknown reduction.
    """
    if logits.dim() != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(f"logits must be (B, N) and targets (B,); "
                         f"got {tuple(logits.shape)} and {tuple(targets.shape)}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}; use 'mean', 'sum' or 'none'")
    b, n = logits.shape
    logits = _upcast(logits)
    positives = F.one_hot(targets.long(), n).bool()
    if positive_weights is not None:
        if positive_weights.shape != (b, n):
            raise ValueError(f"positive_weights must be {(b, n)}, got {tuple(positive_weights.shape)}")
        w = positive_weights.to(logits.dtype)
        if (w < 0).any():
            raise ValueError("positive_weights must be non-negative")
        row_sum = w.sum(dim=1, keepdim=True)
        if (row_sum <= 0).any():
            raise ValueError("every row of positive_weights needs some weight; give each query a "
                             "positive of its own video (e.g. the diagonal)")
        w = w / row_sum
        positives = positives | (w > 0)
    negatives = ~positives
    if false_negative_mask is not None:
        if false_negative_mask.shape != (b, n):
            raise ValueError(f"false_negative_mask must be {(b, n)}, got {tuple(false_negative_mask.shape)}")
        negatives = negatives & ~false_negative_mask.bool()
    if hard_negative_top_k is not None:
        negatives = keep_hardest_negatives(logits, negatives, hard_negative_top_k)
    logits = reweight_hard_negatives(logits, negatives, hard_negative_beta)
    logits = logits.masked_fill(~(positives | negatives), float("-inf"))
    log_prob = F.log_softmax(logits, dim=1)
    if positive_weights is None:
        loss = -log_prob.gather(1, targets.long()[:, None]).squeeze(1)
    else:
        loss = -(w * log_prob.masked_fill(~positives, 0.0)).sum(dim=1)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def info_nce(query: torch.Tensor, key: torch.Tensor, temperature: float | torch.Tensor = 0.1,
             extra_negatives: torch.Tensor | None = None, false_negative_mask: torch.Tensor | None = None,
             positive_weights: torch.Tensor | None = None, normalize: bool = True,
             reduction: str = "mean", *, hard_negative_beta: float = 0.0, hard_negative_top_k: int | None = None,
             extra_negative_scale: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE of ``query[i]`` against ``key[i]`` with all other keys as negatives.

    ``loss_i = -log exp(s_ii / t) / sum_j exp(s_ij / t)`` with ``s`` the (cosine) similarity,
    ``j`` running over the batch's keys and the extra negatives (van den Oord et al. 2018,
    "Representation Learning with Contrastive Predictive Coding"; He et al. 2020, MoCo).

    Args:
        query: ``(B, D)``.
        key: ``(B, D)``; ``key[i]`` is the positive of ``query[i]``.
        temperature: scalar (float or 0-d tensor, e.g. a learned one).
        extra_negatives: ``(E, D)`` more negatives shared by every query.
        false_negative_mask: bool ``(B, B + E)``; True removes that key from row ``i``'s
            denominator. Positives (the diagonal, soft positives) are never removed.
        positive_weights: ``(B, B + E)`` non-negative soft targets (rows are normalised to sum
            to one); every key with weight > 0 is a positive. ``None`` means one-hot on the
            diagonal.
        normalize: L2-normalise query, key and negatives first (cosine similarity).
        reduction: ``mean``, ``sum`` or ``none`` (per-query losses).
        hard_negative_beta: importance re-weighting of negatives towards the hard ones
            (Robinson et al. 2021; 0 = off, 0.5-1 typical).
        hard_negative_top_k: keep only the ``k`` most similar negatives per query.
        extra_negative_scale: ``(E,)`` similarity factors for the extra negatives
            (VideoMoCo age decay).

    Returns:
        The loss (scalar, or ``(B,)`` with ``reduction="none"``).

    Raises:
        ValueError: shapes disagree, bad weights, unknown reduction.

    Examples:
        >>> q, k = torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = info_nce(q, k, temperature=0.2)
        >>> hard = info_nce(q, k, temperature=0.2, hard_negative_beta=1.0)
    """
    if query.shape != key.shape or query.dim() != 2:
        raise ValueError(f"query and key must both be (B, D); got {tuple(query.shape)} and {tuple(key.shape)}")
    logits = contrastive_logits(query, key, temperature, extra_negatives, extra_negative_scale, normalize)
    targets = torch.arange(query.shape[0], device=logits.device)
    return info_nce_from_logits(logits, targets, false_negative_mask, positive_weights, reduction,
                                hard_negative_beta=hard_negative_beta, hard_negative_top_k=hard_negative_top_k)


