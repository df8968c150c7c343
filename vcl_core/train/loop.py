"""The pretraining loop on Lightning Fabric.

:func:`pretrain` takes a :class:`~vcl_core.train.config.Config` and a run directory and
leaves there::

    config.yaml            the full config of the run
    metrics.csv            step, epoch, loss, lr, clips/s, data and step time, bad clips
    checkpoints/last.ckpt  model, optimiser, scheduler, step, sampler position, RNG states
    summary.json           status, steps, wall time, bad videos and why

Fabric chooses the device (``accelerator=auto``), runs DDP when ``devices > 1`` and handles
mixed precision. The sampler is a pure function of (seed, epoch, rank), so a run stopped at
any step and resumed with ``resume=True`` sees exactly the batches an uninterrupted run would.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from ..data import ContrastiveVideoDataset, EpochSampler, augment_batch, collate_views, load_index, make_source
from ..data.tracks import load_camera_tracks
from ..progress import progress_bar
from .checkpoint import atomic_save, load_checkpoint, rng_state, set_rng_state
from .config import Config, config_from_dict, run_identity, sampling_config, save_config
from .logging import MetricsLogger
from .syncbn import convert_sync_batchnorm
from .objective import RECIPES, build_objective


def build_train_dataset(cfg: Config, records, label_columns=()) -> ContrastiveVideoDataset:
    d = cfg.data
    sampling = sampling_config(cfg)
    source = make_source(d.root, d.short_side, d.cache, d.cache_dir, d.backend)
    tracks = None
    if cfg.method.aux.get("camera", 0) > 0 and cfg.temporal.camera_p == 0:
        try:
            tracks = load_camera_tracks(d.root)
        except FileNotFoundError as e:
            raise ValueError("method.aux.camera needs camera motion labels: set temporal.camera_p > 0 to inject "
                             "camera motion, or use data with recorded camera tracks (the synthetic benchmark's "
                             f"frames.csv): {e}") from e
    return ContrastiveVideoDataset(records, source, sampling, cfg.augment, seed=cfg.train.seed,
                                   label_columns=label_columns, camera_tracks=tracks,
                                   spatial_on_batch=d.augment_on == "batch")


def _lr_lambda(total: int, warmup: int, min_frac: float):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        p = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * p))
    return f


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weights of conv/linear layers only; none on norms, biases, embeddings
    of positions and learned temperatures (1-d parameters)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name.endswith(".bias") or "pos_" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@dataclass
class RunResult:
    """What :func:`pretrain` returns: the run directory and its summary."""

    out_dir: Path
    summary: dict


def _check_run_dir(out: Path, cfg: Config, resume: bool) -> str:
    """``"fresh"``, ``"resume"`` or ``"complete"``; raises when the directory holds another run."""
    cfg_path, ckpt = out / "config.yaml", out / "checkpoints" / "last.ckpt"
    if not cfg_path.exists():
        return "fresh"
    old = run_identity(config_from_dict(yaml.safe_load(cfg_path.read_text())))
    new = run_identity(cfg)
    if old != new:
        diff = _diff(old, new)
        raise FileExistsError(f"{out} holds a run with a different config ({diff}); "
                              "choose another --out or delete it")
    summary = out / "summary.json"
    if summary.exists() and json.loads(summary.read_text()).get("status") == "complete":
        return "complete"
    if not ckpt.exists():
        return "fresh"
    if not resume:
        raise FileExistsError(f"{out} holds an unfinished run; pass --resume to continue it "
                              "or choose another --out")
    return "resume"


def _diff(a: dict, b: dict, prefix: str = "") -> str:
    out = []
    for k in sorted(set(a) | set(b)):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            d = _diff(a[k], b[k], f"{prefix}{k}.")
            if d:
                out.append(d)
        elif a.get(k) != b.get(k):
            out.append(f"{prefix}{k}: {a.get(k)!r} -> {b.get(k)!r}")
    return ", ".join(out)


def pretrain(cfg: Config, out_dir: str | Path, resume: bool = False, progress: bool = True) -> RunResult:
    """Pretrain ``cfg``'s objective on ``cfg.data.root`` and write the run to ``out_dir``.

    Args:
        cfg: a validated config (``cfg.data.root`` must be set).
        out_dir: run directory (created).
        resume: continue an unfinished run in ``out_dir`` from its last checkpoint.
        progress: show a progress bar.

    Returns:
        :class:`RunResult`; a run that is already complete in ``out_dir`` is returned as is.

    Raises:
        FileExistsError: ``out_dir`` holds another run, or an unfinished one without ``resume``.
        FloatingPointError: the loss became NaN/inf (a checkpoint of the last good step is saved).
    """
    if not cfg.data.root:
        raise ValueError("data.root is empty: pass --data DIR")
    out = Path(out_dir)
    state_kind = _check_run_dir(out, cfg, resume)
    if state_kind == "complete":
        return RunResult(out, json.loads((out / "summary.json").read_text()))
    trainer = Trainer(cfg, out, state_kind, progress)
    with _cpu_bf16_guard(trainer.fabric.device, cfg.train.precision):
        return trainer.fit()


def _cpu_bf16_guard(device, precision: str):
    """bf16 autocast on a CPU without AMX: oneDNN's bf16 Conv3d weight gradient came out
    non-finite (NaN) at the first step of notebook 08's smoke run, both where bf16 is emulated
    (an AVX-512 Xeon without bf16) and where AVX512-BF16 is native but AMX is not (an AMD EPYC;
    PyTorch 2.13.0); PyTorch's own kernels are used for that run instead. With AMX (the Xeon
    the paper's bf16 runs trained on) and elsewhere: no change."""
    if device.type == "cpu" and precision.startswith("bf16") and not torch.cpu._is_amx_tile_supported():
        return torch.backends.mkldnn.flags(enabled=False)
    return contextlib.nullcontext()


class Trainer:
    """One pretraining run, in three parts: :meth:`setup` (devices, data, objective, optimiser,
    resumed state), :meth:`step` (one batch: forward, backward, optimiser step) and :meth:`save`
    (an atomic checkpoint with everything an exact resume needs). :meth:`fit` is the loop that
    :func:`pretrain` runs; a custom loop can call the three parts itself.

    Args:
        cfg: a validated config.
        out: the run directory.
        state_kind: ``"fresh"`` or ``"resume"`` (see :func:`pretrain`).
        progress: show a progress bar.
    """

    def __init__(self, cfg: Config, out: Path, state_kind: str = "fresh", progress: bool = True):
        self.cfg, self.out, self.state_kind, self.progress = cfg, Path(out), state_kind, progress
        self.step_count, self.epoch, self.batch_in_epoch, self.bad_total, self.elapsed_before = 0, 0, 0, 0, 0.0
        self.bad_videos: dict[str, str] = {}
        self.micro = 0
        self.collapse: str | None = None
        self.t0 = time.time()
        self.setup()

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Build everything a run needs, in an order that fixes the random streams: the seed,
        then the data, then the objective's initial weights."""
        from lightning_fabric import Fabric

        cfg, out, t = self.cfg, self.out, self.cfg.train
        if t.threads > 0:
            torch.set_num_threads(t.threads)
        fabric = self.fabric = Fabric(accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
                                      num_nodes=t.num_nodes, precision=t.precision)
        fabric.launch()
        fabric.seed_everything(t.seed, workers=False, verbose=False)
        self.rank0 = fabric.global_rank == 0
        if self.rank0 and self.state_kind == "fresh":
            (out / "checkpoints").mkdir(parents=True, exist_ok=True)
            save_config(cfg, out / "config.yaml")

        index = self.index = load_index(cfg.data.root, cfg.data.format, cfg.data.fold)
        self.records = index.split("train")
        if self.rank0 and index.split_note:
            print(f"note: {index.split_note}")
        needs_labels = getattr(RECIPES.get(cfg.method.name), "needs_labels", False)
        dataset = self.dataset = build_train_dataset(cfg, self.records, index.label_columns if needs_labels else ())
        self.num_classes = {c: len(v) for c, v in dataset.classes.items()}
        if hasattr(dataset.source, "build"):
            if self.rank0:
                stats = dataset.source.build(self.records, workers=min(t_workers(cfg), 4), progress=self.progress)
                if stats["failed"]:
                    print(f"frame cache: {len(stats['failed'])} videos could not be decoded; they will be skipped")
            fabric.barrier()
        self.sampler = EpochSampler(len(dataset), t.batch_size, t.seed, fabric.global_rank, fabric.world_size)
        self.loader = torch.utils.data.DataLoader(
            dataset, batch_size=t.batch_size, sampler=self.sampler, num_workers=cfg.data.workers,
            collate_fn=collate_views, persistent_workers=cfg.data.workers > 0, drop_last=True,
            pin_memory=fabric.device.type == "cuda")
        # not passed through fabric.setup_dataloaders: the sampler already shards by rank, and
        # Fabric's wrapper would reset its position on every epoch (breaking exact resume)

        objective = build_objective(cfg, self.num_classes, num_videos=len(self.records))
        if t.sync_bn and fabric.world_size > 1:
            objective = convert_sync_batchnorm(objective, fabric.device.type)
        if t.channels_last:
            objective = objective.to(memory_format=torch.channels_last_3d)
        if t.compile:  # the encoder only: heads and losses are cheap and change shape between recipes
            from ..models import maybe_compile

            objective.compile_encoder(maybe_compile)
        optimizer = torch.optim.AdamW(param_groups(objective, cfg.optim.weight_decay), lr=cfg.optim.lr)
        warmup = max(1, int(cfg.optim.warmup_frac * t.steps))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(t.steps, warmup, cfg.optim.min_lr_frac))
        self.objective, self.optimizer = fabric.setup(objective, optimizer)
        if self.state_kind == "resume":
            ck = load_checkpoint(out / "checkpoints" / "last.ckpt")
            self.objective.load_state_dict(_with_compiled_names(ck["model"], self.objective.state_dict()))
            self.optimizer.load_state_dict(ck["optimizer"])
            self.scheduler.load_state_dict(ck["scheduler"])
            self.step_count, self.epoch, self.batch_in_epoch = ck["step"], ck["epoch"], ck["batch_in_epoch"]
            self.bad_total, self.bad_videos, self.elapsed_before = ck["bad_total"], ck["bad_videos"], ck["elapsed"]
            set_rng_state(ck["rng"][fabric.global_rank] if isinstance(ck["rng"], list) else ck["rng"])
            if self.rank0:
                print(f"resumed {out} at step {self.step_count} (epoch {self.epoch}, batch {self.batch_in_epoch})")

    # ------------------------------------------------------------------ step
    def step(self, batch: dict) -> dict | None:
        """Forward and backward one (micro-)batch; on the last micro-batch of
        ``optim.accumulate``, clip, step the optimiser and the schedules and return the logs
        (``None`` while gradients are still accumulating)."""
        cfg, fabric, objective = self.cfg, self.fabric, self.objective
        batch["views"] = [fabric.to_device(v) for v in batch["views"]]
        batch = augment_batch(batch)  # data.augment_on=batch: crop, colour, normalise here
        if cfg.train.channels_last:
            batch["views"] = [v.contiguous(memory_format=torch.channels_last_3d) for v in batch["views"]]
        for f in batch["failures"]:
            self.bad_videos[f.split(":", 1)[0]] = f.split(":", 1)[1].strip()
        self.bad_total += len(batch["failures"])
        self.micro += 1
        last_micro = self.micro % cfg.optim.accumulate == 0
        with fabric.no_backward_sync(objective, enabled=not last_micro):
            loss, logs = objective(batch)
            if not torch.isfinite(loss):
                self.fail(f"loss is {float(loss.detach())} at step {self.step_count} (epoch {self.epoch})")
            fabric.backward(loss / cfg.optim.accumulate)
        if not last_micro:
            return None
        grads = [p.grad for p in objective.parameters() if p.grad is not None]
        grad_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
        if not torch.isfinite(grad_norm):  # the weights are still the last good ones: keep them
            self.fail(f"gradients are not finite at step {self.step_count} (epoch {self.epoch}, loss {float(loss):.4g})")
        if cfg.optim.grad_clip > 0:
            fabric.clip_gradients(objective, self.optimizer, max_norm=cfg.optim.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if hasattr(objective, "after_step"):
            objective.after_step(self.step_count, cfg.train.steps)
        self.step_count += 1
        self.batch_in_epoch += 1
        return logs

    # ------------------------------------------------------------------ save
    def save(self, status: str, name: str = "last.ckpt") -> None:
        """An atomic checkpoint: weights, optimiser, scheduler, sampler position, every rank's
        RNG state (so each resumes its own stream), bad-clip counts and wall time."""
        fabric = self.fabric
        if fabric.world_size > 1:
            rngs = [None] * fabric.world_size
            torch.distributed.all_gather_object(rngs, rng_state())
        else:
            rngs = rng_state()
        if self.rank0:
            atomic_save({"model": _plain_names(self.objective.state_dict()), "optimizer": self.optimizer.state_dict(),
                         "scheduler": self.scheduler.state_dict(), "step": self.step_count, "epoch": self.epoch,
                         "batch_in_epoch": self.batch_in_epoch, "bad_total": self.bad_total,
                         "bad_videos": self.bad_videos, "elapsed": self.elapsed_before + time.time() - self.t0,
                         "rng": rngs, "status": status, "config": self.cfg.to_dict(),
                         "num_classes": self.num_classes, "classes": self.dataset.classes},
                        self.out / "checkpoints" / name, keep_previous=name == "last.ckpt")
        fabric.barrier()

    def snapshot(self) -> None:
        """Keep the weights at this step for learning curves (rank 0 writes)."""
        if self.rank0:
            atomic_save({"model": _plain_names(self.objective.state_dict()), "step": self.step_count,
                         "config": self.cfg.to_dict(), "num_classes": self.num_classes,
                         "classes": self.dataset.classes, "status": "snapshot"},
                        self.out / "checkpoints" / snapshot_name(self.step_count))
        self.fabric.barrier()

    def fail(self, what: str) -> None:
        """Stop on a non-finite loss or gradient: the failing state goes to failed.ckpt for
        inspection, last.ckpt keeps the last good state (a NaN forward already corrupted the
        BatchNorm statistics of the weights in memory)."""
        self.save("failed", "failed.ckpt")
        last = self.out / "checkpoints" / "last.ckpt"
        where = f"the last good checkpoint is {last}" if last.exists() else "no earlier checkpoint exists"
        raise FloatingPointError(f"{what}; {where}, the failing state is in {self.out / 'checkpoints' / 'failed.ckpt'}. "
                                 "Lower optim.lr, keep optim.grad_clip > 0, raise method.temperature or use "
                                 "train.precision=32-true.")

    # ------------------------------------------------------------------ the loop
    def fit(self) -> RunResult:
        """Train to ``train.steps`` (or the time budget), logging, snapshotting and saving."""
        cfg, t, fabric = self.cfg, self.cfg.train, self.fabric
        total_steps = t.steps
        logger = MetricsLogger(self.out, self.step_count if self.state_kind == "resume" else None) \
            if self.rank0 else None
        bar = None
        if self.rank0 and self.progress:
            bar = progress_bar(total=total_steps, initial=self.step_count, desc="pretrain", unit="step",
                               dynamic_ncols=True)
        snapshots = set(t.snapshots)
        self.collapse = None
        self.t0 = time.time()
        deadline = self.t0 + t.max_minutes * 60 if t.max_minutes > 0 else float("inf")
        status = "complete"
        clips_per_batch = t.batch_size * self.dataset.sampling.num_views * fabric.world_size
        self.objective.train()
        while self.step_count < total_steps and status == "complete":
            self.sampler.set_position(self.epoch, self.batch_in_epoch * cfg.optim.accumulate)
            tick = time.time()
            self.micro = 0
            for batch in self.loader:
                data_s = time.time() - tick
                logs = self.step(batch)
                if logs is None:
                    continue
                step = self.step_count
                step_s = time.time() - tick
                log_now = step % t.log_every == 0 or step == total_steps
                if log_now and fabric.world_size > 1:  # log the mean over ranks (the global batch's loss)
                    keys = sorted(logs)
                    vals = fabric.all_reduce(torch.tensor([logs[k] for k in keys], dtype=torch.float64),
                                             reduce_op="mean")
                    logs = dict(zip(keys, vals.tolist()))
                if log_now and self.collapse is None and "embedding_std" in logs:
                    self.collapse = collapse_warning(logs, cfg.method.proj_dim, step)
                    if self.collapse and self.rank0:
                        print(f"warning: {self.collapse}")
                if logger is not None and log_now:
                    logger.log({"step": step, "epoch": self.epoch, "lr": self.scheduler.get_last_lr()[0],
                                "clips_per_s": clips_per_batch * cfg.optim.accumulate / step_s,
                                "data_s": data_s, "step_s": step_s, "bad_clips": self.bad_total,
                                "elapsed_s": self.elapsed_before + time.time() - self.t0, **logs})
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{logs['loss']:.3f}", clips_s=f"{clips_per_batch / step_s:.0f}",
                                    epoch=self.epoch, refresh=False)  # redraws follow the bar's own interval
                if step in snapshots:
                    self.snapshot()
                if step == total_steps:
                    break
                if t.ckpt_every and step % t.ckpt_every == 0:
                    self.save("running")
                if time.time() > deadline:
                    status = "budget"
                    break
                tick = time.time()
            else:  # the epoch ran out (not the budget): the next one starts from its first batch
                self.epoch += 1
                self.batch_in_epoch = 0
                self.optimizer.zero_grad(set_to_none=True)  # micro-batches left over by optim.accumulate
            if status == "complete":
                self.save("running" if self.step_count < total_steps else "complete")
        if status == "budget" or (total_steps == 0 and self.state_kind == "fresh"):
            self.save(status)  # steps=0 saves the initialisation: the random-init baseline
        if bar is not None:
            bar.close()
        if logger is not None:
            logger.close()
        return self._finish(status)

    def _finish(self, status: str) -> RunResult:
        fabric, step, total_steps = self.fabric, self.step_count, self.cfg.train.steps
        summary = {"status": status, "steps": step, "total_steps": total_steps, "epochs_done": self.epoch,
                   "wall_s": round(self.elapsed_before + time.time() - self.t0, 1), "bad_clips": self.bad_total,
                   "bad_videos": self.bad_videos, "train_videos": len(self.records), "world_size": fabric.world_size,
                   "device": str(fabric.device), "split_note": self.index.split_note,
                   "collapse_warning": self.collapse}
        if self.rank0:
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
            msg = f"{status}: {step}/{total_steps} steps in {summary['wall_s']:.0f} s"
            if self.bad_total:
                msg += f"; {self.bad_total} clips replaced ({len(self.bad_videos)} unusable videos, see summary.json)"
            if status == "budget":
                msg += "; time budget spent, continue with --resume"
            print(msg)
        return RunResult(self.out, summary)


def snapshot_name(step: int) -> str:
    """File name of the weights kept at ``step`` (``train.snapshots``)."""
    return f"step-{step:06d}.ckpt"


def collapse_warning(logs: dict, dim: int, step: int) -> str | None:
    """A message when the projections look collapsed: per-dimension std of the normalised
    embeddings under ``0.2 / sqrt(dim)`` (uniformly spread ones have ``~1 / sqrt(dim)``,
    SimSiam's diagnostic) or an effective rank under 1.5 (all in one direction)."""
    std, rank = logs.get("embedding_std"), logs.get("effective_rank", float("inf"))
    if std is not None and (std < 0.2 / dim ** 0.5 or rank < 1.5):
        return (f"representation collapse at step {step}: embedding std {std:.4f} (healthy ~{1 / dim ** 0.5:.3f}), "
                f"effective rank {rank:.2f}. Check the temperature, the learning rate, and for negative-free "
                "recipes the predictor and momentum.")
    return None


def _plain_names(state: dict) -> dict:
    """State-dict names without torch.compile's ``_orig_mod.``, so checkpoints load into
    uncompiled models (evaluation, other machines)."""
    return {k.replace("_orig_mod.", ""): v for k, v in state.items()}


def _with_compiled_names(state: dict, target: dict) -> dict:
    """Map plain checkpoint names onto a (possibly compiled) model's names."""
    names = {k.replace("_orig_mod.", ""): k for k in target}
    return {names.get(k, k): v for k, v in state.items()}


def t_workers(cfg: Config) -> int:
    """Processes used to fill the frame cache: the loader's workers, at least one."""
    return max(1, cfg.data.workers)
