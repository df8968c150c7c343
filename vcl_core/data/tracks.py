"""Recorded per-frame camera tracks, for the camera-motion pretext task on real labels.

The synthetic benchmark (:mod:`vcl_core.data.synthetic`) writes each frame's camera offset
(``cam_x``, ``cam_y``, in pixels) to ``frames.csv``. :func:`load_camera_tracks` turns that file
into one ``(N, 2)`` array per video in fractions of the frame size, the unit the injected
camera motion of :mod:`vcl_core.data.perturb` uses, so both labels can be compared or summed.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np


def load_camera_tracks(root: str | Path) -> dict[str, np.ndarray]:
    """Per-video camera offsets from ``<root>/frames.csv``: ``video_id -> float (N, 2)``
    ``(x, y)`` in fractions of the frame (x right, y down; positive = camera moved right/down).

    The frame size comes from ``<root>/benchmark.json`` (``config.size``).

    Raises:
        FileNotFoundError: ``frames.csv`` or ``benchmark.json`` is missing (only the synthetic
            benchmark records camera tracks; pass ``camera_tracks=None`` for other data).
    """
    root = Path(root)
    frames, meta = root / "frames.csv", root / "benchmark.json"
    for f in (frames, meta):
        if not f.is_file():
            raise FileNotFoundError(f"{f} not found: camera tracks come with the synthetic benchmark "
                                    "(`vcl synth --out DIR`); other datasets have none")
    size = float(json.loads(meta.read_text())["config"]["size"])
    rows: dict[str, list[tuple[int, float, float]]] = {}
    with open(frames, newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["video_id"], []).append((int(r["frame"]), float(r["cam_x"]), float(r["cam_y"])))
    tracks = {}
    for vid, items in rows.items():
        items.sort()
        tracks[vid] = np.array([(x, y) for _, x, y in items], dtype=np.float64) / size
    return tracks


def recorded_camera_label(track: np.ndarray | None, indices: np.ndarray) -> np.ndarray:
    """Net camera velocity per clip frame, float32 ``(2,)``, seen by a clip of frames
    ``indices`` (in clip order, so a reversed clip gets the opposite sign); NaN when there is
    no track or the track is shorter than the video."""
    indices = np.asarray(indices)
    if track is None or len(indices) < 2 or indices.max() >= len(track):
        return np.full(2, np.nan, dtype=np.float32)
    return ((track[indices[-1]] - track[indices[0]]) / (len(indices) - 1)).astype(np.float32)
