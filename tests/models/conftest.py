"""Model tests run single-threaded: the tensors are tiny, so a second thread buys nothing, and
on a busy shared machine OpenMP barriers between two threads made steps 3-20x slower."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
