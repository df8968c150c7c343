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
# # 00 · Quick start: does self-supervised pretraining learn motion and progression?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/00_quickstart.ipynb)
#
# **Claim tested.** Pretraining the fast/slow encoder with the project's default recipe, on
# unlabelled videos, gives representations that separate both the *short-term* factor
# (which way a texture drifts, readable from 2-8 frames) and the *long-term* factor (the
# order of three activity phases, readable only from the whole video) better than the same
# encoder at random initialisation.
#
# **Path.** `vcl synth` (real H.264 files) → decord → clips → fast/slow encoder → InfoNCE →
# Lightning Fabric loop → frozen features → linear probe / kNN / retrieval.
#
# **Runtime.** 0.1 min on 2 CPU cores inside `make figures` (2 notebook(s) at a time; runs already
# in `runs/` are loaded, not retrained); its 6 runs trained for 1.5 h (one thread each); about a
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

from vcl_core.experiment import RANDOM_INIT, notebook_setup, save_results, summarize
from vcl_core.viz import factor_bars, savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment()

# %% [markdown]
# ## The two encoders
# Both use the `synthetic` preset: the same fast/slow network, data and evaluation.
# `random init` is trained for zero steps; `pretrained` runs the default recipe of
# `vcl pretrain` (no options). Labels are never used before the frozen-feature probes.

# %%
df = exp.sweep({"random init": RANDOM_INIT, "pretrained": []}, ctx.seeds)

# %% [markdown]
# ## Results
# Linear-probe top-1 on the test split (scene groups never seen in training), for the
# model's own video-level embedding (`whole`: one view spanning the video) and for the
# average of short clips (`clips`). The headline scores test videos whose (shape, motion)
# combination occurs in training; the held-out combinations are reported on their own.

# %%
seen = summarize(df, "linear_top1_seen", "whole")
unseen = summarize(df, "linear_top1_unseen", "whole").set_index(["variant", "factor"])["mean"]
print(seen.assign(unseen=[unseen[(v, f)] for v, f in zip(seen.variant, seen.factor)]).round(3).to_string(index=False))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, protocol in zip(axes, ["whole", "clips"]):
    factor_bars(df, protocol=protocol, metric="linear_top1_seen", chance=ctx.chance, ax=ax,
                title=f"view: {protocol} (seen combinations)")
savefig(fig, "00_quickstart", ctx.figures)

# %%
whole = seen.set_index(["variant", "factor"])
t, sd = whole["mean"], whole["std"].fillna(0.0)
tc = summarize(df, "linear_top1_seen", "clips").set_index(["variant", "factor"])["mean"]
pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
gains = {f: float(t[("pretrained", f)] - t[("random init", f)]) for f in ["shape", "motion", "order"]}
# "clearly" = the gain exceeds both seed-to-seed standard deviations together
clear = [f for f in ("motion", "order") if gains[f] > sd[("pretrained", f)] + sd[("random init", f)]]
verdict = "beats" if min(gains["motion"], gains["order"]) > 0 else "does NOT beat"
conclusion = (f"Pretraining {verdict} random initialisation on both temporal factors (whole-video view, seen "
              f"combinations, {len(ctx.seeds)} seed(s)): "
              + "; ".join(f"{f}: pretrained {pct(t[('pretrained', f)])}±{pct(sd[('pretrained', f)])}, random init "
                          f"{pct(t[('random init', f)])}±{pct(sd[('random init', f)])}" for f in ("shape", "motion", "order"))
              + f". Beyond the seed-to-seed spread (gain larger than both standard deviations together): "
              f"{' and '.join(clear) if clear else 'neither temporal factor'}. Unseen combinations: "
              + ", ".join(f"{f} {pct(unseen[('pretrained', f)])}" for f in ("shape", "motion", "order"))
              + f". The average of six short clips reads order at {pct(tc[('pretrained', 'order')])}% against "
              f"{pct(t[('pretrained', 'order')])}% for the whole-video view: "
              + ("a clip that straddles a phase boundary sees part of the order, the whole view sees all of it."
                 if tc[("pretrained", "order")] > 1.5 * ctx.chance["order"] else
                 "an average of clips cannot tell 'A then B' from 'B then A'."))
print(conclusion)
save_results(ctx.results_path("00_quickstart"), "00_quickstart", df, SMOKE, conclusion, gains=gains)
