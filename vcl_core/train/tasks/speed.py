"""Playback speed (Benaim et al., SpeedNet, CVPR 2020): at which of ``temporal.speeds`` the
first clip was played. The sampler drew the speed, so the label is free."""
from __future__ import annotations

import torch

from ...losses import PretextHead, playback_speed_loss
from .base import AuxTask, TaskInputs, register


@register
class PlaybackSpeed(AuxTask):
    name = "speed"

    def __init__(self, cfg, dim: int):
        super().__init__(cfg, dim)
        self.speeds = tuple(sorted(cfg.temporal.speeds))
        self.head = PretextHead(dim, len(self.speeds))

    @classmethod
    def problems(cls, cfg) -> list[str]:
        return [] if len(cfg.temporal.speeds) >= 2 else ["method.aux.speed needs several temporal.speeds to classify"]

    def forward(self, x: TaskInputs) -> torch.Tensor:
        v = x.layout.short[0]
        dev = x.h[v].device
        cls = torch.tensor([self.speeds.index(float(s)) for s in x.batch["speed"][:, v].tolist()], device=dev)
        return playback_speed_loss(self.head(x.h[v]), cls)
