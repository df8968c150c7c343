"""Negative-free objective: BYOL's regression of a prediction onto a stopped target.

The online branch's *prediction* ``p`` (projection -> predictor MLP) regresses the other
view's *projection* ``z`` with the gradient stopped on ``z``; no negatives, so batch size and
queues do not matter. In BYOL (Grill et al. 2020, "Bootstrap Your Own Latent") ``z`` comes
from a *momentum target network* (an EMA of the online one,
:class:`vcl_core.losses.MomentumEncoder`) and the loss is the normalised MSE
``||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z)``. SimSiam (Chen & He 2021) takes ``z`` from the same
network instead; its negative cosine is this loss halved, minus one. Use it both ways round
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


