"""One backbone shared across temporal scales, or one per scale."""
from __future__ import annotations

import pytest
import torch

from vcl_core.models import FastSlowConfig, FastSlowEncoder, MultiScaleEncoder

CFG = FastSlowConfig(widths=(8, 16, 32))


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_shared_uses_one_backbone_for_every_scale():
    enc = MultiScaleEncoder(CFG, scales=("short", "long"), shared=True).eval()
    assert enc.encoder("short") is enc.encoder("long")
    assert n_params(enc) == n_params(FastSlowEncoder(CFG))
    x = torch.randn(2, 3, 8, 32, 32)
    torch.testing.assert_close(enc(x, "short"), enc(x, "long"))
    assert enc(torch.randn(2, 3, 16, 32, 32), "long").shape == (2, enc.embed_dim)


def test_separate_backbones_are_different_modules():
    enc = MultiScaleEncoder(CFG, scales=("short", "long"), shared=False).eval()
    short, long = enc.encoder("short"), enc.encoder("long")
    assert short is not long
    assert n_params(enc) == 2 * n_params(FastSlowEncoder(CFG))
    assert not {p.data_ptr() for p in short.parameters()} & {p.data_ptr() for p in long.parameters()}
    x = torch.randn(2, 3, 8, 32, 32)
    assert not torch.allclose(enc(x, "short"), enc(x, "long"))
    emb, weights = enc.forward_with_attention(x, "long")
    assert emb.shape == (2, CFG.embed_dim) and set(weights) == {"fast", "slow"}
    fast, slow = enc.tokens(x, "short")
    assert fast.shape[1] == 8 and slow.shape[1] == 2


def test_separate_backbones_get_their_own_gradients():
    enc = MultiScaleEncoder(CFG, shared=False)
    enc(torch.randn(2, 3, 8, 32, 32), "short").sum().backward()
    assert all(p.grad is not None for p in enc.encoder("short").parameters())
    assert all(p.grad is None for p in enc.encoder("long").parameters())


def test_scale_names_are_checked():
    with pytest.raises(KeyError, match="medium"):
        MultiScaleEncoder(CFG).encoder("medium")
    with pytest.raises(ValueError):
        MultiScaleEncoder(CFG, scales=("a", "a"))


@pytest.mark.parametrize("shared", [True, False])
def test_map_backbones_replaces_every_backbone_once(shared):
    enc = MultiScaleEncoder(FastSlowConfig(widths=(8, 16, 32)), shared=shared)
    seen = []

    def wrap(m):
        seen.append(m)
        return torch.nn.Sequential(m)

    enc.map_backbones(wrap)
    assert len(seen) == (1 if shared else 2)
    assert all(isinstance(enc.encoder(s), torch.nn.Sequential) for s in ("short", "long"))
    assert (enc.encoder("short") is enc.encoder("long")) == shared
