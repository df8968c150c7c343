"""Multi-scale views, per-view temporal augmentation, pretext labels and intra-video negatives,
through the dataset on real (synthetic benchmark) videos."""
import numpy as np
import pytest
import torch

from vcl_core.data import (AugmentConfig, ContrastiveVideoDataset, DecodeSource, FrameCache, SamplingConfig,
                           TemporalAugmentConfig, ViewLayout, ViewSpec, collate_views, load_camera_tracks, load_index)
from vcl_core.data.index import VideoRecord
from videos import moving_frames, write_video

AUG = AugmentConfig(crop_size=16, flip_p=0.0, grayscale_p=0.0)


def _ds(root, views, **kw):
    extra = {k: kw.pop(k) for k in ("camera_tracks", "seed") if k in kw}
    records = load_index(root).split("train")[:12]
    return ContrastiveVideoDataset(records, kw.pop("source", None) or DecodeSource(32), SamplingConfig(views=views, **kw),
                                   AUG, **extra)


def test_views_at_different_temporal_scales(tiny_bench):
    views = (ViewSpec(4, 1), ViewSpec(4, 1), ViewSpec(6, 4), ViewSpec(8, whole=True))
    ds = _ds(tiny_bench, views)
    item = ds[(0, 2)]
    assert [tuple(v.shape) for v in item["views"]] == [(3, 4, 16, 16)] * 2 + [(3, 6, 16, 16), (3, 8, 16, 16)]
    n = item["video_frames"]
    spans = (item["windows"][:, 1] - item["windows"][:, 0]).tolist()
    assert spans[:3] == [4, 4, 21]
    assert item["windows"][3, 0] < n / 8 and item["windows"][3, 1] > n - n / 8  # whole view covers the video
    np.testing.assert_array_equal(np.diff(item["frame_indices"][2].numpy()), 4)
    assert item["layout"] == ViewLayout(("short", "short", "short", "long"), (4, 4, 6, 8))
    assert torch.equal(item["speed"], torch.ones(4))


@pytest.mark.parametrize("cache", [False, True])
def test_target_fps_sets_the_stride_from_the_video(tiny_bench, tmp_path, cache):
    source = FrameCache(tmp_path / "c", 32) if cache else DecodeSource(32)
    ds = _ds(tiny_bench, (ViewSpec(4, fps=4), ViewSpec(4, fps=16)), source=source)  # the videos are 16 fps
    item = ds[(0, 1)]
    np.testing.assert_array_equal(np.diff(item["frame_indices"][0].numpy()), 4)
    np.testing.assert_array_equal(np.diff(item["frame_indices"][1].numpy()), 1)


def test_playback_speed_is_a_label_and_changes_the_stride(tiny_bench):
    fast = ViewSpec(4, 2, temporal=TemporalAugmentConfig(speeds=(0.5, 1.0, 2.0)))
    ds = _ds(tiny_bench, (fast, fast), policy="rho")
    seen = set()
    for i in range(12):
        item = ds[(0, i)]
        for v in range(2):
            sp = float(item["speed"][v])
            seen.add(sp)
            np.testing.assert_array_equal(np.diff(item["frame_indices"][v].numpy()), int(2 * sp))
    assert seen == {0.5, 1.0, 2.0}


def test_reversal_shuffling_and_dropping_act_on_the_augmented_view_only(tiny_bench):
    t = TemporalAugmentConfig(reverse_p=0.4, shuffle_p=0.4, drop_p=0.3)
    ds = _ds(tiny_bench, (ViewSpec(8, 1, temporal=t), ViewSpec(8, 1)), policy="rho")
    kinds, dropped = set(), 0
    for i in range(12):
        for e in range(3):
            item = ds[(e, i)]
            d = np.diff(item["frame_indices"][0].numpy())
            steps = set(np.sign(d[d != 0]).tolist())  # a dropped frame repeats its predecessor (d == 0)
            kinds.add("reversed" if steps == {-1} else "forward" if steps == {1} else "shuffled")
            dropped += int((d == 0).sum())
            np.testing.assert_array_equal(np.diff(item["frame_indices"][1].numpy()), 1)
    assert kinds == {"forward", "reversed", "shuffled"} and dropped > 0


def test_camera_injection_label_and_recorded_camera(tiny_bench):
    cam = TemporalAugmentConfig(camera_p=1.0, camera_pan=0.03)
    tracks = load_camera_tracks(tiny_bench)
    ds = _ds(tiny_bench, (ViewSpec(6, 2, temporal=cam), ViewSpec(6, 2)), camera_tracks=tracks)
    item = ds[(0, 0)]
    assert item["camera"].shape == (2, 4)
    assert item["camera"][0].abs().sum() > 0 and item["camera"][1].abs().sum() == 0
    vid = item["video_id"]
    for v in range(2):
        idx = item["frame_indices"][v].numpy()
        expected = (tracks[vid][idx[-1]] - tracks[vid][idx[0]]) / 5
        np.testing.assert_allclose(item["camera_recorded"][v].numpy(), expected, rtol=1e-5)
    # a reversed clip sees the camera move the other way
    rev = _ds(tiny_bench, (ViewSpec(6, 2, temporal=TemporalAugmentConfig(reverse_p=1.0)),), camera_tracks=tracks)
    fwd = _ds(tiny_bench, (ViewSpec(6, 2),), camera_tracks=tracks)
    a, b = rev[(0, 3)], fwd[(0, 3)]
    np.testing.assert_array_equal(a["frame_indices"][0].numpy(), b["frame_indices"][0].numpy()[::-1])
    np.testing.assert_allclose(a["camera_recorded"][0], -b["camera_recorded"][0], rtol=1e-5)
    # without tracks the recorded label is unknown, not zero
    assert torch.isnan(_ds(tiny_bench, (ViewSpec(6, 2),))[(0, 0)]["camera_recorded"]).all()


def test_tube_mask_and_lighting_reach_the_view(tiny_bench):
    masked = ViewSpec(4, 2, temporal=TemporalAugmentConfig(mask_ratio=1.0, mask_patch=4))
    item = _ds(tiny_bench, (masked, ViewSpec(4, 2)), policy="same")[(0, 0)]
    fill = (115 / 255 - 0.45) / 0.225  # normalised MASK_FILL
    assert torch.allclose(item["views"][0], torch.full_like(item["views"][0], fill), atol=0.2)  # jitter aside
    assert item["views"][1].std() > 0.2


@pytest.mark.parametrize("policy", ["same", "cvrl", "range", "rho"])
def test_intra_video_negatives_never_overlap(tiny_bench, policy):
    ds = _ds(tiny_bench, (ViewSpec(4, 2), ViewSpec(4, 2), ViewSpec(4, whole=True)), policy=policy,
             intra_negatives=2, min_gap=2, max_gap=12)
    for i in range(12):
        for e in range(2):
            item = ds[(e, i)]
            assert len(item["views"]) == 5 and item["layout"].negative == (3, 4)
            w = item["windows"].tolist()
            neg, anchor, positive = w[3:], w[0], w[1]
            assert neg[0][1] <= neg[1][0]  # disjoint, in time order
            for a, b in neg:
                assert b <= anchor[0] or a >= anchor[1]
                assert b - a == 7
            if all(b <= positive[0] or a >= positive[1] for a, b in neg):
                continue
            # only allowed when there was no room beside both positives (48-frame videos)
            free = 48 - len(set(range(*anchor)) | set(range(*positive)))
            assert free < 2 * 7 + 7


def test_videos_too_short_for_the_negatives_are_replaced(tmp_path):
    short = write_video(tmp_path / "short.mp4", moving_frames(10, 32, 32))
    long = write_video(tmp_path / "long.mp4", moving_frames(40, 32, 32))
    recs = [VideoRecord(str(short), "short"), VideoRecord(str(long), "long")]
    ds = ContrastiveVideoDataset(recs, DecodeSource(), SamplingConfig(views=(ViewSpec(4, 2),) * 2, intra_negatives=2),
                                 AUG)
    item = ds[(0, 0)]
    assert item["video"] == 1 and "disjoint negative windows" in item["failures"][0]


def test_collate_stacks_every_label(tiny_bench):
    t = TemporalAugmentConfig(speeds=(1, 2), camera_p=0.5)
    ds = _ds(tiny_bench, (ViewSpec(4, 1, temporal=t), ViewSpec(6, 1), ViewSpec(4, whole=True)), intra_negatives=1)
    b = collate_views([ds[(0, i)] for i in range(3)])
    assert [tuple(v.shape) for v in b["views"]] == [(3, 3, 4, 16, 16), (3, 3, 6, 16, 16), (3, 3, 4, 16, 16),
                                                    (3, 3, 4, 16, 16)]
    assert [tuple(f.shape) for f in b["frame_indices"]] == [(3, 4), (3, 6), (3, 4), (3, 4)]
    shapes = {k: tuple(b[k].shape) for k in ("windows", "speed", "camera", "camera_recorded")}
    assert shapes == {"windows": (3, 4, 2), "speed": (3, 4), "camera": (3, 4, 4), "camera_recorded": (3, 4, 2)}
    assert b["layout"] == ViewLayout(("short", "short", "long", "negative"), (4, 6, 4, 4))
    assert len(b["video_id"]) == 3 and b["video_frames"].tolist() == [48, 48, 48]
    # the negative copies the first clip view's speed
    assert torch.equal(b["speed"][:, 3], b["speed"][:, 0])


def test_per_view_spatial_augmentation_overrides_the_dataset(tiny_bench):
    gray = AugmentConfig(crop_size=16, grayscale_p=1.0, jitter_p=0.0, flip_p=0.0)
    item = _ds(tiny_bench, (ViewSpec(4, 1, augment=gray), ViewSpec(4, 1)))[(0, 0)]
    v = item["views"][0]
    assert torch.allclose(v[0], v[1]) and torch.allclose(v[1], v[2])  # grey: equal channels
    assert not torch.allclose(item["views"][1][0], item["views"][1][1])


def test_blur_augmentation_smooths_the_view(tiny_bench):
    sharp = AugmentConfig(crop_size=16, flip_p=0.0, jitter_p=0.0, grayscale_p=0.0, crop_scale=(1.0, 1.0),
                          crop_ratio=(1.0, 1.0))
    blurry = AugmentConfig(crop_size=16, flip_p=0.0, jitter_p=0.0, grayscale_p=0.0, crop_scale=(1.0, 1.0),
                           crop_ratio=(1.0, 1.0), blur_p=1.0, blur_sigma=(1.5, 1.5))
    item = _ds(tiny_bench, (ViewSpec(4, 1, augment=sharp), ViewSpec(4, 1, augment=blurry)), policy="same")[(0, 0)]
    a, b = item["views"]

    def roughness(x):
        return float((x[..., 1:] - x[..., :-1]).abs().mean())

    assert roughness(b) < 0.6 * roughness(a)
