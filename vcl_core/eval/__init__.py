"""Evaluation of frozen encoders: feature extraction, probes, retrieval, baselines."""
from .baselines import MeanFrameEncoder
from .features import PROTOCOLS, extract_features, protocol_view
from .probes import knn_top1, linear_probe, retrieval_recall
from .suite import evaluate_encoder, probe_all

__all__ = ["MeanFrameEncoder", "PROTOCOLS", "extract_features", "protocol_view", "knn_top1", "linear_probe",
           "retrieval_recall", "evaluate_encoder", "probe_all"]
