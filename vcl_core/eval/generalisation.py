"""Generalisation to unseen factor combinations: probe accuracy on seen vs unseen test videos.

Protocol. The synthetic benchmark holds a few ``(shape, motion)`` pairs out of every train
group; their videos appear only in test groups and carry ``meta_combo_seen = 0`` (every other
video has 1). The probes (linear and kNN of :mod:`vcl_core.eval.probes`, trained on all clean
train features) are scored separately on the test videos whose combination was seen in train
and on those whose combination was not: a model that represents the factors separately
(compositionally) loses little on the unseen ones, one that memorised combinations loses a lot.
Train and test groups also differ (background and palette), so *every* test video is an
unseen environment; the seen/unseen split isolates unseen combinations on top of that.

Any dataset whose records carry a ``meta_<name>`` column of 0/1 flags can use this block
(``meta_column``); it is skipped when the test split does not hold both values.
"""
from __future__ import annotations

import numpy as np

from .feature_bank import FeatureBank
from .probes import knn_top1

META_COLUMN = "meta_combo_seen"


def seen_flags(bank: FeatureBank, meta_column: str = META_COLUMN) -> np.ndarray | None:
    """``(N_test,)`` bool, True where the test video's combination was seen in train; ``None``
    when the column is missing or not both values occur."""
    vals = [r.meta.get(meta_column, "") for r in bank.records["test"]]
    if any(v not in ("0", "1", 0, 1) for v in vals):
        return None
    flags = np.array([str(v) == "1" for v in vals])
    return flags if flags.any() and not flags.all() else None


def generalisation_block(bank: FeatureBank, views: tuple[str, ...], columns: list[str], knn_k: int = 10,
                         knn_t: float = 0.07, meta_column: str = META_COLUMN) -> dict:
    """The ``generalisation`` block of the results schema.

    Returns:
        ``{"views": {view: {col: {"seen": {"linear_top1", "knn_top1", "n"}, "unseen": {...},
        "linear_gap"}}}, "settings": {"meta_column", "test_seen", "test_unseen"}}``, where
        ``linear_gap = seen - unseen`` linear accuracy and ``n`` counts samples (clips for
        the ``clip`` view).

    Raises:
        ValueError: the test split has no seen/unseen flags in ``meta_column``.
    """
    flags = seen_flags(bank, meta_column)
    if flags is None:
        raise ValueError(f"generalisation needs test videos with {meta_column} = 0 and = 1")
    out: dict = {}
    for view in views:
        for col in columns:
            d = bank.labelled(view, col)
            if d is None:
                continue
            pred = bank.linear(view, col).predict(d.test_x)
            seen = flags[d.test_video]
            res = {}
            for name, mask in (("seen", seen), ("unseen", ~seen)):
                if not mask.any():
                    continue
                res[name] = {"linear_top1": float((pred[mask] == d.test_y[mask]).mean()),
                             "knn_top1": knn_top1(d.train_x, d.train_y, d.test_x[mask], d.test_y[mask], knn_k, knn_t),
                             "n": int(mask.sum())}
            if len(res) == 2:
                res["linear_gap"] = res["seen"]["linear_top1"] - res["unseen"]["linear_top1"]
                out.setdefault(view, {})[col] = res
    return {"views": out, "settings": {"meta_column": meta_column, "test_seen": int(flags.sum()),
                                       "test_unseen": int((~flags).sum())}}
