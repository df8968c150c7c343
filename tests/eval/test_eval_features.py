"""Clip datasets and frozen-feature extraction on in-memory videos (no decoding)."""
import numpy as np
import pytest
import torch

from eval_helpers import ArraySource, TinyConv3d
from vcl_core.data import VideoRecord, ViewSpec
from vcl_core.eval import ClipWindowsDataset, extract_clip_features, extract_features, protocol_view
from vcl_core.eval.features import view_windows


def _ramp_videos(n=3, frames=20, size=8):
    """Video ``v`` shows frame ``t`` filled with grey level ``10 * t + v``: pixels name the frame."""
    videos = {f"/mem/{v}.mp4": np.broadcast_to((10 * np.arange(frames) + v)[:, None, None, None],
                                                (frames, size, size, 3)).astype(np.uint8).copy()
              for v in range(n)}
    recs = [VideoRecord(p, p[5:-4]) for p in videos]
    return recs, ArraySource(videos)


def _frame_ids(clips, video):
    """Recover source frame indices from normalised clip pixels (see ``_ramp_videos``)."""
    grey = clips[:, 0, :, 0, 0] * 0.225 + 0.45  # undo normalisation of channel 0
    return torch.round((grey * 255 - video) / 10).long()


def test_windows_are_cut_at_the_named_frames_and_bad_videos_are_flagged():
    recs, src = _ramp_videos()
    windows = lambda n, rng: [np.array([0, 2, 4]), np.array([19, 0, 7])]  # noqa: E731
    ds = ClipWindowsDataset(recs + [VideoRecord("/mem/missing.mp4", "missing")], src, windows, 2, 3, 8)
    item = ds[1]
    assert item["clips"].shape == (2, 3, 3, 8, 8) and item["ok"]
    assert _frame_ids(item["clips"], 1).tolist() == [[0, 2, 4], [19, 0, 7]]
    bad = ds[3]
    assert not bad["ok"] and bad["clips"].shape == (2, 3, 3, 8, 8) and "missing" in bad["error"]


def test_video_transform_perturbs_the_whole_video_before_windows():
    recs, src = _ramp_videos()
    halve = lambda v, rng: v[::2]  # noqa: E731  (frame-rate change: 10 frames remain)
    ds = ClipWindowsDataset(recs, src, view_windows(ViewSpec(3, 1), 2), 2, 3, 8, video_transform=halve)
    # windows of 3 frames laid evenly on the 10-frame perturbed video: starts 0 and 7
    assert _frame_ids(ds[0]["clips"], 0).tolist() == [[0, 2, 4], [14, 16, 18]]


def test_extract_features_is_the_mean_of_clip_features_and_restores_mode():
    recs, src = _ramp_videos()
    enc = TinyConv3d().train()
    view = protocol_view("clips", 4, 2, 8)
    ds = ClipWindowsDataset(recs, src, view_windows(view, 3), 3, 4, 8)
    per_clip, ok, errors = extract_clip_features(enc, ds, batch_size=2)
    assert per_clip.shape == (3, 3, 16) and ok.all() and errors == [] and enc.training
    mean, ok2, _ = extract_features(enc, recs, src, view, 3, 8, batch_size=2)
    np.testing.assert_allclose(mean, per_clip.mean(1), rtol=1e-6)
    whole, _, _ = extract_features(enc, recs, src, protocol_view("whole", 4, 2, 8), 3, 8)
    assert whole.shape == (3, 16)


def test_video_encoder_maps_all_clips_of_a_video_to_one_row():
    recs, src = _ramp_videos()
    enc = TinyConv3d()
    ds = ClipWindowsDataset(recs, src, view_windows(ViewSpec(4, 2), 3), 3, 4, 8)
    video_max = lambda clips: enc(clips.flatten(0, 1)).reshape(len(clips), 3, -1).amax(1)  # noqa: E731
    x, ok, _ = extract_clip_features(enc, ds, video_encoder=video_max)
    per_clip, _, _ = extract_clip_features(enc, ds)
    assert x.shape == (3, 1, 16)
    np.testing.assert_allclose(x[:, 0], per_clip.max(1), rtol=1e-5, atol=1e-6)


def test_unknown_view_is_named():
    with pytest.raises(ValueError, match="unknown protocol/view 'clipz'"):
        protocol_view("clipz", 8, 1, 16)
