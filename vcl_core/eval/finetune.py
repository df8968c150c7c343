"""Fine-tuning protocol: the encoder is updated end to end with a linear head.

This is *not* the linear probe (:mod:`vcl_core.eval.probes`), where the encoder stays frozen;
the two are reported under different names (``finetune_top1`` vs ``linear_top1``) and must not
be compared as one number (the confusion behind leftthomas/SimCLR#21).

Protocol, per label column, starting each time from a copy of the pretrained encoder (the
caller's encoder is never modified):

* a new linear head on the encoder's ``D``-dimensional output;
* AdamW on encoder and head together (``lr``, ``weight_decay``), cross-entropy, ``epochs``
  passes over the labelled train videos in a shuffled order (seeded), batch norm in train mode;
* inputs are the evaluation clips (centre crop, no augmentation), so the number measures how
  quickly the representation adapts, not a tuned recipe;
* scored on the test split with the encoder in eval mode; test classes absent from train count
  as misses.

Views (see :mod:`vcl_core.eval.features`):

``clip`` / ``clips``  one run trains on single clips: every epoch each train video contributes
                      one of its ``K`` evaluation clips, drawn at random. ``clip`` scores every
                      test clip on its own; ``clips`` averages the ``K`` clips' logits per video.
``whole``             a run trains and scores on the one whole-video view.
``video_model``       a run fine-tunes the video-level module (an ``nn.Module`` mapping
                      ``(B, K, 3, T, H, W)`` to ``(B, D)``, together with any encoder inside it)
                      on all ``K`` clips of each video.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .feature_bank import FeatureBank
from .features import ClipWindowsDataset
from .probes import encode_labels


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of the fine-tuning protocol (see the module docstring).

    Args:
        epochs: passes over the train videos.
        lr: AdamW learning rate of encoder and head.
        weight_decay: AdamW weight decay.
        batch_size: videos per step.
    """

    epochs: int = 3
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.lr <= 0 or self.weight_decay < 0 or self.batch_size < 1:
            raise ValueError("FinetuneConfig needs epochs >= 1, lr > 0, weight_decay >= 0, batch_size >= 1; "
                             f"got {self}")


class _Classifier(nn.Module):
    """``body`` plus a linear head on its ``dim``-wide output."""

    def __init__(self, body: nn.Module, dim: int, num_classes: int):
        super().__init__()
        self.body, self.head = body, nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).float())


def finetune_classifier(body: nn.Module, train_set: ClipWindowsDataset, train_y: np.ndarray,
                        test_set: ClipWindowsDataset, test_y: np.ndarray, num_classes: int, cfg: FinetuneConfig,
                        *, level: str, device: str | torch.device = "cpu", workers: int = 0,
                        seed: int = 0) -> dict:
    """Fine-tune a copy of ``body`` with a linear head and score it (see the module docstring).

    Args:
        body: the clip encoder ``(B, 3, T, H, W) -> (B, D)`` for levels ``clip`` and ``whole``,
            or a video module ``(B, K, 3, T, H, W) -> (B, D)`` for level ``video``.
        train_set, test_set: the clips of each split (``K`` per video).
        train_y, test_y: ``(N,)`` class indices per video; ``-1`` = unlabelled (train, skipped)
            or a class absent from train (test, a miss).
        level: ``clip`` (train on one random clip per video, score clips and clip averages),
            ``whole`` (one whole-video view) or ``video`` (all clips through ``body``).

    Returns:
        ``{"clip": acc, "clips": acc}`` for ``clip``, ``{"whole": acc}`` or ``{"video": acc}``,
        plus ``"epoch_loss"``: the mean train loss of every epoch.

    Raises:
        ValueError: unknown level, or no labelled train video.
    """
    if level not in ("clip", "whole", "video"):
        raise ValueError(f"unknown fine-tuning level {level!r}; choose clip, whole or video")
    if not (np.asarray(train_y) >= 0).any():
        raise ValueError("fine-tuning needs at least one labelled train video")
    with torch.random.fork_rng(devices=[]):  # seed the head's init without touching the caller's RNG
        torch.manual_seed(seed)
        return _finetune(copy.deepcopy(body).to(device), train_set, train_y, test_set, test_y, num_classes, cfg,
                         level, device, workers, torch.Generator().manual_seed(seed))


def _finetune(body, train_set, train_y, test_set, test_y, num_classes, cfg, level, device, workers, gen) -> dict:
    train_y, test_y = torch.as_tensor(train_y), torch.as_tensor(test_y)

    def inputs(clips: torch.Tensor, training: bool) -> torch.Tensor:
        if level == "video":
            return clips
        if level == "whole":
            return clips[:, 0]
        if training:  # one random evaluation clip per video
            return clips[torch.arange(len(clips)), torch.randint(clips.shape[1], (len(clips),), generator=gen)]
        return clips.flatten(0, 1)

    loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, generator=gen,
                                         num_workers=workers)
    model = None
    losses = []
    for _ in range(cfg.epochs):
        total, count = 0.0, 0
        for batch in loader:
            y = train_y[batch["index"]]
            keep = batch["ok"] & (y >= 0)
            if not keep.any():
                continue
            x = inputs(batch["clips"][keep], True).to(device)
            if model is None:  # the head's width is the body's output width
                body.eval()
                with torch.no_grad():
                    dim = body(x[:1]).shape[-1]
                model = _Classifier(body, dim, num_classes).to(device)
                opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                        weight_decay=cfg.weight_decay)
            model.train()
            loss = F.cross_entropy(model(x), y[keep].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + loss.item() * int(keep.sum()), count + int(keep.sum())
        losses.append(total / max(count, 1))
    if model is None:
        raise ValueError("fine-tuning found no readable labelled train video")
    model.eval()
    hits = {"clip": [], "clips": [], "whole": [], "video": []}
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(test_set, batch_size=cfg.batch_size, num_workers=workers):
            ok = batch["ok"]
            if not ok.any():
                continue
            clips, y = batch["clips"][ok], test_y[batch["index"][ok]]
            logits = model(inputs(clips, False).to(device)).cpu()
            if level == "clip":
                logits = logits.reshape(len(clips), clips.shape[1], -1)
                hits["clip"].append((logits.argmax(-1) == y[:, None]).flatten())
                hits["clips"].append(logits.mean(1).argmax(-1) == y)
            else:
                hits[level].append(logits.argmax(-1) == y)
    out = {k: float(torch.cat(v).float().mean()) for k, v in hits.items() if v}
    out["epoch_loss"] = losses
    return out


def finetune_block(bank: FeatureBank, cfg: FinetuneConfig, views: tuple[str, ...], columns: list[str]) -> dict:
    """The ``finetune`` block of the results schema: every requested view and label column.

    Returns:
        ``{"views": {view: {col: {"finetune_top1"}}}, "epoch_loss": {run: {col: [...]}},
        "settings": {...}}`` where ``run`` is ``clip`` (serving ``clip`` and ``clips``),
        ``whole`` or ``video_model``.
    """
    runs = []
    if "clip" in views or "clips" in views:
        runs.append(("clip", "clips", bank.view_encoder("clips")))
    if "whole" in views:
        runs.append(("whole", "whole", bank.view_encoder("whole")))
    notes = {}
    if "video_model" in views:
        if isinstance(bank.video_encoder, nn.Module):
            runs.append(("video", "video_model", bank.view_encoder("video_model")))
        else:
            notes["video_model"] = "not fine-tuned: the video_encoder is not an nn.Module"
    out: dict = {"views": {}, "epoch_loss": {}}
    for level, view, body in runs:
        train_set, test_set = bank.dataset(view, "train"), bank.dataset(view, "test")
        for col in columns:
            ltr, lte = bank.labels("train", col), bank.labels("test", col)
            if not any(ltr) or not any(lte):
                continue
            labelled = [lbl for lbl in ltr if lbl]
            _, _, classes = encode_labels(labelled, [])
            pos = {c: i for i, c in enumerate(classes)}
            ytr = np.array([pos[lbl] if lbl else -1 for lbl in ltr])
            yte = np.array([pos.get(lbl, -1) for lbl in lte])
            test_keep = np.array([bool(lbl) for lbl in lte])
            col_test = test_set
            if not test_keep.all():  # unlabelled test videos are left out, not counted as misses
                col_test = bank.dataset(view, "test")
                col_test.records = [r for r, k in zip(col_test.records, test_keep) if k]
                yte = yte[test_keep]
            res = finetune_classifier(body, train_set, ytr, col_test, yte, len(classes), cfg, level=level,
                                      device=bank.device, workers=bank.workers, seed=bank.seed)
            out["epoch_loss"].setdefault("video_model" if level == "video" else level, {})[col] = res.pop("epoch_loss")
            for v, acc in res.items():
                v = "video_model" if v == "video" else v
                if v in views:
                    out["views"].setdefault(v, {})[col] = {"finetune_top1": acc}
    out["settings"] = {"epochs": cfg.epochs, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
                       "batch_size": cfg.batch_size, "optimizer": "AdamW", "augmentation": "none (centre crop)",
                       **({"notes": notes} if notes else {})}
    return out
