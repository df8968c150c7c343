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
# # 09 · Which recipe should `vcl pretrain` use? A head-to-head with more seeds
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/09_default_recipe.ipynb)
#
# **Question.** Notebooks 02-08 each test one change of the *reference recipe*
# (`vcl_core.experiment.REFERENCE`). Picking the default as "the best of many variants" would
# mostly pick luck, so the strongest candidates meet here with three seeds each, under the
# same budget (1,000 steps), listed from the simplest to the most complex:
#
# * the reference itself, and the current default (the reference with independent clips,
#   `data.policy=rho`; notebook 02);
# * one change each from 04, 05 and 06 (neighbouring clips plus the temporal-gap task, gated
#   fusion, camera-motion augmentation);
# * the default plus one of notebook 06's two one-seed leads, frame dropping
#   (`temporal.drop_p=0.2`) and speed augmentation (`temporal.speeds=[0.5,1,2]`), which read
#   above the reference on every factor and bought invariance to the perturbation each mimics,
#   and the default plus both;
# * the default with three clips per video instead of two (`data.num_views=3`, rho-BYOL's
#   sampling; notebook 02, where it beats two clips on motion at three seeds), which costs half
#   as much again per step;
# * the default plus both outline signals on clip-standardised input
#   (`model.input_norm=clip method.patch_negatives=4 method.aux.reconstruct=1`: one seed read
#   shape 87.5% against the default's 80.3%, and motion 82.5% against 96.6%; PAPER.md, section 5).
#
# Score = (shape + motion + order) / 3 per run (linear probe, whole-video view, test videos of
# seen combinations), then mean ± std over seeds. **Rule.** The best is the highest mean; the
# default is the *simplest* candidate whose mean + std reaches the best's mean - std
# (`vcl_core.experiment.choose_default`): a more complex recipe has to win beyond the seed
# spread. The last cell checks that the code's default is that candidate.
#
# **Runtime.** 0.1 min on 2 CPU cores inside `make figures` (1 notebook(s) at a time; runs already
# in `runs/` are loaded, not retrained); its 30 runs trained for 19.4 h (one thread each); about a
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
import seaborn as sns

from vcl_core.experiment import (METRIC, REFERENCE, choose_default, compare, config_hash, notebook_setup,
                                 save_results)
from vcl_core.viz import factor_bars, savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment(base=REFERENCE)

# %% [markdown]
# ## A recipe is a configuration
# Every candidate below is the reference recipe plus a few `key=value` overrides; the named
# recipes of the literature are presets of the same objective (`method=moco` on the command
# line expands to the MoCo preset). Printing what an override list changes is the quickest way
# to read a recipe:

# %%
from vcl_core.train import load_config

base = load_config("synthetic").to_dict()
for recipe in (["method=moco"], ["method=tclr"], ["method.aux.gap=0.5"]):
    cfg = load_config("synthetic", recipe).to_dict()
    changed = {f"{sec}.{k}": v for sec in cfg for k, v in cfg[sec].items() if base[sec].get(k) != v}
    print(" ".join(recipe), "->", changed)

# %% [markdown]
# ## The candidates, three seeds each, simplest first
# Every candidate is written as its change to the reference recipe, so its runs are the same
# runs (same config, same cache entry) as in the notebook it comes from.

# %%
default = ["data.policy=rho"]
candidates = {
    "reference": [],
    "default: independent clips (02)": default,
    "gated fusion (05)": ["model.fusion=gate"],
    "camera motion aug (06)": ["temporal.camera_p=0.5"],
    "neighbours + temporal gap (04)": ["data.policy=cvrl", "method.aux.gap=0.5"],
    "default + frame dropping (06)": default + ["temporal.drop_p=0.2"],
    "default + speed augmentation (06)": default + ["temporal.speeds=[0.5,1,2]"],
    "default + speed augmentation + frame dropping (06)": default + ["temporal.speeds=[0.5,1,2]", "temporal.drop_p=0.2"],
    "default + three clips (02)": default + ["data.num_views=3"],
    "default + outline signals, standardised input": default + ["model.input_norm=clip", "method.patch_negatives=4",
                                                                "method.aux.reconstruct=1"],
}
df = exp.sweep(candidates, ctx.seeds)
bounds = ctx.bounds()

# %% [markdown]
# ## Ranking
# Score = (shape + motion + order) / 3 per run, then mean ± std over seeds. The error bars are
# seed-to-seed spread, not a confidence interval: two candidates whose bars overlap are not
# told apart, and the rule then keeps the simpler one.

# %%
whole = df[(df.protocol == "whole") & (df.metric == METRIC)]
per_run = whole.groupby(["variant", "seed"], sort=False).value.mean().reset_index()
score = per_run.groupby("variant", sort=False).value.agg(["mean", "std"]).fillna(0.0).sort_values("mean", ascending=False)
print((100 * score).round(1).to_string())
best_variant, chosen_variant = choose_default(score, list(candidates))

# which candidate is the code's default (same full config as `vcl pretrain` with no --config)?
default_hash = config_hash(ctx.experiment().config([], ctx.seeds[0]))
default_variant = next((v for v, ov in candidates.items() if config_hash(exp.config(ov, ctx.seeds[0])) == default_hash),
                       None)
print("best:", best_variant, "| chosen by the rule:", chosen_variant, "| default of `vcl pretrain`:", default_variant)

# %%
fig, axes = plt.subplots(1, 2, figsize=(16, 4.2), gridspec_kw={"width_ratios": [3, 2]})
factor_bars(df, metric=METRIC, chance=ctx.chance, bounds=bounds, ax=axes[0],
            title=f"candidates, whole-video view ({len(ctx.seeds)} seeds)")
order = list(score.index)
sns.barplot(data=per_run, y="variant", x="value", order=order, errorbar="sd", ax=axes[1], color="0.75")
sns.stripplot(data=per_run, y="variant", x="value", order=order, ax=axes[1], color="k", size=4)
axes[1].axvline(sum(ctx.chance[f] for f in ("shape", "motion", "order")) / 3, color="k", ls=":")
axes[1].set(xlabel="(shape + motion + order) / 3, per seed", ylabel="", title="score (dots: seeds; dotted: chance)")
savefig(fig, "09_default_recipe", ctx.figures)

# %%
s = score.loc
ranking = ", ".join(f"{v} {100 * s[v, 'mean']:.1f}±{100 * s[v, 'std']:.1f}" for v in order)
why = ("the best candidate" if chosen_variant == best_variant else
       f"the simplest candidate the seeds cannot tell from the best ({best_variant})")
conclusion = (f"Score (shape + motion + order) / 3, whole-video view, seen combinations, {len(ctx.seeds)} seeds: "
              f"{ranking}. The rule picks {chosen_variant}, {why}; `vcl pretrain` uses "
              f"{default_variant or 'a recipe that is not among the candidates'}"
              + ("" if default_variant == chosen_variant else " (not the rule's pick)")
              + ". Per factor: " + compare(df) + ".")
print(conclusion)
save_results(ctx.results_path("09_default_recipe"), "09_default_recipe", df, SMOKE, conclusion,
             default_variant=default_variant, best_variant=best_variant, chosen_variant=chosen_variant,
             candidates=candidates, score={v: {"mean": float(s[v, "mean"]), "std": float(s[v, "std"])} for v in order})
