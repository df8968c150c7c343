"""Foreground-background merging: the mask finds what moves, the paste keeps it and replaces
the rest with a still frame, and the dataset applies it to views of real videos."""
import pytest
import torch

from vcl_core.data import AugmentConfig, ContrastiveVideoDataset, DecodeSource, SamplingConfig, TemporalAugmentConfig, \
    ViewSpec, load_index
from vcl_core.data.foreground import motion_mask, paste_foreground


def _moving_square(t=6, size=32, side=8):
    """A textured static background with a bright square that moves 2 pixels per frame."""
    g = torch.Generator().manual_seed(0)
    bg = (torch.rand(size, size, 3, generator=g) * 60).to(torch.uint8)
    clip = bg.expand(t, size, size, 3).clone()
    for k in range(t):
        clip[k, 10:10 + side, 4 + 2 * k:4 + 2 * k + side] = 250
    return clip


def test_the_mask_covers_what_moves_and_keeps_the_asked_fraction():
    clip = _moving_square()
    region = torch.zeros(32, 32, dtype=torch.bool)  # where the square ever is
    region[10:18, 4:4 + 2 * 5 + 8] = True
    frac = float(region.float().mean())
    hard = motion_mask(clip, frac, blur=1)
    assert float(hard.sum()) == pytest.approx(frac * 32 * 32, abs=1)
    inter = (hard.bool() & region).sum()
    assert inter / region.sum() > 0.8  # the static texture is not taken for the object
    soft = motion_mask(clip, frac, blur=5)
    assert 0 <= float(soft.min()) and float(soft.max()) <= 1 and bool(soft[region].mean() > 0.7)
    assert float(soft[~region].mean()) < 0.1


@pytest.mark.parametrize("frac", [0.0, 1.0])
def test_a_foreground_fraction_outside_0_1_is_rejected(frac):
    with pytest.raises(ValueError, match="frac"):
        motion_mask(_moving_square(), frac)


def test_the_paste_keeps_the_foreground_and_replaces_the_rest_with_the_still_frame():
    clip = _moving_square()
    background = torch.full((16, 16, 3), 100, dtype=torch.uint8)  # another size: resized
    mask = torch.zeros(32, 32)
    mask[8:20, 2:24] = 1.0
    mask[0, 0] = 0.5
    out = paste_foreground(clip, background, mask)
    assert out.shape == clip.shape and out.dtype == torch.uint8
    assert torch.equal(out[:, 8:20, 2:24], clip[:, 8:20, 2:24])
    assert (out[:, 25:, 25:] == 100).all()
    expected = ((clip[:, 0, 0].float() + 100) / 2).round().to(torch.uint8)
    assert torch.equal(out[:, 0, 0], expected)


def _views(root, background_p):
    plain = AugmentConfig(crop_size=32, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0, jitter_p=0,
                          grayscale_p=0)
    sampling = SamplingConfig(views=(ViewSpec(6, 1, temporal=TemporalAugmentConfig(background_p=background_p)),))
    ds = ContrastiveVideoDataset(load_index(root).split("train"), DecodeSource(32), sampling, plain, seed=0)
    return [ds[(0, i)]["views"][0] for i in range(4)]


def test_pasted_views_of_real_videos_have_a_still_background(tiny_bench):
    """The benchmark's camera shakes and its sensor noise changes every frame, so almost no
    pixel of a clip keeps its value; pasted on a still frame, most of the frame does."""
    def still_fraction(v):  # (C, T, H, W): pixels equal in every frame
        return float((v == v[:, :1]).all(1).all(0).float().mean())

    plain = [still_fraction(v) for v in _views(tiny_bench, 0.0)]
    pasted = [still_fraction(v) for v in _views(tiny_bench, 1.0)]
    assert max(plain) < 0.2, plain
    assert min(pasted) > 0.4, pasted


def test_whole_video_views_share_the_clips_background_pasting(tiny_bench, tiny_overrides):
    from vcl_core.train import load_config
    from vcl_core.train.loop import build_train_dataset

    cfg = load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", "temporal.background_p=0.5",
                                                     "temporal.foreground_frac=0.3"])
    views = build_train_dataset(cfg, load_index(tiny_bench).split("train")).sampling.views
    assert all(v.temporal.background_p == 0.5 and v.temporal.foreground_frac == 0.3 for v in views)
