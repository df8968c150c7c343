"""Frame decoding: decord first, PyAV as the fallback, both returning uint8 ``(T, H, W, 3)``.

decord (``VideoReader``) seeks to frames by index and resizes inside the decoder, which makes
it the fast path. It has no wheels for some platforms, refuses MP4s whose container lacks
frame-count/duration metadata and cannot read GIF; PyAV (FFmpeg) reads all of those, so
:func:`read_frames` falls back to it per file and says which backend served the file.

Open decord readers are reused per process (a small LRU), and every read ends with
``seek(0)``: decord keeps decoded frames alive otherwise (dmlc/decord#197, #208), which makes
long-running loaders grow without bound.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import av  # noqa: F401  (imported before decord: decord's bundled FFmpeg libraries would
#           otherwise shadow PyAV's, and encoders such as libvpx then fail to open)
import numpy as np

try:  # decord has no wheels for some platforms (e.g. aarch64 macOS); PyAV covers them
    import decord  # type: ignore

    decord.bridge.set_bridge("native")
    HAVE_DECORD = True
except Exception:  # pragma: no cover - depends on the platform
    decord = None
    HAVE_DECORD = False

BACKENDS = ("auto", "decord", "pyav")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".gif", ".mpg", ".mpeg", ".flv")


class VideoDecodeError(RuntimeError):
    """A video that cannot be opened or decoded; the message says why and which file."""


@dataclass(frozen=True)
class VideoInfo:
    """What a decoder reports about a file.

    Attributes:
        num_frames: decodable frames (counted by decoding with PyAV when metadata is missing).
        fps: average frame rate (0 when the container does not say).
        height, width: native frame size.
        backend: ``"decord"`` or ``"pyav"``, the backend that opened the file.
    """

    num_frames: int
    fps: float
    height: int
    width: int
    backend: str


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise VideoDecodeError(f"{path}: file not found")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(f"{path}: file is empty (0 bytes)")


class _ReaderCache:
    """A per-process LRU of open decord readers (bounded, since each holds a decoder)."""

    def __init__(self, capacity: int = 8):
        self.capacity = capacity
        self._readers: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._inherited: list = []

    def get(self, path: str, size: tuple[int, int] | None):
        if os.getpid() != self._pid:
            # forked DataLoader worker: never use the parent's decoders, and never destroy
            # them either (VideoReader.__del__ deadlocks in a forked child: its decoder
            # threads were not forked), so keep them referenced and start afresh
            self._inherited.append(self._readers)
            self._readers = OrderedDict()
            self._lock = threading.Lock()
            self._pid = os.getpid()
        st = os.stat(path)
        key = (path, size, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._readers:
                self._readers.move_to_end(key)
                return self._readers[key]
        h, w = size if size else (-1, -1)
        reader = decord.VideoReader(path, ctx=decord.cpu(0), width=w, height=h, num_threads=1)
        with self._lock:
            self._readers[key] = reader
            while len(self._readers) > self.capacity:
                self._readers.popitem(last=False)
        return reader

    def clear(self) -> None:
        with self._lock:
            self._readers.clear()


_READERS = _ReaderCache()


def _decord_info(path: str) -> VideoInfo:
    vr = _READERS.get(path, None)
    n = len(vr)
    if n <= 0:
        raise VideoDecodeError(f"{path}: decord reports no frames")
    h, w = vr[0].shape[:2]
    vr.seek(0)
    return VideoInfo(n, float(vr.get_avg_fps() or 0.0), int(h), int(w), "decord")


def _decord_read(path: str, indices: Sequence[int], size: tuple[int, int] | None) -> np.ndarray:
    vr = _READERS.get(path, size)
    n = len(vr)
    if max(indices) >= n:
        raise VideoDecodeError(f"{path}: frame {max(indices)} requested but decord sees {n} frames")
    frames = vr.get_batch(list(indices)).asnumpy()
    vr.seek(0)  # release decoded frames held by the reader (dmlc/decord#197)
    return frames


def _pyav_frames(path: str):
    try:
        container = av.open(path)
    except Exception as e:  # av raises several error types for unreadable files
        raise VideoDecodeError(f"{path}: not a readable video ({type(e).__name__}: {e})") from e
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"{path}: no video stream")
    return container, container.streams.video[0]


def _pyav_info(path: str) -> VideoInfo:
    container, stream = _pyav_frames(path)
    try:
        n, h, w = 0, stream.codec_context.height, stream.codec_context.width
        for frame in container.decode(stream):
            n += 1
            h, w = frame.height, frame.width
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
    except Exception as e:
        raise VideoDecodeError(f"{path}: decoding failed after {n} frames ({e})") from e
    finally:
        container.close()
    if n == 0:
        raise VideoDecodeError(f"{path}: no decodable frames")
    return VideoInfo(n, fps, int(h), int(w), "pyav")


def _pyav_read(path: str, indices: Sequence[int], size: tuple[int, int] | None) -> np.ndarray:
    """Decode sequentially up to the last wanted frame; exact frame indices, no seeking."""
    wanted = sorted(set(int(i) for i in indices))
    last = wanted[-1]
    got: dict[int, np.ndarray] = {}
    container, stream = _pyav_frames(path)
    stream.thread_type = "AUTO"
    try:
        j = 0
        for i, frame in enumerate(container.decode(stream)):
            if i == wanted[j]:
                # bilinear is the closest match to decord's in-decoder scaler (mean |diff| < 1 level)
                kw = {"width": size[1], "height": size[0], "interpolation": "BILINEAR"} if size else {}
                got[i] = frame.to_ndarray(format="rgb24", **kw)
                j += 1
                if j == len(wanted):
                    break
    except Exception as e:
        raise VideoDecodeError(f"{path}: decoding failed near frame {len(got)} ({e})") from e
    finally:
        container.close()
    if last not in got:
        raise VideoDecodeError(f"{path}: frame {last} requested but the file has only "
                               f"{max(got, default=-1) + 1} decodable frames")
    return np.stack([got[int(i)] for i in indices])


def _pick(path: str, backend: str) -> list[str]:
    if backend not in BACKENDS:
        raise ValueError(f"unknown decode backend {backend!r}; choose one of {BACKENDS}")
    if backend == "pyav":
        return ["pyav"]
    if backend == "decord":
        if not HAVE_DECORD:
            raise VideoDecodeError("decord is not installed; use backend='pyav' or 'auto'")
        return ["decord"]
    if not HAVE_DECORD or path.lower().endswith(".gif"):  # decord cannot read GIF
        return ["pyav"]
    return ["decord", "pyav"]


def probe_video(path: str | Path, backend: str = "auto") -> VideoInfo:
    """Open ``path`` and report frames, fps and size.

    With ``backend="auto"``, decord is tried first and PyAV second; the returned
    :attr:`VideoInfo.backend` says which one worked, so callers can remember it.

    Raises:
        VideoDecodeError: the file is missing, empty, not a video, or no backend decodes it.
    """
    path = str(path)
    _check_file(path)
    errors = []
    for b in _pick(path, backend):
        try:
            return _decord_info(path) if b == "decord" else _pyav_info(path)
        except VideoDecodeError as e:
            errors.append(str(e))
        except Exception as e:  # decord raises DECORDError (a RuntimeError) with FFmpeg text
            errors.append(f"{path}: {b} failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
    raise VideoDecodeError("; ".join(errors))


def read_frames(path: str | Path, indices: Sequence[int], size: tuple[int, int] | None = None,
                backend: str = "auto") -> np.ndarray:
    """Decode the frames at ``indices`` (any order, repeats allowed) of ``path``.

    Args:
        path: a video file (MP4, AVI, MKV, WebM, MOV, GIF, ...).
        indices: frame numbers, 0-based.
        size: ``(height, width)`` to resize to inside the decoder, or ``None`` for native size.
        backend: ``"auto"`` (decord, then PyAV), ``"decord"`` or ``"pyav"``.

    Returns:
        uint8 array ``(len(indices), H, W, 3)`` in RGB.

    Raises:
        VideoDecodeError: no backend can decode the requested frames.
    """
    path = str(path)
    if len(indices) == 0:
        raise ValueError("indices is empty")
    if min(indices) < 0:
        raise ValueError(f"negative frame index in {list(indices)[:8]}")
    _check_file(path)
    errors = []
    for b in _pick(path, backend):
        try:
            return _decord_read(path, indices, size) if b == "decord" else _pyav_read(path, indices, size)
        except VideoDecodeError as e:
            errors.append(str(e))
        except Exception as e:
            errors.append(f"{path}: {b} failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
    raise VideoDecodeError("; ".join(errors))


def clear_reader_cache() -> None:
    """Close every cached decord reader of this process."""
    _READERS.clear()
