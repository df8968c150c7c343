"""Clip order (VCOP, Xu et al., CVPR 2019): which of the 3! permutations puts three clips of a
video back in time order. The label is free: the sampler knows where it took each clip."""
from __future__ import annotations

import torch

from ...losses import ClipOrderHead, clip_order_loss, clip_order_permutations
from .base import AuxTask, TaskInputs, clip_count, register


@register
class ClipOrder(AuxTask):
    name = "order"

    def __init__(self, cfg, dim: int):
        super().__init__(cfg, dim)
        self.head = ClipOrderHead(dim, num_clips=3, hidden=128)
        self.register_buffer("perms", clip_order_permutations(3), persistent=False)

    @classmethod
    def problems(cls, cfg) -> list[str]:
        n = clip_count(cfg)
        return [] if n >= 3 else [f"method.aux.order needs 3 clips (data.num_views + data.intra_negatives = {n})"]

    def forward(self, x: TaskInputs) -> torch.Tensor:
        three = x.clips[:3]  # in the order sampled
        order = x.time_order(three)  # positions in time order
        label = (self.perms.unsqueeze(0) == order.unsqueeze(1)).all(-1).float().argmax(1)
        return clip_order_loss(self.head(torch.stack([x.h[c] for c in three], 1)), label)
