"""Typed configuration: one dataclass per component, YAML presets, ``key=value`` overrides.

A :class:`Config` has sections ``data``, ``augment``, ``model``, ``method``, ``optim``,
``train`` and ``eval``. Presets live in ``vcl_core/train/presets/*.yaml`` and name only what
differs from the dataclass defaults. Overrides use dotted keys (``model.fusion=gate``); values
are parsed as YAML (``3``, ``0.5``, ``true``, ``[16, 32]``). Unknown keys and values of the
wrong type are rejected with a message that names them.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import yaml

from ..data.augment import AugmentConfig
from ..data.views import JITTERS, SamplingConfig, ViewSpec
from ..data.temporal_augment import TemporalAugmentConfig
from ..models.fastslow import FastSlowConfig

PRESET_DIR = Path(__file__).with_name("presets")


#: temporal negatives a key clip can add (see ``objective.temporal_negatives``)
NEGATIVE_KINDS = ("none", "reverse", "rotate_reverse", "shuffle", "both")
#: where ``data.augment_on`` runs the spatial augmentation
AUGMENT_ON = ("loader", "batch")


@dataclass(frozen=True)
class DataConfig:
    """Where videos come from and how training samples are cut.

    Args:
        root: dataset directory (any layout :func:`vcl_core.data.load_index` reads).
        format: index format (``auto`` detects it).
        fold: official split number for UCF101/HMDB51.
        short_side: frames are decoded (and cached) with this short side in pixels.
        num_frames, stride: the clip view (T frames, every ``stride`` source frames).
        num_views: clip views per sample (2 for SimCLR-style pairs).
        long_views: whole-video views per sample (long, sparse views for progression).
        long_frames: frames of each whole-video view.
        long_jitter: where a whole-video view's frames fall during training: ``shared`` (one
            random offset, even spacing, so motion between frames stays readable) or
            ``segment`` (TSN: each frame at random within its segment, uneven spacing, which
            scrambles the motion between consecutive frames).
        policy: positive policy of the clip views (``same``, ``cvrl``, ``range``, ``rho``).
            The default ``rho`` starts every clip independently and uniformly: the two clips
            of a pair usually come from different moments, so what they share is what is
            constant over the video (its objects and the direction of their motion).
        intra_negatives: K extra windows of the same video, disjoint from the clip views,
            used as negatives (TCLR local-local) and by the order/future auxiliaries.
        min_gap, max_gap: gap limits in source frames (``max_gap`` < 0 means no limit).
        short: videos shorter than a view: ``loop``, ``pad`` or ``skip``.
        cache: decode each video once into a memory-mapped frame cache.
        cache_dir: where the cache lives (default: ``<root>/.vcl_cache``).
        backend: decoder, ``auto`` (decord, PyAV fallback), ``decord`` or ``pyav``.
        workers: DataLoader worker processes.
        augment_on: where the spatial augmentation runs: ``loader`` (in the workers, on each
            sample) or ``batch`` (on the whole collated batch on the training device, after the
            transfer: the workers only decode and cut, the batch travels as uint8; the same
            samples to float rounding). ``batch`` pays off on a GPU; on a CPU it moves the work
            from the workers to the training process (bench/loader.py, bench/train.py).
    """

    root: str = ""
    format: str = "auto"
    fold: int = 1
    short_side: int = 72
    num_frames: int = 8
    stride: int = 2
    num_views: int = 2
    long_views: int = 2
    long_frames: int = 16
    long_jitter: str = "shared"
    policy: str = "rho"
    intra_negatives: int = 0
    min_gap: int = 0
    max_gap: int = -1
    short: str = "loop"
    cache: bool = True
    cache_dir: str = ""
    backend: str = "auto"
    workers: int = 2
    augment_on: str = "loader"


@dataclass(frozen=True)
class MethodConfig:
    """The self-supervised objective (recipes are described in :mod:`vcl_core.train.objective`).

    Args:
        name: ``simclr``, ``cvrl``, ``moco``, ``bank``, ``byol``, ``tclr``, ``vcl`` or ``supervised``.
        temperature: InfoNCE temperature (the start value when scheduled or learned).
        temperature_schedule: ``fixed``, ``warmup`` (linear to ``temperature_end`` over the first
            30% of steps), ``cosine`` (to ``temperature_end`` over the run) or ``learned``.
        temperature_end: final temperature of a schedule.
        temporal_negatives: add every key clip ``reverse``d, ``shuffle``d, ``both``, or
            ``rotate_reverse``d (backwards and turned 180 degrees: the same motion, events in
            reverse order) as extra negatives of the pairs it is the key of (same appearance,
            different temporal structure), or ``none``. With keys from another moment than their
            anchor (``data.policy`` ``rho`` or ``cvrl``), only what is constant over a video *and*
            changed by the transformation separates them: for reversed clips, the direction of
            sub-second motion. ``bank`` adds its query clip's (the first short clip's) to that
            query's negatives.
        long_negatives: the same for the whole-video views. The default ``rotate_reverse`` keeps
            their motion and reverses only the order of the video's phases: the negative that
            teaches progression.
        patch_negatives: with ``g >= 2``, each whole-video view also gets a patch-shuffled copy
            of itself as a negative: its frames cut into a ``g x g`` grid of cells and the cells
            permuted (one permutation per clip, never the identity, the same for every frame, so
            the motion inside a cell is kept). The copy keeps the view's colours, textures,
            lighting and motion and loses its layout, so telling them apart needs the object's
            outline (after the shape-destroying negatives of Ge et al., NeurIPS 2021);
            ``0`` = off.
        negative_grad: back-propagate through the temporal negatives too (costs a backward
            pass per negative; without it they act like MoCo keys).
        fast_contrast: weight of a second InfoNCE on the fast pathway's part of the embedding
            alone (its own projection head, the same pairs and temporal negatives): the motion
            stream must tell videos apart by motion, not by the appearance the slow one sees.
        hard_negative_beta: importance re-weighting of hard negatives (Robinson et al. 2021); 0 = off.
        queue_size: keys per temporal scale in a MoCo queue (``moco``; optional for ``vcl``).
        mask_same_video: queued keys of the anchor's own video are not used as negatives.
        momentum: base EMA momentum of the key/target encoder, raised to 1 by a cosine schedule.
        bank_momentum, bank_negatives: memory bank update momentum and negatives per step (``bank``).
        w_long, w_short: weights of the long-view and short-clip contrastive terms.
        memory: ``none``, ``gru`` or ``transformer``: a memory reads the embeddings of the short
            clips of a video in temporal order (clip views and intra-video windows) and its
            video embedding is contrasted with the long view's (weight ``memory_weight``);
            evaluation then reports it as the ``video_model`` view.
        memory_weight: weight of that term.
        memory_tbptt: truncated back-propagation through the memory (only the last k clips
            get gradients; 0 = full).
        share_scales: one backbone for long views and short clips (``false``: a separate,
            identically shaped backbone for the long views; evaluation routes whole-video views
            to it, so ``data.long_frames`` must differ from ``data.num_frames``).
        global_local: weight of the time-aligned global-local cross-scale term (``tclr``, ``vcl``).
        aux: weights of the predictive auxiliary tasks by name (:mod:`vcl_core.train.tasks`:
            ``order``, ``speed``, ``gap``, ``future``, ``motion``, ``camera``,
            ``pseudo_motion``, ``reconstruct``), e.g. ``method.aux.gap=0.5``; absent or 0 = off. A mapping
            override adds to the default's tasks: the default trains ``pseudo_motion=3`` (the
            synthetic-motion task that makes sub-second motion learnable without labels,
            PAPER section 5); ``method.aux.pseudo_motion=0`` switches it off.
        proj_hidden, proj_dim, proj_layers: projection head MLP.
        pred_hidden: BYOL predictor hidden width.
    """

    name: str = "vcl"
    temperature: float = 0.1
    temperature_schedule: str = "fixed"
    temperature_end: float = 0.1
    temporal_negatives: str = "reverse"
    long_negatives: str = "rotate_reverse"
    patch_negatives: int = 0
    negative_grad: bool = True
    fast_contrast: float = 1.0
    hard_negative_beta: float = 0.0
    queue_size: int = 0
    mask_same_video: bool = True
    momentum: float = 0.99
    bank_momentum: float = 0.5
    bank_negatives: int = 256
    w_long: float = 1.0
    w_short: float = 1.0
    memory: str = "none"
    memory_weight: float = 1.0
    memory_tbptt: int = 0
    share_scales: bool = True
    global_local: float = 0.0
    aux: dict[str, float] = field(default_factory=lambda: {"pseudo_motion": 3.0})
    proj_hidden: int = 256
    proj_dim: int = 128
    proj_layers: int = 2
    pred_hidden: int = 256

    def __post_init__(self):
        # a zero weight is the task switched off: the same config (and run hash) as leaving it out
        object.__setattr__(self, "aux", {k: float(v) for k, v in self.aux.items() if v != 0})


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up and cosine decay.

    Args:
        lr: peak learning rate.
        weight_decay: applied to weights only; norms and biases are excluded.
        warmup_frac: fraction of all steps spent warming up.
        min_lr_frac: final learning rate as a fraction of ``lr``.
        grad_clip: max gradient norm (0 = off).
        accumulate: micro-batches per optimiser step.
    """

    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.01
    grad_clip: float = 1.0
    accumulate: int = 1


@dataclass(frozen=True)
class TrainConfig:
    """The loop around the objective.

    Args:
        steps: optimiser steps of the run: the budget, whatever the dataset's size (a small
            folder is seen more often, not trained less). Learning curves in notebook 01 pick
            the default.
        batch_size: videos per micro-batch per device.
        seed: seeds model init, sampling and augmentation.
        precision: Fabric precision, ``32-true``, ``bf16-mixed`` or ``16-mixed``.
        accelerator, devices, strategy, num_nodes: passed to ``lightning_fabric.Fabric``.
        max_minutes: wall-clock budget; the run checkpoints and stops when it is spent (0 = none).
        log_every: steps between CSV log rows.
        ckpt_every: steps between checkpoints of the run's state (``last.ckpt``; 0 = only at
            epoch ends and at the end).
        snapshots: steps at which a copy of the weights is kept (those after ``steps`` are not
            reached, so a preset's curve points survive a shorter run) as
            ``checkpoints/step-<N>.ckpt`` for learning curves (:func:`~vcl_core.train.runs.evaluate_run`
            evaluates one with ``step=N``).
        channels_last: use the ``channels_last_3d`` memory format (faster 3D convs on CPU).
        compile: ``torch.compile`` the encoder (falls back to eager with a warning where it does
            not work; checkpoints keep plain parameter names).
        sync_bn: synchronise BatchNorm statistics across processes (DDP); with it, ``devices=N``
            at ``batch_size=B`` trains like one process at ``N * B``.
        threads: torch CPU threads (0 = leave torch's default).
    """

    steps: int = 2000
    batch_size: int = 32
    seed: int = 0
    precision: str = "32-true"
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    num_nodes: int = 1
    max_minutes: float = 0.0
    log_every: int = 5
    ckpt_every: int = 0
    snapshots: tuple[int, ...] = ()
    channels_last: bool = True
    sync_bn: bool = False
    compile: bool = False
    threads: int = 0


@dataclass(frozen=True)
class EvalConfig:
    """Frozen-feature evaluation (see :mod:`vcl_core.eval`). These settings do not change what a
    run learns: they are not part of its identity (the run directory's hash, the check that a
    resumed run is the same run), and a cached evaluation is reused only when they match.

    Args:
        num_clips: clips per video for the clip-average protocol.
        whole_frames: frames of the one view that spans the whole video (48: every frame of a
            synthetic video; training's long views read 16 of them, ``data.long_frames``). On
            the default recipe 48 read shape about 10 points higher than 16 (PAPER.md, 5).
        knn_k, knn_t: neighbours and temperature of the weighted kNN classifier.
        probe_epochs: full-batch L-BFGS iterations of the linear probe.
        probe_wd: L2 penalty of the linear probe.
        batch_size: videos per forward pass.
        precise_bn: recompute BatchNorm statistics on each evaluated view of the train split
            before embedding it (:func:`~vcl_core.eval.features.recompute_batchnorm`).
    """

    num_clips: int = 6
    whole_frames: int = 48
    knn_k: int = 10
    knn_t: float = 0.07
    probe_epochs: int = 100
    probe_wd: float = 1e-3
    batch_size: int = 32
    precise_bn: bool = True

    def encoder_kwargs(self) -> dict:
        """These settings as keyword arguments of :func:`vcl_core.eval.evaluate_encoder`."""
        return dict(num_clips=self.num_clips, whole_frames=self.whole_frames, knn_k=self.knn_k, knn_t=self.knn_t,
                    probe_wd=self.probe_wd, probe_iter=self.probe_epochs, batch_size=self.batch_size,
                    precise_bn=self.precise_bn)


@dataclass(frozen=True)
class Config:
    """Everything a pretraining run needs; see the section dataclasses. ``temporal`` is the
    temporal augmentation of the short clip views (whole-video views get none)."""

    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(flip_p=0.0, hue=0.5))
    # a lighting drift on every view: a brightness trend then says nothing about playback direction
    temporal: TemporalAugmentConfig = field(default_factory=lambda: TemporalAugmentConfig(lighting_p=1.0))
    # a fast pathway half as wide as the slow one (SlowFast uses 1/8): at 1/4 the supervised ceiling
    # stalled on one seed of three; the fast pathway works on frame differences at full frame rate
    model: FastSlowConfig = field(default_factory=lambda: FastSlowConfig(widths=(16, 32, 64), beta=0.5))
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return _plain(asdict(self))

    def validate(self) -> Config:
        """Reject combinations that cannot work, naming the keys involved."""
        problems = []
        d, t = self.data, self.train
        if d.num_views < 0 or d.long_views < 0 or d.num_views + d.long_views < 1:
            problems.append(f"data.num_views={d.num_views}, data.long_views={d.long_views}: need at least one view")
        if self.method.name != "supervised" and d.num_views < 2 and d.long_views < 2:
            problems.append(f"method.name={self.method.name} needs two views of one scale "
                            f"(data.num_views={d.num_views}, data.long_views={d.long_views})")
        for key in ("temporal_negatives", "long_negatives"):
            if getattr(self.method, key) not in NEGATIVE_KINDS:
                problems.append(f"method.{key}={getattr(self.method, key)!r}: choose {', '.join(NEGATIVE_KINDS)}")
        if d.augment_on not in AUGMENT_ON:
            problems.append(f"data.augment_on={d.augment_on!r}: choose {' or '.join(AUGMENT_ON)}")
        if d.long_jitter not in JITTERS:
            problems.append(f"data.long_jitter={d.long_jitter!r}: choose {' or '.join(JITTERS)}")
        problems += self._recipe_problems()
        if t.steps < 0 or any(k < 1 for k in t.snapshots):
            problems.append(f"train.steps={t.steps}, train.snapshots={list(t.snapshots)}: steps must be >= 0 and "
                            "every snapshot a step >= 1")
        if t.batch_size < 2:
            problems.append(f"train.batch_size={t.batch_size}: contrastive losses need >= 2 videos per batch")
        if self.augment.crop_size > 4 * d.short_side:
            problems.append(f"augment.crop_size={self.augment.crop_size} is over 4x data.short_side={d.short_side}")
        if self.model.pathways != "fast" and d.num_frames < self.model.alpha:
            problems.append(f"data.num_frames={d.num_frames} < model.alpha={self.model.alpha}: "
                            "the slow pathway would see a single frame")
        if t.precision not in ("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "64-true"):
            problems.append(f"train.precision={t.precision!r} is not a Fabric precision")
        if self.method.temperature <= 0:
            problems.append(f"method.temperature={self.method.temperature} must be > 0")
        if problems:
            raise ValueError("invalid config:\n  " + "\n  ".join(problems))
        return self


    def _recipe_problems(self) -> list[str]:
        """Options that the chosen recipe would ignore, or needs and lacks (no dead flags)."""
        m, d = self.method, self.data
        out = []
        names = ("simclr", "cvrl", "moco", "bank", "byol", "tclr", "vcl", "supervised")
        if m.name not in names:
            return [f"method.name={m.name!r}: choose one of {', '.join(names)}"]
        if m.temperature_schedule not in ("fixed", "warmup", "cosine", "learned"):
            out.append(f"method.temperature_schedule={m.temperature_schedule!r}: choose fixed, warmup, cosine or learned")
        if m.temperature_schedule in ("fixed", "learned") and m.temperature_end != MethodConfig.temperature_end:
            out.append(f"method.temperature_end is only used by a warmup or cosine schedule "
                       f"(method.temperature_schedule={m.temperature_schedule})")
        if m.queue_size < 0 or (m.queue_size > 0 and m.name not in ("moco", "vcl")):
            out.append(f"method.queue_size={m.queue_size} is only used by moco and vcl (method.name={m.name})")
        if m.name == "moco" and m.queue_size <= 0:
            out.append("method.name=moco needs method.queue_size > 0")
        if m.name == "cvrl" and (d.policy != "cvrl" or d.num_views < 2):
            out.append(f"method.name=cvrl needs data.policy=cvrl and data.num_views >= 2 (got {d.policy}, {d.num_views})")
        if m.fast_contrast < 0 or (m.fast_contrast > 0 and (self.model.pathways != "both"
                                                           or m.name in ("byol", "bank", "supervised"))):
            out.append(f"method.fast_contrast={m.fast_contrast} needs both pathways (model.pathways=both) and an "
                       "in-batch contrastive recipe (not byol, bank or supervised)")
        if m.name == "byol" and (m.temporal_negatives != "none" or m.long_negatives != "none" or m.hard_negative_beta or d.intra_negatives
                                 or m.global_local):
            out.append("method.name=byol uses no negatives: method.temporal_negatives, method.long_negatives, "
                       "method.hard_negative_beta, "
                       "method.global_local and data.intra_negatives must stay off")
        if m.patch_negatives and (m.patch_negatives < 2 or d.long_views < 2 or m.name in ("byol", "bank", "supervised")):
            out.append(f"method.patch_negatives={m.patch_negatives}: a grid of >= 2 cells a side, for a recipe that "
                       "contrasts whole-video views (data.long_views >= 2; not byol, bank or supervised)")
        if m.name == "bank" and (d.num_views < 1 and d.long_views < 1):
            out.append("method.name=bank needs a view")
        if m.name == "bank" and d.num_views >= 1 and m.long_negatives != "none":
            out.append("method.name=bank contrasts its first short clip only, so method.long_negatives does "
                       "nothing: set it to none (method.temporal_negatives makes that clip's negatives)")
        if m.name == "bank" and d.num_views < 1 and m.temporal_negatives != "none":
            out.append("method.name=bank without short clips contrasts its first whole-video view only, so "
                       "method.temporal_negatives does nothing: set it to none (method.long_negatives makes "
                       "that view's negatives)")
        if m.name == "tclr" and (d.intra_negatives < 1 or d.long_views < 1 or m.global_local <= 0):
            out.append("method.name=tclr needs data.intra_negatives >= 1, data.long_views >= 1 and "
                       "method.global_local > 0")
        if m.global_local > 0 and (d.long_views < 1 or d.num_views + d.intra_negatives < 1):
            out.append("method.global_local > 0 needs data.long_views >= 1 and a short clip view")
        if not m.share_scales and (d.long_views < 1 or d.num_views + d.intra_negatives < 1
                                   or d.long_frames == d.num_frames or m.name in ("supervised", "moco", "byol")
                                   or m.queue_size > 0):
            out.append("method.share_scales=false needs long and short views of different lengths "
                       "(data.long_views >= 1, data.num_views >= 1, data.long_frames != data.num_frames) "
                       "and a recipe without a momentum encoder")
        clips = d.num_views + d.intra_negatives
        if m.memory not in ("none", "gru", "transformer"):
            out.append(f"method.memory={m.memory!r}: choose none, gru or transformer")
        elif m.memory != "none" and (clips < 2 or d.long_views < 1 or m.name in ("byol", "bank", "supervised")):
            out.append("method.memory needs 2 short clips (data.num_views + data.intra_negatives), a long view "
                       "(data.long_views) and a contrastive recipe (not byol, bank or supervised)")
        elif m.memory == "none" and (m.memory_tbptt or m.memory_weight != MethodConfig.memory_weight):
            out.append("method.memory_tbptt / memory_weight are only used with method.memory=gru|transformer")
        from .tasks import TASKS  # the tasks import the losses; config stays importable without them

        for name, w in m.aux.items():
            if name not in TASKS:
                out.append(f"method.aux.{name}: no such task; choose {', '.join(TASKS)}")
            elif w < 0:
                out.append(f"method.aux.{name}={w}: weights must be >= 0")
            elif w > 0:
                out += TASKS[name].problems(self)
        if m.name == "supervised" and (d.num_views or d.intra_negatives or d.long_views < 1):
            out.append("method.name=supervised trains whole-video labels on whole-video views only: set "
                       "data.num_views=0, data.intra_negatives=0 and data.long_views >= 1")
        if m.name == "supervised" and (m.temporal_negatives != "none" or m.long_negatives != "none" or m.global_local
                                       or m.queue_size or any(m.aux.values())):
            out.append("method.name=supervised trains on labels only: contrastive and auxiliary options must stay off")
        return out


def _plain(x):
    if isinstance(x, tuple):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _coerce(value, tp, key: str):
    """Convert a YAML value to the annotated field type, or raise naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except (TypeError, ValueError):
                continue
        raise TypeError(f"{key}: cannot use {value!r} as {tp}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(args) != len(value):
            raise TypeError(f"{key}: expected {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise TypeError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{key}: expected a mapping, got {value!r}")
        return {_coerce(k, args[0], key): _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise TypeError(f"{key}: expected a string, got {value!r}")
        return str(value)
    return value


def _merge(obj, updates: dict, prefix: str = "", replace_mappings: bool = False):
    """Return a copy of dataclass ``obj`` with nested ``updates`` applied and type-checked.

    A mapping field (``method.aux``) is updated key by key, as a command-line override means
    (``method.aux.gap=0.5`` adds a task to the default's), or with ``replace_mappings`` replaced
    whole, as a config file means (a run's saved ``aux: {}`` is no task at all)."""
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in fields(obj)]
    changes = {}
    for k, v in updates.items():
        key = f"{prefix}{k}"
        if k not in names and prefix == "method." and k.startswith("aux_"):
            raise KeyError(f"{key} is now {prefix}aux.{k[4:]} (the tasks of vcl_core.train.tasks, by name)")
        if k not in names:
            close = difflib.get_close_matches(k, names, n=3)
            hint = f"; did you mean {', '.join(prefix + c for c in close)}?" if close else \
                f"; valid keys: {', '.join(prefix + n for n in names)}"
            raise KeyError(f"unknown config key {key!r}{hint}")
        cur = getattr(obj, k)
        if is_dataclass(cur):
            if not isinstance(v, dict):
                raise TypeError(f"{key}: expected a mapping of its fields, got {v!r}")
            changes[k] = _merge(cur, v, key + ".", replace_mappings)
        elif isinstance(cur, dict) and isinstance(v, dict) and not replace_mappings:  # keys added or replaced
            changes[k] = {**cur, **_coerce(v, hints[k], key)}
        else:
            changes[k] = _coerce(v, hints[k], key)
    try:
        return dataclasses.replace(obj, **changes)
    except ValueError as e:  # a section's own __post_init__ check
        raise ValueError(f"{prefix.rstrip('.') or 'config'}: {e}") from e


#: this repository's additions to the published recipes, off (the presets are the papers' recipes)
_OFF = ["method.temporal_negatives=none", "method.long_negatives=none", "method.fast_contrast=0",
        "method.aux.pseudo_motion=0"]

#: ``method=<name>`` on the command line (or in an overrides list): each published recipe as
#: the settings that make it, within this repository's encoder and views (later overrides win)
RECIPE_PRESETS: dict[str, list[str]] = {
    # in-batch InfoNCE within each temporal scale (Chen et al. 2020)
    "simclr": ["method.name=simclr", *_OFF],
    # two clips at a decreasing-density gap, no whole-video views (Qian et al. 2021)
    "cvrl": ["method.name=cvrl", "data.policy=cvrl", "data.long_views=0", *_OFF],
    # momentum keys and a queue per scale (He et al. 2020; rho-MoCo, Feichtenhofer et al. 2021)
    "moco": ["method.name=moco", "method.queue_size=1024", *_OFF],
    # instance memory bank (Wu et al. 2018)
    "bank": ["method.name=bank", *_OFF],
    # negative-free, predictor and momentum target (Grill et al. 2020)
    "byol": ["method.name=byol", *_OFF],
    # instance + local-local contrast with other windows + global-local alignment (Dave et al. 2022)
    "tclr": ["method.name=tclr", "data.intra_negatives=2", "data.stride=1", "method.global_local=1.0", *_OFF],
    # this repository's default (see the README)
    "vcl": [],
    # cross-entropy on whole-video views: the ceiling
    "supervised": ["method.name=supervised", *_OFF, "data.num_views=0", "data.long_views=1"],
}


def parse_overrides(items: list[str]) -> dict:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": 1}, "c": "x"}`` (values parsed as YAML).

    ``method=<recipe>`` expands, in place, to that recipe's :data:`RECIPE_PRESETS` entry.
    """
    out: dict = {}
    expanded: list[str] = []
    for item in items:
        if item.split("=", 1)[0].strip() == "method" and "=" in item:
            name = item.split("=", 1)[1].strip()
            if name not in RECIPE_PRESETS:
                raise ValueError(f"method={name!r}: choose a recipe preset, one of {', '.join(RECIPE_PRESETS)}")
            expanded += RECIPE_PRESETS[name]
        else:
            expanded.append(item)
    for item in expanded:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else ""
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def list_presets() -> list[str]:
    """Names of the YAML presets shipped with the package."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_config(name_or_path: str | None = None, overrides: list[str] | dict | None = None) -> Config:
    """Build a validated :class:`Config` from a preset name or YAML file plus overrides.

    Args:
        name_or_path: ``None`` (defaults), a preset name (:func:`list_presets`) or a YAML path.
        overrides: ``["section.key=value", ...]`` or a nested dict.

    Raises:
        FileNotFoundError: the preset or file does not exist.
        KeyError: an unknown key (the message suggests close names).
        TypeError, ValueError: a value of the wrong type, or an impossible combination.
    """
    data: dict = {}
    if name_or_path:
        p = Path(name_or_path)
        if not p.suffix and not p.exists():
            p = PRESET_DIR / f"{name_or_path}.yaml"
        if not p.exists():
            raise FileNotFoundError(f"config {name_or_path!r} is neither a YAML file nor a preset "
                                    f"({', '.join(list_presets())})")
        data = yaml.safe_load(p.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{p}: a config file must be a mapping of sections")
    cfg = _merge(Config(), data, replace_mappings=True)  # a file states its mappings whole
    if overrides:
        upd = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        cfg = _merge(cfg, upd)
    return cfg.validate()


def config_from_dict(d: dict) -> Config:
    """Rebuild a :class:`Config` saved with :meth:`Config.to_dict` (e.g. a run's config.yaml)."""
    return _merge(Config(), d, replace_mappings=True).validate()


def run_identity(cfg: Config) -> dict:
    """What makes a run this run: the full config less what does not change what it learns.
    The ``eval`` section (how the run is read), ``train.compile`` (speed only) and
    ``train.max_minutes`` (one invocation's time budget, taken at 0: a run started with one is
    resumed without it) are left out. The run directory's hash and the resumed-run check use it."""
    d = cfg.to_dict()
    d.pop("eval")
    d["train"].pop("compile")
    d["train"]["max_minutes"] = 0.0
    return d


def save_config(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def sampling_config(cfg: Config) -> SamplingConfig:
    """The views of a training sample that ``cfg.data`` describes: ``data.long_views``
    whole-video views, then ``data.num_views`` clip views, then ``data.intra_negatives`` other
    windows. The one translation from the flat config to :class:`~vcl_core.data.SamplingConfig`;
    its :attr:`~vcl_core.data.SamplingConfig.layout` is what the objective reads.
    """
    d, t = cfg.data, cfg.temporal
    # whole-video views share the clips' lighting drift (the only temporal augmentation that
    # makes sense for a view spanning the video): a brightness trend then tells nothing about
    # which way the video plays, and the order of events must be read from the events
    # (and the clips' foreground pasting: the scene must not tell a video's whole views apart either)
    whole = TemporalAugmentConfig(lighting_p=t.lighting_p, lighting_strength=t.lighting_strength,
                                  background_p=t.background_p, foreground_frac=t.foreground_frac)
    views = tuple([ViewSpec(d.long_frames, 1, whole=True, jitter=d.long_jitter, temporal=whole)] * d.long_views
                  + [ViewSpec(d.num_frames, d.stride, temporal=t)] * d.num_views)
    return SamplingConfig(views=views, policy=d.policy, min_gap=d.min_gap,
                          max_gap=None if d.max_gap < 0 else d.max_gap, short=d.short,
                          intra_negatives=d.intra_negatives)
