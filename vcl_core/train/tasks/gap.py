"""Temporal gap: how far apart (as a fraction of the video) the two clip views were taken,
regressed from their two embeddings. CVRL's decreasing-gap sampler draws exactly this number."""
from __future__ import annotations

import torch

from ...losses import TemporalGapHead, temporal_gap_loss
from .base import AuxTask, TaskInputs, register


@register
class TemporalGap(AuxTask):
    name = "gap"

    def __init__(self, cfg, dim: int):
        super().__init__(cfg, dim)
        self.head = TemporalGapHead(dim)

    @classmethod
    def problems(cls, cfg) -> list[str]:
        d = cfg.data
        return [] if d.num_views >= 2 and d.policy != "same" else \
            ["method.aux.gap needs two clip views at a gap (data.num_views >= 2, data.policy != same)"]

    def forward(self, x: TaskInputs) -> torch.Tensor:
        a, b = x.layout.short[:2]
        dev = x.h[a].device
        # each video's own length, not the batch's longest: a per-process batch maximum would
        # give the processes of a DDP run different targets for the same clip
        length = x.batch["video_frames"].to(dev).float()
        return temporal_gap_loss(self.head(x.h[a], x.h[b]), x.batch["gap"].to(dev).float(), length)
