"""Reference encoders that bracket what a learned model achieves.

Both see only appearance, so temporal factors that they separate above chance would be
appearance shortcuts in the benchmark; the benchmark's honesty test runs them.

:class:`MeanFrameEncoder` averages the frames of a clip and pools the mean image to a small
grid (linear in the pixels).

:class:`FrameAverageEncoder` applies a fixed random 2D CNN to every frame on its own, pools
each frame's feature map globally and averages the frame features over time. The average is
invariant to any permutation of the frames, so the encoder is provably blind to frame order
(forward, reversed and shuffled clips give the same embedding up to float rounding), yet its
nonlinear per-frame features of a colour-invariant (chroma) map read shape.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class MeanFrameEncoder(nn.Module):
    """``(B, 3, T, H, W) -> (B, 3 * grid * grid)``: the time-averaged frame on a coarse grid."""

    def __init__(self, grid: int = 8):
        super().__init__()
        self.grid = grid
        self.embed_dim = 3 * grid * grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x.mean(dim=2), self.grid).flatten(1)


class FrameAverageEncoder(nn.Module):
    """``(B, 3, T, H, W) -> (B, widths[-1])``: a fixed random per-frame 2D CNN, averaged over frames.

    Each frame is reduced to its chroma map (``max - min`` over the colour channels, minus the
    frame's mean chroma), a colour-invariant picture of where saturated surfaces are, and goes
    through random 3x3 convolutions with ReLUs (He-initialised from ``seed``, frozen) and global
    average pooling; the frame features are averaged over time. Random features of raw RGB are
    dominated by hue, a per-video nuisance, and read shape barely above chance; the chroma map
    keeps form and drops hue.

    Args:
        widths: channels of the convolutions (each but the first halves the resolution).
        seed: initialises the weights, so two instances with one seed are the same network.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128), seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        layers, cin = [], 1
        for i, w in enumerate(widths):
            conv = nn.Conv2d(cin, w, 3, stride=1 if i == 0 else 2, padding=1)
            with torch.no_grad():
                # He initialisation from our own generator, so the global RNG is left alone
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2.0 / (cin * 9)) ** 0.5)
                conv.bias.zero_()
            layers += [conv, nn.ReLU()]
            cin = w
        self.net = nn.Sequential(*layers)
        self.embed_dim = cin
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"expected a clip batch (B, 3, T, H, W), got shape {tuple(x.shape)}")
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        chroma = frames.amax(1, keepdim=True) - frames.amin(1, keepdim=True)
        chroma = chroma - chroma.mean(dim=(2, 3), keepdim=True)
        per_frame = self.net(chroma).mean(dim=(2, 3))
        return per_frame.reshape(b, t, -1).mean(dim=1)
