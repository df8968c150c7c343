"""Fixtures of the evaluation tests (helpers live in ``eval_helpers``)."""
from __future__ import annotations

import pytest
import torch

from eval_helpers import TinyConv3d
from vcl_core.data import VideoIndex, load_index, make_source


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run the evaluation tests on one intra-op thread: their tensors are tiny, so thread
    hand-offs cost more than they save, and on a busy 2-core machine two threads spin against
    each other (a caption-decoder step took 20 ms on one thread and 100-500 ms on two).
    Module scope: set before the module-scoped results are computed, restored after, so the
    other test directories keep their thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_encoder() -> TinyConv3d:
    return TinyConv3d()


@pytest.fixture(scope="session")
def tiny_index(tiny_bench) -> VideoIndex:
    return load_index(tiny_bench)


@pytest.fixture(scope="session")
def tiny_source(tiny_bench, tmp_path_factory):
    return make_source(str(tiny_bench), 36, cache=True, cache_dir=str(tmp_path_factory.mktemp("eval_cache")))


@pytest.fixture(scope="session")
def mid_bench(tmp_path_factory):
    """192 videos at 32 x 32 (2 per factor combination, 8 groups): power for the honesty test."""
    from vcl_core.data.synthetic import SynthConfig, generate

    root = tmp_path_factory.mktemp("mid_bench")
    generate(root, SynthConfig(size=32, videos_per_combo=2, num_groups=8), seed=0, progress=False)
    return root
