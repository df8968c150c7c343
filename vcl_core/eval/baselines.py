"""Reference encoders that bracket what a learned model achieves.

:class:`MeanFrameEncoder` sees only appearance: it averages the frames of a clip and pools the
mean image to a small grid. Temporal factors that it separates above chance would be
appearance shortcuts in the benchmark, so the benchmark's honesty test runs it.
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
