"""The pure temporal perturbations: reference values, invariants, and draw/apply contracts."""
import math

import numpy as np
import pytest
import torch

from vcl_core.data.perturb import (MASK_FILL, CameraMotion, LightingDrift, apply_blur, apply_camera, apply_drop,
                                    apply_lighting, apply_permutation, apply_tube_mask, draw_blur, draw_camera,
                                    draw_drop, draw_lighting, draw_order, draw_shuffle, draw_speed, draw_tube_mask,
                                    hold_indices, resample_clip, reverse_permutation, speed_indices)
from vcl_core.data.temporal_augment import (TemporalAugmentConfig, apply_clip_params, apply_frame_params,
                                            draw_clip_params, draw_frame_params)


def _clip(t=6, h=20, w=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, h, w, 3), generator=g, dtype=torch.uint8)


def _untouched(rng_factory, fn):
    """True if ``fn(rng)`` leaves the generator where it was."""
    a, b = rng_factory(), rng_factory()
    fn(a)
    return a.random() == b.random()


def test_drop_keeps_the_first_frame_and_holds_the_previous_one():
    keep = np.array([True, False, False, True, False, True])
    np.testing.assert_array_equal(hold_indices(keep), [0, 0, 0, 3, 3, 5])
    clip = _clip()
    held = apply_drop(clip, keep)
    assert torch.equal(held, clip[[0, 0, 0, 3, 3, 5]])
    np.testing.assert_array_equal(apply_drop(np.arange(10, 16), keep), [10, 10, 10, 13, 13, 15])
    np.testing.assert_array_equal(apply_drop(np.arange(6), keep, "remove"), [0, 3, 5])
    rng = np.random.default_rng(0)
    masks = np.stack([draw_drop(rng, 16, 0.3) for _ in range(2000)])
    assert masks[:, 0].all()
    assert abs((~masks[:, 1:]).mean() - 0.3) < 0.01
    assert _untouched(lambda: np.random.default_rng(1), lambda r: draw_drop(r, 16, 0.0))
    with pytest.raises(ValueError, match="first frame"):
        hold_indices(np.array([False, True]))
    with pytest.raises(ValueError, match="drop mode"):
        apply_drop(np.arange(2), np.array([True, True]), "smear")


def test_speed_rescales_the_window_about_its_first_frame():
    w = np.array([10, 12, 14, 16])
    np.testing.assert_array_equal(speed_indices(w, 2.0, 100), [10, 14, 18, 22])
    np.testing.assert_array_equal(speed_indices(w, 0.5, 100), [10, 11, 12, 13])
    np.testing.assert_array_equal(speed_indices(w, 3.0, 20, "pad"), [10, 16, 19, 19])
    np.testing.assert_array_equal(speed_indices(w, 3.0, 20, "loop"), [10, 16, 2, 8])
    clip = _clip(8)
    assert torch.equal(resample_clip(clip, 2.0), clip[[0, 2, 4, 6, 7, 7, 7, 7]])
    assert torch.equal(resample_clip(clip, 0.5, 4), clip[[0, 0, 1, 1]])
    assert draw_speed(np.random.default_rng(0), (1.5,)) == 1.5
    draws = {draw_speed(np.random.default_rng(s), (0.5, 1.0, 2.0)) for s in range(50)}
    assert draws == {0.5, 1.0, 2.0}
    with pytest.raises(ValueError, match="positive"):
        speed_indices(w, 0.0, 100)
    from vcl_core.data.perturb import apply_speed

    np.testing.assert_array_equal(apply_speed(w, 2.0, 100), speed_indices(w, 2.0, 100))
    assert torch.equal(apply_speed(clip, 2.0), resample_clip(clip, 2.0))
    with pytest.raises(ValueError, match="num_video_frames"):
        apply_speed(w, 2.0)


def test_reversal_and_shuffling_return_their_permutation():
    np.testing.assert_array_equal(reverse_permutation(4), [3, 2, 1, 0])
    for t in range(2, 9):
        for s in range(30):
            perm = draw_shuffle(np.random.default_rng(s), t)
            assert sorted(perm) == list(range(t)) and not np.array_equal(perm, np.arange(t))
    # chunk shuffling keeps the frames inside each chunk in order
    perm = draw_shuffle(np.random.default_rng(3), 12, chunks=3)
    chunks = perm.reshape(3, 4)
    assert (np.diff(chunks, axis=1) == 1).all() and not np.array_equal(perm, np.arange(12))
    clip = _clip()
    p = np.array([2, 0, 1, 5, 4, 3])
    assert torch.equal(apply_permutation(clip, p), clip[p])
    rng = np.random.default_rng(0)
    draws = [draw_order(rng, 8, reverse_p=0.3, shuffle_p=0.2) for _ in range(4000)]
    assert abs(np.mean([d.reversed for d in draws]) - 0.3) < 0.03
    assert abs(np.mean([d.shuffled for d in draws]) - 0.2) < 0.03
    for d in draws[:200]:
        assert not (d.reversed and d.shuffled)
        assert d.reversed == np.array_equal(d.perm, reverse_permutation(8))
        assert d.shuffled == (not d.reversed and not np.array_equal(d.perm, np.arange(8)))
    assert _untouched(lambda: np.random.default_rng(2), lambda r: draw_order(r, 8))
    with pytest.raises(ValueError, match="reverse_p"):
        draw_order(rng, 8, 0.7, 0.5)


def test_tube_mask_hides_the_asked_fraction_through_time():
    rng = np.random.default_rng(0)
    m = draw_tube_mask(rng, 5, 20, 24, ratio=0.5, patch=4)
    assert m.shape == (5, 20, 24)
    assert (m == m[0]).all()  # full-length tubes: the same cells in every frame
    cells = m[0, ::4, ::4]
    assert cells.sum() == round(0.5 * cells.size)
    # each cell is masked as a whole
    assert (m[0].reshape(5, 4, 6, 4).transpose(0, 2, 1, 3).reshape(30, 16).std(1) == 0).all()
    clip = _clip(5, 20, 24)
    out = apply_tube_mask(clip, m)
    assert (out[torch.from_numpy(m)] == MASK_FILL).all()
    assert torch.equal(out[torch.from_numpy(~m)], clip[torch.from_numpy(~m)])
    # partial tubes last between 20% and 40% of a 20-frame clip, contiguously
    m = draw_tube_mask(np.random.default_rng(1), 20, 16, 16, ratio=1.0, patch=8, duration=(0.2, 0.4))
    for cell in m[:, ::8, ::8].reshape(20, -1).T:
        on = np.flatnonzero(cell)
        assert 4 <= len(on) <= 8 and (np.diff(on) == 1).all()
    assert not draw_tube_mask(rng, 3, 8, 8, ratio=0.0).any()


def test_lighting_ramps_gain_and_contrast_over_time():
    clip = torch.full((5, 4, 4, 3), 100, dtype=torch.uint8)
    out = apply_lighting(clip, LightingDrift(1.0, 1.4, 1.0, 1.0))
    np.testing.assert_array_equal(out[:, 0, 0, 0].numpy(), [100, 110, 120, 130, 140])
    assert torch.equal(apply_lighting(clip, LightingDrift()), clip)
    ramp = torch.zeros((3, 2, 2, 3), dtype=torch.uint8)
    ramp[:, 0] = 50
    ramp[:, 1] = 150  # mean 100, deviation 50
    out = apply_lighting(ramp, LightingDrift(1.0, 1.0, 1.0, 0.0))
    np.testing.assert_array_equal(out[:, 1, 0, 0].numpy(), [150, 125, 100])  # contrast fades to grey
    d = draw_lighting(np.random.default_rng(0), 0.2)
    assert all(0.8 <= x <= 1.2 for x in (d.gain_start, d.gain_end, d.contrast_start, d.contrast_end))


def _slow_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Reference: 2-D convolution with the outer-product kernel, reflect padding, loops."""
    r = max(1, math.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k2 = np.outer(k, k) / k.sum() ** 2
    p = np.pad(img.astype(float), r, mode="reflect")
    out = np.zeros(img.shape)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            out[y, x] = (p[y:y + 2 * r + 1, x:x + 2 * r + 1] * k2).sum()
    return out


def test_blur_matches_a_slow_reference():
    clip = _clip(2, 16, 18)
    out = apply_blur(clip, 1.2).numpy().astype(float)
    ref = _slow_blur(clip[1, :, :, 2].numpy(), 1.2)
    assert np.abs(out[1, :, :, 2] - ref).max() <= 0.51  # rounding to uint8 only
    assert torch.equal(apply_blur(clip, 0.0), clip)
    assert draw_blur(np.random.default_rng(0), 0.0) == 0.0
    sig = [draw_blur(np.random.default_rng(s), 1.0, (0.5, 1.0)) for s in range(20)]
    assert all(0.5 <= s <= 1.0 for s in sig)


def _blob_clip(t=5, size=64):
    clip = torch.zeros((t, size, size, 3), dtype=torch.uint8)
    clip[:, 30:34, 30:34] = 255
    return clip


def _centroid_x(frame):
    w = frame[..., 0].float()
    return float((w.sum(0) * torch.arange(w.shape[1])).sum() / w.sum())


def test_camera_identity_and_known_pan():
    clip = _clip(4, 16, 16)
    still = CameraMotion(np.zeros((4, 2)), np.ones(4))
    assert torch.equal(apply_camera(clip, still), clip)
    np.testing.assert_array_equal(still.label(), np.zeros(4))
    # the window pans right by 5% of the frame per frame at zoom 1.25: the scene moves
    # left by 0.05 * 64 * 1.25 = 4 output pixels per frame
    centers = np.stack([np.arange(5) * 0.05 - 0.1, np.zeros(5)], 1)
    motion = CameraMotion(centers, np.full(5, 1.25))
    out = apply_camera(_blob_clip(), motion)
    xs = [_centroid_x(f) for f in out]
    np.testing.assert_allclose(np.diff(xs), -4.0, atol=0.05)
    np.testing.assert_allclose(motion.label(), [0.05, 0.0, 0.0, 0.0], atol=1e-9)
    zoom = CameraMotion(np.zeros((3, 2)), np.exp(np.array([0.0, 0.1, 0.2])))
    np.testing.assert_allclose(zoom.label()[2], 0.1, atol=1e-6)


def test_drawn_camera_motion_stays_inside_the_frame_and_labels_it():
    for s in range(50):
        m = draw_camera(np.random.default_rng(s), 16, pan=0.03, zoom=0.02, shake=0.01)
        assert (m.zooms >= 1 - 1e-9).all()
        assert (np.abs(m.centers).max(1) + 0.5 / m.zooms <= 0.5 + 1e-9).all()  # no invented pixels
        lab = m.label()
        assert abs(lab[2]) <= 0.02 + 1e-6 and lab[3] >= 0
    pan_only = draw_camera(np.random.default_rng(0), 16, pan=0.03, zoom=0.0, shake=0.0)
    lab = pan_only.label()
    assert 0 < np.hypot(lab[0], lab[1]) <= 0.03 and lab[2] == 0 and lab[3] < 1e-9
    a = draw_camera(np.random.default_rng(5), 8)
    b = draw_camera(np.random.default_rng(5), 8)
    np.testing.assert_array_equal(a.centers, b.centers)
    # the injected pan is visible: a static blob moves against the camera direction
    m = CameraMotion(np.stack([np.zeros(5), np.linspace(-0.1, 0.1, 5)], 1), np.full(5, 1.5))
    out = apply_camera(_blob_clip(), m)
    ys = [_centroid_x(f.transpose(0, 1)) for f in out]
    assert np.all(np.diff(ys) < 0) and m.label()[1] > 0


def test_temporal_augment_config_draws_nothing_when_off():
    cfg = TemporalAugmentConfig()
    assert not cfg.active
    fn = lambda r: draw_clip_params(r, cfg, draw_frame_params(r, cfg, 8), 16, 16)  # noqa: E731
    assert _untouched(lambda: np.random.default_rng(0), fn)
    p = fn(np.random.default_rng(0))
    clip = _clip(8, 16, 16)
    assert torch.equal(apply_clip_params(clip, p), clip)
    np.testing.assert_array_equal(apply_frame_params(np.arange(8) * 2, p), np.arange(8) * 2)


def test_temporal_augment_config_applies_every_feature():
    cfg = TemporalAugmentConfig(drop_p=0.5, reverse_p=1.0, mask_ratio=0.5, mask_patch=4, lighting_p=1.0,
                                camera_p=1.0, camera_pan=0.05)
    assert cfg.active
    rng = np.random.default_rng(0)
    p = draw_clip_params(rng, cfg, draw_frame_params(rng, cfg, 8), 16, 16)
    assert p.reversed and p.camera is not None and p.lighting is not None and p.mask.shape == (8, 16, 16)
    idx = apply_frame_params(np.arange(8), p)
    np.testing.assert_array_equal(idx, hold_indices(p.keep)[::-1])
    out = apply_clip_params(_clip(8, 16, 16), p)
    assert out.shape == (8, 16, 16, 3) and (out[torch.from_numpy(p.mask)] == MASK_FILL).all()
    assert np.any(p.camera_label() != 0)


@pytest.mark.parametrize("bad", [dict(speeds=()), dict(speeds=(0.0,)), dict(drop_p=1.0), dict(reverse_p=0.6, shuffle_p=0.6),
                                 dict(shuffle_chunks=1), dict(mask_ratio=1.5), dict(mask_duration=(0.5, 0.2)),
                                 dict(lighting_strength=1.0), dict(camera_pan=-0.1),
                                 dict(background_p=1.5), dict(foreground_frac=0.0), dict(foreground_frac=1.0)])
def test_bad_temporal_configs_are_rejected(bad):
    with pytest.raises(ValueError):
        TemporalAugmentConfig(**bad)
