"""Cross-scale alignment: TCLR's global-local contrast with clips anywhere in the long view."""
from __future__ import annotations

import pytest
import torch

from vcl_core.losses import time_aligned_global_local


def test_time_aligned_global_local_rewards_temporal_alignment():
    g = torch.randn(4, 4, 16, generator=torch.Generator().manual_seed(31))
    slice_t = torch.tensor([[6.0, 18, 30, 42]]).repeat(4, 1)
    clips = g + 0.05 * torch.randn(4, 4, 16, generator=torch.Generator().manual_seed(32))  # clip s looks like slice s
    aligned = slice_t.clone()
    time_shuffled = slice_t[:, [1, 0, 3, 2]]  # right clips, wrong times: what a time-blind encoder gives
    assert (time_aligned_global_local(g, slice_t, clips, aligned, 0.1) < 0.1
            < time_aligned_global_local(g, slice_t, clips, time_shuffled, 0.1))


def test_time_aligned_global_local_errors():
    g, c = torch.randn(2, 4, 8), torch.randn(2, 3, 8)
    st, ct = torch.zeros(2, 4), torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"\(B, S, D\)"):
        time_aligned_global_local(g, st, c[..., :4], ct)
    with pytest.raises(ValueError, match="slice_times"):
        time_aligned_global_local(g, st[:, :3], c, ct)
    with pytest.raises(ValueError, match="S >= 2"):
        time_aligned_global_local(g[:, :1], st[:, :1], c, ct)


def test_time_aligned_global_local_matches_a_loop_reference():
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(3)
    tokens, clips = torch.randn(3, 4, 8, generator=g), torch.randn(3, 5, 8, generator=g)
    slice_t = torch.tensor([[6.0, 18, 30, 42]]).repeat(3, 1)
    clip_t = torch.rand(3, 5, generator=g) * 48
    got = time_aligned_global_local(tokens, slice_t, clips, clip_t, temperature=0.2)
    total = 0.0
    for b in range(3):
        for c in range(5):
            sims = [F.cosine_similarity(clips[b, c], tokens[b, s], dim=0) / 0.2 for s in range(4)]
            target = min(range(4), key=lambda s: abs(float(clip_t[b, c] - slice_t[b, s])))
            total += -torch.log_softmax(torch.stack(sims), 0)[target]
    torch.testing.assert_close(got, total / 15)
    # moving a clip to another slice's time changes its target, and so the loss
    moved = clip_t.clone()
    moved[0, 0] = 6.0 if abs(float(clip_t[0, 0]) - 6.0) > 12 else 42.0
    assert not torch.isclose(time_aligned_global_local(tokens, slice_t, clips, moved, 0.2), got)
