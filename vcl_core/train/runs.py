"""Loading finished runs and evaluating them: what ``vcl evaluate`` and the notebooks call."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
import yaml

from ..data import load_index, make_source
from ..eval import evaluate_encoder
from .checkpoint import load_checkpoint
from .config import Config, EvalConfig, config_from_dict
from .objective import build_objective


def load_objective(run_dir: str | Path, step: int | None = None) -> tuple[Config, torch.nn.Module]:
    """The config and the whole trained objective (encoder, heads, memory) of a run, at its
    end or at a snapshot ``step`` (``train.snapshots``)."""
    from .loop import snapshot_name

    run = Path(run_dir)
    cfg_path = run / "config.yaml"
    ckpt_path = run / "checkpoints" / ("last.ckpt" if step is None else snapshot_name(step))
    if not cfg_path.exists() or not ckpt_path.exists():
        if step is not None and cfg_path.exists():
            raise FileNotFoundError(f"{run} has no snapshot at step {step}; train it with train.snapshots=[{step}]")
        raise FileNotFoundError(f"{run} is not a run directory (needs config.yaml and checkpoints/last.ckpt); "
                                "create one with `vcl pretrain --out DIR`")
    cfg = config_from_dict(yaml.safe_load(cfg_path.read_text()))
    ck = load_checkpoint(ckpt_path)
    objective = build_objective(cfg, ck.get("num_classes"), num_videos=_bank_size(ck))
    objective.load_state_dict(ck["model"])
    objective.steps_trained = int(ck["step"])
    return cfg, objective.eval()


def _bank_size(ck: dict) -> int:
    bank = ck["model"].get("bank.bank")
    return int(bank.shape[0]) if bank is not None else 0


def load_run(run_dir: str | Path, step: int | None = None) -> tuple[Config, torch.nn.Module]:
    """The config and the trained encoder (eval mode, CPU) of a run directory (at a snapshot
    ``step`` if given).

    Raises:
        FileNotFoundError: the directory has no ``config.yaml`` or no such checkpoint.
    """
    cfg, objective = load_objective(run_dir, step)
    return cfg, objective.evaluation_encoder().eval()


def evaluate_run(run_dir: str | Path, data_root: str | Path | None = None, json_path: str | Path | None = None,
                 device: str | None = None, blocks: tuple[str, ...] | None = None, step: int | None = None,
                 eval_cfg: EvalConfig | None = None) -> dict:
    """Evaluate a run's encoder on ``data_root`` (default: the data it was trained on).

    Args:
        run_dir: a run directory written by :func:`~vcl_core.train.loop.pretrain`.
        data_root: the dataset to evaluate on.
        json_path: write the results there (see :mod:`vcl_core.eval.schema`).
        device: ``cuda`` when available by default.
        blocks: evaluation blocks to run (``None``: every block the labels allow).
        step: evaluate the weights kept at this step (``train.snapshots``) instead of the end.
        eval_cfg: evaluation settings (default: the run's ``eval`` section); they are written
            to the results' ``meta.eval``.
    """
    cfg, objective = load_objective(run_dir, step)
    encoder = objective.evaluation_encoder()
    video_encoder = objective.video_encoder() if hasattr(objective, "video_encoder") else None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    root = str(data_root or cfg.data.root)
    index = load_index(root, "auto" if data_root else cfg.data.format, cfg.data.fold)
    source = make_source(root, cfg.data.short_side, cfg.data.cache, cfg.data.cache_dir if not data_root else "",
                         cfg.data.backend)
    e = eval_cfg or cfg.eval
    res = evaluate_encoder(encoder.to(device), index, source, num_frames=cfg.data.num_frames, stride=cfg.data.stride,
                           crop_size=cfg.augment.crop_size, **e.encoder_kwargs(), device=device, blocks=blocks,
                           video_encoder=video_encoder.to(device) if video_encoder is not None else None)
    res["meta"].update(run_dir=str(run_dir), method=cfg.method.name, data_root=root,
                       step=objective.steps_trained, eval=asdict(e))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(res, indent=2))
    return res
