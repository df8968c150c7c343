"""Temporal pooling and fusion of the fast and slow time tokens."""
from __future__ import annotations

import pytest
import torch

from vcl_core.models.fusion import AttentionPool, CrossAttention, Fusion, MeanPool, make_pool


def test_attention_pool_weights_sum_to_one_and_weight_the_tokens():
    torch.manual_seed(0)
    pool = AttentionPool(6, hidden=8)
    tokens = torch.randn(3, 5, 6)
    pooled, w = pool(tokens)
    assert pooled.shape == (3, 6) and w.shape == (3, 5)
    torch.testing.assert_close(w.sum(1), torch.ones(3))
    assert (w >= 0).all()
    torch.testing.assert_close(pooled, (w[..., None] * tokens).sum(1))


def test_mean_pool_is_uniform():
    tokens = torch.randn(2, 4, 3)
    pooled, w = MeanPool()(tokens)
    torch.testing.assert_close(pooled, tokens.mean(1))
    torch.testing.assert_close(w, torch.full((2, 4), 0.25))


def test_unknown_pool_and_mode_raise():
    with pytest.raises(ValueError):
        make_pool("max", 4)
    with pytest.raises(ValueError):
        Fusion("add", 4, 8)


@pytest.mark.parametrize("mode", ["concat", "gate", "xattn"])
@pytest.mark.parametrize("pool", ["mean", "attention"])
def test_fusion_shapes_and_weights(mode, pool):
    fusion = Fusion(mode, 4, 8, pool=pool, bidirectional=True)
    emb, w = fusion(torch.randn(2, 9, 4), torch.randn(2, 3, 8))
    assert emb.shape == (2, 12)
    assert w["fast"].shape == (2, 9) and w["slow"].shape == (2, 3)
    for v in w.values():
        torch.testing.assert_close(v.sum(1), torch.ones(2))


@pytest.mark.parametrize("mode", ["concat", "gate", "xattn"])
def test_single_stream_is_pooled(mode):
    fast_only = Fusion(mode, 4, 0)
    emb, w = fast_only(torch.randn(2, 5, 4), None)
    assert emb.shape == (2, 4) and set(w) == {"fast"}
    slow_only = Fusion(mode, 0, 8)
    emb, w = slow_only(None, torch.randn(2, 3, 8))
    assert emb.shape == (2, 8) and set(w) == {"slow"}
    with pytest.raises(ValueError):
        slow_only(None, None)


def test_gate_and_xattn_change_the_embedding_and_mix_streams():
    torch.manual_seed(0)
    fast, slow = torch.randn(2, 8, 4), torch.randn(2, 2, 8)
    fast2 = fast + torch.randn_like(fast)
    concat = Fusion("concat", 4, 8)(fast, slow)[0]
    for mode in ("gate", "xattn"):
        fusion = Fusion(mode, 4, 8)
        emb = fusion(fast, slow)[0]
        assert not torch.allclose(emb, concat)
        # the slow part now depends on the fast stream
        assert not torch.allclose(fusion(fast2, slow)[0][:, 4:], emb[:, 4:])


def test_xattn_bidirectional_lets_fast_attend_to_slow():
    torch.manual_seed(0)
    fast, slow = torch.randn(2, 8, 4), torch.randn(2, 2, 8)
    slow2 = slow + torch.randn_like(slow)
    one_way, both_ways = Fusion("xattn", 4, 8), Fusion("xattn", 4, 8, bidirectional=True)
    assert one_way.fast_from_slow is None
    torch.testing.assert_close(one_way(fast, slow)[0][:, :4], one_way(fast, slow2)[0][:, :4])
    assert not torch.allclose(both_ways(fast, slow)[0][:, :4], both_ways(fast, slow2)[0][:, :4])


def test_cross_attention_handles_sequences_longer_than_its_table():
    xa = CrossAttention(8, 4, max_len=4)
    assert xa(torch.randn(2, 7, 8), torch.randn(2, 11, 4)).shape == (2, 7, 8)
