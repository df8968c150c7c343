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
# # 07 · The evaluation suite: every protocol, written down next to its number
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/07_evaluation_suite.ipynb)
#
# **Question.** What does each protocol say about the main recipes, and do they agree? Every
# block of the evaluation suite runs on the frozen encoders of the three main recipes (the
# reference, MoCo with a queue, BYOL; three seeds each, notebook 03's runs) and of the floor and
# the ceiling (random initialisation and the supervised encoder; seed 0, notebook 01's runs).
# Each number below carries its protocol: linear probe, kNN, retrieval R@k and fine-tuning
# (never mixed), temporal sensitivity probes (playback speed, forward / reversed / shuffled
# order), robustness to perturbations, seen vs unseen factor combinations, representation
# diagnostics, and captioning. `vcl_core.eval.schema.PROTOCOL_DOCS` documents each in one line.
#
# **Runtime.** 0.2 min on 2 CPU cores inside `make figures` (1 notebook(s) at a time; runs already
# in `runs/` are loaded, not retrained); its 11 runs trained for 3.7 h (one thread each); about a
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

from vcl_core.eval.schema import PROTOCOL_DOCS
from vcl_core.experiment import CEILING, RANDOM_INIT, REFERENCE, notebook_setup, save_results
from vcl_core.viz import savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment(base=REFERENCE)  # ablations vary one thing around the reference recipe
for name, doc in PROTOCOL_DOCS.items():
    print(f"{name:>18}: {doc}")

# %%
queue = 64 if SMOKE else 1024
recipes = {
    "reference": [],
    "MoCo queue": ["method.name=moco", f"method.queue_size={queue}"],
    "negative-free (BYOL)": ["method.name=byol", "method.fast_contrast=0", "method.temporal_negatives=none",
                             "method.long_negatives=none", "method.global_local=0"],
}
blocks = ("probes", "finetune", "temporal", "robustness", "generalisation", "diagnostics", "captioning")
# the floor and the ceiling are notebook 01's runs of the default encoder (no reference base), loaded from the cache
rec = pd.concat([ctx.experiment().records({"random init": RANDOM_INIT}, ctx.seeds[:1], blocks=blocks),
                 exp.records(recipes, ctx.seeds, blocks=blocks),
                 ctx.experiment().records({"supervised": CEILING}, ctx.seeds[:1], blocks=blocks)])

# %% [markdown]
# ## What a linear probe can and cannot see, on toy features
# Every number below is a probe on *frozen* features. A linear probe (logistic regression on
# standardised features) reads a factor only when the factor is a linear direction of the
# embedding; kNN reads it when videos that share it are neighbours; chance is what always
# answering the most frequent training class scores. Two toy embeddings of the same 4-class
# label: one holds it along a direction (plus a strong nuisance), one as the *sign pattern* of
# two coordinates (XOR-like, no linear direction). Change `noise` or the layout and rerun.

# %%
import numpy as np

from vcl_core.eval.probes import chance_level, knn_top1, linear_probe

rng = np.random.default_rng(0)
y_train, y_test = rng.integers(0, 4, 400), rng.integers(0, 4, 200)
noise = 1.0
def linear_code(y): return np.eye(4)[y] * 2 + rng.normal(0, noise, (len(y), 4)) + rng.normal(0, 5, (len(y), 1))
def xor_code(y):
    signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])[y]
    a = rng.normal(0, 1, (len(y), 1))
    return np.hstack([a, a * signs[:, :1] * signs[:, 1:]]) + rng.normal(0, 0.05, (len(y), 2))
for name, code in {"linear direction": linear_code, "sign pattern": xor_code}.items():
    xtr, xte = code(y_train), code(y_test)
    print(f"{name:>16}: linear {linear_probe(xtr, y_train, xte, y_test):.2f}  "
          f"kNN {knn_top1(xtr, y_train, xte, y_test):.2f}  chance {chance_level(y_train, y_test):.2f}")

# %% [markdown]
# ## Protocols side by side (whole-video view; fine-tuning updates the encoder)

# %%
sel = rec[(rec.view == "whole") & (((rec.block == "probes") & rec.protocol.isin(["linear", "knn"]) & (rec.metric == "top1"))
                                   | ((rec.block == "probes") & (rec.metric == "r@1"))
                                   | (rec.block == "finetune"))]
sel = sel.assign(protocol_metric=sel.protocol + " " + sel.metric)
print(sel.pivot_table(index=["variant", "task"], columns="protocol_metric", values="value", sort=False)
      .mul(100).round(1).to_string())

# %%
temporal = rec[(rec.block == "temporal") & (rec.view == "clip") & (rec.protocol == "linear")]
rob = rec[(rec.block == "robustness") & (rec.view == "whole") & (rec.protocol == "linear") & (rec.metric == "drop")]
gen = rec[(rec.block == "generalisation") & (rec.view == "whole") & (rec.protocol == "linear") & (rec.metric == "top1")]
diag = rec[(rec.block == "diagnostics") & (rec.view == "whole")]
cap = rec[(rec.block == "captioning") & (rec.protocol == "caption_decoder") & (rec.metric == "slot_accuracy")
          & (rec.condition == "")]
fig, axes = plt.subplots(2, 3, figsize=(18, 8.5))
sns.barplot(data=sel[sel.task.isin(["motion", "order"])], x="protocol_metric", y="value", hue="variant",
            ax=axes[0, 0], errorbar="sd")
axes[0, 0].set(title="motion and order: protocols (mean of the two factors)", xlabel="", ylabel="accuracy / recall")
sns.barplot(data=temporal, x="task", y="value", hue="variant", ax=axes[0, 1], errorbar="sd")
axes[0, 1].set(title="temporal sensitivity probes (clip level)", xlabel="", ylabel="linear top-1")
sns.barplot(data=rob, x="condition", y="value", hue="variant", ax=axes[0, 2], errorbar="sd")
axes[0, 2].set(title="robustness: drop in linear top-1 (all factors)", xlabel="", ylabel="points lost (fraction)")
sns.barplot(data=gen[gen.task == "motion"], x="condition", y="value", hue="variant", ax=axes[1, 0], errorbar="sd")
axes[1, 0].set(title="motion on seen vs unseen (shape, motion) combinations", xlabel="", ylabel="linear top-1")
d = diag.pivot_table(index="variant", columns="protocol", values="value").reset_index()  # mean over seeds
sns.scatterplot(data=d, x="uniformity", y="effective_rank", hue="variant", hue_order=list(rec.variant.unique()),
                s=90, ax=axes[1, 1])
axes[1, 1].set(title="diagnostics (whole-video view)")
sns.barplot(data=cap, x="task", y="value", hue="variant", ax=axes[1, 2], errorbar="sd")
axes[1, 2].set(title="captioning: per-slot accuracy", xlabel="", ylabel="accuracy")
for ax in axes.flat:
    if ax.get_legend():
        ax.legend(fontsize=7)
savefig(fig, "07_evaluation_suite", ctx.figures)

# %%
lin = rec[(rec.block == "probes") & (rec.view == "whole") & (rec.protocol == "linear") & (rec.metric == "top1")]
ft = rec[(rec.block == "finetune") & (rec.view == "whole")]
def cell(x, variant, task):
    """mean ± std over seeds in % (the std is 0 for one seed)"""
    v = 100 * x[(x.variant == variant) & (x.task == task)].value
    return f"{v.mean():.0f}" + (f" ± {v.std():.0f}" if len(v) > 1 else "")


speed = temporal[temporal.task == "playback_speed"]
conclusion = ("Linear probe vs fine-tuning (whole view, all test videos: unseen combinations included), "
              "motion / order in %, mean ± std over "
              f"{len(ctx.seeds)} seeds (floor and ceiling: seed 0): "
              + "; ".join(f"{v} {cell(lin, v, 'motion')} / {cell(lin, v, 'order')} vs "
                          f"{cell(ft, v, 'motion')} / {cell(ft, v, 'order')}" for v in lin.variant.unique())
              + ". Playback-speed probe (clip level): "
              + ", ".join(f"{v} {cell(speed, v, 'playback_speed')}%" for v in speed.variant.unique())
              + ". Motion, linear probe on seen / unseen (shape, motion) combinations: "
              + ", ".join(f"{v} {cell(gen[gen.condition == 'seen'], v, 'motion')} / "
                          f"{cell(gen[gen.condition == 'unseen'], v, 'motion')}" for v in gen.variant.unique()) + ".")
print(conclusion)
tidy = lin.assign(protocol="whole", factor=lin.task, metric="linear_top1")[
    ["variant", "seed", "protocol", "factor", "metric", "value"]]
save_results(ctx.results_path("07_evaluation_suite"), "07_evaluation_suite", tidy, SMOKE, conclusion,
             records=rec.to_dict(orient="records"))
