import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from vcl_core.data import (AugmentConfig, ContrastiveVideoDataset, DecodeSource, FrameCache,
                           SamplingConfig, ViewSpec, collate_views, load_index)
from vcl_core.data.index import VideoRecord
from videos import moving_frames, truncate, write_video

AUG = AugmentConfig(crop_size=24)
SAMPLING = SamplingConfig(views=(ViewSpec(4, 2), ViewSpec(4, 2), ViewSpec(6, whole=True)), policy="cvrl")


def _dataset(root, seed=0, source=None):
    idx = load_index(root)
    return ContrastiveVideoDataset(idx.split("train")[:16], source or DecodeSource(36), SAMPLING, AUG, seed=seed)


def test_item_shapes_and_keys(tiny_bench):
    item = _dataset(tiny_bench)[3]
    assert [v.shape for v in item["views"]] == [(3, 4, 24, 24), (3, 4, 24, 24), (3, 6, 24, 24)]
    assert item["index"] == item["video"] == 3 and item["failures"] == []
    assert item["gap"] == int(item["windows"][1, 0] - item["windows"][0, 0])


def test_same_seed_epoch_index_same_sample_different_epoch_differs(tiny_bench):
    ds = _dataset(tiny_bench)
    a, b = ds[(2, 5)], ds[(2, 5)]
    for x, y in zip(a["views"], b["views"]):
        torch.testing.assert_close(x, y)
    c = ds[(3, 5)]
    assert any(not torch.equal(x, y) for x, y in zip(a["views"], c["views"]))
    ds.set_epoch(2)
    torch.testing.assert_close(ds[5]["views"][0], a["views"][0])


def test_workers_do_not_change_samples(tiny_bench):
    ds = _dataset(tiny_bench)
    order = [(1, i) for i in range(8)]

    def run(workers):
        loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=order, num_workers=workers,
                                             collate_fn=collate_views)
        return [b["views"][0] for b in loader]

    for x, y in zip(run(0), run(2)):
        torch.testing.assert_close(x, y)


def test_cache_and_decoder_give_the_same_clips(tiny_bench, tmp_path):
    a = _dataset(tiny_bench)[(0, 4)]
    cache = FrameCache(tmp_path / "cache", 36)
    b = _dataset(tiny_bench, source=cache)[(0, 4)]
    for x, y in zip(a["views"], b["views"]):
        torch.testing.assert_close(x, y)


def test_cache_is_invalidated_when_the_file_changes(tmp_path):
    path = write_video(tmp_path / "v.mp4", moving_frames(8, 32, 32, seed=1))
    rec = VideoRecord(str(path), "v")
    cache = FrameCache(tmp_path / "cache", None)
    first = cache.read(rec, [0]).copy()
    old_entry = cache.entry(str(path))
    write_video(path, moving_frames(12, 32, 32, seed=2))
    cache2 = FrameCache(tmp_path / "cache", None)
    assert cache2.entry(str(path)) != old_entry
    assert cache2.num_frames(rec) == 12
    assert not np.array_equal(cache2.read(rec, [0]), first)


def test_bad_videos_are_replaced_and_reported(tiny_bench, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(tiny_bench, root)
    idx = load_index(root)
    train = idx.split("train")[:12]
    truncate(train[1].path, 0.02)
    open(train[2].path, "w").write("not a video")
    Path(train[3].path).unlink()
    ds = ContrastiveVideoDataset(train, DecodeSource(36), SAMPLING, AUG, seed=0)
    seen_failures = []
    for i in range(len(ds)):
        item = ds[i]
        assert item["video"] not in (1, 2, 3)
        seen_failures += item["failures"]
    bad_ids = {f.split(":")[0] for f in seen_failures}
    assert {train[1].video_id, train[2].video_id, train[3].video_id} <= bad_ids


def test_a_batch_read_ahead_in_a_thread_gives_the_items_one_by_one(tiny_bench, tmp_path, monkeypatch):
    """``__getitems__`` (what a DataLoader calls) decodes the next item in a thread: the same
    items, failures and replacements as ``ds[i]`` one at a time, bad videos included."""
    import os

    import vcl_core.data.dataset as dataset_module

    root = tmp_path / "broken"
    shutil.copytree(tiny_bench, root)
    train = load_index(root).split("train")[:10]
    truncate(train[4].path, 0.02)  # fails while probing (before the read is submitted)
    a_ds, b_ds = (ContrastiveVideoDataset(train, DecodeSource(36), SAMPLING, AUG, seed=5) for _ in range(2))
    for ds in (a_ds, b_ds):
        ds.source.num_frames(train[1])
    Path(train[1].path).unlink()  # probed, then gone: fails while decoding (in the thread)
    monkeypatch.setattr(dataset_module, "_spare_core", lambda: True)  # whatever this machine's cores
    keys = [(2, i) for i in range(len(train))]
    one_by_one = [a_ds[k] for k in keys]
    batch = b_ds.__getitems__(keys)
    assert os.getpid() in dataset_module._THREADS  # the thread ran
    assert [b["video"] for b in batch] == [a["video"] for a in one_by_one]
    assert [b["failures"] for b in batch] == [a["failures"] for a in one_by_one]
    assert "file not found" in one_by_one[1]["failures"][0] and one_by_one[4]["failures"]
    for a, b in zip(one_by_one, batch):
        for x, y in zip(a["views"], b["views"]):
            assert torch.equal(x, y)
        assert torch.equal(a["windows"], b["windows"]) and a["sample_seed"] == b["sample_seed"]


def test_short_videos_loop_or_get_skipped(tmp_path):
    path = write_video(tmp_path / "short.mp4", moving_frames(3, 32, 32))
    recs = [VideoRecord(str(path), "short")]
    views = SamplingConfig(views=(ViewSpec(8, 2), ViewSpec(8, 2)), short="loop")
    item = ContrastiveVideoDataset(recs, DecodeSource(), views, AUG)[0]
    assert item["views"][0].shape == (3, 8, 24, 24)
    skip = SamplingConfig(views=(ViewSpec(8, 2), ViewSpec(8, 2)), short="skip", max_retries=2)
    with pytest.raises(RuntimeError, match="check-data"):
        ContrastiveVideoDataset(recs, DecodeSource(), skip, AUG)[0]


def test_spatial_augmentation_on_the_batch_gives_the_loaders_samples(tiny_bench):
    """spatial_on_batch leaves the crop, colour and normalisation to augment_batch, which gives
    the same views (to float rounding) from uint8 frames: the same draws, another place."""
    from vcl_core.data import augment_batch

    aug = AugmentConfig(crop_size=24, flip_p=0.5, grayscale_p=0.5, jitter_p=0.7, blur_p=0.5)
    records = load_index(tiny_bench).split("train")[:16]
    order = [(1, i) for i in range(8)]

    def batch(on_batch):
        ds = ContrastiveVideoDataset(records, DecodeSource(36), SAMPLING, aug, seed=0, spatial_on_batch=on_batch)
        return collate_views([ds[k] for k in order])

    ref, raw = batch(False), batch(True)
    assert [v.dtype for v in raw["views"]] == [torch.uint8] * 3 and raw["crop_sizes"] == [24] * 3
    assert raw["views"][2].shape == (8, 6, 36, 36, 3) and len(raw["spatial"][2]) == 8
    torch.testing.assert_close(raw["windows"], ref["windows"])
    done = augment_batch(raw)
    assert "spatial" not in done and augment_batch(ref) is ref
    for x, y in zip(done["views"], ref["views"]):
        assert x.shape == y.shape
        torch.testing.assert_close(x, y, atol=2e-5, rtol=0)
