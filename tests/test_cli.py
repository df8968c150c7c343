"""The command line on real folders: UCF101-style AVI files and class folders of MP4 files
train and evaluate with no code changes."""
import json

import pytest

from vcl_core.cli import main
from videos import moving_frames, write_video

TINY = ["train.steps=6", "train.batch_size=4", "data.workers=0", "model.widths=[8,16,32]", "data.short_side=36",
        "augment.crop_size=32", "eval.probe_epochs=20"]


def _ucf101(root):
    classes = ["Drumming", "Fencing"]
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    train, test = [], []
    for ci, c in enumerate(classes):
        for g in range(1, 6):
            rel = f"{c}/v_{c}_g{g:02d}_c01.avi"
            write_video(root / "UCF-101" / rel, moving_frames(40, 48, 64, seed=10 * ci + g))
            (test.append(rel) if g <= 2 else train.append(f"{rel} {ci + 1}"))
    (lists / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (lists / "testlist01.txt").write_text("\n".join(test) + "\n")
    return root


def _class_folders(root):
    for ci, c in enumerate(["walk", "run"]):
        for i in range(8):
            write_video(root / c / f"{c}_{i:02d}.mp4", moving_frames(40, 40, 56, seed=100 * ci + i))
    return root


@pytest.mark.parametrize("layout", ["ucf101", "folder"])
def test_pretrain_and_evaluate_real_folders(layout, tmp_path, capsys):
    data = _ucf101(tmp_path / "ucf") if layout == "ucf101" else _class_folders(tmp_path / "folders")
    run, out = tmp_path / "run", tmp_path / "eval.json"
    assert main(["pretrain", "--data", str(data), "--out", str(run), "--quiet", *TINY]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["bad_clips"] == 0
    assert main(["evaluate", "--checkpoint", str(run), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["tasks"]) == {"label"} and res["meta"]["index_format"] == layout
    assert 0 <= res["tasks"]["label"]["linear_top1"] <= 1
    assert "label" in capsys.readouterr().out
    if layout == "folder":
        assert "deterministic" in res["meta"]["split_note"]
        # the evaluation settings can change after training; the training's cannot
        assert main(["evaluate", "--checkpoint", str(run), "--json", str(out), "eval.whole_frames=8"]) == 0
        assert json.loads(out.read_text())["meta"]["whole_frames"] == 8
        assert main(["evaluate", "--checkpoint", str(run), "train.steps=9"]) == 2
        assert "only eval.* settings" in capsys.readouterr().err


def test_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["pretrain", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["pretrain", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "model.fusoin=gate"]) == 2
    assert "did you mean model.fusion" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
