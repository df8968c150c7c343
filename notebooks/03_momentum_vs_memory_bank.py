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
# # 03 · Momentum encoders, queues and memory banks: where negatives come from
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/03_momentum_vs_memory_bank.ipynb)
#
# **Question.** Where should negatives come from? Four designs at the same number of
# optimiser steps, three seeds each: *in-batch* negatives (SimCLR), a *MoCo queue* of
# momentum-encoded keys per temporal scale (keys of the anchor's own video are masked as
# false negatives), an *instance memory bank* (InstDisc: one stored embedding per training
# video), and *negative-free* BYOL. Then the batch size (the number of in-batch negatives) and
# the queue size, hard negatives, a temperature schedule and a learned temperature, three seeds
# each. Accuracy on every factor and wall-clock cost are reported.
#
# **Runtime.** 0.1 min on 2 CPU cores inside `make figures` (1 notebook(s) at a time; runs already
# in `runs/` are loaded, not retrained); its 33 runs trained for 14.4 h (one thread each); about a
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
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from vcl_core.experiment import METRIC, REFERENCE, compare, notebook_setup, save_results, summarize, verdict
from vcl_core.viz import factor_bars, savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment(base=REFERENCE)  # ablations vary one thing around the reference recipe

# %% [markdown]
# ## A MoCo queue on toy tensors
# MoCo keeps the keys of the last few batches in a first-in first-out queue and uses them as
# extra negatives: `loss = -log exp(q.k+/t) / (exp(q.k+/t) + sum_j exp(q.k_j/t))`. With video,
# a queued key may come from the *same* video as the query (another clip of it, a few batches
# ago): it is not a negative. `KeyQueue` stores each key's video id and window, and
# `false_negative_mask` marks those entries so that `info_nce` leaves them out. Below: a queue
# of 6 slots, two batches of 4 keys (the second wraps round), and a batch of queries from
# videos 2 and 7.

# %%
import torch

from vcl_core.losses import KeyQueue, info_nce

torch.manual_seed(0)
queue = KeyQueue(dim=4, size=6)
queue.enqueue(torch.randn(4, 4), torch.tensor([1, 2, 3, 4]), torch.zeros(4), torch.ones(4))
queue.enqueue(torch.randn(4, 4), torch.tensor([5, 6, 7, 2]), torch.zeros(4), torch.ones(4))
print("video id in each slot:", queue.video_ids.tolist(), " age:", queue.ages.tolist())
query_videos = torch.tensor([2, 7])
mask = queue.false_negative_mask(query_videos, mode="video")
print(pd.DataFrame(mask.numpy(), index=[f"query from video {v}" for v in query_videos.tolist()],
                   columns=[f"slot {i} (video {v})" for i, v in enumerate(queue.video_ids.tolist())]).to_string())
# clips of one video look alike: the query and its key are near the queued key of their own video
own = queue.keys()[[queue.video_ids.tolist().index(v) for v in query_videos.tolist()]]
q, k = own + 0.3 * torch.randn(2, 4), own + 0.3 * torch.randn(2, 4)
in_batch = torch.zeros(2, 2, dtype=torch.bool)  # the in-batch keys: other videos, all negatives
full = torch.cat([in_batch, mask], dim=1)
print(f"InfoNCE with the same-video keys counted as negatives {info_nce(q, k, 0.1, extra_negatives=queue.keys()):.3f}, "
      f"with them masked {info_nce(q, k, 0.1, extra_negatives=queue.keys(), false_negative_mask=full):.3f}: the mask "
      "stops the loss from pushing a video away from itself")

# %% [markdown]
# ## Four sources of negatives, three seeds
# In-batch negatives (the reference), a MoCo queue, a memory bank, and none at all (BYOL), at
# the default budget (1,000 steps; by then the default's shape and order are flat and twice
# the budget adds about 5 points of motion, one seed: notebook 01).
#
# **Claim tested.** More negatives help: a MoCo queue of 1,024 keys beats the 31 in-batch
# negatives on motion or order, beyond the seed spread. And negatives matter at all: BYOL,
# without them, falls below in-batch contrast. The memory bank (256 negatives per step drawn
# from the bank) was moved from the one-seed extras to three seeds after its first seed
# read order 21 points below the reference; it is held to the queue's claim.
#
# The bank and BYOL cannot use the reference's second contrast on the fast pathway's part of
# the embedding (`method.fast_contrast`, an in-batch InfoNCE), so both run without it. A
# control separates the two changes: in-batch contrast without the fast-stream contrast,
# three seeds. The bank and BYOL are read against it too (not claims: the control was added
# after the bank's three seeds read the same pattern as BYOL's).
#
# Both also lack the reference's derived temporal negatives (every key clip played backwards,
# `method.temporal_negatives`). A second control gives them to the bank: its query clips played
# backwards join the stored negatives (three seeds; added after the first control, so not a
# claim either). If it wins back the order the bank loses, those negatives, not the bank, were
# what the order needed. The controls' runs trained beside other runs (the first beside the
# test suite), so their wall-clock is not comparable with the others' and the cost panel
# leaves them out. MoCo's and BYOL's runs were retrained on another machine than the
# reference's and the bank's, so their bars compare machines as well as methods; PAPER.md gives
# the four recipes' step times measured side by side on one machine.

# %%
queue = 64 if SMOKE else 1024
variants = {
    "in-batch (reference)": [],
    "MoCo queue": ["method.name=moco", f"method.queue_size={queue}"],
    "memory bank": ["method.name=bank", "method.fast_contrast=0", "method.temporal_negatives=none",
                    "method.long_negatives=none"],
    "negative-free (BYOL)": ["method.name=byol", "method.fast_contrast=0", "method.temporal_negatives=none",
                             "method.long_negatives=none", "method.global_local=0"],
}
df = exp.sweep(variants, ctx.seeds)
control = exp.sweep({"in-batch, no fast-stream contrast": ["method.fast_contrast=0"],
                     "memory bank + reversed queries": ["method.name=bank", "method.fast_contrast=0",
                                                        "method.long_negatives=none"]}, ctx.seeds)
dfc = pd.concat([df, control])  # the sources of negatives and their controls
bounds = ctx.bounds()
print(summarize(dfc, METRIC).to_string(index=False))

# %% [markdown]
# ## Batch and queue size, hard negatives, temperature schedule, learned temperature (three seeds)
# Batch 16 against the reference's 32 and a queue of 256 against 1,024, three seeds each (the
# number of optimiser steps is held fixed, so a larger batch costs more time and sees more
# videos); importance re-weighting of hard negatives (Robinson et al. 2021, beta = 0.5), three
# seeds (moved from the one-seed runs after its first seed read shape 3.7 points above the
# reference as first trained, whose seeds spread 0.4); a cosine temperature schedule from 0.2
# to 0.05, three seeds (moved from the one-seed runs: temperature scheduling is one of the
# levers the field names, and one seed cannot tell a tie); and a learned temperature, three
# seeds (moved from the one-seed runs for the same reason).

# %%
hard = exp.sweep({"hard negatives (beta 0.5)": ["method.hard_negative_beta=0.5"],
                  "temperature 0.2 -> 0.05 (cosine)": ["method.temperature=0.2", "method.temperature_schedule=cosine",
                                                       "method.temperature_end=0.05"],
                  "learned temperature": ["method.temperature_schedule=learned"]}, ctx.seeds)
sweep = {f"batch {b}": [f"train.batch_size={b}"] for b in (16, 32)}  # same train.steps for both
for q in ((256, 1024) if not SMOKE else (32,)):
    sweep[f"queue {q}"] = ["method.name=moco", f"method.queue_size={q}"]
sw = exp.sweep(sweep, ctx.seeds)
sw["kind"] = sw.variant.str.split().str[0]
sw["size"] = sw.variant.str.split().str[1].astype(int)
print(summarize(pd.concat([hard, sw]), METRIC).to_string(index=False))

# %%
fig, axes = plt.subplots(1, 4, figsize=(20, 3.8), gridspec_kw={"width_ratios": [3, 3, 2, 2]})
factor_bars(dfc, metric=METRIC, chance=ctx.chance, bounds=bounds, ax=axes[0],
            title=f"negatives, {len(ctx.seeds)} seeds (whole-video view)")
factor_bars(hard, metric=METRIC, chance=ctx.chance, bounds=bounds, ax=axes[1],
            title=f"hard negatives, temperature ({len(ctx.seeds)} seeds)")
cost = df.drop_duplicates(["variant", "seed"]).groupby("variant", sort=False).wall_s.mean().reset_index()
sns.barplot(data=cost, x="variant", y="wall_s", ax=axes[2])
axes[2].set(title="training wall-clock (s)", xlabel="", ylabel="seconds")
axes[2].tick_params(axis="x", rotation=20)
sel = sw[(sw.metric == METRIC) & (sw.protocol == "whole")]
sns.lineplot(data=sel, x="size", y="value", hue="factor", style="kind", marker="o", ax=axes[3])
axes[3].set(xscale="log", xlabel="batch size / queue size", ylabel=f"{METRIC} (whole)",
            title=f"batch and queue size ({len(ctx.seeds)} seeds)")
axes[3].legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.3))
savefig(fig, "03_momentum_vs_memory_bank", ctx.figures)

# %% [markdown]
# ## The answer

# %%
claims = [verdict(df, a, "in-batch (reference)", f, bounds)
          for a in ("MoCo queue", "memory bank", "negative-free (BYOL)") for f in ("motion", "order")]
for v in claims:
    print(v)
# not claims: the bank and BYOL against in-batch contrast without the fast-stream contrast, which they lack
controlled = [verdict(dfc, a, "in-batch, no fast-stream contrast", f, bounds)
              for a in ("memory bank", "negative-free (BYOL)") for f in ("motion", "order")]
controlled += [verdict(dfc, "in-batch, no fast-stream contrast", "in-batch (reference)", f, bounds)
               for f in ("motion", "order")]
controlled += [verdict(dfc, "memory bank + reversed queries", b, f, bounds)
               for b in ("memory bank", "in-batch, no fast-stream contrast") for f in ("motion", "order")]
for v in controlled:
    print(v)
# not claims of the paper: what the batch and queue sizes, hard-negative weighting and the temperature schedule do,
# read the same way
size_pairs = [("batch 16", "batch 32")] + ([("queue 256", "queue 1024")] if not SMOKE else [])
sizes = [verdict(sw, a, b, f, bounds) for a, b in size_pairs for f in ("shape", "motion", "order")]
sizes += [verdict(pd.concat([df, hard]), a, "in-batch (reference)", f, bounds)
          for a in ("hard negatives (beta 0.5)", "temperature 0.2 -> 0.05 (cosine)", "learned temperature")
          for f in ("shape", "motion", "order")]
for v in sizes:
    print(v)
conclusion = ("Sources of negatives against in-batch contrast (whole-video linear probe, seen combinations, mean ± "
              f"std over {len(ctx.seeds)} seeds, same budget): " + "; ".join(map(str, claims)) + ". Ranking — "
              + compare(dfc) + ". Controls: in-batch contrast without the fast-stream contrast "
              "(which the bank and BYOL cannot use), and the bank with its queries played backwards as negatives: "
              + "; ".join(map(str, controlled)) + ". Mean training time per run: "
              + ", ".join(f"{r.variant} {r.wall_s:.0f} s" for r in cost.itertuples()) + ". "
              "Batch and queue size (same steps), hard negatives, temperature schedule, learned temperature: "
              + "; ".join(map(str, sizes)) + ".")
print(conclusion)
save_results(ctx.results_path("03_momentum_vs_memory_bank"), "03_momentum_vs_memory_bank",
             pd.concat([df, control, hard, sw.drop(columns=["kind", "size"])]), SMOKE, conclusion, claims)
