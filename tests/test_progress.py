"""Progress bars redraw rarely when nobody watches a terminal."""
import io
import time

from tqdm import tqdm

from vcl_core.progress import progress_bar


def _redraws(make) -> int:
    out = io.StringIO()
    for _ in make(range(30), file=out, ascii=True):
        time.sleep(0.02)
    return out.getvalue().count("\r")


def test_progress_bar_does_not_flood_a_captured_log():
    """pytest captures stderr, as CI and papermill do: the bar then draws its start and its end
    only, where a plain tqdm bar draws every ~0.1 s."""
    assert _redraws(tqdm) > 3  # the reference: what a log gets without the guard
    assert _redraws(progress_bar) <= 2
