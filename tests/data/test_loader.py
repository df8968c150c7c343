"""Determinism of whole batches under DataLoader workers and rank sharding."""
import numpy as np
import pytest
import torch

from vcl_core.data import (AugmentConfig, ContrastiveVideoDataset, DecodeSource, EpochSampler, SamplingConfig,
                           TemporalAugmentConfig, ViewSpec, collate_views, load_index)

TEMPORAL = TemporalAugmentConfig(speeds=(1, 2), drop_p=0.2, reverse_p=0.2, shuffle_p=0.2, mask_ratio=0.3,
                                 mask_patch=4, lighting_p=0.5, camera_p=0.5, background_p=0.5)
SAMPLING = SamplingConfig(views=(ViewSpec(4, 2, temporal=TEMPORAL), ViewSpec(4, 2), ViewSpec(4, whole=True)),
                          policy="cvrl", intra_negatives=1)
TENSOR_KEYS = ("index", "video", "gap", "windows", "speed", "camera", "labels", "sample_seed")


def _dataset(root):
    idx = load_index(root)
    return ContrastiveVideoDataset(idx.split("train")[:24], DecodeSource(32), SAMPLING,
                                   AugmentConfig(crop_size=16), seed=3, label_columns=idx.label_columns)


def _run(ds, sampler, workers):
    loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=sampler, num_workers=workers,
                                         collate_fn=collate_views, persistent_workers=workers > 0)
    return list(loader)


def test_whole_batches_are_identical_with_0_and_2_workers(tiny_bench):
    ds = _dataset(tiny_bench)
    sampler = EpochSampler(len(ds), 4, seed=1)
    sampler.set_position(2)
    a, b = _run(ds, sampler, 0), _run(ds, sampler, 2)
    assert len(a) == len(b) == 6
    for x, y in zip(a, b):
        for k in TENSOR_KEYS:
            torch.testing.assert_close(x[k], y[k], msg=k)
        for v in range(len(x["views"])):
            torch.testing.assert_close(x["views"][v], y["views"][v])
            torch.testing.assert_close(x["frame_indices"][v], y["frame_indices"][v])
        assert x["video_id"] == y["video_id"]
    # the temporal features were exercised
    speeds = torch.cat([x["speed"][:, 0] for x in a])
    assert set(speeds.tolist()) == {1.0, 2.0}


def test_no_index_repeats_across_ranks_and_workers_within_an_epoch(tiny_bench):
    ds = _dataset(tiny_bench)
    world = 2
    for epoch in (0, 1):
        seen = []
        for rank in range(world):
            sampler = EpochSampler(len(ds), 4, seed=5, rank=rank, world_size=world)
            sampler.set_position(epoch)
            batches = _run(ds, sampler, 2)
            assert all(len(b["index"]) == 4 for b in batches)
            seen += [int(i) for b in batches for i in b["index"]]
            assert all(b["layout"].negative == (3,) for b in batches)
        assert len(seen) == len(set(seen)) == (len(ds) // (4 * world)) * 4 * world
    e0 = EpochSampler(len(ds), 4, seed=5).indices(0)
    e1 = EpochSampler(len(ds), 4, seed=5).indices(1)
    assert not np.array_equal(e0, e1)  # a new order every epoch


def test_sampler_resume_and_epoch_in_the_index(tiny_bench):
    s = EpochSampler(40, 4, seed=0, rank=1, world_size=2)
    s.set_position(3)
    full = list(s)
    s.set_position(3, start_batch=2)
    assert list(s) == full[8:] and len(s) == len(full) - 8
    assert all(e == 3 for e, _ in full)
    ds = _dataset(tiny_bench)
    ds.set_epoch(7)
    torch.testing.assert_close(ds[5]["views"][0], ds[(7, 5)]["views"][0])


def test_tiny_datasets_wrap_rather_than_starve_a_rank():
    """Fewer videos than world x batch: every rank still gets whole batches (repeats allowed)."""
    parts = [EpochSampler(6, 4, rank=r, world_size=2).indices(0) for r in range(2)]
    assert all(len(p) == 4 for p in parts)
    assert set(np.concatenate(parts)) == set(range(6))


@pytest.mark.parametrize("policy,check", [("same", lambda g: g == 0), ("range", lambda g: 3 <= abs(g) <= 9)])
def test_gap_follows_the_policy_in_batches(tiny_bench, policy, check):
    idx = load_index(tiny_bench)
    sampling = SamplingConfig(views=(ViewSpec(4, 2), ViewSpec(4, 2)), policy=policy, min_gap=3, max_gap=9)
    ds = ContrastiveVideoDataset(idx.split("train")[:16], DecodeSource(32), sampling, AugmentConfig(crop_size=16))
    gaps = collate_views([ds[(0, i)] for i in range(16)])["gap"].tolist()
    assert all(check(g) for g in gaps)


def _collate_and_report_sharing(batch):
    out = collate_views(batch)
    tensors = [t for v in out.values() for t in (v if isinstance(v, list) else [v]) if isinstance(t, torch.Tensor)]
    return out | {"views_shared": [v.is_shared() for v in out["views"]],
                  "blocks": len({t.untyped_storage().data_ptr() for t in tensors}),
                  "dtypes": len({t.dtype for t in tensors})}


def test_a_worker_stacks_its_batch_straight_into_shared_memory(tiny_bench):
    """Stacked in ordinary memory, a worker's batch would be copied again on its way out; and
    it is three blocks of memory, one file descriptor each to send, not one per tensor."""
    ds = _dataset(tiny_bench)
    order = [(0, i) for i in range(8)]
    loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=order, num_workers=1,
                                         collate_fn=_collate_and_report_sharing)
    batches = list(loader)
    assert all(all(b["views_shared"]) for b in batches)
    # the views; the small float32 tensors (speed, camera); the int64 ones (indices, windows, labels)
    assert [(b["blocks"], b["dtypes"]) for b in batches] == [(3, 2)] * len(batches)
    in_process = collate_views([ds[i] for i in order[:4]])  # no worker: plain memory
    assert not any(v.is_shared() for v in in_process["views"])
    torch.testing.assert_close(in_process["views"][0], batches[0]["views"][0])


def test_a_batch_is_written_in_place_and_collated_without_a_copy(tiny_bench):
    """``__getitems__`` writes each item's views into the rows of one tensor per view, and
    ``collate_views`` hands that tensor back as it is; items in another order are stacked."""
    ds = _dataset(tiny_bench)
    order = [(0, i) for i in range(4)]
    items = ds.__getitems__(order)
    batch = collate_views(items)
    for v, view in enumerate(batch["views"]):
        assert view.data_ptr() == items[0]["views"][v].data_ptr()  # the rows' own tensor
        assert items[1]["views"][v].data_ptr() == view[1].data_ptr()
    one_by_one = collate_views([ds[i] for i in order])
    for x, y in zip(batch["views"], one_by_one["views"]):
        assert torch.equal(x, y)
    shuffled = collate_views(items[::-1])  # not the rows in order: a stacked copy
    for x, y in zip(shuffled["views"], one_by_one["views"]):
        assert x.data_ptr() != items[3]["views"][0].data_ptr() and torch.equal(x, y.flip(0))
