"""Slow, loop-based references for the losses: one query, one key, one exp at a time, in float64.

Written straight from the formulas in the docstrings, sharing no code with vcl_core.losses.
"""
from __future__ import annotations

import math

import torch


def unit(v: torch.Tensor) -> list[float]:
    v = [float(x) for x in v.detach().double()]
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def reference_info_nce(query, key, temperature, extra_negatives=None, false_negative_mask=None,
                       positive_weights=None, beta=0.0, top_k=None, extra_scale=None, normalize=True,
                       targets=None, reduction="mean"):
    """InfoNCE of query i against all keys (+ extra negatives), positive at column targets[i] (default i).

    positives: the target and every column with positive weight; negatives: the rest minus the
    masked ones, then the top_k most similar; denominator: exp of the positives plus either
    sum_j exp(s_j) or (beta > 0, Robinson et al.) M * sum_j q_j exp(s_j), q = softmax(beta s).
    """
    prep = unit if normalize else (lambda v: [float(x) for x in v.detach().double()])
    q_rows = [prep(r) for r in query]
    k_rows = [prep(r) for r in key]
    if extra_negatives is not None:
        for e, r in enumerate(extra_negatives):
            v = prep(r)
            if extra_scale is not None:
                v = [x * float(extra_scale[e]) for x in v]
            k_rows.append(v)
    t = float(temperature)
    losses = []
    for i, qi in enumerate(q_rows):
        tgt = i if targets is None else int(targets[i])
        s = [dot(qi, kj) / t for kj in k_rows]
        n = len(s)
        if positive_weights is None:
            w = [1.0 if j == tgt else 0.0 for j in range(n)]
        else:
            w = [float(positive_weights[i][j]) for j in range(n)]
        pos = [j for j in range(n) if j == tgt or w[j] > 0]
        neg = [j for j in range(n) if j not in pos and not (false_negative_mask is not None and bool(false_negative_mask[i][j]))]
        if top_k is not None:
            neg = sorted(neg, key=lambda j: -s[j])[:top_k]
        denom = sum(math.exp(s[j]) for j in pos)
        if neg:
            if beta > 0:
                z = sum(math.exp(beta * s[j]) for j in neg)
                denom += len(neg) * sum(math.exp(beta * s[j]) / z * math.exp(s[j]) for j in neg)
            else:
                denom += sum(math.exp(s[j]) for j in neg)
        wsum = sum(w)
        losses.append(-sum(w[j] / wsum * (s[j] - math.log(denom)) for j in pos))
    if reduction == "none":
        return torch.tensor(losses, dtype=torch.float64)
    total = sum(losses)
    return total / len(losses) if reduction == "mean" else total


def close(a, b, tol: float = 1e-5) -> bool:
    """``a == b`` up to a relative (absolute below 1) tolerance; tensors are detached."""
    a, b = float(torch.as_tensor(a).detach()), float(torch.as_tensor(b).detach())
    return abs(a - b) <= tol * max(1.0, abs(b))
