"""Encoders and heads: the fast/slow network, fusion, temporal pooling, projection heads."""
from .fastslow import FastSlowConfig, FastSlowEncoder, create_fast_slow
from .fusion import AttentionPool, Fusion
from .heads import PredictorHead, ProjectionHead, mlp

__all__ = ["FastSlowConfig", "FastSlowEncoder", "create_fast_slow", "AttentionPool", "Fusion",
           "ProjectionHead", "PredictorHead", "mlp"]
