"""KeyQueue (MoCo ring buffer with video id, window and age) and MemoryBank (Wu et al. 2018)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from loss_reference import close, reference_info_nce
from vcl_core.losses import KeyQueue, MemoryBank, info_nce, same_video_mask


def batch(ids, dim=4, offset=0.0):
    ids = torch.tensor(ids)
    keys = ids.float()[:, None].repeat(1, dim)  # key row = its video id, easy to read back
    return keys, ids, ids.float() + offset, ids.float() + offset + 1.0


def test_only_filled_slots_count_before_the_queue_is_full():
    q = KeyQueue(dim=4, size=5)
    assert len(q) == 0 and q.keys().shape == (0, 4) and not q.valid.any()
    q.enqueue(*batch([7, 8]))
    assert len(q) == 2
    assert q.valid.tolist() == [True, True, False, False, False]
    assert q.keys()[:, 0].tolist() == [7.0, 8.0] and q.video_ids.tolist() == [7, 8]


def test_queue_wraps_around_when_size_is_not_a_multiple_of_the_batch():
    q = KeyQueue(dim=4, size=5)
    q.enqueue(*batch([0, 1, 2]))
    q.enqueue(*batch([3, 4, 5]))  # slots 3, 4, then wraps to slot 0
    assert len(q) == 5 and q.valid.all()
    assert q.video_ids.tolist() == [5, 1, 2, 3, 4]
    assert q.keys()[:, 0].tolist() == [5.0, 1.0, 2.0, 3.0, 4.0]
    assert q.starts.tolist() == [5.0, 1.0, 2.0, 3.0, 4.0] and q.ends.tolist() == [6.0, 2.0, 3.0, 4.0, 5.0]
    assert q.ages.tolist() == [1, 2, 2, 1, 1]
    q.enqueue(*batch([6, 7, 8]))  # slots 1, 2, 3: the oldest keys (1, 2, 3) go first
    assert q.video_ids.tolist() == [5, 6, 7, 8, 4]
    assert q.ages.tolist() == [2, 1, 1, 1, 2]


def test_batch_larger_than_the_queue_keeps_the_newest_keys():
    q = KeyQueue(dim=4, size=3)
    q.enqueue(*batch([0]))
    q.enqueue(*batch([1, 2, 3, 4, 5]))
    assert len(q) == 3 and sorted(q.video_ids.tolist()) == [3, 4, 5]


def test_enqueue_detaches_and_checks_shapes():
    q = KeyQueue(dim=4, size=6)
    keys = torch.randn(2, 4, requires_grad=True)
    q.enqueue(keys, torch.tensor([0, 1]), torch.zeros(2), torch.ones(2))
    assert not q.keys().requires_grad
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        q.enqueue(torch.randn(2, 3), torch.tensor([0, 1]), torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match="starts"):
        q.enqueue(torch.randn(2, 4), torch.tensor([0, 1]), torch.zeros(3), torch.ones(2))
    with pytest.raises(ValueError):
        KeyQueue(dim=4, size=0)


def test_false_negative_mask_matches_loop():
    q = KeyQueue(dim=4, size=8)
    q.enqueue(torch.randn(5, 4), torch.tensor([0, 1, 0, 2, 0]), torch.tensor([0.0, 0.0, 2.0, 0.0, 4.0]),
              torch.tensor([1.0, 1.0, 3.0, 1.0, 5.0]))
    vid, s, e = torch.tensor([0, 2]), torch.tensor([2.5, 5.0]), torch.tensor([4.5, 6.0])
    mask = q.false_negative_mask(vid, s, e, mode="overlap")
    for i in range(2):
        for j in range(5):
            want = vid[i] == q.video_ids[j] and max(s[i], q.starts[j]) < min(e[i], q.ends[j])
            assert bool(mask[i, j]) == bool(want)
    assert mask.tolist() == [[False, False, True, False, True], [False] * 5]
    assert q.false_negative_mask(vid, mode="video").tolist() == [[True, False, True, False, True],
                                                                 [False, False, False, True, False]]


def test_queue_negatives_masks_and_age_decay_in_info_nce():
    gen = torch.Generator().manual_seed(40)
    q = KeyQueue(dim=6, size=7)
    for _ in range(3):
        q.enqueue(torch.randn(4, 6, generator=gen), torch.randint(5, (4,), generator=gen),
                  torch.rand(4, generator=gen) * 3, 3 + torch.rand(4, generator=gen))
    # 12 keys through 7 slots: slots 1-4 hold the last call's keys, 0 and 5-6 the call before
    assert q.ages.tolist() == [2, 1, 1, 1, 1, 2, 2]
    weights = q.age_weights(0.9)
    torch.testing.assert_close(weights, 0.9 ** q.ages.float())

    query, key = torch.randn(3, 6, generator=gen), torch.randn(3, 6, generator=gen)
    vid, s, e = torch.tensor([0, 1, 2]), torch.zeros(3), torch.full((3,), 4.0)
    in_batch = same_video_mask(vid, vid, s, e, s, e)
    mask = torch.cat([in_batch, q.false_negative_mask(vid, s, e)], dim=1)
    got = info_nce(query, key, 0.2, extra_negatives=q.keys(), false_negative_mask=mask, extra_negative_scale=weights)
    ref = reference_info_nce(query, key, 0.2, extra_negatives=q.keys(), false_negative_mask=mask, extra_scale=weights)
    assert close(got, ref)
    assert not close(got, info_nce(query, key, 0.2, extra_negatives=q.keys(), false_negative_mask=mask))
    with pytest.raises(ValueError, match="decay"):
        q.age_weights(0.0)


def test_queue_state_survives_a_state_dict_round_trip():
    q = KeyQueue(dim=4, size=5)
    q.enqueue(*batch([0, 1, 2]))
    q2 = KeyQueue(dim=4, size=5)
    q2.load_state_dict(q.state_dict())
    assert len(q2) == 3 and torch.equal(q2.keys(), q.keys())
    q.enqueue(*batch([3, 4, 5]))
    q2.enqueue(*batch([3, 4, 5]))
    assert q2.video_ids.tolist() == q.video_ids.tolist() == [5, 1, 2, 3, 4]


def test_memory_bank_update_is_the_momentum_formula():
    torch.manual_seed(41)
    bank = MemoryBank(num_items=10, dim=4, momentum=0.5)
    old = bank.bank.clone()
    z = torch.randn(3, 4)
    bank.update(torch.tensor([2, 7, 2]), z)  # item 2 twice: averaged
    zn = F.normalize(z, dim=1)
    want2 = F.normalize(0.5 * old[2] + 0.5 * (zn[0] + zn[2]) / 2, dim=0)
    want7 = F.normalize(0.5 * old[7] + 0.5 * zn[1], dim=0)
    torch.testing.assert_close(bank.get(torch.tensor([2, 7])), torch.stack([want2, want7]))
    untouched = [i for i in range(10) if i not in (2, 7)]
    assert torch.equal(bank.bank[untouched], old[untouched])
    torch.testing.assert_close(bank.bank.norm(dim=1), torch.ones(10))
    with pytest.raises(ValueError, match="indices"):
        bank.update(torch.tensor([10]), torch.randn(1, 4))
    with pytest.raises(ValueError):
        MemoryBank(10, 4, momentum=1.0)


def test_memory_bank_sampling_excludes_and_is_reproducible():
    bank = MemoryBank(num_items=12, dim=4)
    exclude = torch.tensor([0, 3, 5])
    neg, idx = bank.sample_negatives(9, exclude_indices=exclude, generator=torch.Generator().manual_seed(0))
    assert sorted(idx.tolist()) == [1, 2, 4, 6, 7, 8, 9, 10, 11]  # all that is left, each once
    assert torch.equal(neg, bank.bank[idx])
    a = bank.sample_negatives(4, exclude, torch.Generator().manual_seed(1))[1]
    b = bank.sample_negatives(4, exclude, torch.Generator().manual_seed(1))[1]
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="cannot draw"):
        bank.sample_negatives(10, exclude_indices=exclude)
