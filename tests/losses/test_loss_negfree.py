"""BYOL's loss: values by hand, stop-gradient on the target."""
from __future__ import annotations

import pytest
import torch

from loss_reference import close, unit
from vcl_core.losses import byol_loss


@pytest.fixture
def pz():
    g = torch.Generator().manual_seed(50)
    return torch.randn(6, 5, generator=g, requires_grad=True), torch.randn(6, 5, generator=g, requires_grad=True)


def test_byol_is_normalised_mse(pz):
    p, z = pz
    want = sum(sum((a - b) ** 2 for a, b in zip(unit(p[i]), unit(z[i]))) for i in range(6)) / 6
    assert close(byol_loss(p, z), want)


def test_gradient_stops_at_the_target(pz):
    p, z = pz
    byol_loss(p, z).backward()
    assert z.grad is None
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_minimum_at_aligned_predictions():
    z = torch.randn(4, 8)
    assert close(byol_loss(2 * z, z), 0.0) and close(byol_loss(-z, z), 4.0)
    with pytest.raises(ValueError):
        byol_loss(z, z[:, :4])
    with pytest.raises(ValueError):
        byol_loss(z[0], z[0])
