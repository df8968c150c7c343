"""Helpers of the evaluation tests: a small random 3D CNN and in-memory videos."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from vcl_core.data import VideoDecodeError, VideoIndex, VideoRecord

# the clip view of the synthetic preset, shrunk: 8-frame clips, 6 per video, 16-frame whole view
CLIP = dict(num_frames=8, stride=1, crop_size=32, num_clips=6, whole_frames=16)


class TinyConv3d(nn.Module):
    """A small random 3D CNN, ``(B, 3, T, H, W) -> (B, 16)``, with batch norm (so train/eval
    modes differ, as in the real encoders)."""

    def __init__(self, seed: int = 0, width: int = 16):
        super().__init__()
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Conv3d(3, 8, 3, (1, 2, 2), 1), nn.BatchNorm3d(8), nn.ReLU(),
                                 nn.Conv3d(8, width, 3, (2, 2, 2), 1), nn.ReLU())
        torch.random.set_rng_state(gen_state)
        self.embed_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=(2, 3, 4))


class ArraySource:
    """A frame source over in-memory uint8 videos ``(T, H, W, 3)`` keyed by record path."""

    def __init__(self, videos: dict[str, np.ndarray]):
        self.videos = videos

    def num_frames(self, rec: VideoRecord) -> int:
        if rec.path not in self.videos:
            raise VideoDecodeError(f"{rec.path}: file not found")
        return len(self.videos[rec.path])

    def read(self, rec: VideoRecord, indices) -> np.ndarray:
        return self.videos[rec.path][np.asarray(indices)]


def brightness_videos(n_per_class: int = 6, classes: int = 3, frames: int = 12, size: int = 16, seed: int = 0):
    """Videos whose class is their brightness level (plus noise): ``(index, source)`` with
    train and test splits and a ``level`` label column."""
    rng = np.random.default_rng(seed)
    videos, records = {}, []
    for split, count in (("train", n_per_class), ("test", n_per_class // 2)):
        for c in range(classes):
            for i in range(count):
                path = f"/mem/{split}_{c}_{i}.mp4"
                base = 40 + 80 * c
                videos[path] = np.clip(base + rng.normal(0, 12, (frames, size, size, 3)), 0, 255).astype(np.uint8)
                records.append(VideoRecord(path, f"{split}_{c}_{i}", {"level": f"l{c}"}, split))
    return VideoIndex("/mem", records, ["level"], "csv"), ArraySource(videos)
