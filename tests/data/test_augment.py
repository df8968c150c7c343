import numpy as np
import pytest
import torch

from vcl_core.data.augment import (AugmentConfig, apply_spatial, center_view, color_jitter, draw_spatial,
                                   normalize)


def _clip(t=6, h=40, w=48):
    g = torch.Generator().manual_seed(0)
    frame = torch.randint(0, 255, (h, w, 3), generator=g, dtype=torch.uint8)
    return frame[None].repeat(t, 1, 1, 1)


def test_one_draw_per_clip_transforms_every_frame_alike():
    cfg = AugmentConfig(crop_size=24, flip_p=0.5, grayscale_p=0.5)
    clip = _clip()  # every frame identical
    for seed in range(20):
        p = draw_spatial(np.random.default_rng(seed), 40, 48, cfg)
        out = apply_spatial(clip, p, cfg)
        assert out.shape == (3, 6, 24, 24)
        for t in range(1, 6):  # identical input frames stay identical: the same transform
            torch.testing.assert_close(out[:, t], out[:, 0])


def test_draws_are_deterministic_and_vary():
    cfg = AugmentConfig()
    a = draw_spatial(np.random.default_rng(3), 40, 48, cfg)
    assert a == draw_spatial(np.random.default_rng(3), 40, 48, cfg)
    boxes = {draw_spatial(np.random.default_rng(s), 40, 48, cfg).box for s in range(30)}
    assert len(boxes) > 20
    for s in range(200):
        top, left, h, w = draw_spatial(np.random.default_rng(s), 40, 48, cfg).box
        assert 0 <= top and top + h <= 40 and 0 <= left and left + w <= 48


def test_color_jitter_reference_values():
    x = torch.full((1, 3, 2, 2), 0.5)
    x[:, 0] = 0.8
    # identity parameters leave the clip unchanged
    torch.testing.assert_close(color_jitter(x, (1.0, 1.0, 1.0, 0.0)), x)
    # brightness scales, then clamps
    torch.testing.assert_close(color_jitter(x, (2.0, 1.0, 1.0, 0.0)), (x * 2).clamp(0, 1))
    # zero saturation gives grey (equal channels)
    g = color_jitter(x, (1.0, 1.0, 0.0, 0.0))
    torch.testing.assert_close(g[:, 0], g[:, 1])
    # a full hue turn is the identity
    torch.testing.assert_close(color_jitter(x, (1.0, 1.0, 1.0, 1.0)), x, atol=1e-5, rtol=0)


def test_flip_mirrors_and_center_view_is_deterministic():
    clip = _clip()
    cfg = AugmentConfig(crop_size=40, crop_scale=(1.0, 1.0), crop_ratio=(48 / 40, 48 / 40), jitter_p=0, grayscale_p=0,
                        flip_p=1.0)
    p = draw_spatial(np.random.default_rng(0), 40, 48, cfg)
    assert p.box == (0, 0, 40, 48) and p.flip
    a = apply_spatial(clip, p, cfg)
    b = apply_spatial(clip, p.__class__(p.box, False, None, False), cfg)
    torch.testing.assert_close(a, b.flip(-1))
    torch.testing.assert_close(center_view(clip, 32), center_view(clip, 32))
    assert center_view(clip, 32).shape == (3, 6, 32, 32)


def test_normalize_layout_and_values():
    x = torch.full((4, 3, 5, 5), 0.45)
    y = normalize(x)
    assert y.shape == (3, 4, 5, 5) and torch.allclose(y, torch.zeros_like(y), atol=1e-6)


def test_bad_probabilities_are_rejected():
    with pytest.raises(ValueError, match="flip_p"):
        AugmentConfig(flip_p=1.5)
    with pytest.raises(ValueError, match="crop_scale"):
        AugmentConfig(crop_scale=(0.0, 1.0))
