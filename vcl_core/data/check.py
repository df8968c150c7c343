"""Find the videos of a dataset that cannot be used, and say why, before training does.

:func:`check_file` opens a file the way training will (decord first, PyAV second) and
decodes it far enough to be sure: decord must read the last frame it claims; PyAV decodes
every frame and compares the count with what the container declares. Each file gets one
verdict:

``ok``          usable (``fallback`` says whether decord failed and PyAV was needed, and why)
``missing``     listed by the index but not on disk
``empty``       zero bytes
``not_video``   FFmpeg does not recognise the file as a video, or it holds no video stream
``codec``       the video stream's codec has no decoder in this FFmpeg build
``truncated``   a known container that ends early or is corrupt: it cannot be opened (an MP4
                without its ``moov`` index), decoding stops with an error, or far fewer frames
                decode than the container declares
``too_short``   decodes, but has fewer than ``min_frames`` frames (the longest view's span)

:func:`check_records` checks a list of records (in parallel with ``workers``) and, given a
:class:`~vcl_core.data.cache.ProbeStore`, records what it found, so training opens fallback
files with PyAV directly and skips unusable ones without decoding them again.
"""
from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Iterator, Sequence

import av

from .cache import FrameCache, ProbeStore
from .decode import HAVE_DECORD, VIDEO_EXTENSIONS, VideoDecodeError, VideoInfo, probe_video, read_frames
from .index import VideoRecord, load_index

REASONS = ("missing", "empty", "not_video", "codec", "truncated", "too_short")
#: what each reason means, and what to do about it
ADVICE = {
    "missing": "the index lists it but the file is not there: restore it or drop it from the index",
    "empty": "0 bytes: the download or copy failed; fetch it again",
    "not_video": "not a video FFmpeg recognises: remove it or fix its extension",
    "codec": "no decoder for its codec in this FFmpeg: re-encode it (e.g. ffmpeg -c:v libx264)",
    "truncated": "the file ends early or is corrupt: download it again",
    "too_short": "fewer frames than the longest view needs: lower the view's span or use short=loop/pad",
}
#: fraction of the declared frames that must decode before a file counts as complete
COMPLETE_FRACTION = 0.75


@dataclass
class FileCheck:
    """The verdict on one file.

    Attributes:
        path, video_id: which file.
        reason: ``None`` when usable, else one of :data:`REASONS`.
        detail: what the decoder said.
        num_frames, fps, height, width: what decoded (0 when nothing did).
        backend: ``"decord"`` or ``"pyav"``, the backend training will use.
        fallback: why decord could not serve the file when PyAV had to (empty otherwise).
    """

    path: str
    video_id: str
    reason: str | None = None
    detail: str = ""
    num_frames: int = 0
    fps: float = 0.0
    height: int = 0
    width: int = 0
    backend: str = ""
    fallback: str = ""

    @property
    def usable(self) -> bool:
        """Whether training can use the file."""
        return self.reason is None

    def info(self) -> VideoInfo:
        """The probe result training needs (only meaningful when it decoded)."""
        return VideoInfo(self.num_frames, self.fps, self.height, self.width, self.backend)


@dataclass
class CheckReport:
    """The verdicts on a dataset and their totals."""

    root: str
    min_frames: int
    files: list[FileCheck] = field(default_factory=list)
    note: str = ""

    @property
    def usable(self) -> list[FileCheck]:
        """Files training can use."""
        return [f for f in self.files if f.usable]

    @property
    def unusable(self) -> list[FileCheck]:
        """Files training cannot use."""
        return [f for f in self.files if not f.usable]

    @property
    def fallback(self) -> list[FileCheck]:
        """Usable files that needed PyAV because decord could not open or read them."""
        return [f for f in self.files if f.usable and f.fallback]

    def totals(self) -> dict[str, int]:
        """``{"checked", "usable", "unusable", "fallback", <reason>: count ...}``."""
        counts = Counter(f.reason for f in self.unusable)
        return {"checked": len(self.files), "usable": len(self.usable), "unusable": len(self.unusable),
                "fallback": len(self.fallback), **{r: counts.get(r, 0) for r in REASONS}}

    def to_dict(self) -> dict:
        """JSON-ready: root, min_frames, totals, and one entry per file."""
        return {"root": self.root, "min_frames": self.min_frames, "note": self.note, "totals": self.totals(),
                "files": [{**asdict(f), "usable": f.usable} for f in self.files]}

    def format(self) -> str:
        """A human-readable summary: totals, every unusable file and why, the fallback files."""
        t = self.totals()
        lines = [f"checked {t['checked']} videos under {self.root}: {t['usable']} usable, "
                 f"{t['unusable']} unusable (min frames {self.min_frames})"]
        if self.note:
            lines.append(self.note)
        if self.unusable:
            lines.append("")
            lines.append(f"{'reason':<10} {'count':>5}  what to do")
            for r in REASONS:
                if t[r]:
                    lines.append(f"{r:<10} {t[r]:>5}  {ADVICE[r]}")
            lines.append("")
            lines.append("unusable videos:")
            for f in self.unusable:
                lines.append(f"  {f.reason:<10} {f.path}  ({f.detail})")
        if self.fallback:
            lines.append("")
            lines.append(f"needed the PyAV fallback ({len(self.fallback)}; decord could not serve them):")
            for f in self.fallback:
                lines.append(f"  {f.path}  ({f.fallback})")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- one file

def _sniff(path: str) -> str | None:
    """The container a file's first bytes announce, or ``None`` if none we know."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpeg-ps"
    if head[:4] == b"\x00\x00\x00\x01" or head[:3] == b"\x00\x00\x01":
        return "h264"
    return None


def _first_line(e: Exception, path: str = "") -> str:
    text = str(e).strip().splitlines()
    line = text[0] if text else ""
    if path:
        line = line.replace(f": '{path}'", "").replace(path, "<file>")
    return f"{type(e).__name__}: {line[:200]}"


def _check_pyav(path: str, res: FileCheck) -> FileCheck:
    """Decode every frame with PyAV and fill ``res`` (reason set when it is not usable)."""
    known = _sniff(path)
    try:
        container = av.open(path)
    except Exception as e:  # av raises several error types for unreadable input
        res.reason = "truncated" if known else "not_video"
        res.detail = (f"starts like {known} but FFmpeg cannot open it ({_first_line(e, path)})" if known
                      else f"FFmpeg does not recognise it ({_first_line(e, path)})")
        return res
    try:
        if not container.streams.video:
            res.reason, res.detail = "not_video", "the file has no video stream"
            return res
        stream = container.streams.video[0]
        if stream.codec_context is None:
            res.reason, res.detail = "codec", "FFmpeg has no decoder for the video stream's codec"
            return res
        rate = stream.average_rate or stream.guessed_rate
        res.fps = float(rate) if rate else 0.0
        declared = stream.frames
        if not declared and container.duration and res.fps:
            declared = int(container.duration / 1e6 * res.fps)
        n, error = 0, None
        try:
            for frame in container.decode(stream):
                n += 1
                res.height, res.width = frame.height, frame.width
        except av.error.DecoderNotFoundError as e:
            res.reason, res.detail = "codec", _first_line(e)
            return res
        except Exception as e:
            error = e
        res.num_frames, res.backend = n, "pyav"
        if n == 0:
            res.reason = "codec" if error is not None and known is None else "truncated"
            res.detail = f"no frame decodes ({_first_line(error) if error else 'empty stream'})"
        elif error is not None:
            res.reason, res.detail = "truncated", f"decoding stops after {n} frames ({_first_line(error)})"
        elif declared and n < COMPLETE_FRACTION * declared - 1:
            res.reason, res.detail = "truncated", f"{n} of the {declared} frames the container declares decode"
        return res
    finally:
        container.close()


def check_file(path: str | Path, min_frames: int = 1, backend: str = "auto", video_id: str = "") -> FileCheck:
    """Decide whether one file is usable for training, the way training will open it.

    Args:
        path: the video.
        min_frames: fewer decodable frames than this make it ``too_short``.
        backend: ``auto`` (decord, then PyAV), ``decord`` or ``pyav``.
        video_id: the id to report (default: the file stem).

    Returns:
        a :class:`FileCheck`; never raises for a bad file.
    """
    path = str(path)
    res = FileCheck(path, video_id or Path(path).stem)
    if not os.path.exists(path):
        res.reason, res.detail = "missing", "file not found"
        return res
    if os.path.getsize(path) == 0:
        res.reason, res.detail = "empty", "0 bytes"
        return res
    decord_error = ""
    use_decord = HAVE_DECORD and backend in ("auto", "decord")
    if use_decord and path.lower().endswith(".gif"):
        use_decord, decord_error = False, "decord cannot read GIF"
    if use_decord:
        try:
            info = probe_video(path, "decord")
            read_frames(path, [info.num_frames - 1], backend="decord")  # the frames it claims exist
            res.num_frames, res.fps, res.height, res.width, res.backend = (
                info.num_frames, info.fps, info.height, info.width, "decord")
        except (VideoDecodeError, ValueError) as e:
            decord_error = str(e).replace(f"{path}: ", "").replace(path, "<file>")[:300]
    if not res.backend:
        if backend == "decord":
            res.reason = "codec" if _sniff(path) else "not_video"
            res.detail = f"decord cannot decode it ({decord_error}); use backend auto or pyav"
            return res
        _check_pyav(path, res)
        if res.reason is None:
            res.fallback = decord_error
    if res.reason is None and res.num_frames < min_frames:
        res.reason, res.detail = "too_short", f"{res.num_frames} frames < {min_frames}"
    return res


# ----------------------------------------------------------------------------- many files

def _check_one(args) -> FileCheck:
    rec, min_frames, backend = args
    return check_file(rec.path, min_frames, backend, rec.video_id)


def check_records(records: Sequence[VideoRecord], min_frames: int = 1, backend: str = "auto",
                  store: ProbeStore | None = None, workers: int = 0, root: str = "") -> CheckReport:
    """Check every record; with ``store``, record each decodable file's probe there.

    Args:
        records: the videos to check.
        min_frames: see :func:`check_file`.
        backend: see :func:`check_file`.
        store: where training looks up probes (``<cache>/probes``, see :class:`FrameCache`).
        workers: processes to check in parallel (0 = in this process).
        root: the dataset directory, for the report.
    """
    if min_frames < 1:
        raise ValueError(f"min_frames must be >= 1, got {min_frames}")
    jobs = [(r, min_frames, backend) for r in records]
    if workers > 0 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            files = list(pool.map(_check_one, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    else:
        files = [_check_one(j) for j in jobs]
    if store is not None:
        for f in files:
            if f.backend and f.reason in (None, "too_short"):  # too short depends on the views
                store.put(f.path, f.info())
            elif f.reason in ("empty", "not_video", "codec", "truncated"):
                store.put_unusable(f.path, f"{f.reason}: {f.detail}")
    return CheckReport(root, min_frames, files)


def _scan(root: Path) -> list[VideoRecord]:
    """Every file with a video extension under ``root`` (hidden folders skipped)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if Path(name).suffix.lower() in VIDEO_EXTENSIONS:
                out.append(VideoRecord(str(Path(dirpath) / name), Path(name).stem))
    return out


def check_dataset(root: str | Path, min_frames: int = 1, backend: str = "auto", cache_dir: str | Path | None = None,
                  workers: int = 0) -> CheckReport:
    """Check the videos of a dataset directory.

    The videos are those its index lists (any layout :func:`~vcl_core.data.index.load_index`
    reads; missing files included); a directory with no recognisable layout is scanned for
    files with video extensions instead.

    Args:
        root: the dataset directory.
        min_frames, backend, workers: see :func:`check_records`.
        cache_dir: the frame-cache directory training will use; probes are recorded under its
            ``probes/`` folder. ``None`` records nothing.

    Raises:
        FileNotFoundError: ``root`` does not exist.
    """
    rootp = Path(root)
    if not rootp.is_dir():
        raise FileNotFoundError(f"data directory {rootp} does not exist")
    try:
        index = load_index(rootp)
        records, note = index.records, f"index: {index.format} layout"
    except ValueError as e:
        if "cannot tell the layout" not in str(e) and "lists no videos" not in str(e):
            raise
        records, note = _scan(rootp), "no index layout found: checked every file with a video extension"
    if not records:
        raise ValueError(f"{rootp}: no videos found (extensions: {', '.join(VIDEO_EXTENSIONS)})")
    store = ProbeStore(Path(cache_dir) / FrameCache.PROBES) if cache_dir else None
    report = check_records(records, min_frames, backend, store, workers, str(rootp))
    report.note = note
    return report


@contextlib.contextmanager
def quiet_decoders() -> Iterator[None]:
    """Silence FFmpeg's console messages while checking (PyAV's level is restored after;
    decord's stays at ``QUIET``, as it offers no way to read it back)."""
    old = av.logging.get_level()
    av.logging.set_level(av.logging.PANIC)
    if HAVE_DECORD:
        import decord

        decord.logging.set_level(decord.logging.QUIET)
    try:
        yield
    finally:
        av.logging.set_level(old)
