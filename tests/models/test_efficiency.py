"""Efficiency switches: channels_last_3d, bf16 autocast, torch.compile fallback."""
from __future__ import annotations

import os
import warnings

import pytest
import torch
import torch.nn as nn

from vcl_core.models import create_fast_slow, maybe_compile


def tiny(**kw):
    torch.manual_seed(0)
    return create_fast_slow(widths=(8, 16, 32), **kw)


def count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def test_channels_last_3d_gives_the_same_outputs_and_gradients():
    ref = tiny(fusion="gate")
    cl = tiny(fusion="gate").to(memory_format=torch.channels_last_3d)
    assert ref.slow.stem[0].weight.is_contiguous()
    assert cl.slow.stem[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    x = torch.randn(2, 3, 8, 32, 32)
    a, b = ref(x), cl(x.contiguous(memory_format=torch.channels_last_3d))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(ref.fast.stem[0].weight.grad, cl.fast.stem[0].weight.grad, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_on_cpu_runs_and_is_close(dtype):
    enc = tiny(fusion="xattn", pool="attention").eval()
    x = torch.randn(2, 3, 8, 32, 32)
    ref = enc(x)
    with torch.autocast("cpu", dtype=dtype):
        low, weights = enc.forward_with_attention(x)
    assert low.dtype == dtype
    assert ((low.float() - ref).norm() / ref.norm()) < 0.05
    torch.testing.assert_close(weights["slow"].float().sum(1), torch.ones(2), atol=1e-2, rtol=0)
    enc.train()
    with torch.autocast("cpu", dtype=dtype):
        loss = enc(x).float().square().mean()
    loss.backward()
    assert torch.isfinite(enc.fast.stem[0].weight.grad).all() and enc.fast.stem[0].weight.grad.dtype == torch.float32


def test_maybe_compile_disabled_returns_the_model():
    enc = tiny()
    assert maybe_compile(enc, enabled=False) is enc


def test_maybe_compile_falls_back_with_a_warning(monkeypatch):
    enc = tiny()

    def broken(model, **kw):
        raise RuntimeError("no compiler here")
    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(UserWarning, match="no compiler here"):
        assert maybe_compile(enc) is enc


def test_maybe_compile_tries_the_example_and_restores_buffers(monkeypatch):
    enc = tiny()
    state = {k: v.clone() for k, v in enc.state_dict().items()}

    def lazy_failure(model, **kw):
        def call(x):
            model(x)  # runs (and updates BN statistics) before the backend fails
            raise RuntimeError("inductor backend failed")
        return call
    monkeypatch.setattr(torch, "compile", lazy_failure)
    with pytest.warns(UserWarning, match="inductor"):
        assert maybe_compile(enc, example_input=torch.randn(2, 3, 8, 32, 32)) is enc
    for k, v in enc.state_dict().items():
        torch.testing.assert_close(v, state[k], msg=k)


@pytest.mark.skipif(os.environ.get("VCL_TEST_COMPILE") != "1",
                    reason="real torch.compile takes minutes on CPU; set VCL_TEST_COMPILE=1")
def test_maybe_compile_really_compiles():
    enc = tiny().eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile failed")
        compiled = maybe_compile(enc, example_input=x)
    assert compiled is not enc and compiled._orig_mod is enc
    torch.testing.assert_close(compiled(x), enc(x), atol=1e-4, rtol=1e-4)
