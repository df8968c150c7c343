"""InfoNCE, NT-Xent, the false-negative mask and soft positives against loop references."""
from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F

from loss_reference import close, reference_info_nce
from vcl_core.losses import contrastive_logits, info_nce, info_nce_from_logits, same_video_mask


@pytest.fixture
def qk():
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g), torch.randn(5, 8, generator=g)


@pytest.mark.parametrize("temperature", [0.1, 0.5, torch.tensor(0.2)])
def test_info_nce_matches_reference(qk, temperature):
    q, k, _ = qk
    assert close(info_nce(q, k, temperature), reference_info_nce(q, k, temperature))


def test_info_nce_unnormalized_and_reductions(qk):
    q, k, neg = qk
    ref = reference_info_nce(q, k, 2.0, extra_negatives=neg, normalize=False, reduction="none")
    got = info_nce(q, k, 2.0, extra_negatives=neg, normalize=False, reduction="none")
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-5)
    assert close(info_nce(q, k, 2.0, neg, normalize=False, reduction="sum"), ref.sum())
    with pytest.raises(ValueError, match="reduction"):
        info_nce(q, k, reduction="median")


def test_extra_negatives_positional_call_and_effect(qk):
    q, k, neg = qk
    # the training loop's call: info_nce(z_a, z_b, temperature, extra_negatives=...)
    with_neg = info_nce(q, k, 0.2, extra_negatives=neg)
    assert close(with_neg, reference_info_nce(q, k, 0.2, extra_negatives=neg))
    assert close(info_nce(q, k, 0.2, neg), with_neg)
    assert with_neg > info_nce(q, k, 0.2)  # more negatives, larger denominator


def test_false_negative_mask_matches_reference_and_lowers_loss(qk):
    q, k, neg = qk
    mask = torch.rand(6, 11, generator=torch.Generator().manual_seed(1)) < 0.4
    got = info_nce(q, k, 0.2, extra_negatives=neg, false_negative_mask=mask)
    assert close(got, reference_info_nce(q, k, 0.2, extra_negatives=neg, false_negative_mask=mask))
    assert got < info_nce(q, k, 0.2, extra_negatives=neg)


def test_mask_never_removes_the_positive(qk):
    q, k, _ = qk
    everything = torch.ones(6, 6, dtype=torch.bool)
    per_row = info_nce(q, k, 0.2, false_negative_mask=everything, reduction="none")
    torch.testing.assert_close(per_row, torch.zeros(6))  # only the positive is left in each row


def test_soft_positives_match_reference(qk):
    q, k, neg = qk
    w = torch.rand(6, 11, generator=torch.Generator().manual_seed(2))
    w[w < 0.6] = 0
    mask = torch.rand(6, 11, generator=torch.Generator().manual_seed(3)) < 0.3
    got = info_nce(q, k, 0.3, extra_negatives=neg, positive_weights=w, false_negative_mask=mask)
    ref = reference_info_nce(q, k, 0.3, extra_negatives=neg, positive_weights=w, false_negative_mask=mask)
    assert close(got, ref)


def test_soft_positives_change_the_value_as_they_should(qk):
    q, k, _ = qk
    one_hot = torch.eye(6)
    assert close(info_nce(q, k, 0.2, positive_weights=one_hot), info_nce(q, k, 0.2))
    # make key 1 a near copy of query 0: calling it a positive of row 0 lowers row 0's loss
    k2 = k.clone()
    k2[1] = q[0] + 0.01 * k[1]
    w = one_hot.clone()
    w[0, 1] = 1.0
    plain = info_nce(q, k2, 0.2, reduction="none")
    soft = info_nce(q, k2, 0.2, positive_weights=w, reduction="none")
    assert soft[0] < plain[0]
    torch.testing.assert_close(soft[1:], plain[1:])


def test_soft_positive_is_not_removed_by_the_mask(qk):
    q, k, _ = qk
    w = torch.eye(6)
    w[0, 3] = 0.5
    mask = torch.zeros(6, 6, dtype=torch.bool)
    mask[0, 3] = True
    assert close(info_nce(q, k, 0.2, positive_weights=w, false_negative_mask=mask),
                 info_nce(q, k, 0.2, positive_weights=w))


def test_bad_weights_raise(qk):
    q, k, _ = qk
    w = torch.eye(6)
    w[2, 2] = 0
    with pytest.raises(ValueError, match="some weight"):
        info_nce(q, k, positive_weights=w)
    with pytest.raises(ValueError, match="non-negative"):
        info_nce(q, k, positive_weights=-torch.eye(6))
    with pytest.raises(ValueError, match="positive_weights must be"):
        info_nce(q, k, positive_weights=torch.eye(5))
    with pytest.raises(ValueError, match="false_negative_mask must be"):
        info_nce(q, k, false_negative_mask=torch.zeros(6, 7, dtype=torch.bool))
    with pytest.raises(ValueError):
        info_nce(q, k[:5])


def test_extra_negative_scale(qk):
    q, k, neg = qk
    scale = torch.tensor([1.0, 0.9, 0.5, 0.2, 0.0])
    got = info_nce(q, k, 0.2, extra_negatives=neg, extra_negative_scale=scale)
    assert close(got, reference_info_nce(q, k, 0.2, extra_negatives=neg, extra_scale=scale))
    assert close(info_nce(q, k, 0.2, extra_negatives=neg, extra_negative_scale=torch.ones(5)),
                 info_nce(q, k, 0.2, extra_negatives=neg))
    with pytest.raises(ValueError, match="needs extra_negatives"):
        info_nce(q, k, extra_negative_scale=scale)
    with pytest.raises(ValueError, match="extra_negative_scale must be"):
        info_nce(q, k, extra_negatives=neg, extra_negative_scale=scale[:3])


def test_info_nce_from_logits_with_arbitrary_targets():
    g = torch.Generator().manual_seed(4)
    logits, targets = torch.randn(5, 9, generator=g), torch.tensor([3, 0, 8, 8, 1])
    torch.testing.assert_close(info_nce_from_logits(logits, targets), F.cross_entropy(logits, targets))
    q, k = torch.randn(5, 4, generator=g), torch.randn(9, 4, generator=g)
    got = info_nce_from_logits(contrastive_logits(q, k, 0.3), targets, reduction="none")
    ref = reference_info_nce(q, k, 0.3, targets=targets, reduction="none")
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-6)


def test_gradients_are_finite_with_every_option(qk):
    q, k, neg = qk
    q, k = q.clone().requires_grad_(), k.clone().requires_grad_()
    mask = torch.ones(6, 11, dtype=torch.bool)
    mask[:3] = False  # rows 3-5 have no negative left at all
    w = torch.eye(6, 11)
    w[0, 2] = 0.3
    loss = info_nce(q, k, 0.05, extra_negatives=neg, false_negative_mask=mask, positive_weights=w,
                    hard_negative_beta=1.0, hard_negative_top_k=4)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()
    assert q.grad.abs().sum() > 0


def test_same_video_mask_by_hand():
    vid = torch.tensor([0, 0, 0, 1])
    s, e = torch.tensor([0.0, 1.0, 0.5, 0.0]), torch.tensor([1.0, 2.0, 1.5, 1.0])
    overlap = same_video_mask(vid, vid, s, e, s, e, mode="overlap")
    expected = torch.tensor([[1, 0, 1, 0],     # [0, 1) touches [1, 2) only: not an overlap
                             [0, 1, 1, 0],
                             [1, 1, 1, 0],
                             [0, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(overlap, expected)
    video = same_video_mask(vid, vid, mode="video")
    assert torch.equal(video, vid[:, None] == vid[None, :])
    with pytest.raises(ValueError, match="missing"):
        same_video_mask(vid, vid, s, e, mode="overlap")
    with pytest.raises(ValueError, match="mode"):
        same_video_mask(vid, vid, mode="clip")
    with pytest.raises(ValueError, match="starts_k"):
        same_video_mask(vid, vid, s, e, s[:2], e, mode="overlap")


def test_same_video_mask_matches_loop():
    g = torch.Generator().manual_seed(6)
    vq, vk = torch.randint(3, (7,), generator=g), torch.randint(3, (9,), generator=g)
    sq, sk = torch.rand(7, generator=g) * 4, torch.rand(9, generator=g) * 4
    eq, ek = sq + 1, sk + 1
    got = same_video_mask(vq, vk, sq, eq, sk, ek)
    for i in range(7):
        for j in range(9):
            want = vq[i] == vk[j] and max(sq[i], sk[j]) < min(eq[i], ek[j])
            assert bool(got[i, j]) == bool(want)


def test_mask_and_soft_positives_plug_into_info_nce(qk):
    # two clips of each of three videos; a clip's twin in the same video must not be a negative
    q, k, _ = qk
    vid, t = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([0.0, 3.0, 0.0, 3.0, 0.0, 3.0])
    mask = same_video_mask(vid, vid, mode="video")
    # soft positives: every clip of the same video, weighted by closeness in time
    same = vid[:, None] == vid[None, :]
    w = torch.exp(-(t[:, None] - t[None, :]) ** 2 / (2 * 2.0 ** 2)) * same
    assert close(info_nce(q, k, 0.2, false_negative_mask=mask),
                 reference_info_nce(q, k, 0.2, false_negative_mask=mask))
    assert close(info_nce(q, k, 0.2, positive_weights=w), reference_info_nce(q, k, 0.2, positive_weights=w))
    assert not close(info_nce(q, k, 0.2, positive_weights=w), info_nce(q, k, 0.2))
