"""Where clips come from in time: view specifications, positive policies, eval windows.

:class:`SamplingConfig` lists the views of a training sample (:class:`ViewSpec` each) and
how their start times relate; its :class:`ViewLayout` says which view is a whole-video view,
a clip view or another window of the video, and travels with every batch to the objective.

A *view* is ``num_frames`` frames taken every ``stride`` source frames (or at a target
``fps``, whatever the video's own rate), or spread over the whole video (a *long* view: one
frame from each of ``num_frames`` equal segments, at a random place in the segment during
training as in TSN, Wang et al. 2016, and at its centre in evaluation). A training sample
holds several views of one video; the *positive policy* says how the start times of its clip
(non-whole) views relate:

``same``      every view is centred on the same moment (two augmentations of one segment).
``cvrl``      two starts separated by a gap drawn from the linearly decreasing density
              ``p(d) ~ 1 - d/M`` (Qian et al., CVRL, CVPR 2021), so near clips are likelier.
``range``     the gap is uniform in ``[min_gap, max_gap]`` frames.
``rho``       every view starts independently and uniformly (rho-BYOL, Feichtenhofer et al. 2021).

*Intra-video negatives* (:func:`sample_negative_starts`) are windows of the same video that
overlap neither each other nor the positive clips, as TCLR's local-local loss uses them
(Dave et al. 2022).

All functions draw from the ``numpy.random.Generator`` they are given, so a sample is a pure
function of the seed that made the generator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from .augment import AugmentConfig
from .temporal_augment import TemporalAugmentConfig

POLICIES = ("same", "cvrl", "range", "rho")
SHORT_POLICIES = ("loop", "pad", "skip")


class ClipTooShort(ValueError):
    """A video has fewer frames than a view needs and the short-video policy is ``skip``."""


#: how whole views place their frames during training (see :class:`ViewSpec`)
JITTERS = ("segment", "shared")


@dataclass(frozen=True)
class ViewSpec:
    """One view of a sample: where its frames come from and what augments it.

    Args:
        num_frames: frames in the clip (T).
        stride: source frames between consecutive clip frames (ignored when ``whole`` or when
            ``fps`` is set); fractional strides are allowed (frame ``floor(k * stride)``).
        whole: spread ``num_frames`` evenly over the whole video (a long, sparse view).
        fps: target frame rate; when > 0 the stride is ``video_fps / fps`` for each video
            (see :meth:`resolve`), so views cover the same time in seconds whatever the source
            rate. Videos whose rate is unknown keep ``stride``.
        jitter: how a whole view's frames move during training: ``segment`` draws each
            frame at random within its segment (TSN), so the spacing between frames varies;
            ``shared`` shifts all frames by one random offset, so they stay evenly spaced and
            motion between them stays consistent (evaluation always takes segment centres).
        temporal: the view's temporal augmentation (speed, drop, order, mask, lighting, camera).
        augment: the view's spatial augmentation; ``None`` uses the dataset's.

    Examples:
        Two short dense views and one long sparse view (at 4 frames per second)::

            fast = ViewSpec(8, stride=1, temporal=TemporalAugmentConfig(speeds=(1, 2)))
            views = (fast, fast, ViewSpec(8, fps=4))
    """

    num_frames: int = 16
    stride: float = 2
    whole: bool = False
    fps: float = 0.0
    jitter: str = "segment"
    temporal: TemporalAugmentConfig = field(default_factory=TemporalAugmentConfig)
    augment: AugmentConfig | None = None

    def __post_init__(self) -> None:
        if self.num_frames < 1 or not self.stride > 0 or self.fps < 0:
            raise ValueError(f"ViewSpec needs num_frames >= 1, stride > 0 and fps >= 0, got {self}")
        if self.jitter not in JITTERS:
            raise ValueError(f"ViewSpec.jitter must be one of {JITTERS}, got {self.jitter!r}")
        if self.whole and self.temporal.speeds != (1.0,):
            raise ValueError("a whole-video view spans the video whatever the speed: leave "
                             f"temporal.speeds at (1.0,), got {self.temporal.speeds}")

    def resolve(self, video_fps: float) -> ViewSpec:
        """This view with ``fps`` turned into a stride for a video at ``video_fps``."""
        if self.fps <= 0 or self.whole or video_fps <= 0:
            return self
        return replace(self, stride=video_fps / self.fps, fps=0.0)

    def at_speed(self, speed: float) -> ViewSpec:
        """This view played ``speed`` times faster: the stride scales by ``speed``."""
        return self if speed == 1 or self.whole else replace(self, stride=self.stride * speed)

    def span(self, num_video_frames: int) -> int:
        """Source frames covered by the view."""
        if self.whole:
            return num_video_frames
        return math.floor((self.num_frames - 1) * self.stride + 1e-9) + 1


#: what a view of a training sample is for: a whole-video view, a clip view, or another window
#: of the same video that serves as a negative (see :class:`ViewLayout`)
VIEW_KINDS = ("long", "short", "negative")


class _LayoutFields(NamedTuple):
    kinds: tuple[str, ...]
    frames: tuple[int, ...]


class ViewLayout(_LayoutFields):
    """The contract between sampling and the objective: what each view of a sample is.

    A sample's views come in the order of its :class:`SamplingConfig` (its ``views``, then the
    ``intra_negatives``); the layout names the kind and length of each, travels with every
    item and batch (``batch["layout"]``), and is the only thing an objective reads to find
    its whole-video views, clip views and negatives. (A named tuple, so that collate and
    device-transfer utilities such as Fabric's pass it through unchanged.)

    Args:
        kinds: one of :data:`VIEW_KINDS` per view.
        frames: frames of each view.

    Examples:
        >>> layout = ViewLayout(("long", "short", "short", "negative"), (16, 8, 8, 8))
        >>> layout.long, layout.short, layout.negative, layout.clips
        ((0,), (1, 2), (3,), (1, 2, 3))
    """

    __slots__ = ()

    def __new__(cls, kinds, frames):
        kinds, frames = tuple(kinds), tuple(int(f) for f in frames)
        if len(kinds) != len(frames):
            raise ValueError(f"ViewLayout: {len(kinds)} kinds for {len(frames)} frame counts")
        bad = sorted(set(kinds) - set(VIEW_KINDS))
        if bad:
            raise ValueError(f"ViewLayout: unknown view kinds {bad}; choose from {VIEW_KINDS}")
        return super().__new__(cls, kinds, frames)

    def _of(self, kind: str) -> tuple[int, ...]:
        return tuple(i for i, k in enumerate(self.kinds) if k == kind)

    @property
    def long(self) -> tuple[int, ...]:
        """Indices of the whole-video views."""
        return self._of("long")

    @property
    def short(self) -> tuple[int, ...]:
        """Indices of the clip views (the positives at the short scale)."""
        return self._of("short")

    @property
    def negative(self) -> tuple[int, ...]:
        """Indices of the other windows of the same video (intra-video negatives)."""
        return self._of("negative")

    @property
    def clips(self) -> tuple[int, ...]:
        """Every short clip of the video: the clip views, then the other windows."""
        return self.short + self.negative

    def check(self, views) -> None:
        """Raise if ``views`` (``(B, C, T, H, W)`` tensors) do not match the layout."""
        got = tuple(int(v.shape[2]) for v in views)
        if got != self.frames:
            raise ValueError(f"batch does not match its view layout: views of {got} frames, layout {self}")



@dataclass(frozen=True)
class SamplingConfig:
    """How a training sample is cut from a video.

    Args:
        views: the views of one sample (two for SimCLR-style pairs; any number, at any
            temporal scale, each with its own temporal and spatial augmentation).
        policy: positive policy, see :mod:`vcl_core.data.views`.
        min_gap, max_gap: gap limits in source frames (``range``; ``max_gap`` also caps ``cvrl``).
        short: what to do with videos shorter than a view: ``loop`` (wrap around), ``pad``
            (repeat the last frame) or ``skip`` (replace the video by another, counted as a
            failure).
        max_retries: replacement attempts before an item gives up.
        intra_negatives: K windows of the same video, disjoint from each other and from the
            positive clips, appended after the views (TCLR local-local negatives). They copy
            the first clip view (frames, stride, speed, augmentations). A video without room
            for them is replaced like a too-short one.
    """

    views: tuple[ViewSpec, ...] = (ViewSpec(), ViewSpec())
    policy: str = "cvrl"
    min_gap: int = 0
    max_gap: int | None = None
    short: str = "loop"
    max_retries: int = 10
    intra_negatives: int = 0

    def __post_init__(self) -> None:
        if not self.views:
            raise ValueError("SamplingConfig needs at least one view")
        if self.policy not in POLICIES:
            raise ValueError(f"unknown positive policy {self.policy!r}; choose one of {POLICIES}")
        if self.short not in SHORT_POLICIES:
            raise ValueError(f"unknown short-video policy {self.short!r}; choose one of {SHORT_POLICIES}")
        if self.intra_negatives < 0:
            raise ValueError(f"intra_negatives must be >= 0, got {self.intra_negatives}")
        if self.intra_negatives and all(v.whole for v in self.views):
            raise ValueError("intra_negatives copy the first clip view, but every view is whole-video; "
                             "add a clip view (whole=False)")

    @property
    def layout(self) -> ViewLayout:
        """What each view of a sample is (whole views ``long``, clip views ``short``, then the
        ``negative`` windows), in the order the dataset returns them."""
        kinds = tuple("long" if v.whole else "short" for v in self.views) + ("negative",) * self.intra_negatives
        first_clip = next((v for v in self.views if not v.whole), None)
        frames = tuple(v.num_frames for v in self.views) + (first_clip.num_frames if first_clip else 0,) * self.intra_negatives
        return ViewLayout(kinds, frames)

    @property
    def num_views(self) -> int:
        """Views per item, intra-video negatives included."""
        return len(self.views) + self.intra_negatives


def window_indices(start: int, view: ViewSpec, num_video_frames: int, short: str = "loop",
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Frame indices of ``view`` starting at ``start``, with the short-video policy applied.

    ``loop`` wraps around the end of the video, ``pad`` repeats the last frame, ``skip``
    raises :class:`ClipTooShort` when the view does not fit. For whole views ``start`` is
    ignored; with ``rng`` each segment's frame is drawn at random (training), without it the
    segment centres are used (evaluation).
    """
    n = num_video_frames
    if view.whole:
        # one frame per equal segment: covers the whole video in order
        if rng is None:
            offset = 0.5
        elif view.jitter == "shared":
            offset = rng.random()
        else:
            offset = rng.random(view.num_frames)
        idx = np.floor((np.arange(view.num_frames) + offset) * n / view.num_frames).astype(np.int64)
        return np.minimum(idx, n - 1)
    idx = start + np.floor(np.arange(view.num_frames) * view.stride + 1e-9).astype(np.int64)
    if idx[-1] < n:
        return idx
    if short == "skip":
        raise ClipTooShort(f"view of {view.span(n)} frames does not fit a video of {n} frames")
    if short == "loop":
        return idx % n
    if short == "pad":
        return np.minimum(idx, n - 1)
    raise ValueError(f"unknown short-video policy {short!r}; choose one of {SHORT_POLICIES}")


def cvrl_gap(rng: np.random.Generator, max_gap: int) -> int:
    """Draw a gap in ``[0, max_gap]`` with density decreasing linearly to zero at ``max_gap``.

    Inverse CDF of ``p(d) = 2 (1 - d/M) / M``: ``d = M (1 - sqrt(1 - u))``.
    """
    if max_gap <= 0:
        return 0
    u = rng.random()
    return int(min(max_gap, np.floor(max_gap * (1.0 - np.sqrt(1.0 - u)))))


def sample_starts(rng: np.random.Generator, num_video_frames: int, views: list[ViewSpec],
                  policy: str = "cvrl", min_gap: int = 0, max_gap: int | None = None) -> tuple[list[int], int]:
    """Start frame of every view and the temporal gap between the first two clip views.

    Whole views start at 0; the policy places the clip (non-whole) views.

    Returns:
        ``(starts, gap)``: one start per view and the signed gap between the first two clip
        views in source frames (0 for ``same``; a free label for gap regression).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown positive policy {policy!r}; choose one of {POLICIES}")
    clip_pos = [i for i, v in enumerate(views) if not v.whole]
    starts = [0] * len(views)
    if not clip_pos:
        return starts, 0
    clip_starts, gap = _clip_starts(rng, num_video_frames, [views[i] for i in clip_pos], policy, min_gap, max_gap)
    for i, st in zip(clip_pos, clip_starts):
        starts[i] = st
    return starts, gap


def _clip_starts(rng, num_video_frames, views, policy, min_gap, max_gap) -> tuple[list[int], int]:
    n = num_video_frames
    spans = [v.span(n) for v in views]
    room = [max(0, n - s) for s in spans]
    if policy == "same" or len(views) == 1:
        centre = rng.uniform(0, n)
        starts = [min(max(round(centre - s / 2), 0), r) for s, r in zip(spans, room)]  # np.clip: 10x slower
    elif policy == "rho":
        starts = [int(rng.integers(0, r + 1)) for r in room]
    else:
        m = min(room[0], room[1])
        if policy == "cvrl":
            hi = m if max_gap is None else min(m, max_gap)
            gap = cvrl_gap(rng, hi)
        else:
            lo, hi = min(min_gap, m), m if max_gap is None else min(max_gap, m)
            gap = int(rng.integers(lo, max(lo, hi) + 1))
        first = int(rng.integers(0, m - gap + 1))
        pair = [first, first + gap]
        if rng.random() < 0.5:  # either view may be the earlier one
            pair.reverse()
        starts = pair + [int(rng.integers(0, r + 1)) for r in room[2:]]
    gap = starts[1] - starts[0] if len(starts) > 1 else 0
    return starts, gap


def free_intervals(num_video_frames: int, blocked: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[0, n)`` outside every half-open ``blocked`` interval, in order."""
    free, pos = [], 0
    for a, b in sorted((max(0, int(a)), min(num_video_frames, int(b))) for a, b in blocked):
        if a > pos:
            free.append((pos, a))
        pos = max(pos, b)
    if pos < num_video_frames:
        free.append((pos, num_video_frames))
    return free


def _place(rng: np.random.Generator, free: list[tuple[int, int]], span: int, k: int) -> list[int] | None:
    """``k`` disjoint windows of ``span`` frames inside the ``free`` intervals, or ``None``."""
    capacity = [(b - a) // span for a, b in free]
    if sum(capacity) < k:
        return None
    # pick k of the available slots at random, then place each interval's windows with
    # random slack between them (a random composition), so every layout is possible
    slots = np.repeat(np.arange(len(free)), capacity)
    per_interval = np.bincount(rng.choice(slots, size=k, replace=False), minlength=len(free))
    starts = []
    for (a, b), m in zip(free, per_interval):
        if m == 0:
            continue
        slack = (b - a) - m * span
        offsets = np.sort(rng.integers(0, slack + 1, size=m))
        starts += [int(a + off + i * span) for i, off in enumerate(offsets)]
    return sorted(starts)


def sample_negative_starts(rng: np.random.Generator, num_video_frames: int, span: int, k: int,
                           blocked: list[tuple[int, int]],
                           fallback: list[tuple[int, int]] | None = None) -> list[int]:
    """Starts of ``k`` windows of ``span`` frames of one video that overlap neither each other
    nor any ``blocked`` half-open interval (the positive clips), in time order.

    These are intra-video negatives as in TCLR's local-local loss (Dave et al. 2022): same
    appearance, different moment. When the video has no room for them outside ``blocked``,
    the windows only avoid the ``fallback`` intervals (usually the anchor clip alone).

    Raises:
        ClipTooShort: the video cannot hold ``k`` disjoint windows even then.
    """
    if k <= 0:
        return []
    for avoid in (blocked, fallback):
        if avoid is None:
            continue
        starts = _place(rng, free_intervals(num_video_frames, avoid), span, k)
        if starts is not None:
            return starts
    raise ClipTooShort(f"a video of {num_video_frames} frames cannot hold {k} disjoint negative windows of "
                       f"{span} frames beside the positive clips; lower intra_negatives or use shorter views")


def eval_windows(num_video_frames: int, view: ViewSpec, num_clips: int, short: str = "loop") -> list[np.ndarray]:
    """``num_clips`` windows of ``view`` spaced evenly over the video (for clip-average eval)."""
    n = num_video_frames
    room = max(0, n - view.span(n))
    if view.whole:
        return [window_indices(0, view, n, short)]
    starts = np.linspace(0, room, num_clips).round().astype(int) if num_clips > 1 else [room // 2]
    return [window_indices(int(s), view, n, short) for s in starts]
