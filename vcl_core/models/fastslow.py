"""The fast/slow video encoder.

Two 3D CNN pathways read the same clip at two frame rates (Feichtenhofer et al., SlowFast,
ICCV 2019): the *fast* pathway sees every frame with few channels (sub-second motion), the
*slow* pathway sees every ``alpha``-th frame with more channels (appearance and progression).
After every stage but the last, a time-strided convolution carries fast features into the
slow pathway (lateral connection). At the top the streams' time tokens are fused by
concatenation, gating or cross-attention (:mod:`vcl_core.models.fusion`) into one embedding.

Input ``(B, 3, T, H, W)``; output ``(B, D)`` with ``D = fast_width + slow_width`` (or one of
them for single-pathway variants). ``T`` need not be divisible by ``alpha``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from .blocks import BLOCKS, NORMS, make_stage, make_stem
from .fusion import FUSIONS, POOLS, Fusion

PATHWAYS = ("both", "slow", "fast")


@dataclass(frozen=True)
class FastSlowConfig:
    """Architecture of :class:`FastSlowEncoder`.

    Args:
        pathways: ``both``, ``slow`` (slow-only) or ``fast`` (fast-only).
        alpha: frame-rate ratio; the slow pathway sees frames ``0, alpha, 2 alpha, ...``.
        beta: channel ratio; fast widths are ``beta`` times the slow widths.
        widths: slow-pathway channels per stage (the stem uses the first).
        depths: residual blocks per stage.
        block: ``3d`` (full ``kt x 3 x 3`` kernels) or ``2plus1d`` (factorised).
        norm: ``batch``, ``frame``, ``group`` or ``layer`` (see :mod:`vcl_core.models.blocks`).
        fast_kt: temporal kernel of the fast pathway's stages (its stem uses ``fast_kt + 2``).
        slow_kt: temporal kernel of each slow stage (SlowFast uses 1 early, 3 late).
        lateral: fast -> slow lateral connections after each stage but the last.
        fusion: top fusion, ``concat``, ``gate`` or ``xattn``.
        xattn_bidirectional: with ``xattn``, let fast tokens attend to slow ones as well.
        pool: temporal pooling, ``mean`` or ``attention``.
        drop_path: stochastic depth rate in every residual block.
        checkpoint: recompute each stage's activations in backward (saves memory, costs time).
    """

    pathways: str = "both"
    alpha: int = 4
    beta: float = 0.25
    widths: tuple[int, ...] = (32, 64, 128)
    depths: tuple[int, ...] = (1, 1, 1)
    block: str = "3d"
    norm: str = "batch"
    fast_kt: int = 3
    slow_kt: tuple[int, ...] = (1, 1, 3)
    lateral: bool = True
    fusion: str = "concat"
    xattn_bidirectional: bool = False
    pool: str = "mean"
    drop_path: float = 0.0
    checkpoint: bool = False

    def __post_init__(self) -> None:
        checks = [(self.pathways in PATHWAYS, f"pathways must be one of {PATHWAYS}"),
                  (self.block in BLOCKS, f"block must be one of {BLOCKS}"),
                  (self.norm in NORMS, f"norm must be one of {NORMS}"),
                  (self.fusion in FUSIONS, f"fusion must be one of {FUSIONS}"),
                  (self.pool in POOLS, f"pool must be one of {POOLS}"),
                  (self.alpha >= 1, "alpha must be >= 1"),
                  (0 < self.beta <= 1, "beta must be in (0, 1]"),
                  (len(self.widths) == len(self.depths) == len(self.slow_kt),
                   "widths, depths and slow_kt need one entry per stage"),
                  (0 <= self.drop_path < 1, "drop_path must be in [0, 1)")]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"FastSlowConfig: {msg} (got {self})")

    @property
    def fast_widths(self) -> tuple[int, ...]:
        return tuple(max(4, int(round(w * self.beta))) for w in self.widths)

    @property
    def embed_dim(self) -> int:
        d = 0
        if self.pathways in ("both", "fast"):
            d += self.fast_widths[-1]
        if self.pathways in ("both", "slow"):
            d += self.widths[-1]
        return d


class Pathway(nn.Module):
    """Stem plus stages of one stream. ``extra_in[i]`` adds lateral channels to stage ``i``."""

    def __init__(self, widths, depths, kts, stem_kt, block, norm, drop_path, extra_in=None):
        super().__init__()
        extra_in = extra_in or [0] * len(widths)
        self.stem = make_stem(3, widths[0], stem_kt, norm)
        cins = [widths[0]] + list(widths[:-1])
        strides = [1] + [2] * (len(widths) - 1)
        self.stages = nn.ModuleList(
            make_stage(cin + extra, cout, d, kt, s, block, norm, drop_path)
            for cin, extra, cout, d, kt, s in zip(cins, extra_in, widths, depths, kts, strides))


class FastSlowEncoder(nn.Module):
    """Two-rate video encoder; see the module docstring and :class:`FastSlowConfig`."""

    def __init__(self, cfg: FastSlowConfig = FastSlowConfig()):
        super().__init__()
        self.cfg = cfg
        use_fast = cfg.pathways in ("both", "fast")
        use_slow = cfg.pathways in ("both", "slow")
        lateral = cfg.lateral and cfg.pathways == "both"
        fw, n = cfg.fast_widths, len(cfg.widths)
        self.fast = Pathway(fw, cfg.depths, [cfg.fast_kt] * n, cfg.fast_kt + 2, cfg.block, cfg.norm,
                            cfg.drop_path) if use_fast else None
        # slow stage i+1 receives 2*fw[i] lateral channels from fast stage i (SlowFast's fusion width)
        extra = [0] + [2 * w for w in fw[:-1]] if lateral else None
        self.slow = Pathway(cfg.widths, cfg.depths, list(cfg.slow_kt), 1, cfg.block, cfg.norm,
                            cfg.drop_path, extra) if use_slow else None
        self.laterals = nn.ModuleList(
            nn.Conv3d(w, 2 * w, (5, 1, 1), (cfg.alpha, 1, 1), (2, 0, 0), bias=False) for w in fw[:-1]
        ) if lateral else None
        self.fusion = Fusion(cfg.fusion, fw[-1] if use_fast else 0, cfg.widths[-1] if use_slow else 0,
                             cfg.pool, cfg.xattn_bidirectional)
        self.embed_dim = cfg.embed_dim

    def _run(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.checkpoint and self.training and x.requires_grad:
            return checkpoint(module, x, use_reentrant=False)
        return module(x)

    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Time tokens of both streams: ``fast (B, T, Cf)`` and ``slow (B, ceil(T/alpha), Cs)``."""
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"expected a clip batch (B, 3, T, H, W), got shape {tuple(x.shape)}")
        f = s = None
        if self.fast is not None:
            f = self._run(self.fast.stem, x)
        if self.slow is not None:
            s = self._run(self.slow.stem, x[:, :, :: self.cfg.alpha])
        n = len(self.cfg.widths)
        for i in range(n):
            if f is not None:
                f = self._run(self.fast.stages[i], f)
            if s is not None:
                s = self._run(self.slow.stages[i], s)
            if self.laterals is not None and i < n - 1:
                s = torch.cat([s, self.laterals[i](f)], dim=1)
        to_tokens = lambda z: None if z is None else z.mean(dim=(3, 4)).transpose(1, 2)  # noqa: E731
        return to_tokens(f), to_tokens(s)

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Embedding ``(B, D)`` and the temporal pooling weights of each stream."""
        return self.fusion(*self.tokens(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_attention(x)[0]


def create_fast_slow(*, pathways: str = "both", alpha: int = 4, beta: float = 0.25,
                     widths: tuple[int, ...] = (32, 64, 128), depths: tuple[int, ...] = (1, 1, 1),
                     **kwargs) -> FastSlowEncoder:
    """Keyword-only factory for :class:`FastSlowEncoder` (remaining fields of
    :class:`FastSlowConfig` pass through ``kwargs``)."""
    return FastSlowEncoder(FastSlowConfig(pathways=pathways, alpha=alpha, beta=beta, widths=tuple(widths),
                                          depths=tuple(depths), **kwargs))
