"""Encoders and heads: the fast/slow network, fusion, temporal pooling, memory, projection heads.

Every module here depends on torch only (and on its siblings), so it can be copied out.
"""
from .blocks import DropPath, FrameNorm, make_norm
from .efficiency import maybe_compile
from .fastslow import (R3D18, FastSlowConfig, FastSlowEncoder, create_fast_slow, fast_slow_r3d18,
                       fast_slow_r3d18_config, frame_differences, standardize)
from .fusion import AttentionPool, CrossAttention, Fusion, MeanPool, SegmentPool, TemporalProfilePool, pool_width
from .heads import PredictorHead, ProjectionHead, mlp
from .clip_memory import ClipMemory, ClipMemoryConfig
from .multiscale import MultiScaleEncoder
from .summary import ModelSummary, summary, training_speed

__all__ = ["FastSlowConfig", "FastSlowEncoder", "create_fast_slow", "fast_slow_r3d18", "fast_slow_r3d18_config",
           "R3D18", "frame_differences", "standardize", "AttentionPool", "MeanPool", "SegmentPool", "TemporalProfilePool", "pool_width",
           "CrossAttention", "Fusion", "ProjectionHead", "PredictorHead",
           "mlp", "ClipMemory", "ClipMemoryConfig", "MultiScaleEncoder",
           "maybe_compile", "summary", "training_speed", "ModelSummary", "FrameNorm", "DropPath", "make_norm"]
