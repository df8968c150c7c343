"""Video data: decoding, dataset indices, temporal sampling, augmentation, caching, the
synthetic benchmark."""
from __future__ import annotations

import os
from pathlib import Path

from .augment import AugmentConfig
from .cache import DecodeSource, FrameCache, FrameSource, ProbeStore
from .check import CheckReport, FileCheck, check_dataset, check_file, check_records
from .dataset import ContrastiveVideoDataset, augment_batch, collate_views
from .decode import VideoDecodeError, VideoInfo, probe_video, read_frames
from .index import VideoIndex, VideoRecord, detect_format, load_index
from .views import ClipTooShort, SamplingConfig, ViewLayout, ViewSpec
from .samplers import EpochSampler
from .temporal_augment import TemporalAugmentConfig, TemporalParams
from .tracks import load_camera_tracks


def make_source(root: str, short_side: int, cache: bool = True, cache_dir: str = "",
                backend: str = "auto") -> FrameSource:
    """A :class:`FrameCache` under ``cache_dir`` (default ``$VCL_CACHE`` or
    ``<root>/.vcl_cache``) when ``cache`` is set and the directory is writable, else a
    :class:`DecodeSource`, which still uses the probes ``vcl check-data`` recorded there."""
    d = Path(cache_dir or os.environ.get("VCL_CACHE", "") or Path(root) / ".vcl_cache")
    if cache:
        try:
            d.mkdir(parents=True, exist_ok=True)
            if os.access(d, os.W_OK):
                return FrameCache(d, short_side, backend)
        except OSError:
            pass
        print(f"warning: frame cache directory {d} is not writable; decoding on the fly "
              "(set data.cache_dir or VCL_CACHE)")
    probes = d / FrameCache.PROBES
    return DecodeSource(short_side, backend, probe_dir=probes if probes.is_dir() else None)


__all__ = ["AugmentConfig", "DecodeSource", "FrameCache", "FrameSource", "ProbeStore", "ContrastiveVideoDataset",
           "SamplingConfig", "augment_batch", "collate_views", "VideoDecodeError", "VideoInfo",
           "probe_video", "read_frames", "VideoIndex", "VideoRecord", "detect_format", "load_index",
           "ClipTooShort", "ViewLayout", "ViewSpec", "EpochSampler", "make_source", "TemporalAugmentConfig", "TemporalParams",
           "load_camera_tracks", "CheckReport", "FileCheck", "check_dataset", "check_file", "check_records"]
