"""Masked reconstruction (after MAE, He et al., CVPR 2022, with the tube masking of VideoMAE,
Tong et al., NeurIPS 2022, in a CNN): hide half of the clip's cells, the same cells in every
frame, and predict the hidden pixels of the clip's middle frame from the encoder's last
feature map.

Contrast between views of one video rewards the cheapest cue that tells videos apart, and on
the synthetic benchmark an object's colour, its texture and its trajectory do that without its
outline. Filling in a hidden part of a frame needs what is around it: where the object's edge
runs and what shape continues it. Cells are the feature map's own (a ``32 x 32`` crop gives a
``4 x 4`` map of ``8 x 8``-pixel cells); each cell's feature predicts its cell of the middle
frame at ``PATCH x PATCH`` pixels, normalised per cell (MAE's normalised-pixel target), and
the loss counts the hidden cells only. It costs one more pass of the first clip, masked.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import AuxTask, TaskInputs, register


def tube_mask(u: torch.Tensor, h: int, w: int, ratio: float) -> torch.Tensor:
    """``(B, h, w)`` booleans, ``True`` = hidden: the ``round(ratio * h * w)`` cells with the
    smallest of each row of ``u (B, >= h * w)`` uniform draws (so exactly that many per clip)."""
    n = h * w
    k = max(1, min(n - 1, round(ratio * n)))
    rank = u[:, :n].argsort(dim=1).argsort(dim=1)
    return (rank < k).reshape(-1, h, w)


def map_size(height: int, width: int, stages: int) -> tuple[int, int]:
    """The last feature map's size for ``height x width`` frames: the stem and every stage
    after the first halve it (rounding up)."""
    for _ in range(stages):
        height, width = -(-height // 2), -(-width // 2)
    return height, width


def cell_targets(frame: torch.Tensor, h: int, w: int, patch: int, eps: float = 1e-6) -> torch.Tensor:
    """``(B, 3, H, W)`` frame -> ``(B, h, w, 3 * patch * patch)``: the frame resized to
    ``h * patch x w * patch`` pixels, cut into the ``h x w`` cells, each standardised on its own."""
    small = F.interpolate(frame, size=(h * patch, w * patch), mode="area")
    b = small.shape[0]
    cells = small.reshape(b, 3, h, patch, w, patch).permute(0, 2, 4, 1, 3, 5).reshape(b, h, w, -1)
    mean, var = cells.mean(-1, keepdim=True), cells.var(-1, keepdim=True, correction=0)
    return (cells - mean) / (var + eps).sqrt()


@register
class MaskedReconstruction(AuxTask):
    name = "reconstruct"
    RATIO = 0.5  # hidden share of the cells
    PATCH = 4    # predicted pixels per cell side

    def __init__(self, cfg, dim: int):
        super().__init__(cfg, dim)
        self.stages = len(cfg.model.widths)
        self.head = nn.Linear(cfg.model.top_channels, 3 * self.PATCH * self.PATCH)  # per cell (a 1x1 convolution)

    def forward(self, x: TaskInputs) -> torch.Tensor:
        clip = x.views[x.first_view]
        _, _, t, hh, ww = clip.shape
        h, w = map_size(hh, ww, self.stages)
        hide = tube_mask(x.uniform(h * w), h, w, self.RATIO)                         # (B, h, w)
        pixels = F.interpolate(hide[:, None].float(), size=(hh, ww), mode="nearest")  # (B, 1, H, W)
        masked = clip * (1 - pixels[:, :, None])   # hidden cells at 0, the normalised mean
        f, s = x.encode.feature_maps(masked)
        feats = torch.cat([z.mean(2) for z in (f, s) if z is not None], dim=1)          # (B, C, h, w)
        pred = self.head(feats.permute(0, 2, 3, 1))                                     # (B, h, w, 3 p p)
        target = cell_targets(clip[:, :, t // 2].float(), h, w, self.PATCH)
        err = (pred.float() - target).pow(2).mean(-1)                                   # (B, h, w)
        return (err * hide).sum() / hide.sum()
