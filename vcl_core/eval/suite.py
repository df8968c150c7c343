"""One call that evaluates a frozen encoder on a dataset and returns the results schema.

Schema (also what ``vcl evaluate --json`` writes)::

    {"tasks":     {LABEL: {"linear_top1", "knn_top1", "retrieval_r1", "retrieval_r5"}},
     "protocols": {"clips": {LABEL: {...}}, "whole": {LABEL: {...}}},
     "chance":    {LABEL: majority-class accuracy on the test split},
     "meta":      {"video_embedding": "whole", "train_videos", "test_videos", "skipped", ...}}

``tasks`` reports the model's own video-level embedding (``whole``: one view over the whole
video); ``protocols`` has every protocol side by side. Numbers are fractions in [0, 1].
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from ..data import FrameSource, VideoIndex
from .features import PROTOCOLS, extract_features, protocol_view
from .probes import chance_level, encode_labels, knn_top1, linear_probe, retrieval_recall


def probe_all(train_x, train_labels, test_x, test_labels, knn_k=10, knn_t=0.07, probe_wd=1e-3,
              probe_iter=100) -> dict:
    """Every protocol for one label column; labels are strings (empty = unlabelled, skipped)."""
    tr = np.array([lbl != "" for lbl in train_labels])
    te = np.array([lbl != "" for lbl in test_labels])
    ytr, yte, _ = encode_labels([l for l, k in zip(train_labels, tr) if k], [l for l, k in zip(test_labels, te) if k])
    xtr, xte = train_x[tr], test_x[te]
    keep = yte >= 0  # test classes never seen in train cannot be predicted; count them as misses
    rec = retrieval_recall(xtr, ytr, xte, yte, ks=(1, 5, 10))
    return {
        "linear_top1": linear_probe(xtr, ytr, xte, np.where(keep, yte, -1), probe_wd, probe_iter),
        "knn_top1": knn_top1(xtr, ytr, xte, np.where(keep, yte, -1), knn_k, knn_t),
        "retrieval_r1": rec[1], "retrieval_r5": rec[5], "retrieval_r10": rec[10],
        "chance": chance_level(ytr, yte),
    }


def evaluate_encoder(encoder: torch.nn.Module, index: VideoIndex, source: FrameSource, *,
                     num_frames: int, stride: int, crop_size: int, num_clips: int = 4,
                     whole_frames: int = 16, knn_k: int = 10, knn_t: float = 0.07, probe_wd: float = 1e-3,
                     probe_iter: int = 100, batch_size: int = 32, device: str = "cpu", workers: int = 0,
                     protocols: tuple[str, ...] = PROTOCOLS, label_columns: list[str] | None = None,
                     video_embedding: str = "whole") -> dict:
    """Extract frozen features for both splits under every protocol and probe every label.

    Args:
        encoder: ``(B, 3, T, H, W) -> (B, D)``, frozen (eval mode, no gradients).
        index, source: the dataset and where frames come from.
        num_frames, stride: the clip view (as in training).
        crop_size: centre-crop size (as in training).
        num_clips: clips averaged per video in the ``clips`` protocol.
        whole_frames: frames of the whole-video view.
        protocols: which of ``clips``, ``whole`` to run.
        label_columns: defaults to all of the index's label columns.
        video_embedding: the protocol reported under ``tasks``.

    Returns:
        The results dict (see module docstring).

    Raises:
        ValueError: the index has no train or no test videos, or no label columns.
    """
    train, test = index.split("train"), index.split("test")
    if not train or not test:
        raise ValueError(f"evaluation needs train and test videos; found {len(train)} train, {len(test)} test")
    cols = label_columns or index.label_columns
    if not cols:
        raise ValueError("the dataset has no label columns to evaluate")
    if video_embedding not in protocols:
        raise ValueError(f"video_embedding={video_embedding!r} must be one of the protocols run {protocols}")
    out: dict = {"tasks": {}, "protocols": {}, "chance": {}, "meta": {}}
    skipped: dict[str, str] = {}
    for protocol in protocols:
        view = protocol_view(protocol, num_frames, stride, whole_frames)
        kw = dict(view=view, num_clips=num_clips, crop_size=crop_size, batch_size=batch_size, device=device,
                  workers=workers)
        xtr, oktr, etr = extract_features(encoder, train, source, **kw)
        xte, okte, ete = extract_features(encoder, test, source, **kw)
        for e in etr + ete:
            skipped[e.split(":", 1)[0]] = e.split(":", 1)[1].strip()
        res = {}
        for col in cols:
            ltr = [r.labels.get(col, "") for r, ok in zip(train, oktr) if ok]
            lte = [r.labels.get(col, "") for r, ok in zip(test, okte) if ok]
            if not any(ltr) or not any(lte):
                continue
            m = probe_all(xtr[oktr], ltr, xte[okte], lte, knn_k, knn_t, probe_wd, probe_iter)
            out["chance"][col] = m.pop("chance")
            res[col] = m
        out["protocols"][protocol] = res
    out["tasks"] = {c: {k: v for k, v in m.items() if k in ("linear_top1", "knn_top1", "retrieval_r1", "retrieval_r5")}
                    for c, m in out["protocols"][video_embedding].items()}
    out["meta"] = {"video_embedding": video_embedding, "train_videos": len(train), "test_videos": len(test),
                   "skipped_videos": skipped, "label_columns": cols, "index_format": index.format,
                   "split_note": index.split_note, "num_clips": num_clips, "whole_frames": whole_frames,
                   "num_frames": num_frames, "stride": stride, "crop_size": crop_size}
    return out
