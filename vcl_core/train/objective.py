"""Recipes: the self-supervised objectives, composed from encoder, heads and losses.

This is the one place where models and losses meet. An objective maps a batch of views to a
scalar loss and a dict of numbers worth logging; :func:`build_objective` picks the recipe
named by ``method.name``.

``simclr``
    Views of one video through one encoder and projection head, InfoNCE over the batch
    within each temporal scale (Chen et al., ICML 2020; for video: Qian et al., CVRL, CVPR
    2021 when the clip views are sampled with the ``cvrl`` gap policy).
``supervised``
    Not self-supervised: a linear classifier per label column on the same encoder, trained
    with cross-entropy. It gives the *ceiling* the notebooks compare recipes with.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..losses import info_nce
from ..models import FastSlowEncoder, ProjectionHead
from .config import Config


def temporal_negatives(x: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Clips with the appearance of ``x (B, C, T, H, W)`` but another temporal structure:
    ``reverse`` plays them backwards, ``shuffle`` permutes their frames (``both`` = both)."""
    out = []
    if kind in ("reverse", "both"):
        out.append(x.flip(2))
    if kind in ("shuffle", "both"):
        t = x.shape[2]
        perm = torch.randperm(t, generator=generator)
        if t > 1 and torch.equal(perm, torch.arange(t)):
            perm = perm.roll(1)
        out.append(x[:, :, perm.to(x.device)])
    return out


class ContrastiveObjective(nn.Module):
    """InfoNCE within each temporal scale, with optional temporal hard negatives.

    Views come in two scales (see ``data.long_views`` and ``data.num_views``): long views that
    span the whole video and short clip views. Within a scale, every pair of views of one
    video is a positive pair and the other videos of the batch are negatives; with
    ``method.temporal_negatives`` the anchor played backwards or shuffled joins the negatives,
    so appearance alone cannot separate a clip from them (the benchmark's motion and order
    factors are exactly what reversal changes).
    """

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.encoder = FastSlowEncoder(cfg.model)
        m = cfg.method
        self.projector = ProjectionHead(self.encoder.embed_dim, m.proj_hidden, m.proj_dim, m.proj_layers)
        d = cfg.data
        self.groups = {"long": list(range(d.long_views)),
                       "short": list(range(d.long_views, d.long_views + d.num_views))}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(x))

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        views = batch["views"]
        m = self.cfg.method
        total, logs, terms = 0.0, {}, 0
        for name, ids in self.groups.items():
            if len(ids) < 2:
                continue
            z = [self.embed(views[i]) for i in ids]
            negs = None
            if m.temporal_negatives != "none":
                with torch.set_grad_enabled(m.negative_grad):
                    negs = torch.cat([self.embed(n) for n in temporal_negatives(views[ids[0]], m.temporal_negatives)])
            pairs = [(a, b) for a in range(len(z)) for b in range(len(z)) if a != b]
            loss = sum(info_nce(z[a], z[b], m.temperature, extra_negatives=negs if a == 0 else None)
                       for a, b in pairs) / len(pairs)
            logs[f"loss_{name}"] = float(loss.detach())
            total, terms = total + loss, terms + 1
        total = total / max(terms, 1)
        logs["loss"] = float(total.detach())
        return total, logs


class SupervisedObjective(nn.Module):
    """Cross-entropy of one linear head per label column on every view (the ceiling)."""

    needs_labels = True

    def __init__(self, cfg: Config, num_classes: dict[str, int]):
        super().__init__()
        if not num_classes:
            raise ValueError("method.name=supervised needs labelled data (a label column with classes)")
        self.cfg = cfg
        self.encoder = FastSlowEncoder(cfg.model)
        self.columns = list(num_classes)
        self.heads = nn.ModuleList(nn.Linear(self.encoder.embed_dim, n) for n in num_classes.values())

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        labels = batch["labels"].to(batch["views"][0].device)
        loss, logs = 0.0, {}
        for v in batch["views"]:
            h = self.encoder(v)
            for k, (col, head) in enumerate(zip(self.columns, self.heads)):
                term = F.cross_entropy(head(h), labels[:, k], ignore_index=-1)
                loss = loss + term / len(batch["views"])
                logs[f"ce_{col}"] = logs.get(f"ce_{col}", 0.0) + float(term.detach()) / len(batch["views"])
        logs["loss"] = float(loss.detach())
        return loss, logs


RECIPES = {"simclr": ContrastiveObjective, "supervised": SupervisedObjective}


def build_objective(cfg: Config, num_classes: dict[str, int] | None = None) -> nn.Module:
    """The objective module named by ``cfg.method.name``.

    Args:
        cfg: the run config.
        num_classes: label column -> number of classes (only the supervised recipe uses it).
    """
    if cfg.method.name not in RECIPES:
        raise ValueError(f"unknown method.name {cfg.method.name!r}; choose one of {sorted(RECIPES)}")
    cls = RECIPES[cfg.method.name]
    if getattr(cls, "needs_labels", False):
        return cls(cfg, num_classes or {})
    return cls(cfg)
