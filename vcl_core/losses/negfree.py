"""Negative-free objectives: BYOL and SimSiam regression of a prediction onto a stopped target.

Both regress the online branch's *prediction* ``p`` (projection -> predictor MLP) onto the
other view's *projection* ``z`` with the gradient stopped on ``z``; no negatives, so batch
size and queues do not matter. They differ in where ``z`` comes from, not in the loss:

- **BYOL** (Grill et al. 2020, "Bootstrap Your Own Latent"): ``z`` comes from a *momentum
  target network* (an EMA of the online one, :class:`vcl_core.losses.MomentumEncoder`);
  the loss is the normalised MSE ``||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z)``.
- **SimSiam** (Chen & He 2021, "Exploring Simple Siamese Representation Learning"): ``z``
  comes from the *same* network (no EMA); the loss is the negative cosine ``-cos(p, z)``.

``byol_loss = 2 + 2 * simsiam_loss``: same gradients up to a factor of 2. Use both ways round
(``L(p1, z2) + L(p2, z1)``) as both papers do.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .infonce import _upcast


def _check(p: torch.Tensor, z: torch.Tensor) -> None:
    if p.shape != z.shape or p.dim() < 2:
        raise ValueError(f"p and z must share one shape (B, D), got {tuple(p.shape)} and {tuple(z.shape)}")


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL's normalised MSE ``2 - 2 cos(p, sg(z))``, averaged over the batch (Grill et al. 2020).

    Args:
        p: ``(B, D)`` online predictions (leading dims ``(B, ..., D)`` are averaged too).
        z: ``(B, D)`` target projections (from the momentum target network); detached here.

    Returns:
        Scalar in ``[0, 4]``.

    Raises:
        ValueError: the shapes differ or are 1-D.

    Examples:
        >>> p, z = torch.randn(8, 32, requires_grad=True), torch.randn(8, 32)
        >>> loss = byol_loss(p, z)
    """
    _check(p, z)
    return (2 - 2 * F.cosine_similarity(_upcast(p), _upcast(z.detach()), dim=-1)).mean()


def simsiam_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """SimSiam's negative cosine ``-cos(p, sg(z))``, averaged over the batch (Chen & He 2021).

    Args:
        p: ``(B, D)`` predictions of one view.
        z: ``(B, D)`` projections of the other view by the same network; detached here.

    Returns:
        Scalar in ``[-1, 1]``.

    Raises:
        ValueError: the shapes differ or are 1-D.

    Examples:
        >>> p1, p2, z1, z2 = (torch.randn(8, 32) for _ in range(4))
        >>> loss = 0.5 * (simsiam_loss(p1, z2) + simsiam_loss(p2, z1))
    """
    _check(p, z)
    return -F.cosine_similarity(_upcast(p), _upcast(z.detach()), dim=-1).mean()
