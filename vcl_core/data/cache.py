"""Frame sources: decode on the fly, or read from a decoded-frame cache on disk.

A :class:`DecodeSource` decodes requested frames from the file each time (decord, PyAV
fallback) at the training resolution. A :class:`FrameCache` decodes each video *once* at that
resolution into a ``.npy`` file that is memory-mapped afterwards, so an epoch costs page-cache
reads instead of H.264 decoding. Cache entries are keyed by the file's absolute path, size,
modification time and the decode size: editing or replacing a video invalidates its entry.
Entries are written to a temporary name and renamed, so concurrent workers and interrupted
builds never leave a half-written entry behind.

A :class:`ProbeStore` remembers what probing each file found (frames, fps, size and the
backend that opened it) as one small JSON per file under ``<cache>/probes/``, keyed the same
way. A file that needed the PyAV fallback (a GIF, an MP4 without frame-count metadata) then
goes straight to PyAV in every later epoch, worker and run; ``vcl check-data`` fills the same
store.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Protocol
from collections.abc import Sequence

import numpy as np

from .decode import VideoDecodeError, VideoInfo, probe_video, read_frames
from .index import VideoRecord


class FrameSource(Protocol):
    """Anything that can count and read a record's frames as uint8 ``(T, H, W, 3)``.

    A source may also offer ``fps(rec) -> float`` (both sources here do); views with a target
    ``fps`` need it and fall back to their stride without it.
    """

    def num_frames(self, rec: VideoRecord) -> int:
        """Frames of ``rec``; raises :class:`VideoDecodeError` (or ``OSError``) if unusable."""
        ...

    def read(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray:
        """uint8 ``(len(indices), H, W, 3)``: the frames at ``indices``."""
        ...


def scaled_size(height: int, width: int, short_side: int | None) -> tuple[int, int] | None:
    """``(h, w)`` with the short side resized to ``short_side``, keeping the aspect ratio
    (even sizes, as decoders prefer); ``None`` keeps the native size."""
    if not short_side:
        return None
    s = short_side / min(height, width)
    return max(2, int(round(height * s / 2)) * 2), max(2, int(round(width * s / 2)) * 2)


def cache_key(path: str, short_side: int | None) -> str:
    """Key of a cache entry: absolute path, byte size, mtime (ns) and decode size."""
    st = os.stat(path)
    raw = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{short_side}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


class ProbeStore:
    """Probe results on disk, one JSON per file, keyed by path, size and modification time.

    Args:
        directory: where the JSON files live (created on first write).

    ``probe_calls`` counts the files this instance actually had to probe (not found on disk).
    """

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.probe_calls = 0

    def file(self, path: str) -> Path:
        """The JSON holding the probe of ``path`` (changes when the file changes)."""
        return self.dir / f"{Path(path).stem[:40]}-{cache_key(path, None)}.json"

    def _load(self, path: str) -> dict | None:
        try:
            return json.loads(self.file(path).read_text())
        except (OSError, ValueError):
            return None

    def get(self, path: str) -> VideoInfo | None:
        """The stored probe of ``path``, or ``None`` (never probed, recorded as unusable, or
        the file changed since)."""
        entry = self._load(path)
        try:
            return VideoInfo(**entry) if entry and "unusable" not in entry else None
        except TypeError:  # written by another version
            return None

    def _write(self, path: str, entry: dict) -> None:
        target = self.file(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, target)

    def put(self, path: str, info: VideoInfo) -> None:
        """Store ``info`` for ``path`` (atomically: concurrent workers may write the same entry)."""
        self._write(path, dict(info.__dict__))

    def put_unusable(self, path: str, reason: str) -> None:
        """Record that ``path`` cannot be used (as ``vcl check-data`` found); :meth:`probe`
        then raises at once instead of decoding it again, until the file changes."""
        self._write(path, {"unusable": reason})

    def probe(self, path: str, backend: str = "auto") -> VideoInfo:
        """The stored probe, or probe now (decord, then PyAV) and store the result.

        Raises:
            VideoDecodeError: the file is missing, was recorded as unusable, or no backend
                opens it.
        """
        if not os.path.exists(path):
            raise VideoDecodeError(f"{path}: file not found")
        entry = self._load(path)
        if entry and "unusable" in entry:
            raise VideoDecodeError(f"{path}: {entry['unusable']} (recorded by `vcl check-data`; "
                                   "replace the file or drop it from the index)")
        info = self.get(path)
        if info is None or (backend != "auto" and info.backend != backend):
            self.probe_calls += 1
            info = probe_video(path, backend)
            try:
                self.put(path, info)
            except OSError:  # a read-only store still serves what it holds
                pass
        return info


class DecodeSource:
    """Decode frames from the file for every read, resized inside the decoder.

    Args:
        short_side: resize so the shorter side has this many pixels (``None`` = native).
        backend: ``auto`` (decord then PyAV per file), ``decord`` or ``pyav``.
        probe_dir: a :class:`ProbeStore` directory, so probes survive the process.

    What each file's probe found (frames, fps, size, and the backend that opened it) is
    remembered (in memory, and in ``probe_dir`` when given), so a file that needed the PyAV
    fallback is not offered to decord again.
    """

    def __init__(self, short_side: int | None = None, backend: str = "auto", probe_dir: str | Path | None = None):
        self.short_side = short_side
        self.backend = backend
        self.infos: dict[str, VideoInfo] = {}
        self.probes = ProbeStore(probe_dir) if probe_dir else None

    def info(self, rec: VideoRecord) -> VideoInfo:
        """Frames, fps, size and backend of ``rec`` (probed once)."""
        if rec.path not in self.infos:
            self.infos[rec.path] = (self.probes.probe(rec.path, self.backend) if self.probes
                                    else probe_video(rec.path, self.backend))
        return self.infos[rec.path]

    def num_frames(self, rec: VideoRecord) -> int:
        """Frames of ``rec``."""
        return self.info(rec).num_frames

    def fps(self, rec: VideoRecord) -> float:
        """Average frame rate of ``rec`` (0 when the container does not say)."""
        return self.info(rec).fps

    def read(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray:
        """uint8 ``(len(indices), H, W, 3)`` decoded at the source's resolution."""
        info = self.info(rec)
        # a file decord could not open goes straight to PyAV; others keep the fallback chain
        backend = "pyav" if info.backend == "pyav" else self.backend
        return read_frames(rec.path, indices, scaled_size(info.height, info.width, self.short_side), backend)


class FrameCache:
    """Decoded frames on disk, one memory-mapped ``.npy`` per video and decode size.

    Args:
        directory: where entries live (created if missing).
        short_side: frames are stored with this short side (the training resolution).
        backend: decoder used to fill the cache.

    Use :meth:`build` to fill it ahead of training (optionally in parallel); :meth:`read`
    fills a missing entry on demand, so a partly built cache still works. Probes are kept in
    a :class:`ProbeStore` under ``<directory>/probes``.
    """

    PROBES = "probes"
    #: memory maps kept open per process: re-opening an ``.npy`` costs as much as reading a clip
    #: from it, and a map holds address space, not memory (the OS pages frames in and out)
    MAX_OPEN = 4096

    def __init__(self, directory: str | Path, short_side: int | None, backend: str = "auto"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.short_side = short_side
        self.backend = backend
        self._open: dict[str, np.ndarray] = {}  # memory maps kept open (up to MAX_OPEN)
        self._pid = os.getpid()
        self.probes = ProbeStore(self.dir / self.PROBES)

    def entry(self, path: str) -> Path:
        """File holding the frames of ``path`` at this cache's size."""
        return self.dir / f"{Path(path).stem[:40]}-{cache_key(path, self.short_side)}.npy"

    def _fill(self, rec: VideoRecord) -> Path:
        target = self.entry(rec.path)
        if target.exists():
            return target
        info = self.probes.probe(rec.path, self.backend)
        size = scaled_size(info.height, info.width, self.short_side)
        # a file decord could not open goes straight to PyAV; others keep the fallback chain,
        # since decord can open a file and still fail to resize it (some output widths)
        backend = "pyav" if info.backend == "pyav" else self.backend
        frames = read_frames(rec.path, range(info.num_frames), size, backend)
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
            if len(self._open) >= self.MAX_OPEN:
                self._open.clear()
            self._open[rec.path] = arr
        return arr

    def num_frames(self, rec: VideoRecord) -> int:
        """Frames stored for ``rec`` (decoding it into the cache first if needed)."""
        return int(self._array(rec).shape[0])

    def fps(self, rec: VideoRecord) -> float:
        """Average frame rate of ``rec``, from its stored probe."""
        return self.probes.probe(rec.path, self.backend).fps

    def read(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray:
        """uint8 ``(len(indices), H, W, 3)`` from the memory-mapped entry."""
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
    from ..progress import progress_bar

    return progress_bar(it, total=total, desc="frame cache", unit="video")
