"""Hard negatives: Robinson et al.'s re-weighting (as their code computes it) and top-k mining."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from loss_reference import close, reference_info_nce
from vcl_core.losses import info_nce, keep_hardest_negatives, reweight_hard_negatives


def hcl_as_in_the_authors_code(q, k, t, beta):
    """joshr17/HCL's estimator with tau_plus = 0 and no clamp, for InfoNCE's B x B layout."""
    q, k = F.normalize(q.double(), dim=1), F.normalize(k.double(), dim=1)
    b = q.shape[0]
    exp = torch.exp(q @ k.T / t)
    pos = exp.diagonal()
    neg = exp.masked_select(~torch.eye(b, dtype=torch.bool)).view(b, b - 1)
    imp = (beta * neg.log()).exp()
    reweight_neg = (imp * neg).sum(dim=-1) / imp.mean(dim=-1)
    return (-torch.log(pos / (pos + reweight_neg))).mean()


@pytest.fixture
def qk():
    g = torch.Generator().manual_seed(10)
    return torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g), torch.randn(4, 5, generator=g)


def test_beta_zero_is_plain_info_nce(qk):
    q, k, _ = qk
    assert close(info_nce(q, k, 0.2, hard_negative_beta=0.0), info_nce(q, k, 0.2))


@pytest.mark.parametrize("beta", [0.5, 1.0, 3.0])
def test_reweighting_matches_the_authors_estimator_value_and_gradient(qk, beta):
    q, k, _ = qk
    q1, k1 = q.double().requires_grad_(), k.double().requires_grad_()
    ours = info_nce(q1, k1, 0.3, hard_negative_beta=beta)
    ours.backward()
    q2, k2 = q.double().requires_grad_(), k.double().requires_grad_()
    theirs = hcl_as_in_the_authors_code(q2, k2, 0.3, beta)
    theirs.backward()
    assert close(ours, theirs)
    # gradients flow through the importance weights, as in the authors' code
    torch.testing.assert_close(q1.grad, q2.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(k1.grad, k2.grad, rtol=1e-4, atol=1e-6)


def test_reweighting_raises_the_loss(qk):
    # sum_j M q_j e^{s_j} >= sum_j e^{s_j} when q puts more mass on larger s_j (Chebyshev)
    q, k, neg = qk
    plain = info_nce(q, k, 0.2, extra_negatives=neg, reduction="none")
    hard = info_nce(q, k, 0.2, extra_negatives=neg, hard_negative_beta=1.0, reduction="none")
    assert (hard >= plain - 1e-6).all() and (hard > plain).any()


def test_top_k_matches_reference(qk):
    q, k, neg = qk
    for top_k in (1, 3):
        got = info_nce(q, k, 0.2, extra_negatives=neg, hard_negative_top_k=top_k)
        assert close(got, reference_info_nce(q, k, 0.2, extra_negatives=neg, top_k=top_k))
    everything = info_nce(q, k, 0.2, extra_negatives=neg, hard_negative_top_k=100)
    assert close(everything, info_nce(q, k, 0.2, extra_negatives=neg))
    assert info_nce(q, k, 0.2, extra_negatives=neg, hard_negative_top_k=2) < everything


def test_mask_then_top_k_then_reweighting_match_reference(qk):
    q, k, neg = qk
    mask = torch.rand(7, 11, generator=torch.Generator().manual_seed(11)) < 0.3
    w = torch.eye(7, 11)
    w[1, 4] = 0.5
    got = info_nce(q, k, 0.25, extra_negatives=neg, false_negative_mask=mask, positive_weights=w,
                   hard_negative_beta=0.7, hard_negative_top_k=5)
    ref = reference_info_nce(q, k, 0.25, extra_negatives=neg, false_negative_mask=mask, positive_weights=w,
                             beta=0.7, top_k=5)
    assert close(got, ref)


def test_keep_hardest_negatives_by_hand():
    logits = torch.tensor([[5.0, 3.0, 1.0, 2.0, 4.0],
                           [0.0, 1.0, 2.0, 3.0, 4.0]])
    negatives = torch.tensor([[False, True, True, True, True],
                              [True, False, False, False, False]])
    kept = keep_hardest_negatives(logits, negatives, k=2)
    assert torch.equal(kept, torch.tensor([[False, True, False, False, True],
                                           [True, False, False, False, False]]))


def test_reweight_leaves_non_negatives_and_empty_rows_alone():
    logits = torch.randn(3, 4, generator=torch.Generator().manual_seed(12), requires_grad=True)
    negatives = torch.tensor([[False, True, True, False], [False, False, False, False], [True, True, True, True]])
    out = reweight_hard_negatives(logits, negatives, beta=2.0)
    assert torch.equal(out[~negatives], logits[~negatives])
    # the exp-mass of a row's negatives becomes M * sum q e^l with q = softmax(beta l) over them
    row = logits[2].detach()
    want = 4 * (torch.softmax(2.0 * row, 0) * row.exp()).sum()
    assert close(out[2].exp().sum(), want)
    out.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_bad_hard_negative_options_raise(qk):
    q, k, _ = qk
    with pytest.raises(ValueError, match="beta"):
        info_nce(q, k, hard_negative_beta=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        info_nce(q, k, hard_negative_top_k=0)
    with pytest.raises(ValueError):
        keep_hardest_negatives(torch.zeros(2, 3), torch.zeros(2, 3), k=1)  # not a bool mask
