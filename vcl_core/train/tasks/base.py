"""What every predictive auxiliary task is: a small module with its own head, a target that
costs no labels, and a loss; registered by name and switched on by a weight,
``method.aux.<name>=<weight>``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn as nn

from ...data.views import ViewLayout

if TYPE_CHECKING:
    from ..config import Config

#: name -> task class, in registration order (which is also the order heads are created in)
TASKS: dict[str, type[AuxTask]] = {}


def register(cls: type[AuxTask]) -> type[AuxTask]:
    """Class decorator: make ``cls`` available as ``method.aux.<cls.name>``."""
    if cls.name in TASKS:
        raise ValueError(f"an auxiliary task named {cls.name!r} is already registered")
    TASKS[cls.name] = cls
    return cls


def video_uniform(batch: dict, n: int, stream: int = 0) -> torch.Tensor:
    """``(B, n)`` float32 draws from U[0, 1) on the CPU, each video's from a generator seeded by
    its ``batch["sample_seed"]`` (the sampler's per-item seed), ``stream`` apart: the same
    draws whether the batch is one process's or split across several, and again on resume.
    Different ``stream`` values give independent draws for different uses of one video."""
    seeds = [(s + stream * 0x9E3779B97F4A7C15) % 2**63 for s in batch["sample_seed"].tolist()]
    return torch.stack([torch.rand(n, generator=torch.Generator().manual_seed(s)) for s in seeds])


@dataclass
class TaskInputs:
    """What a task reads from one training step.

    Attributes:
        views: the batch's views ``(B, 3, T, H, W)`` in the layout's order.
        h: backbone embedding ``(B, D)`` of every view index.
        batch: the collated batch (``windows``, ``gap``, ``speed``, ``camera`` ...).
        layout: the batch's :class:`~vcl_core.data.ViewLayout` (which view index is a
            whole-video view, a clip view or another window of the same video).
        encode: the clip backbone, ``(B, 3, T, H, W) -> (B, D)``, for tasks that make clips of
            their own (``pseudo_motion``).
    """

    views: list[torch.Tensor]
    h: dict[int, torch.Tensor]
    batch: dict
    layout: ViewLayout
    encode: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def clips(self) -> list[int]:
        """Every short clip of the video: the clip views, then the other windows."""
        return list(self.layout.clips)

    def uniform(self, n: int) -> torch.Tensor:
        """``(B, n)`` float32 draws from U[0, 1), each video's from its own generator seeded by
        the sampler (``batch["sample_seed"]``): a task's random targets are then the same on one
        process as on several that split the batch, and a resumed run draws them again."""
        return video_uniform(self.batch, n).to(self.views[0].device)

    @property
    def first_view(self) -> int:
        """The view a single-view task reads: the first short clip, else the first whole view."""
        return (self.layout.short or self.layout.long)[0]

    def time_order(self, ids: list[int]) -> torch.Tensor:
        """``(B, K)``: for each video, positions in ``ids`` sorted by where the views start."""
        return self.batch["windows"][:, list(ids), 0].to(self.h[ids[0]].device).argsort(dim=1)

    def time_ordered(self, ids: list[int]) -> torch.Tensor:
        """``(B, K, D)``: the embeddings of views ``ids``, sorted by their start in the video."""
        order = self.time_order(ids)
        stacked = torch.stack([self.h[c] for c in ids], 1)
        return torch.gather(stacked, 1, order[..., None].expand(-1, -1, stacked.shape[2]))


class AuxTask(nn.Module):
    """Base class of the predictive tasks.

    Subclasses set ``name``, build their head in ``__init__(cfg, dim)`` (``dim`` is the
    backbone's embedding width), return a scalar loss from :meth:`forward`, and may list the
    config combinations they cannot work with in :meth:`problems`.
    """

    name: ClassVar[str]

    def __init__(self, cfg: Config, dim: int):
        super().__init__()

    @classmethod
    def problems(cls, cfg: Config) -> list[str]:
        """Why ``cfg`` cannot train this task (empty if it can)."""
        return []

    def forward(self, x: TaskInputs) -> torch.Tensor:
        raise NotImplementedError


def build_tasks(cfg: Config, dim: int) -> nn.ModuleDict:
    """The tasks with a positive weight in ``cfg.method.aux``, in registration order."""
    return nn.ModuleDict({name: cls(cfg, dim) for name, cls in TASKS.items() if cfg.method.aux.get(name, 0) > 0})


def clip_count(cfg: Config) -> int:
    """Short clips per video in a batch: clip views plus other windows."""
    from ..config import sampling_config

    return len(sampling_config(cfg).layout.clips)
