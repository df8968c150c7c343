"""The synthetic benchmark: deterministic, split by group, and its factors are what they say."""
import csv
import time

import numpy as np
import pytest

from vcl_core.data.decode import probe_video, read_frames

from vcl_core.data.synthetic import MOTIONS, ORDERS, SHAPES, SynthConfig, _group_params, generate, preset, render_video


def _rows(root):
    with open(root / "labels.csv") as f:
        return list(csv.DictReader(f))


def test_same_seed_same_videos_other_seed_other_videos(tiny_bench, tmp_path):
    """Labels and rendered frames are exactly reproducible; libx264 is not bit-reproducible
    (see ``write_video``), so the files are compared after decoding, up to encoder noise."""
    again = tmp_path / "again"
    generate(again, "tiny", seed=0, progress=False)
    assert (again / "labels.csv").read_text() == (tiny_bench / "labels.csv").read_text()
    for r in _rows(again)[:6]:
        n = probe_video(again / r["path"]).num_frames
        a = read_frames(again / r["path"], list(range(n))).astype(np.int16)
        b = read_frames(tiny_bench / r["path"], list(range(n))).astype(np.int16)
        assert np.abs(a - b).mean() < 4.0
    cfg, group = preset("tiny"), _group_params(np.random.default_rng([0, 1, 0]))
    frames = [render_video(cfg, "circle", "drift_up", "OVH", group, np.random.default_rng(3))[0] for _ in range(2)]
    np.testing.assert_array_equal(frames[0], frames[1])
    other = tmp_path / "other"
    generate(other, "tiny", seed=1, progress=False)
    assert (other / "labels.csv").read_text() != (tiny_bench / "labels.csv").read_text()


def test_a_complete_benchmark_is_not_written_again(tiny_bench):
    stamp = (tiny_bench / "labels.csv").stat().st_mtime_ns
    t = time.time()
    generate(tiny_bench, "tiny", seed=0, progress=False)
    assert (tiny_bench / "labels.csv").stat().st_mtime_ns == stamp and time.time() - t < 5
    with pytest.raises(FileExistsError, match="another config or seed"):
        generate(tiny_bench, "tiny", seed=3, progress=False)


def test_groups_split_and_held_out_combinations(tiny_bench):
    rows = _rows(tiny_bench)
    split_of = {}
    for r in rows:
        assert split_of.setdefault(r["group"], r["split"]) == r["split"], "a group straddles the split"
    unseen = [r for r in rows if r["meta_combo_seen"] == "0"]
    assert unseen and all(r["split"] == "test" for r in unseen)
    held = {(r["shape"], r["motion"]) for r in unseen}
    assert not any((r["shape"], r["motion"]) in held for r in rows if r["split"] == "train")
    for col, classes in (("shape", SHAPES), ("motion", MOTIONS), ("order", ORDERS)):
        assert {r[col] for r in rows} == set(classes)


def test_motion_classes_have_the_same_mean_frame():
    cfg, group = preset("tiny"), _group_params(np.random.default_rng(2))
    means = [render_video(cfg, "square", m, "HVO", group, np.random.default_rng(5))[0].astype(float).mean(0)
             for m in MOTIONS]
    frames = render_video(cfg, "square", MOTIONS[0], "HVO", group, np.random.default_rng(5))[0].astype(float)
    # the drift changes every frame, but its time average is the same for every direction
    assert np.abs(frames[1] - frames[0]).mean() > 1.0
    for m in means[1:]:
        assert np.abs(m - means[0]).mean() < 0.5


def test_phases_follow_the_order_and_return_home():
    cfg = SynthConfig(size=32, num_frames=48)
    _, notes = render_video(cfg, "circle", "drift_up", "VOH", _group_params(np.random.default_rng(0)),
                            np.random.default_rng(1))
    assert [n["phase"] for n in notes[::16]] == ["V", "O", "H"]
    # relative to the camera, the object is at the same place at the start of every phase
    pos = [(n["obj_x"] + n["cam_x"], n["obj_y"] + n["cam_y"]) for n in notes[::16]]
    assert np.allclose(pos, pos[0], atol=1e-2)


def test_bad_configs_are_explained():
    with pytest.raises(ValueError, match="multiple of 48"):
        SynthConfig(num_frames=50)
    with pytest.raises(ValueError, match="unknown synthetic preset"):
        preset("huge")
