"""A memory over the clip embeddings of one video: a long-horizon video embedding.

A video is cut into ``N`` clips in temporal order; the clip encoder embeds each one, giving
``(B, N, D)``. :class:`ClipMemory` reads that sequence causally and returns

* ``states (B, N, hidden)``: the memory after each clip (``states[:, t]`` depends on clips
  ``0..t`` only), and
* the video embedding ``(B, out_dim)``: the memory after the last valid clip, projected.

Two kinds: ``gru`` (a stack of GRUs, Cho et al., EMNLP 2014) and ``transformer`` (a small
causal pre-norm transformer with sinusoidal positions, Vaswani et al., NeurIPS 2017).

Truncated back-propagation through time (``tbptt = k > 0``; Williams & Peng, Neural
Computation 1990): the steps before the last ``k`` valid clips of each video are run under
``torch.no_grad`` and enter the graph only as constants (the GRU's carried hidden state; the
transformer's cached keys/values, as in Transformer-XL, Dai et al., ACL 2019). Outputs are
identical to the untruncated run; the gradient reaching the early clips is exactly zero, and
their activations are never stored. Truncation only applies while autograd is recording.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

MEMORIES = ("gru", "transformer")


@dataclass(frozen=True)
class ClipMemoryConfig:
    """Configuration of :class:`ClipMemory`.

    Args:
        dim: size ``D`` of the clip embeddings (80 = the default CPU encoder's ``embed_dim``).
        kind: ``gru`` or ``transformer``.
        hidden: memory width (GRU hidden size / transformer model width).
        layers: stacked GRU layers or transformer blocks.
        heads: attention heads (``transformer`` only; must divide ``hidden``).
        out_dim: size of the video embedding; ``None`` returns the ``hidden``-sized memory.
        tbptt: truncated BPTT: only the last ``tbptt`` valid clips of each video receive
            gradients (0 = full back-propagation).

    Raises:
        ValueError: on a setting that cannot work, naming the field.
    """

    dim: int = 80
    kind: str = "gru"
    hidden: int = 128
    layers: int = 1
    heads: int = 4
    out_dim: int | None = None
    tbptt: int = 0

    def __post_init__(self) -> None:
        checks = [(self.kind in MEMORIES, f"kind must be one of {MEMORIES}"),
                  (self.dim >= 1 and self.hidden >= 1 and self.layers >= 1, "dim, hidden and layers must be >= 1"),
                  (self.out_dim is None or self.out_dim >= 1, "out_dim must be None or >= 1"),
                  (self.tbptt >= 0, "tbptt must be >= 0 (0 = off)"),
                  (self.kind != "transformer" or (self.heads >= 1 and self.hidden % self.heads == 0),
                   "heads must divide hidden")]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"ClipMemoryConfig: {msg} (got {self})")


def sinusoidal_positions(n: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Fixed sine/cosine positions ``(n, dim)`` (Vaswani et al., 2017); no length limit."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n, dim, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return table


class _CausalBlock(nn.Module):
    """Pre-norm transformer block whose queries may be a subset of the keys' positions."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, q: torch.Tensor, kv: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """``q (B, K, C)``, ``kv (B, N, C)``, ``blocked (B * heads, K, N)`` (True = masked)."""
        kv = self.norm1(kv)
        q = q + self.attn(self.norm1(q), kv, kv, attn_mask=blocked, need_weights=False)[0]
        return q + self.ffn(self.norm2(q))


class ClipMemory(nn.Module):
    """Causal memory over clip embeddings: ``(B, N, dim) -> (B, out_dim)``; see the module docstring.

    Args:
        dim, kind, hidden, layers, heads, out_dim, tbptt: see :class:`ClipMemoryConfig`.

    Examples:
        >>> memory = ClipMemory(80, kind="gru", hidden=64, tbptt=2)
        >>> memory(torch.randn(4, 6, 80)).shape
        torch.Size([4, 64])

    Raises:
        ValueError: an invalid setting (see :class:`ClipMemoryConfig`).
    """

    def __init__(self, dim: int, kind: str = "gru", hidden: int = 128, layers: int = 1, *,
                 heads: int = 4, out_dim: int | None = None, tbptt: int = 0):
        super().__init__()
        self.cfg = ClipMemoryConfig(dim=dim, kind=kind, hidden=hidden, layers=layers, heads=heads,
                                    out_dim=out_dim, tbptt=tbptt)
        if kind == "gru":
            self.inp = nn.Identity()
            self.layers = nn.ModuleList(nn.GRU(dim if i == 0 else hidden, hidden, batch_first=True)
                                        for i in range(layers))
            self.norm = nn.Identity()
        else:
            self.inp = nn.Linear(dim, hidden)
            self.layers = nn.ModuleList(_CausalBlock(hidden, heads) for _ in range(layers))
            self.norm = nn.LayerNorm(hidden)
        self.proj = nn.Linear(hidden, out_dim) if out_dim else nn.Identity()
        self.out_dim = out_dim or hidden

    @classmethod
    def from_config(cls, cfg: ClipMemoryConfig) -> ClipMemory:
        """Build from a :class:`ClipMemoryConfig`."""
        return cls(**asdict(cfg))

    def _embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Layer-0 input for clips ``x (B, K, dim)`` at ``positions (B, K)``."""
        if self.cfg.kind == "gru":
            return x
        table = sinusoidal_positions(int(positions.max()) + 1, self.cfg.hidden, x.device)
        return self.inp(x) + table[positions].to(x.dtype)

    def _blocked(self, q_pos: torch.Tensor, n: int) -> torch.Tensor:
        """Causal mask ``(B * heads, K, n)``: query at position p sees keys ``0..p``."""
        keys = torch.arange(n, device=q_pos.device)
        blocked = keys[None, None, :] > q_pos[:, :, None]
        return blocked.repeat_interleave(self.cfg.heads, dim=0)

    def _full(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's input and the last output over all ``N`` steps: ``L + 1`` tensors."""
        b, n, _ = x.shape
        pos = torch.arange(n, device=x.device).expand(b, n)
        hs = [self._embed(x, pos)]
        blocked = self._blocked(pos, n) if self.cfg.kind == "transformer" else None
        for layer in self.layers:
            h = hs[-1]
            hs.append(layer(h)[0] if self.cfg.kind == "gru" else layer(h, h, blocked))
        return hs

    def _window(self, x: torch.Tensor, idx: torch.Tensor, start: torch.Tensor,
                const: list[torch.Tensor]) -> torch.Tensor:
        """States ``(B, K, hidden)`` at positions ``idx (B, K)`` with gradients, continuing from the
        no-grad states ``const`` of :meth:`_full` before ``start (B,)``."""
        b, n, _ = x.shape
        g = self._embed(x.gather(1, idx[..., None].expand(-1, -1, x.shape[2])), idx)
        rows = torch.arange(b, device=x.device)
        for i, layer in enumerate(self.layers):
            if self.cfg.kind == "gru":
                carried = const[i + 1][rows, (start - 1).clamp(min=0)]
                carried = torch.where((start > 0)[:, None], carried, torch.zeros_like(carried))
                g = layer(g, carried[None].contiguous())[0]
            else:
                kv = const[i].scatter(1, idx[..., None].expand(-1, -1, g.shape[2]), g)
                g = layer(g, kv, self._blocked(idx, n))
        return g

    def forward_with_states(self, x: torch.Tensor,
                            lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Video embedding ``(B, out_dim)`` and per-step memory states ``(B, N, hidden)``.

        Args:
            x: clip embeddings ``(B, N, dim)`` in temporal order.
            lengths: valid clips per video ``(B,)`` (``1..N``); later positions are padding and
                affect neither the embedding nor the gradients. ``None`` = all ``N`` valid.

        With ``tbptt`` active, ``states`` before the last ``tbptt`` valid clips carry no gradient.

        Raises:
            ValueError: wrong shapes or lengths outside ``1..N``.
        """
        if x.dim() != 3 or x.shape[2] != self.cfg.dim:
            raise ValueError(f"expected clip embeddings (B, N, {self.cfg.dim}), got shape {tuple(x.shape)}")
        b, n, _ = x.shape
        if lengths is None:
            lengths = torch.full((b,), n, device=x.device, dtype=torch.long)
        lengths = torch.as_tensor(lengths, device=x.device, dtype=torch.long)
        if lengths.shape != (b,) or bool((lengths < 1).any()) or bool((lengths > n).any()):
            raise ValueError(f"lengths must be (B,) = ({b},) with values in 1..{n}, got {lengths.tolist()}")
        k = self.cfg.tbptt
        if k and k < n and torch.is_grad_enabled():
            with torch.no_grad():
                const = self._full(x)
            start = (lengths - k).clamp(min=0)
            idx = start[:, None] + torch.arange(k, device=x.device)
            window = self._window(x, idx, start, const)
            states = const[-1].scatter(1, idx[..., None].expand(-1, -1, window.shape[2]), window)
        else:
            states = self._full(x)[-1]
        states = self.norm(states)
        last = states[torch.arange(b, device=x.device), lengths - 1]
        return self.proj(last), states

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Video embedding ``(B, out_dim)`` from clip embeddings ``(B, N, dim)``; see
        :meth:`forward_with_states`."""
        return self.forward_with_states(x, lengths)[0]
