"""Protocols on frozen features: linear probe, weighted kNN, retrieval recall.

Every protocol trains (or indexes) on the train split and scores the test split. A sample is
one video (views ``clips``, ``whole``, ``video_model``) or one clip (view ``clip``); see
:mod:`vcl_core.eval.features`. Test classes absent from train count as misses.

linear probe (``linear_top1``)
    multinomial logistic regression on features standardised with the train split's mean and
    std, full-batch L-BFGS from zero weights (``max_iter`` iterations, strong Wolfe line
    search), L2 penalty ``weight_decay`` on the weights; deterministic. The encoder is never
    updated: this is *not* fine-tuning (:mod:`vcl_core.eval.finetune`).
kNN (``knn_top1``)
    cosine similarity, the ``k`` nearest train samples vote with weight ``exp(sim / t)``
    (Wu et al. 2018, InstDisc).
retrieval R@k (``retrieval_r1/5/10``)
    a test query is a hit when any of its ``k`` nearest train samples (cosine) has the same
    label (as in VCOP / TCLR).
majority (``chance``)
    always predict the train split's most frequent class.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def encode_labels(train_labels: Sequence[str], test_labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Map string labels to integers using the train split's classes; unseen test classes get -1."""
    classes = sorted(set(train_labels))
    pos = {c: i for i, c in enumerate(classes)}
    return (np.array([pos[c] for c in train_labels]), np.array([pos.get(c, -1) for c in test_labels]), classes)


@dataclass
class LinearProbe:
    """A fitted logistic-regression probe: standardisation plus one linear layer.

    Attributes:
        mean, std: ``(D,)`` feature statistics of the train split.
        weight: ``(D, C)``; bias: ``(C,)``.
    """

    mean: torch.Tensor
    std: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``(N, D)`` features -> ``(N, C)`` class scores."""
        xt = (torch.as_tensor(x, dtype=torch.float64) - self.mean) / self.std
        return (xt @ self.weight + self.bias).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N, D)`` features -> ``(N,)`` predicted class indices."""
        return self.logits(x).argmax(1)

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        """Top-1 accuracy on ``(N, D)`` features with ``(N,)`` labels (``-1`` is always a miss)."""
        return float((self.predict(x) == np.asarray(y)).mean()) if len(y) else float("nan")


def fit_linear_probe(train_x: np.ndarray, train_y: np.ndarray, num_classes: int | None = None,
                     weight_decay: float = 1e-3, max_iter: int = 100) -> LinearProbe:
    """Fit the linear probe of the module docstring on ``(N, D)`` features and ``(N,)`` labels.

    Args:
        num_classes: output size (default ``max(train_y) + 1``).
        weight_decay: L2 penalty on the weights (not the bias).
        max_iter: L-BFGS iterations (one full-batch step). The fit starts from zero weights
            and draws no random numbers, so it is deterministic.

    Raises:
        ValueError: empty train set or labels outside ``[0, num_classes)``.
    """
    train_y = np.asarray(train_y)
    if len(train_y) == 0:
        raise ValueError("the linear probe needs at least one labelled train sample")
    n_cls = int(num_classes if num_classes is not None else train_y.max() + 1)
    if train_y.min() < 0 or train_y.max() >= n_cls:
        raise ValueError(f"train labels must lie in [0, {n_cls}), got [{train_y.min()}, {train_y.max()}]")
    xtr = torch.as_tensor(train_x, dtype=torch.float64)
    mu, sd = xtr.mean(0), (xtr.std(0) if len(xtr) > 1 else torch.ones(xtr.shape[1], dtype=torch.float64))
    sd = sd.clamp_min(1e-6)
    xtr = (xtr - mu) / sd
    ytr = torch.as_tensor(train_y)
    w = torch.zeros(xtr.shape[1], n_cls, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_cls, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ w + b, ytr) + weight_decay * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return LinearProbe(mu, sd, w.detach(), b.detach())


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 weight_decay: float = 1e-3, max_iter: int = 100) -> float:
    """Top-1 accuracy of a logistic-regression probe (see module docstring).

    ``(N, D)`` features, ``(N,)`` integer labels; test labels ``-1`` (classes absent from
    train) count as misses.
    """
    n_cls = int(max(np.max(train_y), np.max(test_y)) + 1)
    return fit_linear_probe(train_x, train_y, n_cls, weight_decay, max_iter).score(test_x, test_y)


def _cosine(train_x: np.ndarray, test_x: np.ndarray) -> torch.Tensor:
    a = F.normalize(torch.as_tensor(test_x, dtype=torch.float32), dim=1)
    b = F.normalize(torch.as_tensor(train_x, dtype=torch.float32), dim=1)
    return a @ b.T


def knn_top1(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
             k: int = 10, t: float = 0.07) -> float:
    """Top-1 accuracy of the temperature-weighted cosine kNN classifier."""
    sim = _cosine(train_x, test_x)
    k = min(k, sim.shape[1])
    top, idx = sim.topk(k, dim=1)
    n_cls = int(max(train_y.max(), test_y.max()) + 1)
    votes = torch.zeros(sim.shape[0], n_cls)
    votes.scatter_add_(1, torch.as_tensor(train_y)[idx], torch.exp(top / t))
    return float((votes.argmax(1).numpy() == test_y).mean())


def retrieval_recall(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                     ks: tuple[int, ...] = (1, 5, 10)) -> dict[int, float]:
    """R@k for each ``k``: share of test queries with a same-label video among the ``k``
    nearest train videos."""
    sim = _cosine(train_x, test_x)
    order = sim.argsort(dim=1, descending=True)
    same = torch.as_tensor(train_y)[order] == torch.as_tensor(test_y)[:, None]
    return {k: float(same[:, :k].any(1).float().mean()) for k in ks}


def chance_level(train_y: np.ndarray, test_y: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent train class."""
    major = np.bincount(train_y).argmax()
    return float((test_y == major).mean())
