"""Predictive auxiliary tasks: small heads on clip embeddings and their losses.

Each task asks the encoder for a temporal fact that contrast alone may not need, with a free
label from the sampler or the pixels:

- clip order: :class:`ClipOrderHead` -> :func:`clip_order_loss` (VCOP, Xu et al. 2019);
- playback speed: :class:`PretextHead` -> :func:`playback_speed_loss` (PACE, Wang et al. 2020);
- temporal gap: :class:`TemporalGapHead` -> :func:`temporal_gap_loss` (the gap CVRL's sampler
  draws, used as a label);
- future feature: :class:`FutureFeatureHead` -> :func:`future_feature_loss` (DPC, Han et al. 2019);
- motion magnitude: :class:`PretextHead` -> :func:`motion_magnitude_loss` (Wang et al. 2019),
  label from :func:`frame_difference_magnitude` or optical flow;
- camera motion: :class:`PretextHead` -> :func:`camera_motion_loss` (egomotion, Agrawal et al. 2015).

Heads take embeddings ``(B, D)`` (or ``(B, N, D)`` for tasks over several clips) and return
logits or predictions; losses take predictions and labels. Heads are linear or a 2-layer MLP
on purpose: a strong head can solve the task without the encoder learning anything.
"""
from __future__ import annotations

import itertools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .infonce import _upcast, info_nce


class PretextHead(nn.Module):
    """``(B, in_dim) -> (B, out_dim)``: linear, or ``Linear -> ReLU -> Linear`` with ``hidden``.

    Use it for playback speed (``out_dim`` = number of speed classes), motion magnitude
    (``out_dim=1``) and camera motion (``out_dim`` = 2 for ``(dx, dy)``, 3 with zoom).

    Args:
        in_dim: embedding size.
        out_dim: number of logits or regression outputs.
        hidden: hidden width; ``None`` for a linear head.

    Examples:
        >>> speed_head = PretextHead(64, out_dim=4, hidden=128)
        >>> speed_head(torch.randn(8, 64)).shape
        torch.Size([8, 4])
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int | None = None):
        super().__init__()
        if hidden is None:
            self.net: nn.Module = nn.Linear(in_dim, out_dim)
        else:
            self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_dim) -> (B, out_dim)``."""
        return self.net(x)


# --- clip order (VCOP) -------------------------------------------------------------------

def clip_order_permutations(num_clips: int) -> torch.Tensor:
    """All ``N!`` orders of ``N`` clips, ``(N!, N)`` long, in lexicographic order (class ``c`` = row ``c``).

    Raises:
        ValueError: ``num_clips < 2``.
    """
    if num_clips < 2:
        raise ValueError(f"clip order needs at least 2 clips, got {num_clips}")
    return torch.tensor(list(itertools.permutations(range(num_clips))), dtype=torch.long)


def shuffle_clip_order(clips: torch.Tensor,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle the clips of each video by a random permutation and return its class.

    ``shuffled[b, j] = clips[b, perms[labels[b], j]]``. Works on clip embeddings
    ``(B, N, D)`` (equivalent to shuffling the inputs when the encoder sees each clip alone)
    or on raw clips ``(B, N, C, T, H, W)``.

    Args:
        clips: ``(B, N, ...)`` in temporal order.
        generator: CPU generator for reproducible labels.

    Returns:
        ``(shuffled (B, N, ...), labels (B,))`` with labels indexing :func:`clip_order_permutations`.
    """
    b, n = clips.shape[:2]
    perms = clip_order_permutations(n)
    labels = torch.randint(len(perms), (b,), generator=generator)
    order = perms[labels].to(clips.device)
    return clips[torch.arange(b, device=clips.device)[:, None], order], labels.to(clips.device)


class ClipOrderHead(nn.Module):
    """VCOP head: ``(B, N, D)`` shuffled clip embeddings -> ``(B, N!)`` order logits.

    As in Xu et al. 2019 ("Self-Supervised Spatiotemporal Learning via Video Clip Order
    Prediction", CVPR): every pair ``(i < j)`` of clip embeddings is concatenated and passed
    through a shared ``Linear(2D, hidden) -> ReLU``; the ``N (N - 1) / 2`` pair features are
    concatenated and a linear layer gives the ``N!`` logits.

    Args:
        dim: clip embedding size ``D``.
        num_clips: ``N`` (3 gives 6 classes, 4 gives 24).
        hidden: pair-feature width (VCOP uses 512).

    Examples:
        >>> head = ClipOrderHead(dim=32, num_clips=3, hidden=64)
        >>> shuffled, labels = shuffle_clip_order(torch.randn(8, 3, 32))
        >>> loss = clip_order_loss(head(shuffled), labels)
    """

    def __init__(self, dim: int, num_clips: int = 3, hidden: int = 512):
        super().__init__()
        self.num_clips = num_clips
        self.register_buffer("pairs", torch.combinations(torch.arange(num_clips), 2), persistent=False)
        self.pair = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(inplace=True))
        self.classify = nn.Linear(hidden * len(self.pairs), math.factorial(num_clips))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """``(B, N, D)`` clip embeddings in shuffled order -> ``(B, N!)`` logits; ValueError on other shapes."""
        if clips.dim() != 3 or clips.shape[1] != self.num_clips:
            raise ValueError(f"expected (B, {self.num_clips}, D) clip embeddings, got {tuple(clips.shape)}")
        pair_in = torch.cat([clips[:, self.pairs[:, 0]], clips[:, self.pairs[:, 1]]], dim=-1)  # (B, P, 2D)
        return self.classify(self.pair(pair_in).flatten(1))


def _classification_loss(logits: torch.Tensor, labels: torch.Tensor, what: str) -> torch.Tensor:
    if logits.dim() != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"{what}: logits must be (B, C) and labels (B,); "
                         f"got {tuple(logits.shape)}, {tuple(labels.shape)}")
    if len(labels) and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"{what}: labels must lie in [0, {logits.shape[1]}), got {labels.min()}..{labels.max()}")
    return F.cross_entropy(_upcast(logits), labels.long())


def clip_order_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the ``N!`` orders (VCOP, Xu et al. 2019).

    Args:
        logits: ``(B, N!)`` from :class:`ClipOrderHead`.
        labels: ``(B,)`` permutation classes from :func:`shuffle_clip_order`.

    Raises:
        ValueError: shapes disagree or a label is out of range.
    """
    return _classification_loss(logits, labels, "clip order")


def playback_speed_loss(logits: torch.Tensor, speed_class: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over playback-speed classes (PACE, Wang et al. 2020, "Self-Supervised
    Video Representation Learning by Pace Prediction", ECCV).

    Args:
        logits: ``(B, num_speeds)`` from a :class:`PretextHead` on the clip embedding.
        speed_class: ``(B,)`` index of the frame stride the clip was sampled with
            (e.g. strides 1, 2, 4, 8 -> classes 0..3).

    Raises:
        ValueError: shapes disagree or a label is out of range.

    Examples:
        >>> head = PretextHead(32, out_dim=4)
        >>> loss = playback_speed_loss(head(torch.randn(8, 32)), torch.randint(4, (8,)))
    """
    return _classification_loss(logits, speed_class, "playback speed")


# --- regression tasks --------------------------------------------------------------------

def _regression_loss(pred: torch.Tensor, target: torch.Tensor, what: str) -> torch.Tensor:
    if pred.dim() == target.dim() + 1 and pred.shape[-1] == 1:
        pred = pred.squeeze(-1)
    if pred.shape != target.shape:
        raise ValueError(f"{what}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    pred = _upcast(pred)
    return F.smooth_l1_loss(pred, target.to(pred.dtype))


class TemporalGapHead(nn.Module):
    """``(B, D), (B, D) -> (B,)``: the normalised time gap from clip ``a`` to clip ``b``.

    The two embeddings are concatenated in order, so a signed gap (``b`` before ``a``) can
    be learned too.

    Args:
        dim: clip embedding size.
        hidden: hidden width; ``None`` for a linear head.

    Examples:
        >>> head = TemporalGapHead(dim=32, hidden=64)
        >>> z_a, z_b, gap = torch.randn(8, 32), torch.randn(8, 32), torch.rand(8) * 4
        >>> loss = temporal_gap_loss(head(z_a, z_b), gap, max_gap=4.0)
    """

    def __init__(self, dim: int, hidden: int | None = 256):
        super().__init__()
        self.head = PretextHead(2 * dim, 1, hidden)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        """``(B, D), (B, D) -> (B,)`` predicted normalised gap; ValueError if the shapes differ."""
        if z_a.shape != z_b.shape:
            raise ValueError(f"z_a and z_b must match, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
        return self.head(torch.cat([z_a, z_b], dim=-1)).squeeze(-1)


def temporal_gap_loss(pred: torch.Tensor, gap: torch.Tensor, max_gap: float | torch.Tensor) -> torch.Tensor:
    """Smooth-L1 between the predicted and the true gap divided by ``max_gap``.

    The label is free: the pair sampler knows how far apart it drew the clips (CVRL's
    decreasing-gap sampling, Qian et al. 2021, draws exactly this quantity). Normalising by the largest possible
    gap keeps the target in ``[-1, 1]`` whatever the video length unit.

    Args:
        pred: ``(B,)`` from :class:`TemporalGapHead`.
        gap: ``(B,)`` start of clip ``b`` minus start of clip ``a`` (seconds or frames).
        max_gap: the sampler's largest gap, same unit (``> 0``): a number, or ``(B,)`` per
            sample (each video's own length, which keeps the target independent of which
            other videos share the batch, so data-parallel processes agree).

    Raises:
        ValueError: ``max_gap <= 0`` or shapes disagree.
    """
    if (torch.as_tensor(max_gap) <= 0).any():
        raise ValueError(f"max_gap must be > 0, got {max_gap}")
    return _regression_loss(pred, gap.float() / max_gap, "temporal gap")


def frame_difference_magnitude(clips: torch.Tensor) -> torch.Tensor:
    """A free motion label: mean absolute difference of consecutive frames, ``(B, C, T, H, W) -> (B,)``.

    A crude stand-in for the optical-flow magnitude statistics of Wang et al. 2019; zero for
    a static clip, larger for faster motion.

    Raises:
        ValueError: not 5-D or fewer than 2 frames.
    """
    if clips.dim() != 5 or clips.shape[2] < 2:
        raise ValueError(f"clips must be (B, C, T, H, W) with T >= 2, got {tuple(clips.shape)}")
    return _upcast((clips[:, :, 1:] - clips[:, :, :-1]).abs()).mean(dim=(1, 2, 3, 4))


def motion_magnitude_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 regression of a clip's motion magnitude (Wang et al. 2019, "Self-supervised
    Spatio-temporal Representation Learning for Videos by Predicting Motion and Appearance
    Statistics", CVPR).

    Args:
        pred: ``(B,)`` or ``(B, 1)`` from ``PretextHead(D, 1)``.
        target: ``(B,)`` e.g. :func:`frame_difference_magnitude` or a flow statistic, ideally
            standardised over the dataset.

    Raises:
        ValueError: shapes disagree.
    """
    return _regression_loss(pred, target, "motion magnitude")


def camera_motion_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Smooth-L1 regression of a per-clip camera motion vector, skipping clips without a label.

    Predicting how the camera moved between frames is the egomotion pretext of Agrawal et
    al. 2015 ("Learning to See by Moving", ICCV); the synthetic benchmark records its
    pan/shake, real data may record it for some clips only.

    Args:
        pred: ``(B, C)`` predicted ``(dx, dy)`` or ``(dx, dy, zoom)``.
        target: ``(B, C)`` true camera motion.
        valid: bool ``(B,)``; False rows (no label) are ignored. ``None`` = all valid.

    Returns:
        Mean over valid rows and components; 0 (still attached to ``pred``) if none is valid.

    Raises:
        ValueError: shapes disagree.

    Examples:
        >>> head = PretextHead(32, out_dim=2)
        >>> loss = camera_motion_loss(head(torch.randn(8, 32)), torch.randn(8, 2))
    """
    if pred.dim() != 2 or pred.shape != target.shape:
        raise ValueError(f"camera motion: pred and target must be (B, C), "
                         f"got {tuple(pred.shape)}, {tuple(target.shape)}")
    if valid is None:
        return _regression_loss(pred, target, "camera motion")
    if valid.shape != (pred.shape[0],):
        raise ValueError(f"valid must be ({pred.shape[0]},), got {tuple(valid.shape)}")
    if not valid.any():
        return pred.sum() * 0.0
    return _regression_loss(pred[valid.bool()], target[valid.bool()], "camera motion")


# --- future feature prediction ------------------------------------------------------------

class FutureFeatureHead(nn.Module):
    """``(B, N, D)`` embeddings of ``N`` consecutive clips -> ``(B, D)`` prediction of clip ``N + 1``.

    A 2-layer MLP over the flattened context, a light stand-in for DPC's ConvGRU aggregator
    (Han et al. 2019).

    Args:
        dim: clip embedding size ``D``.
        num_context: ``N`` clips of context.
        hidden: hidden width.

    Raises:
        ValueError: ``num_context < 1``.

    Examples:
        >>> head = FutureFeatureHead(dim=32, num_context=3, hidden=64)
        >>> head(torch.randn(8, 3, 32)).shape
        torch.Size([8, 32])
    """

    def __init__(self, dim: int, num_context: int, hidden: int = 256):
        super().__init__()
        if num_context < 1:
            raise ValueError(f"num_context must be >= 1, got {num_context}")
        self.num_context = num_context
        self.net = PretextHead(num_context * dim, dim, hidden)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        """``(B, N, D) -> (B, D)``; ValueError if ``N`` is not ``num_context``."""
        if context.dim() != 3 or context.shape[1] != self.num_context:
            raise ValueError(f"expected (B, {self.num_context}, D) context, got {tuple(context.shape)}")
        return self.net(context.flatten(1))


def future_feature_loss(pred: torch.Tensor, target: torch.Tensor,
                        temperature: float | torch.Tensor = 0.1) -> torch.Tensor:
    """InfoNCE between the predicted and the true next-clip embedding, the batch as negatives.

    Dense Predictive Coding (Han, Xie & Zisserman 2019, "Video Representation Learning by
    Dense Predictive Coding") scores the prediction against the real future embedding and
    those of the other videos rather than regressing it, which cannot collapse. Gradients
    flow into both sides, as in DPC.

    Args:
        pred: ``(B, D)`` from :class:`FutureFeatureHead`.
        target: ``(B, D)`` embedding of the clip that actually follows.
        temperature: softmax temperature.

    Raises:
        ValueError: shapes disagree.

    Examples:
        >>> head = FutureFeatureHead(dim=32, num_context=3, hidden=64)
        >>> clips = torch.randn(8, 4, 32)
        >>> loss = future_feature_loss(head(clips[:, :3]), clips[:, 3])
    """
    return info_nce(pred, target, temperature)
