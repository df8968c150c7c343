"""Clip-consistent augmentation on uint8 tensors.

Every spatial transform draws its parameters once per clip and applies them to all frames,
so the only change from frame to frame is the video's own motion (as CVRL does by jittering
the frames as one tall image). Input is uint8 ``(T, H, W, C)``; output is the normalised float
``(C, T, h, w)`` the encoders take.

Note on flips: a horizontal mirror turns a clockwise spin into a counter-clockwise one (and
left-right motion into right-left), so flipping teaches invariance to motion direction. The
synthetic benchmark's presets therefore leave ``flip_p`` at 0; notebook 06 measures the cost.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .perturb import blur_matrix, draw_blur

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)


@dataclass(frozen=True)
class AugmentConfig:
    """Spatial augmentation of one view.

    Args:
        crop_size: output height and width.
        crop_scale: range of the crop's area as a fraction of the frame (random resized crop).
        crop_ratio: range of the crop's aspect ratio (w / h).
        flip_p: probability of a horizontal flip (see the module note on motion direction).
        jitter_p: probability of colour jitter.
        brightness, contrast, saturation: jitter strengths (factor drawn from 1 +- s).
        hue: hue rotation as a fraction of a full turn (drawn from +- hue).
        grayscale_p: probability of converting the clip to grayscale.
        blur_p: probability of a Gaussian blur (CVRL blurs one view always, the other rarely).
        blur_sigma: range of the blur's sigma, in output (crop) pixels.
    """

    crop_size: int = 64
    crop_scale: tuple[float, float] = (0.4, 1.0)
    crop_ratio: tuple[float, float] = (0.75, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        if not (0 < lo <= hi <= 1):
            raise ValueError(f"crop_scale must satisfy 0 < lo <= hi <= 1, got {self.crop_scale}")
        if not 0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ValueError(f"blur_sigma must satisfy 0 < lo <= hi, got {self.blur_sigma}")
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class SpatialParams:
    """Parameters drawn for one clip: crop box ``(top, left, height, width)``, flip, colour,
    and blur sigma in output pixels (0 = none)."""

    box: tuple[int, int, int, int]
    flip: bool
    jitter: tuple[float, float, float, float] | None  # brightness, contrast, saturation, hue
    gray: bool
    blur: float = 0.0


def draw_spatial(rng: np.random.Generator, height: int, width: int, cfg: AugmentConfig) -> SpatialParams:
    """Draw one clip's spatial parameters (random resized crop as in Inception/SimCLR)."""
    area = height * width
    box = (0, 0, height, width)
    for _ in range(10):
        target = area * rng.uniform(*cfg.crop_scale)
        ratio = math.exp(rng.uniform(math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1])))
        w = int(round(math.sqrt(target * ratio)))
        h = int(round(math.sqrt(target / ratio)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            box = (top, left, h, w)
            break
    flip = bool(rng.random() < cfg.flip_p)
    jitter = None
    if rng.random() < cfg.jitter_p:
        jitter = (rng.uniform(1 - cfg.brightness, 1 + cfg.brightness),
                  rng.uniform(1 - cfg.contrast, 1 + cfg.contrast),
                  rng.uniform(1 - cfg.saturation, 1 + cfg.saturation),
                  rng.uniform(-cfg.hue, cfg.hue))
    gray = bool(rng.random() < cfg.grayscale_p)
    blur = draw_blur(rng, cfg.blur_p, cfg.blur_sigma)  # draws nothing when blur_p = 0
    return SpatialParams(box, flip, jitter, gray, blur)


#: ITU-R BT.601 luma weights
LUMA = (0.299, 0.587, 0.114)
_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_FROM_YIQ = np.linalg.inv(_TO_YIQ)


# the same constants as tensors, made once (apply_spatial_views runs for every sample)
_LUMA = torch.tensor(LUMA)
_GRAY = torch.outer(torch.ones(3), _LUMA)
_EYE3 = torch.eye(3)
_MEAN = torch.tensor(MEAN).view(1, 3, 1)
_STD = torch.tensor(STD).view(1, 3, 1)
# normalisation as an affine map x -> W x + b on (3, N) planes, and where it sends [0, 1]
_NORM_W = torch.diag(1 / torch.tensor(STD))
_NORM_B = (-torch.tensor(MEAN) / torch.tensor(STD)).view(3, 1)
_GRAY_NORM_W = _NORM_W @ _GRAY
_NORM_HI = _NORM_B + (1 / torch.tensor(STD)).view(3, 1)  # [0, 1] -> [_NORM_B, _NORM_HI] per channel
# the same maps as numpy float32, for the jitter's per-clip composition: _NORM_W is diagonal, so
# _NORM_W @ m is _INV_STD * m row by row, to the bit (the other terms are exact zeros), without
# a PyTorch call per tiny product
_INV_STD = (1 / torch.tensor(STD)).numpy().reshape(3, 1)
_NORM_B_NP = _NORM_B.numpy()
# the whole map of a clip without jitter, by grayscale; 0..255 in
_PLAIN_W = {False: _NORM_W / 255.0, True: _GRAY_NORM_W / 255.0}
# the clamp's bounds as numbers when every channel shares them (ten times faster than tensor bounds)
_NORM_RANGE = ((float(_NORM_B[0]), float(_NORM_HI[0])) if bool((_NORM_B == _NORM_B[0]).all() and (_NORM_HI == _NORM_HI[0]).all())
               else (_NORM_B, _NORM_HI))


def _gray(x: torch.Tensor) -> torch.Tensor:
    """Luma of ``(T, C, H, W)`` in [0, 1], kept as one channel."""
    return (LUMA[0] * x[:, 0:1] + LUMA[1] * x[:, 1:2] + LUMA[2] * x[:, 2:3])


def _hue_matrix(turn: float) -> np.ndarray:
    """3 x 3 RGB matrix rotating hue by ``turn`` of a full circle (a rotation of the chroma
    plane in YIQ space): ``A + cos B + sin C``, the three parts made once below."""
    angle = 2 * math.pi * turn
    return _HUE_FIXED + math.cos(angle) * _HUE_COS + math.sin(angle) * _HUE_SIN


# the parts of _FROM_YIQ @ [[1, 0, 0], [0, c, -s], [0, s, c]] @ _TO_YIQ that do not move, move
# with c and move with s
_HUE_FIXED, _HUE_COS, _HUE_SIN = (_FROM_YIQ @ np.array(r, dtype=float) @ _TO_YIQ for r in (
    [[1, 0, 0], [0, 0, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 0, 0], [0, 0, -1], [0, 1, 0]]))
_LUMA_NP = np.asarray(LUMA)


def jitter_affine(jitter: tuple[float, float, float, float], mean_luma: float) -> tuple[np.ndarray, np.ndarray]:
    """Colour jitter as one affine map ``x -> M x + o`` on RGB.

    Brightness ``b``, contrast ``c`` (about the clip's mean luma after brightness), saturation
    ``s`` and hue rotation ``h`` are each affine in RGB, so their composition is too:
    ``M = H S (c b)``, ``o = (1 - c) b mean_luma H S 1``. Applying it costs one pass over the
    clip instead of one per step.

    Args:
        jitter: ``(brightness, contrast, saturation, hue)`` factors as drawn.
        mean_luma: mean luma of the clip before jitter (over all frames and pixels).

    Returns:
        ``(M, o)``: float64 ``(3, 3)`` and ``(3,)``.
    """
    b, c, s, h = jitter
    hue = _hue_matrix(h) if h else np.eye(3)
    # H S with S = s I + (1 - s) 1 w^T is s H + (1 - s) (H 1) w^T: no 3 x 3 product (this runs per clip)
    h1 = hue.sum(1)
    hs = s * hue + (1 - s) * np.multiply.outer(h1, _LUMA_NP)
    return hs * (c * b), hs.sum(1) * ((1 - c) * b * mean_luma)


def color_jitter(x: torch.Tensor, jitter: tuple[float, float, float, float]) -> torch.Tensor:
    """Brightness, contrast, saturation, hue, in that order, on ``(T, C, H, W)`` in [0, 1]."""
    m, o = jitter_affine(jitter, float(_gray(x).mean()))
    y = torch.einsum("ij,tjhw->tihw", torch.from_numpy(m).to(x.dtype), x)
    return (y + torch.from_numpy(o).to(x.dtype).view(1, 3, 1, 1)).clamp(0, 1)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """``(T, C, H, W)`` in [0, 1] -> normalised ``(C, T, H, W)``."""
    mean = torch.tensor(MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=x.dtype).view(1, 3, 1, 1)
    return ((x - mean) / std).permute(1, 0, 2, 3).contiguous()


def to_float(clip: torch.Tensor) -> torch.Tensor:
    """uint8 ``(T, H, W, C)`` -> float ``(T, C, H, W)`` in [0, 1]."""
    return clip.permute(0, 3, 1, 2).float().div_(255.0)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(T, C, h, w)`` to ``(T, C, size, size)`` (antialiased when shrinking)."""
    if x.shape[-2:] == (size, size):
        return x
    shrink = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


@functools.lru_cache(maxsize=1024)
def resize_matrix(n_in: int, n_out: int, antialias: bool) -> torch.Tensor:
    """``(n_out, n_in)`` weights of :func:`resize` along one axis.

    Bilinear resizing (with or without antialiasing) is separable, so resizing an image ``X``
    is ``Ry @ X @ Rx.T``; the weights are read off by resizing the identity image along its
    rows, so they are PyTorch's own. (Resizing a batch of ``n x 1`` unit images instead gives
    wrong antialiased weights in torch 2.x: do not "simplify" this.)
    """
    eye = torch.eye(n_in).view(1, 1, n_in, n_in)
    out = F.interpolate(eye, size=(n_out, n_in), mode="bilinear", align_corners=False, antialias=antialias)
    return out[0, 0].contiguous()


@functools.lru_cache(maxsize=8192)
def _crop_matrix(n: int, start: int, length: int, size: int, antialias: bool, flip: bool) -> torch.Tensor:
    m = torch.zeros(size, n)
    m[:, start:start + length] = resize_matrix(length, size, antialias)
    return m.flip(0) if flip else m


def _axis_matrix(n: int, start: int, length: int, size: int, antialias: bool, flip: bool, blur: float) -> torch.Tensor:
    """``(size, n)``: crop ``[start, start + length)`` of an axis of ``n`` pixels, resize it to
    ``size`` (then flip, blur) in one matrix. Do not modify the result: it may be cached."""
    m = _crop_matrix(n, start, length, size, antialias, flip)
    return blur_matrix(size, blur) @ m if blur > 0 else m  # blur of the resized image, folded in


def _box_axis(n: int, start: int, length: int, size: int, antialias: bool, flip: bool, blur: float,
              transpose: bool) -> torch.Tensor:
    """:func:`_axis_matrix` restricted to the box's columns ``(size, length)`` (its zeros
    outside the box dropped), transposed to ``(length, size)`` when asked, contiguous. Do not
    modify the result: it may be cached (only without blur: a drawn sigma rarely repeats)."""
    if blur == 0:
        return _box_axis_sharp(n, start, length, size, antialias, flip, transpose)
    return _restrict(_axis_matrix(n, start, length, size, antialias, flip, blur), start, length, transpose)


@functools.lru_cache(maxsize=8192)
def _box_axis_sharp(n: int, start: int, length: int, size: int, antialias: bool, flip: bool,
                    transpose: bool) -> torch.Tensor:
    return _restrict(_crop_matrix(n, start, length, size, antialias, flip), start, length, transpose)


def _restrict(m: torch.Tensor, start: int, length: int, transpose: bool) -> torch.Tensor:
    m = m[:, start:start + length]
    return (m.T if transpose else m).contiguous()


def apply_spatial_views(clips: Sequence[torch.Tensor], params: Sequence[SpatialParams], crop_size: int,
                        out: Sequence[torch.Tensor | None] | None = None) -> list[torch.Tensor]:
    """Apply each clip's parameters to uint8 clips ``(T_v, H, W, C)`` of one frame size.

    Per clip: the crop box is cut and turned into float planes ``(C, T, h, w)`` (the one copy
    of the frames), then cropped, resized, flipped and blurred by two matrix products, one per
    axis (each axis' ``(s, h)`` matrix, :func:`_axis_matrix`, restricted to the box); colour
    jitter, grayscale and normalisation are ``3 x 3`` affine maps on the ``(C, T s s)``
    planes. The mean luma that contrast uses is the clip's own. The blur acts on the resized
    crop, before colour. Equal to resizing frame by frame with ``F.interpolate`` and applying
    the colour steps one at a time, to float rounding (``tests/data/test_augment.py``).

    Clip by clip, with the channels leading, is about twice as fast on a CPU as one batched
    pair of products over every frame of every clip (which has to broadcast the matrices over
    frames and channels, and multiplies the pixels outside the box by zero): ``bench/loader.py``.

    Args:
        out: where to write each clip's result, a contiguous float32 ``(C, T_v, s, s)`` or
            ``None`` (a new tensor); the dataset passes the rows of its batch tensor, so the
            batch needs no stacking afterwards.

    Returns:
        one normalised float ``(C, T_v, s, s)`` per clip (``out``'s where given).

    Raises:
        ValueError: the clips differ in frame size.
    """
    h_img, w_img = clips[0].shape[1:3]
    if any(c.shape[1:3] != (h_img, w_img) for c in clips):
        raise ValueError("apply_spatial_views needs clips of one frame size")
    s = crop_size
    results = []
    for clip, p, dst in zip(clips, params, out if out is not None else [None] * len(clips)):
        t, c = clip.shape[0], clip.shape[3]
        top, left, h, w = p.box
        shrink = w > s or h > s
        ry = _box_axis(h_img, top, h, s, shrink, False, p.blur, False)  # (s, h): zero outside the box, dropped
        rxt = _box_axis(w_img, left, w, s, shrink, p.flip, p.blur, True)  # (w, s)
        x = clip[:, top:top + h, left:left + w].permute(3, 0, 1, 2).contiguous().float()  # (uint8 moves faster)
        y = torch.mm(x.view(c * t * h, w), rxt).view(c * t, h, s)  # every row resized: (C T, h, s)
        # then every column, one plane at a time; the expanded ``ry`` is a view (matmul would copy it)
        y = torch.bmm(ry.expand(c * t, s, h), y).view(c, t * s * s)  # (C, T s s), still 0..255
        if dst is not None and (dst.shape != (c, t, s, s) or dst.dtype != y.dtype or not dst.is_contiguous()):
            raise ValueError(f"apply_spatial_views: out must be a contiguous {y.dtype} {(c, t, s, s)}, got "
                             f"{dst.dtype} {tuple(dst.shape)}")
        res = dst.view(c, t * s * s) if dst is not None else None
        if p.jitter is None:
            y = torch.addmm(_NORM_B, _PLAIN_W[p.gray], y, out=res)
        else:
            m, o = jitter_affine(p.jitter, float(_LUMA @ y.mean(1)) / 255.0)
            m, o = (m / 255.0).astype(np.float32), o.astype(np.float32).reshape(3, 1)
            if p.gray:
                y = torch.addmm(_NORM_B, _GRAY_NORM_W, torch.addmm(torch.from_numpy(o), torch.from_numpy(m), y).clamp_(0, 1),
                                out=res)
            else:  # normalising is increasing per channel, so the clamp to [0, 1] moves past it
                y = torch.addmm(torch.from_numpy(_NORM_B_NP + _INV_STD * o), torch.from_numpy(_INV_STD * m), y,
                                out=res).clamp_(*_NORM_RANGE)
        results.append(y.view(c, t, s, s))
    return results


def apply_spatial_batch(clips: torch.Tensor, params: Sequence[SpatialParams], crop_size: int) -> torch.Tensor:
    """:func:`apply_spatial_views` on a whole batch of one view, on the batch's device.

    With ``data.augment_on=batch`` the loader returns uint8 frames and each clip's drawn
    parameters, and the training loop calls this after moving the batch to the device: the
    loader workers then only decode and cut, and a GPU does the crop, resize, colour and
    normalisation of the batch in a few kernels. The result equals the loader's to float
    rounding (``tests/data/test_augment.py``).

    Args:
        clips: uint8 ``(B, T, H, W, C)``; clips of smaller frames zero-padded at the bottom
            and right (:func:`~vcl_core.data.dataset.collate_views` pads them), which the crop
            never reads since every box lies inside its own frame.
        params: one :class:`SpatialParams` per clip.
        crop_size: output height and width ``s``.

    Returns:
        normalised float ``(B, C, T, s, s)``.
    """
    b, t, h_img, w_img, _ = clips.shape
    if len(params) != b:
        raise ValueError(f"apply_spatial_batch: {len(params)} parameter sets for {b} clips")
    s, dev = crop_size, clips.device
    ry, rx, mats, offs, grays = [], [], [], [], []
    for p in params:
        top, left, h, w = p.box
        shrink = w > s or h > s
        ry.append(_axis_matrix(h_img, top, h, s, shrink, False, p.blur) / 255.0)
        rx.append(_axis_matrix(w_img, left, w, s, shrink, p.flip, p.blur).T)
        # the jitter's offset is linear in the clip's mean luma (see jitter_affine): k * mean_luma
        m, k = jitter_affine(p.jitter, 1.0) if p.jitter is not None else (np.eye(3), np.zeros(3))
        mats.append(torch.from_numpy(m).float())
        offs.append(torch.from_numpy(k).float())
        grays.append(_GRAY if p.gray else _EYE3)
    ry, rx = torch.stack(ry).to(dev).view(b, 1, 1, s, h_img), torch.stack(rx).to(dev).view(b, 1, 1, w_img, s)
    x = clips.permute(0, 1, 4, 2, 3).float()  # (B, T, C, H, W)
    flat = torch.matmul(torch.matmul(ry, x), rx).reshape(b, t, 3, s * s)
    if any(p.jitter is not None for p in params):
        mean_luma = (flat.mean(3) @ _LUMA.to(dev)).mean(1)  # (B,): each clip's own, over its frames
        off = torch.stack(offs).to(dev) * mean_luma[:, None]
        flat = (torch.matmul(torch.stack(mats).to(dev)[:, None], flat) + off[:, None, :, None]).clamp_(0, 1)
    if any(p.gray for p in params):
        flat = torch.matmul(torch.stack(grays).to(dev)[:, None], flat)
    y = flat.sub_(_MEAN.to(dev)).div_(_STD.to(dev)).view(b, t, 3, s, s)
    return y.permute(0, 2, 1, 3, 4).contiguous()


def apply_spatial(clip: torch.Tensor, p: SpatialParams, cfg: AugmentConfig) -> torch.Tensor:
    """Apply one clip's parameters to uint8 ``(T, H, W, C)``; returns normalised ``(C, T, s, s)``
    (see :func:`apply_spatial_views`)."""
    return apply_spatial_views([clip], [p], cfg.crop_size)[0]


def center_view(clip: torch.Tensor, crop_size: int, crop_fraction: float = 1.0) -> torch.Tensor:
    """Deterministic evaluation transform: centre crop of ``crop_fraction`` of the short side,
    resized to ``crop_size``; uint8 ``(T, H, W, C)`` -> normalised ``(C, T, s, s)``."""
    _, H, W, _ = clip.shape
    side = max(1, int(round(min(H, W) * crop_fraction)))
    top, left = (H - side) // 2, (W - side) // 2
    return apply_spatial_views([clip], [SpatialParams((top, left, side, side), False, None, False)], crop_size)[0]
