"""Helpers that write real (and deliberately broken) video files with PyAV for the tests."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

# container -> (codec, pixel format)
CODECS = {
    ".mp4": ("libx264", "yuv420p"),
    ".avi": ("mpeg4", "yuv420p"),      # MPEG-4 Part 2, as UCF101 ships
    ".mkv": ("libx264", "yuv420p"),
    ".webm": ("libvpx", "yuv420p"),
    ".gif": ("gif", "rgb8"),
}


def moving_frames(n: int = 24, h: int = 32, w: int = 32, seed: int = 0, gray: bool = False) -> np.ndarray:
    """uint8 (n, h, w, 3) frames of a bright square moving right over noise, so frames differ."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = (40 + 30 * np.sin(xx / 5 + rng.uniform(0, 6))[..., None] * np.array([1, 0.5, 0.2])
            + 20 * np.cos(yy / 7)[..., None]).astype(np.uint8)
    frames = np.repeat(base[None], n, axis=0).copy()
    s = max(2, min(h, w) // 4)
    for t in range(n):
        x = (t * 2) % max(1, w - s)
        frames[t, h // 3:h // 3 + s, x:x + s] = (250, 200, 30)
    if gray:
        frames = np.repeat(frames.mean(-1, keepdims=True).astype(np.uint8), 3, axis=-1)
    return frames


def write_video(path: str | Path, frames: np.ndarray, fps: int = 16, pts: list[int] | None = None) -> Path:
    """Write ``frames`` to ``path``; the extension picks container and codec. ``pts`` gives
    explicit presentation times in 1/1000 s units (variable frame rate)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    codec, pix = CODECS[path.suffix.lower()]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix
        if codec == "libvpx":
            stream.bit_rate = 500_000  # libvpx refuses to open without a rate
        if codec == "libx264":  # one thread and a fixed quality: the same bytes on every machine
            stream.options = {"crf": "18", "threads": "1"}
            stream.thread_count = 1
        if pts is not None:
            from fractions import Fraction

            stream.time_base = Fraction(1, 1000)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = stream.time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def truncate(path: str | Path, keep: float = 0.4) -> Path:
    """Cut a file to ``keep`` of its bytes (a download that stopped half-way)."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_elementary_h264(path: str | Path, frames: np.ndarray, fps: int = 16) -> Path:
    """A raw H.264 stream with no container index: no frame count and no duration metadata,
    which decord refuses to open while FFmpeg/PyAV decode it."""
    path = Path(path)
    with av.open(str(path), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
