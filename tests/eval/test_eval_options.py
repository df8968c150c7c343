"""Options of the blocks on in-memory videos: seeds, subsampling, custom columns and roles."""
import pickle

import numpy as np
import torch

from eval_helpers import TinyConv3d, brightness_videos
from vcl_core.data import VideoIndex, VideoRecord
from vcl_core.eval import (FeatureBank, RobustnessConfig, TemporalConfig, extract_features, make_perturbation,
                           protocol_view)
from vcl_core.eval.generalisation import generalisation_block
from vcl_core.eval.suite import diagnostics_block
from vcl_core.eval.sensitivity import probe_windows, temporal_block, variant_windows

VIEW = dict(num_frames=4, stride=1, crop_size=16, num_clips=3, whole_frames=6)


def _bank(seed=0, index=None):
    idx, source = brightness_videos()
    idx = index or idx
    return FeatureBank(TinyConv3d(), idx.split("train"), idx.split("test"), source, seed=seed, **VIEW)


def test_seed_fixes_the_perturbed_test_set():
    shake = make_perturbation("camera_shake", RobustnessConfig(shake=0.1))
    a, b, c = (_bank(s).dataset("clips", "test", video_transform=shake)[0]["clips"] for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_clip_transform_reaches_the_encoder():
    idx, source = brightness_videos()
    enc = TinyConv3d()
    zeros, _, _ = extract_features(enc, idx.split("test"), source, protocol_view("clips", 4, 1, 6), 2, 16,
                                   clip_transform=torch.zeros_like)
    with torch.no_grad():
        expect = enc.eval()(torch.zeros(1, 3, 4, 16, 16)).numpy()
    np.testing.assert_allclose(zeros, np.repeat(expect, len(zeros), 0), rtol=1e-5, atol=1e-6)


def test_diagnostics_subsample_to_max_samples():
    out = diagnostics_block(_bank(), ("clip", "whole"), max_samples=10)
    assert out["views"]["clip"]["count"] == 10 and out["views"]["whole"]["count"] == 10
    assert out["views"]["clip"]["pairs"] == 27 * (VIEW["num_clips"] - 1)  # every video's adjacent clips


def test_generalisation_reads_any_meta_flag_column():
    idx, _ = brightness_videos()
    # flag the test videos of level l2 as an unseen combination
    recs = [VideoRecord(r.path, r.video_id, r.labels, r.split, r.group,
                        {"meta_novel": "0" if r.split == "test" and r.labels["level"] == "l2" else "1"})
            for r in idx.records]
    bank = _bank(index=VideoIndex(idx.root, recs, ["level"], "csv"))
    out = generalisation_block(bank, ("whole",), ["level"], meta_column="meta_novel")
    m = out["views"]["whole"]["level"]
    assert (m["seen"]["n"], m["unseen"]["n"]) == (6, 3)
    assert out["settings"] == {"meta_column": "meta_novel", "test_seen": 6, "test_unseen": 3}


def test_custom_speeds_and_factor_roles():
    wins = variant_windows(40, protocol_view("clip", 4, 1, 6), TemporalConfig(speeds=(1, 3)),
                           np.random.default_rng(0))
    assert len(wins) == 2 * 4 and np.all(np.diff(wins[3]) == 3)
    out = temporal_block(_bank(), TemporalConfig(clips_per_video=1, speeds=(1, 3)), ("whole",),
                         factor_roles={"appearance": "level", "long_term": "order"})
    assert out["probes"]["playback_speed"]["classes"] == ["1x", "3x"]
    assert out["probes"]["playback_speed"]["chance"] == 0.5
    assert set(out["factors"]) == {"appearance"} and out["factors"]["appearance"]["label"] == "level"


def test_datasets_pickle_for_spawned_dataloader_workers():
    bank = _bank()
    shake = make_perturbation("camera_shake", RobustnessConfig())
    sets = [bank.dataset("clips", "test"), bank.dataset("whole", "test", video_transform=shake),
            bank.dataset("clip", "test", windows=probe_windows(protocol_view("clip", 4, 1, 6), TemporalConfig()),
                         num_windows=2 * 5)]
    for ds in sets:
        clone = pickle.loads(pickle.dumps(ds))
        assert torch.equal(clone[1]["clips"], ds[1]["clips"])
