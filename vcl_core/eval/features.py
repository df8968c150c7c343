"""Frozen-feature extraction at clip and video level.

A *view* says what one feature vector summarises. Every block of the evaluation suite reports
its numbers per view, because the views see different things:

``clip``        one short clip (the training view); each of the ``K`` evaluation clips of a
                video is its own sample, scored clip by clip. Shares its forward passes with
                ``clips``.
``clips``       the average of ``K`` short clips spaced evenly over the video. An average is
                blind to order: "A then B" and "B then A" give the same mean.
``whole``       one view of ``F`` frames spread evenly over the whole video, in order, through
                the same encoder (its slow pathway sees every ``alpha``-th of them). This is the
                model's own video-level embedding for the long-term factor.
``video_model`` a video-level module (e.g. a memory component) that maps the ``K`` clips of a
                video, ``(B, K, 3, T, H, W)``, to one embedding ``(B, D)``.

Clips are cut by :class:`ClipWindowsDataset` from source frame indices ("windows"), with no
augmentation (centre crop). A ``video_transform`` may perturb the decoded video first
(robustness); the windows are then laid on the perturbed video.
"""
from __future__ import annotations

from functools import partial
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..data import FrameSource, VideoDecodeError, VideoRecord, ViewSpec
from ..data.augment import center_view
from ..data.views import ClipTooShort, eval_windows

#: every view a feature can summarise (see the module docstring)
VIEWS = ("clip", "clips", "whole", "video_model")
#: the views :func:`vcl_core.eval.evaluate_encoder` runs unless told otherwise
PROTOCOLS = ("clips", "whole")

#: ``windows(num_video_frames, rng) -> list of int arrays of source frame indices``
WindowsFn = Callable[[int, np.random.Generator], list]
#: ``video_transform(frames uint8 (N, H, W, C), rng) -> uint8 (M, H, W, C)``
VideoTransform = Callable[[torch.Tensor, np.random.Generator], torch.Tensor]


def protocol_view(protocol: str, num_frames: int, stride: int, whole_frames: int) -> ViewSpec:
    """The :class:`ViewSpec` a view reads (``clip``, ``clips`` and ``video_model`` read clips).

    Raises:
        ValueError: unknown view name.
    """
    if protocol in ("clip", "clips", "video_model"):
        return ViewSpec(num_frames, stride)
    if protocol == "whole":
        return ViewSpec(whole_frames, 1, whole=True)
    raise ValueError(f"unknown protocol/view {protocol!r}; choose one of {VIEWS}")


def _even_windows(num_video_frames: int, rng: np.random.Generator, view: ViewSpec, num_clips: int) -> list:
    return eval_windows(num_video_frames, view, num_clips)


def view_windows(view: ViewSpec, num_clips: int) -> WindowsFn:
    """The evaluation windows of ``view``: ``num_clips`` clips spaced evenly (one for whole views).

    Returned as a ``functools.partial`` of a module-level function, so datasets pickle into
    DataLoader workers under any start method.
    """
    return partial(_even_windows, view=view, num_clips=1 if view.whole else num_clips)


class ClipWindowsDataset(torch.utils.data.Dataset):
    """Unaugmented clips of every video, cut at the source frames a windows function names.

    Args:
        records, source: the videos and where their frames come from.
        windows: ``(num_video_frames, rng) -> [indices (T,), ...]`` with ``num_windows`` entries.
        num_windows, frames_per_window: ``K`` and ``T`` (the shape of an unreadable item).
        crop_size: centre-crop size.
        video_transform: perturbs the whole decoded uint8 video ``(N, H, W, C)`` before the
            windows are cut (they are laid on the perturbed video's length).
        seed: item ``i`` draws from ``numpy.random.default_rng([seed, i])``, so a perturbed
            test set is the same on every run.

    Items: ``clips`` float ``(K, 3, T, s, s)``, ``index``, ``ok`` (False when the video could not
    be read; then ``clips`` is zeros and ``error`` says why).
    """

    def __init__(self, records: Sequence[VideoRecord], source: FrameSource, windows: WindowsFn, num_windows: int,
                 frames_per_window: int, crop_size: int, video_transform: VideoTransform | None = None,
                 seed: int = 0):
        self.records, self.source, self.windows = list(records), source, windows
        self.num_windows, self.frames_per_window = num_windows, frames_per_window
        self.crop_size, self.video_transform, self.seed = crop_size, video_transform, seed

    def __len__(self) -> int:
        return len(self.records)

    def _clips(self, rec: VideoRecord, rng: np.random.Generator) -> torch.Tensor:
        n = self.source.num_frames(rec)
        if self.video_transform is not None:
            video = self.video_transform(torch.from_numpy(np.ascontiguousarray(self.source.read(rec, np.arange(n)))),
                                         rng)
            wins = self.windows(len(video), rng)
            return torch.stack([center_view(video[torch.as_tensor(w)], self.crop_size) for w in wins])
        wins = self.windows(n, rng)
        union = np.unique(np.concatenate(wins))
        frames = self.source.read(rec, union)
        pos = np.searchsorted(union, np.concatenate(wins)).reshape(len(wins), -1)
        return torch.stack([center_view(torch.from_numpy(np.ascontiguousarray(frames[p])), self.crop_size)
                            for p in pos])

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        try:
            clips = self._clips(rec, np.random.default_rng([self.seed, index]))
        except (VideoDecodeError, ClipTooShort, OSError) as e:
            shape = (self.num_windows, 3, self.frames_per_window, self.crop_size, self.crop_size)
            return {"clips": torch.zeros(shape), "index": index, "ok": False, "error": f"{rec.video_id}: {e}"}
        if clips.shape[:3] != (self.num_windows, 3, self.frames_per_window):
            raise RuntimeError(f"windows gave clips of shape {tuple(clips.shape)}; expected "
                               f"({self.num_windows}, 3, {self.frames_per_window}, ...)")
        return {"clips": clips, "index": index, "ok": True, "error": ""}


@torch.no_grad()
def extract_clip_features(encoder: Callable[[torch.Tensor], torch.Tensor], dataset: ClipWindowsDataset,
                          batch_size: int = 32, device: str | torch.device = "cpu", workers: int = 0,
                          video_encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
                          clip_transform: Callable[[torch.Tensor], torch.Tensor] | None = None
                          ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Embed every clip of every video with a frozen encoder.

    Args:
        encoder: ``(B, 3, T, H, W) -> (B, D)``; put in eval mode for the call.
        dataset: the clips (see :class:`ClipWindowsDataset`).
        video_encoder: when given, ``(B, K, 3, T, H, W) -> (B, D)`` replaces the encoder and the
            result has one row per video (``K = 1`` in the output).
        clip_transform: applied to each normalised ``(K, 3, T, H, W)`` item before the encoder.

    Returns:
        ``(features (N, K, D) float32, ok (N,) bool, errors)``; rows of unreadable videos are
        zero and ``ok`` is False for them.
    """
    modules = [m for m in (encoder, video_encoder) if isinstance(m, torch.nn.Module)]
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)
    feats, oks, errors = [], [], []
    try:
        for batch in loader:
            clips = batch["clips"]
            if clip_transform is not None:
                clips = torch.stack([clip_transform(c) for c in clips])
            b, k = clips.shape[:2]
            if video_encoder is not None:
                z = video_encoder(clips.to(device)).float().reshape(b, 1, -1)
            else:
                z = encoder(clips.flatten(0, 1).to(device)).float().reshape(b, k, -1)
            feats.append(z.cpu().numpy())
            oks.append(batch["ok"].numpy())
            errors += [e for e in batch["error"] if e]
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)
    return np.concatenate(feats), np.concatenate(oks).astype(bool), errors


def has_batchnorm(module: torch.nn.Module) -> bool:
    """True when ``module`` holds a BatchNorm layer that tracks running statistics."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats
               for m in module.modules())


@torch.no_grad()
def recompute_batchnorm(encoder: torch.nn.Module, dataset: ClipWindowsDataset, batch_size: int = 32,
                        device: str | torch.device = "cpu", workers: int = 0,
                        max_videos: int = 2048, video_level: bool = False) -> torch.nn.Module:
    """A copy of ``encoder`` whose BatchNorm statistics are those of the clips it will embed.

    In training, BatchNorm's running statistics average every view the network saw: short
    clips and whole-video views, augmented. A view evaluated with statistics of another
    (a whole-video view at stride 3 sees frame differences three times those of a clip at
    stride 1) is normalised wrongly. "Precise BN" (Wu & Johnson, "Rethinking 'Batch' in
    BatchNorm", 2021; SlowFast's ``BN.USE_PRECISE_STATS``) recomputes them as the exact mean
    and variance over the evaluated view of (up to ``max_videos``) training videos, with
    every other layer in eval mode. The encoder itself is not modified.

    Args:
        encoder: ``(B, 3, T, H, W) -> (B, D)``, or with ``video_level`` a video-level module
            ``(B, K, 3, T, H, W) -> (B, D)`` that reads a video's ``K`` clips.
        dataset: the clips of the view, usually of the train split (:class:`ClipWindowsDataset`).

    Returns:
        The copy, in eval mode (the encoder itself when it has no BatchNorm).
    """
    if not has_batchnorm(encoder):
        return encoder
    import copy

    model = copy.deepcopy(encoder).eval()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
             and m.track_running_stats]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all batches: the exact statistics
        m.train()
    subset = torch.utils.data.Subset(dataset, range(min(len(dataset), max_videos)))
    loader = torch.utils.data.DataLoader(subset, batch_size=batch_size, num_workers=workers, shuffle=False)
    for batch in loader:
        clips = batch["clips"][batch["ok"]]
        if len(clips):
            model((clips if video_level else clips.flatten(0, 1)).to(device))
    for m in norms:
        m.eval()
    return model


def extract_features(encoder: torch.nn.Module, records: Sequence[VideoRecord], source: FrameSource,
                     view: ViewSpec, num_clips: int, crop_size: int, batch_size: int = 32,
                     device: str | torch.device = "cpu", workers: int = 0,
                     clip_transform: Callable[[torch.Tensor], torch.Tensor] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Video-level features: the mean of ``num_clips`` clip embeddings (one for whole views).

    Args:
        encoder: maps ``(B, 3, T, H, W)`` to ``(B, D)``; put in eval mode for the call.
        records, source: the videos and where their frames come from.
        view, num_clips: what to read (``num_clips`` clips averaged; 1 for whole views).
        crop_size: centre-crop size.
        clip_transform: optional function applied to each normalised ``(K, C, T, H, W)`` batch
            item before the encoder.

    Returns:
        ``(features (N, D) float32, ok (N,) bool, errors)``; rows of unreadable videos are
        zero and ``ok`` is False for them.
    """
    k = 1 if view.whole else num_clips
    ds = ClipWindowsDataset(records, source, view_windows(view, num_clips), k, view.num_frames, crop_size)
    feats, ok, errors = extract_clip_features(encoder, ds, batch_size, device, workers, clip_transform=clip_transform)
    return feats.mean(1), ok, errors
