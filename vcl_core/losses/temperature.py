"""Softmax temperature: fixed, scheduled over training, or learned.

The temperature ``t`` sets how sharply InfoNCE concentrates on hard negatives: small ``t``
separates near-duplicates (good for fine temporal detail), large ``t`` tolerates
semantically similar negatives (Wang & Liu 2021, "Understanding the Behaviour of Contrastive
Loss"). The video systems we surveyed (SlowFast-based CVRL, TCLR, MoCo/SimCLR video
baselines) keep it fixed; the schedules here follow the image literature:

- ``warmup``: linear from ``start`` to ``end`` over ``warmup_steps``, then constant (DINO's
  teacher-temperature warm-up, Caron et al. 2021);
- ``cosine``: half-cosine from ``start`` to ``end`` over ``total_steps``, then constant
  (the annealed form of Kukleva et al. 2023, "Temperature Schedules for Self-Supervised
  Contrastive Methods on Long-Tail Data", whose schedule oscillates with a cosine);
- :class:`LearnedTemperature`: a trained log-temperature, clamped (CLIP, Radford et al. 2021,
  learns ``1 / t`` the same way and clips it).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

_KINDS = ("fixed", "warmup", "cosine")


class TemperatureSchedule:
    """``schedule(step) -> temperature``: ``fixed``, linear ``warmup`` or ``cosine``.

    Args:
        kind: ``"fixed"``, ``"warmup"`` or ``"cosine"``.
        start: temperature at step 0 (the only value for ``fixed``).
        end: temperature reached at the end of the ramp (``warmup`` and ``cosine``).
        warmup_steps: ramp length for ``warmup``.
        total_steps: ramp length for ``cosine``.

    Raises:
        ValueError: unknown kind, a non-positive temperature, a missing ramp parameter, or a
            parameter the kind does not use (so a config cannot silently do nothing).

    Examples:
        >>> TemperatureSchedule("warmup", start=0.2, end=0.1, warmup_steps=10)(5)
        0.15000000000000002
        >>> TemperatureSchedule("cosine", start=0.2, end=0.1, total_steps=10)(10)
        0.1
    """

    def __init__(self, kind: str = "fixed", start: float = 0.1, end: float | None = None,
                 warmup_steps: int | None = None, total_steps: int | None = None):
        if kind not in _KINDS:
            raise ValueError(f"temperature schedule kind must be one of {_KINDS}, got {kind!r}")
        needs = {"fixed": set(), "warmup": {"end", "warmup_steps"}, "cosine": {"end", "total_steps"}}[kind]
        given = {name for name, v in (("end", end), ("warmup_steps", warmup_steps), ("total_steps", total_steps))
                 if v is not None}
        if needs - given:
            raise ValueError(f"kind={kind!r} needs {sorted(needs - given)}")
        if given - needs:
            raise ValueError(f"kind={kind!r} does not use {sorted(given - needs)}; leave them unset")
        for name, v in (("start", start), ("end", end)):
            if v is not None and v <= 0:
                raise ValueError(f"temperature {name} must be > 0, got {v}")
        for name, v in (("warmup_steps", warmup_steps), ("total_steps", total_steps)):
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.kind, self.start, self.end = kind, start, end
        self.warmup_steps, self.total_steps = warmup_steps, total_steps

    def __call__(self, step: int) -> float:
        """The temperature at optimisation step ``step`` (negative steps count as 0)."""
        if self.kind == "fixed":
            return self.start
        if self.kind == "warmup":
            progress = min(max(step, 0), self.warmup_steps) / self.warmup_steps
            return self.start + (self.end - self.start) * progress
        progress = min(max(step, 0), self.total_steps) / self.total_steps
        return self.end + (self.start - self.end) * (1 + math.cos(math.pi * progress)) / 2

    def __repr__(self) -> str:
        return (f"TemperatureSchedule(kind={self.kind!r}, start={self.start}, end={self.end}, "
                f"warmup_steps={self.warmup_steps}, total_steps={self.total_steps})")


class LearnedTemperature(nn.Module):
    """A trainable temperature ``exp(log_t)``, kept inside ``[min, max]``.

    The parameter is the log-temperature (gradient steps act multiplicatively, the value
    stays positive). Each forward clamps the *parameter* into ``[log min, log max]`` in
    place before using it, as CLIP clips its logit scale, so the temperature can come back
    from a bound (a clamp on the output alone would zero the gradient there for good).

    Args:
        init: initial temperature.
        min: lower bound (``> 0``).
        max: upper bound.

    Raises:
        ValueError: ``not 0 < min <= init <= max``.

    Examples:
        >>> tau = LearnedTemperature(init=0.1)
        >>> q, k = torch.randn(8, 16), torch.randn(8, 16)
        >>> from vcl_core.losses import info_nce
        >>> info_nce(q, k, temperature=tau()).backward()
        >>> tau.log_temperature.grad is not None
        True
    """

    def __init__(self, init: float = 0.1, min: float = 0.01, max: float = 1.0):  # noqa: A002 (brief's names)
        super().__init__()
        if not 0 < min <= init <= max:
            raise ValueError(f"need 0 < min <= init <= max, got min={min}, init={init}, max={max}")
        self.min, self.max = min, max
        self.log_temperature = nn.Parameter(torch.tensor(math.log(init)))

    def forward(self) -> torch.Tensor:
        """The current temperature, a 0-d tensor with gradient."""
        with torch.no_grad():
            self.log_temperature.clamp_(math.log(self.min), math.log(self.max))
        return self.log_temperature.exp()

    def extra_repr(self) -> str:
        return f"min={self.min}, max={self.max}"
