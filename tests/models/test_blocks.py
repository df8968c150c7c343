"""Building blocks: norms (incl. per-frame locality), conv units, residual blocks, drop-path."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vcl_core.models.blocks import (BatchNorm3d, DropPath, FrameNorm, conv_unit, make_norm, make_stage, make_stem,
                                    num_groups)


@pytest.mark.parametrize("kind", ["batch", "frame", "group", "layer"])
@pytest.mark.parametrize("channels", [4, 9, 12, 36])
def test_every_norm_accepts_any_width(kind, channels):
    y = make_norm(kind, channels)(torch.randn(2, channels, 3, 5, 5))
    assert y.shape == (2, channels, 3, 5, 5)


def test_num_groups_divides_channels():
    assert [num_groups(c) for c in (4, 8, 9, 12, 36, 64, 7)] == [4, 8, 3, 6, 6, 8, 7]


def test_unknown_norm_and_block_raise():
    with pytest.raises(ValueError, match="unknown norm"):
        make_norm("instance", 8)
    with pytest.raises(ValueError, match="unknown block"):
        conv_unit(4, 8, 3, 1, "4d", "batch")
    with pytest.raises(ValueError, match="odd"):
        conv_unit(4, 8, 2, 1, "3d", "batch")


def test_frame_norm_normalises_each_frame_on_its_own():
    x = torch.randn(2, 6, 4, 5, 5) * torch.arange(1, 5.0).view(1, 1, 4, 1, 1) + 3.0
    y = FrameNorm(6)(x)
    per_frame = y.transpose(1, 2).reshape(2, 4, -1)
    torch.testing.assert_close(per_frame.mean(-1), torch.zeros(2, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(per_frame.std(-1, unbiased=False), torch.ones(2, 4), atol=1e-3, rtol=0)


@pytest.mark.parametrize("norm,mixes", [("frame", False), ("batch", True)])
def test_kt1_stem_with_frame_norm_does_not_mix_time_steps(norm, mixes):
    """Changing frame t changes the kt=1 stem's output at frame t only, unless BatchNorm
    (train mode) shares statistics across time."""
    torch.manual_seed(0)
    stem = make_stem(3, 8, 1, norm).train()
    x = torch.randn(2, 3, 5, 16, 16)
    x2 = x.clone()
    x2[:, :, 2] = 5 * torch.randn(2, 3, 16, 16) + 2
    y, y2 = stem(x), stem(x2)
    others = [0, 1, 3, 4]
    assert not torch.allclose(y[:, :, 2], y2[:, :, 2])
    assert torch.allclose(y[:, :, others], y2[:, :, others], atol=1e-6) is not mixes


@pytest.mark.parametrize("block", ["3d", "2plus1d"])
@pytest.mark.parametrize("kt", [1, 3, 5])
def test_stage_keeps_time_and_strides_space(block, kt):
    stage = make_stage(6, 8, 2, kt, 2, block, "batch")
    y = stage(torch.randn(2, 6, 7, 9, 13))
    assert y.shape == (2, 8, 7, 5, 7)


def test_2plus1d_keeps_the_parameter_count_of_3d():
    full = sum(p.numel() for p in conv_unit(16, 32, 3, 1, "3d", "batch")[0].parameters())
    fact = conv_unit(16, 32, 3, 1, "2plus1d", "batch")
    fact_convs = sum(p.numel() for m in fact if isinstance(m, nn.Conv3d) for p in m.parameters())
    assert abs(fact_convs - full) / full < 0.05
    assert [m.kernel_size for m in fact if isinstance(m, nn.Conv3d)] == [(1, 3, 3), (3, 1, 1)]


def test_drop_path_drops_whole_samples_and_keeps_the_mean():
    torch.manual_seed(0)
    drop = DropPath(0.25)
    x = torch.ones(4000, 3, 2)
    y = drop.train()(x)
    per_sample = y.flatten(1)
    kept = torch.isclose(per_sample, torch.tensor(1 / 0.75))
    assert (kept | (per_sample == 0)).all()
    assert (per_sample == per_sample[:, :1]).all()
    assert abs(y.mean().item() - 1.0) < 0.05
    assert torch.equal(drop.eval()(x), x)
    with pytest.raises(ValueError):
        DropPath(1.0)


@pytest.mark.parametrize("channels", [8, 32])
def test_batch_norm_matches_torch_in_both_layouts(channels):
    """The narrow channels-last route (8 channels goes through the channels-first kernel) gives
    nn.BatchNorm3d's output, gradients and running statistics, and keeps the input's layout."""
    torch.manual_seed(0)
    ours, ref = make_norm("batch", channels), nn.BatchNorm3d(channels)
    assert isinstance(ours, BatchNorm3d) and isinstance(ours, nn.BatchNorm3d)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-0.5, 0.5)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, channels, 5, 6, 7) * 3 + 1
    g = torch.randn_like(x)
    for fmt in (torch.contiguous_format, torch.channels_last_3d):
        xa = x.clone().contiguous(memory_format=fmt).requires_grad_()
        xb = x.clone().requires_grad_()
        ya, yb = ours(xa), ref(xb)
        assert ya.is_contiguous(memory_format=fmt)
        (ya * g).sum().backward()
        (yb * g).sum().backward()
        torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(ours.running_mean, ref.running_mean)
        torch.testing.assert_close(ours.running_var, ref.running_var)
        ours.zero_grad()
        ref.zero_grad()
    ours.eval()
    ref.eval()
    xc = x.contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(ours(xc), ref(x))
