import pytest

from vcl_core.data.index import assign_splits, detect_format, load_index
from videos import moving_frames, write_video


def _ucf(root, n_groups=4):
    classes = ["ApplyEyeMakeup", "Biking"]
    (root / "ucfTrainTestlist").mkdir(parents=True)
    (root / "ucfTrainTestlist" / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    train, test = [], []
    for ci, c in enumerate(classes):
        for g in range(1, n_groups + 1):
            rel = f"{c}/v_{c}_g{g:02d}_c01.avi"
            write_video(root / rel, moving_frames(6, 24, 32, seed=g))
            (test if g == 1 else train).append(f"{rel} {ci + 1}" if g != 1 else rel)
    (root / "ucfTrainTestlist" / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (root / "ucfTrainTestlist" / "testlist01.txt").write_text("\n".join(test) + "\n")
    return root


def test_ucf101_split_files(tmp_path):
    idx = load_index(_ucf(tmp_path / "ucf"))
    assert idx.format == "ucf101" and idx.label_columns == ["label"]
    assert len(idx.split("train")) == 6 and len(idx.split("test")) == 2
    assert {r.labels["label"] for r in idx.records} == {"ApplyEyeMakeup", "Biking"}
    assert {r.group for r in idx.split("test")} == {"g01"}
    assert all(r.path.endswith(".avi") for r in idx.records)


def test_hmdb51_split_files(tmp_path):
    root = tmp_path / "hmdb"
    for c in ("wave", "jump"):
        lines = []
        for i, tag in enumerate([1, 1, 2, 0]):
            write_video(root / c / f"{c}_{i}.avi", moving_frames(4, 24, 32, seed=i))
            lines.append(f"{c}_{i}.avi {tag}")
        (root / "splits").mkdir(exist_ok=True)
        (root / "splits" / f"{c}_test_split1.txt").write_text("\n".join(lines) + "\n")
    idx = load_index(root)
    assert idx.format == "hmdb51"
    assert len(idx.split("train")) == 4 and len(idx.split("test")) == 2  # tag 0 = unused


def test_folder_per_class_gets_a_deterministic_split(tmp_path):
    root = tmp_path / "folders"
    for c in ("a", "b"):
        for i in range(10):
            write_video(root / c / f"{c}{i}.mp4", moving_frames(4, 24, 32, seed=i))
    idx = load_index(root)
    assert idx.format == "folder" and "deterministic" in idx.split_note
    again = load_index(root)
    assert [r.split for r in idx.records] == [r.split for r in again.records]
    assert 0 < len(idx.split("test")) < 20


def test_csv_with_label_and_meta_columns(tmp_path):
    root = tmp_path / "csv"
    write_video(root / "clips" / "x.mp4", moving_frames(4))
    (root / "index.csv").write_text("path,action,speed,meta_note\nclips/x.mp4,run,fast,hello\n")
    idx = load_index(root)
    assert idx.format == "csv" and idx.label_columns == ["action", "speed"]
    rec = idx.records[0]
    assert rec.labels == {"action": "run", "speed": "fast"} and rec.meta == {"meta_note": "hello"}
    assert rec.video_id == "x" and rec.path.endswith("clips/x.mp4")


def test_groups_never_straddle_the_split():
    from vcl_core.data.index import VideoRecord

    recs = [VideoRecord(f"/v{i}.mp4", f"v{i}", {}, None, f"g{i % 7}") for i in range(70)]
    out = assign_splits(recs, 0.3, seed=1)
    by_group = {}
    for r in out:
        by_group.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in by_group.values())


def test_unknown_layout_and_missing_dir_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_index(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="cannot tell the layout"):
        detect_format(tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown index format"):
        load_index(tmp_path, format="kinetics")


def test_synthetic_benchmark_is_read_as_csv(tiny_bench):
    idx = load_index(tiny_bench)
    assert idx.format == "csv" and idx.label_columns == ["shape", "motion", "order"]
    assert not idx.split_note  # splits come with the data
