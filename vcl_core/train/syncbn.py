"""Synchronised BatchNorm that also works on CPU (gloo) processes.

``torch.nn.SyncBatchNorm`` only runs on GPUs. :class:`GlobalBatchNorm` all-reduces the
per-channel sum, sum of squares and count over every process (with gradients, through
``torch.distributed.nn.functional.all_reduce``), so ``N`` processes at batch ``B`` normalise
exactly like one process at ``N * B``. :func:`convert_sync_batchnorm` picks torch's kernel on
CUDA and this one elsewhere.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the union of all processes' batches (any input rank >= 2)."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (B, C, ...), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        dims = [0] + list(range(2, x.dim()))
        # half precision is summed in float32; float32 and float64 keep their own precision
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        count = xf.new_tensor([xf.numel() / c])
        stats = all_reduce(torch.cat([xf.sum(dims), (xf * xf).sum(dims), count]))
        total = stats[-1]
        mean = stats[:c] / total
        var = (stats[c:2 * c] / total - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * var * total / (total - 1).clamp_min(1))
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device_type: str = "cpu") -> nn.Module:
    """Replace every BatchNorm layer by a synchronised one (torch's on CUDA, ours elsewhere),
    keeping parameters and running statistics."""
    if device_type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        out = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        if module.affine:
            with torch.no_grad():
                out.weight.copy_(module.weight)
                out.bias.copy_(module.bias)
        if module.track_running_stats:
            out.running_mean.copy_(module.running_mean)
            out.running_var.copy_(module.running_var)
            out.num_batches_tracked.copy_(module.num_batches_tracked)
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, device_type))
    return out
