"""3D CNN building blocks: normalisation choices, plain 3D and (2+1)D residual blocks, stages.

Normalisation (``norm``), which the seed singles out for stable contrast:

``batch``   BatchNorm3d: statistics over the batch, time and space (SyncBN under DDP when
            the training config asks for it).
``frame``   per-frame normalisation: each frame's feature map is normalised on its own
            (GroupNorm with one group over ``(C, H, W)`` of every frame), so no statistic
            mixes time steps or videos.
``group``   GroupNorm over channel groups (independent of the batch size).
``layer``   GroupNorm with one group over ``(C, T, H, W)`` per clip.
"""
from __future__ import annotations

import torch
import torch.nn as nn

NORMS = ("batch", "frame", "group", "layer")
BLOCKS = ("3d", "2plus1d")


class FrameNorm(nn.Module):
    """Normalise every frame's ``(C, H, W)`` map separately, with a per-channel affine."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = self.norm(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, c, h, w).transpose(1, 2)


def make_norm(kind: str, channels: int) -> nn.Module:
    """A normalisation layer for ``(B, C, T, H, W)`` features; see the module docstring."""
    if kind == "batch":
        return nn.BatchNorm3d(channels)
    if kind == "frame":
        return FrameNorm(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    raise ValueError(f"unknown norm {kind!r}; choose one of {NORMS}")


class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch per sample with probability ``p``."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1 - self.p)


def conv_unit(cin: int, cout: int, kt: int, stride: int, block: str, norm: str) -> nn.Sequential:
    """Convolution + norm (no activation). ``2plus1d`` factorises a ``kt x 3 x 3`` kernel into a
    spatial ``1 x 3 x 3`` and a temporal ``kt x 1 x 1`` convolution (Tran et al., CVPR 2018)."""
    if block == "3d" or kt == 1:
        return nn.Sequential(nn.Conv3d(cin, cout, (kt, 3, 3), (1, stride, stride), (kt // 2, 1, 1), bias=False),
                             make_norm(norm, cout))
    if block == "2plus1d":
        # mid width keeps the parameter count of the full 3D kernel (R(2+1)D rule)
        mid = max(1, (kt * 9 * cin * cout) // (9 * cin + kt * cout))
        return nn.Sequential(nn.Conv3d(cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
                             make_norm(norm, mid), nn.ReLU(inplace=True),
                             nn.Conv3d(mid, cout, (kt, 1, 1), 1, (kt // 2, 0, 0), bias=False),
                             make_norm(norm, cout))
    raise ValueError(f"unknown block {block!r}; choose one of {BLOCKS}")


class ResBlock(nn.Module):
    """Basic residual block of two conv units; spatial stride on the first."""

    def __init__(self, cin: int, cout: int, kt: int, stride: int, block: str, norm: str, drop_path: float):
        super().__init__()
        self.conv1 = conv_unit(cin, cout, kt, stride, block, norm)
        self.conv2 = conv_unit(cout, cout, kt, 1, block, norm)
        self.relu = nn.ReLU(inplace=True)
        self.drop = DropPath(drop_path)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv3d(cin, cout, 1, (1, stride, stride), bias=False), make_norm(norm, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.relu(self.conv1(x)))
        s = x if self.short is None else self.short(x)
        return self.relu(s + self.drop(y))


def make_stage(cin: int, cout: int, depth: int, kt: int, stride: int, block: str, norm: str,
               drop_path: float = 0.0) -> nn.Sequential:
    """``depth`` residual blocks, the first one changing width and spatial size."""
    return nn.Sequential(*[ResBlock(cin if i == 0 else cout, cout, kt, stride if i == 0 else 1, block, norm, drop_path)
                           for i in range(depth)])


def make_stem(cin: int, cout: int, kt: int, norm: str) -> nn.Sequential:
    """First layer: ``kt x 5 x 5`` conv with spatial stride 2, norm, ReLU."""
    return nn.Sequential(nn.Conv3d(cin, cout, (kt, 5, 5), (1, 2, 2), (kt // 2, 2, 2), bias=False),
                         make_norm(norm, cout), nn.ReLU(inplace=True))
