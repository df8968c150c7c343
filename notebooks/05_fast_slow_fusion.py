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
# # 05 · Fast and slow pathways, and how they inform each other
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/05_fast_slow_fusion.ipynb)
#
# **Question.** Which encoder design learns which factor? A slow pathway alone (every 4th
# frame, many channels), a fast pathway alone (every frame, few channels), and the two
# together, fused by concatenation (SlowFast's head). Same recipe, same budget (the default's
# 1,000 steps; by then its shape and order are flat and twice the budget adds about 5 points of
# motion, one seed: notebook 01), three seeds each, drawn
# between the random-init floor and the supervised ceiling.
#
# **Claim tested.** The two pathways together beat the slow pathway alone on the short-term
# factor (motion: the fast pathway's job) and the fast pathway alone on appearance and the
# long-term factor (shape, order: the slow pathway's job). A difference counts when the
# mean ± std intervals over seeds do not overlap (`vcl_core.experiment.verdict`).
#
# Then the ways the streams can inform each other at the top of the network, three seeds each
# against concatenation: gating (each stream gates the other) and cross-attention (slow time
# tokens attend to fast ones); and, also three seeds against concatenation, the same network on
# clips standardised first (`model.input_norm=clip`, which undoes the brightness and contrast
# of the colour jitter). Last, temporal attention pooling, three seeds against the time pool,
# with the moments of a video it weighs.
#
# **Runtime.** 0.2 min on 2 CPU cores inside `make figures` (1 notebook(s) at a time; runs already
# in `runs/` are loaded, not retrained); its 21 runs trained for 9.9 h (one thread each); about a
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
import seaborn as sns
import torch

from vcl_core.data import load_index, read_frames
from vcl_core.data.augment import center_view
from vcl_core.data.views import ViewSpec, window_indices
from vcl_core.experiment import METRIC, REFERENCE, compare, notebook_setup, save_results, summarize, verdict
from vcl_core.models import summary, training_speed
from vcl_core.train import build_objective, load_run
from vcl_core.viz import factor_bars, savefig

ctx = notebook_setup(DATA, RUNS, FIGURES, SMOKE, SEEDS)
exp = ctx.experiment(base=REFERENCE)  # ablations vary one thing around the reference recipe

# %% [markdown]
# ## The encoder on a toy clip
# The *fast* pathway reads every frame (as frame differences, `model.fast_input=diff`) with
# few channels (`beta` times the slow width); the *slow* pathway reads every `alpha`-th frame
# with many channels. After each stage a lateral connection adds the fast features, strided
# in time to the slow rate, into the slow pathway; the fusion then joins both streams' time
# tokens into one embedding whose first part is the fast stream's. Change `alpha`, `beta` or
# `fusion` and rerun: the shapes follow.

# %%
from vcl_core.models import FastSlowConfig, FastSlowEncoder

toy = FastSlowEncoder(FastSlowConfig(widths=(8, 16, 32), alpha=4, beta=0.5, fusion="concat")).eval()
x = torch.randn(2, 3, 16, 32, 32)  # (batch, RGB, frames, height, width)
with torch.no_grad():
    fast_tok, slow_tok = toy.tokens(x)
    emb = toy(x)
print(f"fast tokens {tuple(fast_tok.shape)}: one per frame; slow tokens {tuple(slow_tok.shape)}: one per {toy.cfg.alpha} frames")
print(f"embedding {tuple(emb.shape)}: fast part {toy.stream_slice('fast')}, slow part {toy.stream_slice('slow')}")
# the lateral connections at work: change only frames the slow pathway never reads (1, 2, 3, 5, ...)
x2 = x.clone()
x2[:, :, [i for i in range(16) if i % toy.cfg.alpha]] += 1.0
with torch.no_grad():
    _, slow_tok2 = toy.tokens(x2)
print(f"slow tokens moved by {float((slow_tok2 - slow_tok).abs().max()):.3f} through the lateral connections "
      "(0 without them: model.lateral=false)")

# %% [markdown]
# ## Three encoders, one recipe, three seeds

# %%
encoders = {
    "slow only": ["model.pathways=slow", "method.fast_contrast=0"],
    "fast only": ["model.pathways=fast", "method.fast_contrast=0"],
    "fast+slow, concat": [],
}
df = exp.sweep(encoders, ctx.seeds)
bounds = ctx.bounds()
print(summarize(df, METRIC).to_string(index=False))

# %% [markdown]
# ## Fusion heads and standardised input, three seeds
# Gating and cross-attention change only the top of the network, where the lateral
# connections have already carried the fast stream into the slow one. Standardising each clip
# changes the input instead. Each is read against concatenation with `verdict`, as the claim
# above.

# %%
heads = {
    "fast+slow, gate": ["model.fusion=gate"],
    "fast+slow, cross-attention": ["model.fusion=xattn"],
}
inputs = {"fast+slow, standardised input": ["model.input_norm=clip"]}
against_concat = {**heads, **inputs}
dfh = exp.sweep(against_concat, ctx.seeds)
print(summarize(dfh, METRIC).to_string(index=False))
fusions = [verdict(pd.concat([df, dfh]), name, "fast+slow, concat", f, bounds)
           for name in against_concat for f in ("shape", "motion", "order")]
for v in fusions:
    print(v)
variants = {**encoders, **heads, **inputs}

# %% [markdown]
# ## Cost per clip
# Forward GFLOPs of one training long view (`data.long_frames`, 16 frames; PyTorch's flop counter) and the
# encoder's training speed measured here, now, under the same conditions for every variant: forward and
# backward of a batch of 16 such clips, best of 5 (the runs' own logged throughput is not comparable: they
# trained at different times beside different jobs).

# %%
costs = []
for name, ov in variants.items():
    cfg = exp.config(ov, ctx.seeds[0])
    enc = build_objective(cfg).evaluation_encoder()  # the trained weights do not change the cost
    clip = (3, cfg.data.long_frames, cfg.augment.crop_size, cfg.augment.crop_size)
    s = summary(enc, (1, *clip))
    costs.append({"variant": name, "params": s.total_params, "gflops_per_clip": s.flops_per_sample / 1e9,
                  "train_clips_per_s": training_speed(enc, (16, *clip))})
costs = pd.DataFrame(costs)
print(costs.to_string(index=False))

# %% [markdown]
# ## Temporal attention pooling, three seeds, and where it looks
# The concat model with attention pooling over time (`model.pool=attention`: a softmax over
# the time tokens of each pathway weighs them into one vector) instead of the time pool,
# which keeps a few time bins in order. It was moved from one seed to three after its first
# seed lost most of the order. For a few test videos of seed 0 we plot the weights over the
# frames of the whole-video view, with the phase boundaries (from `frames.csv`) as dotted lines.
#
# **Claim tested.** Attention that weighs the temporal segments (the source document's
# proposal) reads the long-term factor better than the time pool: *concat + attention pool*
# beats *fast+slow, concat* on order, beyond the seed spread.

# %%
att_ov = ["model.pool=attention"]
dfatt = exp.sweep({"concat + attention pool": att_ov}, ctx.seeds)
print(summarize(dfatt, METRIC).to_string(index=False))
cfg, enc = load_run(exp.trained("concat + attention pool", att_ov, ctx.seeds[0]))  # its weights, not its record
index = load_index(ctx.data)
tests = index.split("test")[:4]
view = ViewSpec(cfg.eval.whole_frames, 1, whole=True)
fig, axes = plt.subplots(1, len(tests), figsize=(4 * len(tests), 2.8), sharey=True)
for ax, rec in zip(np.atleast_1d(axes), tests):
    n = len(pd.read_csv(f"{ctx.data}/frames.csv", usecols=["video_id"]).query("video_id == @rec.video_id"))
    idx = window_indices(0, view, n)
    clip = center_view(torch.from_numpy(read_frames(rec.path, idx, (cfg.data.short_side,) * 2)), cfg.augment.crop_size)
    with torch.no_grad():
        _, w = enc.forward_with_attention(clip[None])
    ax.plot(idx, w["fast"][0].numpy(), "o-", label="fast")
    ax.plot(idx[:: cfg.model.alpha], w["slow"][0].numpy(), "s--", label="slow")
    for b in (n / 3, 2 * n / 3):
        ax.axvline(b, color="k", ls=":")
    ax.set(title=f"order {rec.labels['order']}", xlabel="frame")
np.atleast_1d(axes)[0].set_ylabel("attention weight")
np.atleast_1d(axes)[0].legend(fontsize=8)
savefig(fig, "05_temporal_attention", ctx.figures)

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 3.8), gridspec_kw={"width_ratios": [3, 2]})
factor_bars(pd.concat([df, dfh, dfatt]), metric=METRIC, chance=ctx.chance, bounds=bounds, ax=axes[0],
            title=f"encoders, fusion heads, input and pooling, {len(ctx.seeds)} seeds (whole-video view)")
axes[0].legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
sns.scatterplot(data=costs, x="gflops_per_clip", y="train_clips_per_s", hue="variant", s=80, ax=axes[1], legend=False)
for i, r in enumerate(costs.itertuples()):  # labels of points at about the same cost stacked upwards
    k = sum(abs(costs.gflops_per_clip.iloc[:i] - r.gflops_per_clip) < 0.005)
    axes[1].annotate(r.variant, (r.gflops_per_clip, r.train_clips_per_s), fontsize=7, xytext=(4, 4 + 12 * k),
                     textcoords="offset points")
axes[1].set(title="cost per clip", xlabel="forward GFLOPs per clip", ylabel="encoder training clips/s (measured here)")
savefig(fig, "05_fast_slow_fusion", ctx.figures)

# %% [markdown]
# ## The answer

# %%
claims = [verdict(df, "fast+slow, concat", "slow only", "motion", bounds),
          verdict(df, "fast+slow, concat", "fast only", "shape", bounds),
          verdict(df, "fast+slow, concat", "fast only", "order", bounds)]
attention = verdict(pd.concat([df, dfatt]), "concat + attention pool", "fast+slow, concat", "order", bounds)
for v in [*claims, attention]:
    print(v)
conclusion = ("Two pathways against one (whole-video linear probe, seen combinations, mean ± std over "
              f"{len(ctx.seeds)} seeds): " + "; ".join(map(str, claims)) + ". Ranking — "
              + compare(df)
              + ". Fusion heads and standardised input against concatenation: " + "; ".join(map(str, fusions))
              + ". Attention pooling against the time pool: " + str(attention)
              + f". Forward cost per {cfg.data.long_frames}-frame clip: "
              + ", ".join(f"{r.variant} {r.gflops_per_clip:.3f} GFLOPs ({r.train_clips_per_s:.0f} clips/s forward + "
                          "backward measured here)" for r in costs.itertuples()) + ".")
print(conclusion)
save_results(ctx.results_path("05_fast_slow_fusion"), "05_fast_slow_fusion", pd.concat([df, dfh, dfatt]), SMOKE,
             conclusion, [*claims, attention], costs=costs.to_dict(orient="records"))
