"""EMA target encoders: the update is exact, buffers are copied, the schedule is BYOL's."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn as nn

from vcl_core.losses import MomentumEncoder, cosine_momentum, ema_update


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double()


def perturb(m: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    m.train()
    m(torch.randn(8, 4, generator=g, dtype=torch.float64))  # moves the BN running stats and counter


def test_ema_update_is_exact():
    online, target = net(), net()
    perturb(online, 0)
    perturb(target, 1)
    before = {n: p.detach().clone() for n, p in target.named_parameters()}
    m = 0.9
    ema_update(online, target, m)
    for name, p_online in online.named_parameters():
        want = m * before[name] + (1 - m) * p_online.detach()
        torch.testing.assert_close(dict(target.named_parameters())[name].detach(), want, rtol=0, atol=1e-15)
    for (name, b_online), (_, b_target) in zip(online.named_buffers(), target.named_buffers()):
        assert torch.equal(b_online, b_target), name  # running stats and num_batches_tracked copied
    assert int(dict(target.named_buffers())["1.num_batches_tracked"]) == 1


def test_ema_update_extremes():
    online, target = net(), net()
    perturb(online, 2)
    frozen = copy.deepcopy(target)
    ema_update(online, target, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), frozen.parameters()))
    ema_update(online, target, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), online.parameters()))


def test_ema_update_rejects_mismatches():
    with pytest.raises(ValueError, match="momentum"):
        ema_update(net(), net(), 1.5)
    with pytest.raises(ValueError, match="differ"):
        ema_update(net(), nn.Linear(4, 3).double(), 0.9)
    with pytest.raises(ValueError, match="online"):
        ema_update(nn.Linear(4, 3), nn.Linear(4, 5), 0.9)


def test_cosine_momentum_schedule():
    assert cosine_momentum(0, 100) == pytest.approx(0.99)
    assert cosine_momentum(100, 100) == pytest.approx(1.0)
    assert cosine_momentum(25, 100, base=0.9) == pytest.approx(1 - 0.1 * (1 + math.cos(math.pi / 4)) / 2)
    values = [cosine_momentum(s, 50, base=0.9) for s in range(51)]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert cosine_momentum(-5, 100) == cosine_momentum(0, 100) and cosine_momentum(500, 100) == cosine_momentum(100, 100)
    with pytest.raises(ValueError):
        cosine_momentum(1, 0)
    with pytest.raises(ValueError):
        cosine_momentum(1, 10, base=-0.1)


def test_momentum_encoder_tracks_the_online_network():
    torch.manual_seed(0)
    online = nn.Linear(4, 3).double()
    key_encoder = MomentumEncoder(online)
    assert all(not p.requires_grad for p in key_encoder.parameters())
    assert sum(p.numel() for p in key_encoder.parameters()) == sum(p.numel() for p in online.parameters())
    assert set(key_encoder.state_dict()) == {"module.weight", "module.bias"}  # online is not saved twice

    x = torch.randn(5, 4, dtype=torch.float64)
    assert not key_encoder(x).requires_grad
    opt = torch.optim.SGD(online.parameters(), lr=0.1)
    online(x).pow(2).sum().backward()
    opt.step()
    before = key_encoder.module.weight.detach().clone()
    key_encoder.update(momentum=0.8)
    torch.testing.assert_close(key_encoder.module.weight, 0.8 * before + 0.2 * online.weight.detach(), rtol=0, atol=1e-15)
    assert not torch.equal(key_encoder.module.weight, online.weight)
