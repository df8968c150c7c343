"""Frame decoding: decord first, PyAV as the fallback, both returning uint8 ``(T, H, W, 3)``.

decord (``VideoReader``) seeks to frames by index and resizes inside the decoder, which makes
it the fast path. It has no wheels for some platforms, refuses MP4s whose container lacks
frame-count/duration metadata and cannot read GIF; PyAV (FFmpeg) reads all of those, so
:func:`read_frames` falls back to it per file and says which backend served the file.

decord readers: a training item reads each video once (the union of its views' frames), and
the next read of the same video comes an epoch later, so a cache of open readers never hits
during training, while each idle reader's decoder thread goes on decoding the rest of its
video in the background (dmlc/decord#157; it holds those frames too, dmlc/decord#197, #208:
tens of GB for 4K video). By default (``capacity=0``) every read therefore opens a reader and
drops it, which stops its thread: on the synthetic benchmark this is 2-3x faster than keeping
8 readers open. Access patterns that re-read a video (many separate clips of one video) can
turn the per-process LRU on with :func:`configure_reader_cache`; a cached reader then ends a
read with ``seek(0)`` when the rest of its video would take more than ``rewind_bytes`` at the
decode size (``seek(0)`` stops the read-ahead but costs about as much as a small read), and
is replaced after ``max_uses`` reads, which bounds what it can leak in native code
(dmlc/decord#208, #323; reader creation itself slows in long runs, dmlc/decord#280). Readers
run one decoder thread each: the DataLoader's workers are the parallelism.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

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
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".gif", ".mpg", ".mpeg", ".flv",
                    ".h264", ".264")


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
    """A per-process LRU of open decord readers (bounded, since each holds a decoder); a
    reader is retired after ``max_uses`` reads. ``capacity=0`` caches nothing."""

    def __init__(self, capacity: int = 0, max_uses: int = 2000, rewind_bytes: int = 16 << 20):
        self.capacity = capacity
        self.max_uses = max_uses
        self.rewind_bytes = rewind_bytes
        self._uses: dict[tuple, int] = {}
        self._readers: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._inherited: list = []

    def get(self, path: str, size: tuple[int, int] | None) -> decord.VideoReader:
        """A reader of ``path`` decoding at ``size`` (``(h, w)``, ``None`` = native)."""
        if os.getpid() != self._pid:
            # forked DataLoader worker: never use the parent's decoders, and never destroy
            # them either (VideoReader.__del__ deadlocks in a forked child: its decoder
            # threads were not forked), so keep them referenced and start afresh
            self._inherited.append(self._readers)
            self._readers, self._uses = OrderedDict(), {}
            self._lock = threading.Lock()
            self._pid = os.getpid()
        h, w = size if size else (-1, -1)
        if self.capacity == 0:
            return decord.VideoReader(path, ctx=decord.cpu(0), width=w, height=h, num_threads=1)
        st = os.stat(path)
        key = (path, size, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._readers and self._uses.get(key, 0) < self.max_uses:
                self._readers.move_to_end(key)
                self._uses[key] += 1
                return self._readers[key]
            self._readers.pop(key, None)
        reader = decord.VideoReader(path, ctx=decord.cpu(0), width=w, height=h, num_threads=1)
        with self._lock:
            self._readers[key] = reader
            self._uses[key] = 1
            while len(self._readers) > self.capacity:
                old, _ = self._readers.popitem(last=False)
                self._uses.pop(old, None)
        return reader

    def clear(self) -> None:
        """Drop every cached reader of this process."""
        with self._lock:
            self._readers.clear()
            self._uses.clear()


_READERS = _ReaderCache()


def _decord_info(path: str) -> VideoInfo:
    vr = _READERS.get(path, None)
    n = len(vr)
    if n <= 0:
        raise VideoDecodeError(f"{path}: decord reports no frames")
    h, w = vr[0].shape[:2]
    if _READERS.capacity:
        vr.seek(0)
    return VideoInfo(n, float(vr.get_avg_fps() or 0.0), int(h), int(w), "decord")


def _decord_read(path: str, indices: Sequence[int], size: tuple[int, int] | None) -> np.ndarray:
    vr = _READERS.get(path, size)
    n = len(vr)
    if max(indices) >= n:
        raise VideoDecodeError(f"{path}: frame {max(indices)} requested but decord sees {n} frames")
    frames = vr.get_batch(list(indices)).asnumpy()
    if _READERS.capacity and needs_rewind(n, max(indices), frames.shape[1], frames.shape[2], _READERS.rewind_bytes):
        vr.seek(0)  # a cached reader: stop its read-ahead from holding the video (dmlc/decord#197)
    return frames  # an uncached reader is dropped here, which stops its decoder thread


def needs_rewind(num_frames: int, last_read: int, height: int, width: int, rewind_bytes: int) -> bool:
    """Whether the frames after ``last_read`` (what decord's read-ahead may hold) exceed
    ``rewind_bytes`` at ``height x width`` RGB."""
    return (num_frames - 1 - last_read) * height * width * 3 > rewind_bytes


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


def configure_reader_cache(capacity: int = 0, max_uses: int = 2000, rewind_bytes: int = 16 << 20) -> None:
    """Set how many decord readers a process keeps open (``capacity``; 0, the default, opens a
    reader per read, see the module note), after how many reads one is replaced (``max_uses``,
    the leak bound of dmlc/decord#208), and how much read-ahead a cached reader may hold
    before a read ends with ``seek(0)`` (``rewind_bytes``; 0 = always rewind). Closes the open
    readers."""
    if capacity < 0 or max_uses < 1 or rewind_bytes < 0:
        raise ValueError(f"need capacity >= 0, max_uses >= 1, rewind_bytes >= 0; got {capacity}, {max_uses}, "
                         f"{rewind_bytes}")
    _READERS.clear()
    _READERS.capacity, _READERS.max_uses, _READERS.rewind_bytes = capacity, max_uses, rewind_bytes
