"""Progress bars that do not flood logs.

In a terminal, :func:`progress_bar` is an ordinary ``tqdm`` bar. When stderr is not a terminal
(CI logs, ``nohup``, papermill's captured output) every redraw becomes a line of its own, so
the bar redraws at most every ``log_interval`` seconds there.
"""
from __future__ import annotations

import sys


def progress_bar(iterable=None, log_interval: float = 30.0, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, redrawn at most every ``log_interval`` seconds when
    stderr is not a terminal."""
    from tqdm.auto import tqdm

    if not sys.stderr.isatty():
        kwargs["mininterval"] = max(kwargs.get("mininterval", 0.1), log_interval)
    return tqdm(iterable, **kwargs)
