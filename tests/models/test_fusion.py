"""Temporal pooling and fusion of the fast and slow time tokens."""
from __future__ import annotations

import pytest
import torch

from vcl_core.models.fusion import (AttentionPool, CrossAttention, Fusion, MeanPool, SegmentPool, TemporalProfilePool,
                                    make_pool, pool_width, resample_positions)


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
@pytest.mark.parametrize("pool", ["mean", "attention", "time"])
def test_fusion_shapes_and_weights(mode, pool):
    fusion = Fusion(mode, 4, 8, pool=pool, bidirectional=True)
    emb, w = fusion(torch.randn(2, 9, 4), torch.randn(2, 3, 8))
    assert emb.shape == (2, 12 * pool_width(pool))
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


def test_time_pool_keeps_order_where_a_mean_cannot():
    """'A then B' and 'B then A' average to the same vector; a temporal profile that weighs the
    beginning against the end tells them apart (and the mean half agrees)."""
    torch.manual_seed(0)
    a, b = torch.randn(1, 1, 8), torch.randn(1, 1, 8)
    ab, ba = torch.cat([a.expand(1, 4, 8), b.expand(1, 4, 8)], 1), torch.cat([b.expand(1, 4, 8), a.expand(1, 4, 8)], 1)
    pool = TemporalProfilePool(profiles=2, table=4)
    with torch.no_grad():  # as after training: "beginning minus end", and a flat profile
        pool.profiles.copy_(torch.tensor([[1.0, 1.0, -1.0, -1.0], [0.25, 0.25, 0.25, 0.25]]))
    (p_ab, w), (p_ba, _) = pool(ab), pool(ba)
    assert p_ab.shape == (1, 24) and w.shape == (1, 8)
    torch.testing.assert_close(p_ab[:, :8], p_ba[:, :8])  # the mean
    torch.testing.assert_close(p_ab[:, 8:16], -p_ba[:, 8:16])  # beginning minus end
    assert (p_ab[:, 8:16] - p_ba[:, 8:16]).abs().max() > 0.5
    torch.testing.assert_close(p_ab[:, 16:], p_ba[:, 16:])  # a flat profile is order-blind
    torch.testing.assert_close(MeanPool()(ab)[0], MeanPool()(ba)[0])
    seg_ab, seg_ba = SegmentPool(2)(ab)[0], SegmentPool(2)(ba)[0]
    torch.testing.assert_close(seg_ab, torch.cat([a[:, 0], b[:, 0]], 1))
    torch.testing.assert_close(seg_ba, torch.cat([b[:, 0], a[:, 0]], 1))


def test_time_pool_starts_as_a_mean():
    """The profiles start at zero: an untrained network reads nothing but the mean through the
    pool, so no order (the benchmark's random-init floor), yet the profiles get gradients."""
    x = torch.randn(4, 12, 16, requires_grad=True)
    pool = TemporalProfilePool()
    out, w = pool(x)
    torch.testing.assert_close(out[:, :16], x.mean(1))
    assert out[:, 16:].abs().max() == 0
    torch.testing.assert_close(w, torch.full_like(w, 1 / 12))
    (out[:, 16:] * torch.randn_like(out[:, 16:])).sum().backward()
    assert pool.profiles.grad.abs().sum() > 0


def test_positions_are_relative_to_the_clip_length():
    table = torch.arange(4.0)[:, None].expand(4, 3)
    torch.testing.assert_close(resample_positions(table, 4), table)
    torch.testing.assert_close(resample_positions(table, 7)[:, 0], torch.linspace(0, 3, 7))
    torch.testing.assert_close(resample_positions(table, 1), table.mean(0, keepdim=True))


@pytest.mark.parametrize("pool,width", [("mean", 1), ("attention", 1), ("segments", 4), ("time", 5)])
def test_pooled_widths(pool, width):
    assert pool_width(pool) == width
    for mode in ("concat", "gate", "xattn"):
        emb, w = Fusion(mode, 4, 8, pool=pool)(torch.randn(2, 9, 4), torch.randn(2, 3, 8))
        assert emb.shape == (2, width * 12)
        torch.testing.assert_close(w["fast"].sum(1), torch.ones(2))
    with pytest.raises(ValueError, match="unknown temporal pool"):
        pool_width("max")
