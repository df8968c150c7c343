"""Alignment, uniformity, effective rank and embedding std against slow references."""
import math

import numpy as np
import pytest
import torch

from vcl_core.eval import alignment, effective_rank, embedding_std, representation_report, uniformity


def _normalise(z):
    return [[c / math.sqrt(sum(e * e for e in v)) for c in v] for v in z]


def _alignment_ref(z1, z2, alpha=2.0):
    a, b = _normalise(z1.tolist()), _normalise(z2.tolist())
    return sum(math.sqrt(sum((p - q) ** 2 for p, q in zip(u, v))) ** alpha for u, v in zip(a, b)) / len(a)


def _uniformity_ref(z, t=2.0):
    a = _normalise(z.tolist())
    pots = [math.exp(-t * sum((p - q) ** 2 for p, q in zip(a[i], a[j])))
            for i in range(len(a)) for j in range(i + 1, len(a))]
    return math.log(sum(pots) / len(pots))


def _erank_ref(z):
    s = np.linalg.svd(np.asarray(z, dtype=np.float64), compute_uv=False)
    p = s[s > 1e-12 * s.max()] / s[s > 1e-12 * s.max()].sum()
    return math.exp(-sum(pi * math.log(pi) for pi in p))


def test_alignment_and_uniformity_match_loop_references():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(12, 5, generator=g), torch.randn(12, 5, generator=g)
    assert float(alignment(z1, z2)) == pytest.approx(_alignment_ref(z1, z2), rel=1e-5)
    assert float(alignment(z1, z2, alpha=1.0)) == pytest.approx(_alignment_ref(z1, z2, 1.0), rel=1e-5)
    assert float(uniformity(z1)) == pytest.approx(_uniformity_ref(z1), rel=1e-5)
    assert float(uniformity(z1, t=0.5)) == pytest.approx(_uniformity_ref(z1, 0.5), rel=1e-5)


def test_hand_computed_values():
    x = torch.tensor([[3.0, 4.0]])
    assert float(alignment(x, 2 * x)) == 0.0  # same direction: normalised points coincide
    assert float(alignment(x, -x)) == pytest.approx(4.0)  # antipodal: distance 2, squared 4
    assert float(uniformity(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))) == pytest.approx(-8.0)  # log exp(-2 * 4)
    # singular values 3 and 1: p = (3/4, 1/4), erank = exp(H) = 1.7548...
    erank = float(effective_rank(torch.tensor([[3.0, 0.0], [0.0, 1.0]])))
    assert erank == pytest.approx(math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))))
    assert erank == pytest.approx(1.75476, abs=1e-5)


def test_effective_rank_bounds_and_reference():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(20, 6, generator=g))
    assert float(effective_rank(q)) == pytest.approx(6.0)  # equal singular values: full rank
    rank1 = torch.randn(20, 1, generator=g) @ torch.randn(1, 8, generator=g)
    assert float(effective_rank(rank1)) == pytest.approx(1.0)
    z = torch.randn(30, 7, generator=g)
    assert float(effective_rank(z)) == pytest.approx(_erank_ref(z.numpy()), rel=1e-9)
    assert float(effective_rank(torch.zeros(4, 3))) == 0.0


def test_embedding_std_separates_spread_from_collapse():
    g = torch.Generator().manual_seed(0)
    spread = torch.randn(2000, 64, generator=g)
    assert float(embedding_std(spread)) == pytest.approx(1 / math.sqrt(64), rel=0.05)
    collapsed = torch.ones(50, 64) + 1e-4 * torch.randn(50, 64, generator=g)
    assert float(embedding_std(collapsed)) < 1e-3


def test_report_and_errors():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(10, 4, generator=g)
    rep = representation_report(z, positives=z + 0.01)
    assert set(rep) == {"uniformity", "effective_rank", "embedding_std", "dim", "count", "alignment"}
    assert rep["dim"] == 4 and rep["count"] == 10 and rep["alignment"] < 1e-3
    assert "alignment" not in representation_report(z)
    with pytest.raises(ValueError, match="same shape"):
        alignment(z, z[:5])
    with pytest.raises(ValueError, match="at least 2"):
        uniformity(z[:1])
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        effective_rank(torch.zeros(3))
