"""summary(): parameters and FLOPs per pathway and stage."""
from __future__ import annotations

import torch.nn as nn

from vcl_core.models import create_fast_slow, summary


def test_fast_slow_summary_is_consistent():
    enc = create_fast_slow(widths=(8, 16, 32), fusion="xattn")
    s = summary(enc, (2, 3, 8, 32, 32))
    rows = {r["module"]: r for r in s.rows}
    assert s.total_params == sum(p.numel() for p in enc.parameters()) == rows["total"]["params"]
    top = [r for r in s.rows if r["depth"] == 1]
    assert [r["module"] for r in top] == ["fast", "slow", "laterals", "fusion"]
    assert sum(r["params"] for r in top) == s.total_params
    # the encoder's own code only averages and concatenates, which cost no counted FLOPs
    assert sum(r["flops"] for r in top) == s.total_flops > 0
    for path in ("fast", "slow"):
        stages = [r for r in s.rows if r["module"].startswith(path + ".")]
        assert [r["module"] for r in stages] == [f"{path}.stem"] + [f"{path}.stages.{i}" for i in range(3)]
        assert sum(r["flops"] for r in stages) == rows[path]["flops"]
        assert sum(r["params"] for r in stages) == rows[path]["params"]
    assert abs(sum(r["flops_percent"] for r in top) - 100) < 1e-6
    assert s.flops_per_sample == s.total_flops / 2
    assert "fast.stages.0" in s.table and str(s) == s.table
    assert enc.training  # mode restored


def test_flops_match_a_hand_count_for_a_convolution():
    conv = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1, bias=False), nn.ReLU())
    s = summary(conv, (2, 3, 4, 8, 8))
    assert s.total_flops == 2 * (2 * 8 * 4 * 8 * 8) * (3 * 27)  # 2 FLOPs per multiply-add
    assert s.rows[1]["module"] == "0" and s.rows[1]["flops"] == s.total_flops


def test_single_pathway_summary_has_no_laterals():
    s = summary(create_fast_slow(widths=(8, 16, 32), pathways="slow"), (1, 3, 8, 32, 32))
    assert [r["module"] for r in s.rows if r["depth"] == 1] == ["slow", "fusion"]


def test_training_speed_runs_forward_and_backward_and_leaves_no_gradients():
    import math

    from vcl_core.models import training_speed

    enc = create_fast_slow(widths=(8, 16, 32)).eval()
    seen = []
    first = next(enc.parameters())
    first.register_hook(lambda g: seen.append(float(g.abs().sum())))
    rate = training_speed(enc, (2, 3, 8, 32, 32), reps=2)
    assert math.isfinite(rate) and rate > 0
    assert len(seen) == 3 and all(g > 0 for g in seen)  # warm-up + 2 timed passes, each with a backward
    assert enc.training and all(p.grad is None for p in enc.parameters())
