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
# # 01 · The benchmark: its floor, its ceiling, and what an encoder must keep to reach it
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/01_benchmark.ipynb)
#
# **Question.** Can this benchmark rank video representations? Each video carries three
# independent factors: `shape` (appearance), `motion` (short-term: which way a checkerboard
# texture drifts inside the object) and `order` (long-term: the order of three one-second
# phases, a horizontal swing H, a vertical swing V and an orbit O). A benchmark that ranks
# anything needs a **floor** at chance (appearance alone, or an untrained network, must not
# read the temporal factors), a **ceiling** near 100% (the same encoder trained *with labels*
# must read every factor), and a budget in which the ceiling is reached. This notebook checks
# all three, and measures what the encoder needs to reach the ceiling: an embedding that keeps
# time, and a fast pathway that sees motion.
#
# **Runtime.** 2 min on 2 CPU cores inside `make figures` (1 notebook(s) at a time; runs already in
# `runs/` are loaded, not retrained); its 16 runs trained for 5.6 h (one thread each); about a
# minute with `SMOKE = True`. Generated from `figures/runtimes.json`, which `make figures` writes,
# and the notebook's results.

# %% tags=["parameters"]
# SMOKE = True shrinks everything so CI runs the notebook in about a minute
SMOKE = False
# random seeds of the floor and the ceiling (error bars are the std over seeds)
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
import numpy as np
import pandas as pd
import seaborn as sns

from vcl_core.data import load_index, read_frames
from vcl_core.data.synthetic import MOTIONS, ORDERS, SHAPES, SynthConfig, read_drift, render_video
from vcl_core.data.synthetic import _group_params as scene
from vcl_core.eval.baselines import FrameAverageEncoder, MeanFrameEncoder
from vcl_core.experiment import (CEILING, RANDOM_INIT, compare, evaluate_baseline, notebook_setup, save_results, summarize,
                                  verdict)
from vcl_core.viz import factor_bars, savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment()
FACTORS = ["shape", "motion", "order"]

# %% [markdown]
# ## What a video looks like
# One video per class of the temporal factors; eight frames spread over its 3 seconds. The
# title of each frame is the phase it belongs to (from the per-frame annotations in
# `frames.csv`).

# %%
index = load_index(ctx.data)
frames_csv = pd.read_csv(f"{ctx.data}/frames.csv")
print(f"{len(index)} videos: {len(index.split('train'))} train, {len(index.split('test'))} test; "
      f"label columns {index.label_columns}")

rows = [("order", c) for c in index.classes("order")[:3]] + [("motion", c) for c in index.classes("motion")]
fig, axes = plt.subplots(len(rows), 8, figsize=(12, 1.5 * len(rows)))
for r, (factor, cls) in enumerate(rows):
    rec = next(x for x in index.records if x.labels[factor] == cls)
    ann = frames_csv[frames_csv.video_id == rec.video_id].set_index("frame")
    idx = np.linspace(0, len(ann) - 1, 8).round().astype(int)
    for k, frame in enumerate(read_frames(rec.path, idx)):
        axes[r, k].imshow(frame, interpolation="nearest")
        axes[r, k].set_xticks([]), axes[r, k].set_yticks([])
        axes[r, k].set_title(ann.loc[idx[k], "phase"], fontsize=8)
    axes[r, 0].set_ylabel(f"{factor}\n{cls}", fontsize=8, rotation=0, ha="right", va="center")
savefig(fig, "01_benchmark_gallery", ctx.figures, raster=True)

# %% [markdown]
# ## Is the drift visible at every frame spacing an encoder uses?
# A periodic texture moved by half its period looks as if it moved the other way (or not at
# all): *aliasing*. An encoder that samples frames `s` apart sees the drift only if `s` frames
# move the texture by less than half a period. Here the texture moves by exactly one period
# over the 48-frame video (whatever its period, which is drawn per video), so frames up to 23
# apart show the direction. The check below needs no learning: `read_drift` measures the
# translation of the pixels inside the object between frames `s` apart (Lucas-Kanade) and
# names the nearest direction. The fast pathway reads frames 1-2 apart in clips and 3 apart in
# the whole-video view; the slow pathway 4-8 and 12.

# %%
cfg32 = SynthConfig(size=32)
videos = []
for i in range(16 if SMOKE else 96):
    m = MOTIONS[i % 4]
    frames, notes = render_video(cfg32, SHAPES[i % 2], m, ORDERS[i % 6], scene(np.random.default_rng([9, i])),
                                 np.random.default_rng([7, i]))
    videos.append((m, frames, notes))
spacings = [1, 2, 3, 4, 6, 8, 12, 16, 20, 24]
aliasing = pd.DataFrame([{"frames apart": s, "drift read correctly": np.mean([read_drift(f, n, s) == m
                                                                              for m, f, n in videos])}
                         for s in spacings])
fig, ax = plt.subplots(figsize=(6, 3))
sns.lineplot(data=aliasing, x="frames apart", y="drift read correctly", marker="o", ax=ax)
ax.axhline(0.25, color="k", ls=":")
ax.axvline(24, color="r", ls="--", lw=1)
ax.set(ylim=(0, 1.05), title="hand-made drift reading vs frame spacing (dotted: chance; red: half a period)")
savefig(fig, "01_benchmark_aliasing", ctx.figures)
print(aliasing.to_string(index=False))

# %% [markdown]
# ## Floor and ceiling
# * `mean frame`: the time-averaged frame on an 8x8 grid (pixels).
# * `frame average`: a fixed random 2D CNN applied to every frame, averaged over time. It
#   sees appearance at full detail, but is blind to frame order by construction.
# * `random init`: the fast/slow encoder before any training.
# * `supervised`: the same encoder trained with the labels of all three factors, on
#   whole-video views (`vcl_core.experiment.CEILING`): the ceiling.
#
# Probes are linear, on the whole-video view, on test videos from scene groups never seen in
# training. A few (shape, motion) pairs occur only in test; the headline scores the test
# videos whose combination was seen in training, and the unseen combinations get their own
# column (compositional generalisation, a harder question).

# %%
cfg = exp.config([], seed=0)
baselines = [pd.DataFrame(evaluate_baseline(enc, cfg, variant=name))
             for name, enc in [("mean frame", MeanFrameEncoder()), ("frame average", FrameAverageEncoder())]]
floor_ceiling = {"random init": RANDOM_INIT, "supervised": CEILING}
df = pd.concat(baselines + [exp.sweep(floor_ceiling, ctx.seeds)])
table = pd.concat([summarize(df, m, "whole").assign(metric=m)
                   for m in ("linear_top1_seen", "linear_top1_unseen")])
print(table.pivot_table(index=["variant", "factor"], columns="metric", values="mean").round(3).to_string())
fig, ax = plt.subplots(figsize=(9, 3.6))
factor_bars(df, metric="linear_top1_seen", chance=ctx.chance, ax=ax,
            title="floor vs supervised ceiling, seen combinations (dotted: chance)")
savefig(fig, "01_benchmark_floor_ceiling", ctx.figures)

# %% [markdown]
# ## What the ceiling needs from the encoder
# The same supervised training (`(labels)`) with one thing changed at a time, one seed each,
# and the untrained network with each pooling (`random init, ...`):
# * `mean pool`: the video embedding averages the time tokens of each stream (SlowFast's
#   head). An average cannot tell "A then B" from "B then A", so order must be squeezed into
#   the channels before the average.
# * `segments`: the tokens averaged within four parts of the clip and concatenated: order is
#   kept by position in the vector, but an untrained network then already reads some order.
# * `time pool` (the default): the mean plus four learned *temporal profiles* (weighted sums of
#   the tokens over relative time, e.g. "the first third minus the last"). They start at
#   zero, so an untrained network reads no order through them, and training shapes them.

# %%
choices = {"time pool (default)": [], "mean pool": ["model.pool=mean"], "segments": ["model.pool=segments"]}
ablation = exp.sweep({f"{k} (labels)": CEILING + v for k, v in choices.items()}, ctx.seeds[:1])
floors = exp.sweep({f"random init, {k}": RANDOM_INIT + v for k, v in choices.items()}, ctx.seeds[:1])
both = pd.concat([ablation, floors])
fig, ax = plt.subplots(figsize=(10, 3.6))
factor_bars(both, metric="linear_top1_seen", chance=ctx.chance, ax=ax,
            title="what the ceiling needs (1 seed): the pooling over time")
savefig(fig, "01_benchmark_encoder", ctx.figures)
print(summarize(both, "linear_top1_seen", "whole").to_string(index=False))

# %% [markdown]
# ## Budgets from learning curves
# Probe accuracy against optimiser steps, read from the weights each run keeps along the way
# (`train.snapshots`): the supervised ceiling and the default self-supervised recipe of
# `vcl pretrain`. A budget is right when the curves have flattened. The default is also trained
# for twice its budget (2,000 steps, its learning-rate schedule stretched to match): what a
# longer run would still gain is read at its end, not guessed from the slope at 1,000. The
# curves are one seed; both budgets' ends are also trained at every seed, and the bars on the
# curves are their mean ± std: whether the extra steps buy more than the seed spread.

# %%
LONG = "default recipe, 2,000 steps"
budgets = {"supervised": CEILING, "default recipe": [],
           LONG: ["train.steps=2000", "train.snapshots=[500,1000,1500]"]}
curves = exp.curves({k: v for k, v in budgets.items() if not SMOKE or k != LONG}, ctx.seeds[:1])
# the end of both self-supervised budgets at every seed (in smoke runs both are the same tiny run)
ends = exp.sweep({"default recipe": budgets["default recipe"], LONG: budgets[LONG]}, ctx.seeds)
sel = curves[(curves.metric == "linear_top1_seen") & (curves.protocol == "whole")]
colours = dict(zip(FACTORS, sns.color_palette(n_colors=len(FACTORS))))
fig, ax = plt.subplots(figsize=(9, 3.6))
sns.lineplot(data=sel, x="step", y="value", hue="factor", hue_order=FACTORS, palette=colours, style="variant",
             marker="o", ax=ax)
end_stats = summarize(ends, "linear_top1_seen", "whole").set_index(["variant", "factor"])
for v, step in (("default recipe", exp.config([], 0).train.steps), (LONG, exp.config(budgets[LONG], 0).train.steps)):
    for k, f in enumerate(FACTORS):  # side by side, 40 steps apart, so that bars of similar values stay apart
        m, sd = end_stats.loc[(v, f), ["mean", "std"]]
        ax.errorbar(step + 40 * (k - 1), m, yerr=sd, color=colours[f], capsize=4, lw=1.5, zorder=5)
ax.set(ylim=(0, 1.02), ylabel="linear top-1 (whole, seen)",
       title=f"learning curves (seed 0; bars: mean ± std of {len(ctx.seeds)} seeds at each budget's end)")
ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)  # beside the curves, not on them
savefig(fig, "01_benchmark_curves", ctx.figures)

# %%
t = summarize(df, "linear_top1_seen", "whole").set_index(["variant", "factor"])
tu = summarize(df, "linear_top1_unseen", "whole").set_index(["variant", "factor"])["mean"]
a = summarize(both, "linear_top1_seen", "whole").set_index(["variant", "factor"])["mean"]
pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
floor_gap = max(t.loc[("frame average", f), "mean"] - ctx.chance[f] for f in ("motion", "order"))
rand_gap = max(t.loc[("random init", f), "mean"] - ctx.chance[f] for f in ("motion", "order"))
ceiling = {f: (t.loc[("supervised", f), "mean"], t.loc[("supervised", f), "std"]) for f in FACTORS}
# how far each run's probes move between its last two evaluated steps (has the curve flattened?)
steps = sel.groupby("variant")["step"].apply(lambda s: sorted(s.unique())[-2:])
move = {v: float((sel[(sel.variant == v) & (sel.step == s[-1])].groupby("factor")["value"].mean()
                  - sel[(sel.variant == v) & (sel.step == s[0])].groupby("factor")["value"].mean()).abs().max())
        for v, s in steps.items()}
alias_ok = aliasing[aliasing["frames apart"] <= 16]["drift read correctly"].min()
conclusion = (
    f"The drift is read from the pixels at every frame spacing up to 16 (worst {pct(alias_ok)}%) and at chance at "
    f"24 (half a period): no stride the encoders use aliases. Appearance alone stays at most {pct(max(0, floor_gap))} "
    f"points above chance on the temporal factors (frame average: motion {pct(t.loc[('frame average', 'motion'), 'mean'])}%, "
    f"order {pct(t.loc[('frame average', 'order'), 'mean'])}%) while it reads shape at "
    f"{pct(t.loc[('frame average', 'shape'), 'mean'])}%; the untrained encoder is at most {pct(max(0, rand_gap))} points "
    f"above chance on them. Trained with labels on whole-video views, the same encoder reaches "
    + ", ".join(f"{f} {pct(m)}±{pct(s)}" for f, (m, s) in ceiling.items())
    + f" on seen combinations ({len(ctx.seeds)} seeds; unseen combinations: "
    + ", ".join(f"{f} {pct(tu[('supervised', f)])}" for f in FACTORS) + "). "
    f"With a mean over time instead of the time pool the ceiling reads order at "
    f"{pct(a[('mean pool (labels)', 'order')])}% and motion at {pct(a[('mean pool (labels)', 'motion')])}%; "
    f"with segments, order {pct(a[('segments (labels)', 'order')])}%, but the untrained network already reads "
    f"order at {pct(a[('random init, segments', 'order')])}% through them (time pool: "
    f"{pct(a[('random init, time pool (default)', 'order')])}%). Between the last two points of its learning curve "
    + "; ".join(f"the {v} run's probes move by at most {pct(move[v])} points (steps {steps[v][0]} to {steps[v][-1]})"
                for v in move) + ".")
if LONG in move:  # the end of each budget at every seed
    floor = summarize(df, "linear_top1_seen", "whole")
    conclusion += (f" Twice the budget ({len(ctx.seeds)} seeds): "
                   + "; ".join(str(verdict(ends, LONG, "default recipe", f, floor)) for f in FACTORS) + ".")
print(conclusion)
save_results(ctx.results_path("01_benchmark"), "01_benchmark", pd.concat([df, both, ends]), SMOKE, conclusion,
             ranking=compare(df),
             aliasing=aliasing.to_dict(orient="list"),
             curves=sel.groupby(["variant", "factor", "step"])["value"].mean().reset_index().to_dict(orient="list"))
