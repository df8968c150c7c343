"""Training-step benchmark: where the time of one step goes, and how it scales.

Prints a table and writes ``bench/results/train.json``:

* one process: clips/s, step time split into data / forward / backward / optimizer, peak
  memory, model FLOPs utilisation (3x forward FLOPs per step against a measured float32 matmul
  peak on the same machine), for each precision asked for;
* a reference row measured in the same run: a standard 3D ResNet-18 (R3D-18, Tran et al. 2018,
  built here from torch alone: torchvision's video models do not load against this torch) trained
  with cross-entropy on clips of the same size, so the fast/slow encoder's MFU can be read against
  what a plain, wide 3D CNN gets from the same machine;
* one vs two processes (DDP, gloo on CPU): clips/s of short ``vcl pretrain`` runs through the
  real CLI and Fabric, read from their ``metrics.csv``.

Usage::

    python bench/train.py --data data/synth-small            # CPU defaults
    python bench/train.py --data data/synth-small --quick    # a fast check
    python bench/train.py --data DIR --device cuda --precision 32-true bf16-mixed --compile
    python bench/train.py --data DIR --device cuda data.augment_on=batch   # augmentation on the GPU

Not a test: numbers depend on the machine; run it on an idle one.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vcl_core.data import EpochSampler, augment_batch, collate_views, load_index  # noqa: E402
from vcl_core.train import build_objective, load_config  # noqa: E402
from vcl_core.train.loop import build_train_dataset, param_groups  # noqa: E402


def matmul_peak(device: str, dtype=torch.float32, sizes: tuple[int, ...] = (1024, 2048, 3072), reps: int = 5,
                trials: int = 3) -> float:
    """Measured FLOP/s of large matmuls: the machine's practical peak for dense math (the best
    of a few sizes and trials, so a slow moment of a shared machine does not lower it)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        for _ in range(2):
            a @ b
        for _ in range(trials):
            sync(device)
            t = time.perf_counter()
            for _ in range(reps):
                a @ b
            sync(device)
            best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t))
    return best


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class BasicBlock3d(torch.nn.Module):
    """R3D-18's residual block: two 3x3x3 convolutions with BatchNorm, a 1x1x1 projection
    when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        nn = torch.nn
        self.body = nn.Sequential(nn.Conv3d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm3d(cout),
                                  nn.ReLU(inplace=True), nn.Conv3d(cout, cout, 3, 1, 1, bias=False),
                                  nn.BatchNorm3d(cout))
        self.skip = (nn.Identity() if stride == 1 and cin == cout else
                     nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False), nn.BatchNorm3d(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def r3d18(num_classes: int = 101) -> torch.nn.Module:
    """R3D-18 (Tran et al., CVPR 2018): a 3x7x7 stem (spatial stride 2), four stages of two
    basic blocks at 64/128/256/512 channels (stride 2 from the second stage), global average
    pooling and a linear classifier; 33 M parameters."""
    nn = torch.nn
    layers = [nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), nn.BatchNorm3d(64), nn.ReLU(inplace=True)]
    cin = 64
    for i, cout in enumerate((64, 128, 256, 512)):
        layers += [BasicBlock3d(cin, cout, 1 if i == 0 else 2), BasicBlock3d(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def reference_timing(batch: int, frames: int, size: int, steps: int, device: str, precision: str) -> dict:
    """Train-step MFU of R3D-18 on random clips ``(batch, 3, frames, size, size)`` (data excluded)."""
    model = r3d18().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    amp = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    x = torch.randn(batch, 3, frames, size, size, device=device)
    y = torch.randint(0, 101, (batch,), device=device)
    with FlopCounterMode(display=False) as fc, torch.autocast(device.split(":")[0], dtype=amp, enabled=amp is not None):
        torch.nn.functional.cross_entropy(model(x), y)
    flops = fc.get_total_flops()
    times = []
    for step in range(steps + 2):
        sync(device)
        t = time.perf_counter()
        with torch.autocast(device.split(":")[0], dtype=amp, enabled=amp is not None):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        if step >= 2:
            times.append(time.perf_counter() - t)
    step_s = float(np.median(times))
    peak = matmul_peak(device, torch.bfloat16 if amp is torch.bfloat16 and device.startswith("cuda") else torch.float32)
    return {"model": "R3D-18", "precision": precision, "clips": batch, "input": [3, frames, size, size],
            "clips_per_s": batch / step_s, "step_s": step_s, "train_gflops_per_step": 3 * flops / 1e9,
            "mfu": 3 * flops / step_s / peak, "matmul_peak_gflops": peak / 1e9}


def split_timing(cfg, steps: int, device: str, precision: str, compile_model: bool) -> dict:
    """Time ``steps`` training steps phase by phase in this process."""
    index = load_index(cfg.data.root)
    records = index.split("train")
    ds = build_train_dataset(cfg, records)
    if hasattr(ds.source, "build"):
        ds.source.build(records)
    sampler = EpochSampler(len(ds), cfg.train.batch_size, cfg.train.seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.train.batch_size, sampler=sampler,
                                         num_workers=cfg.data.workers, collate_fn=collate_views, drop_last=True)
    obj = build_objective(cfg, num_videos=len(records)).to(device)
    if cfg.train.channels_last:
        obj = obj.to(memory_format=torch.channels_last_3d)
    if compile_model:
        from vcl_core.models import maybe_compile

        obj.encoder = maybe_compile(obj.encoder)
    opt = torch.optim.AdamW(param_groups(obj, cfg.optim.weight_decay), lr=cfg.optim.lr)
    amp = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    times = {"data": [], "forward": [], "backward": [], "optimizer": []}
    flops = None
    it = iter(loader)
    for step in range(steps + 2):  # two warm-up steps are not timed
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            sampler.set_position(sampler.epoch + 1)
            it = iter(loader)
            batch = next(it)
        batch["views"] = [v.to(device) for v in batch["views"]]
        batch = augment_batch(batch)  # data.augment_on=batch: the spatial augmentation, counted as data time
        if cfg.train.channels_last:
            batch["views"] = [v.contiguous(memory_format=torch.channels_last_3d) for v in batch["views"]]
        sync(device)
        t1 = time.perf_counter()
        with torch.autocast(device.split(":")[0], dtype=amp, enabled=amp is not None):
            if flops is None:
                with FlopCounterMode(display=False) as fc:
                    loss, _ = obj(batch)
                flops = fc.get_total_flops()
            else:
                loss, _ = obj(batch)
        sync(device)
        t2 = time.perf_counter()
        loss.backward()
        sync(device)
        t3 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        obj.after_step(step, steps + 2)
        sync(device)
        t4 = time.perf_counter()
        if step >= 2:
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[k].append(v)
    med = {k: float(np.median(v)) for k, v in times.items()}
    step_s = sum(med.values())
    clips = cfg.train.batch_size * ds.sampling.num_views
    peak = matmul_peak(device, torch.bfloat16 if amp is torch.bfloat16 and device.startswith("cuda") else torch.float32)
    mem = (torch.cuda.max_memory_allocated() / 2 ** 20 if device.startswith("cuda")
           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"precision": precision, "compile": compile_model, "clips_per_s": clips / step_s, "step_s": step_s,
            **{f"{k}_s": v for k, v in med.items()}, "train_gflops_per_step": 3 * flops / 1e9,
            "mfu": 3 * flops / step_s / peak, "matmul_peak_gflops": peak / 1e9,
            "peak_memory_mb": mem, "memory_kind": "cuda max allocated" if device.startswith("cuda") else "peak RSS"}


def processes(data: str, devices: int, steps: int, overrides: list[str]) -> dict:
    """Throughput of a real ``vcl pretrain`` run with ``devices`` CPU processes."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "vcl_core.cli", "pretrain", "--data", data, "--out", f"{tmp}/run", "--config",
               "synthetic", "--quiet", f"train.steps={steps}", "train.log_every=1", "train.snapshots=[]", "train.accelerator=cpu",
               f"train.devices={devices}", f"train.threads={max(1, 2 // devices)}"] + overrides
        if devices > 1:
            cmd += ["train.strategy=ddp", "train.sync_bn=true"]
        t = time.time()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.time() - t
        rows = [line.split(",") for line in (Path(tmp) / "run" / "metrics.csv").read_text().splitlines()]
        head = rows[0]
        cps = [float(r[head.index("clips_per_s")]) for r in rows[2:]]  # first step includes start-up
    return {"devices": devices, "clips_per_s": float(np.median(cps)), "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT / "data" / "synth-small"))
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--precision", nargs="+", default=["32-true", "bf16-mixed"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--processes", nargs="+", type=int, default=[1, 2])
    p.add_argument("--quick", action="store_true", help="3 steps, tiny widths, no multi-process runs")
    p.add_argument("--reference-batch", type=int, default=16, help="clips per step of the R3D-18 reference row")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "train.json"))
    p.add_argument("overrides", nargs="*", help="config key=value")
    a = p.parse_args()
    ov = list(a.overrides) + (["model.widths=[8,16,32]", "train.batch_size=8"] if a.quick else [])
    cfg = load_config("synthetic", ov + [f"data.root={a.data}", "data.workers=0"])
    steps = 3 if a.quick else a.steps
    torch.set_num_threads(2 if a.device == "cpu" else torch.get_num_threads())
    rows = [split_timing(cfg, steps, a.device, prec, a.compile) for prec in a.precision]
    print(f"one process on {a.device} ({torch.get_num_threads()} threads), batch {cfg.train.batch_size} videos "
          f"x {rows[0]['clips_per_s'] * rows[0]['step_s'] / cfg.train.batch_size:.0f} views, median of {steps} steps")
    print(f"{'precision':<12}{'clips/s':>9}{'step s':>8}{'data':>7}{'fwd':>7}{'bwd':>7}{'opt':>7}"
          f"{'GFLOP/step':>11}{'MFU %':>7}{'mem MB':>8}")
    for r in rows:
        print(f"{r['precision']:<12}{r['clips_per_s']:9.1f}{r['step_s']:8.3f}{r['data_s']:7.3f}{r['forward_s']:7.3f}"
              f"{r['backward_s']:7.3f}{r['optimizer_s']:7.3f}{r['train_gflops_per_step']:11.2f}"
              f"{100 * r['mfu']:7.1f}{r['peak_memory_mb']:8.0f}")
    print(f"(matmul peak {rows[0]['matmul_peak_gflops']:.1f} GFLOP/s; memory = {rows[0]['memory_kind']})")
    frames, size = cfg.data.long_frames, cfg.augment.crop_size
    refs = [reference_timing(a.reference_batch, frames, size, steps, a.device, prec) for prec in a.precision]
    print(f"\nreference in the same run: R3D-18, batch {a.reference_batch} clips of {frames} x {size} x {size}, "
          "cross-entropy, data excluded")
    for r in refs:
        print(f"{r['precision']:<12}{r['clips_per_s']:9.1f}{r['step_s']:8.3f}{'':>28}{r['train_gflops_per_step']:11.2f}"
              f"{100 * r['mfu']:7.1f}")
    for r, ref in zip(rows, refs):
        ok = r["mfu"] >= 0.5 and r["mfu"] >= ref["mfu"]
        print(f"target ({r['precision']}): recipe MFU >= 50% and >= R3D-18's: {100 * r['mfu']:.1f}% vs "
              f"{100 * ref['mfu']:.1f}%, {'met' if ok else 'NOT met'}")
    procs = []
    if not a.quick and a.device == "cpu":
        procs = [processes(a.data, n, 30, list(a.overrides)) for n in a.processes]
        print("\nprocesses (vcl pretrain, 30 steps, CPU, gloo):")
        for r in procs:
            print(f"  {r['devices']} process(es): {r['clips_per_s']:.1f} clips/s, run wall {r['wall_s']:.0f} s")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"device": a.device, "torch": torch.__version__, "single": rows,
                                       "reference": refs, "processes": procs,
                                       "config_overrides": ov}, indent=2))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
