"""One seaborn theme and one ``savefig`` for every figure of the project."""
from __future__ import annotations

import os
from pathlib import Path

PALETTE = "colorblind"


def set_theme() -> None:
    """The house plotting style (seaborn ``whitegrid``, colour-blind palette, readable sizes)."""
    import matplotlib
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook",
                  rc={"figure.dpi": 100, "savefig.dpi": 150, "axes.titleweight": "bold",
                      "svg.hashsalt": "vcl_core", "figure.autolayout": False})
    matplotlib.rcParams["svg.fonttype"] = "none"


def figures_dir(default: str | Path = "figures") -> Path:
    """``$VCL_FIGURES`` if set, else ``default``; created if missing."""
    d = Path(os.environ.get("VCL_FIGURES", "") or default)
    d.mkdir(parents=True, exist_ok=True)
    return d


def savefig(fig, name: str, directory: str | Path | None = None, raster: bool = False) -> list[Path]:
    """Save ``fig`` as ``<name>.png`` and ``<name>.svg`` (deterministic SVG ids) and return the
    paths. ``directory`` defaults to :func:`figures_dir`. ``raster=True`` is for figures made of
    images (video frames): PNG only, at 100 dpi, since an SVG would only wrap the same pixels."""
    import matplotlib.pyplot as plt

    d = Path(directory) if directory is not None else figures_dir()
    d.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    paths = []
    for ext in ("png",) if raster else ("png", "svg"):
        p = d / f"{name}.{ext}"
        with plt.rc_context({"svg.hashsalt": "vcl_core"}):  # stable SVG ids whatever the theme
            fig.savefig(p, bbox_inches="tight", metadata={"Date": None} if ext == "svg" else {"Software": None},
                        **({"dpi": 100} if raster else {}))
        paths.append(p)
    return paths


def factor_bars(df, protocol: str = "whole", metric: str = "linear_top1", chance: dict | None = None, ax=None,
                hue: str = "variant", title: str | None = None, factors=None, bounds=None):
    """Bars of ``metric`` per factor and variant (mean, error bar = std over seeds), with a
    dotted line at chance. ``df`` is the tidy table of :meth:`vcl_core.experiment.Experiment.sweep`.

    ``bounds`` (:meth:`vcl_core.experiment.NotebookContext.bounds`) adds, per factor, the
    random-init floor (grey band, mean ± std) and the supervised ceiling (dashed line), so
    every bar is read against what the encoder gets untrained and with labels.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    sel = df[(df.metric == metric) & (df.protocol == protocol)]
    if factors is not None:
        sel = sel[sel.factor.isin(factors)]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * sel[hue].nunique() * sel.factor.nunique() / 2), 3.6))
    sns.barplot(data=sel, x="factor", y="value", hue=hue, errorbar="sd", ax=ax)
    for i, f in enumerate(sel.factor.unique()):
        if chance and f in chance:
            ax.hlines(chance[f], i - 0.4, i + 0.4, colors="k", linestyles=":")
        if bounds is not None:
            b = bounds[bounds.factor == f].set_index("variant")
            if "random init" in b.index:
                m, s = b.loc["random init", ["mean", "std"]]
                ax.fill_between([i - 0.45, i + 0.45], m - s, m + s, color="0.5", alpha=0.35, lw=0,
                                label="random init (floor)" if i == 0 else None, zorder=0)
            if "supervised" in b.index:
                ax.hlines(b.loc["supervised", "mean"], i - 0.45, i + 0.45, colors="0.15", linestyles="--",
                          label="supervised (ceiling)" if i == 0 else None)
    ax.set(xlabel="", ylabel=f"{metric.replace('_', ' ')} ({protocol})", ylim=(0, 1), title=title or "")
    # below the axes: bars near the ceiling would hide under a legend inside them
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    return ax
