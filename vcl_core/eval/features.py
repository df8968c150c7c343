"""Frozen-feature extraction at video level.

Two protocols, reported separately because they see different things:

``clips``  the average of ``K`` short clips (the training view) spaced evenly over the video.
           An average is blind to order: "A then B" and "B then A" give the same mean.
``whole``  one view of ``F`` frames spread evenly over the whole video, in order, through
           the same encoder (its slow pathway sees every ``alpha``-th of them). This is the
           model's own video-level embedding for the long-term factor.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..data import EvalClipDataset, FrameSource, VideoRecord, ViewSpec

PROTOCOLS = ("clips", "whole")


def protocol_view(protocol: str, num_frames: int, stride: int, whole_frames: int) -> ViewSpec:
    """The :class:`ViewSpec` a protocol reads."""
    if protocol == "clips":
        return ViewSpec(num_frames, stride)
    if protocol == "whole":
        return ViewSpec(whole_frames, 1, whole=True)
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")


@torch.no_grad()
def extract_features(encoder: torch.nn.Module, records: Sequence[VideoRecord], source: FrameSource,
                     view: ViewSpec, num_clips: int, crop_size: int, batch_size: int = 32,
                     device: str | torch.device = "cpu", workers: int = 0,
                     clip_transform=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Embed every video with a frozen encoder.

    Args:
        encoder: maps ``(B, 3, T, H, W)`` to ``(B, D)``; put in eval mode here.
        records, source: the videos and where their frames come from.
        view, num_clips: what to read (``num_clips`` clips averaged; 1 for whole views).
        crop_size: centre-crop size.
        clip_transform: optional function applied to each normalised ``(K, C, T, H, W)`` batch
            item before the encoder (used by robustness tests to perturb the input).

    Returns:
        ``(features (N, D) float32, ok (N,) bool, errors)``; rows of unreadable videos are
        zero and ``ok`` is False for them.
    """
    was_training = encoder.training
    encoder.eval()
    ds = EvalClipDataset(records, source, view, num_clips, crop_size)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=workers, shuffle=False)
    feats, oks, errors = [], [], []
    for batch in loader:
        clips = batch["clips"]
        if clip_transform is not None:
            clips = torch.stack([clip_transform(c) for c in clips])
        b, k = clips.shape[:2]
        x = clips.flatten(0, 1).to(device)
        z = encoder(x).float().reshape(b, k, -1).mean(1)
        feats.append(z.cpu().numpy())
        oks.append(batch["ok"].numpy())
        errors += [e for e in batch["error"] if e]
    encoder.train(was_training)
    return np.concatenate(feats), np.concatenate(oks).astype(bool), errors
