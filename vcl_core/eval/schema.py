"""The results schema: block names, protocol glossary, and the tidy table of every number.

:func:`vcl_core.eval.evaluate_encoder` (and so ``vcl evaluate --json``) returns one dict::

    {"schema":         "vcl_core.eval/2",
     "tasks":          {LABEL: {"linear_top1", "knn_top1", "retrieval_r1", "retrieval_r5"}},
     "protocols":      {VIEW: {LABEL: {"linear_top1", "knn_top1", "retrieval_r1", "retrieval_r5",
                                        "retrieval_r10", "linear_top1_seen", "linear_top1_unseen"}}},
     "chance":         {LABEL: majority-class accuracy on the test split},
     "finetune":       {"views": {VIEW: {LABEL: {"finetune_top1"}}},
                        "epoch_loss": {RUN: {LABEL: [mean train loss per epoch]}}, "settings": {...}},
     "temporal":       {"probes": {"playback_speed" | "frame_order": {"linear_top1", "knn_top1",
                                   "chance", "classes"}},
                        "factors": {ROLE: {"label", "linear_top1": {VIEW: acc}, "chance"}}, "settings"},
     "robustness":     {"clean": {VIEW: {LABEL: {"linear_top1", "knn_top1"}}},
                        "perturbed": {PERTURBATION: {VIEW: {LABEL: {"linear_top1", "knn_top1",
                                      "linear_drop", "knn_drop"}}}}, "settings": {...}},
     "generalisation": {"views": {VIEW: {LABEL: {"seen" | "unseen": {"linear_top1", "knn_top1", "n"},
                                                "linear_gap"}}}, "settings": {...}},
     "diagnostics":    {"views": {VIEW: {"uniformity", "effective_rank", "embedding_std", "dim", "count",
                                         "alignment", "pairs" (clip view only)}}, "settings": {...}},
     "captioning":     {"generation": {"bleu1".."bleu4", "slot_accuracy": {SLOT}, "slot_chance": {SLOT},
                                       "parsed"},
                        "retrieval": {"r1", "r5", "gallery", "chance_r1", "chance_r5"},
                        "examples": [...], "settings": {...}},
     "records":        [{"block", "view", "task", "protocol", "metric", "condition", "value"}, ...],
     "meta":           {"blocks", "blocks_skipped", "seconds", "protocol_docs", "views", ...}}

``tasks``, ``protocols`` and ``chance`` are the ``probes`` block (``tasks`` repeats the view named
by ``meta.video_embedding``). ``linear_top1_seen`` / ``_unseen`` score the same linear probe on
the test videos whose factor combination was / was not seen in train (only on datasets with
``meta_combo_seen`` flags, see :mod:`vcl_core.eval.generalisation`); the first is the headline
number of the notebooks, the second its own column. A block that was not run is absent (the three probe keys are
then empty). Accuracies are fractions in [0, 1]; drops and gaps are differences of them.
RUN is ``clip`` (one fine-tuning run serves the ``clip`` and ``clips`` views), ``whole`` or
``video_model``; ROLE is ``appearance``, ``short_term`` or ``long_term``; SLOT is ``shape``,
``motion``, ``phase1``-``phase3``, ``order`` or ``all``. ``meta.seconds`` has the wall time of
each block and, under ``<block>_encoding``, the part spent encoding videos (charged to the first
block that needed them). ``records`` holds every number once more as a tidy row that names
its protocol, so a notebook can build a table with ``pandas.DataFrame(results["records"])``.

VIEW is ``clip``, ``clips``, ``whole`` or ``video_model`` (:mod:`vcl_core.eval.features`);
the protocol names in ``records`` are the keys of :data:`PROTOCOL_DOCS`.
"""
from __future__ import annotations

SCHEMA = "vcl_core.eval/2"
BLOCKS = ("probes", "finetune", "temporal", "robustness", "generalisation", "diagnostics", "captioning")

#: protocol name -> where it is documented and what it is, in one line
PROTOCOL_DOCS = {
    "linear": "vcl_core.eval.probes: logistic regression on frozen, standardised features (L-BFGS, L2); "
              "the encoder is not updated",
    "knn": "vcl_core.eval.probes: cosine kNN, k neighbours vote with weight exp(sim / t) (InstDisc)",
    "retrieval": "vcl_core.eval.probes: a test query hits when one of its k nearest train samples "
                 "(cosine) shares its label (R@k)",
    "majority": "vcl_core.eval.probes: always predict the train split's most frequent class",
    "finetune": "vcl_core.eval.finetune: encoder and a linear head trained end to end (AdamW, a few "
                "epochs, no augmentation); not comparable with linear",
    "alignment": "vcl_core.eval.diagnostics: mean squared distance of normalised positive pairs "
                 "(adjacent clips of a video; Wang & Isola 2020); lower is tighter",
    "uniformity": "vcl_core.eval.diagnostics: log mean exp(-2 d^2) over pairs of normalised embeddings "
                  "(Wang & Isola 2020); lower is more uniform",
    "effective_rank": "vcl_core.eval.diagnostics: exp entropy of normalised singular values (Roy & Vetterli 2007)",
    "embedding_std": "vcl_core.eval.diagnostics: mean per-dimension std of normalised embeddings (SimSiam); "
                     "0 = collapsed",
    "caption_decoder": "vcl_core.eval.captions: GRU decoder on frozen features, greedy decoding; corpus "
                       "BLEU-1..4 and template slot accuracy",
    "caption_retrieval": "vcl_core.eval.captions: ridge map from features to a positional one-hot caption "
                         "embedding; R@k over all template captions",
}

_ROW_KEYS = ("block", "view", "task", "protocol", "metric", "condition", "value")


def _row(block: str, view: str, task: str, protocol: str, metric: str, value: float, condition: str = "") -> dict:
    return dict(zip(_ROW_KEYS, (block, view, task, protocol, metric, condition, float(value))))


def _split_metric(key: str) -> tuple[str, str]:
    """``linear_top1`` -> ``("linear", "top1")``; ``retrieval_r5`` -> ``("retrieval", "r@5")``."""
    protocol, _, metric = key.partition("_")
    return protocol, metric.replace("r", "r@", 1) if protocol == "retrieval" else metric


def records(results: dict) -> list[dict]:
    """Every number of a results dict as a tidy row (see the module docstring).

    Rows: ``block`` (schema block), ``view``, ``task`` (label column, temporal probe or caption
    slot), ``protocol`` (a key of :data:`PROTOCOL_DOCS`), ``metric`` (``top1``, ``drop``,
    ``gap``, ``r@k``, ``bleuN``, ...), ``condition`` (perturbation, seen/unseen, factor role,
    ``chance``; empty when none) and ``value``.
    """
    rows = []
    for view, cols in results.get("protocols", {}).items():
        for col, metrics in cols.items():
            for key, v in metrics.items():
                rows.append(_row("probes", view, col, *_split_metric(key), v))
    for col, v in results.get("chance", {}).items():
        rows.append(_row("probes", "", col, "majority", "top1", v))
    for view, cols in results.get("finetune", {}).get("views", {}).items():
        for col, m in cols.items():
            rows.append(_row("finetune", view, col, "finetune", "top1", m["finetune_top1"]))
    temporal = results.get("temporal", {})
    for task, m in temporal.get("probes", {}).items():
        for key in ("linear_top1", "knn_top1"):
            rows.append(_row("temporal", "clip", task, *_split_metric(key), m[key]))
        rows.append(_row("temporal", "clip", task, "majority", "top1", m["chance"], "chance"))
    for role, f in temporal.get("factors", {}).items():
        for view, v in f["linear_top1"].items():
            rows.append(_row("temporal", view, f["label"], "linear", "top1", v, role))
    rob = results.get("robustness", {})
    for view, cols in rob.get("clean", {}).items():
        for col, m in cols.items():
            for key, v in m.items():
                rows.append(_row("robustness", view, col, *_split_metric(key), v, "clean"))
    for name, views in rob.get("perturbed", {}).items():
        for view, cols in views.items():
            for col, m in cols.items():
                for key, v in m.items():
                    rows.append(_row("robustness", view, col, *_split_metric(key), v, name))
    for view, cols in results.get("generalisation", {}).get("views", {}).items():
        for col, m in cols.items():
            for subset in ("seen", "unseen"):
                for key in ("linear_top1", "knn_top1"):
                    rows.append(_row("generalisation", view, col, *_split_metric(key), m[subset][key], subset))
            rows.append(_row("generalisation", view, col, "linear", "gap", m["linear_gap"], "seen-unseen"))
    for view, m in results.get("diagnostics", {}).get("views", {}).items():
        for key in ("alignment", "uniformity", "effective_rank", "embedding_std"):
            if key in m:
                rows.append(_row("diagnostics", view, "", key, key, m[key]))
    cap = results.get("captioning", {})
    if cap:
        g = cap["generation"]
        for n in range(1, 5):
            rows.append(_row("captioning", "", "caption", "caption_decoder", f"bleu{n}", g[f"bleu{n}"]))
        for slot, v in g["slot_accuracy"].items():
            rows.append(_row("captioning", "", slot, "caption_decoder", "slot_accuracy", v))
            rows.append(_row("captioning", "", slot, "caption_decoder", "slot_accuracy", g["slot_chance"][slot],
                             "chance"))
        r = cap["retrieval"]
        for k in (1, 5):
            rows.append(_row("captioning", "", "caption", "caption_retrieval", f"r@{k}", r[f"r{k}"]))
            rows.append(_row("captioning", "", "caption", "caption_retrieval", f"r@{k}", r[f"chance_r{k}"], "chance"))
    return rows
