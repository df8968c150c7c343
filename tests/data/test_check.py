"""`vcl check-data` and training on a folder seeded with every kind of broken and odd file."""
import json
from pathlib import Path

import av
import numpy as np
import pytest

from vcl_core.cli import main
from vcl_core.data import (AugmentConfig, ContrastiveVideoDataset, DecodeSource, FrameCache, SamplingConfig,
                           ViewSpec, load_index)
from vcl_core.data.cache import ProbeStore
from vcl_core.data.check import check_dataset, check_file
from vcl_core.data.decode import HAVE_DECORD
from videos import moving_frames, truncate, write_elementary_h264, write_video

MIN_FRAMES = 8

#: file -> expected verdict (None = usable); "fallback" files need PyAV
EXPECTED = {
    "good.mp4": None, "odd_37x61.mp4": None, "gray.mp4": None, "vfr.mkv": None, "clip.mkv": None,
    "clip.webm": None, "clip.avi": None, "anim.gif": None, "raw.h264": None,
    "single.mp4": "too_short", "short.mp4": "too_short",
    "cut.mp4": "truncated", "cut.avi": "truncated",
    "zero.mp4": "empty", "notes.mp4": "not_video", "unknown_codec.avi": "codec", "missing.mp4": "missing",
}
FALLBACK = {"anim.gif", "raw.h264"}


def _encode(path: Path, frames: np.ndarray, codec: str, pix_fmt: str) -> Path:
    """Encode with an explicit pixel format (odd sizes need 4:4:4, grayscale needs gray)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=16)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def seed_broken_folder(root: Path) -> Path:
    """Write every file of :data:`EXPECTED` (all real encodes with PyAV) and a labels.csv."""
    v = root / "videos"
    v.mkdir(parents=True)
    f = moving_frames(24, 32, 32)
    write_video(v / "good.mp4", f)
    _encode(v / "odd_37x61.mp4", moving_frames(12, 37, 61), "libx264", "yuv444p")
    _encode(v / "gray.mp4", moving_frames(12, 32, 32, gray=True), "libx264", "gray")
    write_video(v / "vfr.mkv", moving_frames(10, 32, 32), pts=[0, 40, 60, 150, 160, 300, 310, 500, 520, 600])
    for ext in (".mkv", ".webm", ".avi"):
        write_video(v / f"clip{ext}", f[:16])
    write_video(v / "anim.gif", f[:12])
    write_elementary_h264(v / "raw.h264", f[:12])
    write_video(v / "single.mp4", f[:1])
    write_video(v / "short.mp4", f[:5])
    truncate(write_video(v / "cut.mp4", moving_frames(48, 64, 64)), 0.4)
    truncate(write_video(v / "cut.avi", moving_frames(48, 64, 64)), 0.9)
    (v / "zero.mp4").write_bytes(b"")
    (v / "notes.mp4").write_text("this is a text file, not a video\n" * 40)
    # an AVI whose codec tag no FFmpeg decoder knows
    data = write_video(v / "unknown_codec.avi", f[:12]).read_bytes()
    (v / "unknown_codec.avi").write_bytes(data.replace(b"FMP4", b"ZZZZ"))
    rows = ["path,label"] + [f"videos/{name},{'bad' if EXPECTED[name] else 'ok'}" for name in EXPECTED]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    return seed_broken_folder(tmp_path_factory.mktemp("broken"))


def test_every_kind_of_file_gets_the_right_verdict(broken, tmp_path):
    report = check_dataset(broken, MIN_FRAMES, cache_dir=tmp_path / "cache")
    got = {Path(f.path).name: f.reason for f in report.files}
    assert got == EXPECTED
    t = report.totals()
    assert t["checked"] == len(EXPECTED) and t["usable"] == sum(r is None for r in EXPECTED.values())
    for reason in ("too_short", "truncated", "empty", "not_video", "codec", "missing"):
        assert t[reason] == sum(r == reason for r in EXPECTED.values()), reason
    if HAVE_DECORD:
        assert {Path(f.path).name for f in report.fallback} == FALLBACK
        assert t["fallback"] == len(FALLBACK)
    by_name = {Path(f.path).name: f for f in report.files}
    assert (by_name["odd_37x61.mp4"].height, by_name["odd_37x61.mp4"].width) == (37, 61)
    assert by_name["vfr.mkv"].num_frames == 10 and by_name["raw.h264"].num_frames == 12
    text = report.format()
    assert "download it again" in text and "unknown_codec.avi" in text and "PyAV fallback" in text


def test_parallel_check_agrees(broken):
    serial = check_dataset(broken, MIN_FRAMES)
    parallel = check_dataset(broken, MIN_FRAMES, workers=2)
    assert [(f.path, f.reason, f.num_frames) for f in serial.files] == \
           [(f.path, f.reason, f.num_frames) for f in parallel.files]


def test_cli_prints_totals_writes_json_and_exits_zero(broken, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    rc = main(["check-data", str(broken), "--min-frames", str(MIN_FRAMES), "--json", str(out_json),
               "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    printed = capsys.readouterr().out
    assert f"{len(EXPECTED)} videos" in printed and "truncated" in printed and "raw.h264" in printed
    data = json.loads(out_json.read_text())
    assert data["totals"]["unusable"] == sum(r is not None for r in EXPECTED.values())
    assert {Path(f["path"]).name for f in data["files"] if not f["usable"]} == \
           {n for n, r in EXPECTED.items() if r}


def test_cli_exits_nonzero_only_when_nothing_is_usable(tmp_path, capsys):
    root = tmp_path / "hopeless"
    root.mkdir()
    (root / "a.mp4").write_bytes(b"")
    (root / "b.avi").write_text("text")
    assert main(["check-data", str(root), "--no-record"]) == 1  # no index: every video file is scanned
    assert "no usable video" in capsys.readouterr().err
    write_video(root / "c.mp4", moving_frames(4))
    assert main(["check-data", str(root), "--no-record"]) == 0
    assert not (root / ".vcl_cache").exists()
    assert main(["check-data", str(tmp_path / "nowhere")]) == 2  # a clear error, not a traceback


@pytest.mark.skipif(not HAVE_DECORD, reason="the fallback only exists when decord is installed")
def test_backend_choice_is_remembered(broken, tmp_path):
    cache = tmp_path / "cache"
    check_dataset(broken, MIN_FRAMES, cache_dir=cache)
    store = ProbeStore(cache / FrameCache.PROBES)
    raw = str(broken / "videos" / "raw.h264")
    assert store.get(raw).backend == "pyav" and store.get(str(broken / "videos" / "good.mp4")).backend == "decord"
    # a fresh source in another "run" reads the stored choice instead of trying decord again
    src = DecodeSource(None, probe_dir=cache / FrameCache.PROBES)
    rec = next(r for r in load_index(broken).records if r.path == raw)
    assert src.info(rec).backend == "pyav" and src.probes.probe_calls == 0
    assert src.read(rec, [0, 11]).shape == (2, 32, 32, 3)
    # the frame cache shares the store
    fc = FrameCache(cache, None)
    assert fc.num_frames(rec) == 12 and fc.probes.probe_calls == 0
    # training without a frame cache still finds the recorded probes
    from vcl_core.data import make_source

    plain = make_source(str(broken), 24, cache=False, cache_dir=str(cache))
    assert isinstance(plain, DecodeSource) and plain.info(rec).backend == "pyav" and plain.probes.probe_calls == 0
    # a changed file invalidates its entry
    write_elementary_h264(raw, moving_frames(13, 32, 32))
    assert store.get(raw) is None


def test_training_survives_the_folder_and_counts_match(broken, tmp_path):
    cache = tmp_path / "cache"
    report = check_dataset(broken, MIN_FRAMES, cache_dir=cache)
    bad = {f.video_id for f in report.unusable}
    records = load_index(broken).records
    sampling = SamplingConfig(views=(ViewSpec(MIN_FRAMES, 1), ViewSpec(MIN_FRAMES, 1)), policy="rho", short="skip")
    ds = ContrastiveVideoDataset(records, DecodeSource(24, probe_dir=cache / FrameCache.PROBES), sampling,
                                 AugmentConfig(crop_size=16), seed=0)
    failed = set()
    for i in range(len(ds)):
        item = ds[(0, i)]
        assert ds.records[item["video"]].video_id not in bad
        assert item["views"][0].shape == (3, MIN_FRAMES, 16, 16)
        failed |= {f.split(":")[0] for f in item["failures"]}
    assert failed == bad  # every unusable video was replaced and reported, nothing else
    # files recorded as unusable are not decoded again: the failure says where it was recorded
    truncated = next(r for r in records if r.path.endswith("cut.mp4"))
    with pytest.raises(Exception, match="check-data"):
        ds.source.num_frames(truncated)


def test_training_survives_without_a_check(broken):
    """No probes recorded: bad files are found while training, replaced and reported."""
    records = load_index(broken).records
    sampling = SamplingConfig(views=(ViewSpec(4, 2), ViewSpec(4, 2)), short="loop")
    ds = ContrastiveVideoDataset(records, DecodeSource(24), sampling, AugmentConfig(crop_size=16), seed=1)
    failures = []
    for i in range(len(ds)):
        failures += ds[(0, i)]["failures"]
    failed = {f.split(":")[0] for f in failures}
    assert {"zero", "notes", "unknown_codec", "missing", "cut"} <= failed
    assert not failed & {"good", "anim", "raw", "single", "vfr"}  # short videos loop, odd ones decode


def test_check_file_on_a_single_path(tmp_path):
    good = write_video(tmp_path / "g.mp4", moving_frames(10))
    assert check_file(good).usable and check_file(good, min_frames=11).reason == "too_short"
    assert check_file(tmp_path / "nope.mp4").reason == "missing"
    gif = write_video(tmp_path / "a.gif", moving_frames(10))
    res = check_file(gif, backend="pyav")
    assert res.usable and res.backend == "pyav" and res.fallback == ""  # asked for PyAV: no fallback
