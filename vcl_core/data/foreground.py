"""Foreground-background merging (after FAME, Ding et al. 2022): paste a clip's moving
foreground onto a still frame of another video, so that a positive pair shares the object
and its motion but not the scene, and instance discrimination cannot be won by the background.

The foreground is found without labels, from the clip itself: the pixels whose grey level
strays most from their temporal median (moving objects and textures), smoothed into a blob.
Camera motion moves the background too; keeping a fixed fraction of the frame (the pixels
that change most) keeps the mask on what moves fastest.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def motion_mask(clip: torch.Tensor, frac: float, blur: int = 5) -> torch.Tensor:
    """float ``(H, W)`` mask in ``[0, 1]`` of the moving foreground of a uint8 ``(T, H, W, C)``
    clip: the ``frac`` of pixels whose smoothed deviation from the temporal median is largest,
    with edges feathered over ``blur`` pixels. A clip without any change gives a mask of the
    same size at an arbitrary place (ties), never an empty one.

    Example:
        >>> clip = torch.zeros(4, 16, 16, 3, dtype=torch.uint8)
        >>> clip[1::2, 4:8, 4:8] = 255  # a blinking square
        >>> m = motion_mask(clip, frac=16 / 256, blur=1)
        >>> bool(m[4:8, 4:8].all()), float(m.sum())
        (True, 16.0)
    """
    if not 0 < frac < 1:
        raise ValueError(f"frac must be in (0, 1), got {frac}")
    g = clip.float().mean(-1)  # (T, H, W)
    dev = (g - g.median(0).values).abs().mean(0)[None, None]  # (1, 1, H, W)
    pad = blur // 2
    if blur > 1:
        dev = F.avg_pool2d(F.pad(dev, (pad,) * 4, mode="replicate"), blur, stride=1)
    flat = dev.flatten()
    k = max(1, int(round(frac * flat.numel())))
    hard = torch.zeros_like(flat)
    hard[flat.topk(k).indices] = 1.0
    hard = hard.view_as(dev)
    if blur > 1:
        hard = F.avg_pool2d(F.pad(hard, (pad,) * 4, mode="replicate"), blur, stride=1)
    return hard[0, 0]


def paste_foreground(clip: torch.Tensor, background: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """uint8 ``(T, H, W, C)``: ``mask * clip + (1 - mask) * background`` for a still uint8
    ``(H', W', C)`` background (resized to ``H x W`` when its size differs) and an ``(H, W)``
    mask in ``[0, 1]``."""
    t, h, w, c = clip.shape
    bg = background.float()
    if bg.shape[:2] != (h, w):
        bg = F.interpolate(bg.permute(2, 0, 1)[None], size=(h, w), mode="bilinear", align_corners=False)[0]
        bg = bg.permute(1, 2, 0)
    m = mask[None, :, :, None].to(torch.float32)
    out = m * clip.float() + (1 - m) * bg[None]
    return out.round().clamp(0, 255).to(torch.uint8)
