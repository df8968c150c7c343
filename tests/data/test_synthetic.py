"""The synthetic benchmark: deterministic, split by group, and its factors are what they say."""
import csv
import json

import numpy as np
import pytest


from vcl_core.data.synthetic import (MOTIONS, ORDERS, SHAPES, SynthConfig, _group_params, generate,
                                     max_unaliased_stride, preset, read_drift, render_video)


def _rows(root):
    with open(root / "labels.csv") as f:
        return list(csv.DictReader(f))


def test_same_seed_same_videos_other_seed_other_videos(tmp_path):
    """Labels, rendered frames and encoded files are exactly reproducible, across processes
    (x264's macroblock tree made about one file in four differ from one process to the next)."""
    import hashlib
    import subprocess
    import sys

    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, "tiny", seed=0, progress=False, workers=1)
    subprocess.run([sys.executable, "-c", "from vcl_core.data.synthetic import generate; "
                    f"generate({str(b)!r}, 'tiny', seed=0, progress=False, workers=2)"], check=True)
    assert (a / "labels.csv").read_text() == (b / "labels.csv").read_text()
    assert (a / "frames.csv").read_text() == (b / "frames.csv").read_text()
    differ = [r["path"] for r in _rows(a)
              if hashlib.md5((a / r["path"]).read_bytes()).digest() != hashlib.md5((b / r["path"]).read_bytes()).digest()]
    assert not differ, f"{len(differ)} of {len(_rows(a))} files encoded to other bytes, e.g. {differ[:3]}"
    cfg, group = preset("tiny"), _group_params(np.random.default_rng([0, 1, 0]))
    frames = [render_video(cfg, "circle", "drift_up", "OVH", group, np.random.default_rng(3))[0] for _ in range(2)]
    np.testing.assert_array_equal(frames[0], frames[1])
    other = tmp_path / "other"
    generate(other, "tiny", seed=1, progress=False)
    assert (other / "labels.csv").read_text() != (a / "labels.csv").read_text()


def test_a_complete_benchmark_is_not_written_again(tiny_bench):
    cfg = SynthConfig(**json.loads((tiny_bench / "benchmark.json").read_text())["config"])
    stamps = {p: p.stat().st_mtime_ns for p in [tiny_bench / "labels.csv", *(tiny_bench / "videos").iterdir()]}
    generate(tiny_bench, cfg, seed=0, progress=False)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing rewritten
    with pytest.raises(FileExistsError, match="another config or seed"):
        generate(tiny_bench, cfg, seed=3, progress=False)


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


def test_motion_classes_have_nearly_the_same_mean_frame():
    """The drift covers one whole texture period, so its time average is the same for every
    direction, up to what the object's own motion (a moving window onto the texture) leaves:
    under 40% of what a single frame step changes (notebook 01 shows a linear probe on mean
    frames stays at chance)."""
    cfg, group = preset("tiny"), _group_params(np.random.default_rng(2))
    videos = [render_video(cfg, "square", m, "HVO", group, np.random.default_rng(5))[0].astype(float) for m in MOTIONS]
    step = np.abs(videos[0][1] - videos[0][0]).mean()
    assert step > 1.0  # the drift changes every frame
    means = [v.mean(0) for v in videos]
    for m in means[1:]:
        assert np.abs(m - means[0]).mean() < 0.4 * step


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
    with pytest.raises(ValueError, match="texture_period"):
        SynthConfig(texture_period=(0.5, 0.2))
    with pytest.raises(ValueError, match="drift_periods"):
        SynthConfig(drift_periods=0)


def test_the_small_preset_has_enough_training_videos():
    from vcl_core.data.synthetic import _plan

    rows = _plan(preset("small"), 0)
    assert sum(r["split"] == "train" for r in rows) >= 1500


def test_the_drift_is_not_aliased_at_any_stride_an_encoder_uses():
    """Clip fast pathway (1, 2), whole view (3), slow pathway on clips (4, 8) and on the whole
    view (12): at every one, frames that far apart show the drift's direction (circles and
    squares, whose interior is large enough to read the texture in). At half the
    video the texture has moved half a period and the same reading is at chance: the check
    can fail."""
    cfg = SynthConfig(size=32)  # about the resolution the encoders read (36 px decoded, 32 px crops)
    assert max_unaliased_stride(cfg) == 23
    videos = []
    for i in range(64):
        m = MOTIONS[i % 4]
        frames, notes = render_video(cfg, SHAPES[i % 2], m, ORDERS[i % 6], _group_params(np.random.default_rng([9, i])),
                                     np.random.default_rng([7, i]))
        videos.append((m, frames, notes))
    for spacing in (1, 2, 3, 4, 8, 12):
        acc = np.mean([read_drift(f, notes, spacing) == m for m, f, notes in videos])
        assert acc >= 0.85, (spacing, acc)
    aliased = np.mean([read_drift(f, notes, cfg.num_frames // 2) == m for m, f, notes in videos])
    assert aliased <= 0.4, aliased
