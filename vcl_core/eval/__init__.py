"""Evaluation of frozen encoders: one harness, one results schema (:mod:`vcl_core.eval.schema`).

Blocks and where each protocol is documented: probes (linear, kNN, retrieval:
:mod:`~vcl_core.eval.probes`), fine-tuning (:mod:`~vcl_core.eval.finetune`), temporal sensitivity
(:mod:`~vcl_core.eval.sensitivity`), robustness (:mod:`~vcl_core.eval.robustness`), generalisation
to unseen combinations (:mod:`~vcl_core.eval.generalisation`), representation diagnostics
(:mod:`~vcl_core.eval.diagnostics`), captioning (:mod:`~vcl_core.eval.captions`); views (clip,
clips, whole, video_model) in :mod:`~vcl_core.eval.features`.
"""
from .feature_bank import FeatureBank, LabelledSplits
from .baselines import FrameAverageEncoder, MeanFrameEncoder
from .captions import CaptionConfig, CaptionDecoder, corpus_bleu, parse_caption, render_caption, tokenize
from .diagnostics import alignment, effective_rank, embedding_std, representation_report, uniformity
from .features import PROTOCOLS, VIEWS, ClipWindowsDataset, extract_clip_features, extract_features, protocol_view
from .finetune import FinetuneConfig, finetune_classifier
from .probes import LinearProbe, fit_linear_probe, knn_top1, linear_probe, retrieval_recall
from .robustness import PERTURBATIONS, RobustnessConfig, make_perturbation
from .schema import BLOCKS, PROTOCOL_DOCS, SCHEMA, records
from .suite import allowed_blocks, evaluate_encoder, probe_all
from .sensitivity import TemporalConfig, probe_windows, variant_windows

__all__ = ["FeatureBank", "LabelledSplits", "FrameAverageEncoder", "MeanFrameEncoder", "CaptionConfig",
           "CaptionDecoder", "corpus_bleu", "parse_caption", "render_caption", "tokenize", "alignment",
           "effective_rank", "embedding_std", "representation_report", "uniformity", "PROTOCOLS", "VIEWS",
           "ClipWindowsDataset", "extract_clip_features", "extract_features", "protocol_view", "FinetuneConfig",
           "finetune_classifier", "LinearProbe", "fit_linear_probe", "knn_top1", "linear_probe", "retrieval_recall",
           "PERTURBATIONS", "RobustnessConfig", "make_perturbation", "BLOCKS", "PROTOCOL_DOCS", "SCHEMA", "records",
           "allowed_blocks", "evaluate_encoder", "probe_all", "TemporalConfig", "probe_windows", "variant_windows"]
