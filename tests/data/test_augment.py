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


def test_blur_is_drawn_per_clip_and_validated():
    cfg = AugmentConfig(crop_size=24, blur_p=1.0, blur_sigma=(0.5, 1.5))
    sig = [draw_spatial(np.random.default_rng(s), 40, 48, cfg).blur for s in range(20)]
    assert all(0.5 <= s <= 1.5 for s in sig) and len(set(sig)) > 10
    assert draw_spatial(np.random.default_rng(0), 40, 48, AugmentConfig()).blur == 0.0
    # blur off draws nothing: the other parameters are those drawn before blur existed
    a = draw_spatial(np.random.default_rng(4), 40, 48, AugmentConfig())
    b = draw_spatial(np.random.default_rng(4), 40, 48, AugmentConfig(blur_p=1.0))
    assert (a.box, a.flip, a.jitter, a.gray) == (b.box, b.flip, b.jitter, b.gray) and b.blur > 0
    with pytest.raises(ValueError, match="blur_sigma"):
        AugmentConfig(blur_sigma=(0.0, 1.0))
    with pytest.raises(ValueError, match="blur_p"):
        AugmentConfig(blur_p=2.0)


def _reference_spatial(clip, p, cfg):
    """The transform step by step, one op per step (the obviously-correct slow path)."""
    from vcl_core.data.augment import _gray, resize, to_float

    top, left, h, w = p.box
    x = resize(to_float(clip[:, top:top + h, left:left + w]), cfg.crop_size)
    if p.flip:
        x = x.flip(-1)
    if p.jitter is not None:
        x = color_jitter(x, p.jitter)
    if p.gray:
        x = _gray(x).expand(-1, 3, -1, -1)
    return normalize(x)


def test_fused_spatial_transform_matches_the_step_by_step_reference():
    g = torch.Generator().manual_seed(1)
    clip = torch.randint(0, 256, (5, 37, 61, 3), generator=g, dtype=torch.uint8)
    cfg = AugmentConfig(crop_size=32, flip_p=0.5, grayscale_p=0.3, crop_scale=(0.2, 1.0))
    for s in range(40):
        p = draw_spatial(np.random.default_rng(s), 37, 61, cfg)
        torch.testing.assert_close(apply_spatial(clip, p, cfg), _reference_spatial(clip, p, cfg), atol=2e-5, rtol=0)


def test_color_jitter_is_the_composition_of_its_steps():
    from vcl_core.data.augment import _gray

    x = torch.rand(3, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    b, c, s, h = 1.2, 0.7, 1.3, 0.15
    y = x * b
    m = _gray(y).mean()
    y = (y - m) * c + m
    gy = _gray(y)
    y = (y - gy) * s + gy
    import math as _m

    yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=torch.float64)
    rot = torch.tensor([[1.0, 0, 0], [0, _m.cos(2 * _m.pi * h), -_m.sin(2 * _m.pi * h)],
                        [0, _m.sin(2 * _m.pi * h), _m.cos(2 * _m.pi * h)]], dtype=torch.float64)
    hue = (torch.linalg.inv(yiq) @ rot @ yiq).float()
    y = torch.einsum("ij,tjhw->tihw", hue, y).clamp(0, 1)
    torch.testing.assert_close(color_jitter(x, (b, c, s, h)), y, atol=1e-5, rtol=0)


def test_batch_transform_matches_each_clip_on_its_own_padded_frames():
    """apply_spatial_batch on a padded batch of clips of different frame sizes gives what each
    clip's own apply_spatial_views gives (every crop reads its own frame, never the padding)."""
    from vcl_core.data.augment import apply_spatial_batch, apply_spatial_views
    from vcl_core.data.dataset import _stack_frames

    g = torch.Generator().manual_seed(2)
    sizes = [(37, 61), (48, 48), (30, 40), (48, 70), (37, 61), (52, 36)]
    clips = [torch.randint(0, 256, (5, h, w, 3), generator=g, dtype=torch.uint8) for h, w in sizes]
    cfg = AugmentConfig(crop_size=24, flip_p=0.5, grayscale_p=0.4, jitter_p=0.7, blur_p=0.5, crop_scale=(0.2, 1.0))
    params = [draw_spatial(np.random.default_rng(i), h, w, cfg) for i, (h, w) in enumerate(sizes)]
    assert {p.flip for p in params} == {p.gray for p in params} == {True, False}
    assert any(p.jitter is None for p in params) and any(p.blur > 0 for p in params)
    batch = _stack_frames(clips)
    assert batch.shape == (6, 5, 52, 70, 3) and batch[2, :, 30:].sum() == 0
    out = apply_spatial_batch(batch, params, 24)
    assert out.shape == (6, 3, 5, 24, 24)
    for i, (c, p) in enumerate(zip(clips, params)):
        torch.testing.assert_close(out[i], apply_spatial_views([c], [p], 24)[0], atol=2e-5, rtol=0)
    with pytest.raises(ValueError, match="2 parameter sets for 6 clips"):
        apply_spatial_batch(batch, params[:2], 24)


def test_the_colour_clamp_with_per_channel_bounds_gives_the_number_bounds_result(monkeypatch):
    """The jitter's clamp runs after normalisation; with channels that share MEAN and STD its
    bounds are numbers, otherwise per-channel tensors: both must clamp the same values."""
    from vcl_core.data import augment

    g = torch.Generator().manual_seed(3)
    clip = torch.randint(0, 256, (4, 30, 40, 3), generator=g, dtype=torch.uint8)
    cfg = AugmentConfig(crop_size=16, jitter_p=1.0, grayscale_p=0.0, brightness=0.9, contrast=0.9)
    params = [draw_spatial(np.random.default_rng(s), 30, 40, cfg) for s in range(6)]
    assert isinstance(augment._NORM_RANGE[0], float)
    want = [apply_spatial(clip, p, cfg) for p in params]
    monkeypatch.setattr(augment, "_NORM_RANGE", (augment._NORM_B, augment._NORM_HI))
    got = [apply_spatial(clip, p, cfg) for p in params]
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    # strong jitter saturates: the clamp is exercised, at both ends
    lo, hi = float(augment._NORM_B[0]), float(augment._NORM_HI[0])
    flat = torch.cat([w.flatten() for w in want])
    assert (flat <= lo + 1e-6).any() and (flat >= hi - 1e-6).any()


def test_spatial_views_write_into_given_tensors():
    """``out=``: the same numbers in the caller's tensors (the dataset's batch rows), and a
    clear error for a tensor of the wrong shape."""
    from vcl_core.data.augment import apply_spatial_views

    rng = np.random.default_rng(4)
    cfg = AugmentConfig(crop_size=16, flip_p=0.5, grayscale_p=0.5, jitter_p=0.7, blur_p=0.3)
    clips = [torch.from_numpy(rng.integers(0, 256, (t, 24, 28, 3), dtype=np.uint8)) for t in (4, 6, 4)]
    params = [draw_spatial(rng, 24, 28, cfg) for _ in clips]
    fresh = apply_spatial_views(clips, params, 16)
    out = [torch.full((3, c.shape[0], 16, 16), float("nan")) for c in clips]
    given = apply_spatial_views(clips, params, 16, out)
    for f, g, o in zip(fresh, given, out):
        assert g.data_ptr() == o.data_ptr() and torch.equal(f, o)
    with pytest.raises(ValueError, match="out must be"):
        apply_spatial_views(clips[:1], params[:1], 16, [torch.empty(3, 4, 16, 15)])
