"""Every recipe builds, runs a training step on real clips, and does what its name says."""
import pytest
import torch

from vcl_core.data import collate_views, load_index
from vcl_core.train import build_objective, load_config
from vcl_core.train.loop import build_train_dataset
from vcl_core.train.objective import patch_shuffle, temporal_negatives

from recipes import RECIPES


def _setup(tiny_bench, tiny_overrides, overrides, n=6):
    cfg = load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", *overrides])
    records = load_index(tiny_bench).split("train")
    cols = ["shape", "motion", "order"] if cfg.method.name == "supervised" else ()
    ds = build_train_dataset(cfg, records, cols)
    batch = collate_views([ds[(0, i)] for i in range(n)])
    torch.manual_seed(0)
    obj = build_objective(cfg, {c: len(v) for c, v in ds.classes.items()}, num_videos=len(records))
    return cfg, obj, batch


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_trains_one_step(name, tiny_bench, tiny_overrides):
    cfg, obj, batch = _setup(tiny_bench, tiny_overrides, RECIPES[name])
    loss, logs = obj(batch)
    assert torch.isfinite(loss) and logs["loss"] == pytest.approx(float(loss.detach()), rel=1e-5)
    loss.backward()
    grads = [p.grad for n, p in obj.named_parameters() if n.startswith(("encoder.", "backbone.")) and p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    if hasattr(obj, "after_step"):
        obj.after_step(0, 10)
    enc = obj.evaluation_encoder()
    assert enc(batch["views"][0][:2]).shape == (2, enc.embed_dim)


def test_temporal_negatives_reverse_and_shuffle():
    x = torch.arange(2 * 3 * 5 * 1 * 1, dtype=torch.float32).reshape(2, 3, 5, 1, 1)
    rev, shuf = temporal_negatives(x, "both", torch.Generator().manual_seed(0))
    torch.testing.assert_close(rev, x.flip(2))
    assert not torch.equal(shuf, x) and torch.equal(shuf.sort(dim=2).values, x)
    assert temporal_negatives(x, "none") == []


def test_rotate_reverse_keeps_the_motion_and_reverses_the_order():
    """A dot moving right, then a second event: reversed, the dot moves left; turned by 180
    degrees and reversed, it moves right again, but the events come in reverse order."""
    t, w = 6, 8
    x = torch.zeros(1, 1, t, w, w)
    for k in range(t):
        x[0, 0, k, 2, 1 + k] = 1.0      # a dot drifting right on row 2
    x[0, 0, t - 1, 6, 6] = 2.0          # an event at the end
    (rev,) = temporal_negatives(x, "reverse")
    (rr,) = temporal_negatives(x, "rotate_reverse")

    def column(clip, k):  # where the dot is in frame k
        return int((clip[0, 0, k] == 1.0).nonzero()[0, 1])

    dx = lambda clip: column(clip, 1) - column(clip, 0)  # noqa: E731
    assert dx(x) == 1 and dx(rev) == -1 and dx(rr) == 1
    event = lambda clip: int((clip[0, 0] == 2.0).flatten(1).any(1).nonzero()[0, 0])  # noqa: E731
    assert event(x) == t - 1 and event(rev) == 0 and event(rr) == 0


def test_patch_shuffle_permutes_cells_the_same_way_in_every_frame():
    """Each output cell is one input cell, the same one in every frame (so motion inside a cell
    survives), every cell is used once, no clip keeps its layout, and a remainder stays put."""
    b, t, grid, cell = 5, 4, 3, 2
    x = torch.randn(b, 2, t, grid * cell + 1, grid * cell + 1)
    y = patch_shuffle(x, grid, torch.rand(b, grid * grid, generator=torch.Generator().manual_seed(0)))
    assert y.shape == x.shape
    torch.testing.assert_close(y[..., -1, :], x[..., -1, :])
    torch.testing.assert_close(y[..., :, -1], x[..., :, -1])

    def cells(v, i):
        return [v[i, :, :, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] for r in range(grid) for c in range(grid)]

    for i in range(b):
        src = []
        for out_cell in cells(y, i):
            match = [j for j, in_cell in enumerate(cells(x, i)) if torch.equal(out_cell, in_cell)]
            assert len(match) == 1  # the whole (C, T) block of one input cell: the same cell in every frame
            src.append(match[0])
        assert sorted(src) == list(range(grid * grid)) and src != list(range(grid * grid))
    with pytest.raises(ValueError, match="grid"):
        patch_shuffle(x, 1, torch.rand(b, 1))


def test_patch_negatives_add_a_negative_to_the_whole_view_pairs_only(tiny_bench, tiny_overrides):
    """method.patch_negatives gives each whole-video view one more negative (its patch-shuffled
    copy): the long-view loss rises, the short-clip loss stays, and the option needs whole views."""
    _, off, batch = _setup(tiny_bench, tiny_overrides, [])
    cfg = load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", "method.patch_negatives=2"])
    on = build_objective(cfg)
    on.load_state_dict(off.state_dict())
    long = on.long_ids[0]
    negs = on._derived_negatives(long, batch["views"][long], batch)
    assert len(negs) == 2  # rotate_reverse + patches
    assert len(on._derived_negatives(on.short_ids[0], batch["views"][on.short_ids[0]], batch)) == 1
    # each video's permutation comes from its own seed: a half batch (one DDP process's share)
    # gets the same shuffled copies, whatever the global generator holds
    torch.manual_seed(123)
    half = {k: v[:3] if torch.is_tensor(v) else v for k, v in batch.items()}
    half["views"] = [v[:3] for v in batch["views"]]
    torch.testing.assert_close(on._derived_negatives(long, half["views"][long], half)[1], negs[1][:3])
    on.eval(), off.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        _, lon = on(batch)
        _, loff = off(batch)
    assert lon["loss_long"] > loff["loss_long"]
    assert abs(lon["loss_short"] - loff["loss_short"]) < 1e-5
    with pytest.raises(ValueError, match="patch_negatives"):
        load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", "method.patch_negatives=1"])
    with pytest.raises(ValueError, match="patch_negatives"):
        load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", "method.patch_negatives=4",
                                                     "data.long_views=0"])


def test_whole_view_negatives_are_their_own_option(tiny_bench, tiny_overrides):
    """method.long_negatives adds negatives to the whole-video pairs only: switching it off
    lowers the long-view loss and leaves the short-clip loss as it was."""
    on_cfg = load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}"])
    off_cfg = load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", "method.long_negatives=none"])
    _, on, batch = _setup(tiny_bench, tiny_overrides, [])
    off = build_objective(off_cfg)
    off.load_state_dict(on.state_dict())
    on.eval(), off.eval()
    with torch.no_grad():
        _, lon = on(batch)
        _, loff = off(batch)
    assert on_cfg.method.long_negatives == "rotate_reverse"
    assert lon["loss_long"] > loff["loss_long"]
    assert abs(lon["loss_short"] - loff["loss_short"]) < 1e-5


def test_reversed_anchor_enters_the_denominator(tiny_bench, tiny_overrides):
    _, with_neg, batch = _setup(tiny_bench, tiny_overrides, [])
    cfg = load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", "method.temporal_negatives=none",
                                                        "method.long_negatives=none"])
    without = build_objective(cfg)
    without.load_state_dict(with_neg.state_dict())
    with_neg.eval(), without.eval()  # same BatchNorm statistics for both
    with torch.no_grad():
        assert float(with_neg(batch)[0]) > float(without(batch)[0])


def test_moco_queue_fills_and_target_follows_online(tiny_bench, tiny_overrides):
    _, obj, batch = _setup(tiny_bench, tiny_overrides, RECIPES["moco"])
    assert len(obj.queues["long"]) == 0
    obj(batch)
    assert len(obj.queues["long"]) == len(obj.queues["short"]) == 6
    before = [p.clone() for p in obj.target_net.module[0].parameters()]
    with torch.no_grad():
        for p in obj.encoder.parameters():
            p.add_(1.0)
    obj.after_step(0, 100)
    moved = [(b - a).abs().max() for a, b in zip(before, obj.target_net.module[0].parameters())]
    assert all(0 < float(m) < 1.0 for m in moved)  # an EMA step toward the online network


def test_memory_bank_updates_the_batch_entries(tiny_bench, tiny_overrides):
    _, obj, batch = _setup(tiny_bench, tiny_overrides, RECIPES["bank"])
    idx = batch["video"]
    before = obj.bank.get(idx).clone()
    others = obj.bank.bank[[i for i in range(obj.bank.bank.shape[0]) if i not in set(idx.tolist())]].clone()
    obj(batch)
    assert not torch.allclose(obj.bank.get(idx), before)
    torch.testing.assert_close(obj.bank.bank[[i for i in range(obj.bank.bank.shape[0]) if i not in set(idx.tolist())]],
                               others)


def test_memory_bank_adds_its_query_played_backwards_to_the_negatives(tiny_bench, tiny_overrides):
    """With ``method.temporal_negatives=reverse`` the bank's loss is InfoNCE of the query clip
    against its video's stored embedding, with the batch's queries played backwards before the
    sampled stored negatives (computed here by hand from the same encoder and draws)."""
    from vcl_core.losses import info_nce

    _, obj, batch = _setup(tiny_bench, tiny_overrides, RECIPES["bank"])
    assert obj.cfg.method.temporal_negatives == "reverse"
    obj.eval()  # BatchNorm on running statistics: the encoder gives the same features twice
    q_view = batch["views"][obj.short_ids[0]]
    idx = batch["video"]
    pos = obj.bank.get(idx).clone()
    k = min(obj.cfg.method.bank_negatives, obj.bank.bank.shape[0] - len(torch.unique(idx)))
    neg, _ = obj.bank.sample_negatives(k, exclude_indices=idx, generator=torch.Generator().manual_seed(0))
    obj.bank.sample_negatives = lambda *a, **kw: (neg, None)  # the same draw for the objective
    with torch.no_grad():
        q = obj.projector(obj.encoder(q_view))
        backwards = obj.projector(obj.encoder(q_view.flip(2)))
        want = info_nce(q, pos, obj.temperature(), extra_negatives=torch.cat([backwards, neg]))
        without = info_nce(q, pos, obj.temperature(), extra_negatives=neg)
        _, logs = obj(batch)
    assert logs["loss_bank"] == pytest.approx(float(want), rel=1e-5)
    assert float(want) > float(without)  # the backwards clips are negatives close to the query


@pytest.mark.parametrize("views, unused", [(["data.num_views=2"], "long_negatives"),
                                           (["data.num_views=0", "method.long_negatives=none"], "temporal_negatives")])
def test_memory_bank_rejects_negatives_it_would_not_use(views, unused, tiny_bench, tiny_overrides):
    with pytest.raises(ValueError, match=f"{unused} does nothing"):
        load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", "method.name=bank",
                                                   "method.fast_contrast=0", *views])


def test_memory_gives_a_video_level_encoder(tiny_bench, tiny_overrides):
    cfg, obj, batch = _setup(tiny_bench, tiny_overrides, RECIPES["memory"])
    video = obj.video_encoder()
    clips = torch.stack([batch["views"][2][:3], batch["views"][3][:3]], 1)  # (B, K, 3, T, H, W)
    assert video(clips).shape == (3, obj.encoder.embed_dim)
    assert build_objective(load_config("synthetic", [f"data.root={tiny_bench}"])).video_encoder() is None


@pytest.mark.parametrize("overrides, key", [
    (["method.name=simclr", "method.queue_size=64"], "method.queue_size"),
    (["method.temperature_end=0.2"], "method.temperature_end"),
    (["method.memory_tbptt=2"], "method.memory_tbptt"),
    (["method.name=moco"], "method.queue_size > 0"),
    (["method.name=byol"], "method.temporal_negatives"),
    (["method.name=tclr"], "data.intra_negatives"),
    (["method.aux.order=1"], "method.aux.order"),
    (["method.aux.speed=1"], "temporal.speeds"),
    (["method.share_scales=false", "data.long_frames=8"], "data.long_frames != data.num_frames"),
])
def test_options_a_recipe_would_ignore_are_rejected(overrides, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.").replace(">", ">").replace("!", "!")):
        load_config("synthetic", overrides)


def test_the_supervised_ceiling_trains_on_whole_video_views_only(tiny_bench, tiny_overrides):
    """The labels describe whole videos (a half-second clip cannot show the order of three
    one-second phases), so the ceiling sees whole-video views only."""
    with pytest.raises(ValueError, match="whole-video views only"):
        load_config("synthetic", tiny_overrides + ["method.name=supervised", "method.temporal_negatives=none", "method.long_negatives=none",
                                                   "method.global_local=0", "method.aux.gap=0"])
    cfg, obj, batch = _setup(tiny_bench, tiny_overrides, RECIPES["supervised"])
    records = load_index(tiny_bench).split("train")
    views = build_train_dataset(cfg, records, ["order"]).sampling.views
    assert views and all(v.whole for v in views)
    assert [v.shape[2] for v in batch["views"]] == [cfg.data.long_frames] * cfg.data.long_views


def test_a_batch_cut_for_other_views_is_rejected(tiny_bench, tiny_overrides):
    cfg, obj, batch = _setup(tiny_bench, tiny_overrides, [])
    other = build_objective(load_config("synthetic", [f"data.root={tiny_bench}", "data.intra_negatives=1"]))
    assert other.layout.negative == (4,) and obj.layout.negative == ()
    with pytest.raises(ValueError, match="view layout"):
        other(batch)
    short = dict(batch, views=[v[:, :, :2] for v in batch["views"]])
    with pytest.raises(ValueError, match="does not match its view layout"):
        obj(short)
