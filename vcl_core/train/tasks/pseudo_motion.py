"""Pseudo-motion (after MoSI, Huang et al., CVPR 2021): from one still frame of the clip, make a
clip in which the content of a window of the frame slides left, right, up or down (or not at
all) relative to the rest, while the whole frame pans like a camera and the window itself
moves like an object; the head names the direction of the content.

Contrast between clips of one video rewards whatever is constant over the video, and appearance
is constant and cheaper to learn than sub-pixel motion; this task can only be solved by the
direction of local motion relative to its surround, so it puts direction detectors into the
embedding. The camera pan and the window's own motion are drawn independently of the label:
global motion and moving edges tell nothing. (With a still window the task is learned in a few
hundred steps from the window's edges and taught the encoder little: PAPER.md, section 5.)
The default recipe trains it with weight 3; on the synthetic benchmark at 1,000 steps the
whole-video linear probe reads motion at 93.9 +- 2.4% with it and 55.4 +- 4.7% without (3 seeds
each, notebook 00). Its random clips are drawn per video (:meth:`TaskInputs.uniform`), so two
DDP processes train like one."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...losses import PretextHead
from .base import AuxTask, TaskInputs, register

#: (dx, dy) on screen of each class, y down: still, left, right, up, down
DIRECTIONS = ((0.0, 0.0), (-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0))


def pseudo_motion_clips(frame: torch.Tensor, frames: int, labels: torch.Tensor, speed: torch.Tensor,
                        pan: torch.Tensor, box: torch.Tensor, box_velocity: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, 3, H, W)`` still frames -> ``(B, 3, frames, H, W)`` clips with made-up motion.

    Args:
        frame: the still frames.
        frames: clip length.
        labels: ``(B,)`` index into :data:`DIRECTIONS`: how the box moves relative to the frame.
        speed: ``(B,)`` the box's speed relative to the frame, in frame widths per frame.
        pan: ``(B, 2)`` the whole frame's motion (the camera), in frame widths per frame.
        box: ``(B, 4)`` the box at frame 0 as ``(top, left, bottom, right)`` fractions of the frame.
        box_velocity: ``(B, 2)`` how the box itself moves on screen ``(dx, dy)``, in frame
            widths per frame (default: still). The box is a window: its content moves as the
            label says whatever the window does, like a texture seen through a moving object.

    Content moves with sub-pixel precision (bilinear resampling); outside the frame the border
    pixels repeat.
    """
    b, _, h, w = frame.shape
    dev, dt = frame.device, frame.dtype
    d = torch.tensor(DIRECTIONS, device=dev, dtype=dt)[labels] * speed[:, None]      # (B, 2)
    t = torch.arange(frames, device=dev, dtype=dt)
    ys = torch.linspace(-1, 1, h, device=dev, dtype=dt)
    xs = torch.linspace(-1, 1, w, device=dev, dtype=dt)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    base = torch.stack([gx, gy], -1)                                                   # (H, W, 2)
    # content moved by v (frame widths) is read from where it came from: x - 2 v t in [-1, 1] units
    outer = base - 2 * (pan[:, None, :] * t[None, :, None])[:, :, None, None, :]       # (B, T, H, W, 2)
    inner = outer - 2 * (d[:, None, :] * t[None, :, None])[:, :, None, None, :]
    stills = frame[:, None].expand(b, frames, *frame.shape[1:]).reshape(b * frames, *frame.shape[1:])

    def sample(grid: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(stills, grid.reshape(b * frames, h, w, 2), mode="bilinear",
                             padding_mode="border", align_corners=True).reshape(b, frames, -1, h, w)

    fy = (torch.arange(h, device=dev, dtype=dt) + 0.5) / h
    fx = (torch.arange(w, device=dev, dtype=dt) + 0.5) / w
    if box_velocity is None:
        box_velocity = torch.zeros_like(pan)
    # the box at every frame, (B, T, 4): top and bottom move with dy, left and right with dx
    step = box_velocity[:, [1, 0, 1, 0]]
    boxes = box[:, None, :] + step[:, None, :] * t[None, :, None]
    inside = ((fy[None, None, :, None] >= boxes[..., 0, None, None]) & (fy[None, None, :, None] < boxes[..., 2, None, None])
              & (fx[None, None, None, :] >= boxes[..., 1, None, None]) & (fx[None, None, None, :] < boxes[..., 3, None, None]))
    mask = inside[:, :, None].to(dt)                                                   # (B, T, 1, H, W)
    clips = mask * sample(inner) + (1 - mask) * sample(outer)
    return clips.transpose(1, 2).contiguous()


@register
class PseudoMotion(AuxTask):
    name = "pseudo_motion"
    #: the box's speed relative to the frame, frame widths per clip frame (the synthetic
    #: benchmark's texture drifts 0.005-0.008 of the frame per video frame, 0.009-0.017 per
    #: frame of a clip that takes every second one)
    speeds = (0.008, 0.024)
    #: the camera's pan, up to this many frame widths per frame on each axis
    max_pan = 0.003
    #: the box's side, as a fraction of the frame's
    box_side = (0.3, 0.6)
    #: the box (window) itself moves up to this many frame widths per frame on each axis
    max_box_velocity = 0.02

    def __init__(self, cfg, dim: int):
        super().__init__(cfg, dim)
        self.head = PretextHead(dim, len(DIRECTIONS))

    def forward(self, x: TaskInputs) -> torch.Tensor:
        v = x.first_view
        clip = x.views[v]
        t = clip.shape[2]
        frame = clip[:, :, t // 2]
        frame = frame.to(torch.promote_types(frame.dtype, torch.float32))  # resampling in >= fp32
        u = x.uniform(10)  # per video, so one process and several draw the same clips

        def between(lo, hi, cols):
            return lo + (hi - lo) * u[:, cols]

        labels = (u[:, 0] * len(DIRECTIONS)).long().clamp(max=len(DIRECTIONS) - 1)
        speed = between(*self.speeds, 1)
        pan = between(-self.max_pan, self.max_pan, slice(2, 4))
        side = between(*self.box_side, slice(4, 6))
        corner = u[:, 6:8] * (1 - side)
        box = torch.cat([corner, corner + side], 1)
        box_velocity = between(-self.max_box_velocity, self.max_box_velocity, slice(8, 10))
        made = pseudo_motion_clips(frame, t, labels, speed, pan, box, box_velocity).to(clip.dtype)
        return F.cross_entropy(self.head(x.encode(made)), labels)
