"""Representation diagnostics: alignment, uniformity, effective rank, embedding spread.

Pure, cheap torch functions of a batch of embeddings, so the training loop can call them for
collapse monitoring as well as the evaluation suite.

alignment (Wang & Isola, ICML 2020)
    ``E ||f(x) - f(y)||_2^alpha`` over positive pairs of L2-normalised embeddings; lower means
    positives sit closer. In the suite a positive pair is two adjacent evaluation clips of one
    video (what a clip-level contrastive objective pulls together).
uniformity (Wang & Isola, ICML 2020)
    ``log E exp(-t ||f(x) - f(y)||_2^2)`` over all distinct pairs of L2-normalised embeddings;
    lower (more negative) means the embeddings spread more evenly over the sphere.
effective rank (Roy & Vetterli, EUSIPCO 2007)
    ``exp(H(p))`` with ``p_k = s_k / sum(s)`` the normalised singular values of the ``(N, D)``
    embedding matrix and ``H`` the Shannon entropy: between 1 (all embeddings on one line) and
    ``min(N, D)``. Used as a collapse measure by RankMe (Garrido et al., ICML 2023).
embedding std (Chen & He, SimSiam, CVPR 2021)
    the per-dimension standard deviation of L2-normalised embeddings, averaged over
    dimensions: about ``1 / sqrt(D)`` when spread out, 0 when collapsed to one point.

Embeddings are L2-normalised inside :func:`alignment`, :func:`uniformity` and
:func:`embedding_std`; :func:`effective_rank` takes the matrix as it is.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _check(z: torch.Tensor, name: str) -> None:
    if z.dim() != 2:
        raise ValueError(f"{name} expects embeddings of shape (N, D), got {tuple(z.shape)}")


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Mean ``||z1_i - z2_i||^alpha`` of L2-normalised positive pairs ``(N, D)``, ``(N, D)``.

    Raises:
        ValueError: shapes differ or are not ``(N, D)``.
    """
    _check(z1, "alignment")
    if z1.shape != z2.shape:
        raise ValueError(f"alignment needs two (N, D) batches of the same shape, got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    return (F.normalize(z1, dim=1) - F.normalize(z2, dim=1)).norm(dim=1).pow(alpha).mean()


def uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """``log`` of the mean Gaussian potential ``exp(-t ||z_i - z_j||^2)`` over pairs ``i < j``
    of L2-normalised ``(N, D)`` embeddings.

    Raises:
        ValueError: fewer than two embeddings.
    """
    _check(z, "uniformity")
    if len(z) < 2:
        raise ValueError(f"uniformity needs at least 2 embeddings, got {len(z)}")
    return torch.pdist(F.normalize(z, dim=1), p=2).pow(2).mul(-t).exp().mean().log()


def effective_rank(z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Roy & Vetterli's effective rank of an ``(N, D)`` matrix (0 for an all-zero matrix).

    Computed in float64 from the singular values; singular values below ``eps`` times the
    largest are treated as zero.
    """
    _check(z, "effective_rank")
    s = torch.linalg.svdvals(z.detach().double())
    if s.numel() == 0 or s.max() <= 0:
        return torch.zeros((), dtype=torch.float64)
    s = s[s > eps * s.max()]
    p = s / s.sum()
    return torch.exp(-(p * p.log()).sum())


def embedding_std(z: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of the std over the batch of L2-normalised ``(N, D)`` embeddings.

    Raises:
        ValueError: fewer than two embeddings.
    """
    _check(z, "embedding_std")
    if len(z) < 2:
        raise ValueError(f"embedding_std needs at least 2 embeddings, got {len(z)}")
    return F.normalize(z.detach(), dim=1).std(dim=0).mean()


def representation_report(z: torch.Tensor, positives: torch.Tensor | None = None, alpha: float = 2.0,
                          t: float = 2.0) -> dict[str, float]:
    """Every diagnostic of ``(N, D)`` embeddings as plain floats.

    Args:
        z: the embeddings.
        positives: optional ``(N, D)`` partners of ``z`` (row ``i`` is a positive of ``z[i]``);
            adds ``alignment``.
        alpha, t: exponents of :func:`alignment` and :func:`uniformity`.

    Returns:
        ``{"uniformity", "effective_rank", "embedding_std", "dim", "count"}`` plus
        ``"alignment"`` when ``positives`` is given.
    """
    z = z.detach().float()
    out = {"uniformity": float(uniformity(z, t)), "effective_rank": float(effective_rank(z)),
           "embedding_std": float(embedding_std(z)), "dim": int(z.shape[1]), "count": int(z.shape[0])}
    if positives is not None:
        out["alignment"] = float(alignment(z, positives.detach().float(), alpha))
    return out
