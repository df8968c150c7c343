"""3D CNN building blocks: normalisation choices, plain 3D and (2+1)D residual blocks, stages.

Every block maps ``(B, C_in, T, H, W)`` to ``(B, C_out, T, H', W')``: time is never strided
inside a pathway (SlowFast keeps full temporal resolution), space is strided by the first
block of a stage. Temporal kernels must be odd so that ``"same"`` padding keeps ``T``.

Normalisation (``norm``), which the seed singles out for stable contrast:

``batch``   BatchNorm3d: statistics over the batch, time and space. Under DDP convert it with
            :func:`vcl_core.train.syncbn.convert_sync_batchnorm` (SyncBN).
``frame``   per-frame normalisation: each frame's feature map is normalised on its own
            (GroupNorm with one group over ``(C, H, W)`` of every frame), so no statistic
            mixes time steps or videos.
``group``   GroupNorm over channel groups (independent of the batch size): up to
            :data:`MAX_GROUPS` groups, the largest count that divides the channels (Wu & He,
            ECCV 2018).
``layer``   GroupNorm with one group over ``(C, T, H, W)`` per clip.
"""
from __future__ import annotations

import torch
import torch.nn as nn

NORMS = ("batch", "frame", "group", "layer")
BLOCKS = ("3d", "2plus1d")
MAX_GROUPS = 8


class FrameNorm(nn.Module):
    """Normalise every frame's ``(C, H, W)`` map separately, with a per-channel affine.

    Shapes: ``(B, C, T, H, W) -> (B, C, T, H, W)``. No statistic crosses time steps or clips,
    so it behaves the same in training and evaluation and for any batch size.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = self.norm(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, c, h, w).transpose(1, 2)


class BatchNorm3d(nn.BatchNorm3d):
    """``nn.BatchNorm3d`` (same parameters, buffers and state dict) that runs narrow
    channels-last inputs through the channels-first kernel.

    PyTorch's CPU BatchNorm kernels for ``channels_last_3d`` vectorise over channels; with fewer
    channels than one AVX-512 register holds (the fast pathway's 8) the backward pass ran 9x
    slower than on the same tensor in the default layout (``bench/RESULTS.md``). Converting
    there and back costs two copies, far less; the output keeps the input's layout. Wider
    inputs and GPU tensors go straight to ``nn.BatchNorm3d``.
    """

    NARROW = 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.device.type == "cpu" and x.shape[1] < self.NARROW and x.dim() == 5
                and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d)):
            return super().forward(x.contiguous()).contiguous(memory_format=torch.channels_last_3d)
        return super().forward(x)


def num_groups(channels: int, max_groups: int = MAX_GROUPS) -> int:
    """The largest group count ``<= max_groups`` that divides ``channels`` (GroupNorm needs it)."""
    return max(g for g in range(1, min(max_groups, channels) + 1) if channels % g == 0)


def make_norm(kind: str, channels: int) -> nn.Module:
    """A normalisation layer for ``(B, C, T, H, W)`` features; see the module docstring.

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind == "batch":
        return BatchNorm3d(channels)
    if kind == "frame":
        return FrameNorm(channels)
    if kind == "group":
        return nn.GroupNorm(num_groups(channels), channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    raise ValueError(f"unknown norm {kind!r}; choose one of {NORMS}")


class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch per sample with probability ``p``.

    Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016. Surviving branches are
    scaled by ``1 / (1 - p)`` so the expectation is unchanged; identity in eval mode.
    Shapes: ``(B, ...) -> (B, ...)``.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _check_kt(kt: int) -> None:
    if kt < 1 or kt % 2 == 0:
        raise ValueError(f"temporal kernel sizes must be odd and >= 1 so T is kept, got {kt}")


def conv_unit(cin: int, cout: int, kt: int, stride: int, block: str, norm: str) -> nn.Sequential:
    """Convolution + norm (no activation): ``(B, cin, T, H, W) -> (B, cout, T, H/stride, W/stride)``.

    ``3d`` is one ``kt x 3 x 3`` kernel (Tran et al., C3D, ICCV 2015; Hara et al., R3D, CVPR
    2018). ``2plus1d`` factorises it into a spatial ``1 x 3 x 3`` and a temporal ``kt x 1 x 1``
    convolution with a norm + ReLU between them and a middle width that keeps the parameter
    count of the full kernel (Tran et al., R(2+1)D, CVPR 2018). With ``kt == 1`` both are the
    same ``1 x 3 x 3`` convolution.

    Raises:
        ValueError: unknown ``block`` or ``norm``, or an even ``kt``.
    """
    _check_kt(kt)
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; choose one of {BLOCKS}")
    if block == "3d" or kt == 1:
        return nn.Sequential(nn.Conv3d(cin, cout, (kt, 3, 3), (1, stride, stride), (kt // 2, 1, 1), bias=False),
                             make_norm(norm, cout))
    # mid width keeps the parameter count of the full 3D kernel (R(2+1)D rule)
    mid = max(1, (kt * 9 * cin * cout) // (9 * cin + kt * cout))
    return nn.Sequential(nn.Conv3d(cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
                         make_norm(norm, mid), nn.ReLU(inplace=True),
                         nn.Conv3d(mid, cout, (kt, 1, 1), 1, (kt // 2, 0, 0), bias=False),
                         make_norm(norm, cout))


class ResBlock(nn.Module):
    """Basic residual block (He et al., CVPR 2016) of two conv units; spatial stride on the first.

    Shapes: ``(B, cin, T, H, W) -> (B, cout, T, ceil(H/stride), ceil(W/stride))``. A 1x1x1
    projection shortcut is used when width or stride changes; ``drop_path`` drops the residual
    branch per sample during training.
    """

    def __init__(self, cin: int, cout: int, kt: int, stride: int, block: str, norm: str, drop_path: float):
        super().__init__()
        self.conv1 = conv_unit(cin, cout, kt, stride, block, norm)
        self.conv2 = conv_unit(cout, cout, kt, 1, block, norm)
        self.relu = nn.ReLU(inplace=True)
        self.drop = DropPath(drop_path)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv3d(cin, cout, 1, (1, stride, stride), bias=False), make_norm(norm, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.relu(self.conv1(x)))
        s = x if self.short is None else self.short(x)
        return self.relu(s + self.drop(y))


def make_stage(cin: int, cout: int, depth: int, kt: int, stride: int, block: str, norm: str,
               drop_path: float = 0.0) -> nn.Sequential:
    """``depth`` residual blocks, the first one changing width and spatial size.

    Shapes: ``(B, cin, T, H, W) -> (B, cout, T, ceil(H/stride), ceil(W/stride))``.

    Raises:
        ValueError: ``depth < 1`` or an invalid ``kt``/``block``/``norm``.
    """
    if depth < 1:
        raise ValueError(f"a stage needs at least one block, got depth={depth}")
    return nn.Sequential(*[ResBlock(cin if i == 0 else cout, cout, kt, stride if i == 0 else 1, block, norm, drop_path)
                           for i in range(depth)])


def make_stem(cin: int, cout: int, kt: int, norm: str) -> nn.Sequential:
    """First layer: ``kt x 5 x 5`` conv with spatial stride 2, norm, ReLU.

    Shapes: ``(B, cin, T, H, W) -> (B, cout, T, ceil(H/2), ceil(W/2))``. With ``kt == 1`` every
    output frame depends on its own input frame only.

    Raises:
        ValueError: an even ``kt`` or unknown ``norm``.
    """
    _check_kt(kt)
    return nn.Sequential(nn.Conv3d(cin, cout, (kt, 5, 5), (1, 2, 2), (kt // 2, 2, 2), bias=False),
                         make_norm(norm, cout), nn.ReLU(inplace=True))
