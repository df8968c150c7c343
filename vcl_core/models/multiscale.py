"""One encoder for several temporal scales, with shared or separate backbones.

Views of one video at different temporal scales (a short clip for sub-second motion, a long
sparse view for progression) are usually embedded by *one* backbone: a fully convolutional
fast/slow network accepts any clip length, so sharing parameters across scales needs no code.
:class:`MultiScaleEncoder` makes that a switch: ``shared=True`` holds one
:class:`~vcl_core.models.fastslow.FastSlowEncoder` used for every scale, ``shared=False`` holds
an identical but independently initialised backbone per scale (as many parameters again per
extra scale, same compute per clip).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .fastslow import FastSlowConfig, FastSlowEncoder


class MultiScaleEncoder(nn.Module):
    """Embed clips of named temporal scales: ``forward(x (B, 3, T, H, W), scale) -> (B, embed_dim)``.

    Args:
        cfg: architecture of every backbone.
        scales: names of the scales (e.g. ``("short", "long")``).
        shared: one backbone for all scales (default) or one per scale.

    Examples:
        >>> enc = MultiScaleEncoder(FastSlowConfig(widths=(8, 16, 32)), shared=False)
        >>> enc(torch.randn(2, 3, 8, 32, 32), "short").shape
        torch.Size([2, 40])

    Raises:
        ValueError: no scales or repeated names.
    """

    def __init__(self, cfg: FastSlowConfig = FastSlowConfig(), *, scales: tuple[str, ...] = ("short", "long"),
                 shared: bool = True):
        super().__init__()
        scales = tuple(scales)
        if not scales or len(set(scales)) != len(scales):
            raise ValueError(f"scales must be one or more distinct names, got {scales}")
        self.cfg, self.scales, self.shared = cfg, scales, shared
        if shared:
            self.backbone = FastSlowEncoder(cfg)
        else:
            self.backbones = nn.ModuleDict({s: FastSlowEncoder(cfg) for s in scales})
        self.embed_dim = cfg.embed_dim

    def encoder(self, scale: str) -> FastSlowEncoder:
        """The backbone used for ``scale``.

        Raises:
            KeyError: an unknown scale name.
        """
        if scale not in self.scales:
            raise KeyError(f"unknown scale {scale!r}; this encoder has scales {self.scales}")
        return self.backbone if self.shared else self.backbones[scale]

    def map_backbones(self, fn) -> None:
        """Replace every backbone by ``fn(backbone)`` (e.g. a compiled one)."""
        if self.shared:
            self.backbone = fn(self.backbone)
        else:
            for s in self.scales:
                self.backbones[s] = fn(self.backbones[s])

    def tokens(self, x: torch.Tensor, scale: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Time tokens ``fast (B, T, Cf)``, ``slow (B, ceil(T/alpha), Cs)`` of ``scale``'s backbone."""
        return self.encoder(scale).tokens(x)

    def forward_with_attention(self, x: torch.Tensor, scale: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Embedding ``(B, embed_dim)`` and temporal pooling weights from ``scale``'s backbone."""
        return self.encoder(scale).forward_with_attention(x)

    def forward(self, x: torch.Tensor, scale: str) -> torch.Tensor:
        """Embed clips of ``scale``: ``(B, 3, T, H, W) -> (B, embed_dim)``."""
        return self.encoder(scale)(x)
