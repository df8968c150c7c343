"""Figures are saved reproducibly: vector plots as PNG + SVG, frame galleries as PNG only."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vcl_core.viz import savefig  # noqa: E402


def _plot():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


def test_plots_get_png_and_svg_and_galleries_png_only(tmp_path):
    assert [p.name for p in savefig(_plot(), "plot", tmp_path)] == ["plot.png", "plot.svg"]
    again = tmp_path / "again"
    savefig(_plot(), "plot", again)
    assert (again / "plot.svg").read_bytes() == (tmp_path / "plot.svg").read_bytes()  # no dates, stable ids
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.imshow(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8), interpolation="nearest")
    assert [p.name for p in savefig(fig, "frames", tmp_path, raster=True)] == ["frames.png"]
    assert not (tmp_path / "frames.svg").exists()
    assert plt.imread(tmp_path / "frames.png").shape[1] <= 400  # 4 inches at 100 dpi, cropped tight
