"""Distributed InfoNCE: 2 CPU processes (gloo) give the loss and gradients of 1 process on the whole batch."""
from __future__ import annotations

import datetime
import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from loss_reference import close, reference_info_nce
from vcl_core.losses import distributed_info_nce, gather_with_grad, info_nce, is_distributed, same_video_mask

WORLD, B, D_IN, D = 2, 3, 5, 4
TEMPERATURE, BETA = 0.2, 0.5


def make_problem():
    """Global batch of 2 * 3 videos (ids repeat across ranks), a queue of 4 negatives, a shared encoder."""
    g = torch.Generator().manual_seed(80)
    torch.manual_seed(80)
    encoder = nn.Linear(D_IN, D).double()
    return dict(x_q=torch.randn(WORLD * B, D_IN, generator=g, dtype=torch.float64),
                x_k=torch.randn(WORLD * B, D_IN, generator=g, dtype=torch.float64),
                x_neg=torch.randn(4, D_IN, generator=g, dtype=torch.float64),
                video_ids=torch.tensor([0, 1, 2, 2, 3, 0]), neg_ids=torch.tensor([1, 5, 6, 3]),
                state=encoder.state_dict())


def losses(encoder, x_q, x_k, x_neg, ids_rows, ids_cols, neg_ids, loss_fn):
    """(plain loss, loss with queue negatives + same-video mask + hard-negative weights)."""
    q, k, neg = encoder(x_q), encoder(x_k), encoder(x_neg)
    mask = same_video_mask(ids_rows, torch.cat([ids_cols, neg_ids]), mode="video")
    return (loss_fn(q, k, TEMPERATURE),
            loss_fn(q, k, TEMPERATURE, extra_negatives=neg, false_negative_mask=mask, hard_negative_beta=BETA))


def _worker(rank: int, port: int, out_dir: str, problem: dict) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))
    try:
        assert is_distributed()
        rows = slice(rank * B, (rank + 1) * B)
        encoder = nn.Linear(D_IN, D).double()
        encoder.load_state_dict(problem["state"])
        local_ids = problem["video_ids"][rows]
        global_ids = gather_with_grad(local_ids)  # integer metadata gathers the same way
        result = {"global_ids": global_ids}
        for variant in (0, 1):
            encoder.zero_grad()
            x_q = problem["x_q"][rows].clone().requires_grad_()
            x_k = problem["x_k"][rows].clone().requires_grad_()
            loss = losses(encoder, x_q, x_k, problem["x_neg"], local_ids, global_ids, problem["neg_ids"],
                          distributed_info_nce)[variant]
            loss.backward()
            for p in encoder.parameters():  # what DDP does with parameter gradients
                dist.all_reduce(p.grad)
                p.grad /= WORLD
            result[variant] = dict(loss=loss.detach(), x_q=x_q.grad, x_k=x_k.grad,
                                   params=[p.grad.clone() for p in encoder.parameters()])
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_process_on_the_whole_batch(tmp_path):
    problem = make_problem()
    mp.spawn(_worker, args=(free_port(), str(tmp_path), problem), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    assert all(torch.equal(r["global_ids"], problem["video_ids"]) for r in ranks)

    encoder = nn.Linear(D_IN, D).double()
    encoder.load_state_dict(problem["state"])
    for variant in (0, 1):
        encoder.zero_grad()
        x_q, x_k = problem["x_q"].clone().requires_grad_(), problem["x_k"].clone().requires_grad_()
        full = losses(encoder, x_q, x_k, problem["x_neg"], problem["video_ids"], problem["video_ids"],
                      problem["neg_ids"], info_nce)[variant]
        full.backward()
        per_rank = [r[variant] for r in ranks]
        # the single-process loss is the mean of the per-process losses ...
        torch.testing.assert_close(sum(r["loss"] for r in per_rank) / WORLD, full.detach(), rtol=1e-10, atol=1e-12)
        # ... each process's input gradient is WORLD x the full-batch gradient of its rows
        # (it holds d(sum of process losses)/dx) ...
        for rank, r in enumerate(per_rank):
            rows = slice(rank * B, (rank + 1) * B)
            torch.testing.assert_close(r["x_q"], WORLD * x_q.grad[rows], rtol=1e-8, atol=1e-12)
            torch.testing.assert_close(r["x_k"], WORLD * x_k.grad[rows], rtol=1e-8, atol=1e-12)
            # ... and DDP-averaged parameter gradients are the full-batch ones
            for got, want in zip(r["params"], (p.grad for p in encoder.parameters())):
                torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)
    assert not close(ranks[0][1]["loss"], ranks[0][0]["loss"])  # the options did change the loss


def test_single_process_fallback_is_info_nce():
    assert not is_distributed()
    g = torch.Generator().manual_seed(81)
    q, k, neg = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g), torch.randn(3, 6, generator=g)
    assert gather_with_grad(q) is q
    mask = torch.rand(4, 7, generator=g) < 0.3
    got = distributed_info_nce(q, k, 0.3, extra_negatives=neg, false_negative_mask=mask, hard_negative_top_k=3)
    assert close(got, reference_info_nce(q, k, 0.3, extra_negatives=neg, false_negative_mask=mask, top_k=3))
    assert close(got, info_nce(q, k, 0.3, extra_negatives=neg, false_negative_mask=mask, hard_negative_top_k=3))
