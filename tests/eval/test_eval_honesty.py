"""Honesty of the benchmark: an encoder blind to frame order reads shape but not motion or order.

:class:`FrameAverageEncoder` averages per-frame features over time, so its embedding is a
function of the *set* of frames. On the synthetic benchmark every motion class and every
phase order has the same distribution of frame sets, so any such encoder with a linear probe
is at chance on ``motion`` and ``order`` in expectation; above-chance numbers there would mean
an appearance shortcut in the benchmark. Shape, visible in every frame, must be readable.

Run on 192 videos (74 test) for power: one standard error of an accuracy near chance is about
0.05 (motion) and 0.045 (order); the thresholds sit 3 or more standard errors above chance,
and the shape accuracies seen with three encoder seeds (0.54 to 0.66) sit 2 to 4 standard
errors above the shape threshold. The thresholds can fail: the same random CNN on raw RGB
instead of the chroma map reads shape at 0.16 to 0.38.
"""
import pytest

from vcl_core.data import load_index, make_source
from vcl_core.eval import FrameAverageEncoder, TemporalConfig, evaluate_encoder


@pytest.fixture(scope="module")
def blind_results(mid_bench, tmp_path_factory):
    index = load_index(mid_bench)
    source = make_source(str(mid_bench), 36, cache=True, cache_dir=str(tmp_path_factory.mktemp("mid_cache")))
    return evaluate_encoder(FrameAverageEncoder(), index, source, num_frames=8, stride=1, crop_size=32, num_clips=3,
                            whole_frames=16, blocks=("probes", "temporal"), temporal=TemporalConfig(clips_per_video=1))


@pytest.mark.parametrize("view", ["clips", "whole"])
def test_appearance_only_encoder_reads_shape_but_not_motion_or_order(blind_results, view):
    m = blind_results["protocols"][view]
    assert m["shape"]["linear_top1"] > 0.45 and m["shape"]["knn_top1"] > 0.45  # chance 0.25 (majority 0.18)
    for protocol in ("linear_top1", "knn_top1"):
        assert m["motion"][protocol] < 0.25 + 0.15  # chance 1/4
        assert m["order"][protocol] < 1 / 6 + 0.15  # chance 1/6


def test_appearance_only_encoder_is_exactly_at_chance_on_frame_order(blind_results):
    probes = blind_results["temporal"]["probes"]
    # forward, reversed and shuffled clips give one embedding: every prediction is one class
    assert probes["frame_order"]["linear_top1"] == pytest.approx(1 / 3, abs=0.01)
    short, long_ = blind_results["temporal"]["factors"]["short_term"], blind_results["temporal"]["factors"]["long_term"]
    assert short["label"] == "motion" and long_["label"] == "order"
    assert max(short["linear_top1"].values()) < 0.40 and max(long_["linear_top1"].values()) < 0.32
