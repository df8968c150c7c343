"""Temporal pooling and the top fusion of the fast and slow streams.

Inputs are *time tokens*: each stream's last feature map averaged over space,
``fast: (B, Tf, Cf)`` and ``slow: (B, Ts, Cs)``. Temporal pools (``pool``), per stream:

``mean``       the average over time (SlowFast's head). Blind to order: "A then B" and
               "B then A" average to the same vector.
``attention``  a weighted average with learned scores (which moments matter); still one
               average, so still blind to order.
``segments``   the tokens averaged within :data:`SEGMENTS` equal parts of the clip and
               concatenated: order is kept by position in the vector.
``time``       the mean plus multi-head attention from learned queries over the tokens with
               learned *relative* positions (:class:`TimeAttentionPool`): each head can find a
               kind of moment and report when it happens, so order is kept, while the mean
               keeps what holds throughout (sub-second motion). The default.

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


def pool_width(kind: str) -> int:
    """How many times a stream's channels the pooled feature of ``kind`` has.

    Raises:
        ValueError: unknown ``kind``.
    """
    widths = {"mean": 1, "attention": 1, "segments": SEGMENTS, "time": 2}
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
    """A ``(L, C)`` table of learned positions stretched or squeezed to ``t`` entries (linear
    interpolation): position ``i`` of ``t`` means the same *fraction* of the clip at any length."""
    if t == table.shape[0]:
        return table
    if t == 1:
        return table.mean(0, keepdim=True)
    return F.interpolate(table.T[None], size=t, mode="linear", align_corners=True)[0].T


class TimeAttentionPool(nn.Module):
    """The mean over time plus attention pooling that keeps *when* things happen.

    ``heads`` learned queries (one multi-head attention) read the tokens plus learned
    relative positions (:func:`resample_positions`); a head that attends to one kind of
    moment returns, through the positions, where in the clip that moment is, which an average
    cannot (Lee et al., Set Transformer's pooling by multi-head attention, ICML 2019, with
    positions). The mean keeps what holds over the whole clip at the best signal-to-noise.
    At initialisation the positions and the query are near zero, so the attention is nearly
    uniform and the pool starts as a mean: a random network does not read order through it.

    ``forward``: tokens ``(B, T, C)`` -> ``(B, 2C)`` (``[mean, attention]``) and the attention
    weights averaged over heads ``(B, T)`` (rows sum to one).
    """

    def __init__(self, dim: int, heads: int = 4, table: int = 16):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(table, dim))
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        nn.init.trunc_normal_(self.query, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads if dim % heads == 0 else 1, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.norm(tokens + resample_positions(self.pos, tokens.shape[1]).to(tokens.dtype))
        out, w = self.attn(self.query.repeat(len(x), 1, 1).to(x.dtype), x, x, need_weights=True,
                           average_attn_weights=True)
        return torch.cat([tokens.mean(1), out[:, 0]], dim=1), w[:, 0]


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
        return TimeAttentionPool(dim)
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
