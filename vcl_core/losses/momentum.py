"""Momentum (EMA) encoders: the slowly moving key/target network of MoCo and BYOL.

The target network's parameters follow the online network's by an exponential moving average
``theta_t <- m * theta_t + (1 - m) * theta_o`` (MoCo, He et al. 2020, "Momentum Contrast for
Unsupervised Visual Representation Learning"; BYOL, Grill et al. 2020). Buffers (BatchNorm
running statistics) are copied, not averaged. BYOL anneals ``m`` from ``base`` to 1 with a
cosine (:func:`cosine_momentum`); rhoBYOL/rhoMoCo (Feichtenhofer et al. 2021) do the same for
video.
"""
from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn as nn


def _check_momentum(momentum: float) -> None:
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")


@torch.no_grad()
def ema_update(online: nn.Module, target: nn.Module, momentum: float) -> None:
    """In place: ``target.param = momentum * target.param + (1 - momentum) * online.param``; buffers copied.

    Args:
        online: the network trained by gradient descent.
        target: a structurally identical copy (same parameter and buffer names and shapes).
        momentum: ``m`` in ``[0, 1]``; 1 freezes the target, 0 copies the online network.

    Raises:
        ValueError: ``momentum`` outside ``[0, 1]`` or the two networks differ in structure.

    Examples:
        >>> online = nn.Linear(4, 4)
        >>> target = copy.deepcopy(online)
        >>> ema_update(online, target, momentum=0.99)
    """
    _check_momentum(momentum)
    for kind, o_items, t_items in (("parameters", online.named_parameters(), target.named_parameters()),
                                   ("buffers", online.named_buffers(), target.named_buffers())):
        o, t = dict(o_items), dict(t_items)
        if o.keys() != t.keys():
            raise ValueError(f"online and target differ in {kind}: only online {sorted(o.keys() - t.keys())}, "
                             f"only target {sorted(t.keys() - o.keys())}")
        for name, t_val in t.items():
            o_val = o[name]
            if o_val.shape != t_val.shape:
                raise ValueError(f"{kind[:-1]} {name!r}: online {tuple(o_val.shape)} vs target {tuple(t_val.shape)}")
            if kind == "parameters":
                t_val.mul_(momentum).add_(o_val.detach().to(t_val.dtype), alpha=1.0 - momentum)
            else:
                t_val.copy_(o_val)


def cosine_momentum(step: int, total_steps: int, base: float = 0.99, final: float = 1.0) -> float:
    """BYOL's momentum schedule ``final - (final - base) * (1 + cos(pi * step / total_steps)) / 2``.

    Starts at ``base`` (step 0) and rises to ``final`` at ``total_steps``; steps outside
    ``[0, total_steps]`` are clamped (Grill et al. 2020, section 3.2).

    Args:
        step: current optimisation step.
        total_steps: steps in the whole run (``> 0``).
        base: momentum at step 0.
        final: momentum at the end.

    Returns:
        The momentum for this step.

    Raises:
        ValueError: ``total_steps <= 0`` or ``base``/``final`` outside ``[0, 1]``.

    Examples:
        >>> cosine_momentum(0, 100), cosine_momentum(50, 100), cosine_momentum(100, 100)
        (0.99, 0.995, 1.0)
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps must be > 0, got {total_steps}")
    _check_momentum(base)
    _check_momentum(final)
    progress = min(max(step, 0), total_steps) / total_steps
    return final - (final - base) * (1 + math.cos(math.pi * progress)) / 2


class MomentumEncoder(nn.Module):
    """A frozen deep copy of ``online`` that follows it by EMA: the MoCo key / BYOL target encoder.

    The copy is a registered submodule (``.module``, saved in checkpoints, moved by ``.to``);
    the online network is only referenced, not registered, so it is not saved or counted
    twice. Calls run the copy without autograd. The copy follows ``.train()`` / ``.eval()``
    like any submodule (MoCo keeps the key encoder in train mode).

    Args:
        online: the network trained by gradient descent.

    Examples:
        >>> online = nn.Linear(8, 4)
        >>> key_encoder = MomentumEncoder(online)
        >>> k = key_encoder(torch.randn(2, 8))  # no grad
        >>> key_encoder.update(momentum=0.99)   # after optimizer.step()
    """

    def __init__(self, online: nn.Module):
        super().__init__()
        self.module = copy.deepcopy(online)
        self.module.requires_grad_(False)
        self._online = (online,)  # a tuple keeps nn.Module from registering it

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the target network under ``torch.no_grad()``."""
        with torch.no_grad():
            return self.module(*args, **kwargs)

    def update(self, momentum: float) -> None:
        """EMA step towards the online network (see :func:`ema_update`)."""
        ema_update(self._online[0], self.module, momentum)
