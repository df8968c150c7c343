"""Map-style datasets: multi-view contrastive samples for training, fixed clips for evaluation.

:class:`ContrastiveVideoDataset` returns several augmented views of one video per item.
Everything random about item ``i`` in epoch ``e`` comes from one generator seeded with
``(seed, e, i)``, so a sample is the same whichever DataLoader worker or rank draws it, and a
resumed run sees the same data as an uninterrupted one.

A video that cannot be read (missing, corrupt, too short under ``short="skip"``) never stops
an epoch: the item is replaced by another video drawn from the same generator, and the
failure travels with the sample (``failures``) so the training loop can count and report it.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import torch

from .augment import AugmentConfig, apply_spatial_batch, apply_spatial_views, draw_spatial
from .cache import DecodeSource, FrameSource
from .decode import VideoDecodeError
from .foreground import motion_mask, paste_foreground
from .index import VideoRecord
from .views import ClipTooShort, SamplingConfig, ViewLayout, sample_negative_starts, sample_starts, window_indices
from .perturb import draw_speed
from .temporal_augment import apply_clip_params, apply_frame_params, draw_clip_params, draw_frame_params
from .tracks import recorded_camera_label


class _Plan(NamedTuple):
    """What :meth:`ContrastiveVideoDataset._plan` drew for one item before reading frames."""

    rec: VideoRecord
    n: int
    specs: list
    speeds: list
    gap: int
    wins: list
    augs: list
    params: list
    frame_idx: list
    union: np.ndarray


_THREADS: dict[int, ThreadPoolExecutor] = {}


def _spare_core() -> bool:
    """Whether the processes that load data (the DataLoader's workers, or this process when it
    has none) are fewer than this process's cores, so a decode thread has a core to run on."""
    info = torch.utils.data.get_worker_info()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return (info.num_workers if info is not None else 1) < cores


def _decode_thread() -> ThreadPoolExecutor:
    """This process's one background decode thread (a forked DataLoader worker gets its own:
    the parent's thread does not exist in it)."""
    pid = os.getpid()
    if pid not in _THREADS:
        _THREADS[pid] = ThreadPoolExecutor(1, thread_name_prefix="vcl-decode")
    return _THREADS[pid]


class ContrastiveVideoDataset(torch.utils.data.Dataset):
    """Several views of one video per item, each a normalised float ``(C, T, H, W)``.

    Args:
        records: the videos (usually one split of a :class:`~vcl_core.data.index.VideoIndex`).
        source: where frames come from (:class:`DecodeSource` or :class:`FrameCache`).
        sampling: views, positive policy, intra-video negatives.
        augment: one :class:`AugmentConfig` for all views, or one per view (asymmetric views);
            a view's own ``ViewSpec.augment`` takes precedence.
        seed: base seed; combine with :meth:`set_epoch`.
        label_columns: label columns to return as class indices (supervised training only).
        camera_tracks: ``video_id -> (N, 2)`` recorded camera offsets (fractions of the frame,
            see :func:`~vcl_core.data.tracks.load_camera_tracks`) for ``camera_recorded``.
        spatial_on_batch: leave the spatial augmentation (crop, resize, flip, blur, colour,
            normalisation) to :func:`augment_batch`, run on the collated batch on the training
            device: ``views`` are then the uint8 ``(T_v, H, W, C)`` frames and ``spatial`` the
            parameters drawn for each (the same draws, so the same samples to float rounding).

    Item keys (V = views + intra-video negatives):

    ``views``           list of V float ``(C, T_v, H, W)``
    ``layout``          the :class:`~vcl_core.data.views.ViewLayout`: which view is a whole-video
                        view, a clip view or a negative window (the same for every item)
    ``index``           the item asked for; ``video`` the record index actually used
    ``video_id``        that record's id; ``video_frames`` its frame count
    ``gap``             signed gap between the first two clip views (source frames)
    ``windows``         long ``(V, 2)`` ``[first, last + 1)`` source frames each view covers
    ``frame_indices``   list of V long ``(T_v,)``, the source frame behind each clip frame
                        (after speed, dropping and reordering)
    ``speed``           float ``(V,)`` playback speed
    ``camera``          float ``(V, 4)`` injected camera motion ``(vx, vy, zoom_rate, shake)``
                        (zeros when none was injected, see :class:`~vcl_core.data.perturb.CameraMotion`)
    ``camera_recorded`` float ``(V, 2)`` recorded camera velocity per clip frame, NaN if unknown
    ``labels``          class index per label column, -1 when missing
    ``spatial``         (``spatial_on_batch`` only) one :class:`~vcl_core.data.augment.SpatialParams`
                        per view, and ``crop_sizes`` each view's output size
    ``sample_seed``     a seed drawn last from the item's generator, for randomness the
                        objective needs per video (the pseudo-motion task's clips): the same
                        however the batch is split across processes
    ``failures``        list of ``"video_id: reason"`` for replaced videos
    """

    def __init__(self, records: Sequence[VideoRecord], source: FrameSource, sampling: SamplingConfig,
                 augment: AugmentConfig | Sequence[AugmentConfig], seed: int = 0,
                 label_columns: Sequence[str] = (), camera_tracks: Mapping[str, np.ndarray] | None = None,
                 spatial_on_batch: bool = False):
        if not records:
            raise ValueError("ContrastiveVideoDataset needs at least one video")
        self.records = list(records)
        self.source = source
        self.sampling = sampling
        n_views = len(sampling.views)
        augs = [augment] * n_views if isinstance(augment, AugmentConfig) else list(augment)
        if len(augs) != n_views:
            raise ValueError(f"{len(augs)} augmentation configs for {n_views} views")
        self.augment = [v.augment or a for v, a in zip(sampling.views, augs)]
        self.seed = seed
        self.epoch = 0
        self.label_columns = list(label_columns)
        self.camera_tracks = camera_tracks
        self.spatial_on_batch = spatial_on_batch
        self.layout: ViewLayout = sampling.layout
        self._anchor = next((i for i, v in enumerate(sampling.views) if not v.whole), None)
        #: records whose file could not be probed in this process -> reason (not retried)
        self.known_bad: dict[int, str] = {}
        #: class names per label column, sorted; a label's index is its position here
        self.classes = {c: sorted({r.labels.get(c, "") for r in self.records} - {""}) for c in self.label_columns}
        pos = {c: {name: i for i, name in enumerate(v)} for c, v in self.classes.items()}
        self._labels = torch.tensor([[pos[c].get(r.labels.get(c, ""), -1) for c in self.label_columns]
                                     for r in self.records], dtype=torch.long).reshape(len(self.records), -1)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose samples ``__getitem__`` returns."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def _video_fps(self, rec: VideoRecord) -> float:
        fps = getattr(self.source, "fps", None)
        return float(fps(rec)) if fps is not None else 0.0

    def _num_frames(self, j: int) -> int:
        """Frames of record ``j``; a file that cannot be probed is remembered as bad (only
        file-level failures are: a failure that depends on the drawn frames would make the
        samples depend on what this worker happened to see before)."""
        if j in self.known_bad:
            raise VideoDecodeError(self.known_bad[j])
        try:
            return self.source.num_frames(self.records[j])
        except (VideoDecodeError, OSError) as e:
            self.known_bad[j] = str(e)
            raise

    def _paste_on_other_scene(self, clip: torch.Tensor, j: int, rng: np.random.Generator,
                              frac: float) -> torch.Tensor:
        """The clip's moving foreground on a random frame of another video (``temporal.background_p``);
        the clip unchanged when that video cannot be read (the draws are the same either way)."""
        k = int(rng.integers(len(self.records) - 1)) if len(self.records) > 1 else j
        k += int(k >= j and len(self.records) > 1)
        where = rng.random()
        try:
            n = self._num_frames(k)
            background = self.source.read(self.records[k], np.array([int(where * n)]))[0]
        except (VideoDecodeError, OSError):
            return clip
        return paste_foreground(clip, torch.from_numpy(np.ascontiguousarray(background)), motion_mask(clip, frac))

    def _plan(self, j: int, rng: np.random.Generator) -> _Plan:
        """Everything drawn before the frames are read: windows, frame indices, the union."""
        rec = self.records[j]
        s = self.sampling
        n = self._num_frames(j)
        fps = self._video_fps(rec) if any(v.fps > 0 for v in s.views) else 0.0
        base = [v.resolve(fps) for v in s.views]
        speeds = [draw_speed(rng, v.temporal.speeds) for v in base]
        specs = [v.at_speed(sp) for v, sp in zip(base, speeds)]
        starts, gap = sample_starts(rng, n, specs, s.policy, s.min_gap, s.max_gap)
        wins = [window_indices(st, v, n, s.short, rng) for st, v in zip(starts, specs)]
        augs = list(self.augment)
        if s.intra_negatives:
            a = self._anchor
            span = specs[a].span(n)
            blocked = [(int(w.min()), int(w.max()) + 1) for w, v in zip(wins, specs) if not v.whole]
            anchor_block = [(int(wins[a].min()), int(wins[a].max()) + 1)]
            for st in sample_negative_starts(rng, n, span, s.intra_negatives, blocked, anchor_block):
                starts.append(st)
                speeds.append(speeds[a])
                specs.append(specs[a])
                wins.append(window_indices(st, specs[a], n, s.short, rng))
                augs.append(augs[a])
        params = [draw_frame_params(rng, v.temporal, v.num_frames, sp) for v, sp in zip(specs, speeds)]
        frame_idx = [apply_frame_params(w, p) for w, p in zip(wins, params)]
        # decode the union once, then cut every view from it
        return _Plan(rec, n, specs, speeds, gap, wins, augs, params, frame_idx, np.unique(np.concatenate(frame_idx)))

    def _finish(self, j: int, rng: np.random.Generator, plan: _Plan, frames: np.ndarray,
                rows: _Row | None = None) -> dict:
        """The sample from its plan and the union's frames (drawing the rest from ``rng``);
        its views written into ``rows`` where given."""
        rec, n, specs, speeds, gap, wins, augs, params, frame_idx, union = plan
        h, w = frames.shape[1:3]
        track = self.camera_tracks.get(rec.video_id) if self.camera_tracks is not None else None
        frames = torch.from_numpy(np.ascontiguousarray(frames))
        clips, spatial, cams, recorded = [], [], [], []
        for idx, spec, p, aug in zip(frame_idx, specs, params, augs):
            clip = frames.index_select(0, torch.from_numpy(np.searchsorted(union, idx)))  # 10x faster than frames[...]
            if spec.temporal.background_p > 0 and rng.random() < spec.temporal.background_p:
                clip = self._paste_on_other_scene(clip, j, rng, spec.temporal.foreground_frac)
            if spec.temporal.active:
                p = draw_clip_params(rng, spec.temporal, p, h, w)
                clip = apply_clip_params(clip, p)
            clips.append(clip)
            spatial.append(draw_spatial(rng, h, w, aug))
            cams.append(p.camera_label())
            recorded.append(recorded_camera_label(track, idx))
        extra: dict = {}
        if self.spatial_on_batch:
            views, extra = clips, {"spatial": spatial, "crop_sizes": [a.crop_size for a in augs]}
        else:
            views = [None] * len(clips)
            rows_out = None if rows is None else rows.get([(c.shape[3], len(c), a.crop_size, a.crop_size)
                                                           for c, a in zip(clips, augs)])
            for size in sorted({a.crop_size for a in augs}):  # all views of one output size at once
                group = [i for i, a in enumerate(augs) if a.crop_size == size]
                dst = None if rows is None else [rows_out[i] for i in group]
                for i, v in zip(group, apply_spatial_views([clips[i] for i in group], [spatial[i] for i in group], size,
                                                           dst)):
                    views[i] = v
        sample_seed = int(rng.integers(2**62))  # the last draw: nothing above depends on it
        return extra | {
            "views": views,
            "layout": self.layout,
            "gap": gap,
            "windows": torch.tensor([[int(x.min()), int(x.max()) + 1] for x in wins], dtype=torch.long),
            "frame_indices": [torch.from_numpy(np.asarray(x, dtype=np.int64)) for x in frame_idx],
            "speed": torch.tensor(speeds, dtype=torch.float32),
            "camera": torch.from_numpy(np.stack(cams)),
            "camera_recorded": torch.from_numpy(np.stack(recorded)),
            "video_id": rec.video_id,
            "video_frames": n,
            "sample_seed": sample_seed,
        }

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        """Item ``index`` of the current epoch, or of epoch ``e`` when given ``(e, index)``
        (as :class:`~vcl_core.data.samplers.EpochSampler` yields, so persistent workers need no
        epoch bookkeeping).

        Raises:
            RuntimeError: ``max_retries`` replacement videos in a row were unusable.
        """
        epoch, index = index if isinstance(index, tuple) else (self.epoch, index)
        return self._item(epoch, index, None)

    def __getitems__(self, indices: Sequence[int | tuple[int, int]]) -> list[dict]:
        """``[self[i] for i in indices]`` (a DataLoader asks for a batch this way), with item
        ``k + 1``'s frames decoding in a background thread while item ``k`` is cut and
        augmented (decord and PyTorch release the GIL). The items are the same: each one's
        draws come from its own generator, in the same order.

        Only for sources that decode (:class:`DecodeSource`; a cached read is too short to be
        worth a thread), and only while the loading processes leave a core free
        (:func:`_spare_core`): on 2 cores, 0 or 1 DataLoader workers, not 2 (``bench/loader.py``)."""
        keys = [i if isinstance(i, tuple) else (self.epoch, i) for i in indices]
        batch = _BatchViews(len(keys))
        if not isinstance(self.source, DecodeSource) or not _spare_core():
            return [self._item(e, i, None, batch.row(k)) for k, (e, i) in enumerate(keys)]
        pool = _decode_thread()
        ahead = self._start(*keys[0], pool) if keys else None
        out = []
        for k, (epoch, index) in enumerate(keys):
            current, ahead = ahead, self._start(*keys[k + 1], pool) if k + 1 < len(keys) else None
            out.append(self._item(epoch, index, current, batch.row(k)))
        return out

    def _rng(self, epoch: int, index: int, attempt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, index, attempt])

    def _start(self, epoch: int, index: int, pool: ThreadPoolExecutor):
        """Draw item ``index``'s first attempt up to its read and submit the read to ``pool``;
        ``None`` when the plan itself fails (:meth:`_item` then repeats it, with the same
        generator, and records the failure)."""
        rng = self._rng(epoch, index, 0)
        try:
            plan = self._plan(index, rng)
        except (VideoDecodeError, ClipTooShort, OSError):
            return None
        return rng, plan, pool.submit(self.source.read, plan.rec, plan.union)

    def _item(self, epoch: int, index: int, started, rows: _Row | None = None) -> dict:
        """Item ``index`` of ``epoch``; ``started`` is its first attempt from :meth:`_start`;
        its views written into ``rows`` where given (:class:`_BatchViews`)."""
        failures: list[str] = []
        j = index
        for attempt in range(self.sampling.max_retries + 1):
            try:
                if attempt == 0 and started is not None:
                    rng, plan, frames = started[0], started[1], started[2].result()
                else:
                    rng = self._rng(epoch, index, attempt)
                    plan = self._plan(j, rng)
                    frames = self.source.read(plan.rec, plan.union)
                out = self._finish(j, rng, plan, frames, rows)
                out.update(index=index, video=j, failures=failures, labels=self._labels[j])
                return out
            except (VideoDecodeError, ClipTooShort, OSError) as e:
                failures.append(f"{self.records[j].video_id}: {e}")
            # the replacement has its own generator, so it does not depend on how far the
            # failed attempt got, nor on whether this process already knew the video was bad
            j = int(np.random.default_rng([self.seed, epoch, index, attempt, 1]).integers(len(self.records)))
        raise RuntimeError(f"item {index}: {len(failures)} videos in a row could not be used; "
                           f"last errors: {failures[-3:]}. Run `vcl check-data` on the dataset.")


def _empty(numel: int, dtype: torch.dtype) -> torch.Tensor:
    """A flat tensor, in shared memory inside a DataLoader worker (as ``default_collate``
    allocates there: what a worker sends must be in shared memory, or it is copied there)."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(numel, dtype=dtype)
    storage = torch.UntypedStorage._new_shared(numel * dtype.itemsize)
    return torch.empty(0, dtype=dtype).set_(storage, 0, (numel,))


class _BatchViews:
    """The views of a batch, ``(B, C, T_v, s, s)`` float tensors laid out one after another in
    one block of memory (:func:`_empty`), made when the first item asks for its rows.

    :meth:`ContrastiveVideoDataset.__getitems__` has item ``k``'s views written into row ``k``,
    and :func:`collate_views` takes each view's tensor whole instead of stacking the rows (a
    copy that cost 8% of the loader's throughput with 2 workers on 2 cores); one block is one
    file descriptor for a worker to send, where one per view cost ~0.1 ms each to receive."""

    def __init__(self, size: int):
        self.size, self.views = size, None

    def row(self, k: int) -> _Row:
        return _Row(self, k)

    def tensors(self, shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
        if self.views is None:
            sizes = [self.size * math.prod(s) for s in shapes]
            flat, offsets = _empty(sum(sizes), torch.float32), np.cumsum([0, *sizes])
            self.views = [flat[o:o + n].view(self.size, *s) for o, n, s in zip(offsets, sizes, shapes)]
        return self.views


class _Row(NamedTuple):
    """Row ``k`` of a :class:`_BatchViews`."""

    batch: _BatchViews
    k: int

    def get(self, shapes: list[tuple[int, ...]]) -> list[torch.Tensor | None]:
        """Row ``k`` of each view's tensor; ``None`` (the item makes its own) for a view whose
        tensor was made for another shape."""
        views = self.batch.tensors(shapes)
        return [views[i][self.k] if i < len(views) and tuple(views[i].shape[1:]) == tuple(s) else None
                for i, s in enumerate(shapes)]


def _stack_views(views: list[torch.Tensor]) -> torch.Tensor:
    """The items' view ``v`` stacked; the :class:`_BatchViews` tensor itself when they are its
    rows, in order."""
    whole = _whole(views)
    return whole if whole is not None else _stack(views)


def _whole(tensors: list[torch.Tensor]) -> torch.Tensor | None:
    """The tensor whose consecutive rows ``tensors`` are, or ``None``."""
    first = tensors[0]
    storage, start, size = first.untyped_storage(), first.storage_offset(), first.numel()
    for k, t in enumerate(tensors):
        if not (t.untyped_storage().data_ptr() == storage.data_ptr() and t.dtype == first.dtype
                and t.shape == first.shape and t.is_contiguous() and t.storage_offset() == start + k * size):
            return None
    return first.new_empty(0).set_(storage, start, (len(tensors), *first.shape))


def _packed(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """``tensors`` (one dtype) copied into one block of memory (:func:`_empty`), as views of
    it: a worker sends one file descriptor for them all, where one each cost the training
    process 1.3-2.4 ms a batch to receive for the 13 small tensors of a batch (0.4 packed)."""
    flat = _empty(sum(t.numel() for t in tensors), tensors[0].dtype)
    out, o = [], 0
    for t in tensors:
        out.append(flat[o:o + t.numel()].view(t.shape).copy_(t))
        o += t.numel()
    return out


def _packed_by_dtype(tensors: dict[str, torch.Tensor | list[torch.Tensor]]) -> dict:
    """The same dict (values: tensors, or lists of them) with every tensor moved into one block
    of memory per dtype (:func:`_packed`)."""
    out = {k: list(v) if isinstance(v, list) else v for k, v in tensors.items()}

    def at(k, i):
        return out[k] if i is None else out[k][i]

    by_dtype: dict[torch.dtype, list] = {}
    for k, v in out.items():
        for i in range(len(v)) if isinstance(v, list) else [None]:
            by_dtype.setdefault(at(k, i).dtype, []).append((k, i))
    for slots in by_dtype.values():
        for (k, i), t in zip(slots, _packed([at(k, i) for k, i in slots])):
            if i is None:
                out[k] = t
            else:
                out[k][i] = t
    return out


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack``; in a DataLoader worker, straight into shared memory (PyTorch's
    ``default_collate`` does this): a batch in ordinary memory is copied into shared memory
    again when the worker sends it, which costs about as much as the stack itself."""
    return torch.utils.data.default_collate(tensors)


def _stack_frames(clips: list[torch.Tensor]) -> torch.Tensor:
    """uint8 ``(T, H_i, W_i, C)`` clips -> ``(B, T, H, W, C)``, the smaller zero-padded at the
    bottom and right (videos of other aspect ratios decode to other frame sizes)."""
    h = max(c.shape[1] for c in clips)
    w = max(c.shape[2] for c in clips)
    if all(c.shape[1:3] == (h, w) for c in clips):
        return _stack(clips)
    out = torch.zeros((len(clips), clips[0].shape[0], h, w, clips[0].shape[3]), dtype=clips[0].dtype)
    for i, c in enumerate(clips):
        out[i, :, :c.shape[1], :c.shape[2]] = c
    return out


def collate_views(batch: list[dict]) -> dict:
    """Stack a list of items view by view: tensors gain a leading batch dimension ``B``
    (``views[v]`` is ``(B, C, T_v, H, W)``, ``windows`` ``(B, V, 2)``, ``frame_indices[v]``
    ``(B, T_v)``); ``video_id`` is a list; ``failures`` one flat list; ``layout`` the items'
    common :class:`~vcl_core.data.views.ViewLayout`. Items of a ``spatial_on_batch`` dataset
    give uint8 ``views[v]`` ``(B, T_v, H, W, C)`` (padded to the largest frame), ``spatial[v]``
    the B clips' parameters and ``crop_sizes``: :func:`augment_batch` finishes them."""
    n_views = len(batch[0]["views"])
    layout = batch[0]["layout"]
    if any(b["layout"] != layout for b in batch):
        raise ValueError("collate_views: the items of a batch have different view layouts")
    on_batch = "spatial" in batch[0]
    stack = _stack_frames if on_batch else _stack_views
    small = {
        "frame_indices": [torch.stack([b["frame_indices"][v] for b in batch]) for v in range(n_views)],
        "index": torch.tensor([b["index"] for b in batch]),
        "video": torch.tensor([b["video"] for b in batch]),
        "video_frames": torch.tensor([b["video_frames"] for b in batch]),
        "gap": torch.tensor([b["gap"] for b in batch]),
        "sample_seed": torch.tensor([b["sample_seed"] for b in batch], dtype=torch.long),
    } | {key: torch.stack([b[key] for b in batch]) for key in ("windows", "speed", "camera", "camera_recorded",
                                                                "labels")}
    if torch.utils.data.get_worker_info() is not None:
        small = _packed_by_dtype(small)
    out = {
        "layout": layout,
        "views": [stack([b["views"][v] for b in batch]) for v in range(n_views)],
        **small,
        "video_id": [b["video_id"] for b in batch],
        "failures": [f for b in batch for f in b["failures"]],
    }
    if on_batch:
        out["spatial"] = [[b["spatial"][v] for b in batch] for v in range(n_views)]
        out["crop_sizes"] = batch[0]["crop_sizes"]
    return out


def augment_batch(batch: dict) -> dict:
    """Finish a batch of a ``spatial_on_batch`` dataset where its views now are (call it after
    moving ``views`` to the training device): every view's spatial augmentation in one
    :func:`~vcl_core.data.augment.apply_spatial_batch`, giving the normalised float
    ``(B, C, T_v, s, s)`` views the loader would have made. A batch without ``spatial`` is
    returned as it is."""
    if "spatial" not in batch:
        return batch
    views = [apply_spatial_batch(v, ps, s) for v, ps, s in zip(batch["views"], batch.pop("spatial"), batch.pop("crop_sizes"))]
    return batch | {"views": views}
