"""Frame sources: decode on the fly, or read from a decoded-frame cache on disk.

A :class:`DecodeSource` decodes requested frames from the file each time (decord, PyAV
fallback) at the training resolution. A :class:`FrameCache` decodes each video *once* at that
resolution into a ``.npy`` file that is memory-mapped afterwards, so an epoch costs page-cache
reads instead of H.264 decoding. Cache entries are keyed by the file's absolute path, size,
modification time and the decode size: editing or replacing a video invalidates its entry.
Entries are written to a temporary name and renamed, so concurrent workers and interrupted
builds never leave a half-written entry behind.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .decode import VideoDecodeError, VideoInfo, probe_video, read_frames
from .index import VideoRecord


class FrameSource(Protocol):
    """Anything that can count and read a record's frames as uint8 ``(T, H, W, 3)``."""

    def num_frames(self, rec: VideoRecord) -> int: ...

    def read(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray: ...


def scaled_size(height: int, width: int, short_side: int | None) -> tuple[int, int] | None:
    """``(h, w)`` with the short side resized to ``short_side``, keeping the aspect ratio
    (even sizes, as decoders prefer); ``None`` keeps the native size."""
    if not short_side:
        return None
    s = short_side / min(height, width)
    return max(2, int(round(height * s / 2)) * 2), max(2, int(round(width * s / 2)) * 2)


class DecodeSource:
    """Decode frames from the file for every read, resized inside the decoder.

    Args:
        short_side: resize so the shorter side has this many pixels (``None`` = native).
        backend: ``auto`` (decord then PyAV per file), ``decord`` or ``pyav``.

    What each file's probe found (frames, size, and the backend that opened it) is
    remembered, so a file that needed the PyAV fallback is not offered to decord again.
    """

    def __init__(self, short_side: int | None = None, backend: str = "auto"):
        self.short_side = short_side
        self.backend = backend
        self.infos: dict[str, VideoInfo] = {}

    def info(self, rec: VideoRecord) -> VideoInfo:
        if rec.path not in self.infos:
            self.infos[rec.path] = probe_video(rec.path, self.backend)
        return self.infos[rec.path]

    def num_frames(self, rec: VideoRecord) -> int:
        return self.info(rec).num_frames

    def read(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray:
        info = self.info(rec)
        # a file decord could not open goes straight to PyAV; others keep the fallback chain
        backend = "pyav" if info.backend == "pyav" else self.backend
        return read_frames(rec.path, indices, scaled_size(info.height, info.width, self.short_side), backend)


def cache_key(path: str, short_side: int | None) -> str:
    """Key of a cache entry: absolute path, byte size, mtime (ns) and decode size."""
    st = os.stat(path)
    raw = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{short_side}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


class FrameCache:
    """Decoded frames on disk, one memory-mapped ``.npy`` per video and decode size.

    Args:
        directory: where entries live (created if missing).
        short_side: frames are stored with this short side (the training resolution).
        backend: decoder used to fill the cache.

    Use :meth:`build` to fill it ahead of training (optionally in parallel); :meth:`read`
    fills a missing entry on demand, so a partly built cache still works.
    """

    def __init__(self, directory: str | Path, short_side: int | None, backend: str = "auto"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.short_side = short_side
        self.backend = backend
        self._open: dict[str, np.ndarray] = {}
        self._pid = os.getpid()

    def entry(self, path: str) -> Path:
        """File holding the frames of ``path`` at this cache's size."""
        return self.dir / f"{Path(path).stem[:40]}-{cache_key(path, self.short_side)}.npy"

    def _fill(self, rec: VideoRecord) -> Path:
        target = self.entry(rec.path)
        if target.exists():
            return target
        info = probe_video(rec.path, self.backend)
        size = scaled_size(info.height, info.width, self.short_side)
        frames = read_frames(rec.path, range(info.num_frames), size, info.backend)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(frames))
        os.replace(tmp, target)
        return target

    def _array(self, rec: VideoRecord) -> np.ndarray:
        if os.getpid() != self._pid:  # DataLoader worker: do not reuse the parent's maps
            self._open, self._pid = {}, os.getpid()
        arr = self._open.get(rec.path)
        if arr is None:
            if not os.path.exists(rec.path):
                raise VideoDecodeError(f"{rec.path}: file not found")
            arr = np.load(self._fill(rec), mmap_mode="r")
            if len(self._open) > 256:
                self._open.clear()
            self._open[rec.path] = arr
        return arr

    def num_frames(self, rec: VideoRecord) -> int:
        return int(self._array(rec).shape[0])

    def read(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray:
        return np.asarray(self._array(rec)[np.asarray(indices)])

    def build(self, records: Sequence[VideoRecord], workers: int = 0, progress: bool = False) -> dict:
        """Fill the cache for ``records``; returns ``{"cached", "failed": {video_id: reason}}``.

        Videos that cannot be decoded are reported, never raised, so one bad file does not
        stop the build.
        """
        failed: dict[str, str] = {}
        todo = list(records)
        if workers > 0:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(workers) as pool:
                results = pool.map(_fill_one, [(self, r) for r in todo], chunksize=4)
                items = zip(todo, results)
                items = _progress(items, len(todo), progress)
                for rec, err in items:
                    if err:
                        failed[rec.video_id] = err
        else:
            for rec in _progress(todo, len(todo), progress):
                err = _fill_one((self, rec))
                if err:
                    failed[rec.video_id] = err
        return {"cached": len(todo) - len(failed), "failed": failed}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_open"] = {}
        return state


def _fill_one(args) -> str | None:
    cache, rec = args
    try:
        cache._fill(rec)
        return None
    except (VideoDecodeError, OSError) as e:
        return str(e)


def _progress(it, total: int, on: bool):
    if not on:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc="frame cache", unit="video")
