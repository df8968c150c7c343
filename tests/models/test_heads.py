"""Projection and predictor heads."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vcl_core.models import PredictorHead, ProjectionHead, mlp


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_projection_head_shapes_and_depth(layers):
    head = ProjectionHead(40, hidden=32, out_dim=16, layers=layers)
    assert head(torch.randn(5, 40)).shape == (5, 16)
    assert sum(isinstance(m, nn.Linear) for m in head.modules()) == layers


def test_predictor_maps_dim_to_dim():
    assert PredictorHead(16, hidden=8)(torch.randn(4, 16)).shape == (4, 16)


def test_mlp_needs_a_layer():
    with pytest.raises(ValueError):
        mlp(4, 4, 4, layers=0)
