"""Map-style datasets: multi-view contrastive samples for training, fixed clips for evaluation.

:class:`ContrastiveVideoDataset` returns several augmented views of one video per item.
Everything random about item ``i`` in epoch ``e`` comes from one generator seeded with
``(seed, e, i)``, so a sample is the same whichever DataLoader worker or rank draws it, and a
resumed run sees the same data as an uninterrupted one.

A video that cannot be read (missing, corrupt, too short under ``short="skip"``) never stops
an epoch: the item is replaced by another video drawn from the same generator, and the
failure travels with the sample (``failures``) so the training loop can count and report it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .augment import AugmentConfig, apply_spatial, center_view, draw_spatial
from .cache import FrameSource
from .decode import VideoDecodeError
from .index import VideoRecord
from .sampling import ClipTooShort, ViewSpec, eval_windows, sample_starts, window_indices


@dataclass(frozen=True)
class SamplingConfig:
    """How a training sample is cut from a video.

    Args:
        views: the views of one sample (two for SimCLR-style pairs).
        policy: positive policy, see :mod:`vcl_core.data.sampling`.
        min_gap, max_gap: gap limits in source frames (``range``; ``max_gap`` also caps ``cvrl``).
        short: what to do with videos shorter than a view: ``loop``, ``pad`` or ``skip``.
        max_retries: replacement attempts before an item gives up.
    """

    views: tuple[ViewSpec, ...] = (ViewSpec(), ViewSpec())
    policy: str = "cvrl"
    min_gap: int = 0
    max_gap: int | None = None
    short: str = "loop"
    max_retries: int = 10


class ContrastiveVideoDataset(torch.utils.data.Dataset):
    """Several views of one video per item, each a normalised float ``(C, T, H, W)``.

    Args:
        records: the videos (usually one split of a :class:`~vcl_core.data.index.VideoIndex`).
        source: where frames come from (:class:`DecodeSource` or :class:`FrameCache`).
        sampling: views and positive policy.
        augment: one :class:`AugmentConfig` for all views, or one per view (asymmetric views).
        seed: base seed; combine with :meth:`set_epoch`.
        label_columns: label columns to return as class indices (supervised training only).

    Item keys: ``views`` (list of tensors), ``index`` (the item asked for), ``video`` (the
    record index actually used), ``starts`` and ``gap`` (source frames), ``labels`` (class
    index per label column, -1 when missing), ``failures`` (list of ``"video_id: reason"`` for
    replaced videos).
    """

    def __init__(self, records: Sequence[VideoRecord], source: FrameSource, sampling: SamplingConfig,
                 augment: AugmentConfig | Sequence[AugmentConfig], seed: int = 0,
                 label_columns: Sequence[str] = ()):
        if not records:
            raise ValueError("ContrastiveVideoDataset needs at least one video")
        self.records = list(records)
        self.source = source
        self.sampling = sampling
        n_views = len(sampling.views)
        augs = [augment] * n_views if isinstance(augment, AugmentConfig) else list(augment)
        if len(augs) != n_views:
            raise ValueError(f"{len(augs)} augmentation configs for {n_views} views")
        self.augment = augs
        self.seed = seed
        self.epoch = 0
        self.label_columns = list(label_columns)
        #: class names per label column, sorted; a label's index is its position here
        self.classes = {c: sorted({r.labels.get(c, "") for r in self.records} - {""}) for c in self.label_columns}
        pos = {c: {name: i for i, name in enumerate(v)} for c, v in self.classes.items()}
        self._labels = torch.tensor([[pos[c].get(r.labels.get(c, ""), -1) for c in self.label_columns]
                                     for r in self.records], dtype=torch.long).reshape(len(self.records), -1)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose samples ``__getitem__`` returns."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def _sample(self, j: int, rng: np.random.Generator) -> dict:
        rec = self.records[j]
        s = self.sampling
        n = self.source.num_frames(rec)
        starts, gap = sample_starts(rng, n, list(s.views), s.policy, s.min_gap, s.max_gap)
        wins = [window_indices(st, v, n, s.short, rng) for st, v in zip(starts, s.views)]
        # decode the union once, then cut every view from it
        union = np.unique(np.concatenate(wins))
        frames = self.source.read(rec, union)
        pos = {int(f): k for k, f in enumerate(union)}
        views = []
        for w, aug in zip(wins, self.augment):
            clip = torch.from_numpy(np.ascontiguousarray(frames[[pos[int(f)] for f in w]]))
            params = draw_spatial(rng, clip.shape[1], clip.shape[2], aug)
            views.append(apply_spatial(clip, params, aug))
        return {"views": views, "starts": torch.tensor(starts), "gap": gap}

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        """Item ``index`` of the current epoch, or of epoch ``e`` when given ``(e, index)``
        (as :class:`~vcl_core.data.samplers.EpochSampler` yields, so persistent workers need no
        epoch bookkeeping)."""
        epoch, index = index if isinstance(index, tuple) else (self.epoch, index)
        failures: list[str] = []
        j = index
        for attempt in range(self.sampling.max_retries + 1):
            rng = np.random.default_rng([self.seed, epoch, index, attempt])
            try:
                out = self._sample(j, rng)
                out.update(index=index, video=j, failures=failures, labels=self._labels[j])
                return out
            except (VideoDecodeError, ClipTooShort, OSError) as e:
                failures.append(f"{self.records[j].video_id}: {e}")
                j = int(rng.integers(len(self.records)))
        raise RuntimeError(f"item {index}: {len(failures)} videos in a row could not be used; "
                           f"last errors: {failures[-3:]}. Run `vcl check-data` on the dataset.")


def collate_views(batch: list[dict]) -> dict:
    """Stack views view-by-view; keep failures as one flat list."""
    n_views = len(batch[0]["views"])
    return {
        "views": [torch.stack([b["views"][v] for b in batch]) for v in range(n_views)],
        "index": torch.tensor([b["index"] for b in batch]),
        "video": torch.tensor([b["video"] for b in batch]),
        "starts": torch.stack([b["starts"] for b in batch]),
        "gap": torch.tensor([b["gap"] for b in batch]),
        "labels": torch.stack([b["labels"] for b in batch]),
        "failures": [f for b in batch for f in b["failures"]],
    }


class EvalClipDataset(torch.utils.data.Dataset):
    """Fixed, unaugmented clips of every video for frozen-feature evaluation.

    Args:
        records, source: as for training.
        view: the clip specification (``whole=True`` for one view spanning the video).
        num_clips: clips per video, spaced evenly (ignored for whole-video views).
        crop_size: output size of the centre crop.

    Items: ``clips`` float ``(K, C, T, s, s)``, ``index``, ``ok`` (False when the video could
    not be read; then ``clips`` is zeros and ``error`` says why).
    """

    def __init__(self, records: Sequence[VideoRecord], source: FrameSource, view: ViewSpec,
                 num_clips: int, crop_size: int, short: str = "loop"):
        self.records, self.source, self.view = list(records), source, view
        self.num_clips = 1 if view.whole else num_clips
        self.crop_size, self.short = crop_size, short

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        try:
            n = self.source.num_frames(rec)
            wins = eval_windows(n, self.view, self.num_clips, self.short)
            union = np.unique(np.concatenate(wins))
            frames = self.source.read(rec, union)
            pos = {int(f): k for k, f in enumerate(union)}
            clips = [center_view(torch.from_numpy(np.ascontiguousarray(frames[[pos[int(f)] for f in w]])),
                                 self.crop_size) for w in wins]
            return {"clips": torch.stack(clips), "index": index, "ok": True, "error": ""}
        except (VideoDecodeError, ClipTooShort, OSError) as e:
            shape = (self.num_clips, 3, self.view.num_frames, self.crop_size, self.crop_size)
            return {"clips": torch.zeros(shape), "index": index, "ok": False, "error": f"{rec.video_id}: {e}"}
