import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from vcl_core.train import evaluate_run, load_config, load_run, pretrain
from vcl_core.train.checkpoint import load_checkpoint


def _cfg(tiny_bench, tiny_overrides, *extra):
    return load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", *extra])


def _weights(run):
    return load_checkpoint(run / "checkpoints" / "last.ckpt")["model"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_pretrain_writes_a_complete_run(tiny_bench, tiny_overrides, tmp_path):
    res = pretrain(_cfg(tiny_bench, tiny_overrides), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert res.summary["status"] == "complete" and res.summary["steps"] == res.summary["total_steps"] > 0
    for f in ("config.yaml", "metrics.csv", "summary.json", "checkpoints/last.ckpt"):
        assert (run / f).exists(), f
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "loss", "lr", "clips_per_s", "loss_long", "loss_short"} <= set(header)
    cfg, enc = load_run(run)
    assert enc(torch.randn(2, 3, 8, 32, 32)).shape == (2, enc.embed_dim)
    # a second call on a complete run returns it without training again
    again = pretrain(_cfg(tiny_bench, tiny_overrides), run, progress=False)
    assert again.summary == res.summary


def test_budget_stop_and_resume_equals_uninterrupted(tiny_bench, tiny_overrides, tmp_path):
    full = pretrain(_cfg(tiny_bench, tiny_overrides, "train.steps=12"), tmp_path / "full", progress=False)
    # a tiny budget stops the run after its first step, mid-epoch
    part = pretrain(_cfg(tiny_bench, tiny_overrides, "train.steps=12", "train.max_minutes=0.00001"),
                    tmp_path / "part", progress=False)
    assert part.summary["status"] == "budget" and 0 < part.summary["steps"] < full.summary["steps"]
    with pytest.raises(FileExistsError, match="--resume"):
        pretrain(_cfg(tiny_bench, tiny_overrides, "train.steps=12", "train.max_minutes=0.00001"),
                 tmp_path / "part", progress=False)
    # resuming needs the same config (the time budget may change), nothing else
    with pytest.raises(FileExistsError, match="different config.*optim.lr"):
        pretrain(_cfg(tiny_bench, tiny_overrides, "train.steps=12", "optim.lr=0.1"), tmp_path / "part",
                 resume=True, progress=False)
    part = pretrain(_cfg(tiny_bench, tiny_overrides, "train.steps=12"), tmp_path / "part", resume=True,
                    progress=False)
    assert part.summary["steps"] == full.summary["steps"]
    _assert_same_weights(_weights(tmp_path / "full"), _weights(tmp_path / "part"))
    rows = lambda p: [r.split(",")[:3] for r in (p / "metrics.csv").read_text().splitlines()]  # noqa: E731
    assert rows(tmp_path / "full") == rows(tmp_path / "part")


def test_sigkill_mid_epoch_then_resume_gives_the_same_result(tiny_bench, tiny_overrides, tmp_path):
    # MoCo: the momentum encoder and the key queue must survive the restart too
    args = tiny_overrides + [f"data.root={tiny_bench}", "train.steps=24", "train.ckpt_every=3", "method.name=moco",
                             "method.queue_size=32", "data.long_views=0", "method.temporal_negatives=none", "method.long_negatives=none",
                             "method.global_local=0"]
    vcl = [sys.executable, "-m", "vcl_core.cli", "pretrain", "--data", str(tiny_bench), "--config", "synthetic",
           "--quiet"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(vcl + ["--out", str(killed)] + args)
    ckpt = killed / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before its first checkpoint (exit code {proc.returncode})"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists(), "the run finished before it could be killed"
    step_at_kill = load_checkpoint(ckpt)["step"]
    subprocess.run(vcl + ["--out", str(killed), "--resume"] + args, check=True)
    subprocess.run(vcl + ["--out", str(tmp_path / "straight")] + args, check=True)
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["status"] == "complete" and step_at_kill < summary["steps"]
    _assert_same_weights(_weights(killed), _weights(tmp_path / "straight"))


def test_non_finite_loss_stops_with_a_message_and_a_checkpoint(tiny_bench, tiny_overrides, tmp_path):
    cfg = _cfg(tiny_bench, tiny_overrides, "optim.lr=1e12", "optim.grad_clip=0", "optim.warmup_frac=0",
               "train.steps=18", "train.ckpt_every=1")
    with pytest.raises(FloatingPointError, match="last good checkpoint is .*last.ckpt"):
        pretrain(cfg, tmp_path / "nan", progress=False)
    failed = load_checkpoint(tmp_path / "nan" / "checkpoints" / "failed.ckpt")
    last = load_checkpoint(tmp_path / "nan" / "checkpoints" / "last.ckpt")
    assert failed["status"] == "failed" and last["status"] == "running" and last["step"] <= failed["step"]
    assert all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())


def test_random_init_run_and_evaluation_schema(tiny_bench, tiny_overrides, tmp_path):
    pretrain(_cfg(tiny_bench, tiny_overrides, "train.steps=0"), tmp_path / "init", progress=False)
    res = evaluate_run(tmp_path / "init", json_path=tmp_path / "eval.json", blocks=("probes",))
    assert json.loads((tmp_path / "eval.json").read_text()) == json.loads(json.dumps(res))
    assert set(res["tasks"]) == {"shape", "motion", "order"}
    for m in res["tasks"].values():
        assert set(m) == {"linear_top1", "knn_top1", "retrieval_r1", "retrieval_r5", "linear_top1_seen",
                          "linear_top1_unseen"}
        assert all(0.0 <= v <= 1.0 for v in m.values())
    assert set(res["protocols"]) == {"clips", "whole"} and res["meta"]["video_embedding"] == "whole"


def test_collapse_warning_thresholds():
    from vcl_core.train.loop import collapse_warning

    assert collapse_warning({"embedding_std": 0.088, "effective_rank": 40.0}, 128, 5) is None
    msg = collapse_warning({"embedding_std": 0.001, "effective_rank": 1.1}, 128, 7)
    assert msg and "step 7" in msg and "collapse" in msg
    assert collapse_warning({"embedding_std": 0.08, "effective_rank": 1.2}, 128, 1)  # one direction


def test_compiled_encoder_saves_plain_names(tiny_bench, tiny_overrides, tmp_path):
    pretrain(_cfg(tiny_bench, tiny_overrides, "train.steps=0", "train.compile=true"), tmp_path / "c", progress=False)
    state = load_checkpoint(tmp_path / "c" / "checkpoints" / "last.ckpt")["model"]
    assert state and not any("_orig_mod" in k for k in state)
    _, enc = load_run(tmp_path / "c")  # loads into an uncompiled model
    assert enc(torch.randn(2, 3, 8, 32, 32)).shape == (2, enc.embed_dim)


def test_whole_video_views_get_the_lighting_drift_and_nothing_else(tiny_bench, tiny_overrides):
    """The default lighting drift reaches the whole-video views (so a brightness trend cannot
    tell the rotate-reversed negative from its key); speed, drops and masks stay on clips."""
    from vcl_core.data import load_index
    from vcl_core.train.loop import build_train_dataset

    cfg = load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", "temporal.drop_p=0.5"])
    views = build_train_dataset(cfg, load_index(tiny_bench).split("train")).sampling.views
    whole = [v for v in views if v.whole]
    clips = [v for v in views if not v.whole]
    assert cfg.temporal.lighting_p == 1.0 and whole and clips
    assert all(v.temporal.lighting_p == 1.0 and v.temporal.drop_p == 0 for v in whole)
    assert all(v.temporal.drop_p == 0.5 for v in clips)


def test_augmentation_on_the_batch_trains_the_same_run(tiny_bench, tiny_overrides, tmp_path):
    """data.augment_on=batch moves the spatial augmentation from the loader to the batch on the
    training device: the same samples to float rounding, so the same losses and weights to
    rounding, and a run of its own (it is in the run's identity)."""
    from vcl_core.experiment import config_hash

    a = pretrain(_cfg(tiny_bench, tiny_overrides), tmp_path / "loader", progress=False)
    cfg_b = _cfg(tiny_bench, tiny_overrides, "data.augment_on=batch")
    b = pretrain(cfg_b, tmp_path / "batch", progress=False)
    assert config_hash(cfg_b) != config_hash(_cfg(tiny_bench, tiny_overrides))
    assert a.summary["steps"] == b.summary["steps"] > 0
    loss = lambda p: [float(r.split(",")[2]) for r in (p / "metrics.csv").read_text().splitlines()[1:]]  # noqa: E731
    header = (tmp_path / "loader" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[2] == "loss"
    # the first step sees the same batch through the same weights; after it, Adam's normalised
    # updates magnify the rounding differences (0.2% in the loss by step 5)
    la, lb = loss(tmp_path / "loader"), loss(tmp_path / "batch")
    assert lb[0] == pytest.approx(la[0], rel=1e-5)
    assert lb == pytest.approx(la, rel=1e-2)


@pytest.mark.parametrize("avx512_bf16, amx", [(False, False), (True, False), (True, True)])
def test_bf16_on_a_cpu_without_amx_runs_without_onednn(monkeypatch, avx512_bf16, amx):
    from vcl_core.train.loop import _cpu_bf16_guard

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    before = torch.backends.mkldnn.enabled
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for device, precision, onednn in [(cpu, "bf16-mixed", amx), (cpu, "32-true", True), (cpu, "16-mixed", True),
                                      (cuda, "bf16-mixed", True)]:
        with _cpu_bf16_guard(device, precision):
            assert torch.backends.mkldnn.enabled == (onednn and before), (device, precision)
        assert torch.backends.mkldnn.enabled == before  # restored after the run
