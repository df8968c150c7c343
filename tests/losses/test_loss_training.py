"""Each main contrastive loss falls under a few SGD steps of a tiny linear encoder.

Toy videos: every video has ``S`` latent time steps (8 signal dims) and each view adds a large
random nuisance (8 more dims, a per-view "appearance" change). A random linear encoder mixes
the nuisance in, so the losses start high; learning to ignore it makes them fall.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vcl_core.losses import (KeyQueue, MomentumEncoder, distributed_info_nce, info_nce, multiscale_info_nce,
                             time_aligned_global_local)

S, SIGNAL, NUISANCE, DIM = 4, 8, 8, 8


def view(latent: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``latent (..., SIGNAL)`` -> ``(..., SIGNAL + NUISANCE)`` with fresh nuisance."""
    nuisance = 3.0 * torch.randn(*latent.shape[:-1], NUISANCE, generator=gen)
    return torch.cat([latent + 0.05 * torch.randn(latent.shape, generator=gen), nuisance], dim=-1)


def objective(name: str, enc: nn.Module, latents: torch.Tensor, gen: torch.Generator, state: dict) -> torch.Tensor:
    clip = latents.sum(dim=1) / S ** 0.5  # (B, SIGNAL): what a whole-video view sees, unit variance
    if name == "info_nce":
        return info_nce(enc(view(clip, gen)), enc(view(clip, gen)), 0.2)
    if name == "info_nce_hard_negatives":
        return info_nce(enc(view(clip, gen)), enc(view(clip, gen)), 0.2, hard_negative_beta=1.0)
    if name == "distributed_info_nce":
        return distributed_info_nce(enc(view(clip, gen)), enc(view(clip, gen)), 0.2)
    if name == "multiscale":
        views = {"long": [enc(view(clip, gen)) for _ in range(2)],
                 "short": [enc(view(latents[:, 0], gen)) for _ in range(2)]}
        return multiscale_info_nce(views, temperature={"long": 0.2, "short": 0.1})[0]
    if name == "global_local":
        times = torch.arange(S, dtype=torch.float32).expand(len(latents), S)
        return time_aligned_global_local(enc(view(latents, gen)), times, enc(view(latents, gen)), times, 0.2)
    if name == "moco_queue":
        key_enc, queue = state.setdefault("key", MomentumEncoder(enc)), state.setdefault("queue", KeyQueue(DIM, 48))
        q, k = enc(view(clip, gen)), key_enc(view(clip, gen))
        if not enc.training:  # evaluate in-batch, so before/after see the same number of negatives
            return info_nce(q, k, 0.2)
        ids = state["ids"]
        mask = torch.cat([ids[:, None] == ids[None, :], queue.false_negative_mask(ids, mode="video")], dim=1)
        loss = info_nce(q, k, 0.2, extra_negatives=queue.keys(), false_negative_mask=mask)
        queue.enqueue(k, ids, torch.zeros(len(ids)), torch.ones(len(ids)))
        return loss
    raise KeyError(name)


@pytest.mark.parametrize("name", ["info_nce", "info_nce_hard_negatives", "distributed_info_nce",
                                  "multiscale", "global_local", "moco_queue"])
def test_loss_falls_under_a_few_sgd_steps(name):
    torch.manual_seed(90)
    latents = torch.randn(200, S, SIGNAL)
    enc = nn.Linear(SIGNAL + NUISANCE, DIM)
    opt = torch.optim.SGD(enc.parameters(), lr=0.02, momentum=0.9)
    state: dict = {}

    def eval_loss() -> float:
        enc.eval()
        with torch.no_grad():
            value = objective(name, enc, latents[:32], torch.Generator().manual_seed(1), state).item()
        enc.train()
        return value

    before = eval_loss()
    gen = torch.Generator().manual_seed(2)
    for _ in range(30):
        idx = torch.randint(200, (16,), generator=gen)
        state["ids"] = idx
        loss = objective(name, enc, latents[idx], gen, state)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if "key" in state:
            state["key"].update(momentum=0.5)
    after = eval_loss()
    assert after < 0.75 * before, f"{name}: {before:.3f} -> {after:.3f}"
