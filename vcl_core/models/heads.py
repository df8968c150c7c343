"""Light heads on top of the encoder embedding.

:class:`ProjectionHead` maps embeddings to the space where the contrastive loss is computed
(SimCLR, Chen et al. 2020: the loss is applied after a small MLP, the representation is
taken before it). :class:`PredictorHead` is the extra MLP of negative-free methods (BYOL,
Grill et al. 2020; SimSiam, Chen & He 2021) that maps online projections to target ones.
"""
from __future__ import annotations

import torch
import torch.nn as nn


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 2, batch_norm: bool = True) -> nn.Sequential:
    """``layers`` linear layers with BN + ReLU between them (none after the last).

    Shapes: ``(B, in_dim) -> (B, out_dim)``.

    Raises:
        ValueError: ``layers < 1``.
    """
    if layers < 1:
        raise ValueError(f"an MLP needs at least one layer, got {layers}")
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden, bias=not batch_norm)]
        if batch_norm:
            mods.append(nn.BatchNorm1d(hidden))
        mods.append(nn.ReLU(inplace=True))
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


class ProjectionHead(nn.Module):
    """``(B, in_dim) -> (B, out_dim)`` MLP used only for the loss.

    Args:
        in_dim: encoder embedding size.
        hidden: hidden width.
        out_dim: projection size.
        layers: number of linear layers (1 = linear projection).
    """

    def __init__(self, in_dim: int, hidden: int = 256, out_dim: int = 128, layers: int = 2):
        super().__init__()
        self.net = mlp(in_dim, hidden, out_dim, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project embeddings: ``(B, in_dim) -> (B, out_dim)``."""
        return self.net(x)


class PredictorHead(ProjectionHead):
    """The BYOL/SimSiam predictor: ``(B, dim) -> (B, dim)`` through a bottleneck MLP."""

    def __init__(self, dim: int = 128, hidden: int = 256):
        super().__init__(dim, hidden, dim, layers=2)
