"""Clip-consistent augmentation on uint8 tensors.

Every spatial transform draws its parameters once per clip and applies them to all frames,
so the only change from frame to frame is the video's own motion (as CVRL does by jittering
the frames as one tall image). Input is uint8 ``(T, H, W, C)``; output is the normalised float
``(C, T, h, w)`` the encoders take.

Note on flips: a horizontal mirror turns a clockwise spin into a counter-clockwise one (and
left-right motion into right-left), so flipping teaches invariance to motion direction. The
synthetic benchmark's presets therefore leave ``flip_p`` at 0; notebook 06 measures the cost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)


@dataclass(frozen=True)
class AugmentConfig:
    """Spatial augmentation of one view.

    Args:
        crop_size: output height and width.
        crop_scale: range of the crop's area as a fraction of the frame (random resized crop).
        crop_ratio: range of the crop's aspect ratio (w / h).
        flip_p: probability of a horizontal flip (see the module note on motion direction).
        jitter_p: probability of colour jitter.
        brightness, contrast, saturation: jitter strengths (factor drawn from 1 +- s).
        hue: hue rotation as a fraction of a full turn (drawn from +- hue).
        grayscale_p: probability of converting the clip to grayscale.
    """

    crop_size: int = 64
    crop_scale: tuple[float, float] = (0.4, 1.0)
    crop_ratio: tuple[float, float] = (0.75, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_p: float = 0.2

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        if not (0 < lo <= hi <= 1):
            raise ValueError(f"crop_scale must satisfy 0 < lo <= hi <= 1, got {self.crop_scale}")
        for name in ("flip_p", "jitter_p", "grayscale_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class SpatialParams:
    """Parameters drawn for one clip: crop box ``(top, left, height, width)`` and colour."""

    box: tuple[int, int, int, int]
    flip: bool
    jitter: tuple[float, float, float, float] | None  # brightness, contrast, saturation, hue
    gray: bool


def draw_spatial(rng: np.random.Generator, height: int, width: int, cfg: AugmentConfig) -> SpatialParams:
    """Draw one clip's spatial parameters (random resized crop as in Inception/SimCLR)."""
    area = height * width
    box = (0, 0, height, width)
    for _ in range(10):
        target = area * rng.uniform(*cfg.crop_scale)
        ratio = math.exp(rng.uniform(math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1])))
        w = int(round(math.sqrt(target * ratio)))
        h = int(round(math.sqrt(target / ratio)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            box = (top, left, h, w)
            break
    flip = bool(rng.random() < cfg.flip_p)
    jitter = None
    if rng.random() < cfg.jitter_p:
        jitter = (rng.uniform(1 - cfg.brightness, 1 + cfg.brightness),
                  rng.uniform(1 - cfg.contrast, 1 + cfg.contrast),
                  rng.uniform(1 - cfg.saturation, 1 + cfg.saturation),
                  rng.uniform(-cfg.hue, cfg.hue))
    gray = bool(rng.random() < cfg.grayscale_p)
    return SpatialParams(box, flip, jitter, gray)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """Luma of ``(T, C, H, W)`` in [0, 1], kept as one channel."""
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


def _hue_rotate(x: torch.Tensor, turn: float) -> torch.Tensor:
    """Rotate hue by ``turn`` of a full circle: a rotation of the chroma plane in YIQ space."""
    if turn == 0:
        return x
    c, s = math.cos(2 * math.pi * turn), math.sin(2 * math.pi * turn)
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    rot = torch.tensor([[1.0, 0, 0], [0, c, -s], [0, s, c]])
    m = torch.linalg.inv(to_yiq) @ rot @ to_yiq
    return torch.einsum("ij,tjhw->tihw", m.to(x.dtype), x)


def color_jitter(x: torch.Tensor, jitter: tuple[float, float, float, float]) -> torch.Tensor:
    """Brightness, contrast, saturation, hue, in that order, on ``(T, C, H, W)`` in [0, 1]."""
    b, c, s, h = jitter
    x = x * b
    mean = _gray(x).mean()
    x = (x - mean) * c + mean
    g = _gray(x)
    x = (x - g) * s + g
    x = _hue_rotate(x, h)
    return x.clamp(0, 1)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """``(T, C, H, W)`` in [0, 1] -> normalised ``(C, T, H, W)``."""
    mean = torch.tensor(MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=x.dtype).view(1, 3, 1, 1)
    return ((x - mean) / std).permute(1, 0, 2, 3).contiguous()


def to_float(clip: torch.Tensor) -> torch.Tensor:
    """uint8 ``(T, H, W, C)`` -> float ``(T, C, H, W)`` in [0, 1]."""
    return clip.permute(0, 3, 1, 2).float().div_(255.0)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(T, C, h, w)`` to ``(T, C, size, size)`` (antialiased when shrinking)."""
    if x.shape[-2:] == (size, size):
        return x
    shrink = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


def apply_spatial(clip: torch.Tensor, p: SpatialParams, cfg: AugmentConfig) -> torch.Tensor:
    """Apply one clip's parameters to uint8 ``(T, H, W, C)``; returns normalised ``(C, T, s, s)``."""
    top, left, h, w = p.box
    x = to_float(clip[:, top:top + h, left:left + w])
    x = resize(x, cfg.crop_size)
    if p.flip:
        x = x.flip(-1)
    if p.jitter is not None:
        x = color_jitter(x, p.jitter)
    if p.gray:
        x = _gray(x).expand(-1, 3, -1, -1)
    return normalize(x)


def center_view(clip: torch.Tensor, crop_size: int, crop_fraction: float = 1.0) -> torch.Tensor:
    """Deterministic evaluation transform: centre crop of ``crop_fraction`` of the short side,
    resized to ``crop_size``; uint8 ``(T, H, W, C)`` -> normalised ``(C, T, s, s)``."""
    _, H, W, _ = clip.shape
    side = max(1, int(round(min(H, W) * crop_fraction)))
    top, left = (H - side) // 2, (W - side) // 2
    x = to_float(clip[:, top:top + side, left:left + side])
    return normalize(resize(x, crop_size))
