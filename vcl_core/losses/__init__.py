"""Contrastive and auxiliary losses: pure functions and small modules, torch only.

One small file per idea, each usable on its own (copy it out with at most a sibling):

- :mod:`.infonce` -- InfoNCE, false-negative masks, soft positives;
- :mod:`.hard_negatives` -- hard-negative re-weighting (Robinson et al. 2021) and top-k mining;
- :mod:`.multiscale` -- one InfoNCE term per temporal scale (the recipes' pair loop);
- :mod:`.crossscale` -- TCLR's global-local contrast, with clips anywhere in the long view;
- :mod:`.momentum` -- EMA target encoders and the cosine momentum schedule;
- :mod:`.queue` -- MoCo key queue with video id / time / age, instance memory bank;
- :mod:`.negfree` -- BYOL's loss;
- :mod:`.temperature` -- fixed / scheduled / learned temperature;
- :mod:`.pretext` -- clip order, speed, gap, future feature, motion and camera-motion tasks;
- :mod:`.distributed` -- all-gather with gradients, local-rows-vs-global-columns InfoNCE.
"""
from .crossscale import time_aligned_global_local
from .distributed import distributed_info_nce, gather_with_grad, is_distributed
from .hard_negatives import keep_hardest_negatives, reweight_hard_negatives
from .infonce import contrastive_logits, info_nce, info_nce_from_logits, same_video_mask
from .momentum import MomentumEncoder, cosine_momentum, ema_update
from .multiscale import multiscale_info_nce
from .negfree import byol_loss
from .pretext import (ClipOrderHead, FutureFeatureHead, PretextHead, TemporalGapHead, camera_motion_loss,
                      clip_order_loss, clip_order_permutations, frame_difference_magnitude, future_feature_loss,
                      motion_magnitude_loss, playback_speed_loss, shuffle_clip_order, temporal_gap_loss)
from .queue import KeyQueue, MemoryBank
from .temperature import LearnedTemperature, TemperatureSchedule

__all__ = [
    "info_nce", "info_nce_from_logits", "contrastive_logits", "same_video_mask",
    "reweight_hard_negatives", "keep_hardest_negatives",
    "multiscale_info_nce",
    "time_aligned_global_local",
    "ema_update", "cosine_momentum", "MomentumEncoder",
    "KeyQueue", "MemoryBank",
    "byol_loss",
    "TemperatureSchedule", "LearnedTemperature",
    "PretextHead", "ClipOrderHead", "TemporalGapHead", "FutureFeatureHead", "clip_order_permutations",
    "shuffle_clip_order", "clip_order_loss", "playback_speed_loss", "temporal_gap_loss",
    "frame_difference_magnitude", "motion_magnitude_loss", "camera_motion_loss", "future_feature_loss",
    "gather_with_grad", "distributed_info_nce", "is_distributed",
]
