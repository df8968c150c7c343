"""Future feature (DPC-style, Han et al. 2019): the video's clips sorted by time; the first ones
predict the last one's embedding, which must pick it out among the batch (InfoNCE)."""
from __future__ import annotations

import torch

from ...losses import FutureFeatureHead, future_feature_loss
from .base import AuxTask, TaskInputs, clip_count, register


@register
class FutureFeature(AuxTask):
    name = "future"

    def __init__(self, cfg, dim: int):
        super().__init__(cfg, dim)
        self.temperature = cfg.method.temperature
        self.head = FutureFeatureHead(dim, num_context=clip_count(cfg) - 1)

    @classmethod
    def problems(cls, cfg) -> list[str]:
        n = clip_count(cfg)
        return [] if n >= 2 else [f"method.aux.future needs 2 clips (data.num_views + data.intra_negatives = {n})"]

    def forward(self, x: TaskInputs) -> torch.Tensor:
        ordered = x.time_ordered(x.clips)
        return future_feature_loss(self.head(ordered[:, :-1]), ordered[:, -1], self.temperature)
