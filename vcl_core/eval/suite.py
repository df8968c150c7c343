"""One call that evaluates a frozen encoder on a dataset and returns the results schema.

:func:`evaluate_encoder` runs the blocks of :data:`~vcl_core.eval.schema.BLOCKS` that it is
asked for (default: every block the dataset's labels allow) and writes the dict documented in
:mod:`vcl_core.eval.schema`. Each block's protocol is documented in its module:

==============  ======================================  ===========================================
block           module                                  needs
==============  ======================================  ===========================================
probes          :mod:`vcl_core.eval.probes`             a label column
finetune        :mod:`vcl_core.eval.finetune`           a label column
temporal        :mod:`vcl_core.eval.sensitivity`           clips of >= 3 frames
robustness      :mod:`vcl_core.eval.robustness`         a label column
generalisation  :mod:`vcl_core.eval.generalisation`     a label column and ``meta_combo_seen`` 0/1
diagnostics     :mod:`vcl_core.eval.diagnostics`        nothing
captioning      :mod:`vcl_core.eval.captions`           the ``shape``, ``motion``, ``order`` columns
==============  ======================================  ===========================================

Videos are encoded once per view and condition (:class:`~vcl_core.eval.feature_bank.FeatureBank`), so
asking for several blocks costs little more than the most expensive one.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..data import FrameSource, VideoIndex
from .feature_bank import FeatureBank, LabelledSplits
from .captions import CAPTION_COLUMNS, CaptionConfig, captioning_block
from .diagnostics import alignment, representation_report
from .features import PROTOCOLS, VIEWS
from .finetune import FinetuneConfig, finetune_block
from .generalisation import META_COLUMN, generalisation_block, seen_flags
from .probes import LinearProbe, chance_level, encode_labels, fit_linear_probe, knn_top1, retrieval_recall
from .robustness import RobustnessConfig, robustness_block
from .schema import BLOCKS, PROTOCOL_DOCS, SCHEMA, records
from .sensitivity import TemporalConfig, temporal_block

LABEL_BLOCKS = ("probes", "finetune", "robustness", "generalisation", "captioning")


def probe_metrics(d: LabelledSplits, probe: LinearProbe, knn_k: int = 10, knn_t: float = 0.07,
                  seen: np.ndarray | None = None) -> dict:
    """Linear, kNN and retrieval metrics plus the majority-class chance of one view and label.

    With ``seen`` (bool per test video, True where its factor combination occurs in train; see
    :mod:`vcl_core.eval.generalisation`) the linear probe is also scored on the seen and the
    unseen test videos apart (``linear_top1_seen``, ``linear_top1_unseen``).
    """
    rec = retrieval_recall(d.train_x, d.train_y, d.test_x, d.test_y, ks=(1, 5, 10))
    out = {"linear_top1": probe.score(d.test_x, d.test_y),
           "knn_top1": knn_top1(d.train_x, d.train_y, d.test_x, d.test_y, knn_k, knn_t),
           "retrieval_r1": rec[1], "retrieval_r5": rec[5], "retrieval_r10": rec[10],
           "chance": chance_level(d.train_y, d.test_y)}
    if seen is not None:
        mask = seen[d.test_video]
        out["linear_top1_seen"] = probe.score(d.test_x[mask], d.test_y[mask])
        out["linear_top1_unseen"] = probe.score(d.test_x[~mask], d.test_y[~mask])
    return out


def probe_all(train_x: np.ndarray, train_labels: Sequence[str], test_x: np.ndarray, test_labels: Sequence[str],
              knn_k: int = 10, knn_t: float = 0.07, probe_wd: float = 1e-3, probe_iter: int = 100) -> dict:
    """Every frozen-feature protocol for one label column of ``(N, D)`` train and test features.

    Labels are strings (empty = unlabelled, skipped); test classes absent from train are misses.

    Returns:
        ``{"linear_top1", "knn_top1", "retrieval_r1", "retrieval_r5", "retrieval_r10", "chance"}``.
    """
    tr = np.array([lbl != "" for lbl in train_labels])
    te = np.array([lbl != "" for lbl in test_labels])
    ytr, yte, classes = encode_labels([y for y, k in zip(train_labels, tr) if k],
                                      [y for y, k in zip(test_labels, te) if k])
    d = LabelledSplits(train_x[tr], ytr, test_x[te], yte, np.flatnonzero(te), classes)
    return probe_metrics(d, fit_linear_probe(d.train_x, ytr, len(classes), probe_wd, probe_iter), knn_k, knn_t)


def _labelled_columns(index: VideoIndex, cols: list[str]) -> list[str]:
    def has(split, c):
        return any(r.labels.get(c, "") for r in index.split(split))
    return [c for c in cols if has("train", c) and has("test", c)]


def allowed_blocks(index: VideoIndex, label_columns: list[str], num_frames: int) -> dict[str, str]:
    """Block -> ``""`` when the dataset allows it, else the reason it does not."""
    cols = _labelled_columns(index, label_columns)
    test = index.split("test")
    flags = {str(r.meta.get(META_COLUMN, "")) for r in test}
    reasons = {b: "" for b in BLOCKS}
    for b in LABEL_BLOCKS:
        if not cols:
            reasons[b] = "no label column has labelled train and test videos"
    if not reasons["generalisation"] and flags != {"0", "1"}:
        reasons["generalisation"] = f"the test split needs {META_COLUMN} flags, with both 0 and 1"
    if not reasons["captioning"] and not set(CAPTION_COLUMNS) <= set(cols):
        reasons["captioning"] = f"captions need the label columns {CAPTION_COLUMNS}"
    if num_frames < 3:
        reasons["temporal"] = f"the frame-order probe needs clips of >= 3 frames (num_frames={num_frames})"
    return reasons


def diagnostics_block(bank: FeatureBank, views: tuple[str, ...], max_samples: int = 2048) -> dict:
    """The ``diagnostics`` block: representation diagnostics of both splits' clean features.

    ``clip`` holds per-clip embeddings with adjacent clips of one video as positive pairs
    (alignment needs ``K >= 2`` clips); it is reported whenever ``clip`` or ``clips`` is among
    the views (they share their forward passes). Every video-level view holds one embedding per
    video.
    At most ``max_samples`` embeddings (a seeded random subset) enter uniformity, rank and std.
    """
    rng = np.random.default_rng(bank.seed)

    def subset(z: np.ndarray) -> torch.Tensor:
        idx = np.sort(rng.choice(len(z), max_samples, replace=False)) if len(z) > max_samples else slice(None)
        return torch.as_tensor(z[idx])

    out = {}
    if "clips" in views and "clip" not in views:
        views = ("clip",) + tuple(views)
    for view in views:
        if view == "clip":
            z = np.concatenate([x[ok] for x, ok in (bank.features("clip", s) for s in ("train", "test"))])
            rep = representation_report(subset(z.reshape(-1, z.shape[-1])))
            if z.shape[1] >= 2:
                a, b = z[:, :-1].reshape(-1, z.shape[-1]), z[:, 1:].reshape(-1, z.shape[-1])
                rep["alignment"] = float(alignment(torch.as_tensor(a), torch.as_tensor(b)))
                rep["pairs"] = int(len(a))
        else:
            z = np.concatenate([bank.samples(view, s)[0] for s in ("train", "test")])
            rep = representation_report(subset(z))
        out[view] = rep
    return {"views": out, "settings": {"alpha": 2, "t": 2, "max_samples": max_samples,
                                       "positives": "adjacent evaluation clips of one video (clip view)",
                                       "splits": "train and test"}}


def evaluate_encoder(encoder: torch.nn.Module, index: VideoIndex, source: FrameSource, *,
                     num_frames: int, stride: int, crop_size: int, num_clips: int = 4,
                     whole_frames: int = 48, knn_k: int = 10, knn_t: float = 0.07, probe_wd: float = 1e-3,
                     probe_iter: int = 100, batch_size: int = 32, device: str = "cpu", workers: int = 0,
                     protocols: tuple[str, ...] = PROTOCOLS, label_columns: list[str] | None = None,
                     video_embedding: str = "whole", blocks: Sequence[str] | None = None,
                     video_encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
                     finetune: FinetuneConfig = FinetuneConfig(), temporal: TemporalConfig = TemporalConfig(),
                     robustness: RobustnessConfig = RobustnessConfig(),
                     captioning: CaptionConfig = CaptionConfig(), seed: int = 0, precise_bn: bool = True) -> dict:
    """Evaluate a frozen encoder: every requested block of the results schema.

    Args:
        encoder: ``(B, 3, T, H, W) -> (B, D)``; evaluated in eval mode, never modified
            (fine-tuning works on a copy).
        index, source: the dataset and where frames come from.
        num_frames, stride: the clip view (as in training).
        crop_size: centre-crop size (as in training).
        num_clips: clips per video (``K``) for the ``clip``, ``clips`` and ``video_model`` views.
        whole_frames: frames of the whole-video view.
        knn_k, knn_t, probe_wd, probe_iter: kNN and linear-probe settings.
        batch_size, device, workers: feature extraction.
        protocols: the views to report, from ``clip``, ``clips``, ``whole``, ``video_model``.
        label_columns: defaults to all of the index's label columns.
        video_embedding: the view reported under ``tasks``.
        blocks: blocks to run (see :data:`~vcl_core.eval.schema.BLOCKS`); ``None`` runs every
            block the labels allow and lists the others under ``meta.blocks_skipped``.
        video_encoder: a video-level module ``(B, K, 3, T, H, W) -> (B, D)`` (e.g. a memory
            component); adds the ``video_model`` view.
        finetune, temporal, robustness, captioning: each block's settings.
        seed: seeds perturbed test sets, fine-tuning, the caption decoder and subsampling.
        precise_bn: embed every view with BatchNorm statistics recomputed on that view of the
            train split (see :class:`~vcl_core.eval.feature_bank.FeatureBank`).

    Returns:
        The results dict (see :mod:`vcl_core.eval.schema`).

    Raises:
        ValueError: no train or no test videos; an unknown view or block; a requested block
            the dataset does not allow (the message says why); ``video_model`` without a
            ``video_encoder``; ``video_embedding`` not among the views.
    """
    train, test = index.split("train"), index.split("test")
    if not train or not test:
        raise ValueError(f"evaluation needs train and test videos; found {len(train)} train, {len(test)} test")
    views = tuple(protocols)
    if video_encoder is not None and "video_model" not in views:
        views += ("video_model",)
    bad = [v for v in views if v not in VIEWS]
    if bad:
        raise ValueError(f"unknown views {bad}; choose from {VIEWS}")
    if "video_model" in views and video_encoder is None:
        raise ValueError("the video_model view needs a video_encoder")
    if video_embedding not in views:
        raise ValueError(f"video_embedding={video_embedding!r} must be one of the protocols run {views}")
    cols = list(label_columns or index.label_columns)
    missing = [c for c in cols if c not in index.label_columns]
    if missing:
        raise ValueError(f"unknown label columns {missing}; the dataset has {index.label_columns}")
    reasons = allowed_blocks(index, cols, num_frames)
    if blocks is None:
        run = [b for b in BLOCKS if not reasons[b]]
    else:
        unknown = [b for b in blocks if b not in BLOCKS]
        if unknown:
            raise ValueError(f"unknown blocks {unknown}; choose from {BLOCKS}")
        refused = {b: reasons[b] for b in blocks if reasons[b]}
        if refused:
            raise ValueError("cannot run " + "; ".join(f"{b}: {why}" for b, why in refused.items()))
        run = [b for b in BLOCKS if b in blocks]
    cols = _labelled_columns(index, cols)
    bank = FeatureBank(encoder, train, test, source, num_frames=num_frames, stride=stride, crop_size=crop_size,
                       num_clips=num_clips, whole_frames=whole_frames, video_encoder=video_encoder,
                       batch_size=batch_size, device=device, workers=workers, probe_wd=probe_wd,
                       probe_iter=probe_iter, seed=seed, precise_bn=precise_bn)
    out: dict = {"schema": SCHEMA, "tasks": {}, "protocols": {}, "chance": {}}
    seconds: dict[str, float] = {}
    for block in run:
        t0, enc0 = time.perf_counter(), bank.seconds
        if block == "probes":
            flags = seen_flags(bank)
            for view in views:
                res = {}
                for col in cols:
                    d = bank.labelled(view, col)
                    if d is None:
                        continue
                    m = probe_metrics(d, bank.linear(view, col), knn_k, knn_t, flags)
                    chance = m.pop("chance")
                    if view != "clip":
                        out["chance"][col] = chance
                    res[col] = m
                out["protocols"][view] = res
            out["tasks"] = {c: {k: v for k, v in m.items()
                                if k in ("linear_top1", "linear_top1_seen", "linear_top1_unseen", "knn_top1",
                                         "retrieval_r1", "retrieval_r5")}
                            for c, m in out["protocols"][video_embedding].items()}
        elif block == "finetune":
            out["finetune"] = finetune_block(bank, finetune, views, cols)
        elif block == "temporal":
            out["temporal"] = temporal_block(bank, temporal, views, knn_k, knn_t)
        elif block == "robustness":
            out["robustness"] = robustness_block(bank, robustness, views, cols, knn_k, knn_t)
        elif block == "generalisation":
            out["generalisation"] = generalisation_block(bank, views, cols, knn_k, knn_t)
        elif block == "diagnostics":
            out["diagnostics"] = diagnostics_block(bank, views)
        elif block == "captioning":
            out["captioning"] = captioning_block(bank, captioning, views)
        # encoding time is charged to the block that first needed the features
        seconds[block] = round(time.perf_counter() - t0, 3)
        seconds[f"{block}_encoding"] = round(bank.seconds - enc0, 3)
    out["records"] = records(out)
    out["meta"] = {"schema": SCHEMA, "video_embedding": video_embedding, "views": list(views),
                   "train_videos": len(train), "test_videos": len(test), "skipped_videos": bank.skipped,
                   "label_columns": cols, "index_format": index.format, "split_note": index.split_note,
                   "num_clips": num_clips, "whole_frames": whole_frames, "num_frames": num_frames,
                   "stride": stride, "crop_size": crop_size, "seed": seed, "blocks": run,
                   "blocks_skipped": {b: reasons[b] for b in BLOCKS if b not in run and reasons[b]},
                   "blocks_not_requested": [b for b in BLOCKS if b not in run and not reasons[b]],
                   "seconds": seconds, "protocol_docs": PROTOCOL_DOCS}
    return out
