"""Parameters and FLOPs per pathway and stage, counted by PyTorch's own flop counter.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts the matrix
multiplications and convolutions actually dispatched in one forward pass (a multiply-add
counts as 2 FLOPs; norms, activations, means and concatenations count 0). Forward and
backward of a training step cost about 3x the forward FLOPs.

For a :class:`~vcl_core.models.fastslow.FastSlowEncoder` the depth-1 rows are the pathways
(``fast``, ``slow``), the ``laterals`` and the ``fusion``; the depth-2 rows are the stems,
stages (``fast.stages.0`` ...), individual lateral convolutions and fusion parts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

_CONTAINERS = (nn.ModuleList, nn.ModuleDict)


@dataclass
class ModelSummary:
    """Result of :func:`summary`.

    Attributes:
        rows: one dict per module row, in tree order, with ``module`` (qualified name),
            ``depth``, ``params``, ``flops`` (forward, whole input batch),
            ``gflops_per_sample`` and ``flops_percent``; the first row is ``total``.
        input_shape: the shape the model was run on, e.g. ``(B, 3, T, H, W)``.
        total_params: ``sum(p.numel() for p in model.parameters())``.
        total_flops: forward FLOPs of the whole batch.
    """

    rows: list[dict] = field(default_factory=list)
    input_shape: tuple[int, ...] = ()
    total_params: int = 0
    total_flops: int = 0

    @property
    def flops_per_sample(self) -> float:
        """Forward FLOPs per sample (per clip for ``(B, 3, T, H, W)`` inputs)."""
        return self.total_flops / max(1, self.input_shape[0] if self.input_shape else 1)

    @property
    def table(self) -> str:
        """The rows as an aligned text table."""
        header = ("module", "params", "GFLOPs/sample", "% FLOPs")
        lines = [(("  " * r["depth"]) + r["module"], f"{r['params']:,}", f"{r['gflops_per_sample']:.4f}",
                  f"{r['flops_percent']:.1f}") for r in self.rows]
        widths = [max(len(x[i]) for x in [header, *lines]) for i in range(4)]
        fmt = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                    for i, (c, w) in enumerate(zip(row, widths)))
        rule = "-" * len(fmt(header))
        return "\n".join([f"input {tuple(self.input_shape)}", fmt(header), rule, *map(fmt, lines)])

    def __str__(self) -> str:
        return self.table


def _param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def summary(model: nn.Module, input_shape: tuple[int, ...] | torch.Size, *, depth: int = 2) -> ModelSummary:
    """Count parameters and forward FLOPs of ``model`` per submodule, down to ``depth`` levels.

    The model runs once in eval mode under ``torch.no_grad`` on a random input of
    ``input_shape`` (on the model's device and dtype) and is put back in its previous mode.
    ``ModuleList``/``ModuleDict`` containers below the top level do not add a level: their
    members are listed in their place (``fast.stages.0`` sits next to ``fast.stem``). A module
    that is never called itself (a container whose children the parent calls) gets the sum of
    its children's FLOPs.

    Args:
        model: e.g. a :class:`~vcl_core.models.fastslow.FastSlowEncoder`.
        input_shape: e.g. ``(B, 3, T, H, W)``.
        depth: how many levels of rows below ``total``.

    Returns:
        A :class:`ModelSummary` (``.rows`` list of dicts, ``.table`` printable string).

    Examples:
        >>> s = summary(create_fast_slow(widths=(8, 16, 32)), (1, 3, 8, 32, 32))
        >>> print(s.table)  # doctest: +SKIP
    """
    measured: dict[nn.Module, int] = {}
    open_at: dict[nn.Module, list[int]] = {}
    counter = FlopCounterMode(display=False)

    def pre(mod: nn.Module, _args) -> None:
        open_at.setdefault(mod, []).append(counter.get_total_flops())

    def post(mod: nn.Module, _args, _out) -> None:
        measured[mod] = measured.get(mod, 0) + counter.get_total_flops() - open_at[mod].pop()

    handles = [h for m in model.modules() for h in (m.register_forward_pre_hook(pre), m.register_forward_hook(post))]
    p = next(model.parameters(), None)
    x = torch.randn(*input_shape, device=p.device if p is not None else None,
                    dtype=p.dtype if p is not None and p.is_floating_point() else None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    total = counter.get_total_flops()

    def flops(mod: nn.Module) -> int:
        if mod in measured:
            return measured[mod]
        return sum(flops(c) for c in mod.children())

    batch = max(1, int(input_shape[0])) if len(input_shape) else 1

    def row(name: str, level: int, mod: nn.Module | None) -> dict:
        f = total if mod is None else flops(mod)
        return {"module": name, "depth": level, "params": _param_count(model if mod is None else mod),
                "flops": int(f), "gflops_per_sample": f / batch / 1e9,
                "flops_percent": 100.0 * f / total if total else 0.0}

    rows = [row("total", 0, None)]

    def visit(mod: nn.Module, prefix: str, level: int) -> None:
        for name, child in mod.named_children():
            qual = f"{prefix}{name}"
            if isinstance(child, _CONTAINERS) and level >= 1:
                visit(child, qual + ".", level)  # members take the container's place
                continue
            rows.append(row(qual, level + 1, child))
            if level + 1 < depth:
                visit(child, qual + ".", level + 1)

    visit(model, "", 0)
    return ModelSummary(rows=rows, input_shape=tuple(int(s) for s in input_shape),
                        total_params=_param_count(model), total_flops=int(total))


def training_speed(model: nn.Module, input_shape: tuple[int, ...], *, reps: int = 5,
                   channels_last: bool = True) -> float:
    """Clips per second of one forward and backward pass through ``model`` alone on random
    input of ``input_shape`` (batch first), the best of ``reps`` after a warm-up: what the
    encoder costs in training on this machine, now, with no data loading or optimiser.
    Compare models measured in one session; numbers from different times or machines are not
    comparable. The model is left in training mode with its gradients zeroed."""
    import time

    model.train()
    fmt = torch.channels_last_3d if channels_last and len(input_shape) == 5 else torch.contiguous_format
    model.to(memory_format=fmt)
    x = torch.randn(*input_shape).contiguous(memory_format=fmt)
    best = float("inf")
    for _ in range(reps + 1):
        t = time.perf_counter()
        model(x).float().square().mean().backward()
        best = min(best, time.perf_counter() - t)
    model.zero_grad(set_to_none=True)
    return input_shape[0] / best
