"""Multi-scale InfoNCE: one term per scale, all ordered view pairs, per-scale weight/temperature/negatives."""
from __future__ import annotations

import pytest
import torch

from loss_reference import close, reference_info_nce
from vcl_core.losses import info_nce, multiscale_info_nce


@pytest.fixture
def views():
    g = torch.Generator().manual_seed(20)
    return {"short": [torch.randn(5, 6, generator=g) for _ in range(3)],
            "long": [torch.randn(5, 4, generator=g) for _ in range(2)]}


def reference_term(z, t, negs=None):
    pairs = [(a, b) for a in range(len(z)) for b in range(len(z)) if a != b]
    return sum(reference_info_nce(z[a], z[b], t, extra_negatives=negs) for a, b in pairs) / len(pairs)


def test_matches_reference_with_weights_temperatures_and_negatives(views):
    negs = {"long": torch.randn(3, 4, generator=torch.Generator().manual_seed(21))}
    total, terms = multiscale_info_nce(views, temperature={"short": 0.1, "long": 0.4},
                                       weights={"short": 2.0, "long": 0.5}, extra_negatives=negs)
    ref_short = reference_term(views["short"], 0.1)
    ref_long = reference_term(views["long"], 0.4, negs["long"])
    assert close(terms["short"], ref_short) and close(terms["long"], ref_long)
    assert close(total, 2.0 * ref_short + 0.5 * ref_long)


def test_default_weights_are_the_mean_and_one_temperature_serves_all(views):
    total, terms = multiscale_info_nce(views, temperature=0.2)
    assert close(total, (reference_term(views["short"], 0.2) + reference_term(views["long"], 0.2)) / 2)
    assert set(terms) == {"short", "long"}


def test_each_scale_has_its_own_temperature_and_negatives(views):
    _, a = multiscale_info_nce(views, temperature={"short": 0.1, "long": 0.2})
    _, b = multiscale_info_nce(views, temperature={"short": 0.1, "long": 0.5})
    assert close(a["short"], b["short"]) and not close(a["long"], b["long"])
    negs = {"short": torch.randn(4, 6)}
    _, c = multiscale_info_nce(views, temperature={"short": 0.1, "long": 0.2}, extra_negatives=negs)
    assert c["short"] > a["short"] and close(c["long"], a["long"])


def test_options_are_forwarded_to_info_nce(views):
    _, plain = multiscale_info_nce(views, temperature=0.2)
    _, hard = multiscale_info_nce(views, temperature=0.2, hard_negative_beta=1.0)
    z = views["long"]
    want = (info_nce(z[0], z[1], 0.2, hard_negative_beta=1.0) + info_nce(z[1], z[0], 0.2, hard_negative_beta=1.0)) / 2
    assert close(hard["long"], want) and hard["long"] > plain["long"]


def test_gradients_reach_every_view(views):
    views = {s: [v.clone().requires_grad_() for v in vs] for s, vs in views.items()}
    total, _ = multiscale_info_nce(views, temperature=0.1)
    total.backward()
    assert all(torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0 for vs in views.values() for v in vs)


def test_bad_inputs_raise(views):
    with pytest.raises(ValueError, match="at least two"):
        multiscale_info_nce({"short": views["short"][:1]})
    with pytest.raises(ValueError, match="no entry"):
        multiscale_info_nce(views, temperature={"short": 0.1})
    with pytest.raises(ValueError, match="unknown"):
        multiscale_info_nce(views, weights={"short": 1.0, "long": 1.0, "mid": 1.0})
    with pytest.raises(ValueError, match="unknown"):
        multiscale_info_nce(views, extra_negatives={"mid": torch.randn(2, 6)})
    with pytest.raises(ValueError, match="one shape"):
        multiscale_info_nce({"short": [torch.randn(5, 6), torch.randn(4, 6)]})
    with pytest.raises(ValueError, match="empty"):
        multiscale_info_nce({})


def test_momentum_keys_and_per_key_negatives_match_the_reference(views):
    """MoCo-style keys from another network, and negatives that belong to one key (that clip
    played backwards) placed before the scale's shared ones."""
    g = torch.Generator().manual_seed(22)
    z = views["short"]
    keys = [torch.randn(5, 6, generator=g) for _ in z]
    own = {0: torch.randn(5, 6, generator=g), 2: torch.randn(5, 6, generator=g)}
    queue = torch.randn(7, 6, generator=g)
    _, terms = multiscale_info_nce({"short": z}, 0.1, keys_by_scale={"short": keys},
                                   key_negatives={"short": own}, extra_negatives={"short": queue})
    pairs = [(a, b) for a in range(3) for b in range(3) if a != b]
    want = sum(reference_info_nce(z[a], keys[b], 0.1,
                                  extra_negatives=torch.cat([own[b], queue]) if b in own else queue)
               for a, b in pairs) / len(pairs)
    assert close(terms["short"], want)
