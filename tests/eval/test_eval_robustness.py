"""Robustness perturbations (pure functions of a video and a generator) and their settings."""
import numpy as np
import pytest
import torch

from vcl_core.eval import PERTURBATIONS, RobustnessConfig, make_perturbation


def _video(frames=24, size=20, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(30, 220, (frames, size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_perturbations_are_deterministic_uint8_and_change_the_video(name):
    v = _video()
    fn = make_perturbation(name, RobustnessConfig())
    a, b = fn(v, np.random.default_rng(5)), fn(v, np.random.default_rng(5))
    assert a.dtype == torch.uint8 and a.shape[1:] == v.shape[1:]
    assert torch.equal(a, b)
    assert a.shape != v.shape or not torch.equal(a, v)


def test_frame_rate_and_drops_keep_real_frames():
    v = _video()
    fast = make_perturbation("frame_rate", RobustnessConfig(frame_rate=3))(v, np.random.default_rng(0))
    assert torch.equal(fast, v[::3])
    held = make_perturbation("frame_drops", RobustnessConfig(drop_p=0.5))(v, np.random.default_rng(0))
    assert len(held) == len(v) and torch.equal(held[0], v[0])
    src = [next(j for j in range(len(v)) if torch.equal(f, v[j])) for f in held]
    assert all(s <= t for t, s in enumerate(src)) and src == sorted(src)  # each frame holds an earlier one
    assert len(set(src)) < len(v)  # some were dropped


def test_lighting_ramps_and_shake_moves_content():
    v = torch.full((10, 16, 16, 3), 100, dtype=torch.uint8)
    lit = make_perturbation("lighting", RobustnessConfig(lighting_strength=0.5))(v, np.random.default_rng(1))
    means = lit.float().mean(dim=(1, 2, 3))
    assert not torch.allclose(means[0], means[-1])
    steps = means.diff()
    assert (steps >= -0.6).all() or (steps <= 0.6).all()  # monotone ramp up to rounding
    grad = torch.arange(16, dtype=torch.uint8).mul(15).view(1, 1, 16, 1).expand(10, 16, 16, 3).contiguous()
    shaken = make_perturbation("camera_shake", RobustnessConfig(shake=0.05))(grad, np.random.default_rng(2))
    assert len({tuple(f[8, :, 0].tolist()) for f in shaken}) > 1  # frames see different windows


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="unknown or no perturbations"):
        RobustnessConfig(perturbations=("fog",))
    with pytest.raises(ValueError, match="frame_rate"):
        RobustnessConfig(frame_rate=1)
    with pytest.raises(ValueError, match="unknown perturbation"):
        make_perturbation("fog", RobustnessConfig())
