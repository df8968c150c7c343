"""Camera motion: regress the clip's camera pan (and zoom, shake when injected). The target is
either the motion the temporal augmentation injected (``temporal.camera_p > 0``) or the camera
track recorded with the data (the synthetic benchmark's ``frames.csv``), in percent of the frame
per frame: camera velocities are a few hundredths of the frame per frame or less, and a
regression loss on targets that small has gradients too small to teach anything."""
from __future__ import annotations

import torch

from ...losses import PretextHead, camera_motion_loss
from .base import AuxTask, TaskInputs, register


@register
class CameraMotion(AuxTask):
    name = "camera"
    #: targets in percent of the frame (per frame), so that they are of order one
    scale = 100.0

    def __init__(self, cfg, dim: int):
        super().__init__(cfg, dim)
        self.injected = cfg.temporal.camera_p > 0
        self.head = PretextHead(dim, 4 if self.injected else 2)

    def forward(self, x: TaskInputs) -> torch.Tensor:
        v = x.first_view
        dev = x.h[v].device
        if self.injected:
            target = x.batch["camera"][:, v].to(dev).float()
            valid = target.abs().sum(1) > 0
        else:
            target = x.batch["camera_recorded"][:, v].to(dev).float()
            valid = torch.isfinite(target).all(1)
            target = torch.nan_to_num(target)
        return camera_motion_loss(self.head(x.h[v]), self.scale * target, valid)
