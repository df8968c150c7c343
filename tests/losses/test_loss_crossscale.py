"""Cross-scale alignment: TCLR global-local contrast and BraVe/LSTCL short<->long prediction."""
from __future__ import annotations

import math

import pytest
import torch

from loss_reference import close, dot, unit
from vcl_core.losses import CrossScalePredictor, global_local_loss, short_long_prediction_loss


def reference_global_local(g, loc, t, batch_negatives=False):
    """Cross-entropy per anchor, both directions, candidates = own video's S items (or all B*S)."""
    b, s, _ = g.shape
    G = [[unit(g[i, j]) for j in range(s)] for i in range(b)]
    L = [[unit(loc[i, j]) for j in range(s)] for i in range(b)]
    losses = []
    for anchors, cands in ((G, L), (L, G)):
        for i in range(b):
            for j in range(s):
                pool = [(v, c) for v in (range(b) if batch_negatives else [i]) for c in range(s)]
                logits = {p: dot(anchors[i][j], cands[p[0]][p[1]]) / t for p in pool}
                log_z = math.log(sum(math.exp(x) for x in logits.values()))
                losses.append(-(logits[(i, j)] - log_z))
    return sum(losses) / len(losses)


@pytest.fixture
def tokens():
    g = torch.Generator().manual_seed(30)
    return torch.randn(3, 4, 6, generator=g), torch.randn(3, 4, 6, generator=g)


@pytest.mark.parametrize("batch_negatives", [False, True])
def test_global_local_matches_reference(tokens, batch_negatives):
    g, loc = tokens
    got = global_local_loss(g, loc, 0.2, batch_negatives=batch_negatives)
    assert close(got, reference_global_local(g, loc, 0.2, batch_negatives))


def test_batch_negatives_only_add_negatives(tokens):
    g, loc = tokens
    assert global_local_loss(g, loc, 0.2, batch_negatives=True) > global_local_loss(g, loc, 0.2)


def test_global_local_rewards_temporal_alignment():
    g = torch.randn(4, 4, 16, generator=torch.Generator().manual_seed(31))
    aligned = g + 0.05 * torch.randn(4, 4, 16, generator=torch.Generator().manual_seed(32))
    time_shuffled = aligned[:, [1, 0, 3, 2]]  # right clips, wrong slots: what a time-blind encoder gives
    assert global_local_loss(g, aligned, 0.1) < 0.1 < global_local_loss(g, time_shuffled, 0.1)


def test_global_local_unnormalized_and_errors(tokens):
    g, loc = tokens
    assert not close(global_local_loss(g, loc, 1.0, normalize=False), global_local_loss(g, loc, 1.0))
    with pytest.raises(ValueError, match=r"\(B, S, D\)"):
        global_local_loss(g, loc[:, :3])
    with pytest.raises(ValueError, match="S >= 2"):
        global_local_loss(g[:, :1], loc[:, :1])
    assert torch.isfinite(global_local_loss(g[:, :1], loc[:, :1], batch_negatives=True))


def test_short_long_prediction_by_hand_and_stop_gradient():
    gen = torch.Generator().manual_seed(33)
    p_sl, p_ls, zs, zl = (torch.randn(5, 8, generator=gen, requires_grad=True) for _ in range(4))
    loss = short_long_prediction_loss(p_sl, p_ls, zs, zl)
    want = 0.0
    for pred, target in ((p_sl, zl), (p_ls, zs)):
        want += sum(sum((a - b) ** 2 for a, b in zip(unit(pred[i]), unit(target[i]))) for i in range(5)) / 5
    assert close(loss, want)
    loss.backward()
    assert zs.grad is None and zl.grad is None  # targets are under stop-gradient
    assert p_sl.grad.abs().sum() > 0 and p_ls.grad.abs().sum() > 0


def test_short_long_prediction_is_zero_for_perfect_predictions():
    zs, zl = torch.randn(4, 8), torch.randn(4, 8)
    assert close(short_long_prediction_loss(3 * zl, 0.5 * zs, zs, zl), 0.0)
    with pytest.raises(ValueError):
        short_long_prediction_loss(zl, zs, zs, zl[:, :4])


def test_cross_scale_predictor_learns_a_mapping():
    torch.manual_seed(34)
    zs = torch.randn(32, 8)
    zl = zs @ torch.randn(8, 8)  # the long view's projection is a fixed function of the short one
    pred = CrossScalePredictor(dim=8, hidden=32)
    p_sl, p_ls = pred(zs, zl)
    assert p_sl.shape == p_ls.shape == (32, 8)
    opt = torch.optim.SGD(pred.parameters(), lr=0.5, momentum=0.9)
    first = None
    for _ in range(40):
        loss = short_long_prediction_loss(*pred(zs, zl), zs, zl)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_time_aligned_global_local_matches_a_loop_reference():
    import torch.nn.functional as F

    from vcl_core.losses import time_aligned_global_local

    g = torch.Generator().manual_seed(3)
    tokens, clips = torch.randn(3, 4, 8, generator=g), torch.randn(3, 5, 8, generator=g)
    slice_t = torch.tensor([[6.0, 18, 30, 42]]).repeat(3, 1)
    clip_t = torch.rand(3, 5, generator=g) * 48
    got = time_aligned_global_local(tokens, slice_t, clips, clip_t, temperature=0.2)
    total = 0.0
    for b in range(3):
        for c in range(5):
            sims = [F.cosine_similarity(clips[b, c], tokens[b, s], dim=0) / 0.2 for s in range(4)]
            target = min(range(4), key=lambda s: abs(float(clip_t[b, c] - slice_t[b, s])))
            total += -torch.log_softmax(torch.stack(sims), 0)[target]
    torch.testing.assert_close(got, total / 15)
    # moving a clip to another slice's time changes its target, and so the loss
    moved = clip_t.clone()
    moved[0, 0] = 6.0 if abs(float(clip_t[0, 0]) - 6.0) > 12 else 42.0
    assert not torch.isclose(time_aligned_global_local(tokens, slice_t, clips, moved, 0.2), got)
