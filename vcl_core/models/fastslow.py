"""The fast/slow video encoder.

Two 3D CNN pathways read the same clip at two frame rates (Feichtenhofer et al., SlowFast,
ICCV 2019): the *fast* pathway sees every frame with few channels (sub-second motion), the
*slow* pathway sees every ``alpha``-th frame with more channels (appearance and progression).
After every stage but the last, a time-strided convolution carries fast features into the
slow pathway (lateral connection). At the top the streams' time tokens are fused by
concatenation, gating or cross-attention (:mod:`vcl_core.models.fusion`) into one embedding.

With ``fast_input="diff"`` the fast pathway reads frame differences instead of frames (the
RGB-difference stream of TSN, Wang et al. 2016; the motion stream of two-stream networks):
what does not move is gone from its input, so it can only describe motion.

Input ``(B, 3, T, H, W)``; output ``(B, D)`` with ``D = m * (fast_width + slow_width)`` (or one
of them for single-pathway variants), ``m`` the temporal pool's width (5 for the default
``pool="time"``, see :mod:`vcl_core.models.fusion`). ``T`` need not be divisible by ``alpha`` (the slow pathway
sees ``ceil(T / alpha)`` frames), ``T = 1`` works, and ``H, W`` may be odd.

Sizes: the default config is CPU-sized; :func:`fast_slow_r3d18` builds the R3D-18-like
four-stage network (Hara et al., CVPR 2018) for GPU users.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, fields, replace

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from .blocks import BLOCKS, NORMS, make_stage, make_stem
from .fusion import FUSIONS, POOLS, Fusion, pool_width

PATHWAYS = ("both", "slow", "fast")
FAST_INPUTS = ("rgb", "diff")
INPUT_NORMS = ("none", "clip", "frame")


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
        fast_input: what the fast pathway reads: ``rgb`` (the frames) or ``diff`` (the
            difference of each frame and the one before it; the first frame gets the first
            difference), a motion-only stream. On the synthetic benchmark the supervised
            ceiling learns the sub-second motion factor in 400 steps with ``diff`` and not in
            800 with ``rgb`` (notebook 01).
        input_norm: standardise each input clip before both pathways: ``clip`` subtracts the
            clip's mean and divides by its standard deviation (over channels, frames and
            pixels), which undoes brightness and contrast changes of the whole clip, the colour
            jitter of training included; ``frame`` does the same for every frame on its own
            (also undoing lighting that changes over time); ``none`` (the default) keeps the
            input. With BatchNorm and colour jitter, the supervised slow pathway alone reads
            shape at 41-53% after 300 steps without it and 86% with ``clip``; the default
            self-supervised recipe with ``clip`` gains shape but loses motion (PAPER.md, section 5).
        slow_kt: temporal kernel of each slow stage (SlowFast uses 1 early, 3 late). All
            temporal kernels must be odd. ``widths``, ``depths`` and ``slow_kt`` need one entry
            per stage (any number of stages; 4 gives the R3D-18 layout).
        lateral: fast -> slow lateral connections after each stage but the last
            (``pathways="both"`` only).
        fusion: top fusion, ``concat``, ``gate`` or ``xattn`` (``pathways="both"`` only; a
            single-pathway network pools its one stream).
        xattn_bidirectional: with ``xattn``, let fast tokens attend to slow ones as well.
        pool: temporal pooling per stream: ``time`` (the mean plus learned temporal profiles,
            keeps order), ``segments``, ``mean`` or ``attention`` (see :mod:`vcl_core.models.fusion`).
        drop_path: stochastic depth rate in every residual block.
        checkpoint: recompute each stage's activations in backward (saves memory, costs
            about one extra forward). Gradients and BatchNorm running statistics are the same
            as without it.

    Raises:
        ValueError: on a setting that cannot work, naming the field.
    """

    pathways: str = "both"
    alpha: int = 4
    beta: float = 0.25
    widths: tuple[int, ...] = (32, 64, 128)
    depths: tuple[int, ...] = (1, 1, 1)
    block: str = "3d"
    norm: str = "batch"
    fast_kt: int = 3
    fast_input: str = "diff"
    input_norm: str = "none"
    slow_kt: tuple[int, ...] = (1, 1, 3)
    lateral: bool = True
    fusion: str = "concat"
    xattn_bidirectional: bool = False
    pool: str = "time"
    drop_path: float = 0.0
    checkpoint: bool = False

    def __post_init__(self) -> None:
        n = len(self.widths)
        checks = [(self.pathways in PATHWAYS, f"pathways must be one of {PATHWAYS}"),
                  (self.block in BLOCKS, f"block must be one of {BLOCKS}"),
                  (self.norm in NORMS, f"norm must be one of {NORMS}"),
                  (self.fusion in FUSIONS, f"fusion must be one of {FUSIONS}"),
                  (self.pool in POOLS, f"pool must be one of {POOLS}"),
                  (self.fast_input in FAST_INPUTS, f"fast_input must be one of {FAST_INPUTS}"),
                  (self.input_norm in INPUT_NORMS, f"input_norm must be one of {INPUT_NORMS}"),
                  (self.pathways != "slow" or self.fast_input == "diff",
                   "fast_input only applies to a fast pathway: leave it at its default for pathways=slow"),
                  (isinstance(self.alpha, int) and self.alpha >= 1, "alpha must be an integer >= 1"),
                  (0 < self.beta <= 1, "beta must be in (0, 1]"),
                  (n >= 1 and all(w >= 1 for w in self.widths), "widths must be one or more positive ints"),
                  (all(d >= 1 for d in self.depths), "depths must all be >= 1"),
                  (len(self.depths) == n and len(self.slow_kt) == n,
                   f"widths, depths and slow_kt need one entry per stage (got {n}, {len(self.depths)} and "
                   f"{len(self.slow_kt)}); for 4 stages set all three, e.g. depths=[2,2,2,2] slow_kt=[1,1,3,3]"),
                  (all(k >= 1 and k % 2 == 1 for k in (self.fast_kt, *self.slow_kt)),
                   "fast_kt and slow_kt must be odd (same padding keeps T)"),
                  (0 <= self.drop_path < 1, "drop_path must be in [0, 1)"),
                  (self.pathways == "both" or (self.fusion == "concat" and not self.xattn_bidirectional),
                   "fusion (gate/xattn) needs both pathways: a single-pathway network has nothing to fuse")]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"FastSlowConfig: {msg} (got {self})")

    @property
    def fast_widths(self) -> tuple[int, ...]:
        """Fast-pathway channels per stage: ``beta * widths``, at least 4."""
        return tuple(max(4, int(round(w * self.beta))) for w in self.widths)

    @property
    def top_channels(self) -> int:
        """Channels of the last feature maps of the pathways present, together."""
        return ((self.fast_widths[-1] if self.pathways in ("both", "fast") else 0)
                + (self.widths[-1] if self.pathways in ("both", "slow") else 0))

    @property
    def embed_dim(self) -> int:
        """Size ``D`` of the embedding the encoder returns."""
        return self.top_channels * pool_width(self.pool)


class Pathway(nn.Module):
    """Stem plus stages of one stream. ``extra_in[i]`` adds lateral channels to stage ``i``.

    The encoder calls ``stem`` and ``stages[i]`` itself (laterals join between stages), so
    this container has no ``forward``. Stage ``i`` maps ``(B, widths[i-1] + extra_in[i], T, H, W)``
    to ``(B, widths[i], T, H', W')``; the stem halves ``H, W`` and every stage after the first
    halves them again.
    """

    def __init__(self, widths: tuple[int, ...], depths: tuple[int, ...], kts: list[int], stem_kt: int,
                 block: str, norm: str, drop_path: float, extra_in: list[int] | None = None):
        super().__init__()
        extra_in = extra_in or [0] * len(widths)
        self.stem = make_stem(3, widths[0], stem_kt, norm)
        cins = [widths[0]] + list(widths[:-1])
        strides = [1] + [2] * (len(widths) - 1)
        self.stages = nn.ModuleList(
            make_stage(cin + extra, cout, d, kt, s, block, norm, drop_path)
            for cin, extra, cout, d, kt, s in zip(cins, extra_in, widths, depths, kts, strides))


class _KeepNormStats:
    """Context for checkpoint recomputation: undo BatchNorm running-stat updates made inside.

    Without it every checkpointed stage would update its running mean/var twice per step
    (forward and recomputation), so eval-mode features would differ from an un-checkpointed run.
    """

    def __init__(self, module: nn.Module):
        self.norms = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]

    def __enter__(self) -> _KeepNormStats:
        self.saved = [[b.clone() for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None]
                      for m in self.norms]
        return self

    def __exit__(self, *exc) -> None:
        for m, saved in zip(self.norms, self.saved):
            bufs = [b for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None]
            for b, v in zip(bufs, saved):
                b.copy_(v)


def _checkpoint_contexts(module: nn.Module) -> tuple[contextlib.AbstractContextManager, _KeepNormStats]:
    return contextlib.nullcontext(), _KeepNormStats(module)


class FastSlowEncoder(nn.Module):
    """Two-rate video encoder; see the module docstring and :class:`FastSlowConfig`.

    ``forward(x (B, 3, T, H, W)) -> (B, embed_dim)``. Feichtenhofer et al., "SlowFast Networks
    for Video Recognition", ICCV 2019, with fusion heads from :mod:`vcl_core.models.fusion`.
    """

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
        if self.cfg.checkpoint and self.training and torch.is_grad_enabled():
            return checkpoint(module, x, use_reentrant=False,
                              context_fn=functools.partial(_checkpoint_contexts, module))
        return module(x)

    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Time tokens of both streams: ``fast (B, T, Cf)`` and ``slow (B, ceil(T/alpha), Cs)``.

        The last feature map of each pathway averaged over space; ``None`` for a pathway the
        config leaves out.

        Raises:
            ValueError: ``x`` is not ``(B, 3, T, H, W)``.
        """
        f, s = self.feature_maps(x)
        return _to_tokens(f), _to_tokens(s)

    def feature_maps(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The last feature map of each pathway, before any pooling: ``fast (B, Cf, T, h, w)``
        and ``slow (B, Cs, ceil(T/alpha), h, w)`` (``h, w`` = ``H, W`` halved once per stage
        after the first and once by the stem); ``None`` for a pathway the config leaves out.

        Raises:
            ValueError: ``x`` is not ``(B, 3, T, H, W)``.
        """
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"expected a clip batch (B, 3, T, H, W), got shape {tuple(x.shape)}")
        x = standardize(x, self.cfg.input_norm)
        f = s = None
        if self.fast is not None:
            f = self._run(self.fast.stem, frame_differences(x) if self.cfg.fast_input == "diff" else x)
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
        return f, s

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Embedding ``(B, D)`` and the temporal pooling weights of each stream present:
        ``{"fast": (B, T), "slow": (B, ceil(T/alpha))}``, rows summing to one."""
        return self.fusion(*self.tokens(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed clips: ``(B, 3, T, H, W) -> (B, embed_dim)``."""
        return self.forward_with_attention(x)[0]

    def stream_slice(self, stream: str) -> slice:
        """Where one pathway's pooled features sit in the embedding (``fast`` first, then
        ``slow``), so a loss can address one stream alone.

        Raises:
            ValueError: the network has no such pathway.
        """
        m = pool_width(self.cfg.pool)
        fast = m * self.cfg.fast_widths[-1] if self.fast is not None else 0
        if stream == "fast" and self.fast is not None:
            return slice(0, fast)
        if stream == "slow" and self.slow is not None:
            return slice(fast, self.embed_dim)
        raise ValueError(f"the encoder has no {stream!r} pathway (pathways={self.cfg.pathways})")


def standardize(x: torch.Tensor, mode: str, eps: float = 1e-3) -> torch.Tensor:
    """Per-clip (``mode="clip"``: over ``C, T, H, W``) or per-frame (``"frame"``: over ``C, H, W``)
    standardisation of ``(B, C, T, H, W)``: zero mean, unit standard deviation; ``"none"``
    returns ``x``. A constant clip becomes zeros (``eps`` keeps the division finite)."""
    if mode == "none":
        return x
    dims = (1, 2, 3, 4) if mode == "clip" else (1, 3, 4)
    mean = x.mean(dims, keepdim=True)
    return (x - mean) / (x.std(dims, keepdim=True, correction=0) + eps)


def frame_differences(x: torch.Tensor) -> torch.Tensor:
    """``x[:, :, t] - x[:, :, t - 1]`` for every frame of ``(B, C, T, H, W)`` clips, the first
    frame taking the first difference, so ``T`` is kept (a single frame gives zeros)."""
    if x.shape[2] < 2:
        return torch.zeros_like(x)
    d = x[:, :, 1:] - x[:, :, :-1]
    return torch.cat([d[:, :, :1], d], dim=2)


def _to_tokens(z: torch.Tensor | None) -> torch.Tensor | None:
    """``(B, C, T, H, W) -> (B, T, C)`` by averaging over space."""
    return None if z is None else z.mean(dim=(3, 4)).transpose(1, 2)


def create_fast_slow(*, pathways: str = "both", alpha: int = 4, beta: float = 0.25,
                     widths: tuple[int, ...] = (32, 64, 128), depths: tuple[int, ...] = (1, 1, 1),
                     **kwargs) -> FastSlowEncoder:
    """Keyword-only factory for :class:`FastSlowEncoder` (remaining fields of
    :class:`FastSlowConfig` pass through ``kwargs``; list values become tuples).

    Raises:
        ValueError: an invalid config (see :class:`FastSlowConfig`).
        TypeError: a keyword that is not a config field.
    """
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return FastSlowEncoder(FastSlowConfig(pathways=pathways, alpha=alpha, beta=beta, widths=tuple(widths),
                                          depths=tuple(depths), **kwargs))


#: The R3D-18 layout (Hara et al., "Can Spatiotemporal 3D CNNs Retrace the History of 2D CNNs
#: and ImageNet?", CVPR 2018): four stages of two basic blocks, 64-512 channels. Slow temporal
#: kernels follow SlowFast (1 in res2/res3, 3 in res4/res5); beta = 1/8 as in SlowFast.
R3D18 = dict(widths=(64, 128, 256, 512), depths=(2, 2, 2, 2), slow_kt=(1, 1, 3, 3), alpha=4, beta=0.125)


def fast_slow_r3d18_config(**overrides) -> FastSlowConfig:
    """:class:`FastSlowConfig` of the R3D-18-sized fast/slow network (:data:`R3D18`), with any
    field overridden by keyword (``fusion="xattn"``, ``block="2plus1d"``, ...).

    Raises:
        TypeError: a keyword that is not a config field.
        ValueError: an invalid config.
    """
    names = {f.name for f in fields(FastSlowConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown FastSlowConfig field(s) {unknown}; choose from {sorted(names)}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return replace(FastSlowConfig(**R3D18), **overrides)


def fast_slow_r3d18(**overrides) -> FastSlowEncoder:
    """Keyword-only factory for the R3D-18-sized fast/slow encoder (about 33M parameters
    with 3D blocks; for GPUs, e.g. 16 x 112 x 112 clips). See :func:`fast_slow_r3d18_config`.

    Raises:
        TypeError: a keyword that is not a config field.
        ValueError: an invalid config.
    """
    return FastSlowEncoder(fast_slow_r3d18_config(**overrides))
