"""Temporal sensitivity: does the frozen representation know how fast and in which order
frames play, and how do short-term and long-term factors fare side by side?

playback-speed probe (after PACE, Wang et al. ECCV 2020; SpeedNet, Benaim et al. CVPR 2020)
    from ``C`` evenly spaced moments of every video, clips of ``T`` frames are played at each
    speed ``s`` (every ``s * stride``-th source frame, centred on the same moment). A linear
    probe (the one of :mod:`vcl_core.eval.probes`) trained on the train videos' clips names the
    speed of the test videos' clips; chance is ``1 / len(speeds)``.
frame-order probe (arrow of time, Wei et al. CVPR 2018; VCOP, Xu et al. CVPR 2019)
    the 1x clip forward, reversed, and shuffled (a random permutation that is neither the
    identity nor the reversal); a 3-way linear probe as above; chance 1/3. An encoder whose
    embedding is a function of the set of frames (e.g. a frame average) scores exactly chance.
factors side by side
    the linear-probe accuracy of the dataset's appearance, short-term and long-term label
    columns under every view (``shape``, ``motion`` and ``order`` on the synthetic benchmark),
    copied from the probes protocol so one table shows what each view captures.

Both probes use the clip encoder (a ``video_model`` is not asked) and the clean, unaugmented
centre crop; features of one clip's variants differ only in which frames they see and when.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from ..data import ViewSpec
from ..data.views import eval_windows, window_indices
from ..data.perturb import draw_shuffle, reverse_permutation
from .feature_bank import FeatureBank
from .features import WindowsFn
from .probes import chance_level, fit_linear_probe, knn_top1

ORDER_CLASSES = ("forward", "reversed", "shuffled")
#: role -> label column of the synthetic benchmark reported under "factors"
FACTOR_ROLES = {"appearance": "shape", "short_term": "motion", "long_term": "order"}


@dataclass(frozen=True)
class TemporalConfig:
    """Settings of the temporal-sensitivity block.

    Args:
        clips_per_video: moments per video at which the variants are cut (``C``).
        speeds: playback speeds of the speed probe (integers >= 1, distinct, including 1).
    """

    clips_per_video: int = 2
    speeds: tuple[int, ...] = (1, 2, 4)

    def __post_init__(self) -> None:
        if self.clips_per_video < 1:
            raise ValueError(f"clips_per_video must be >= 1, got {self.clips_per_video}")
        if (len(set(self.speeds)) != len(self.speeds) or 1 not in self.speeds or len(self.speeds) < 2
                or any(int(s) != s or s < 1 for s in self.speeds)):
            raise ValueError(f"speeds must be distinct integers >= 1 including 1, e.g. (1, 2, 4); got {self.speeds}")


def variant_windows(num_video_frames: int, view: ViewSpec, cfg: TemporalConfig,
                    rng: np.random.Generator) -> list[np.ndarray]:
    """Source-frame windows of every probe variant at ``cfg.clips_per_video`` moments.

    Per moment, in this order: forward (1x), reversed, shuffled, then every speed other than 1
    in ``cfg.speeds`` order; all centred on the moment, wrapping past the end of short videos.

    Raises:
        ValueError: ``view.num_frames < 3`` (a shuffle would equal the identity or reversal).
    """
    t = view.num_frames
    if t < 3:
        raise ValueError(f"the frame-order probe needs clips of >= 3 frames, got {t}")
    n, fast = num_video_frames, max(cfg.speeds)
    widest = ViewSpec(t, view.stride * fast)
    out = []
    for w in eval_windows(n, widest, cfg.clips_per_video):
        centre = w[0] + (widest.span(n) - 1) / 2
        at = {}
        for s in cfg.speeds:
            v = ViewSpec(t, view.stride * s)
            at[s] = window_indices(max(0, int(round(centre - (v.span(n) - 1) / 2))), v, n, "loop")
        fwd = at[1]
        perm = draw_shuffle(rng, t)
        while np.array_equal(perm, reverse_permutation(t)):
            perm = draw_shuffle(rng, t)
        out += [fwd, fwd[reverse_permutation(t)], fwd[perm]] + [at[s] for s in cfg.speeds if s != 1]
    return out


def _windows(num_video_frames: int, rng: np.random.Generator, view: ViewSpec, cfg: TemporalConfig) -> list:
    return variant_windows(num_video_frames, view, cfg, rng)


def probe_windows(view: ViewSpec, cfg: TemporalConfig) -> WindowsFn:
    """:func:`variant_windows` as the windows function of a
    :class:`~vcl_core.eval.features.ClipWindowsDataset` (picklable)."""
    return partial(_windows, view=view, cfg=cfg)


def _probe(train: np.ndarray, test: np.ndarray, wd: float, iters: int, knn_k: int, knn_t: float) -> dict:
    """Probe variant features ``(N, C, V, D)``: the label of a sample is its variant index."""
    def flat(x):
        n, c, v, d = x.shape
        return x.reshape(n * c * v, d), np.tile(np.arange(v), n * c)

    xtr, ytr = flat(train)
    xte, yte = flat(test)
    v = train.shape[2]
    return {"linear_top1": fit_linear_probe(xtr, ytr, v, wd, iters).score(xte, yte),
            "knn_top1": knn_top1(xtr, ytr, xte, yte, knn_k, knn_t), "chance": 1.0 / v}


def temporal_block(bank: FeatureBank, cfg: TemporalConfig, views: tuple[str, ...], knn_k: int = 10,
                   knn_t: float = 0.07, factor_roles: dict[str, str] = FACTOR_ROLES) -> dict:
    """The ``temporal`` block of the results schema.

    Args:
        bank: the evaluation's features and probes.
        cfg: clips per video and speeds.
        views: the views whose factor probes are reported.
        knn_k, knn_t: the kNN protocol's settings.
        factor_roles: role -> label column (roles whose column is absent are left out).

    Returns:
        ``{"probes": {"playback_speed", "frame_order"}, "factors": {role: {"label",
        "linear_top1": {view: acc}, "chance"}}, "settings"}``.
    """
    view = ViewSpec(bank.num_frames, bank.stride)
    nv = 3 + len(cfg.speeds) - 1
    windows = probe_windows(view, cfg)
    feats = {}
    for split in ("train", "test"):
        ds = bank.dataset("clip", split, windows=windows, num_windows=cfg.clips_per_video * nv)
        x, ok = bank.encode(ds, "clip")
        feats[split] = x[ok].reshape(int(ok.sum()), cfg.clips_per_video, nv, -1)
    # variant columns of each probe: forward is 1x
    speed_cols = [0 if s == 1 else 3 + [u for u in cfg.speeds if u != 1].index(s) for s in cfg.speeds]
    args = (bank.probe_wd, bank.probe_iter, knn_k, knn_t)
    speed = _probe(feats["train"][:, :, speed_cols], feats["test"][:, :, speed_cols], *args)
    order = _probe(feats["train"][:, :, :3], feats["test"][:, :, :3], *args)
    speed["classes"] = [f"{s}x" for s in cfg.speeds]
    order["classes"] = list(ORDER_CLASSES)
    factors = {}
    for role, col in factor_roles.items():
        per_view, chance = {}, None
        for v in views:
            d = bank.labelled(v, col)
            if d is not None:
                per_view[v] = bank.linear(v, col).score(d.test_x, d.test_y)
                chance = chance_level(d.train_y, d.test_y)
        if per_view:
            factors[role] = {"label": col, "linear_top1": per_view, "chance": chance}
    return {"probes": {"playback_speed": speed, "frame_order": order}, "factors": factors,
            "settings": {"clips_per_video": cfg.clips_per_video, "speeds": list(cfg.speeds),
                         "num_frames": bank.num_frames, "stride": bank.stride,
                         "train_videos": len(feats["train"]), "test_videos": len(feats["test"])}}
