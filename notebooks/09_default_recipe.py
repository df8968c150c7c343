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
# **Question.** Notebooks 02-06 each change one design choice of the *reference recipe*
# (`vcl_core.experiment.REFERENCE`) with one or two seeds. Picking the default as "the best of
# some thirty two-seed variants" would mostly pick luck: at this budget the probe on the
# short-term factor moves by ten points or more from seed to seed. So the strongest
# candidates meet here again with four seeds each, under the same budget:
#
# * the four best two-seed variants on the mean of the two temporal factors in 02-06
#   (multi-scale without cross-scale alignment, gated fusion, reversal as augmentation,
#   camera & lighting augmentation);
# * the four single-seed changes of 03 and 04 that scored highest on motion (learned
#   temperature, a cosine temperature schedule, a MoCo queue of 256 keys, neighbouring clips
#   plus the temporal-gap task), and the combination of the two best of those;
# * the reference itself.
#
# The candidate with the highest mean over seeds of (motion + order) / 2 (linear probe,
# whole-video view) is the default of `vcl pretrain`; the last cell checks that the code's
# default is that candidate.
#
# **Runtime.** 50 min on 2 CPU cores inside `make figures` (2 notebook(s) at a time; runs an earlier
# notebook trained are loaded, not retrained); about a minute with `SMOKE = True`. Generated from
# `figures/runtimes.json`, which `make figures` writes.

# %% tags=["parameters"]
# SMOKE = True shrinks everything so CI runs the notebook in about a minute
SMOKE = False
# random seeds per variant (error bars are the std over seeds)
SEEDS = 4
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

from vcl_core.experiment import REFERENCE, compare, config_hash, notebook_setup, save_results
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
# ## The candidates, four seeds each
# Every candidate is written as its change to the reference recipe, so its runs are the same
# runs (same config, same cache entry) as in the notebook it comes from.

# %%
gap = ["data.policy=cvrl", "method.aux.gap=0.5"]
candidates = {
    "reference": [],
    "multi-scale, no cross-scale (04)": ["method.global_local=0"],
    "gated fusion (05)": ["model.fusion=gate"],
    "reversal as augmentation (06)": ["temporal.reverse_p=0.5"],
    "camera & lighting aug (06)": ["temporal.camera_p=0.5", "temporal.lighting_p=0.5"],
    "learned temperature (03)": ["method.temperature_schedule=learned"],
    "cosine temperature (03)": ["method.temperature=0.2", "method.temperature_schedule=cosine",
                                "method.temperature_end=0.05"],
    "MoCo queue 256 (03)": ["method.name=moco", f"method.queue_size={32 if SMOKE else 256}"],
    "neighbours + temporal gap (04)": gap,
    "learned temperature + gap": ["method.temperature_schedule=learned"] + gap,
}
df = exp.sweep(candidates, ctx.seeds)

# %% [markdown]
# ## Ranking
# Score = (motion + order) / 2 per run, then mean ± std over seeds. The error bars are
# seed-to-seed spread, not a confidence interval: with four seeds, two candidates whose
# bars overlap are not told apart.

# %%
whole = df[(df.protocol == "whole") & (df.metric == "linear_top1") & df.factor.isin(["motion", "order"])]
per_run = whole.groupby(["variant", "seed"], sort=False).value.mean().reset_index()
score = per_run.groupby("variant", sort=False).value.agg(["mean", "std"]).fillna(0.0).sort_values("mean", ascending=False)
print((100 * score).round(1).to_string())

# which candidate is the code's default (same full config as `vcl pretrain` with no --config)?
default_hash = config_hash(ctx.experiment().config([], ctx.seeds[0]))
default_variant = next((v for v, ov in candidates.items() if config_hash(exp.config(ov, ctx.seeds[0])) == default_hash),
                       None)
best_variant = score.index[0]
print("best:", best_variant, "| default of `vcl pretrain`:", default_variant)

# %%
fig, axes = plt.subplots(1, 2, figsize=(16, 4.2), gridspec_kw={"width_ratios": [3, 2]})
factor_bars(df, protocol="whole", chance=ctx.chance, ax=axes[0], factors=["motion", "order"],
            title=f"candidates, whole-video view ({len(ctx.seeds)} seeds)")
order = list(score.index)
sns.barplot(data=per_run, y="variant", x="value", order=order, errorbar="sd", ax=axes[1], color="0.75")
sns.stripplot(data=per_run, y="variant", x="value", order=order, ax=axes[1], color="k", size=4)
axes[1].axvline((ctx.chance["motion"] + ctx.chance["order"]) / 2, color="k", ls=":")
axes[1].set(xlabel="(motion + order) / 2, per seed", ylabel="", title="score (dots: seeds; dotted: chance)")
savefig(fig, "09_default_recipe", ctx.figures)

# %%
s = score.loc
ranking = ", ".join(f"{v} {100 * s[v, 'mean']:.1f}±{100 * s[v, 'std']:.1f}" for v in order)
gain, spread = s[best_variant, "mean"] - s["reference", "mean"], s[best_variant, "std"]
conclusion = (f"Score (motion + order) / 2, whole-video view, {len(ctx.seeds)} seeds: {ranking}. "
              f"`vcl pretrain` uses {default_variant or 'a recipe that is not among the candidates'}"
              + (" (the best candidate)" if default_variant == best_variant else f"; the best candidate is {best_variant}")
              + f". The best is {100 * gain:.1f} points above the reference, "
              + ("more than" if gain > spread else "within")
              + f" its seed-to-seed spread ({100 * spread:.1f})"
              + ("" if gain > spread else ": a ranking by the mean, not a settled difference")
              + ". Per factor: " + compare(df) + ".")
print(conclusion)
save_results(ctx.results_path("09_default_recipe"), "09_default_recipe", df, SMOKE, conclusion,
             default_variant=default_variant, best_variant=best_variant, candidates=candidates,
             score={v: {"mean": float(s[v, "mean"]), "std": float(s[v, "std"])} for v in order})
