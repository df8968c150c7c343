import numpy as np
import pytest

from vcl_core.data.decode import HAVE_DECORD, VideoDecodeError, probe_video, read_frames
from videos import moving_frames, truncate, write_elementary_h264, write_video

needs_decord = pytest.mark.skipif(not HAVE_DECORD, reason="decord is not installed on this platform")


@needs_decord
@pytest.mark.parametrize("ext", [".mp4", ".avi"])
def test_decord_and_pyav_return_identical_frames(tmp_path, ext):
    path = write_video(tmp_path / f"v{ext}", moving_frames(20, 32, 64))
    idx = [0, 7, 3, 3, 19]
    a = read_frames(path, idx, backend="decord")
    b = read_frames(path, idx, backend="pyav")
    assert a.shape == (5, 32, 64, 3) and a.dtype == np.uint8
    # the same frames; decord bundles its own FFmpeg, whose MPEG-4 IDCT may round a few
    # pixels differently by one level
    diff = np.abs(a.astype(int) - b)
    assert diff.max() <= 2 and (diff > 0).mean() < 0.01
    if ext == ".mp4":
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[2], a[3])  # repeated index, same frame


@needs_decord
def test_resized_decoding_agrees_across_backends(tmp_path):
    path = write_video(tmp_path / "v.mp4", moving_frames(12, 64, 64))
    a = read_frames(path, [0, 5, 11], size=(36, 40), backend="decord").astype(int)
    b = read_frames(path, [0, 5, 11], size=(36, 40), backend="pyav").astype(int)
    assert a.shape == b.shape == (3, 36, 40, 3)
    assert np.abs(a - b).mean() < 1.5  # the two scalers differ by interpolation only


def test_frames_match_what_was_encoded(tmp_path):
    frames = moving_frames(10, 32, 32)
    path = write_video(tmp_path / "v.mp4", frames)
    got = read_frames(path, range(10)).astype(int)
    assert np.abs(got - frames).mean() < 6  # lossy H.264, but the same pictures
    # the moving square is where it was drawn
    assert got[5, 10:18, 10:18, 0].mean() > 200


def test_probe_reports_frames_fps_and_size(tmp_path):
    info = probe_video(write_video(tmp_path / "v.avi", moving_frames(17, 24, 40), fps=25))
    assert (info.num_frames, info.height, info.width) == (17, 24, 40)
    assert info.fps == pytest.approx(25.0)


@pytest.mark.parametrize("ext", [".mkv", ".webm", ".gif"])
def test_other_containers_decode(tmp_path, ext):
    path = write_video(tmp_path / f"v{ext}", moving_frames(9, 32, 32))
    info = probe_video(path)
    assert info.num_frames == 9
    assert read_frames(path, [0, 8]).shape == (2, 32, 32, 3)
    if ext == ".gif":
        assert info.backend == "pyav"  # decord cannot read GIF


def test_frame_sizes_decord_cannot_copy_fall_back_to_pyav(tmp_path):
    # decord 0.6 fails on some widths ("The size must exactly match"); auto mode must not
    path = write_video(tmp_path / "w48.mp4", moving_frames(6, 32, 48))
    assert read_frames(path, [0, 5]).shape == (2, 32, 48, 3)


def test_odd_sizes_grayscale_and_single_frame(tmp_path):
    odd = write_video(tmp_path / "odd.mp4", moving_frames(6, 38, 62))
    assert read_frames(odd, [5]).shape == (1, 38, 62, 3)
    gray = read_frames(write_video(tmp_path / "g.mp4", moving_frames(6, 32, 32, gray=True)), [0, 1])
    assert np.abs(gray[..., 0].astype(int) - gray[..., 1]).max() <= 2
    one = write_video(tmp_path / "one.mp4", moving_frames(1, 32, 32))
    assert probe_video(one).num_frames == 1


def test_variable_frame_rate(tmp_path):
    pts = [0, 40, 60, 150, 160, 300, 310, 500]  # ms
    path = write_video(tmp_path / "vfr.mkv", moving_frames(8, 32, 32), pts=pts)
    assert probe_video(path).num_frames == 8
    assert read_frames(path, list(range(8))).shape[0] == 8


@needs_decord
def test_broken_metadata_falls_back_to_pyav(tmp_path):
    path = write_elementary_h264(tmp_path / "raw.h264", moving_frames(12, 32, 32))
    with pytest.raises(VideoDecodeError):
        probe_video(path, backend="decord")
    info = probe_video(path)  # auto: decord refuses, PyAV reads it
    assert info.backend == "pyav" and info.num_frames == 12
    assert read_frames(path, [11]).shape == (1, 32, 32, 3)


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated"])
def test_bad_files_raise_clear_errors(tmp_path, kind):
    path = tmp_path / "bad.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 50)
    elif kind == "truncated":
        truncate(write_video(path, moving_frames(48, 64, 64)), 0.05)
    with pytest.raises(VideoDecodeError) as err:
        info = probe_video(path)
        read_frames(path, [info.num_frames + 5])
    msg = str(err.value)
    assert "bad.mp4" in msg
    expected = {"missing": "not found", "empty": "empty"}.get(kind)
    if expected:
        assert expected in msg


def test_out_of_range_frame_is_an_error(tmp_path):
    path = write_video(tmp_path / "v.mp4", moving_frames(5))
    with pytest.raises(VideoDecodeError, match="requested"):
        read_frames(path, [9], backend="pyav")
    with pytest.raises(ValueError):
        read_frames(path, [])


@needs_decord
def test_cached_readers_are_reused_then_retired_after_max_uses(tmp_path):
    from vcl_core.data import decode

    path = str(write_video(tmp_path / "v.mp4", moving_frames(8, 32, 32)))
    decode.configure_reader_cache(capacity=2, max_uses=3)
    try:
        readers = [decode._READERS.get(path, None) for _ in range(4)]
        assert readers[0] is readers[1] is readers[2]  # reused...
        assert readers[3] is not readers[0]  # ...until it has served max_uses reads
        other = str(write_video(tmp_path / "w.mp4", moving_frames(8, 32, 32)))
        third = str(write_video(tmp_path / "x.mp4", moving_frames(8, 32, 32)))
        decode._READERS.get(other, None)
        decode._READERS.get(third, None)
        assert len(decode._READERS._readers) == 2  # bounded LRU
        np.testing.assert_array_equal(read_frames(path, [3], backend="decord"), read_frames(path, [3], backend="pyav"))
        with pytest.raises(ValueError):
            decode.configure_reader_cache(capacity=-1)
    finally:
        decode.configure_reader_cache()
    # the default caches nothing: every read gets its own reader, dropped after the read
    assert decode._READERS.capacity == 0
    assert decode._READERS.get(path, None) is not decode._READERS.get(path, None)
    assert read_frames(path, [7], backend="decord").shape == (1, 32, 32, 3)


def test_rewind_only_when_the_read_ahead_could_hold_much():
    from vcl_core.data.decode import needs_rewind

    assert not needs_rewind(48, 20, 36, 36, 16 << 20)  # a small clip: keep the decoder where it is
    assert needs_rewind(9000, 100, 2160, 3840, 16 << 20)  # 4K: the read-ahead would hold GBs
    assert needs_rewind(48, 20, 36, 36, 0) and not needs_rewind(48, 47, 36, 36, 0)  # nothing left after the end
