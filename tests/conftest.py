"""Shared fixtures: the tiny synthetic benchmark, written once per test session."""
from __future__ import annotations

import av  # noqa: F401  (before decord, see vcl_core.data.decode)
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
# the repository's machinery (tools/paper.py: runs notebooks, rewrites README blocks) is not in the package
sys.path.insert(0, str(Path(__file__).parent.parent / "tools"))
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory) -> Path:
    """The ``tiny`` synthetic benchmark (96 videos at 32 x 32), generated once, encoded
    losslessly: it decodes to the rendered frames exactly, so tests can compare decoded pixels
    with what was drawn."""
    from dataclasses import replace

    from vcl_core.data.synthetic import generate, preset

    root = tmp_path_factory.mktemp("tiny_bench")
    generate(root, replace(preset("tiny"), crf=0), seed=0, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_overrides(tmp_path_factory) -> list[str]:
    """Config overrides that make a pretraining run take seconds on the tiny benchmark."""
    cache = tmp_path_factory.mktemp("cache")
    return ["train.steps=6", "train.batch_size=8", "data.workers=0", "train.log_every=1",
            f"data.cache_dir={cache}", "model.widths=[8,16,32]"]
