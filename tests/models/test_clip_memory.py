"""ClipMemory: shapes, causality, padding, truncated back-propagation through time."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vcl_core.models import ClipMemory, ClipMemoryConfig

KINDS = ["gru", "transformer"]


def make(kind: str, **kw) -> ClipMemory:
    torch.manual_seed(0)
    return ClipMemory(12, kind, hidden=kw.pop("hidden", 16), layers=kw.pop("layers", 2), **kw)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("out_dim", [None, 10])
def test_shapes(kind, out_dim):
    mem = make(kind, out_dim=out_dim)
    video, states = mem.forward_with_states(torch.randn(3, 5, 12))
    assert video.shape == (3, out_dim or 16) and mem.out_dim == (out_dim or 16)
    assert states.shape == (3, 5, 16)
    assert mem(torch.randn(2, 1, 12)).shape == (2, out_dim or 16)


@pytest.mark.parametrize("kind", KINDS)
def test_states_are_causal(kind):
    mem = make(kind).eval()
    x = torch.randn(2, 6, 12)
    x2 = x.clone()
    x2[:, 3] += 1.0
    s, s2 = mem.forward_with_states(x)[1], mem.forward_with_states(x2)[1]
    torch.testing.assert_close(s[:, :3], s2[:, :3])
    assert not torch.allclose(s[:, 3:], s2[:, 3:])


@pytest.mark.parametrize("kind", KINDS)
def test_video_embedding_is_the_state_after_the_last_valid_clip_and_ignores_padding(kind):
    mem = make(kind).eval()
    x = torch.randn(2, 6, 12)
    lengths = torch.tensor([6, 4])
    video, states = mem.forward_with_states(x, lengths)
    x_padded = x.clone()
    x_padded[1, 4:] = 100.0
    torch.testing.assert_close(mem(x_padded, lengths), video)
    torch.testing.assert_close(mem(x[1:, :4]), video[1:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(video, states[torch.arange(2), lengths - 1])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths", [None, [7, 5, 2]])
def test_tbptt_keeps_outputs_and_zeroes_gradients_of_early_steps(kind, lengths):
    full, trunc = make(kind), make(kind, tbptt=3)
    trunc.load_state_dict(full.state_dict())
    lengths = None if lengths is None else torch.tensor(lengths)
    x = torch.randn(3, 7, 12, requires_grad=True)
    v_full, v_trunc = full(x, lengths), trunc(x, lengths)
    torch.testing.assert_close(v_trunc, v_full, atol=1e-5, rtol=1e-5)
    g_full, = torch.autograd.grad(v_full.square().sum(), x)
    g_trunc, = torch.autograd.grad(v_trunc.square().sum(), x)
    n = torch.full((3,), 7) if lengths is None else lengths
    for b in range(3):
        valid, late = int(n[b]), max(0, int(n[b]) - 3)
        assert (g_trunc[b, :late] == 0).all()                      # truncated: exactly zero
        assert (g_trunc[b, late:valid].abs().sum(-1) > 0).all()    # the last k steps learn
        assert (g_full[b, :valid].abs().sum(-1) > 0).all()         # without truncation all do
        assert (g_trunc[b, valid:] == 0).all() and (g_full[b, valid:] == 0).all()  # padding never


@pytest.mark.parametrize("kind", KINDS)
def test_tbptt_still_trains_every_parameter(kind):
    mem = make(kind, tbptt=2, out_dim=4)
    mem(torch.randn(2, 6, 12)).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mem.parameters())


def test_tbptt_longer_than_the_sequence_or_without_grad_is_full_bptt():
    full, trunc = make("gru"), make("gru", tbptt=8)
    trunc.load_state_dict(full.state_dict())
    x = torch.randn(2, 5, 12, requires_grad=True)
    g_full, = torch.autograd.grad(full(x).sum(), x)
    g_trunc, = torch.autograd.grad(trunc(x).sum(), x)
    torch.testing.assert_close(g_full, g_trunc)
    with torch.no_grad():
        torch.testing.assert_close(make("gru", tbptt=2)(x), full(x))


def test_config_and_errors():
    cfg = ClipMemoryConfig(dim=12, kind="transformer", hidden=16, heads=4, tbptt=2)
    mem = ClipMemory.from_config(cfg)
    assert mem.cfg == cfg
    for bad in [dict(kind="lstm"), dict(hidden=10, heads=4, kind="transformer"), dict(tbptt=-1), dict(layers=0)]:
        with pytest.raises(ValueError, match="ClipMemoryConfig"):
            replace(cfg, **bad)
    with pytest.raises(ValueError, match="clip embeddings"):
        mem(torch.randn(2, 3, 11))
    with pytest.raises(ValueError, match="lengths"):
        mem(torch.randn(2, 3, 12), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="lengths"):
        mem(torch.randn(2, 3, 12), torch.tensor([4, 3]))
