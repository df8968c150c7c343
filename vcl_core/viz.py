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


def savefig(fig, name: str, directory: str | Path | None = None) -> list[Path]:
    """Save ``fig`` as ``<name>.png`` and ``<name>.svg`` (deterministic SVG ids) and return the
    paths. ``directory`` defaults to :func:`figures_dir`."""
    d = Path(directory) if directory is not None else figures_dir()
    d.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    paths = []
    for ext in ("png", "svg"):
        p = d / f"{name}.{ext}"
        fig.savefig(p, bbox_inches="tight", metadata={"Date": None} if ext == "svg" else {"Software": None})
        paths.append(p)
    return paths
