"""Cross-scale alignment: tie the long view's time slices and summary to the short clips.

:func:`global_local_loss` is TCLR's global-local temporal contrast (Dave et al. 2022, "TCLR:
Temporal Contrastive Learning for Video Representation", CVIU): the long (sparse) view of a
video is encoded into ``S`` time tokens (its feature map keeps ``S`` time steps), the same
span is cut into ``S`` short (dense) clips, and token ``s`` must pick out clip ``s`` among the
``S`` clips of its video, and clip ``s`` must pick out token ``s``. This forces the long
pathway to keep *where in time* things happen, not just *what* happens.

:func:`short_long_prediction_loss` is the negative-free cross-scale regression of BraVe
(Recasens et al. 2021, "Broaden Your Views for Self-Supervised Video Learning", ICCV) and
LSTCL (Wang et al. 2022, "Long-Short Temporal Contrastive Learning of Video Transformers",
CVPR): a predictor maps the short view's projection onto the long view's and back, with the
target side under stop-gradient. :class:`CrossScalePredictor` is the pair of small MLPs.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .infonce import _upcast
from .negfree import byol_loss


def global_local_loss(global_tokens: torch.Tensor, local_embeddings: torch.Tensor,
                      temperature: float | torch.Tensor = 0.1, batch_negatives: bool = False,
                      normalize: bool = True) -> torch.Tensor:
    """TCLR global-local loss: time slice ``s`` of the long view <-> short clip ``s`` of the same video.

    Both directions are scored: each global token against the local clips (``S``-way, or
    ``B * S``-way with ``batch_negatives``), and each local clip against the global tokens.

    Args:
        global_tokens: ``(B, S, D)`` the long view's feature map pooled over space but not
            time, ``S`` time slices (TCLR: layer4 with temporal stride replaced by dilation).
        local_embeddings: ``(B, S, D)`` the ``S`` short clips covering the same span, in time
            order (clip ``s`` covers slice ``s``).
        temperature: softmax temperature.
        batch_negatives: also use every other video's clips (resp. tokens) as negatives,
            ``B * S``-way instead of TCLR's ``S``-way classification.
        normalize: L2-normalise both sides first (cosine similarity, as TCLR).

    Returns:
        Scalar: mean cross-entropy over the ``2 * B * S`` anchors. TCLR sums over the ``S``
        slices instead (its value is ``S`` times this one).

    Raises:
        ValueError: the shapes differ or are not 3-D, or ``S < 2`` without batch negatives.

    Examples:
        >>> g, l = torch.randn(4, 4, 32), torch.randn(4, 4, 32)
        >>> loss = global_local_loss(g, l, temperature=0.1)
    """
    if global_tokens.shape != local_embeddings.shape or global_tokens.dim() != 3:
        raise ValueError("global_tokens and local_embeddings must both be (B, S, D); got "
                         f"{tuple(global_tokens.shape)} and {tuple(local_embeddings.shape)}")
    b, s, _ = global_tokens.shape
    if s < 2 and not batch_negatives:
        raise ValueError(f"S={s} time slice(s): an S-way choice needs S >= 2 (or batch_negatives=True)")
    g, loc = global_tokens, local_embeddings
    if normalize:
        g, loc = F.normalize(g, dim=-1), F.normalize(loc, dim=-1)
    if batch_negatives:
        g_flat, l_flat = g.reshape(b * s, -1), loc.reshape(b * s, -1)
        logits = _upcast(g_flat @ l_flat.T / temperature)            # (BS, BS)
        targets = torch.arange(b * s, device=logits.device)
        return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
    logits = _upcast(g @ loc.transpose(1, 2) / temperature)          # (B, S, S): token x clip
    targets = torch.arange(s, device=logits.device).repeat(b)
    g_to_l = F.cross_entropy(logits.reshape(b * s, s), targets)
    l_to_g = F.cross_entropy(logits.transpose(1, 2).reshape(b * s, s), targets)
    return 0.5 * (g_to_l + l_to_g)


def time_aligned_global_local(global_tokens: torch.Tensor, slice_times: torch.Tensor,
                              clip_embeddings: torch.Tensor, clip_times: torch.Tensor,
                              temperature: float | torch.Tensor = 0.1, normalize: bool = True) -> torch.Tensor:
    """Global-local alignment when the short clips sit anywhere in the long view's span.

    TCLR's global-local loss assumes ``S`` short clips that tile the long view exactly.
    Here every short clip ``c`` of a video (at time ``clip_times[b, c]``, in source frames)
    must pick out, among the ``S`` time slices of the same video's long view, the slice whose
    time ``slice_times[b, s]`` is nearest: an ``S``-way cross-entropy per clip. Clips and
    slices come from the same network, so the loss ties what a short dense clip sees to
    *when* it happens in the long view.

    Args:
        global_tokens: ``(B, S, D)`` the long view's time-slice embeddings.
        slice_times: ``(B, S)`` centre time of each slice (source frames).
        clip_embeddings: ``(B, C, D)`` the short clips' embeddings.
        clip_times: ``(B, C)`` centre time of each clip (source frames).
        temperature: softmax temperature.
        normalize: cosine similarity (L2-normalise both sides first).

    Returns:
        Scalar mean cross-entropy over the ``B * C`` clips.

    Raises:
        ValueError: shapes disagree or ``S < 2``.

    Examples:
        >>> g, l = torch.randn(2, 4, 8), torch.randn(2, 3, 8)
        >>> st = torch.tensor([[5., 17, 29, 41]] * 2); ct = torch.tensor([[3., 30, 44]] * 2)
        >>> loss = time_aligned_global_local(g, st, l, ct)
    """
    if global_tokens.dim() != 3 or clip_embeddings.dim() != 3 or global_tokens.shape[2] != clip_embeddings.shape[2]:
        raise ValueError(f"expected (B, S, D) tokens and (B, C, D) clips, got {tuple(global_tokens.shape)} "
                         f"and {tuple(clip_embeddings.shape)}")
    b, s, _ = global_tokens.shape
    if slice_times.shape != (b, s) or clip_times.shape != clip_embeddings.shape[:2]:
        raise ValueError(f"slice_times must be {(b, s)} and clip_times {tuple(clip_embeddings.shape[:2])}; got "
                         f"{tuple(slice_times.shape)} and {tuple(clip_times.shape)}")
    if s < 2:
        raise ValueError(f"S={s} time slice(s): an S-way choice needs S >= 2")
    g, c = global_tokens, clip_embeddings
    if normalize:
        g, c = F.normalize(g, dim=-1), F.normalize(c, dim=-1)
    logits = _upcast(c @ g.transpose(1, 2) / temperature)  # (B, C, S)
    target = (clip_times[:, :, None] - slice_times[:, None, :]).abs().argmin(dim=2)  # (B, C)
    return F.cross_entropy(logits.reshape(-1, s), target.reshape(-1))


def short_long_prediction_loss(pred_short_to_long: torch.Tensor, pred_long_to_short: torch.Tensor,
                               z_short: torch.Tensor, z_long: torch.Tensor) -> torch.Tensor:
    """BraVe/LSTCL two-way regression: ``||p_s->l/|p| - sg(z_l)/|z_l|||^2 + ||p_l->s/|p| - sg(z_s)/|z_s|||^2``.

    Each term is the normalised MSE ``2 - 2 cos`` of :func:`byol_loss`, averaged over the
    batch; the two directions are summed as in BraVe. No negatives: collapse is avoided by the
    predictor and the stop-gradient (BYOL, Grill et al. 2020), so keep the predictors.

    Args:
        pred_short_to_long: ``(B, D)`` prediction of the long view's projection made from the
            short view (BraVe: narrow -> broad).
        pred_long_to_short: ``(B, D)`` prediction of the short view's projection made from the
            long view (broad -> narrow).
        z_short: ``(B, D)`` projection of the short view (target of ``pred_long_to_short``;
            no gradient flows into it from this loss).
        z_long: ``(B, D)`` projection of the long view (target of ``pred_short_to_long``).

    Returns:
        Scalar in ``[0, 8]``.

    Raises:
        ValueError: the four shapes are not the same ``(B, D)``.

    Examples:
        >>> pred = CrossScalePredictor(dim=32, hidden=64)
        >>> zs, zl = torch.randn(8, 32), torch.randn(8, 32)
        >>> loss = short_long_prediction_loss(*pred(zs, zl), zs, zl)
    """
    shapes = {tuple(t.shape) for t in (pred_short_to_long, pred_long_to_short, z_short, z_long)}
    if len(shapes) != 1 or pred_short_to_long.dim() != 2:
        raise ValueError("predictions and targets must all be (B, D); got "
                         f"{[tuple(t.shape) for t in (pred_short_to_long, pred_long_to_short, z_short, z_long)]}")
    return byol_loss(pred_short_to_long, z_long) + byol_loss(pred_long_to_short, z_short)


class CrossScalePredictor(nn.Module):
    """Two MLP predictors ``(B, D) -> (B, D)``: short -> long and long -> short (BraVe's predictors).

    Each is ``Linear(D, hidden) -> BatchNorm1d -> ReLU -> Linear(hidden, D)``, the BYOL
    predictor (Grill et al. 2020) that BraVe uses per direction.

    Args:
        dim: projection size ``D``.
        hidden: hidden width of each MLP.

    Examples:
        >>> pred = CrossScalePredictor(dim=32, hidden=64)
        >>> p_sl, p_ls = pred(torch.randn(8, 32), torch.randn(8, 32))
        >>> p_sl.shape
        torch.Size([8, 32])
    """

    def __init__(self, dim: int, hidden: int = 256):
        super().__init__()

        def mlp() -> nn.Sequential:
            return nn.Sequential(nn.Linear(dim, hidden, bias=False), nn.BatchNorm1d(hidden),
                                 nn.ReLU(inplace=True), nn.Linear(hidden, dim))

        self.short_to_long = mlp()
        self.long_to_short = mlp()

    def forward(self, z_short: torch.Tensor, z_long: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(pred_short_to_long, pred_long_to_short)``, both ``(B, D)``."""
        return self.short_to_long(z_short), self.long_to_short(z_long)
