"""Cross-scale alignment: tie the long view's time slices to the short clips.

TCLR's global-local temporal contrast (Dave et al. 2022, "TCLR: Temporal Contrastive Learning
for Video Representation", CVIU) encodes the long (sparse) view of a video into ``S`` time
tokens and asks each short (dense) clip to pick out the token of its own moment. TCLR tiles the
long view with exactly ``S`` clips; :func:`time_aligned_global_local` lets the clips sit
anywhere (as the samplers draw them) and matches each to the nearest slice in time. This forces
the long pathway to keep *where in time* things happen, not just *what* happens.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .infonce import _upcast


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


