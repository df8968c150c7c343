"""The whole harness on the tiny benchmark: every block, one schema, selectable blocks."""
import json
import math

import pytest
import torch.nn as nn

from eval_helpers import CLIP, TinyConv3d
from vcl_core.data import VideoIndex, VideoRecord
from vcl_core.eval import (BLOCKS, PROTOCOL_DOCS, CaptionConfig, FinetuneConfig, RobustnessConfig, TemporalConfig,
                           allowed_blocks, evaluate_encoder)

SMALL = dict(finetune=FinetuneConfig(epochs=1), temporal=TemporalConfig(clips_per_video=1),
             captioning=CaptionConfig(hidden=32, steps=30), probe_iter=50)


@pytest.fixture(scope="module")
def results(tiny_index, tiny_source):
    return evaluate_encoder(TinyConv3d(), tiny_index, tiny_source, protocols=("clip", "clips", "whole"), **CLIP,
                            **SMALL)


def _numbers(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from _numbers(v)
    elif isinstance(x, list):
        for v in x:
            yield from _numbers(v)
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield x


def test_every_block_runs_and_the_results_are_json(results):
    assert results["meta"]["blocks"] == list(BLOCKS) and results["meta"]["blocks_skipped"] == {}
    assert set(BLOCKS) - {"probes"} <= set(results)
    assert json.loads(json.dumps(results)) == results
    assert all(math.isfinite(v) for v in _numbers({k: v for k, v in results.items() if k != "meta"}))
    assert set(results["meta"]["seconds"]) >= set(BLOCKS)


def test_probe_keys_are_kept_and_linear_is_not_finetune(results):
    assert set(results["tasks"]) == {"shape", "motion", "order"}
    for m in results["tasks"].values():
        assert set(m) == {"linear_top1", "knn_top1", "retrieval_r1", "retrieval_r5", "linear_top1_seen",
                          "linear_top1_unseen"}
    assert set(results["protocols"]) == {"clip", "clips", "whole"}
    assert results["tasks"]["order"]["linear_top1"] == results["protocols"]["whole"]["order"]["linear_top1"]
    ft = results["finetune"]["views"]
    assert set(ft) == {"clip", "clips", "whole"}
    assert all(set(m) == {"finetune_top1"} for v in ft.values() for m in v.values())
    assert not any("finetune" in k for v in results["protocols"].values() for m in v.values() for k in m)


def test_records_name_a_documented_protocol_for_every_number(results):
    rows = results["records"]
    assert {r["block"] for r in rows} == set(BLOCKS)
    assert {r["protocol"] for r in rows} <= set(PROTOCOL_DOCS)
    assert all(set(r) == {"block", "view", "task", "protocol", "metric", "condition", "value"} for r in rows)
    assert set(results["meta"]["protocol_docs"]) == set(PROTOCOL_DOCS)
    # one row per number: spot checks against the nested blocks
    fine = [r for r in rows if r["protocol"] == "finetune" and r["view"] == "whole" and r["task"] == "shape"]
    assert [r["value"] for r in fine] == [results["finetune"]["views"]["whole"]["shape"]["finetune_top1"]]
    drop = results["robustness"]["perturbed"]["frame_rate"]["clips"]["motion"]["linear_drop"]
    assert [r["value"] for r in rows if r["condition"] == "frame_rate" and r["metric"] == "drop"
            and r["view"] == "clips" and r["task"] == "motion" and r["protocol"] == "linear"] == [drop]


def test_robustness_drops_are_measured_from_the_probes_own_clean_accuracy(results):
    rob = results["robustness"]
    assert set(rob["perturbed"]) == {"lighting", "camera_shake", "frame_rate", "frame_drops"}
    for view, cols in rob["clean"].items():
        for col, clean in cols.items():
            assert clean["linear_top1"] == results["protocols"][view][col]["linear_top1"]
            assert clean["knn_top1"] == results["protocols"][view][col]["knn_top1"]
            for name in rob["perturbed"]:
                p = rob["perturbed"][name][view][col]
                assert p["linear_drop"] == pytest.approx(clean["linear_top1"] - p["linear_top1"])
                assert p["knn_drop"] == pytest.approx(clean["knn_top1"] - p["knn_top1"])
    assert rob["settings"]["frame_rate"] == {"factor": 2}


def test_generalisation_splits_test_videos_into_seen_and_unseen(results, tiny_index):
    flags = [r.meta["meta_combo_seen"] for r in tiny_index.split("test")]
    g = results["generalisation"]
    assert g["settings"]["test_unseen"] == flags.count("0") > 0
    assert g["settings"]["test_seen"] == flags.count("1") > 0
    for view, cols in g["views"].items():
        per_video = CLIP["num_clips"] if view == "clip" else 1
        for m in cols.values():
            assert m["seen"]["n"] == per_video * flags.count("1") and m["unseen"]["n"] == per_video * flags.count("0")
            assert m["linear_gap"] == pytest.approx(m["seen"]["linear_top1"] - m["unseen"]["linear_top1"])


def test_diagnostics_and_captioning_blocks(results):
    d = results["diagnostics"]["views"]
    assert set(d) == {"clip", "clips", "whole"}
    assert d["clip"]["pairs"] == 96 * (CLIP["num_clips"] - 1)  # adjacent clips of every video
    assert 0 <= d["clip"]["alignment"] <= 4 and d["whole"]["uniformity"] <= 0
    assert 1 <= d["whole"]["effective_rank"] <= d["whole"]["dim"]
    cap = results["captioning"]
    assert set(cap["generation"]["slot_accuracy"]) == {"shape", "motion", "phase1", "phase2", "phase3", "order", "all"}
    assert all(0 <= cap["generation"][f"bleu{n}"] <= 1 for n in range(1, 5))
    assert cap["retrieval"]["gallery"] == 96 and cap["retrieval"]["chance_r1"] == pytest.approx(1 / 96)
    assert cap["settings"]["views"] == ["clips", "whole"] and len(cap["examples"]) == 3
    assert cap["examples"][0]["reference"].startswith("a ")


def test_cheap_blocks_only(tiny_index, tiny_source):
    res = evaluate_encoder(TinyConv3d(), tiny_index, tiny_source, protocols=("clips",), video_embedding="clips",
                           blocks=("diagnostics",), **CLIP)
    assert res["meta"]["blocks"] == ["diagnostics"] and res["tasks"] == {} and res["protocols"] == {}
    assert "finetune" not in res and set(res["diagnostics"]["views"]) == {"clip", "clips"}
    assert res["diagnostics"]["views"]["clip"]["pairs"] == 96 * (CLIP["num_clips"] - 1)
    assert set(res["meta"]["blocks_not_requested"]) == set(BLOCKS) - {"diagnostics"}


class MeanOfClips(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, clips):
        b, k = clips.shape[:2]
        return self.encoder(clips.flatten(0, 1)).reshape(b, k, -1).mean(1)


def test_a_video_model_is_one_more_view(tiny_index, tiny_source):
    enc = TinyConv3d()
    res = evaluate_encoder(enc, tiny_index, tiny_source, protocols=("clips",), video_embedding="video_model",
                           video_encoder=MeanOfClips(enc), blocks=("probes", "robustness"),
                           robustness=RobustnessConfig(perturbations=("lighting",)), label_columns=["shape"], **CLIP)
    assert res["meta"]["views"] == ["clips", "video_model"]
    # a video model that averages its clips' embeddings is the clips view
    assert res["protocols"]["video_model"] == res["protocols"]["clips"]
    assert set(res["robustness"]["perturbed"]["lighting"]) == {"clips", "video_model"}


def _unlabelled_meta(index):
    """The tiny benchmark as a UCF101-style index: one ``label`` column, no meta columns."""
    recs = [VideoRecord(r.path, r.video_id, {"label": r.labels["shape"]}, r.split, r.group) for r in index.records]
    return VideoIndex(index.root, recs, ["label"], "ucf101")


def test_blocks_follow_the_labels(tiny_index, tiny_source):
    ucf = _unlabelled_meta(tiny_index)
    reasons = allowed_blocks(ucf, ["label"], 8)
    assert {b for b, why in reasons.items() if why} == {"generalisation", "captioning"}
    assert allowed_blocks(tiny_index, tiny_index.label_columns, 8) == {b: "" for b in BLOCKS}
    assert allowed_blocks(tiny_index, tiny_index.label_columns, 2)["temporal"]
    with pytest.raises(ValueError, match="captioning: captions need the label columns"):
        evaluate_encoder(TinyConv3d(), ucf, tiny_source, blocks=("probes", "captioning"), **CLIP)
    res = evaluate_encoder(TinyConv3d(), ucf, tiny_source, blocks=("probes",), **CLIP)
    assert set(res["tasks"]) == {"label"} and res["meta"]["index_format"] == "ucf101"


@pytest.mark.parametrize("kwargs, message", [
    (dict(blocks=("probes", "speed")), "unknown blocks"),
    (dict(protocols=("clips", "frames"), video_embedding="clips"), "unknown views"),
    (dict(protocols=("clips", "video_model"), video_embedding="clips"), "needs a video_encoder"),
    (dict(protocols=("clips",)), "video_embedding='whole' must be one of"),
    (dict(label_columns=["colour"]), "unknown label columns"),
])
def test_bad_requests_are_named(tiny_index, tiny_source, kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate_encoder(TinyConv3d(), tiny_index, tiny_source, **{**CLIP, **kwargs})


def test_no_test_split_is_refused(tiny_index, tiny_source):
    train_only = VideoIndex(tiny_index.root, tiny_index.split("train"), tiny_index.label_columns, "csv")
    with pytest.raises(ValueError, match="needs train and test videos"):
        evaluate_encoder(TinyConv3d(), train_only, tiny_source, **CLIP)
