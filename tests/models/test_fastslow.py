"""The fast/slow encoder: shapes, variants, gradients, checkpointing, determinism, configs."""
from __future__ import annotations

import math

import pytest
import torch

from vcl_core.models import (R3D18, FastSlowConfig, FastSlowEncoder, create_fast_slow, fast_slow_r3d18,
                             fast_slow_r3d18_config, frame_differences, pool_width, standardize)

TINY = (8, 16, 32)


def tiny(**kw) -> FastSlowEncoder:
    return create_fast_slow(widths=kw.pop("widths", TINY), **kw)


def _check_shapes(enc: FastSlowEncoder, t: int, h: int, w: int) -> None:
    x = torch.randn(2, 3, t, h, w)
    fast, slow = enc.tokens(x)
    emb, weights = enc.forward_with_attention(x)
    assert emb.shape == (2, enc.embed_dim)
    assert torch.isfinite(emb).all()
    ts = math.ceil(t / enc.cfg.alpha)
    if enc.cfg.pathways in ("both", "fast"):
        assert fast.shape == (2, t, enc.cfg.fast_widths[-1]) and weights["fast"].shape == (2, t)
    else:
        assert fast is None and "fast" not in weights
    if enc.cfg.pathways in ("both", "slow"):
        assert slow.shape == (2, ts, enc.cfg.widths[-1]) and weights["slow"].shape == (2, ts)
    else:
        assert slow is None and "slow" not in weights


@pytest.mark.parametrize("pathways,fusion", [("both", "concat"), ("both", "gate"), ("both", "xattn"),
                                             ("slow", "concat"), ("fast", "concat")])
def test_shapes_every_variant(pathways, fusion):
    """T = 7 is not divisible by alpha = 4; 37 x 61 is odd in both directions. (A single pathway has
    nothing to fuse, so gate/xattn are only valid with both: see test_single_pathway_rejects_fusion_options.)"""
    enc = tiny(pathways=pathways, fusion=fusion, xattn_bidirectional=fusion == "xattn")
    _check_shapes(enc, 7, 37, 61)


@pytest.mark.parametrize("t,h,w", [(1, 32, 32), (5, 32, 32), (16, 24, 40)])
def test_shapes_over_clip_lengths_and_sizes(t, h, w):
    _check_shapes(tiny(fusion="xattn", xattn_bidirectional=True, pool="attention"), t, h, w)


@pytest.mark.parametrize("kw", [dict(block="2plus1d"), dict(norm="frame"), dict(norm="group", block="2plus1d"),
                                dict(norm="layer"), dict(lateral=False), dict(alpha=3, beta=0.5),
                                dict(alpha=1), dict(fast_kt=5, slow_kt=(1, 3, 3)), dict(pool="attention")])
def test_shapes_other_settings(kw):
    _check_shapes(tiny(**kw), 7, 37, 61)


def test_four_stages_and_r3d18_layout():
    enc = tiny(widths=(8, 8, 16, 32), depths=(1, 1, 1, 1), slow_kt=(1, 1, 3, 3))
    assert len(enc.slow.stages) == 4 and len(enc.laterals) == 3
    assert enc(torch.randn(2, 3, 8, 32, 32)).shape == (2, 5 * (32 + 8))  # time pool: the mean + 4 profiles
    cfg = fast_slow_r3d18_config(fusion="gate")
    assert (cfg.widths, cfg.depths, cfg.slow_kt) == (R3D18["widths"], R3D18["depths"], R3D18["slow_kt"])
    assert cfg.fusion == "gate" and cfg.embed_dim == 5 * (512 + 64)
    with pytest.raises(TypeError, match="unknown"):
        fast_slow_r3d18_config(widht=3)


def test_r3d18_runs_and_is_r3d18_sized():
    enc = fast_slow_r3d18().eval()
    n = sum(p.numel() for p in enc.parameters())
    assert 30e6 < n < 40e6  # R3D-18 has 33.2M parameters
    with torch.no_grad():
        assert enc(torch.randn(1, 3, 4, 32, 32)).shape == (1, 5 * 576)


@pytest.mark.parametrize("fusion", ["concat", "gate", "xattn"])
def test_gradients_reach_both_pathways_and_laterals(fusion):
    torch.manual_seed(0)
    enc = tiny(fusion=fusion, xattn_bidirectional=True, pool="attention")
    emb = enc(torch.randn(2, 3, 8, 32, 32))
    (emb * torch.randn_like(emb)).sum().backward()
    groups = {"fast stem": enc.fast.stem, "slow stem": enc.slow.stem, "fast last": enc.fast.stages[-1],
              "slow last": enc.slow.stages[-1], "fusion": enc.fusion,
              **{f"lateral {i}": lat for i, lat in enumerate(enc.laterals)}}
    for name, mod in groups.items():
        grads = [p.grad for p in mod.parameters()]
        assert grads and all(g is not None for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name


def _pair(**kw):
    torch.manual_seed(0)
    a = tiny(**kw)
    b = tiny(checkpoint=True, **kw)
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("kw", [dict(), dict(drop_path=0.3, fusion="xattn"), dict(block="2plus1d", norm="frame")])
def test_checkpointing_gives_the_same_gradients_and_norm_statistics(kw):
    a, b = _pair(**kw)
    x = torch.randn(2, 3, 8, 32, 32)
    for enc in (a, b):
        torch.manual_seed(1)
        emb = enc(x)
        (emb * torch.linspace(-1, 1, emb.shape[1])).sum().backward()
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=1e-5, msg=name)
    for (name, u), v in zip(a.named_buffers(), b.buffers()):
        torch.testing.assert_close(u, v, msg=name)  # BN running stats updated once, not twice


def test_checkpointing_is_off_in_eval_and_no_grad():
    _, b = _pair()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        b(x)  # no recomputation machinery needed, and none is used
    b.eval()
    assert b(x).shape == (2, b.embed_dim)


def test_deterministic_under_a_seed():
    def run():
        torch.manual_seed(0)
        enc = tiny(fusion="xattn", drop_path=0.2, pool="attention")
        return enc(torch.randn(2, 3, 8, 32, 32))
    assert torch.equal(run(), run())


def test_forward_with_attention_weights_sum_to_one():
    enc = tiny(pool="attention", fusion="gate").eval()
    x = torch.randn(3, 3, 10, 32, 32)
    emb, weights = enc.forward_with_attention(x)
    torch.testing.assert_close(emb, enc(x))
    assert set(weights) == {"fast", "slow"}
    for w in weights.values():
        torch.testing.assert_close(w.sum(1), torch.ones(3))


def test_eval_forward_is_batch_independent():
    enc = tiny().eval()
    x = torch.randn(3, 3, 8, 32, 32)
    torch.testing.assert_close(enc(x)[:1], enc(x[:1]), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("bad", [dict(pathways="medium"), dict(alpha=0), dict(beta=0.0), dict(block="2d"),
                                 dict(norm="instance"), dict(fusion="sum"), dict(pool="max"),
                                 dict(depths=(1, 1)), dict(widths=(8, 16, 32, 64)), dict(slow_kt=(1, 2, 3)),
                                 dict(fast_kt=4), dict(depths=(1, 0, 1)), dict(drop_path=1.0)])
def test_config_rejects_what_cannot_work(bad):
    with pytest.raises(ValueError, match="FastSlowConfig"):
        FastSlowConfig(**{"widths": TINY, **bad})


def test_factory_is_keyword_only_and_takes_lists():
    with pytest.raises(TypeError):
        create_fast_slow("both")  # type: ignore[misc]
    enc = create_fast_slow(widths=[8, 16, 32], slow_kt=[1, 3, 3])
    assert enc.cfg.slow_kt == (1, 3, 3) and enc.cfg.widths == TINY


def test_bad_input_shape_raises():
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        tiny()(torch.randn(2, 8, 32, 32))


def test_drop_path_is_active_in_training_only():
    torch.manual_seed(0)
    enc = tiny(drop_path=0.5, norm="frame")
    plain = tiny(norm="frame")
    plain.load_state_dict(enc.state_dict())
    x = torch.randn(4, 3, 8, 32, 32)
    torch.manual_seed(1)
    a = enc(x)
    torch.manual_seed(2)
    b = enc(x)
    assert not torch.allclose(a, b)                   # a different set of branches dropped
    assert not torch.allclose(a, plain(x))
    torch.testing.assert_close(enc.eval()(x), plain.eval()(x))


def test_single_pathway_rejects_fusion_options():
    import pytest

    from vcl_core.models import FastSlowConfig

    with pytest.raises(ValueError, match="nothing to fuse"):
        FastSlowConfig(pathways="slow", fusion="gate")
    FastSlowConfig(pathways="fast")  # concat (the default) is fine


def test_frame_differences_keep_time_and_remove_what_does_not_move():
    x = torch.randn(2, 3, 5, 8, 8)
    d = frame_differences(x)
    assert d.shape == x.shape
    torch.testing.assert_close(d[:, :, 1:], x[:, :, 1:] - x[:, :, :-1])
    torch.testing.assert_close(d[:, :, 0], d[:, :, 1])
    assert frame_differences(x[:, :, :1]).abs().max() == 0


def test_a_diff_fast_pathway_cannot_see_static_appearance():
    """Adding the same picture to every frame changes what the slow pathway sees, not the
    fast one's input: with ``fast_input="diff"`` the fast tokens are unchanged. (The input is
    not standardised here: a clip's standard deviation depends on the still picture.)"""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 32, 32)
    still = torch.randn(2, 3, 1, 32, 32).expand_as(x)
    diff = tiny(fast_input="diff", lateral=False, input_norm="none").eval()
    f1, s1 = diff.tokens(x)
    f2, s2 = diff.tokens(x + still)
    torch.testing.assert_close(f1, f2)
    assert not torch.allclose(s1, s2)
    rgb = tiny(fast_input="rgb", lateral=False, input_norm="none").eval()
    assert not torch.allclose(rgb.tokens(x)[0], rgb.tokens(x + still)[0])


def test_standardize_matches_a_hand_computation():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 4, 5, 6, dtype=torch.float64)
    y = standardize(x, "clip", eps=0)
    for b in range(2):
        ref = (x[b] - x[b].mean()) / x[b].std(unbiased=False)
        torch.testing.assert_close(y[b], ref)
    z = standardize(x, "frame", eps=0)
    for b in range(2):
        for t in range(4):
            ref = (x[b, :, t] - x[b, :, t].mean()) / x[b, :, t].std(unbiased=False)
            torch.testing.assert_close(z[b, :, t], ref)
    assert standardize(x, "none") is x
    torch.testing.assert_close(standardize(torch.full((1, 3, 2, 4, 4), 0.7), "clip"), torch.zeros(1, 3, 2, 4, 4),
                               atol=1e-4, rtol=0)


def test_clip_standardisation_makes_the_encoder_blind_to_brightness_and_contrast():
    """A clip and the same clip with its brightness and contrast changed (one affine map of
    the intensities, as colour jitter applies it) embed alike with ``input_norm="clip"``, not
    with ``none``; a brightness that changes over time is undone by ``frame`` only."""
    torch.manual_seed(0)
    x = torch.rand(2, 3, 8, 32, 32, dtype=torch.float64)
    jittered = 1.6 * x - 0.3
    clip = tiny(input_norm="clip").double().eval()
    torch.testing.assert_close(clip(x), clip(jittered), atol=1e-2, rtol=1e-2)
    none = tiny(input_norm="none").double().eval()
    none.load_state_dict(clip.state_dict())
    assert (none(x) - none(jittered)).abs().max() > 10 * (clip(x) - clip(jittered)).abs().max()
    ramp = torch.linspace(0.6, 1.4, 8, dtype=torch.float64).view(1, 1, 8, 1, 1)
    frame = tiny(input_norm="frame").double().eval()
    frame.load_state_dict(clip.state_dict())
    torch.testing.assert_close(frame(x), frame(x * ramp), atol=1e-2, rtol=1e-2)
    assert (clip(x) - clip(x * ramp)).abs().max() > 10 * (frame(x) - frame(x * ramp)).abs().max()


@pytest.mark.parametrize("pool", ["mean", "time", "segments"])
def test_stream_slices_cover_the_embedding(pool):
    enc = tiny(pool=pool)
    fast, slow = enc.stream_slice("fast"), enc.stream_slice("slow")
    assert fast.start == 0 and fast.stop == slow.start and slow.stop == enc.embed_dim
    assert fast.stop == pool_width(pool) * enc.cfg.fast_widths[-1]
    with pytest.raises(ValueError, match="no 'fast' pathway"):
        tiny(pathways="slow").stream_slice("fast")
