"""Benchmark the fast/slow encoder variants: size, FLOPs, training speed, memory, MFU.

For each variant (slow-only, fast-only, concat, gate, xattn, 2plus1d) it reports

* parameters and forward GFLOPs per clip (``vcl_core.models.summary``, i.e. PyTorch's
  ``FlopCounterMode``; a multiply-add counts 2),
* training step time: forward + backward + AdamW step on a batch of random clips, loss =
  mean squared embedding (the loss itself is negligible), median of the timed steps after one
  warm-up step,
* peak memory of training without and with activation checkpointing, each configuration in a
  fresh subprocess, two ways on CPU:
  - ``mem MB``: peak tensor memory of one training step from PyTorch's memory profiler
    (``torch.profiler`` with ``profile_memory=True``, its memory timeline), as the increase
    over the tensors alive before the step (parameters, AdamW state, the batch). This is what
    checkpointing changes: saved activations and their gradients.
  - ``RSS MB``: increase of the peak resident set size over the RSS after model, optimizer
    and batch are built (Linux: the peak is reset through ``/proc/self/clear_refs`` and read
    from ``VmHWM``; elsewhere ``ru_maxrss``). It also holds one-off costs of the first step
    (oneDNN kernels and scratch, allocator arenas) and memory the allocator keeps, so it
    moves less than the tensor peak.
  On CUDA: ``torch.cuda.max_memory_allocated`` over the allocation before the step.
* timing: with one CPU thread (the default) the CPU time of the process (``time.process_time``),
  which other processes on a shared machine cannot inflate; otherwise wall-clock time.
* model FLOPs utilisation (MFU): achieved FLOP/s, counting a training step as 3x the forward
  FLOPs, divided by the FLOP/s of a large matmul timed on the same machine and precision. Both
  use the best of the timed repetitions, so MFU is robust to other load on a shared machine;
  ``step ms`` is the median,

and, for the default (concat) model, how step time grows with clip length (T = 8 .. 64).

Usage::

    python bench/encoder.py                 # CPU default, writes bench/results/encoder.json
    python bench/encoder.py --quick         # seconds, for a smoke check
    python bench/encoder.py --device cuda --precision bf16 --r3d18 --out bench/results/encoder_gpu.json

This is a script, not a test: timings depend on the machine and its load (recorded in the JSON).
By default it uses one thread (``--threads``), so the CPU numbers are per core.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vcl_core.models import FastSlowConfig, FastSlowEncoder, fast_slow_r3d18_config, summary  # noqa: E402

VARIANTS = {
    "slow-only": dict(pathways="slow"),
    "fast-only": dict(pathways="fast"),
    "concat": dict(fusion="concat"),
    "gate": dict(fusion="gate"),
    "xattn": dict(fusion="xattn"),
    "2plus1d": dict(block="2plus1d"),
}
CPU_WIDTHS = (16, 32, 64)


def make_config(variant: str, r3d18: bool, checkpoint: bool) -> FastSlowConfig:
    over = dict(VARIANTS[variant], checkpoint=checkpoint)
    if r3d18:
        return fast_slow_r3d18_config(**over)
    return FastSlowConfig(widths=CPU_WIDTHS, **over)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def autocast(device: str, precision: str):
    return torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16")


def clock_for(device: str, threads: int):
    """The timer: CPU time of this process for single-threaded CPU runs (other processes on a
    shared machine then cannot inflate it), wall-clock time otherwise."""
    return time.process_time if device == "cpu" and threads == 1 else time.perf_counter


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_peak(device: str, precision: str, n: int, reps: int, clock=time.perf_counter) -> float:
    """FLOP/s of an ``n x n`` matmul in the benchmark's precision (best of ``reps``)."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(reps):
        t = clock()
        a @ b
        sync(device)
        best = min(best, clock() - t)
    return 2 * n ** 3 / best


def _status_mb(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def reset_peak_rss() -> tuple[float, str]:
    """Current RSS (MB) and the peak-RSS method; resets the kernel's peak (VmHWM) where possible,
    so the peak measured next belongs to the training step, not to importing torch."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mb("VmRSS"), "VmHWM"
    except OSError:  # not Linux, or not allowed: the high-water mark since process start
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ru_maxrss"


def peak_rss_mb(method: str) -> float:
    if method == "VmHWM":
        return _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def profiled_peak_mb(step) -> tuple[float, float]:
    """Peak and starting tensor memory (MB) of one call of ``step`` from the CPU memory profiler."""
    from torch.profiler import profile
    from torch.profiler._memory_profiler import MemoryProfileTimeline  # the profiler's own timeline

    with profile(profile_memory=True, record_shapes=True, with_stack=True) as prof:
        step()
    _, sizes = MemoryProfileTimeline(prof._memory_profile())._coalesce_timeline("cpu")
    totals = [sum(s) for s in sizes]
    return max(totals) / 2 ** 20, totals[0] / 2 ** 20


def train_steps(cfg: FastSlowConfig, args: argparse.Namespace, frames: int, steps: int,
                memory: bool = False) -> dict:
    """Build the model, time ``steps`` training steps after one warm-up and, with ``memory``,
    measure the peak memory of training (see the module docstring)."""
    torch.manual_seed(0)
    model = FastSlowEncoder(cfg).to(args.device).train()
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(args.batch, 3, frames, args.size, args.size, device=args.device)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    sync(args.device)
    base, rss_method = reset_peak_rss()
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base_cuda = torch.cuda.memory_allocated() / 2 ** 20

    def step() -> None:
        with autocast(args.device, args.precision):
            loss = model(x).float().square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(args.device)

    clock = clock_for(args.device, args.threads)
    times = []
    for i in range(steps + 1):
        t = clock()
        step()
        if i:
            times.append(clock() - t)
    out = {"step_s": statistics.median(times), "best_step_s": min(times), "step_s_all": times}
    if not memory:
        return out
    if args.device == "cuda":
        out["peak_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
        out["peak_increase_mb"] = out["peak_mb"] - base_cuda
    else:
        out["rss_peak_mb"] = peak_rss_mb(rss_method)
        out["rss_increase_mb"] = out["rss_peak_mb"] - base
        out["rss_method"] = rss_method
        try:
            peak, start = profiled_peak_mb(step)
            out["peak_mb"], out["peak_increase_mb"] = peak, peak - start
        except Exception as err:  # noqa: BLE001 - private profiler API; say so and keep the RSS numbers
            print(f"memory profiler unavailable ({type(err).__name__}: {err}); mem MB left empty", file=sys.stderr)
            out["peak_mb"] = out["peak_increase_mb"] = None
    return out


def worker(spec: str) -> None:
    """Run one configuration (called in a fresh subprocess) and print its JSON on the last line."""
    job = json.loads(spec)
    args = argparse.Namespace(**job["args"])
    torch.set_num_threads(args.threads)
    cfg = make_config(job["variant"], args.r3d18, job["checkpoint"])
    res = train_steps(cfg, args, args.frames, args.steps, memory=True)
    print(json.dumps(res))


def run_worker(variant: str, checkpoint: bool, args: argparse.Namespace) -> dict:
    spec = json.dumps({"variant": variant, "checkpoint": checkpoint, "args": vars(args)})
    proc = subprocess.run([sys.executable, __file__, "--worker", spec], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} (checkpoint={checkpoint}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def flops_per_clip(cfg: FastSlowConfig, args: argparse.Namespace, frames: int) -> tuple[int, float]:
    model = FastSlowEncoder(cfg)
    s = summary(model, (1, 3, frames, args.size, args.size))
    return s.total_params, s.flops_per_sample


def mb(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}"


def fmt_table(header: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([line(cells[0]), "-" * len(line(cells[0]))] + [line(r) for r in cells[1:]])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny batch and few steps: a smoke check in seconds")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16 = torch.autocast")
    p.add_argument("--r3d18", action="store_true", help="R3D-18-sized pathways (for GPUs)")
    p.add_argument("--batch", type=int, default=None, help="clips per step (default 32; --quick 8)")
    p.add_argument("--frames", type=int, default=16, help="T of the variant runs")
    p.add_argument("--size", type=int, default=None, help="H = W (default 32; 112 with --r3d18)")
    p.add_argument("--steps", type=int, default=None, help="timed steps after one warm-up (default 5; --quick 2)")
    p.add_argument("--lengths", default=None, help="clip lengths of the T sweep (default 8,16,32,64; --quick 8,16)")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads (default 1: per-core numbers that other load on a shared machine "
                        "cannot distort; with 2 threads on a busy 2-core box steps were 3-20x slower and erratic)")
    p.add_argument("--channels-last", action="store_true", help="run in channels_last_3d memory format")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "encoder.json"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False")
    args.batch = args.batch or (8 if args.quick else 32)
    args.size = args.size or (112 if args.r3d18 else 32)
    args.steps = args.steps or (2 if args.quick else 5)
    lengths = [int(t) for t in (args.lengths or ("8,16" if args.quick else "8,16,32,64")).split(",")]
    torch.set_num_threads(args.threads)
    t_start = time.time()
    load_start = os.getloadavg()

    n = 1024 if args.quick else (8192 if args.device == "cuda" else 2048)
    clock = clock_for(args.device, args.threads)
    peak = matmul_peak(args.device, args.precision, n, reps=3 if args.quick else 10, clock=clock)
    print(f"matmul peak ({n}x{n}, {args.precision}, {args.device}, {args.threads} threads): {peak / 1e9:.1f} GFLOP/s")

    variants = []
    for name in VARIANTS:
        params, fpc = flops_per_clip(make_config(name, args.r3d18, False), args, args.frames)
        plain, ckpt = run_worker(name, False, args), run_worker(name, True, args)
        achieved = 3 * fpc * args.batch / plain["best_step_s"]
        row = {"variant": name, "params": params, "gflops_per_clip": fpc / 1e9,
               "clips_per_s": args.batch / plain["step_s"], "achieved_gflops_per_s": achieved / 1e9,
               "mfu": achieved / peak}
        row.update(plain)
        row.update({f"ckpt_{k}": v for k, v in ckpt.items()})
        variants.append(row)
        print(f"  {name}: {plain['step_s'] * 1e3:.0f} ms/step", flush=True)

    sweep = []
    cfg = make_config("concat", args.r3d18, False)
    for t in lengths:
        _, fpc = flops_per_clip(cfg, args, t)
        res = train_steps(cfg, args, t, args.steps)
        sweep.append({"frames": t, "gflops_per_clip": fpc / 1e9, **res,
                      "mfu": 3 * fpc * args.batch / res["best_step_s"] / peak})
    for row in sweep:
        row["step_vs_first"] = row["best_step_s"] / sweep[0]["best_step_s"]

    cuda = args.device == "cuda"
    mem = ("CUDA max_memory_allocated" if cuda else
           "peak tensor memory from torch.profiler's CPU memory timeline (mem) and peak RSS via "
           "/proc/self/status VmHWM after clear_refs (RSS), one fresh subprocess per configuration")
    print(f"\nencoder variants: batch {args.batch} x (3, {args.frames}, {args.size}, {args.size}), "
          f"{'R3D-18 widths' if args.r3d18 else f'widths {CPU_WIDTHS}'}, {args.precision}, {args.device}, "
          f"{args.threads} threads, timer {clock.__name__}; step ms = median, MFU from the best step; "
          f"memory = increase during a training step, without / with activation checkpointing (ckpt)")
    header = ["variant", "params", "GFLOPs/clip", "step ms", "best ms", "clips/s", "MFU %", "mem MB",
              "mem ckpt", "step ms ckpt"] + ([] if cuda else ["RSS MB", "RSS ckpt"])
    print(fmt_table(header, [[v["variant"], f"{v['params']:,}", f"{v['gflops_per_clip']:.3f}",
                              f"{v['step_s'] * 1e3:.0f}", f"{v['best_step_s'] * 1e3:.0f}", f"{v['clips_per_s']:.1f}",
                              f"{100 * v['mfu']:.1f}", mb(v["peak_increase_mb"]),
                              mb(v["ckpt_peak_increase_mb"]), f"{v['ckpt_step_s'] * 1e3:.0f}"]
                             + ([] if cuda else [mb(v["rss_increase_mb"]), mb(v["ckpt_rss_increase_mb"])])
                             for v in variants]))
    print(f"\nstep time vs clip length (concat model, batch {args.batch}, {args.size}x{args.size})")
    print(fmt_table(["T", "GFLOPs/clip", "step ms", "best ms", f"best / T={lengths[0]}", "MFU %"],
                    [[r["frames"], f"{r['gflops_per_clip']:.3f}", f"{r['step_s'] * 1e3:.0f}",
                      f"{r['best_step_s'] * 1e3:.0f}", f"{r['step_vs_first']:.2f}", f"{100 * r['mfu']:.1f}"]
                     for r in sweep]))

    result = {
        "machine": {"device": torch.cuda.get_device_name() if args.device == "cuda" else cpu_name(),
                    "torch": torch.__version__, "python": platform.python_version(),
                    "threads": args.threads, "cpu_count": os.cpu_count(),
                    "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
        "settings": {k: v for k, v in vars(args).items() if k != "worker"} | {"lengths": lengths},
        "memory_method": mem + "; *_increase_mb = peak minus what was allocated before the step "
                               "(model, optimizer state, batch)",
        "timer": ("time.process_time: CPU time of the single benchmark thread, so other processes on a shared "
                  "machine do not inflate it" if clock is time.process_time else
                  "time.perf_counter wall clock" + (" after torch.cuda.synchronize" if cuda else "")),
        "flops_method": "torch.utils.flop_counter.FlopCounterMode, forward, multiply-add = 2 FLOPs; "
                        "training step = 3x forward",
        "matmul_peak_gflops_per_s": peak / 1e9, "matmul_n": n,
        "variants": variants, "clip_length": sweep, "wall_s": time.time() - t_start,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out} ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
