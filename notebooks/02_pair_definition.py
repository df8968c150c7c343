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
# # 02 · Pair definitions: which clips are positives, which are negatives
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/02_pair_definition.ipynb)
#
# **Question.** How should positive and negative pairs be defined in time? The reference
# recipe that notebooks 01-08 vary around (`vcl_core.experiment.REFERENCE`) takes its two
# short clips from the *same segment* under two augmentations. We compare
# it with *neighbouring clips* at a gap drawn from CVRL's decreasing density, *rho clips*
# (three independent clips per video, as rho-BYOL), and *intra-video negatives* (two more
# windows of the same video, disjoint from the positives, used as negatives, as TCLR's
# local-local loss). Everything else (long views, temporal hard negatives, budget) is fixed.
#
# **Runtime.** 18 min on 2 CPU cores inside `make figures` (2 notebook(s) at a time; runs an earlier
# notebook trained are loaded, not retrained); about a minute with `SMOKE = True`. Generated from
# `figures/runtimes.json`, which `make figures` writes.

# %% tags=["parameters"]
# SMOKE = True shrinks everything so CI runs the notebook in about a minute
SMOKE = False
# random seeds per variant (error bars are the std over seeds)
SEEDS = 2
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
import numpy as np

from vcl_core.data.sampling import cvrl_gap
from vcl_core.experiment import REFERENCE, compare, notebook_setup, save_results, summarize
from vcl_core.viz import factor_bars, savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment(base=REFERENCE)  # ablations vary one thing around the reference recipe

# %% [markdown]
# ## How CVRL draws the gap between two clips
# With `M` frames of room, the gap `d` has density `p(d) = 2 (1 - d/M) / M`: near clips are
# likely, far ones possible. `vcl_core.data.sampling.cvrl_gap` draws it by inverting the CDF.

# %%
rng = np.random.default_rng(0)
gaps = [cvrl_gap(rng, 32) for _ in range(20000)]
fig, ax = plt.subplots(figsize=(5, 2.6))
ax.hist(gaps, bins=np.arange(34) - 0.5, density=True, alpha=0.7, label="drawn")
d = np.arange(33)
ax.plot(d, 2 * (1 - d / 32) / 32, "k--", label="2 (1 - d/M) / M")
ax.set(xlabel="gap d (frames), M = 32", ylabel="density", title="CVRL gap distribution")
ax.legend()
savefig(fig, "02_cvrl_gap", ctx.figures)

# %% [markdown]
# ## The four pair definitions, same budget
# Plus one sampling choice of the whole-video views: TSN's per-segment jitter (each frame at
# random within its segment) against the default shared offset (all frames move together,
# evenly spaced). Notebook 01 shows what the jitter does to the supervised ceiling.

# %%
variants = {
    "same segment": [],
    "neighbours (CVRL gap)": ["data.policy=cvrl"],
    "rho clips (3)": ["data.policy=rho", "data.num_views=3"],
    "intra-video negatives": ["data.intra_negatives=2"],
    "TSN jitter (long views)": ["data.long_jitter=segment"],
}
df = exp.sweep(variants, ctx.seeds)
print(summarize(df, protocol="whole").to_string(index=False))

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
factor_bars(df, protocol="whole", chance=ctx.chance, ax=axes[0], title="whole-video view")
factor_bars(df, protocol="clips", chance=ctx.chance, ax=axes[1], title="average of short clips")
savefig(fig, "02_pair_definition", ctx.figures)

# %%
conclusion = ("Linear probe, whole-video view, mean ± std over seeds (best first) — " + compare(df)
              + ". Same budget of optimiser steps for every definition; differences within one std are not "
              "evidence either way.")
print(conclusion)
save_results(ctx.results_path("02_pair_definition"), "02_pair_definition", df, SMOKE, conclusion)
