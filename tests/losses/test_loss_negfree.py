"""BYOL and SimSiam losses: values by hand, stop-gradient on the target, how they relate."""
from __future__ import annotations

import pytest
import torch

from loss_reference import close, dot, unit
from vcl_core.losses import byol_loss, simsiam_loss


@pytest.fixture
def pz():
    g = torch.Generator().manual_seed(50)
    return torch.randn(6, 5, generator=g, requires_grad=True), torch.randn(6, 5, generator=g, requires_grad=True)


def test_byol_is_normalised_mse(pz):
    p, z = pz
    want = sum(sum((a - b) ** 2 for a, b in zip(unit(p[i]), unit(z[i]))) for i in range(6)) / 6
    assert close(byol_loss(p, z), want)


def test_simsiam_is_negative_cosine(pz):
    p, z = pz
    assert close(simsiam_loss(p, z), -sum(dot(unit(p[i]), unit(z[i])) for i in range(6)) / 6)
    assert close(byol_loss(p, z), 2 + 2 * simsiam_loss(p, z))


@pytest.mark.parametrize("loss_fn", [byol_loss, simsiam_loss])
def test_gradient_stops_at_the_target(pz, loss_fn):
    p, z = pz
    loss_fn(p, z).backward()
    assert z.grad is None
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_minimum_at_aligned_predictions():
    z = torch.randn(4, 8)
    assert close(byol_loss(2 * z, z), 0.0) and close(byol_loss(-z, z), 4.0)
    assert close(simsiam_loss(0.3 * z, z), -1.0)
    with pytest.raises(ValueError):
        byol_loss(z, z[:, :4])
    with pytest.raises(ValueError):
        simsiam_loss(z[0], z[0])
