"""Protocols on frozen features: linear probe, weighted kNN, retrieval recall.

Every protocol trains (or indexes) on the train split and scores the test split:

linear probe
    multinomial logistic regression on standardised features, full-batch L-BFGS, fixed L2
    penalty; the encoder is never updated (this is *not* fine-tuning).
kNN
    cosine similarity, the ``k`` nearest train videos vote with weight ``exp(sim / t)``
    (Wu et al. 2018, InstDisc).
retrieval R@k
    a test query is a hit when any of its ``k`` nearest train videos (cosine) has the same
    label (as in VCOP / TCLR).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def encode_labels(train_labels, test_labels) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Map string labels to integers using the train split's classes; unseen test classes get -1."""
    classes = sorted(set(train_labels))
    pos = {c: i for i, c in enumerate(classes)}
    return (np.array([pos[c] for c in train_labels]), np.array([pos.get(c, -1) for c in test_labels]), classes)


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 weight_decay: float = 1e-3, max_iter: int = 100, seed: int = 0) -> float:
    """Top-1 accuracy of a logistic-regression probe (see module docstring)."""
    torch.manual_seed(seed)
    xtr = torch.as_tensor(train_x, dtype=torch.float64)
    xte = torch.as_tensor(test_x, dtype=torch.float64)
    mu, sd = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    ytr = torch.as_tensor(train_y)
    n_cls = int(max(train_y.max(), test_y.max()) + 1)
    w = torch.zeros(xtr.shape[1], n_cls, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_cls, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ w + b, ytr) + weight_decay * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    pred = (xte @ w + b).argmax(1).numpy()
    return float((pred == test_y).mean())


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
