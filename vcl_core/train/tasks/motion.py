"""Motion magnitude: regress how much the clip's pixels change from frame to frame (the mean
absolute frame difference, computed from the clip itself)."""
from __future__ import annotations

import torch

from ...losses import PretextHead, frame_difference_magnitude, motion_magnitude_loss
from .base import AuxTask, TaskInputs, register


@register
class MotionMagnitude(AuxTask):
    name = "motion"

    def __init__(self, cfg, dim: int):
        super().__init__(cfg, dim)
        self.head = PretextHead(dim, 1)

    def forward(self, x: TaskInputs) -> torch.Tensor:
        v = x.first_view
        target = frame_difference_magnitude(x.views[v].float())
        return motion_magnitude_loss(self.head(x.h[v]).squeeze(1), target)
