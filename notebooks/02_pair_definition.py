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
# it with *neighbouring clips* at a gap drawn from CVRL's decreasing density and *independent
# clips* anywhere in the video (rho sampling, the default recipe's choice) at three seeds, and
# *intra-video negatives* (another window of the same video, disjoint from the positives, used
# as a negative, as TCLR's local-local loss) at three seeds; then, also at three seeds, *three*
# independent clips (as rho-BYOL) and TSN's jitter of the whole-video views. Everything else
# (long views, temporal hard negatives, budget) is fixed.
#
# **Runtime.** 0.1 min on 2 CPU cores inside `make figures` (1 notebook(s) at a time; runs already
# in `runs/` are loaded, not retrained); its 18 runs trained for 8.8 h (one thread each); about a
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
import numpy as np
import pandas as pd

from vcl_core.data.views import ViewSpec, cvrl_gap, sample_negative_starts, sample_starts, window_indices
from vcl_core.experiment import METRIC, REFERENCE, compare, notebook_setup, save_results, summarize, verdict
from vcl_core.viz import factor_bars, savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment(base=REFERENCE)  # ablations vary one thing around the reference recipe

# %% [markdown]
# ## How CVRL draws the gap between two clips
# With `M` frames of room, the gap `d` has density `p(d) = 2 (1 - d/M) / M`: near clips are
# likely, far ones possible. `vcl_core.data.views.cvrl_gap` draws it by inverting the CDF.

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
# ## One video's views on its timeline
# Every training sample is a handful of *views* of one video: whole-video views (one frame
# from each of 16 equal segments, grey) and short clips (8 frames, every second frame,
# blue). The positive policy decides where the clips sit; an intra-video negative (red) is
# another window of the same video that overlaps no positive. Change the seed or the policy
# and run the cell again.

# %%
n = 48  # frames in a benchmark video
whole, clip = ViewSpec(16, 1, whole=True, jitter="shared"), ViewSpec(8, 2)  # the default views
layouts = {"same": 2, "cvrl": 2, "rho": 3, "same + 1 negative": 2}
fig, axes = plt.subplots(len(layouts), 1, figsize=(8, 6.5), sharex=True)
for ax, (policy, k) in zip(axes, layouts.items()):
    rng = np.random.default_rng(3)
    starts, gap = sample_starts(rng, n, [whole] + [clip] * k, policy.split()[0])
    rows = [("whole", window_indices(0, whole, n, rng=rng), "0.5")]
    rows += [(f"clip {i}", window_indices(st, clip, n), "C0") for i, st in enumerate(starts[1:])]
    if "negative" in policy:
        taken = [(st, st + clip.span(n)) for st in starts[1:]]
        rows += [(f"negative {i}", window_indices(st, clip, n), "C3")
                 for i, st in enumerate(sample_negative_starts(rng, n, clip.span(n), 1, taken))]
    for y, (_, idx, colour) in enumerate(rows):
        ax.scatter(idx, [y] * len(idx), s=14, color=colour)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_title(f"{policy}" + (f" (gap between the two clips: {gap} frame{'s' * (gap != 1)})" if policy == "cvrl" else ""),
                 fontsize=9, loc="left")
axes[-1].set_xlabel(f"frame of a {n}-frame video")
savefig(fig, "02_timeline", ctx.figures)

# %% [markdown]
# ## Temporal hard negatives
# Besides other videos, the default recipe gives every key clip a negative made from the key
# itself: the clip played backwards (`reverse`). It has the key's appearance and the opposite
# motion, so only the direction of motion tells them apart. For whole-video views it plays
# the view backwards *and* turns it by 180 degrees (`rotate_reverse`): every motion is then
# reversed twice (back to the original direction) while the order of events stays reversed,
# a negative for progression only. Below, a dot drifting right with a flash at the end.

# %%
import torch

from vcl_core.train.objective import temporal_negatives

t, w = 6, 8
toy = torch.zeros(1, 1, t, w, w)
for k in range(t):
    toy[0, 0, k, 2, 1 + k] = 1.0   # the dot drifts right on row 2
toy[0, 0, t - 1, 6, 6] = 2.0       # a flash in the last frame
(rev,) = temporal_negatives(toy, "reverse")
(rot,) = temporal_negatives(toy, "rotate_reverse")
fig, axes = plt.subplots(3, t, figsize=(8, 4))
for r, (name, clip) in enumerate([("clip", toy), ("reverse", rev), ("rotate_reverse", rot)]):
    for k in range(t):
        axes[r, k].imshow(clip[0, 0, k], cmap="magma", vmin=0, vmax=2)
        axes[r, k].set_xticks([]), axes[r, k].set_yticks([])
    axes[r, 0].set_ylabel(name, fontsize=8)
savefig(fig, "02_temporal_negatives", ctx.figures)

# %% [markdown]
# ## Three pair definitions and intra-video negatives, three seeds
# Same-segment positives (the reference), neighbouring clips at CVRL's gap, and two clips
# drawn independently anywhere in the video (rho sampling with two clips: the default
# recipe's choice, so these are the default's runs); the default budget (1,000 steps; by then
# the default's shape and order are flat and twice the budget adds about 5 points of motion,
# one seed: notebook 01).
#
# **Claim tested.** Clips from different moments teach more about time than two views of one
# segment (CVRL's argument): *neighbours* and *independent clips* beat *same segment* on
# motion or order, beyond the seed spread.
#
# **Second claim.** A negative from the same video teaches what changes over it (TCLR's
# argument): one more window of the video, disjoint from the positive clips, as a negative
# (`data.intra_negatives=1`, on the same-segment positives) beats *same segment* on motion or
# order, beyond the seed spread. Where the video has no room for the window beside both
# positive clips it only avoids the anchor clip (`vcl_core.data.views.sample_negative_starts`).

# %%
variants = {
    "same segment": [],
    "neighbours (CVRL gap)": ["data.policy=cvrl"],
    "independent clips (default)": ["data.policy=rho"],
    "intra-video negatives": ["data.intra_negatives=1"],
}
df = exp.sweep(variants, ctx.seeds)
bounds = ctx.bounds()
print(summarize(df, METRIC).to_string(index=False))

# %% [markdown]
# ## Three clips and TSN jitter, three seeds
# Three independent clips per video (rho-BYOL's sampling: every pair of the three is a
# positive), and one sampling choice of the whole-video views: TSN's per-segment jitter (each
# frame at random within its segment) against the default shared offset (all frames move
# together, evenly spaced). Notebook 01 shows what the jitter does to the supervised
# ceiling. Both were moved from one seed to three after a one-seed lead.
#
# **Third claim.** More clips per video teach more (rho-BYOL's finding, for ρ = 3 against
# 2): *rho clips (3)* beats *independent clips (default)* on motion or order, beyond the seed
# spread.
#
# **Fourth claim.** TSN's jitter makes the whole-video views a stronger augmentation:
# *TSN jitter (long views)* beats *same segment*, the same recipe with the shared offset, on
# motion or order, beyond the seed spread.

# %%
extras = {
    "rho clips (3)": ["data.policy=rho", "data.num_views=3"],
    "TSN jitter (long views)": ["data.long_jitter=segment"],
}
dfx = exp.sweep(extras, ctx.seeds)
print(summarize(dfx, METRIC).to_string(index=False))

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), sharey=True, gridspec_kw={"width_ratios": [3, 2]})
factor_bars(df, metric=METRIC, chance=ctx.chance, bounds=bounds, ax=axes[0],
            title=f"pair definitions, {len(ctx.seeds)} seeds (whole-video view)")
factor_bars(dfx, metric=METRIC, chance=ctx.chance, bounds=bounds, ax=axes[1],
            title=f"three clips, TSN jitter, {len(ctx.seeds)} seeds")
savefig(fig, "02_pair_definition", ctx.figures)

# %% [markdown]
# ## The answer

# %%
claims = [verdict(df, a, "same segment", f, bounds)
          for a in ("neighbours (CVRL gap)", "independent clips (default)", "intra-video negatives")
          for f in ("motion", "order")]
both = pd.concat([df, dfx])
claims += [verdict(both, a, b, f, bounds) for a, b in (("rho clips (3)", "independent clips (default)"),
                                                       ("TSN jitter (long views)", "same segment"))
           for f in ("motion", "order")]
for v in claims:
    print(v)
conclusion = ("Pair definitions (whole-video linear probe, seen combinations, mean ± "
              f"std over {len(ctx.seeds)} seeds, same budget): " + "; ".join(map(str, claims)) + ". Ranking — "
              + compare(both) + ".")
print(conclusion)
save_results(ctx.results_path("02_pair_definition"), "02_pair_definition", pd.concat([df, dfx]), SMOKE, conclusion,
             claims)
