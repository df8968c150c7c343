"""The embedded synthetic benchmark: real H.264 videos with independent, labelled factors.

Every video shows one object on a textured background, seen by a moving camera. Three
factors are drawn independently and written as label columns of ``labels.csv``:

``shape`` (appearance, 4 classes)
    circle, square, triangle or cross. Readable from any single frame.
``motion`` (short-term, 4 classes)
    the checkerboard texture seen through the object drifts left, right, up or down, whatever
    the object itself does (the object is a window onto a drifting pattern). The texture's
    period is drawn per video (so is the drift speed in pixels per frame), and the texture
    moves by exactly ``drift_periods`` periods over the video. Every frame is a checkerboard
    and the drift covers whole periods, so neither a single frame nor the time-average of the
    frames can tell the four classes apart: only motion can. Frames ``s`` apart are
    ``s * drift_periods / num_frames`` of a period apart, so the direction reads the same at
    every frame spacing below half the video (:func:`max_unaliased_stride`): no stride an
    encoder uses sees the drift aliased.
``order`` (long-term, 6 classes)
    the video has three equal phases, a horizontal swing (``H``), a vertical swing (``V``)
    and an orbit (``O``), played in one of the 3! orders. Every phase starts and ends at the
    object's home position, so every class holds the same primitives and the same footprint:
    only the order separates them, and only a view over the whole video reveals it. The
    orbit turns clockwise or counter-clockwise (drawn per video), so a video played backwards
    is another valid video: the reversed clip is a negative that no single primitive gives away.

Nuisances vary freely per video or per group: object colour, background texture (shared by a
*group*, like the actor/scene groups of UCF101), lighting drift, camera pan and shake, sensor
noise. Per-frame annotations (phase, object position, texture offset, camera offset, brightness)
go to ``frames.csv`` so clip-level labels and the camera-motion task can be derived.

Train and test are split by group (groups never straddle the split), and a few
``(shape, motion)`` combinations are held out of the train groups entirely so probes can
report seen vs unseen combinations (column ``meta_combo_seen``).
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross")
MOTIONS = ("drift_left", "drift_right", "drift_up", "drift_down")
#: unit direction (x, y) on screen of each motion class (y points down)
DRIFT = {"drift_left": (-1, 0), "drift_right": (1, 0), "drift_up": (0, -1), "drift_down": (0, 1)}
PHASES = ("H", "V", "O")
ORDERS = tuple("".join(p) for p in itertools.permutations(PHASES))
LABEL_COLUMNS = ("shape", "motion", "order")


@dataclass(frozen=True)
class SynthConfig:
    """Size of a benchmark instance. Use :func:`preset` for the named ones.

    Args:
        size: frame height and width in pixels.
        num_frames: frames per video; a multiple of 48 keeps the three phases equal and the
            drift a whole number of texture periods.
        fps: frame rate written into the container.
        videos_per_combo: videos for each (shape, motion, order) combination (96 combinations).
        num_groups: scene groups (background + palette); a quarter of them form the test split.
        holdout_combos: number of (shape, motion) pairs that appear only in test groups.
        crf: x264 constant rate factor (lower = better quality, larger files).
        texture_period: range of the checkerboard's period as a fraction of ``size``, drawn
            uniformly per video; the drift speed in pixels per frame scales with it.
        drift_periods: whole texture periods the drift covers over the video. Frames up to
            ``num_frames / (2 * drift_periods) - 1`` apart show the direction unaliased.
    """

    size: int = 64
    num_frames: int = 48
    fps: int = 16
    videos_per_combo: int = 25
    num_groups: int = 16
    holdout_combos: int = 2
    crf: int = 18
    texture_period: tuple[float, float] = (0.22, 0.4)
    drift_periods: int = 1

    def __post_init__(self) -> None:
        if self.num_frames % 48:
            raise ValueError(f"num_frames must be a multiple of 48 (got {self.num_frames}) "
                             "so that phases are equal and the drift completes whole periods")
        if self.num_groups < 4:
            raise ValueError(f"num_groups must be >= 4 (got {self.num_groups}): a quarter are test")
        if self.size < 24:
            raise ValueError(f"size must be >= 24 pixels (got {self.size})")
        lo, hi = self.texture_period
        if not 0.05 <= lo <= hi <= 1.0:
            raise ValueError(f"texture_period must be a range within [0.05, 1] of the frame (got {self.texture_period})")
        if self.drift_periods < 1 or self.num_frames < 4 * self.drift_periods:
            raise ValueError(f"drift_periods must be >= 1 and leave at least 4 frames per period "
                             f"(got {self.drift_periods} over {self.num_frames} frames)")


def max_unaliased_stride(cfg: SynthConfig) -> int:
    """The largest frame spacing at which the drift's direction is unambiguous.

    Frames ``s`` apart show the texture moved by ``s * drift_periods / num_frames`` periods; a
    periodic pattern moved by half a period or more looks as if it moved the other way (or not
    at all), so the direction is readable for every ``s`` below ``num_frames / (2 * drift_periods)``.
    """
    return math.ceil(cfg.num_frames / (2 * cfg.drift_periods)) - 1


PRESETS = {
    "tiny": SynthConfig(size=32, num_frames=48, videos_per_combo=1, num_groups=4, holdout_combos=1),
    "small": SynthConfig(size=64, num_frames=48, videos_per_combo=25, num_groups=16),
    "paper": SynthConfig(size=112, num_frames=96, videos_per_combo=32, num_groups=24),
}


def preset(name: str) -> SynthConfig:
    """Return the named :class:`SynthConfig` (``tiny``, ``small`` or ``paper``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown synthetic preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


def read_drift(frames: np.ndarray, notes: list[dict], spacing: int) -> str:
    """A hand-made reading of a video's drift direction from frames ``spacing`` apart.

    The least-squares translation (Lucas-Kanade) of the pixels well inside the object in both
    frames (the object is a window onto the drifting texture; its centre is in ``notes``, the
    per-frame annotations of :func:`render_video`), averaged over the video and matched to the
    nearest of the four directions. Nothing is learned: it reads what the pixels show, so it
    is at chance exactly where the drift is aliased (see :func:`max_unaliased_stride`).

    Args:
        frames: uint8 ``(T, H, W, 3)``.
        notes: one dict per frame with ``obj_x``, ``obj_y``.
        spacing: frames between the two frames of each pair.
    """
    g = frames.astype(np.float64).mean(-1) / 255.0
    n, size = len(g), g.shape[1]
    yy, xx = np.mgrid[1:size - 1, 1:size - 1]
    inside = [(xx - r["obj_x"]) ** 2 + (yy - r["obj_y"]) ** 2 < (0.15 * size) ** 2 for r in notes]
    flows = []
    for t in range(n - spacing):
        a, b, mask = g[t], g[t + spacing], inside[t] & inside[t + spacing]
        it, m = (b - a)[1:-1, 1:-1], (a + b) / 2
        ix, iy = (m[1:-1, 2:] - m[1:-1, :-2]) / 2, (m[2:, 1:-1] - m[:-2, 1:-1]) / 2
        if mask.sum() >= 4:
            flows.append([-(it * ix)[mask].sum() / max((ix * ix)[mask].sum(), 1e-9),
                          -(it * iy)[mask].sum() / max((iy * iy)[mask].sum(), 1e-9)])
    v = np.mean(flows, axis=0) if flows else np.zeros(2)
    return max(MOTIONS, key=lambda name: float(np.dot(v, DRIFT[name])))


# ----------------------------------------------------------------------------- rendering

def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Inside test for ``shape`` in object coordinates ``(u, v)`` (already rotated)."""
    if shape == "circle":
        return u * u + v * v <= radius * radius
    if shape == "square":
        half = radius * 0.82
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if shape == "triangle":
        # equilateral triangle with circumradius ``radius``, pointing along +u
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            ang = math.radians(120 * k)
            nx, ny = math.cos(ang), math.sin(ang)
            inside &= (u * nx + v * ny) >= -radius * 0.5
        return inside
    if shape == "cross":
        arm, half = radius, radius * 0.38
        return ((np.abs(u) <= arm) & (np.abs(v) <= half)) | ((np.abs(v) <= arm) & (np.abs(u) <= half))
    raise ValueError(f"unknown shape {shape!r}")


class _Renderer:
    """Draws frames with 3x3 supersampling for anti-aliased edges."""

    SS = 3

    def __init__(self, size: int):
        self.size = size
        offs = (np.arange(self.SS) + 0.5) / self.SS - 0.5
        pix = np.arange(size, dtype=np.float32)
        # supersampled pixel centres, shape (size*SS,)
        self.grid = (pix[:, None] + offs[None, :]).reshape(-1).astype(np.float32)

    def background(self, params: dict, cam_x: float, cam_y: float) -> np.ndarray:
        """A smooth texture in world coordinates seen through the camera offset."""
        ys = np.arange(self.size, dtype=np.float32)[:, None] + cam_y
        xs = np.arange(self.size, dtype=np.float32)[None, :] + cam_x
        tex = np.zeros((self.size, self.size), np.float32)
        for fx, fy, ph, amp in params["waves"]:
            tex += amp * np.sin(2 * np.pi * (fx * xs + fy * ys) / self.size + ph)
        tex = (tex - tex.min()) / max(float(np.ptp(tex)), 1e-6)
        c0, c1 = np.asarray(params["colors"][0]), np.asarray(params["colors"][1])
        return (c0[None, None] * (1 - tex[..., None]) + c1[None, None] * tex[..., None]).astype(np.float32)

    def object_alpha(self, shape: str, cx: float, cy: float, angle_deg: float, radius: float,
                     tex_dx: float, tex_dy: float, period: float):
        """Coverage maps ``(body, dark)`` in [0, 1]: the object, and the dark squares of the
        checkerboard seen through it, shifted by ``(tex_dx, tex_dy)`` in screen pixels."""
        s = self.SS
        x = self.grid[None, :] - cx
        y = self.grid[:, None] - cy
        a = math.radians(angle_deg)  # the shape's fixed orientation (a nuisance)
        u = x * math.cos(a) + y * math.sin(a)
        v = -x * math.sin(a) + y * math.cos(a)
        body = _shape_mask(shape, u, v, radius)
        half = period / 2
        gx = self.grid[None, :] - tex_dx
        gy = self.grid[:, None] - tex_dy
        dark = body & ((np.floor(gx / half) + np.floor(gy / half)) % 2 == 1)
        n = self.size

        def down(m):
            return m.reshape(n, s, n, s).mean(axis=(1, 3)).astype(np.float32)

        return down(body), down(dark)


def _phase_offset(phase: str, u: float, amp: float, sign: float, orbit_dir: tuple[float, float],
                  spin: float = 1.0):
    """Offset from home at phase progress ``u`` in [0, 1); zero at both ends of every phase.
    The orbit turns counter-clockwise on screen for ``spin = 1``, clockwise for ``spin = -1``."""
    w = 2 * math.pi * u
    if phase == "H":
        return sign * amp * math.sin(w), 0.0
    if phase == "V":
        return 0.0, sign * amp * math.sin(w)
    # orbit: a circle through the home position
    r = amp * 0.6
    ex, ey = orbit_dir
    w = spin * w  # rotate e by -w: counter-clockwise on screen (y points down) for spin = 1
    rx = ex * math.cos(w) + ey * math.sin(w)
    ry = -ex * math.sin(w) + ey * math.cos(w)
    return r * (rx - ex), r * (ry - ey)


def _group_params(rng: np.random.Generator) -> dict:
    hue = rng.uniform(0, 1)
    base = _hsv(hue, rng.uniform(0.2, 0.6), rng.uniform(0.25, 0.55))
    other = _hsv((hue + rng.uniform(0.15, 0.5)) % 1, rng.uniform(0.2, 0.6), rng.uniform(0.35, 0.7))
    waves = [(rng.uniform(0.5, 3.5) * rng.choice([-1, 1]), rng.uniform(0.5, 3.5) * rng.choice([-1, 1]),
              rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 1.0)) for _ in range(3)]
    return {"colors": [base, other], "waves": waves}


def _hsv(h: float, s: float, v: float) -> list[float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return [255 * r, 255 * g, 255 * b]


def render_video(cfg: SynthConfig, shape: str, motion: str, order: str, group: dict,
                 rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Render one video as uint8 ``(T, H, W, 3)`` plus one annotation dict per frame."""
    n, size = cfg.num_frames, cfg.size
    r = _Renderer(size)
    radius = size * rng.uniform(0.25, 0.29)
    home = size / 2 + rng.uniform(-0.05, 0.05, size=2) * size
    amp = size * rng.uniform(0.15, 0.19)
    signs = {"H": rng.choice([-1.0, 1.0]), "V": rng.choice([-1.0, 1.0])}
    theta = rng.uniform(0, 2 * np.pi)
    orbit_dir = (math.cos(theta), math.sin(theta))
    spin = rng.choice([-1.0, 1.0])
    angle = rng.uniform(0, 360)
    period = size * rng.uniform(*cfg.texture_period)
    speed = period * cfg.drift_periods / n  # whole periods over the video
    drift = DRIFT[motion]
    tex0 = rng.uniform(0, period, size=2)
    obj_color = np.asarray(_hsv(rng.uniform(0, 1), rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0)), np.float32)
    dark_color = obj_color * rng.uniform(0.45, 0.65)
    # camera: a slow pan plus smoothed shake, in pixels
    pan = rng.uniform(-0.1, 0.1, size=2) * size / 64
    shake_amp = rng.uniform(0.0, 0.6) * size / 64
    shake = rng.normal(0, 1, size=(n + 2, 2))
    shake = (shake[:-2] + shake[1:-1] + shake[2:]) / 3 * shake_amp
    light_amp, light_freq, light_phase = rng.uniform(0, 0.25), rng.uniform(0.3, 1.5), rng.uniform(0, 2 * np.pi)
    noise = rng.uniform(0, 4.0)
    phase_len = n // 3

    frames = np.empty((n, size, size, 3), np.uint8)
    notes = []
    for t in range(n):
        k, within = divmod(t, phase_len)
        phase = order[k]
        dx, dy = _phase_offset(phase, within / phase_len, amp, signs.get(phase, 1.0), orbit_dir, spin)
        cam_x, cam_y = pan[0] * t + shake[t, 0], pan[1] * t + shake[t, 1]
        ox, oy = home[0] + dx - cam_x, home[1] + dy - cam_y
        # the texture lives in the world and drifts; the object is a window onto it, so the
        # motion inside the object is the drift (plus camera motion), not the object's own
        tex_x = tex0[0] + drift[0] * speed * t - cam_x
        tex_y = tex0[1] + drift[1] * speed * t - cam_y
        bright = 1.0 + light_amp * math.sin(2 * np.pi * light_freq * t / n + light_phase)
        img = r.background(group, cam_x, cam_y)
        body, dark = r.object_alpha(shape, ox, oy, angle, radius, tex_x, tex_y, period)
        img = img * (1 - body[..., None]) + obj_color * body[..., None]
        img = img * (1 - dark[..., None]) + dark_color * dark[..., None]
        img = img * bright + rng.normal(0, noise, size=img.shape)
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
        notes.append({"frame": t, "phase": phase, "obj_x": round(ox, 3), "obj_y": round(oy, 3),
                      "tex_x": round(tex_x, 3), "tex_y": round(tex_y, 3), "cam_x": round(cam_x, 3), "cam_y": round(cam_y, 3),
                      "brightness": round(bright, 4)})
    return frames, notes


def write_video(path: str | Path, frames: np.ndarray, fps: int, codec: str = "libx264",
                crf: int = 18) -> None:
    """Encode uint8 ``(T, H, W, 3)`` frames with PyAV (H.264 in MP4 by default).

    The files are bit-reproducible: encoding runs single-threaded and without x264's
    macroblock-tree rate control (``mbtree=0``). With it, libx264 as shipped in PyAV's wheels
    encoded the same frames to different bytes in another process for about one file in four
    (decoded pixels ~1-3 levels apart); without it the files are about 1.5x larger and decode
    slightly closer to the rendered frames (mean error 3.7 instead of 3.9 grey levels).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "medium", "threads": "1", "x264-params": "mbtree=0"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _plan(cfg: SynthConfig, seed: int) -> list[dict]:
    """Assign every video its factors, group and split; deterministic in ``seed``."""
    rng = np.random.default_rng([seed, 0])
    combos = [(s, m, o) for s in SHAPES for m in MOTIONS for o in ORDERS]
    n_test_groups = max(1, cfg.num_groups // 4)
    test_groups = set(range(cfg.num_groups - n_test_groups, cfg.num_groups))
    pairs = [(s, m) for s in SHAPES for m in MOTIONS]
    held = {pairs[i] for i in rng.choice(len(pairs), size=cfg.holdout_combos, replace=False)}
    rows = []
    clip_counter: dict[int, int] = {}
    for rep in range(cfg.videos_per_combo):
        for ci in rng.permutation(len(combos)):
            s, m, o = combos[ci]
            if (s, m) in held:
                g = sorted(test_groups)[(rep + ci) % len(test_groups)]
            else:
                g = int(rng.integers(cfg.num_groups))
            c = clip_counter.get(g, 0) + 1
            clip_counter[g] = c
            rows.append({"shape": s, "motion": m, "order": o, "group": g, "clip": c,
                         "split": "test" if g in test_groups else "train",
                         "meta_combo_seen": int((s, m) not in held)})
    return rows


def _render_one(job: tuple) -> list[dict]:
    """Render video ``i`` of the plan and encode it unless its file exists; its frame notes."""
    cfg, row, group, seed, i, target = job
    frames, notes = render_video(cfg, row["shape"], row["motion"], row["order"], group,
                                 np.random.default_rng([seed, 2, i]))
    if not target.exists():
        tmp = target.with_suffix(".tmp.mp4")
        write_video(tmp, frames, cfg.fps, crf=cfg.crf)
        tmp.replace(target)
    return notes


def generate(out: str | Path, cfg: SynthConfig | str = "small", seed: int = 0,
             progress: bool = True, workers: int = 0) -> Path:
    """Write a benchmark instance to ``out`` and return the path of its ``labels.csv``.

    Files written: ``videos/*.mp4``, ``labels.csv`` (path, video_id, group, split, the factor
    columns and ``meta_*`` columns), ``frames.csv`` (per-frame annotations),
    ``splits/trainlist01.txt`` and ``splits/testlist01.txt`` (UCF101-style lists) and
    ``benchmark.json`` (the config and seed). Existing files with the same config and seed are
    kept, so an interrupted run resumes where it stopped.

    Args:
        workers: processes that render and encode videos side by side (0 = one per CPU core).
            Every video draws from its own generator, so the result does not depend on it.
    """
    if isinstance(cfg, str):
        cfg = preset(cfg)
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    meta_path = out / "benchmark.json"
    meta = {"config": _plain(asdict(cfg)), "seed": seed, "label_columns": list(LABEL_COLUMNS)}
    if meta_path.exists() and json.loads(meta_path.read_text()) != meta:
        raise FileExistsError(f"{out} holds a benchmark with another config or seed; "
                              "choose an empty directory or delete it first")
    rows = _plan(cfg, seed)
    done = out / "labels.csv"
    for r in rows:
        r["video_id"] = f"v_synth_g{r['group'] + 1:02d}_c{r['clip']:03d}"
        r["path"] = f"videos/{r['video_id']}.mp4"
    if (meta_path.exists() and done.exists() and (out / "frames.csv").exists()
            and all((out / r["path"]).exists() for r in rows)):
        if progress:
            print(f"{out} already holds this benchmark (config and seed match); nothing to do")
        return done
    meta_path.write_text(json.dumps(meta, indent=2))
    groups = [_group_params(np.random.default_rng([seed, 1, g])) for g in range(cfg.num_groups)]
    jobs = [(cfg, r, groups[r["group"]], seed, i, out / r["path"]) for i, r in enumerate(rows)]
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(workers)
        results = pool.map(_render_one, jobs, chunksize=8)
    else:
        pool, results = None, map(_render_one, jobs)
    if progress:
        from ..progress import progress_bar
        results = progress_bar(results, total=len(rows), desc=f"vcl synth -> {out}", unit="video", mininterval=5)
    frame_rows = []
    try:
        for row, notes in zip(rows, results):
            frame_rows.extend({"video_id": row["video_id"], **n} for n in notes)
    finally:
        if pool is not None:
            pool.shutdown()
    for r in rows:
        r["group"] = f"g{r['group'] + 1:02d}"
    cols = ["path", "video_id", "group", "split", *LABEL_COLUMNS, "meta_combo_seen"]
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    with open(out / "frames.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(frame_rows[0]))
        w.writeheader()
        w.writerows(frame_rows)
    (out / "splits").mkdir(exist_ok=True)
    for split in ("train", "test"):
        with open(out / "splits" / f"{split}list01.txt", "w") as f:
            f.writelines(f"{r['path']}\n" for r in rows if r["split"] == split)
    return out / "labels.csv"


def _plain(x):
    """Tuples as lists, as JSON gives them back (so a stored config compares equal)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return [_plain(v) for v in x] if isinstance(x, (list, tuple)) else x


def with_overrides(cfg: SynthConfig, **kw) -> SynthConfig:
    """Copy of ``cfg`` with fields replaced (validated again)."""
    return replace(cfg, **kw)
