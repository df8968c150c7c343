"""Temporal pooling and the top fusion of the fast and slow streams.

Inputs are *time tokens*: each stream's last feature map averaged over space,
``fast: (B, Tf, Cf)`` and ``slow: (B, Ts, Cs)``. Temporal pools (``pool``), per stream:

``mean``       the average over time (SlowFast's head). Blind to order: "A then B" and
               "B then A" average to the same vector.
``attention``  a weighted average with learned scores (which moments matter); still one
               average, so still blind to order.
``segments``   the tokens averaged within :data:`SEGMENTS` equal parts of the clip and
               concatenated: order is kept by position in the vector.
``time``       the mean plus :data:`PROFILES` learned *temporal profiles*: weighted sums of the
               tokens over relative time (:class:`TemporalProfilePool`), learned contrasts such
               as "the first third minus the last". They start at zero, so an untrained network
               reads no order through them; training shapes them into what tells *when* things
               happen, while the mean keeps what holds throughout (sub-second motion). The
               default.

``segments`` and ``time`` widen a stream's feature (:func:`pool_width`). Fusion modes:

``concat``  pool each stream over time and concatenate (SlowFast's head).
``gate``    each stream gates the other: ``slow * sigmoid(W_fs fast)`` and
            ``fast * sigmoid(W_sf slow)`` on pooled features, then concatenate.
``xattn``   slow tokens attend to fast tokens (multi-head cross-attention with learned
            temporal positions, residual + LayerNorm), and optionally fast to slow.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

FUSIONS = ("concat", "gate", "xattn")
POOLS = ("mean", "attention", "segments", "time")
#: parts a clip's time tokens are averaged into by the ``segments`` pool
SEGMENTS = 4
#: learned temporal profiles of the ``time`` pool
PROFILES = 4


def pool_width(kind: str) -> int:
    """How many times a stream's channels the pooled feature of ``kind`` has.

    Raises:
        ValueError: unknown ``kind``.
    """
    widths = {"mean": 1, "attention": 1, "segments": SEGMENTS, "time": 1 + PROFILES}
    if kind not in widths:
        raise ValueError(f"unknown temporal pool {kind!r}; choose one of {POOLS}")
    return widths[kind]


class AttentionPool(nn.Module):
    """Weighted mean over time with learned scores ``w^T tanh(W x_t)``.

    Additive attention pooling (Bahdanau et al., ICLR 2015; as a MIL/temporal pool: Ilse et
    al., ICML 2018). ``forward`` maps tokens ``(B, T, C)`` to the pooled ``(B, C)`` features and
    the weights ``(B, T)`` (softmax in float32, rows sum to one), so notebooks can show which
    moments the model attends to.
    """

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = F.softmax(self.score(tokens).squeeze(-1).float(), dim=1).to(tokens.dtype)
        return torch.einsum("bt,btc->bc", w, tokens), w


class MeanPool(nn.Module):
    """Plain mean over time: ``(B, T, C) -> ((B, C), uniform weights (B, T))``."""

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, _ = tokens.shape
        return tokens.mean(1), tokens.new_full((b, t), 1.0 / t)


class SegmentPool(nn.Module):
    """Average the tokens within ``k`` equal parts of the clip and concatenate the parts in
    time order: ``(B, T, C) -> ((B, k * C), uniform weights (B, T))``. Fewer than ``k`` tokens are
    repeated (``adaptive_avg_pool1d``), so every clip length gives the same width."""

    def __init__(self, k: int = SEGMENTS):
        super().__init__()
        self.k = k

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, _ = tokens.shape
        parts = F.adaptive_avg_pool1d(tokens.transpose(1, 2), self.k).transpose(1, 2)  # (B, k, C)
        return parts.flatten(1), tokens.new_full((b, t), 1.0 / t)


def resample_positions(table: torch.Tensor, t: int) -> torch.Tensor:
    """A ``(L, C)`` table over relative time stretched or squeezed to ``t`` entries (linear
    interpolation): entry ``i`` of ``t`` means the same *fraction* of the clip at any length;
    a single entry is the table's mean."""
    if t == table.shape[0]:
        return table
    if t == 1:
        return table.mean(0, keepdim=True)
    return F.interpolate(table.T[None], size=t, mode="linear", align_corners=True)[0].T


class TemporalProfilePool(nn.Module):
    """The mean over time plus ``profiles`` learned temporal profiles, which keep *when*.

    A profile is a table of ``table`` weights over relative time, stretched to the clip's
    length (:func:`resample_positions`), so weight ``i`` of ``t`` means the same fraction of
    any clip. Each profile weighs the tokens and sums them: ``sum_t p_k(t / T) x_t``. A profile
    that is positive early and negative late reports what changed from the beginning to the
    end, which an average cannot. The profiles start at zero, so an untrained network reads
    nothing but the mean through this pool (no order: the benchmark's random-init floor), and
    the loss shapes them (PAPER.md compares them with attention pooling).

    ``forward``: tokens ``(B, T, C)`` -> ``(B, (1 + profiles) * C)`` (``[mean, profile 1, ...]``)
    and uniform weights ``(B, T)`` (the mean's).
    """

    def __init__(self, profiles: int = PROFILES, table: int = 16):
        super().__init__()
        self.profiles = nn.Parameter(torch.zeros(profiles, table))

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, _ = tokens.shape
        p = resample_positions(self.profiles.T, t).T.to(tokens.dtype)  # (K, T)
        weighted = torch.einsum("kt,btc->bkc", p, tokens).flatten(1)
        return torch.cat([tokens.mean(1), weighted], dim=1), tokens.new_full((b, t), 1.0 / t)


def make_pool(kind: str, dim: int) -> nn.Module:
    """A temporal pool over ``(B, T, dim)`` tokens (see the module docstring for the kinds).

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind == "mean":
        return MeanPool()
    if kind == "attention":
        return AttentionPool(dim)
    if kind == "segments":
        return SegmentPool()
    if kind == "time":
        return TemporalProfilePool()
    raise ValueError(f"unknown temporal pool {kind!r}; choose one of {POOLS}")


class CrossAttention(nn.Module):
    """Queries from one stream attend to keys/values of the other, with learned positions.

    ``forward(q (B, Tq, q_dim), kv (B, Tk, kv_dim)) -> (B, Tq, q_dim)``: multi-head attention
    (Vaswani et al., NeurIPS 2017) with a residual connection and LayerNorm. Positions are
    learned tables of ``max_len`` entries; longer sequences use the table resampled to their
    length. ``heads`` falls back to 1 when it does not divide ``q_dim``.
    """

    def __init__(self, q_dim: int, kv_dim: int, heads: int = 4, max_len: int = 128):
        super().__init__()
        self.kv = nn.Linear(kv_dim, q_dim)
        self.pos_q = nn.Parameter(torch.zeros(max_len, q_dim))
        self.pos_kv = nn.Parameter(torch.zeros(max_len, q_dim))
        nn.init.trunc_normal_(self.pos_q, std=0.02)
        nn.init.trunc_normal_(self.pos_kv, std=0.02)
        self.attn = nn.MultiheadAttention(q_dim, heads if q_dim % heads == 0 else 1, batch_first=True)
        self.norm = nn.LayerNorm(q_dim)
        self.max_len = max_len

    def _pos(self, table: torch.Tensor, t: int) -> torch.Tensor:
        if t <= self.max_len:
            return table[:t]
        # longer than the table: stretch it to t entries (linear interpolation)
        return F.interpolate(table.T[None], size=t, mode="linear", align_corners=True)[0].T

    def forward(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        kv = self.kv(kv) + self._pos(self.pos_kv, kv.shape[1])
        qq = q + self._pos(self.pos_q, q.shape[1])
        out, _ = self.attn(qq, kv, kv, need_weights=False)
        return self.norm(q + out)


class Fusion(nn.Module):
    """Fuse fast and slow time tokens into one embedding of size ``m * (Cf + Cs)``.

    Inputs are time tokens ``fast (B, Tf, Cf)`` and ``slow (B, Ts, Cs)``. Either stream may be
    ``None`` (slow-only or fast-only networks); then the other is pooled and ``mode`` has no
    effect (there is nothing to fuse). ``forward`` returns
    ``(embedding (B, D), {"fast": weights (B, Tf), "slow": weights (B, Ts)})`` with
    ``D = m * (Cf + Cs)``, ``m = pool_width(pool)`` (the pooling weights of the streams present).

    Raises:
        ValueError: unknown ``mode`` or ``pool``.
    """

    def __init__(self, mode: str, fast_dim: int, slow_dim: int, pool: str = "mean", bidirectional: bool = False):
        super().__init__()
        if mode not in FUSIONS:
            raise ValueError(f"unknown fusion {mode!r}; choose one of {FUSIONS}")
        self.mode = mode
        self.pool_fast = make_pool(pool, fast_dim) if fast_dim else None
        self.pool_slow = make_pool(pool, slow_dim) if slow_dim else None
        both = fast_dim > 0 and slow_dim > 0
        self.fast_from_slow: CrossAttention | None = None
        m = pool_width(pool)
        if mode == "gate" and both:
            self.gate_slow = nn.Linear(m * fast_dim, m * slow_dim)
            self.gate_fast = nn.Linear(m * slow_dim, m * fast_dim)
        if mode == "xattn" and both:
            self.slow_from_fast = CrossAttention(slow_dim, fast_dim)
            self.fast_from_slow = CrossAttention(fast_dim, slow_dim) if bidirectional else None

    def forward(self, fast: torch.Tensor | None,
                slow: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if fast is None and slow is None:
            raise ValueError("Fusion needs at least one stream")
        weights: dict[str, torch.Tensor] = {}
        if fast is not None and slow is not None and self.mode == "xattn":
            slow_new = self.slow_from_fast(slow, fast)
            if self.fast_from_slow is not None:
                fast = self.fast_from_slow(fast, slow)
            slow = slow_new
        f = s = None
        if fast is not None:
            f, weights["fast"] = self.pool_fast(fast)
        if slow is not None:
            s, weights["slow"] = self.pool_slow(slow)
        if f is not None and s is not None and self.mode == "gate":
            f, s = f * torch.sigmoid(self.gate_fast(s)), s * torch.sigmoid(self.gate_slow(f))
        parts = [p for p in (f, s) if p is not None]
        return torch.cat(parts, dim=1), weights
