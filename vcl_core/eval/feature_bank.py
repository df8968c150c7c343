"""The shared state of one evaluation: frozen features per view and condition, fitted probes.

Every block of the suite asks a :class:`FeatureBank` for features, so a video is encoded once
per view and condition however many blocks use it, and a probe trained on clean train
features is the same object whether the probes block or the robustness block scores it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..data import FrameSource, VideoRecord
from .features import (VIEWS, ClipWindowsDataset, VideoTransform, WindowsFn, extract_clip_features, protocol_view,
                       recompute_batchnorm, view_windows)
from .probes import LinearProbe, encode_labels, fit_linear_probe


@dataclass
class LabelledSplits:
    """Samples of one view and label column, with integer labels from the train split's classes.

    Attributes:
        train_x, test_x: ``(M, D)`` features (one row per video, or per clip for ``clip``).
        train_y, test_y: ``(M,)`` class indices; ``-1`` marks test classes absent from train.
        test_video: ``(M_test,)`` position of each test sample's record in the test split.
        classes: class names; ``train_y == i`` means ``classes[i]``.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    test_video: np.ndarray
    classes: list[str]


class FeatureBank:
    """Features of the train and test split under every view, computed on first use.

    Args:
        encoder: ``(B, 3, T, H, W) -> (B, D)``, frozen.
        train, test: the records of each split.
        source: where frames come from.
        num_frames, stride: the clip view; crop_size: centre-crop size.
        num_clips: clips per video for ``clip``, ``clips`` and ``video_model``.
        whole_frames: frames of the ``whole`` view.
        video_encoder: ``(B, K, 3, T, H, W) -> (B, D)`` for the ``video_model`` view, or ``None``.
        batch_size, device, workers: feature extraction.
        probe_wd, probe_iter: linear probe settings.
        seed: seeds perturbed datasets and probes.
        precise_bn: embed each view with BatchNorm statistics recomputed on that view of the
            train split (:func:`~vcl_core.eval.features.recompute_batchnorm`; for ``video_model``
            in a copy of the video encoder); ``False`` keeps the training run's running statistics.
    """

    def __init__(self, encoder: torch.nn.Module, train: Sequence[VideoRecord], test: Sequence[VideoRecord],
                 source: FrameSource, *, num_frames: int, stride: int, crop_size: int, num_clips: int,
                 whole_frames: int, video_encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 batch_size: int = 32, device: str = "cpu", workers: int = 0, probe_wd: float = 1e-3,
                 probe_iter: int = 100, seed: int = 0, precise_bn: bool = True):
        self.encoder, self.video_encoder = encoder, video_encoder
        self.precise_bn = precise_bn
        self._view_encoders: dict[str, torch.nn.Module] = {}
        self.records = {"train": list(train), "test": list(test)}
        self.source = source
        self.num_frames, self.stride, self.crop_size = num_frames, stride, crop_size
        self.num_clips, self.whole_frames = num_clips, whole_frames
        self.batch_size, self.device, self.workers = batch_size, device, workers
        self.probe_wd, self.probe_iter, self.seed = probe_wd, probe_iter, seed
        self.skipped: dict[str, str] = {}
        self.seconds = 0.0  # time spent encoding videos
        self._feats: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._probes: dict[tuple, LinearProbe] = {}

    # ------------------------------------------------------------------ datasets and features
    @staticmethod
    def _kind(view: str) -> str:
        """Views that share forward passes share a cache entry (``clip`` is ``clips`` unaveraged)."""
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; choose one of {VIEWS}")
        return "clips" if view == "clip" else view

    def dataset(self, view: str, split: str, video_transform: VideoTransform | None = None,
                windows: WindowsFn | None = None, num_windows: int | None = None) -> ClipWindowsDataset:
        """The clips a view reads from one split (optionally perturbed, or at custom windows)."""
        spec = protocol_view(view, self.num_frames, self.stride, self.whole_frames)
        k = 1 if spec.whole else self.num_clips
        return ClipWindowsDataset(self.records[split], self.source, windows or view_windows(spec, self.num_clips),
                                  num_windows or k, spec.num_frames, self.crop_size, video_transform, self.seed)

    def view_encoder(self, view: str) -> torch.nn.Module:
        """The module that embeds ``view`` (the video encoder for ``video_model``): with
        :attr:`precise_bn`, a copy whose BatchNorm statistics were recomputed on that view of
        the train split (made once per view)."""
        kind = self._kind(view)
        module = self.video_encoder if kind == "video_model" else self.encoder
        if not self.precise_bn or not isinstance(module, torch.nn.Module):
            return module
        if kind not in self._view_encoders:
            t0 = time.perf_counter()
            self._view_encoders[kind] = recompute_batchnorm(module, self.dataset(kind, "train"), self.batch_size,
                                                            self.device, self.workers, video_level=kind == "video_model")
            self.seconds += time.perf_counter() - t0
        return self._view_encoders[kind]

    def encode(self, dataset: ClipWindowsDataset, view: str = "clips") -> tuple[np.ndarray, np.ndarray]:
        """``(features (N, K, D), ok (N,))`` of a dataset read as ``view``; unreadable videos
        go to :attr:`skipped`. ``video_model`` sends the clips through :attr:`video_encoder`
        (``K = 1``); other views go through :meth:`view_encoder`.
        """
        t0 = time.perf_counter()
        video_level = self._kind(view) == "video_model"
        x, ok, errors = extract_clip_features(self.encoder if video_level else self.view_encoder(view), dataset,
                                              self.batch_size, self.device, self.workers,
                                              video_encoder=self.view_encoder(view) if video_level else None)
        for e in errors:
            vid, _, why = e.partition(":")
            self.skipped[vid] = why.strip()
        self.seconds += time.perf_counter() - t0
        return x, ok

    def features(self, view: str, split: str, condition: str = "clean",
                 video_transform: VideoTransform | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(features (N, K, D), ok (N,))`` of a split under a view and a named condition.

        ``condition`` names the perturbation (``video_transform``) so its features are cached;
        ``clean`` must come without one.
        """
        if (condition == "clean") != (video_transform is None):
            raise ValueError("pass a video_transform exactly when the condition is not 'clean'")
        key = (self._kind(view), split, condition)
        if key not in self._feats:
            if key[0] == "video_model" and self.video_encoder is None:
                raise ValueError("the video_model view needs a video_encoder")
            ds = self.dataset(key[0], split, video_transform)
            self._feats[key] = self.encode(ds, key[0])
        return self._feats[key]

    def samples(self, view: str, split: str, condition: str = "clean",
                video_transform: VideoTransform | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(x (M, D), video (M,))``: one row per readable video, or per clip for ``clip``."""
        x, ok = self.features(view, split, condition, video_transform)
        vids = np.flatnonzero(ok)
        if view == "clip":
            k = x.shape[1]
            return x[vids].reshape(len(vids) * k, -1), np.repeat(vids, k)
        return x[vids].mean(1), vids

    # ------------------------------------------------------------------ labels and probes
    def labels(self, split: str, column: str) -> list[str]:
        """Label strings of a split's records (``""`` when missing)."""
        return [r.labels.get(column, "") for r in self.records[split]]

    def labelled(self, view: str, column: str, condition: str = "clean",
                 video_transform: VideoTransform | None = None) -> LabelledSplits | None:
        """Train (always clean) and test (under ``condition``) samples with labels; ``None``
        when either split has no labelled readable video."""
        xtr, vtr = self.samples(view, "train")
        xte, vte = self.samples(view, "test", condition, video_transform)
        ltr, lte = np.array(self.labels("train", column), dtype=object), np.array(self.labels("test", column),
                                                                                  dtype=object)
        mtr, mte = ltr[vtr] != "", lte[vte] != ""
        if not mtr.any() or not mte.any():
            return None
        ytr, yte, classes = encode_labels(list(ltr[vtr][mtr]), list(lte[vte][mte]))
        return LabelledSplits(xtr[mtr], ytr, xte[mte], yte, vte[mte], classes)

    def linear(self, view: str, column: str) -> LinearProbe:
        """The linear probe fitted on clean train samples of a view and label column (cached)."""
        key = (view, column)
        if key not in self._probes:
            d = self.labelled(view, column)
            if d is None:
                raise ValueError(f"label column {column!r} has no labelled train and test videos")
            self._probes[key] = fit_linear_probe(d.train_x, d.train_y, len(d.classes), self.probe_wd,
                                                 self.probe_iter)
        return self._probes[key]
