"""Temperature schedules (fixed, warm-up, cosine) and the learned, clamped temperature."""
from __future__ import annotations

import math

import pytest
import torch

from vcl_core.losses import LearnedTemperature, TemperatureSchedule, info_nce


def test_fixed():
    s = TemperatureSchedule("fixed", start=0.07)
    assert s(0) == s(10_000) == 0.07


def test_warmup_is_linear_then_constant():
    s = TemperatureSchedule("warmup", start=0.04, end=0.07, warmup_steps=30)
    assert s(0) == pytest.approx(0.04)
    assert s(10) == pytest.approx(0.05)
    assert s(30) == pytest.approx(0.07) and s(1000) == pytest.approx(0.07)
    assert s(-3) == pytest.approx(0.04)


def test_cosine_goes_from_start_to_end():
    s = TemperatureSchedule("cosine", start=0.5, end=0.1, total_steps=100)
    assert s(0) == pytest.approx(0.5) and s(100) == pytest.approx(0.1) and s(250) == pytest.approx(0.1)
    assert s(50) == pytest.approx(0.3)
    assert s(25) == pytest.approx(0.1 + 0.4 * (1 + math.cos(math.pi / 4)) / 2)
    values = [s(i) for i in range(101)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_schedule_rejects_missing_and_unused_parameters():
    with pytest.raises(ValueError, match="needs"):
        TemperatureSchedule("warmup", start=0.1, end=0.2)
    with pytest.raises(ValueError, match="does not use"):
        TemperatureSchedule("fixed", start=0.1, end=0.2)
    with pytest.raises(ValueError, match="does not use"):
        TemperatureSchedule("cosine", start=0.1, end=0.2, total_steps=10, warmup_steps=5)
    with pytest.raises(ValueError, match="kind"):
        TemperatureSchedule("step")
    with pytest.raises(ValueError, match="> 0"):
        TemperatureSchedule("fixed", start=0.0)
    with pytest.raises(ValueError, match=">= 1"):
        TemperatureSchedule("cosine", start=0.1, end=0.2, total_steps=0)


def test_learned_temperature_starts_at_init_and_gets_gradients():
    tau = LearnedTemperature(init=0.2)
    assert tau().item() == pytest.approx(0.2)
    g = torch.Generator().manual_seed(60)
    q, k = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    info_nce(q, k, temperature=tau()).backward()
    assert tau.log_temperature.grad is not None and tau.log_temperature.grad.abs() > 0


def test_learned_temperature_moves_under_sgd_and_stays_in_bounds():
    g = torch.Generator().manual_seed(61)
    q = torch.randn(16, 8, generator=g)
    k = q + 0.1 * torch.randn(16, 8, generator=g)  # easy positives: a lower temperature lowers the loss
    tau = LearnedTemperature(init=0.5, min=0.05, max=1.0)
    opt = torch.optim.SGD(tau.parameters(), lr=1.0)
    first = info_nce(q, k, tau()).item()
    for _ in range(50):
        loss = info_nce(q, k, tau())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert info_nce(q, k, tau()).item() < first
    assert 0.05 - 1e-6 <= tau().item() < 0.5


def test_learned_temperature_clamps_the_parameter_so_it_can_come_back():
    tau = LearnedTemperature(init=0.1, min=0.05, max=0.5)
    with torch.no_grad():
        tau.log_temperature.fill_(math.log(5.0))  # an optimiser step overshot the bound
    assert tau().item() == pytest.approx(0.5)
    assert tau.log_temperature.item() == pytest.approx(math.log(0.5))  # the parameter itself was pulled back
    value = tau()
    value.backward()
    assert tau.log_temperature.grad != 0  # still trainable at the bound
    with pytest.raises(ValueError):
        LearnedTemperature(init=2.0, min=0.01, max=1.0)
    with pytest.raises(ValueError):
        LearnedTemperature(init=0.1, min=0.0)
