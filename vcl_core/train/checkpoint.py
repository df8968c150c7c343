"""Atomic checkpoints and the RNG state that makes a resumed run continue exactly.

A checkpoint is written to a temporary file in the same directory and renamed over
``last.ckpt``; the previous ``last.ckpt`` is kept as ``prev.ckpt`` first. A crash at any
moment leaves at least one complete checkpoint, never a truncated one.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch


def rng_state() -> dict:
    """Every RNG the loop touches: Python, NumPy, torch CPU (and CUDA when present)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: dict, path: str | Path, keep_previous: bool = True) -> Path:
    """``torch.save`` to ``path`` via a temporary file and rename; keep the old file as
    ``prev.ckpt`` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    if keep_previous and path.exists():
        os.replace(path, path.with_name("prev.ckpt"))
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint written by :func:`atomic_save`; falls back to ``prev.ckpt`` when the
    latest one is unreadable, and says so."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        prev = path.with_name("prev.ckpt")
        if prev.exists():
            print(f"warning: {path} is unreadable ({e}); using {prev}")
            return torch.load(prev, map_location="cpu", weights_only=False)
        raise RuntimeError(f"checkpoint {path} is unreadable and no prev.ckpt exists: {e}") from e
