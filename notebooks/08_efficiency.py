# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · Efficiency: negatives, parameter sharing, heads, memory and speed
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/08_efficiency.ipynb)
#
# **Question.** What does each efficiency lever buy on this benchmark? Accuracy against the
# number of negatives (batch size), shared against separate parameters for the two temporal
# scales, bfloat16 against float32 training, light against heavy projection heads (trained
# here), and, from the benchmark
# scripts in `bench/` (run separately; their JSON is committed and plotted here), the memory
# and speed of activation checkpointing and mixed precision, the frame cache, and how cost
# grows with clip length.
#
# **Runtime.** 0.1 min on 2 CPU cores inside `make figures` (1 notebook(s) at a time; runs already
# in `runs/` are loaded, not retrained); its 18 runs trained for 9.5 h (one thread each); about a
# minute with `SMOKE = True`. Generated from `figures/runtimes.json`, which `make figures` writes,
# and the notebook's results.

# %% tags=["parameters"]
# SMOKE = True shrinks everything so CI runs the notebook in about a minute
SMOKE = False
# random seeds per variant (error bars are the std over seeds)
SEEDS = 3
# benchmark directory ("" = $VCL_DATA or ../data/synth-small, generated if missing)
DATA = ""
# where run directories are cached, shared by all notebooks ("" = $VCL_RUNS or ../runs)
RUNS = ""
# where figures and results/*.json go ("" = $VCL_FIGURES or ../figures)
FIGURES = ""

# %%
try:
    import vcl_core  # noqa: F401
except ImportError:  # on Colab: install the package (and its notebook extras) from GitHub
    # %pip install -q "vcl_core[notebooks] @ git+https://github.com/vcl-core/vcl_core"
    pass

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from vcl_core.experiment import METRIC, REFERENCE, notebook_setup, save_results, summarize, verdict
from vcl_core.viz import factor_bars, savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment(base=REFERENCE)  # ablations vary one thing around the reference recipe
BENCH = Path("..") / "bench" / "results"

# %% [markdown]
# ## Where the compute goes, on a toy encoder
# `vcl_core.models.summary` runs the model once and counts parameters and forward FLOPs per
# module. The fast pathway reads `alpha` times more frames than the slow one with `beta` of its
# channels; a convolution's cost grows with input times output channels and with its temporal
# kernel, so a fast stage costs about `alpha * beta**2 * (its temporal kernel / the slow one's)`
# times the slow stage (3 / 1 in the early stages, where the slow pathway looks at single
# frames). Change `beta` and rerun.

# %%
from vcl_core.models import FastSlowConfig, FastSlowEncoder, summary

for beta in (0.25, 0.5):
    s = summary(FastSlowEncoder(FastSlowConfig(widths=(16, 32, 64), beta=beta)), (1, 3, 16, 32, 32), depth=1)
    print(f"beta {beta}: {s.total_params / 1e3:.0f} k parameters, {s.flops_per_sample / 1e6:.0f} MFLOPs per clip")
    print(s)

# %% [markdown]
# ## Shared or separate parameters across scales, and bfloat16, three seeds
# `shared` is the reference recipe: one backbone embeds the whole-video views and the short
# clips. `separate` gives the long views their own, identically shaped backbone (twice the
# parameters, same compute per clip). `bf16 autocast` trains the reference in bfloat16
# mixed precision (`train.precision=bf16-mixed`; 1.36x faster per step on an AMX CPU,
# `bench/train.py`, but several times slower on a CPU without bf16 instructions: last panel below,
# which is why the paper's runs stay in float32). Default budget (1,000 steps), three seeds each.
#
# **Claims tested.** Sharing one backbone across scales costs nothing: *separate backbones*
# do not beat *shared* (a tie, both above the floor). And bf16 costs no accuracy: *bf16
# autocast* ties with float32 on every factor.

# %%
df = exp.sweep({"shared backbone": [], "separate backbones": ["method.share_scales=false"],
                "bf16 autocast": ["train.precision=bf16-mixed"]}, ctx.seeds)
bounds = ctx.bounds()
print(summarize(df, METRIC).to_string(index=False))

# %% [markdown]
# ## Projection heads, three seeds
# A linear projection, the reference 2-layer MLP, and a 3-layer MLP.

# %%
heads = exp.sweep({"head: linear": ["method.proj_layers=1"], "head: 2-layer MLP": [],
                   "head: 3-layer MLP": ["method.proj_layers=3"]}, ctx.seeds)
print(summarize(heads, METRIC).to_string(index=False))

# %% [markdown]
# ## Batch size (number of in-batch negatives)
# The same runs as notebook 03's sweep (loaded from the run cache): batch 16 and 32 at
# the same number of optimiser steps.

# %%
batches = {f"batch {b}": [f"train.batch_size={b}"] for b in (16, 32)}  # same train.steps for both
bs = exp.sweep(batches, ctx.seeds)
bs["batch"] = bs.variant.str.split().str[1].astype(int)

# %% [markdown]
# ## Measured cost (from `bench/`)
# `python bench/encoder.py` (activation checkpointing, clip length) and
# `python bench/loader.py --data data/synth-small` (frame cache, and `data.augment_on=batch`:
# the loader only decodes and cuts, the training device does the spatial augmentation of the
# whole batch) wrote these files on a 2-core CPU; `python bench/train.py` adds mixed precision and multi-process
# numbers, and `python bench/precision.py` times float32 against bf16 autocast with oneDNN capped to the
# instruction sets of CPUs without bf16 units (AVX512_CORE, AVX2: most laptops). Re-run them to
# measure your machine.

# %%
enc = json.loads((BENCH / "encoder.json").read_text())
ckpt = pd.DataFrame([{"variant": v["variant"], "checkpointing": c, "step ms": 1000 * v[f"{p}step_s"],
                      "peak MB": v[f"{p}peak_mb"]} for v in enc["variants"] for c, p in (("off", ""), ("on", "ckpt_"))])
length = pd.DataFrame(enc["clip_length"])
loader = pd.DataFrame(json.loads((BENCH / "loader.json").read_text())["rows"])
train_path = BENCH / "train.json"
precision = pd.DataFrame(json.loads(train_path.read_text())["single"]) if train_path.exists() else None
isa = pd.DataFrame(json.loads((BENCH / "precision.json").read_text())["rows"])

# %%
fig, axes = plt.subplots(2, 3, figsize=(17, 9), gridspec_kw={"hspace": 0.55})
factor_bars(pd.concat([df, heads]), metric=METRIC, chance=ctx.chance, bounds=bounds, ax=axes[0, 0],
            title=f"sharing, bf16 and heads ({len(ctx.seeds)} seeds)")
axes[0, 0].legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.1))  # below: the bars fill the axes
sel = bs[(bs.metric == METRIC) & (bs.protocol == "whole")]
sns.lineplot(data=sel, x="batch", y="value", hue="factor", marker="o", ax=axes[0, 1])
axes[0, 1].set_xscale("log", base=2)
axes[0, 1].minorticks_off()
axes[0, 1].set(xticks=[16, 32], xticklabels=["16", "32"], ylim=(0, 1),
               title=f"batch size = in-batch negatives ({len(ctx.seeds)} seeds)", ylabel=f"{METRIC} (whole)")
c = ckpt[ckpt.variant.isin(["concat", "slow-only", "fast-only"])]
sns.barplot(data=c, x="variant", y="peak MB", hue="checkpointing", ax=axes[0, 2])
axes[0, 2].set(title="activation checkpointing: peak tensor memory", xlabel="")
sns.lineplot(data=length, x="frames", y="step_s", marker="o", ax=axes[1, 0])
axes[1, 0].set(title="cost vs clip length (batch 32, 32x32)", xlabel="frames per clip", ylabel="training step (s)")
lo = loader[loader.key.isin(["a", "b", "e", "c", "d"])]
sns.barplot(data=lo, x="config", y="clips_per_s", hue="workers", ax=axes[1, 1])
axes[1, 1].set(title="loader throughput", xlabel="", ylabel="clips/s")
axes[1, 1].tick_params(axis="x", rotation=25, labelsize=7)
sns.barplot(data=isa, x="isa", y="clips_per_s", hue="precision", ax=axes[1, 2])
axes[1, 2].set(title="bf16 pays only with bf16 instructions", xlabel="oneDNN instruction-set cap",
               ylabel="clips/s")
savefig(fig, "08_efficiency", ctx.figures)

# %% [markdown]
# ## The answer

# %%
claims = [verdict(df, a, "shared backbone", f, bounds)
          for a in ("separate backbones", "bf16 autocast") for f in ("shape", "motion", "order")]
for v in claims:
    print(v)
# not claims of the paper: what the projection head and the batch size do, read the same way
levers = ([verdict(heads, a, "head: 2-layer MLP", f, bounds) for a in ("head: linear", "head: 3-layer MLP")
           for f in ("shape", "motion", "order")]
          + [verdict(bs, "batch 16", "batch 32", f, bounds) for f in ("shape", "motion", "order")])
for v in levers:
    print(v)
concat = ckpt[ckpt.variant == "concat"].set_index("checkpointing")
mem_saving = 1 - concat.loc["on", "peak MB"] / concat.loc["off", "peak MB"]
time_cost = concat.loc["on", "step ms"] / concat.loc["off", "step ms"] - 1
growth = length.step_s.iloc[-1] / length.step_s.iloc[0]
rate = loader[loader.workers == 0].set_index("key").samples_per_s
conclusion = (f"Against the shared float32 reference (whole-video linear probe, seen combinations, mean ± std over "
              f"{len(ctx.seeds)} seeds, same budget): " + "; ".join(map(str, claims))
              + ". Projection heads and batch size against the reference's 2-layer MLP and batch 32 (same "
              + "budget): " + "; ".join(map(str, levers)) + ". "
              f"Activation checkpointing saves {100 * mem_saving:.0f}% of peak tensor memory for "
              f"{100 * time_cost:.0f}% more step time; step time grows {growth:.1f}x from "
              f"{length.frames.iloc[0]} to {length.frames.iloc[-1]} frames. Loader without a cache (bench/loader.py, "
              f"one process): {rate['b'] / rate['a']:.2f}x raw decord, {rate['e'] / rate['a']:.2f}x when the "
              f"training device does the spatial augmentation (data.augment_on=batch); the frame cache "
              f"{rate['c'] / rate['a']:.1f}x.")
if precision is not None and len(precision) > 1:
    p = precision.set_index("precision").clips_per_s
    conclusion += " bf16 autocast (bench/train.py): " + ", ".join(f"{k} {v:.0f} clips/s" for k, v in p.items()) + "."
speedup = isa.pivot(index="isa", columns="precision", values="clips_per_s").eval("`bf16-mixed` / `32-true`")
conclusion += (" bf16 / float32 speed of the encoder by CPU instruction set (bench/precision.py): "
               + ", ".join(f"{k} {v:.2f}x" for k, v in speedup.items()) + ".")
print(conclusion)
save_results(ctx.results_path("08_efficiency"), "08_efficiency",
             pd.concat([df, heads, bs.drop(columns=["batch"])]), SMOKE, conclusion, claims)
