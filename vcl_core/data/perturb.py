"""Temporal perturbations of clips: pure functions with explicit parameters.

Every perturbation comes as a ``draw_*(rng, ...)`` that returns its parameters and an
``apply_*`` that uses them, so the same perturbation can be drawn once per clip (training) or
fixed by hand (robustness evaluation, where the perturbed test set must be identical for every
model). Clips are uint8 ``(T, H, W, C)`` torch tensors; frame-level perturbations also work on
index arrays ``(T,)`` so they can run *before* decoding, which is cheaper. Nothing loops over
pixels in Python.

================  ==============================================================  ===============
perturbation      what it does                                                    after
================  ==============================================================  ===============
frame dropping    dropped frames are replaced by the previous kept one (or         VideoMoCo
                  removed)                                                          (Pan et al. 2021)
frame-rate        the window is time-scaled about its first frame by a speed       PACE, SpeedNet
                  factor (fast-forward or slow motion)
reversal/shuffle  a permutation of the frames (returned, so it can be a label)     VCOP, AoT
tube masking      a spatial patch grid masked through (part of) the clip           VideoMAE, SF
                                                                                    ``MASK_TUBE``
lighting drift    brightness and contrast ramp linearly over the clip              --
blur              Gaussian blur with one sigma for the whole clip                  SimCLR, CVRL
camera motion     a pan / zoom / shake trajectory applied by per-frame affine      --
                  crops; its parameters are the camera-motion label
================  ==============================================================  ===============
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

Frames = TypeVar("Frames", torch.Tensor, np.ndarray)

#: grey level tube masks are filled with (the normalisation mean, so masked pixels become 0)
MASK_FILL = 115


# ----------------------------------------------------------------------------- frame dropping

def draw_drop(rng: np.random.Generator, num_frames: int, p: float) -> np.ndarray:
    """Which frames survive: bool ``(T,)``, each frame after the first dropped with probability ``p``.

    The first frame is always kept so every dropped frame has a previous frame to repeat.
    ``p = 0`` draws nothing from ``rng``.
    """
    if not 0 <= p < 1:
        raise ValueError(f"drop probability must be in [0, 1), got {p}")
    keep = np.ones(num_frames, dtype=bool)
    if p > 0 and num_frames > 1:
        keep[1:] = rng.random(num_frames - 1) >= p
    return keep


def hold_indices(keep: np.ndarray) -> np.ndarray:
    """For each position, the index of the latest kept frame at or before it: int ``(T,)``."""
    keep = np.asarray(keep, dtype=bool)
    if not keep[0]:
        raise ValueError("keep[0] must be True: the first frame has no earlier frame to hold")
    return np.maximum.accumulate(np.where(keep, np.arange(len(keep)), 0))


def apply_drop(x: Frames, keep: np.ndarray, mode: str = "hold") -> Frames:
    """Drop frames of a clip ``(T, ...)`` or an index array ``(T,)``.

    Args:
        x: uint8 clip ``(T, H, W, C)`` or frame indices ``(T,)``.
        keep: bool ``(T,)`` from :func:`draw_drop`.
        mode: ``"hold"`` repeats the previous kept frame (length stays ``T``, as a stalling
            camera or a lossy stream does); ``"remove"`` returns only the kept frames.
    """
    if mode == "hold":
        idx = hold_indices(keep)
    elif mode == "remove":
        idx = np.flatnonzero(keep)
    else:
        raise ValueError(f"unknown drop mode {mode!r}; choose 'hold' or 'remove'")
    return x.index_select(0, torch.from_numpy(idx)) if isinstance(x, torch.Tensor) else x[idx]


# ----------------------------------------------------------------------------- frame rate

def draw_speed(rng: np.random.Generator, choices: tuple[float, ...]) -> float:
    """One playback speed from ``choices`` (uniformly); a single choice draws nothing."""
    if len(choices) == 0 or min(choices) <= 0:
        raise ValueError(f"speed choices must be positive, got {choices}")
    if len(choices) == 1:
        return float(choices[0])
    return float(choices[int(rng.integers(len(choices)))])


def speed_indices(indices: np.ndarray, speed: float, num_video_frames: int, short: str = "pad") -> np.ndarray:
    """Time-scale a window of frame indices about its first frame.

    ``speed = 2`` plays the window twice as fast (every other frame, over twice the span),
    ``0.5`` plays it in slow motion (frames repeat). Frames past the end of the video wrap
    (``short="loop"``) or repeat the last frame (``"pad"``).

    Args:
        indices: int ``(T,)`` increasing frame indices of a window.
        speed: positive speed factor.
        num_video_frames: frames in the video.
        short: ``"loop"`` or ``"pad"``.

    Returns:
        int64 ``(T,)``.
    """
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    indices = np.asarray(indices, dtype=np.int64)
    out = indices[0] + np.floor((indices - indices[0]) * speed + 1e-9).astype(np.int64)
    if short == "loop":
        return out % num_video_frames
    if short == "pad":
        return np.minimum(out, num_video_frames - 1)
    raise ValueError(f"unknown short-video policy {short!r}; choose 'loop' or 'pad'")


def resample_clip(clip: torch.Tensor, speed: float, num_frames: int | None = None) -> torch.Tensor:
    """Change the frame rate of an already decoded clip ``(T, ...)`` by ``speed``.

    Output frame ``k`` is input frame ``floor(k * speed)`` (the last frame repeats once the
    input runs out); the output has ``num_frames`` frames (default ``T``).
    """
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    t = clip.shape[0]
    n = t if num_frames is None else num_frames
    idx = torch.clamp(torch.floor(torch.arange(n, dtype=torch.float64) * speed + 1e-9).long(), max=t - 1)
    return clip.index_select(0, idx.to(clip.device))


def apply_speed(x: Frames, speed: float, num_video_frames: int | None = None, short: str = "pad") -> Frames:
    """Change the playback speed of frame indices (before decoding) or of a decoded clip.

    Index arrays ``(T,)`` go through :func:`speed_indices` (they need ``num_video_frames``);
    uint8 clips ``(T, H, W, C)`` through :func:`resample_clip` (same length, the last frame
    repeating once the clip runs out).
    """
    if isinstance(x, torch.Tensor):
        return resample_clip(x, speed)
    if num_video_frames is None:
        raise ValueError("apply_speed on frame indices needs num_video_frames")
    return speed_indices(x, speed, num_video_frames, short)


# ----------------------------------------------------------------------------- order

@dataclass(frozen=True)
class OrderParams:
    """A frame permutation and what kind it is.

    Attributes:
        perm: int ``(T,)``; output frame ``k`` is input frame ``perm[k]``.
        reversed: the clip plays backwards.
        shuffled: the clip's frames (or chunks) are in a random, non-identity order.
    """

    perm: np.ndarray
    reversed: bool = False
    shuffled: bool = False


def reverse_permutation(num_frames: int) -> np.ndarray:
    """``[T-1, ..., 0]``: play the clip backwards (arrow of time, Wei et al. 2018)."""
    return np.arange(num_frames - 1, -1, -1, dtype=np.int64)


def draw_shuffle(rng: np.random.Generator, num_frames: int, chunks: int = 0) -> np.ndarray:
    """A random permutation of the frames that is never the identity (for ``T > 1``).

    Args:
        chunks: 0 shuffles single frames; ``k > 1`` cuts the clip into ``k`` contiguous
            chunks and shuffles their order, keeping motion inside each chunk (VCOP,
            Xu et al. 2019).
    """
    k = num_frames if chunks in (0, 1) or chunks > num_frames else chunks
    if k < 2:
        return np.arange(num_frames, dtype=np.int64)
    order = rng.permutation(k)
    if np.array_equal(order, np.arange(k)):  # the identity would make the label a lie
        order = np.roll(order, 1)
    bounds = np.linspace(0, num_frames, k + 1).round().astype(np.int64)
    return np.concatenate([np.arange(bounds[c], bounds[c + 1]) for c in order]).astype(np.int64)


def draw_order(rng: np.random.Generator, num_frames: int, reverse_p: float = 0.0, shuffle_p: float = 0.0,
               chunks: int = 0) -> OrderParams:
    """Forward, reversed (probability ``reverse_p``) or shuffled (``shuffle_p``); the three
    are exclusive, so ``reverse_p + shuffle_p <= 1``. Zero probabilities draw nothing."""
    if reverse_p < 0 or shuffle_p < 0 or reverse_p + shuffle_p > 1:
        raise ValueError(f"need reverse_p, shuffle_p >= 0 and reverse_p + shuffle_p <= 1, "
                         f"got {reverse_p}, {shuffle_p}")
    if reverse_p == 0 and shuffle_p == 0:
        return OrderParams(np.arange(num_frames, dtype=np.int64))
    u = rng.random()
    if u < reverse_p:
        return OrderParams(reverse_permutation(num_frames), reversed=True)
    if u < reverse_p + shuffle_p:
        perm = draw_shuffle(rng, num_frames, chunks)
        return OrderParams(perm, shuffled=not np.array_equal(perm, np.arange(num_frames)))
    return OrderParams(np.arange(num_frames, dtype=np.int64))


def apply_permutation(x: Frames, perm: np.ndarray) -> Frames:
    """Reorder a clip ``(T, ...)`` or index array ``(T,)``: output ``k`` is ``x[perm[k]]``."""
    return x.index_select(0, torch.from_numpy(np.asarray(perm))) if isinstance(x, torch.Tensor) else x[np.asarray(perm)]


# ----------------------------------------------------------------------------- tube masking

def draw_tube_mask(rng: np.random.Generator, num_frames: int, height: int, width: int, ratio: float,
                   patch: int = 8, duration: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """A spatio-temporal tube mask: bool ``(T, H, W)``, True where pixels are hidden.

    The frame is cut into ``patch x patch`` cells and ``round(ratio * cells)`` of them are
    masked. Each masked cell is a tube through time lasting a fraction of the clip drawn from
    ``duration`` (``(1, 1)`` = through the whole clip, as VideoMAE's tube masking) and
    starting at a random frame.
    """
    if not 0 <= ratio <= 1:
        raise ValueError(f"mask ratio must be in [0, 1], got {ratio}")
    if patch < 1:
        raise ValueError(f"mask patch must be >= 1 pixel, got {patch}")
    lo, hi = duration
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"mask duration must satisfy 0 < lo <= hi <= 1, got {duration}")
    gh, gw = math.ceil(height / patch), math.ceil(width / patch)
    cells = np.zeros((num_frames, gh * gw), dtype=bool)
    n_masked = int(round(ratio * gh * gw))
    if n_masked:
        chosen = rng.choice(gh * gw, size=n_masked, replace=False)
        lengths = np.maximum(1, np.round(rng.uniform(lo, hi, n_masked) * num_frames)).astype(np.int64)
        starts = rng.integers(0, num_frames - lengths + 1)
        t = np.arange(num_frames)[:, None]
        cells[:, chosen] = (t >= starts) & (t < starts + lengths)
    grid = cells.reshape(num_frames, gh, gw)
    return grid.repeat(patch, axis=1).repeat(patch, axis=2)[:, :height, :width]


def apply_tube_mask(clip: torch.Tensor, mask: np.ndarray, fill: int = MASK_FILL) -> torch.Tensor:
    """Set masked pixels of uint8 ``(T, H, W, C)`` to ``fill``; ``mask`` is bool ``(T, H, W)``."""
    if tuple(mask.shape) != tuple(clip.shape[:3]):
        raise ValueError(f"mask {mask.shape} does not match clip {tuple(clip.shape[:3])}")
    return clip.masked_fill(torch.from_numpy(np.ascontiguousarray(mask))[..., None], fill)


# ----------------------------------------------------------------------------- lighting drift

@dataclass(frozen=True)
class LightingDrift:
    """Gain and contrast at the first and last frame; both ramp linearly in between."""

    gain_start: float = 1.0
    gain_end: float = 1.0
    contrast_start: float = 1.0
    contrast_end: float = 1.0

    def factors(self, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame ``(gain, contrast)``, each float ``(T,)``."""
        u = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
        return (self.gain_start + (self.gain_end - self.gain_start) * u,
                self.contrast_start + (self.contrast_end - self.contrast_start) * u)


def draw_lighting(rng: np.random.Generator, strength: float) -> LightingDrift:
    """Gains and contrasts at both ends drawn from ``1 +- strength`` (e.g. a cloud passing)."""
    if not 0 <= strength < 1:
        raise ValueError(f"lighting strength must be in [0, 1), got {strength}")
    g = rng.uniform(1 - strength, 1 + strength, 4)
    return LightingDrift(*map(float, g))


def apply_lighting(clip: torch.Tensor, drift: LightingDrift) -> torch.Tensor:
    """Apply a lighting ramp to uint8 ``(T, H, W, C)``: contrast about each frame's mean grey,
    then gain; rounded back to uint8."""
    gain, contrast = drift.factors(clip.shape[0])
    x = clip.float()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    c = torch.from_numpy(contrast).float().view(-1, 1, 1, 1)
    g = torch.from_numpy(gain).float().view(-1, 1, 1, 1)
    x = ((x - mean) * c + mean) * g
    return x.round_().clamp_(0, 255).to(torch.uint8)


# ----------------------------------------------------------------------------- blur

def draw_blur(rng: np.random.Generator, p: float, sigma: tuple[float, float] = (0.1, 2.0)) -> float:
    """Blur sigma in pixels, drawn from ``sigma`` with probability ``p``, else 0 (no blur).
    ``p = 0`` draws nothing."""
    if not 0 <= p <= 1:
        raise ValueError(f"blur probability must be in [0, 1], got {p}")
    if p == 0 or rng.random() >= p:
        return 0.0
    return float(rng.uniform(*sigma))


def blur_matrix(n: int, sigma: float) -> torch.Tensor:
    """``(n, n)`` Gaussian blur along one axis of length ``n``: reflect padding, radius
    ``ceil(3 sigma)`` (at most ``n - 1``), weights summing to one. ``B @ x`` blurs the rows."""
    radius = min(max(1, int(math.ceil(3 * sigma))), n - 1)
    if sigma <= 0 or radius < 1:
        return torch.eye(n)
    t = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    src = np.arange(n)[:, None] + t[None, :]  # (n, taps) source positions, then reflected
    src = np.where(src < 0, -src, src)
    src = np.where(src > n - 1, 2 * (n - 1) - src, src)
    m = np.zeros((n, n))
    np.add.at(m, (np.repeat(np.arange(n), len(t)), src.ravel()), np.tile(k, n))
    return torch.from_numpy(m).float()


def blur_float(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of float ``(..., H, W)`` (see :func:`blur_matrix`), as two
    matrix products."""
    if sigma <= 0:
        return x
    h, w = x.shape[-2:]
    return torch.matmul(torch.matmul(blur_matrix(h, sigma).to(x.dtype), x), blur_matrix(w, sigma).to(x.dtype).T)


def apply_blur(clip: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur every frame of uint8 ``(T, H, W, C)`` with the same ``sigma`` (pixels)."""
    if sigma <= 0:
        return clip
    x = clip.permute(0, 3, 1, 2).float()
    y = blur_float(x, sigma)
    return y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


# ----------------------------------------------------------------------------- camera motion

@dataclass(frozen=True)
class CameraMotion:
    """A camera trajectory: the crop window each output frame shows.

    Attributes:
        centers: float ``(T, 2)``, window centre ``(x, y)`` as an offset from the frame centre
            in fractions of the frame width and height (x right, y down).
        zooms: float ``(T,)``, frame size / window size (``>= 1``; larger = zoomed in).

    A camera panning right moves the window right, so the scene moves left in the output.
    """

    centers: np.ndarray
    zooms: np.ndarray

    def label(self) -> np.ndarray:
        """The camera-motion label, float32 ``(4,)``: ``(vx, vy, zoom_rate, shake)``.

        ``vx, vy``: net window velocity per frame (fractions of the frame; positive = camera
        moves right / down); ``zoom_rate``: mean change of ``log(zoom)`` per frame (positive
        = zooming in); ``shake``: RMS distance of the centres from their straight-line fit.
        """
        t = len(self.zooms)
        if t < 2:
            return np.zeros(4, dtype=np.float32)
        v = (self.centers[-1] - self.centers[0]) / (t - 1)
        zoom_rate = (math.log(self.zooms[-1]) - math.log(self.zooms[0])) / (t - 1)
        s = np.arange(t) - (t - 1) / 2
        slope = (s[:, None] * self.centers).sum(0) / (s ** 2).sum()
        resid = self.centers - self.centers.mean(0) - s[:, None] * slope
        shake = float(np.sqrt((resid ** 2).sum(1).mean()))
        return np.array([v[0], v[1], zoom_rate, shake], dtype=np.float32)


def draw_camera(rng: np.random.Generator, num_frames: int, pan: float = 0.02, zoom: float = 0.01,
                shake: float = 0.005) -> CameraMotion:
    """Draw a pan / zoom / shake trajectory for a clip of ``num_frames``.

    Args:
        pan: largest pan speed, fractions of the frame per frame (direction uniform).
        zoom: largest zoom rate, ``|d log(zoom) / dt|`` per frame (sign random).
        shake: standard deviation of the (3-frame smoothed) jitter, fractions of the frame.

    The trajectory is centred in time and the base zoom is the smallest that keeps every
    window inside the frame, so no pixel is invented; a long or fast pan therefore zooms in.
    """
    if min(pan, zoom, shake) < 0:
        raise ValueError(f"camera pan, zoom and shake must be >= 0, got {pan}, {zoom}, {shake}")
    t = np.arange(num_frames) - (num_frames - 1) / 2
    angle = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(0, pan)
    centers = t[:, None] * speed * np.array([math.cos(angle), math.sin(angle)])
    if shake > 0:
        noise = rng.normal(0, shake, size=(num_frames + 2, 2))
        centers = centers + (noise[:-2] + noise[1:-1] + noise[2:]) / math.sqrt(3)
    reach = np.abs(centers).max(1)
    if reach.max() > 0.3:  # keep at least 40% of the frame visible
        centers = centers * (0.3 / reach.max())
        reach = np.abs(centers).max(1)
    rate = rng.uniform(-zoom, zoom)
    shape = np.exp(rate * t)
    need = 1.0 / (1.0 - 2.0 * reach)  # the window of centre c and half-size 1/(2z) fits
    base = max(1.0, float(np.max(need / shape)))
    return CameraMotion(centers.astype(np.float64), base * shape)


def apply_camera(clip: torch.Tensor, motion: CameraMotion) -> torch.Tensor:
    """Render ``motion`` on uint8 ``(T, H, W, C)``: every frame is its window, resampled
    bilinearly back to ``H x W`` in one batched ``grid_sample``."""
    t, h, w, _ = clip.shape
    if len(motion.zooms) != t:
        raise ValueError(f"camera trajectory has {len(motion.zooms)} frames, clip has {t}")
    theta = torch.zeros(t, 2, 3)
    inv = torch.from_numpy(1.0 / motion.zooms).float()
    theta[:, 0, 0] = inv
    theta[:, 1, 1] = inv
    theta[:, :, 2] = 2 * torch.from_numpy(motion.centers).float()  # [-1, 1] spans the frame
    x = clip.permute(0, 3, 1, 2).float()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
