"""Temporal-sensitivity probes: the variant windows, order blindness, the block's schema."""
import numpy as np
import pytest
import torch

from eval_helpers import CLIP, TinyConv3d
from vcl_core.data import ViewSpec
from vcl_core.eval import FeatureBank, FrameAverageEncoder, TemporalConfig, variant_windows
from vcl_core.eval.sensitivity import temporal_block


def test_variants_are_forward_reversed_shuffled_and_centred_speeds():
    cfg = TemporalConfig(clips_per_video=2, speeds=(1, 2, 4))
    wins = variant_windows(48, ViewSpec(8, 1), cfg, np.random.default_rng(0))
    assert len(wins) == 2 * 5
    for m in range(2):
        fwd, rev, shuf, x2, x4 = wins[5 * m: 5 * m + 5]
        assert np.all(np.diff(fwd) == 1)
        assert rev.tolist() == fwd[::-1].tolist()
        assert sorted(shuf.tolist()) == sorted(fwd.tolist())
        assert shuf.tolist() not in (fwd.tolist(), rev.tolist())
        assert np.all(np.diff(x2) == 2) and np.all(np.diff(x4) == 4)
        # every speed is centred on the same moment (within a frame of rounding)
        assert abs(x2.mean() - fwd.mean()) <= 1 and abs(x4.mean() - fwd.mean()) <= 1
    # the two moments are spread over the video
    assert wins[0][0] < wins[5][0]


def test_short_clips_and_bad_speeds_are_refused():
    with pytest.raises(ValueError, match=">= 3 frames"):
        variant_windows(48, ViewSpec(2, 1), TemporalConfig(), np.random.default_rng(0))
    for speeds in ((2, 4), (1, 1, 2), (1, 1.5), (1,)):
        with pytest.raises(ValueError, match="speeds"):
            TemporalConfig(speeds=speeds)


def test_frame_average_encoder_is_blind_to_frame_order_but_a_3d_cnn_is_not():
    x = torch.randn(2, 3, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    perm = torch.tensor([3, 1, 7, 0, 5, 2, 6, 4])
    fa = FrameAverageEncoder()
    torch.testing.assert_close(fa(x[:, :, perm]), fa(x), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fa(x.flip(2)), fa(x), rtol=1e-5, atol=1e-6)
    cnn = TinyConv3d().eval()
    assert not torch.allclose(cnn(x.flip(2)), cnn(x), atol=1e-4)
    assert not any(p.requires_grad for p in fa.parameters())
    torch.testing.assert_close(FrameAverageEncoder(seed=3)(x), FrameAverageEncoder(seed=3)(x))


def test_temporal_block_schema_on_the_tiny_benchmark(tiny_index, tiny_source):
    bank = FeatureBank(TinyConv3d(), tiny_index.split("train"), tiny_index.split("test"), tiny_source, **CLIP)
    out = temporal_block(bank, TemporalConfig(clips_per_video=1), ("clips", "whole"))
    probes = out["probes"]
    assert set(probes) == {"playback_speed", "frame_order"}
    assert probes["playback_speed"]["classes"] == ["1x", "2x", "4x"]
    assert probes["frame_order"]["classes"] == ["forward", "reversed", "shuffled"]
    for p in probes.values():
        assert 0 <= p["linear_top1"] <= 1 and 0 <= p["knn_top1"] <= 1 and p["chance"] == pytest.approx(1 / 3)
    assert {r: f["label"] for r, f in out["factors"].items()} == {"appearance": "shape", "short_term": "motion",
                                                                   "long_term": "order"}
    for f in out["factors"].values():
        assert set(f["linear_top1"]) == {"clips", "whole"}
        # the factor numbers are the probes protocol's own linear probe
        d = bank.labelled("whole", f["label"])
        assert f["linear_top1"]["whole"] == bank.linear("whole", f["label"]).score(d.test_x, d.test_y)
    assert out["settings"]["train_videos"] + out["settings"]["test_videos"] == len(tiny_index)
