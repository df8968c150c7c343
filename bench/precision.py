"""Should I train in bf16 on this CPU? float32 against bf16 autocast, per CPU instruction set.

PyTorch's CPU autocast runs bf16 convolutions and matmuls through oneDNN, which is fast only
where the CPU has bf16 instructions (AMX or AVX512-BF16); elsewhere it converts, and a bf16
run is slower than float32. This script times forward + backward of the synthetic config's
encoder (the reference recipe's: the model every run of the paper trains) on random clips
of the training long view, float32 then bf16 autocast, best of ``--reps`` after a warm-up,
each instruction-set cap in a fresh process: ``default`` is the machine as it is;
``AVX512_CORE`` and ``AVX2`` set ``ONEDNN_MAX_CPU_ISA`` so oneDNN uses only those
instructions, which is how the same binary runs on a CPU without AMX/AVX512-BF16
(most laptops) or without AVX-512 at all (oneDNN's kernels only; PyTorch's own are not capped).

Usage::

    python bench/precision.py                       # writes bench/results/precision.json
    python bench/precision.py --isa default --reps 2  # seconds: this machine only

One CPU thread (``--threads``), so the numbers are per core. Timings depend on the machine and
its load (recorded in the JSON); compare rows of one run only.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ISAS = ("default", "AVX512_CORE", "AVX2")


def cpu_flags() -> list[str]:
    """The instruction sets that decide bf16's speed, as /proc/cpuinfo lists them (Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]


def measure(batch: int, reps: int) -> list[dict]:
    """float32 and bf16-autocast clips/s of the synthetic config's encoder in this process."""
    from vcl_core.models import FastSlowEncoder
    from vcl_core.train import load_config

    cfg = load_config("synthetic")
    torch.manual_seed(0)
    enc = FastSlowEncoder(cfg.model).train().to(memory_format=torch.channels_last_3d)
    shape = (batch, 3, cfg.data.long_frames, cfg.augment.crop_size, cfg.augment.crop_size)
    x = torch.randn(*shape).contiguous(memory_format=torch.channels_last_3d)
    rows = []
    for precision in ("32-true", "bf16-mixed"):
        best = float("inf")
        for _ in range(reps + 1):  # the first is the warm-up (oneDNN builds its kernels)
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
                y = enc(x)
            y.float().square().mean().backward()
            best = min(best, time.perf_counter() - t)
        enc.zero_grad(set_to_none=True)
        rows.append({"precision": precision, "clips_per_s": batch / best, "step_s": best})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--isa", nargs="+", default=list(ISAS), help="ONEDNN_MAX_CPU_ISA caps ('default' = none)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--reps", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "precision.json"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.child:
        print(json.dumps(measure(a.batch, a.reps)))
        return
    rows = []
    print(f"{'oneDNN ISA cap':<16}{'precision':<12}{'clips/s':>9}{'bf16 / fp32':>13}")
    for isa in a.isa:
        env = dict(os.environ)
        env.pop("ONEDNN_MAX_CPU_ISA", None)
        if isa != "default":
            env["ONEDNN_MAX_CPU_ISA"] = isa
        cmd = [sys.executable, __file__, "--child", "--batch", str(a.batch), "--reps", str(a.reps),
               "--threads", str(a.threads)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        got = json.loads(out.strip().splitlines()[-1])
        ratio = got[1]["clips_per_s"] / got[0]["clips_per_s"]
        for r in got:
            rows.append({"isa": isa, **r})
            print(f"{isa:<16}{r['precision']:<12}{r['clips_per_s']:9.1f}"
                  f"{(f'{ratio:.2f}x' if r['precision'] == 'bf16-mixed' else ''):>13}")
    info = {"torch": torch.__version__, "threads": a.threads, "batch": a.batch, "reps": a.reps,
            "cpu_flags": cpu_flags(), "rows": rows}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(info, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
