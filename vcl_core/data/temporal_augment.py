"""Per-view temporal augmentation: which perturbations of :mod:`vcl_core.data.perturb` a view
goes through, drawn once per clip, and the pretext labels they leave behind.

A view's :class:`TemporalAugmentConfig` is applied in three stages by the dataset:

1. before the window is placed: the playback speed (it changes how many source frames the
   view spans);
2. on the frame indices, before decoding: frame dropping, then reversal or shuffling;
3. on the decoded uint8 clip, before the spatial augmentation: the foreground pasted onto
   another video's frame (by the dataset), camera motion, lighting drift, tube masking.

Every feature is off by default, and a feature that is off draws nothing from the generator,
so adding a feature to one view does not change the samples of the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .perturb import (CameraMotion, LightingDrift, apply_camera, apply_drop, apply_lighting, apply_permutation,
                       apply_tube_mask, draw_camera, draw_drop, draw_lighting, draw_order, draw_tube_mask)


@dataclass(frozen=True)
class TemporalAugmentConfig:
    """Temporal augmentation of one view (all off by default).

    Args:
        speeds: playback speed factors, one drawn uniformly per clip (PACE, Wang et al. 2020);
            2.0 spans twice the source frames, 0.5 repeats frames. Whole-video views need
            ``(1.0,)``.
        drop_p: probability of dropping each frame after the first; a dropped frame repeats
            the previous kept one (VideoMoCo-style frame dropping, length stays fixed).
        reverse_p: probability of playing the clip backwards.
        shuffle_p: probability of shuffling it (exclusive with reversal).
        shuffle_chunks: 0 shuffles frames; ``k > 1`` shuffles ``k`` contiguous chunks (VCOP).
        mask_ratio: fraction of ``mask_patch`` cells hidden by tube masking (0 = off).
        mask_patch: tube cell size in decoded pixels.
        mask_duration: range of each tube's length as a fraction of the clip.
        lighting_p: probability of a lighting drift over the clip.
        lighting_strength: gain/contrast at each end drawn from ``1 +- strength``.
        camera_p: probability of injecting camera motion.
        camera_pan: largest pan speed (fraction of the frame per frame).
        camera_zoom: largest zoom rate (``d log zoom`` per frame).
        camera_shake: jitter standard deviation (fraction of the frame).
        background_p: probability of pasting the clip's moving foreground onto a still frame
            of another video (:mod:`vcl_core.data.foreground`, after FAME): the views of one
            video then share the object and its motion, not the scene. Applied by the dataset
            (it needs another video) before the camera motion and lighting drift.
        foreground_frac: fraction of the frame kept as foreground (the pixels that change most).
    """

    speeds: tuple[float, ...] = (1.0,)
    drop_p: float = 0.0
    reverse_p: float = 0.0
    shuffle_p: float = 0.0
    shuffle_chunks: int = 0
    mask_ratio: float = 0.0
    mask_patch: int = 8
    mask_duration: tuple[float, float] = (1.0, 1.0)
    lighting_p: float = 0.0
    lighting_strength: float = 0.3
    camera_p: float = 0.0
    camera_pan: float = 0.02
    camera_zoom: float = 0.01
    camera_shake: float = 0.005
    background_p: float = 0.0
    foreground_frac: float = 0.4

    def __post_init__(self) -> None:
        object.__setattr__(self, "speeds", tuple(float(s) for s in self.speeds))
        if not self.speeds or min(self.speeds) <= 0:
            raise ValueError(f"speeds must be positive factors, got {self.speeds}")
        for name in ("drop_p", "reverse_p", "shuffle_p", "lighting_p", "camera_p", "mask_ratio", "background_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.drop_p >= 1:
            raise ValueError("drop_p must be < 1: a clip needs at least one kept frame")
        if self.reverse_p + self.shuffle_p > 1:
            raise ValueError(f"reverse_p + shuffle_p must be <= 1 (they are exclusive), got "
                             f"{self.reverse_p} + {self.shuffle_p}")
        if self.shuffle_chunks < 0 or self.shuffle_chunks == 1:
            raise ValueError(f"shuffle_chunks must be 0 (frames) or >= 2, got {self.shuffle_chunks}")
        if not 0 < self.foreground_frac < 1:
            raise ValueError(f"foreground_frac must be in (0, 1), got {self.foreground_frac}")
        if self.mask_patch < 1:
            raise ValueError(f"mask_patch must be >= 1, got {self.mask_patch}")
        lo, hi = self.mask_duration
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"mask_duration must satisfy 0 < lo <= hi <= 1, got {self.mask_duration}")
        if not 0 <= self.lighting_strength < 1:
            raise ValueError(f"lighting_strength must be in [0, 1), got {self.lighting_strength}")
        if min(self.camera_pan, self.camera_zoom, self.camera_shake) < 0:
            raise ValueError("camera_pan, camera_zoom and camera_shake must be >= 0")

    @property
    def active(self) -> bool:
        """Whether any feature is on."""
        return self != _OFF


_OFF = TemporalAugmentConfig()


@dataclass(frozen=True)
class TemporalParams:
    """Everything drawn for one clip, and the labels it yields.

    Attributes:
        speed: playback speed factor (label).
        keep: bool ``(T,)``, frames not dropped.
        perm: int ``(T,)``, frame order after dropping (output ``k`` = input ``perm[k]``).
        reversed, shuffled: order labels.
        camera: the injected trajectory, or ``None``.
        lighting: the lighting ramp, or ``None``.
        mask: bool ``(T, H, W)`` tube mask, or ``None``.
    """

    speed: float = 1.0
    keep: np.ndarray = field(default_factory=lambda: np.ones(0, bool))
    perm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reversed: bool = False
    shuffled: bool = False
    camera: CameraMotion | None = None
    lighting: LightingDrift | None = None
    mask: np.ndarray | None = None

    def camera_label(self) -> np.ndarray:
        """float32 ``(4,)`` ``(vx, vy, zoom_rate, shake)`` of the injected motion; zeros if none."""
        return self.camera.label() if self.camera is not None else np.zeros(4, np.float32)


def draw_frame_params(rng: np.random.Generator, cfg: TemporalAugmentConfig, num_frames: int,
                      speed: float = 1.0) -> TemporalParams:
    """Draw the index-level parameters (drop, order) of one clip; ``speed`` is carried along."""
    keep = draw_drop(rng, num_frames, cfg.drop_p)
    order = draw_order(rng, num_frames, cfg.reverse_p, cfg.shuffle_p, cfg.shuffle_chunks)
    return TemporalParams(speed, keep, order.perm, order.reversed, order.shuffled)


def draw_clip_params(rng: np.random.Generator, cfg: TemporalAugmentConfig, params: TemporalParams,
                     height: int, width: int) -> TemporalParams:
    """Add the pixel-level parameters (camera, lighting, mask) for a clip of ``height x width``."""
    t = len(params.keep)
    camera = lighting = mask = None
    if cfg.camera_p > 0 and rng.random() < cfg.camera_p:
        camera = draw_camera(rng, t, cfg.camera_pan, cfg.camera_zoom, cfg.camera_shake)
    if cfg.lighting_p > 0 and rng.random() < cfg.lighting_p:
        lighting = draw_lighting(rng, cfg.lighting_strength)
    if cfg.mask_ratio > 0:
        mask = draw_tube_mask(rng, t, height, width, cfg.mask_ratio, cfg.mask_patch, cfg.mask_duration)
    return TemporalParams(params.speed, params.keep, params.perm, params.reversed, params.shuffled,
                          camera, lighting, mask)


def apply_frame_params(indices: np.ndarray, params: TemporalParams) -> np.ndarray:
    """Frame indices ``(T,)`` after dropping (hold) and reordering."""
    if params.keep.all() and (np.diff(params.perm) == 1).all():  # nothing dropped, in order
        return np.asarray(indices)
    return apply_permutation(apply_drop(np.asarray(indices), params.keep, "hold"), params.perm)


def apply_clip_params(clip: torch.Tensor, params: TemporalParams) -> torch.Tensor:
    """uint8 ``(T, H, W, C)`` after camera motion, lighting drift and tube masking, in that
    order, so the tubes stay fixed on screen as tube masking defines them."""
    if params.camera is not None:
        clip = apply_camera(clip, params.camera)
    if params.lighting is not None:
        clip = apply_lighting(clip, params.lighting)
    if params.mask is not None:
        clip = apply_tube_mask(clip, params.mask)
    return clip
