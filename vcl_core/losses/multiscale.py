"""Multi-scale contrast: one InfoNCE term per temporal scale, each with its own weight and temperature.

A *scale* is a kind of view: a clip length and frame stride (e.g. ``"short"`` = 8 frames at
stride 1 for sub-second motion, ``"long"`` = 16 frames at stride 8 for activity
progression). Within a scale every ordered pair of views of one video is a positive pair and
the batch's other videos (plus optional extra negatives such as that scale's queue) are the
negatives. Contrasting at several scales is what TCLR's instance terms (Dave et al. 2022) and
the short/long views of LSTCL (Wang et al. 2022) and BraVe (Recasens et al. 2021) do; giving
each scale its own temperature follows the observation that the right temperature depends
on how hard the positives are (Wang & Liu 2021, "Understanding the Behaviour of Contrastive
Loss"). Cross-scale alignment lives in :mod:`vcl_core.losses.crossscale`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from .infonce import info_nce


def _per_scale(value: Any, scales: list[str], name: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        missing = [s for s in scales if s not in value]
        if missing:
            raise ValueError(f"{name} has no entry for scale(s) {missing}; give one per scale in {scales}")
        return {s: value[s] for s in scales}
    return {s: value for s in scales}


def multiscale_info_nce(views_by_scale: Mapping[str, list[torch.Tensor]],
                        temperature: float | torch.Tensor | Mapping[str, float | torch.Tensor] = 0.1,
                        weights: Mapping[str, float] | None = None,
                        extra_negatives: Mapping[str, torch.Tensor] | None = None,
                        keys_by_scale: Mapping[str, list[torch.Tensor]] | None = None,
                        key_negatives: Mapping[str, Mapping[int, torch.Tensor]] | None = None,
                        loss_fn: Callable[..., torch.Tensor] = info_nce,
                        **info_nce_options: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum over scales of the mean InfoNCE over all ordered view pairs of that scale.

    For scale ``s`` with views ``z_1 .. z_V`` (each ``(B, D)``, row ``i`` from video ``i``):
    ``L_s = mean_{a != b} info_nce(z_a, k_b, t_s, extra_negatives=[N_b; E_s])`` and the total is
    ``sum_s w_s L_s``, where the keys ``k`` are the views themselves unless ``keys_by_scale``
    gives others (a momentum encoder's), ``N_b`` are the negatives that belong to key ``b``
    (e.g. that clip played backwards) and ``E_s`` those shared by the scale (its queue).

    Args:
        views_by_scale: scale name -> list of ``V >= 2`` embeddings ``(B, D)``; ``B`` and
            ``D`` may differ between scales (e.g. separate projection heads).
        temperature: one value for every scale, or a dict with one per scale (floats or 0-d
            tensors such as :class:`LearnedTemperature` outputs).
        weights: scale name -> weight; ``None`` gives every scale ``1 / num_scales`` (the
            mean). Scales with weight 0 are still computed and reported.
        extra_negatives: scale name -> ``(E, D)`` negatives for that scale (e.g. its
            :class:`KeyQueue`), shared by every pair; scales left out get none.
        keys_by_scale: scale name -> the keys, one per view, when they are not the views
            (MoCo: queries from the online network, keys from the momentum encoder).
        key_negatives: scale name -> {view index ``b`` -> ``(N, D)``}: negatives added to
            every pair whose key is view ``b``, before the scale's shared ones (the same ``N``
            for every key of a scale, so that masks over the columns fit every pair).
        loss_fn: the InfoNCE to call (:func:`info_nce`, or ``distributed_info_nce`` under DDP).
        **info_nce_options: forwarded to every ``loss_fn`` call (e.g. ``hard_negative_beta``,
            a ``false_negative_mask`` over the columns); per-row masks must then fit every scale.

    Returns:
        ``(total, terms)``: the scalar total and a dict scale -> its unweighted ``L_s``.

    Raises:
        ValueError: no scale, a scale with fewer than two views, views of one scale of
            different shapes, or a dict entry for an unknown or missing scale.

    Examples:
        >>> views = {"short": [torch.randn(8, 16) for _ in range(2)],
        ...          "long": [torch.randn(8, 16) for _ in range(3)]}
        >>> total, terms = multiscale_info_nce(views, temperature={"short": 0.1, "long": 0.2},
        ...                                    weights={"short": 1.0, "long": 0.5})
        >>> sorted(terms)
        ['long', 'short']
    """
    scales = list(views_by_scale)
    if not scales:
        raise ValueError("views_by_scale is empty; give at least one scale with two views")
    for name, given in (("weights", weights), ("extra_negatives", extra_negatives), ("temperature", temperature)):
        if isinstance(given, Mapping):
            unknown = [s for s in given if s not in views_by_scale]
            if unknown:
                raise ValueError(f"{name} names unknown scale(s) {unknown}; scales are {scales}")
    temps = _per_scale(temperature, scales, "temperature")
    w = _per_scale(weights, scales, "weights") if weights is not None else {s: 1.0 / len(scales) for s in scales}
    negs = dict(extra_negatives or {})
    total: torch.Tensor | float = 0.0
    terms: dict[str, torch.Tensor] = {}
    for s in scales:
        z = views_by_scale[s]
        if len(z) < 2:
            raise ValueError(f"scale {s!r} has {len(z)} view(s); contrast within a scale needs at least two "
                             "(drop the scale or sample more views of it)")
        if any(v.shape != z[0].shape for v in z):
            raise ValueError(f"views of scale {s!r} must share one shape, got {[tuple(v.shape) for v in z]}")
        keys = (keys_by_scale or {}).get(s, z)
        own = (key_negatives or {}).get(s, {})
        pairs = [(a, b) for a in range(len(z)) for b in range(len(z)) if a != b]
        term = 0.0
        for a, b in pairs:
            parts = ([own[b]] if b in own else []) + ([negs[s]] if s in negs else [])
            ex = torch.cat(parts) if len(parts) > 1 else (parts[0] if parts else None)
            term = term + loss_fn(z[a], keys[b], temps[s], extra_negatives=ex, **info_nce_options)
        term = term / len(pairs)
        terms[s] = term
        total = total + w[s] * term
    return total, terms
