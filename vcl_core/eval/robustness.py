"""Robustness: probe accuracy on perturbed copies of the test set, reported as drops.

Protocol. The probes (linear and kNN, :mod:`vcl_core.eval.probes`) are trained on *clean*
train features. Every test video is decoded whole, perturbed once with parameters drawn from
``numpy.random.default_rng([seed, video position])`` (so every model sees the same perturbed
test set), and the usual evaluation windows are laid on the perturbed video. The block reports
clean accuracy, perturbed accuracy and ``drop = clean - perturbed`` per view and label column.

=============  =====================================================================
perturbation   what happens to the whole test video (from :mod:`vcl_core.data.perturb`)
=============  =====================================================================
lighting       gain and contrast ramp linearly from one random level in ``1 +- s`` at
               the first frame to another at the last (``apply_lighting``)
camera_shake   every frame is shown through a jittering camera window (smoothed Gaussian
               jitter of std ``shake`` frame widths, zoomed in just enough to invent no
               pixels; ``apply_camera`` with no pan or zoom)
frame_rate     the video is played ``factor`` times faster (every ``factor``-th frame),
               so a clip of ``T`` frames spans ``factor`` times the time (``resample_clip``)
frame_drops    each frame after the first is dropped with probability ``p`` and replaced by
               the last kept frame, as a stalling stream does (``apply_drop``, ``hold``)
=============  =====================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from ..data.perturb import (apply_camera, apply_drop, apply_lighting, draw_camera, draw_drop, draw_lighting,
                             resample_clip)
from .feature_bank import FeatureBank
from .features import VideoTransform
from .probes import knn_top1

PERTURBATIONS = ("lighting", "camera_shake", "frame_rate", "frame_drops")


@dataclass(frozen=True)
class RobustnessConfig:
    """Which perturbations the robustness block applies, and how strongly.

    Args:
        perturbations: a subset of :data:`PERTURBATIONS`.
        lighting_strength: gain and contrast at each end drawn from ``1 +- s``, ``0 <= s < 1``.
        shake: jitter standard deviation as a fraction of the frame size.
        frame_rate: playback speed-up factor (integer >= 2).
        drop_p: probability of dropping each frame, ``0 < p < 1``.
    """

    perturbations: tuple[str, ...] = PERTURBATIONS
    lighting_strength: float = 0.5
    shake: float = 0.03
    frame_rate: int = 2
    drop_p: float = 0.3

    def __post_init__(self) -> None:
        bad = [p for p in self.perturbations if p not in PERTURBATIONS]
        if bad or not self.perturbations:
            raise ValueError(f"unknown or no perturbations {bad or list(self.perturbations)}; "
                             f"choose from {PERTURBATIONS}")
        if not (0 <= self.lighting_strength < 1 and self.shake >= 0 and 0 < self.drop_p < 1
                and int(self.frame_rate) == self.frame_rate >= 2):
            raise ValueError(f"RobustnessConfig needs 0 <= lighting_strength < 1, shake >= 0, 0 < drop_p < 1 "
                             f"and an integer frame_rate >= 2; got {self}")

    def settings(self, name: str) -> dict:
        """The parameter(s) of one perturbation, for the results."""
        return {"lighting": {"strength": self.lighting_strength}, "camera_shake": {"shake": self.shake},
                "frame_rate": {"factor": self.frame_rate}, "frame_drops": {"drop_p": self.drop_p}}[name]


def lighting(video: torch.Tensor, rng: np.random.Generator, strength: float) -> torch.Tensor:
    """A linear gain and contrast ramp over uint8 ``(N, H, W, C)`` (ends drawn from ``1 +- strength``)."""
    return apply_lighting(video, draw_lighting(rng, strength))


def camera_shake(video: torch.Tensor, rng: np.random.Generator, shake: float) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` seen through a jittering camera (std ``shake`` frame widths)."""
    return apply_camera(video, draw_camera(rng, len(video), pan=0.0, zoom=0.0, shake=shake))


def frame_rate(video: torch.Tensor, rng: np.random.Generator, factor: int) -> torch.Tensor:
    """Every ``factor``-th frame of uint8 ``(N, H, W, C)``: the video played ``factor`` times faster."""
    return resample_clip(video, float(factor), (len(video) - 1) // factor + 1)


def frame_drops(video: torch.Tensor, rng: np.random.Generator, drop_p: float) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` with each frame after the first replaced, with probability
    ``drop_p``, by the last kept one."""
    return apply_drop(video, draw_drop(rng, len(video), drop_p), "hold")


def make_perturbation(name: str, cfg: RobustnessConfig) -> VideoTransform:
    """The function ``(video uint8 (N, H, W, C), rng) -> uint8 (M, H, W, C)`` of a perturbation
    (a ``functools.partial``, so it pickles into DataLoader workers).

    Raises:
        ValueError: unknown perturbation name.
    """
    if name == "lighting":
        return partial(lighting, strength=cfg.lighting_strength)
    if name == "camera_shake":
        return partial(camera_shake, shake=cfg.shake)
    if name == "frame_rate":
        return partial(frame_rate, factor=int(cfg.frame_rate))
    if name == "frame_drops":
        return partial(frame_drops, drop_p=cfg.drop_p)
    raise ValueError(f"unknown perturbation {name!r}; choose one of {PERTURBATIONS}")


def robustness_block(bank: FeatureBank, cfg: RobustnessConfig, views: tuple[str, ...], columns: list[str],
                     knn_k: int = 10, knn_t: float = 0.07) -> dict:
    """The ``robustness`` block of the results schema.

    Returns:
        ``{"clean": {view: {col: {"linear_top1", "knn_top1"}}},
        "perturbed": {name: {view: {col: {"linear_top1", "knn_top1", "linear_drop", "knn_drop"}}}},
        "settings": {name: {...}}}``.
    """
    clean: dict = {}
    for view in views:
        for col in columns:
            d = bank.labelled(view, col)
            if d is not None:
                clean.setdefault(view, {})[col] = {
                    "linear_top1": bank.linear(view, col).score(d.test_x, d.test_y),
                    "knn_top1": knn_top1(d.train_x, d.train_y, d.test_x, d.test_y, knn_k, knn_t)}
    perturbed: dict = {}
    for name in cfg.perturbations:
        fn = make_perturbation(name, cfg)
        for view, cols in clean.items():
            for col, ref in cols.items():
                d = bank.labelled(view, col, condition=name, video_transform=fn)
                if d is None:
                    continue
                lin = bank.linear(view, col).score(d.test_x, d.test_y)
                knn = knn_top1(d.train_x, d.train_y, d.test_x, d.test_y, knn_k, knn_t)
                perturbed.setdefault(name, {}).setdefault(view, {})[col] = {
                    "linear_top1": lin, "knn_top1": knn,
                    "linear_drop": ref["linear_top1"] - lin, "knn_drop": ref["knn_top1"] - knn}
    return {"clean": clean, "perturbed": perturbed, "settings": {n: cfg.settings(n) for n in cfg.perturbations}}
