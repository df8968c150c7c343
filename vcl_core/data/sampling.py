"""Where clips come from in time: view specifications, positive policies, eval windows.

A *view* is ``num_frames`` frames taken every ``stride`` source frames, or spread over the
whole video (a *long* view: one frame from each of ``num_frames`` equal segments, at a random
place in the segment during training as in TSN, Wang et al. 2016, and at its centre in
evaluation). A training sample holds several views of one video; the *positive policy* says
how the start times of its clip (non-whole) views relate:

``same``      every view is centred on the same moment (two augmentations of one segment).
``cvrl``      two starts separated by a gap drawn from the linearly decreasing density
              ``p(d) ~ 1 - d/M`` (Qian et al., CVRL, CVPR 2021), so near clips are likelier.
``range``     the gap is uniform in ``[min_gap, max_gap]`` frames.
``rho``       every view starts independently and uniformly (rho-BYOL, Feichtenhofer et al. 2021).

All functions draw from the ``numpy.random.Generator`` they are given, so a sample is a pure
function of the seed that made the generator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POLICIES = ("same", "cvrl", "range", "rho")
SHORT_POLICIES = ("loop", "pad", "skip")


class ClipTooShort(ValueError):
    """A video has fewer frames than a view needs and the short-video policy is ``skip``."""


@dataclass(frozen=True)
class ViewSpec:
    """One view of a sample.

    Args:
        num_frames: frames in the clip (T).
        stride: source frames between consecutive clip frames (ignored when ``whole``).
        whole: spread ``num_frames`` evenly over the whole video (a long, sparse view).
    """

    num_frames: int = 16
    stride: int = 2
    whole: bool = False

    def __post_init__(self) -> None:
        if self.num_frames < 1 or self.stride < 1:
            raise ValueError(f"ViewSpec needs num_frames >= 1 and stride >= 1, got {self}")

    def span(self, num_video_frames: int) -> int:
        """Source frames covered by the view."""
        return num_video_frames if self.whole else (self.num_frames - 1) * self.stride + 1


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
        offset = rng.random(view.num_frames) if rng is not None else 0.5
        idx = np.floor((np.arange(view.num_frames) + offset) * n / view.num_frames).astype(np.int64)
        return np.minimum(idx, n - 1)
    idx = start + np.arange(view.num_frames, dtype=np.int64) * view.stride
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
        starts = [int(np.clip(round(centre - s / 2), 0, r)) for s, r in zip(spans, room)]
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


def eval_windows(num_video_frames: int, view: ViewSpec, num_clips: int, short: str = "loop") -> list[np.ndarray]:
    """``num_clips`` windows of ``view`` spaced evenly over the video (for clip-average eval)."""
    n = num_video_frames
    room = max(0, n - view.span(n))
    if view.whole:
        return [window_indices(0, view, n, short)]
    starts = np.linspace(0, room, num_clips).round().astype(int) if num_clips > 1 else [room // 2]
    return [window_indices(int(s), view, n, short) for s in starts]
