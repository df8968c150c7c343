"""Predictive auxiliaries: heads' shapes and structure, losses by hand, labels, and that they can be learned."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from loss_reference import close
from vcl_core.losses import (ClipOrderHead, FutureFeatureHead, PretextHead, TemporalGapHead, camera_motion_loss,
                             clip_order_loss, clip_order_permutations, frame_difference_magnitude,
                             future_feature_loss, info_nce, motion_magnitude_loss, playback_speed_loss,
                             shuffle_clip_order, temporal_gap_loss)


def smooth_l1(a: float, b: float) -> float:
    d = abs(a - b)
    return 0.5 * d * d if d < 1 else d - 0.5


def test_permutations_are_all_orders_in_lexicographic_order():
    perms = clip_order_permutations(4)
    assert perms.shape == (24, 4) and len({tuple(p) for p in perms.tolist()}) == 24
    assert perms[0].tolist() == [0, 1, 2, 3] and perms[-1].tolist() == [3, 2, 1, 0]
    assert perms.tolist() == sorted(perms.tolist())
    with pytest.raises(ValueError):
        clip_order_permutations(1)


def test_shuffle_clip_order_applies_the_labelled_permutation():
    clips = torch.arange(5 * 3).float().view(5, 3, 1).repeat(1, 1, 2)  # clip j of video b = 3b + j
    shuffled, labels = shuffle_clip_order(clips, torch.Generator().manual_seed(0))
    perms = clip_order_permutations(3)
    for b in range(5):
        assert shuffled[b, :, 0].tolist() == [3 * b + j for j in perms[labels[b]].tolist()]
    again, labels2 = shuffle_clip_order(clips, torch.Generator().manual_seed(0))
    assert torch.equal(labels, labels2) and torch.equal(shuffled, again)
    raw, _ = shuffle_clip_order(torch.randn(2, 3, 3, 4, 8, 8))  # raw clips (B, N, C, T, H, W) work too
    assert raw.shape == (2, 3, 3, 4, 8, 8)


def test_clip_order_head_is_vcop_pairwise():
    torch.manual_seed(70)
    head = ClipOrderHead(dim=5, num_clips=3, hidden=7)
    x = torch.randn(2, 3, 5)
    feats = [head.pair(torch.cat([x[:, i], x[:, j]], dim=-1)) for i in range(3) for j in range(i + 1, 3)]
    torch.testing.assert_close(head(x), head.classify(torch.cat(feats, dim=-1)))
    assert head(x).shape == (2, 6)
    with pytest.raises(ValueError):
        head(torch.randn(2, 4, 5))


def test_classification_losses_are_cross_entropy():
    g = torch.Generator().manual_seed(71)
    logits, labels = torch.randn(4, 6, generator=g), torch.tensor([0, 5, 2, 2])
    want = sum(-(float(logits[i, labels[i]]) - math.log(sum(math.exp(float(v)) for v in logits[i]))) for i in range(4)) / 4
    assert close(clip_order_loss(logits, labels), want)
    assert close(playback_speed_loss(logits, labels), want)
    with pytest.raises(ValueError, match="lie in"):
        playback_speed_loss(logits, torch.tensor([0, 6, 1, 1]))
    with pytest.raises(ValueError, match=r"\(B,\)"):
        clip_order_loss(logits, labels[:3])


def test_clip_order_can_be_learned_from_time_aware_embeddings():
    torch.manual_seed(72)
    position = torch.randn(3, 16)  # an encoder that knows where in the video a clip is
    head = ClipOrderHead(dim=16, num_clips=3, hidden=32)
    opt = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        clips = position + 0.1 * torch.randn(32, 3, 16)
        shuffled, labels = shuffle_clip_order(clips, gen)
        loss = clip_order_loss(head(shuffled), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.5 and sum(losses[-5:]) / 5 < 0.5 * losses[0]  # starts near log 6 = 1.79


def test_temporal_gap_loss_and_head():
    pred, gap = torch.tensor([0.5, -0.2, 0.9]), torch.tensor([4.0, -4.0, 8.0])
    want = sum(smooth_l1(float(p), float(g) / 8.0) for p, g in zip(pred, gap)) / 3
    assert close(temporal_gap_loss(pred, gap, max_gap=8.0), want)
    with pytest.raises(ValueError):
        temporal_gap_loss(pred, gap, max_gap=0)
    # per-sample lengths: each target is its own video's gap / length, so the loss of a batch is
    # the mean of its halves' losses (what two DDP processes average), whatever the other videos
    lengths = torch.tensor([8.0, 16.0, 48.0])
    want = sum(smooth_l1(float(p), float(g) / float(n)) for p, g, n in zip(pred, gap, lengths)) / 3
    assert close(temporal_gap_loss(pred, gap, lengths), want)
    halves = (temporal_gap_loss(pred[:1], gap[:1], lengths[:1]) + 2 * temporal_gap_loss(pred[1:], gap[1:], lengths[1:])) / 3
    assert close(halves, want)
    with pytest.raises(ValueError):
        temporal_gap_loss(pred, gap, torch.tensor([8.0, 0.0, 8.0]))
    head = TemporalGapHead(dim=6, hidden=8)
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    assert head(a, b).shape == (4,)
    assert not torch.allclose(head(a, b), head(b, a))  # order matters: the gap is signed
    assert isinstance(TemporalGapHead(dim=6, hidden=None).head.net, torch.nn.Linear)


def test_frame_difference_magnitude_by_hand():
    static = torch.ones(2, 3, 4, 5, 5)
    assert frame_difference_magnitude(static).tolist() == [0.0, 0.0]
    clip = torch.zeros(1, 1, 3, 1, 2)
    clip[0, 0, 1] = torch.tensor([1.0, 3.0])  # frames (0, 0), (1, 3), (0, 0)
    assert frame_difference_magnitude(clip).item() == pytest.approx((1 + 3 + 1 + 3) / 4)
    with pytest.raises(ValueError):
        frame_difference_magnitude(torch.zeros(1, 1, 1, 4, 4))


def test_motion_magnitude_loss_accepts_a_column_prediction():
    pred, target = torch.tensor([[0.2], [3.0]]), torch.tensor([0.0, 1.0])
    assert close(motion_magnitude_loss(pred, target), (smooth_l1(0.2, 0.0) + smooth_l1(3.0, 1.0)) / 2)
    assert close(motion_magnitude_loss(pred.squeeze(1), target), motion_magnitude_loss(pred, target))
    with pytest.raises(ValueError):
        motion_magnitude_loss(torch.zeros(3), target)


def test_camera_motion_loss_skips_unlabelled_clips():
    pred = torch.tensor([[0.0, 1.0], [2.0, 2.0], [0.5, 0.5]], requires_grad=True)
    target = torch.tensor([[0.0, 0.0], [2.0, 0.0], [99.0, 99.0]])
    valid = torch.tensor([True, True, False])
    want = (smooth_l1(0, 0) + smooth_l1(1, 0) + smooth_l1(2, 2) + smooth_l1(2, 0)) / 4
    assert close(camera_motion_loss(pred, target, valid), want)
    target2 = target.clone()
    target2[2] = -5.0
    assert close(camera_motion_loss(pred, target2, valid), want)  # the unlabelled row does not count
    assert not close(camera_motion_loss(pred, target), want)
    none = camera_motion_loss(pred, target, torch.zeros(3, dtype=torch.bool))
    none.backward()
    assert none.item() == 0.0 and torch.equal(pred.grad, torch.zeros_like(pred))
    with pytest.raises(ValueError):
        camera_motion_loss(pred, target, valid[:2])


def test_camera_motion_can_be_regressed_from_embeddings():
    torch.manual_seed(73)
    z = torch.randn(64, 12)
    motion = z[:, :3] * 0.5  # (dx, dy, zoom) readable from the embedding
    head = PretextHead(12, 3)
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    first = camera_motion_loss(head(z), motion).item()
    for _ in range(40):
        loss = camera_motion_loss(head(z), motion)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


def test_pretext_head_linear_or_mlp():
    assert isinstance(PretextHead(8, 4).net, torch.nn.Linear)
    mlp = PretextHead(8, 4, hidden=16)
    assert [type(m).__name__ for m in mlp.net] == ["Linear", "ReLU", "Linear"] and mlp(torch.randn(3, 8)).shape == (3, 4)


def test_future_feature_head_and_loss():
    torch.manual_seed(74)
    head = FutureFeatureHead(dim=8, num_context=3, hidden=16)
    clips = torch.randn(6, 4, 8)
    pred = head(clips[:, :3])
    assert pred.shape == (6, 8)
    assert close(future_feature_loss(pred, clips[:, 3], 0.2), info_nce(pred, clips[:, 3], 0.2))
    with pytest.raises(ValueError):
        head(clips)
    with pytest.raises(ValueError):
        FutureFeatureHead(dim=8, num_context=0)


def test_future_feature_prediction_can_be_learned():
    torch.manual_seed(75)
    step = torch.randn(8, 8) * 0.3
    start = torch.randn(32, 8)
    seq = [start]
    for _ in range(3):
        seq.append(seq[-1] + seq[-1] @ step)  # a predictable trajectory per video
    clips = torch.stack(seq, dim=1)
    head = FutureFeatureHead(dim=8, num_context=3, hidden=64)
    opt = torch.optim.SGD(head.parameters(), lr=0.3, momentum=0.9)
    first = future_feature_loss(head(clips[:, :3]), clips[:, 3]).item()
    for _ in range(40):
        loss = future_feature_loss(head(clips[:, :3]), clips[:, 3])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    assert F.cosine_similarity(head(clips[:, :3]), clips[:, 3]).mean() > 0.5
