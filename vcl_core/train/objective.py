"""Recipes: the self-supervised objectives, composed from encoder, heads and losses.

This is the one place where models and losses meet. An objective maps a batch of views to a
scalar loss and a dict of numbers worth logging. Views arrive in the layout the data config
makes: ``data.long_views`` whole-video views, then ``data.num_views`` short clip views, then
``data.intra_negatives`` windows of the same video. :func:`build_objective` picks the recipe
named by ``method.name``:

``simclr``  in-batch InfoNCE within each temporal scale (Chen et al., ICML 2020).
``cvrl``    SimCLR on two clips whose gap is drawn from a decreasing density (Qian et al.,
            CVPR 2021); needs ``data.policy=cvrl``.
``moco``    queries from the online network, keys from a momentum encoder, negatives from a
            queue per scale that stores video ids and windows, so same-video keys are masked
            (He et al., CVPR 2020; Feichtenhofer et al., rho-MoCo, CVPR 2021).
``bank``    an instance memory bank: each video's stored embedding is its positive, random
            stored embeddings are negatives (Wu et al., InstDisc, CVPR 2018).
``byol``    negative-free: an online predictor regresses the momentum encoder's projection
            of the other view (Grill et al., NeurIPS 2020; rho-BYOL for video).
``tclr``    instance contrast plus local-local contrast with other windows of the same video
            as negatives, plus global-local alignment of the long view's time slices with
            the short clips they cover (Dave et al., TCLR, CVIU 2022).
``vcl``     the project's design: fast/slow encoder, contrast at two temporal scales, the
            anchor played backwards as a temporal hard negative, time-aligned global-local
            cross-scale alignment, and (optionally) a MoCo queue per scale.
``supervised``  not self-supervised: cross-entropy on the labels; the ceiling.

Every recipe can add the predictive auxiliary tasks of :mod:`vcl_core.train.tasks` (clip
order, playback speed, temporal gap, future feature, motion magnitude, camera motion) with a
weight each (``method.aux.<name>``).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..losses import (KeyQueue, LearnedTemperature, MemoryBank, MomentumEncoder, TemperatureSchedule, byol_loss,
                      cosine_momentum, distributed_info_nce, gather_with_grad, info_nce, is_distributed,
                      multiscale_info_nce, time_aligned_global_local)
from ..eval.diagnostics import effective_rank, embedding_std
from ..models import ClipMemory, FastSlowEncoder, MultiScaleEncoder, PredictorHead, ProjectionHead
from .config import Config, sampling_config
from .tasks import TaskInputs, build_tasks, video_uniform

CONTRASTIVE = ("simclr", "cvrl", "moco", "bank", "byol", "tclr", "vcl")


def temporal_negatives(x: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Clips with the appearance of ``x (B, C, T, H, W)`` but another temporal structure.

    ``reverse`` plays them backwards (every motion and the order of events reversed);
    ``rotate_reverse`` plays them backwards *and* turns every frame by 180 degrees, which
    reverses each motion twice: the motion is the anchor's, only the order of events is
    reversed; ``shuffle`` permutes their frames; ``both`` = reverse and shuffle.
    """
    out = []
    if kind in ("reverse", "both"):
        out.append(x.flip(2))
    if kind == "rotate_reverse":
        out.append(x.flip(2).flip(3).flip(4))
    if kind in ("shuffle", "both"):
        t = x.shape[2]
        perm = torch.randperm(t, generator=generator)
        if t > 1 and torch.equal(perm, torch.arange(t)):
            perm = perm.roll(1)
        out.append(x[:, :, perm.to(x.device)])
    return out


def patch_shuffle(x: torch.Tensor, grid: int, u: torch.Tensor) -> torch.Tensor:
    """Clips with the colours, textures and motion of ``x (B, C, T, H, W)`` but another layout.

    Every frame is cut into a ``grid x grid`` grid of cells of ``H // grid x W // grid`` pixels
    (a remainder at the bottom and right stays in place) and the cells are permuted: one
    permutation per clip, the ranks of its row of ``u (B, grid * grid)`` (uniform draws, e.g.
    each video's own, :func:`~vcl_core.train.tasks.video_uniform`), never the identity, the
    same for all the clip's frames, so whatever moves inside a cell still moves. What the permutation destroys is the layout: an object's
    outline, where things are relative to each other.

    Raises:
        ValueError: ``grid < 2`` or a frame smaller than ``grid`` pixels a side.
    """
    b, c, t, h, w = x.shape
    ch, cw = h // grid, w // grid
    if grid < 2 or ch < 1 or cw < 1:
        raise ValueError(f"patch_shuffle needs grid >= 2 and frames of at least grid pixels a side "
                         f"(grid {grid}, frames {h}x{w})")
    n = grid * grid
    perms = u.cpu().argsort(dim=1)
    same = (perms == torch.arange(n)).all(1)
    perms[same] = perms[same].roll(1, dims=1)  # never the identity
    core = x[..., : grid * ch, : grid * cw]
    cells = core.reshape(b, c, t, grid, ch, grid, cw).permute(0, 3, 5, 1, 2, 4, 6).reshape(b, n, c, t, ch, cw)
    cells = cells[torch.arange(b, device=x.device)[:, None], perms.to(x.device)]
    shuffled = cells.reshape(b, grid, grid, c, t, ch, cw).permute(0, 3, 4, 1, 5, 2, 6).reshape(
        b, c, t, grid * ch, grid * cw)
    if (grid * ch, grid * cw) == (h, w):
        return shuffled
    out = x.clone()
    out[..., : grid * ch, : grid * cw] = shuffled
    return out


def time_tokens(encoder: FastSlowEncoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The embedding ``(B, D)`` of a clip and its time-slice tokens ``(B, S, D)``.

    A slice is one slow-pathway time step (``alpha`` frames). Its token is the encoder's own
    fusion and pooling applied to that slice alone (the slice's fast tokens and its slow
    token), so tokens and the embedding live in the same ``D``-dimensional space.
    """
    fast, slow = encoder.tokens(x)
    emb, _ = encoder.fusion(fast, slow)
    alpha = encoder.cfg.alpha
    s = slow.shape[1] if slow is not None else math.ceil(fast.shape[1] / alpha)
    fs = ss = None
    if fast is not None:
        b, t, c = fast.shape
        pad = s * alpha - t
        f = torch.cat([fast, fast[:, -1:].expand(b, pad, c)], 1) if pad else fast
        fs = f.reshape(b * s, alpha, c)
    if slow is not None:
        ss = slow.reshape(slow.shape[0] * s, 1, slow.shape[2])
    tok, _ = encoder.fusion(fs, ss)
    return emb, tok.reshape(x.shape[0], s, -1)


class VideoObjective(nn.Module):
    """All self-supervised recipes; ``cfg.method.name`` selects how negatives are formed.

    Args:
        cfg: the run config (``method``, ``data`` layout, ``model``).
        num_videos: training videos (the memory bank's size).
        world_size: processes in DDP (queues enqueue keys gathered from all of them).
    """

    needs_labels = False

    def __init__(self, cfg: Config, num_videos: int = 0):
        super().__init__()
        self.cfg = cfg
        m = cfg.method
        self.name = m.name
        # one backbone for clips and whole-video views, or one each (method.share_scales=false)
        self.backbone = MultiScaleEncoder(cfg.model, scales=("short", "long"), shared=m.share_scales)
        dim = self.encoder.embed_dim
        self.projector = ProjectionHead(dim, m.proj_hidden, m.proj_dim, m.proj_layers)
        if m.fast_contrast > 0:
            fast = self.encoder.stream_slice("fast")
            self.fast_projector = ProjectionHead(fast.stop - fast.start, m.proj_hidden, m.proj_dim, m.proj_layers)
        # the views a batch holds, as sampling lays them out (checked against every batch's own)
        self.layout = sampling_config(cfg).layout
        self.long_ids = list(self.layout.long)
        self.short_ids = list(self.layout.short)
        self.neg_ids = list(self.layout.negative)
        self.scales = {k: v for k, v in (("long", self.long_ids), ("short", self.short_ids)) if len(v) >= 2}
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.total_steps = 1
        if m.temperature_schedule == "learned":
            self.learned_temperature = LearnedTemperature(m.temperature)
        else:
            self.learned_temperature = None
        uses_momentum = m.name in ("moco", "byol") or (m.name == "vcl" and m.queue_size > 0)
        # the key / target network: a frozen copy of backbone + projection head following them by EMA
        self.target_net = MomentumEncoder(nn.Sequential(self.encoder, self.projector)) if uses_momentum else None
        if m.name == "byol":
            self.predictor = PredictorHead(m.proj_dim, m.pred_hidden)
        if m.queue_size > 0:
            self.queues = nn.ModuleDict({s: KeyQueue(m.proj_dim, m.queue_size) for s in self.scales})
        if m.name == "bank":
            if num_videos < 2:
                raise ValueError("method.name=bank needs the number of training videos (>= 2)")
            self.bank = MemoryBank(num_videos, m.proj_dim, m.bank_momentum)
        self.tasks = build_tasks(cfg, dim)  # predictive auxiliaries (vcl_core.train.tasks)
        self.memory = ClipMemory(dim, m.memory, hidden=dim, out_dim=dim, tbptt=m.memory_tbptt) \
            if m.memory != "none" else None

    # ------------------------------------------------------------------ helpers
    def temperature(self) -> torch.Tensor | float:
        m = self.cfg.method
        if self.learned_temperature is not None:
            return self.learned_temperature()
        if m.temperature_schedule == "fixed":
            return m.temperature
        sched = TemperatureSchedule(m.temperature_schedule, m.temperature, m.temperature_end,
                                    warmup_steps=max(1, int(0.3 * self.total_steps)) if m.temperature_schedule == "warmup" else None,
                                    total_steps=self.total_steps if m.temperature_schedule == "cosine" else None)
        return sched(int(self.step))

    @property
    def encoder(self) -> FastSlowEncoder:
        """The backbone of the short clips (the one backbone unless ``method.share_scales=false``)."""
        return self.backbone.encoder("short")

    @property
    def long_encoder(self) -> FastSlowEncoder:
        """The backbone of the whole-video views (the one backbone unless ``method.share_scales=false``)."""
        return self.backbone.encoder("long")

    def compile_encoder(self, compile_fn) -> None:
        """Replace the backbone(s) by ``compile_fn(backbone)`` (``train.compile``)."""
        self.backbone.map_backbones(compile_fn)

    def embed(self, x: torch.Tensor, long: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        h = (self.long_encoder if long else self.encoder)(x)
        return h, self.projector(h)

    def evaluation_encoder(self) -> nn.Module:
        """The frozen encoder that evaluation uses: the backbone, or with separate scales a
        router that sends whole-video views (``data.long_frames`` frames) to the long one."""
        if self.long_encoder is self.encoder:
            return self.encoder
        return ScaleRouter(self.encoder, self.long_encoder, self.cfg.data.long_frames)

    def video_encoder(self) -> nn.Module | None:
        """``(B, K, 3, T, H, W) -> (B, D)``: the clip encoder plus the memory over the ``K``
        clips (in time order), or ``None`` without a memory."""
        return None if self.memory is None else MemoryVideoEncoder(self.encoder, self.memory)

    @torch.no_grad()
    def target(self, x: torch.Tensor) -> torch.Tensor:
        return self.target_net(x)

    def after_step(self, step: int, total_steps: int) -> None:
        """Called by the loop after every optimiser step: momentum updates, step count."""
        self.step += 1
        self.total_steps = total_steps
        if self.target_net is not None:
            self.target_net.update(cosine_momentum(step, total_steps, self.cfg.method.momentum, 1.0))

    def _check_layout(self, batch: dict) -> None:
        """The batch must carry the view layout this objective was built for."""
        layout = batch.get("layout")
        if layout != self.layout:
            raise ValueError(f"the batch's view layout {layout} is not the one the objective was built for "
                             f"({self.layout}): build the dataset and the objective from the same config "
                             "(vcl_core.train.sampling_config)")
        layout.check(batch["views"])

    # ------------------------------------------------------------------ forward
    def encode_all(self, clips: list[tuple[torch.Tensor, bool]]) -> list[torch.Tensor]:
        """Backbone features of many clip batches ``(x (B, 3, T, H, W), long)``, with one encoder
        call per group of equal shape and scale (fewer, larger calls keep a CPU busy; BatchNorm
        then normalises the group together, as it would one big batch)."""
        out: list[torch.Tensor | None] = [None] * len(clips)
        groups: dict[tuple, list[int]] = {}
        for i, (x, long) in enumerate(clips):
            groups.setdefault((tuple(x.shape), long), []).append(i)
        for (_, long), idx in groups.items():
            enc = self.long_encoder if long else self.encoder
            h = enc(torch.cat([clips[i][0] for i in idx])) if len(idx) > 1 else enc(clips[idx[0]][0])
            for i, part in zip(idx, h.split([clips[i][0].shape[0] for i in idx])):
                out[i] = part
        return out

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        m = self.cfg.method
        views = batch["views"]
        self._check_layout(batch)
        tau = self.temperature()
        logs: dict[str, float] = {}
        h: dict[int, torch.Tensor] = {}
        z: dict[int, torch.Tensor] = {}
        tokens: dict[int, torch.Tensor] = {}
        # derived negatives: every view of a contrasted scale played backwards / shuffled in time
        # (and whole-video views patch-shuffled in space, method.patch_negatives)
        if m.name == "bank":  # the bank contrasts one view, its query, against the stored videos
            contrasted = [self._bank_query()]
        else:
            contrasted = [i for ids in (self.scales.values() if m.name != "byol" else ()) for i in ids]
        neg_of = [i for i in contrasted if self._derives_negatives(i)]
        jobs, owners = [], []
        for i, v in enumerate(views):
            if i in self.long_ids and m.global_local > 0 and i == self.long_ids[0]:
                h[i], tokens[i] = time_tokens(self.long_encoder, v)
            else:
                jobs.append((v, i in self.long_ids))
                owners.append(("view", i))
        if m.negative_grad:
            for i in neg_of:
                for n in self._derived_negatives(i, views[i], batch):
                    jobs.append((n, i in self.long_ids))
                    owners.append(("neg", i))
        feats = self.encode_all(jobs)
        negs: dict[int, list[torch.Tensor]] = {}
        for (kind, i), f in zip(owners, feats):
            if kind == "view":
                h[i] = f
            else:
                negs.setdefault(i, []).append(f)
        if neg_of and not m.negative_grad:
            with torch.no_grad():
                for i in neg_of:
                    negs[i] = self.encode_all([(n, i in self.long_ids)
                                               for n in self._derived_negatives(i, views[i], batch)])
        for i in h:
            z[i] = self.projector(h[i])
        temporal = {i: self.projector(torch.cat(f)) for i, f in negs.items()}
        total = 0.0
        scale_w = {"long": m.w_long, "short": m.w_short}
        for scale, ids in (self.scales.items() if m.name != "bank" else ()):
            term = self._contrast(scale, ids, views, z, batch, tau, temporal)
            logs[f"loss_{scale}"] = float(term.detach())
            total = total + scale_w[scale] * term
            if m.fast_contrast > 0 and m.name != "byol":
                fast = self.encoder.stream_slice("fast")
                others = self.neg_ids if scale == "short" else []  # other windows stay negatives
                zf = {i: self.fast_projector(h[i][:, fast]) for i in list(ids) + list(others)}
                tf = {i: self.fast_projector(torch.cat(negs[i])[:, fast]) for i in ids if i in negs}
                term = self._contrast(scale, ids, views, zf, batch, tau, tf, use_queue=False)
                logs[f"loss_{scale}_fast"] = float(term.detach())
                total = total + m.fast_contrast * scale_w[scale] * term
        if m.name == "bank":
            term = self._bank(z, batch, tau, temporal)
            logs["loss_bank"] = float(term.detach())
            total = total + term
        if self.memory is not None:
            term = self._memory(h, z, batch, tau)
            logs["loss_memory"] = float(term.detach())
            total = total + m.memory_weight * term
        if m.global_local > 0:
            term = self._global_local(tokens, z, batch, tau)
            logs["loss_global_local"] = float(term.detach())
            total = total + m.global_local * term
        inputs = TaskInputs(views, h, batch, self.layout, encode=self.encoder)
        for name, task in self.tasks.items():
            term = task(inputs)
            logs[f"loss_{name}"] = float(term.detach())
            total = total + m.aux[name] * term
        logs["temperature"] = float(tau.detach()) if torch.is_tensor(tau) else float(tau)
        logs["loss"] = float(total.detach())
        # collapse monitoring (the loop warns when these fall): SimSiam's embedding std and the
        # effective rank of the batch's projections (NaN once the step diverged: the loop stops on it)
        zz = z[0].detach().float()
        finite = bool(torch.isfinite(zz).all())
        logs["embedding_std"] = float(embedding_std(zz)) if finite else float("nan")
        logs["effective_rank"] = float(effective_rank(zz)) if finite else float("nan")
        return total, logs

    def _derives_negatives(self, i: int) -> bool:
        m = self.cfg.method
        if i in self.long_ids:
            return m.long_negatives != "none" or m.patch_negatives > 0
        return m.temporal_negatives != "none"

    def _derived_negatives(self, i: int, x: torch.Tensor, batch: dict) -> list[torch.Tensor]:
        """The negatives made from view ``i`` itself: in time (``method.temporal_negatives`` or,
        for a whole-video view, ``method.long_negatives``) and, for a whole-video view, in space
        (``method.patch_negatives``, each video's permutation drawn from its own seed: the same
        on one process as on several)."""
        m = self.cfg.method
        if i not in self.long_ids:
            return temporal_negatives(x, m.temporal_negatives)
        out = temporal_negatives(x, m.long_negatives)
        if m.patch_negatives:
            out.append(patch_shuffle(x, m.patch_negatives, video_uniform(batch, m.patch_negatives ** 2, stream=1 + i)))
        return out

    def _contrast(self, scale: str, ids: list[int], views, z, batch, tau,
                  temporal: dict[int, torch.Tensor] | None = None, use_queue: bool = True) -> torch.Tensor:
        """InfoNCE (or BYOL) over the ordered pairs of views of one scale.

        ``temporal[b]`` holds the projections of view ``b`` played backwards (or shuffled): they
        are negatives of every pair whose key is ``b``. Such a clip shares everything with the
        key except its direction in time, and the key comes from another moment than the
        anchor (``data.policy``), so what tells them apart for the anchor is what is both
        constant over the video and changed by reversal: the direction of sub-second motion.
        """
        m = self.cfg.method
        temporal = temporal or {}
        video = batch["video"].to(z[ids[0]].device)
        if m.name == "byol":
            loss = 0.0
            for a in ids:
                for b in ids:
                    if a != b:
                        loss = loss + byol_loss(self.predictor(z[a]), self.target(views[b]))
            return loss / (len(ids) * (len(ids) - 1))
        if m.name == "moco" and use_queue:
            keys = {b: self.target(views[b]) for b in ids}
        else:
            keys = z
        # per-key negatives (the key played backwards) and the other windows of each video are
        # local to this process: gathered like the keys, so every process sees the global batch's
        local = [z[i] for i in self.neg_ids] if scale == "short" else []
        own = {}
        for pos, b in enumerate(ids):
            rows = ([temporal[b]] if b in temporal else []) + local
            if rows:
                own[pos] = gather_with_grad(torch.cat(rows)) if is_distributed() else torch.cat(rows)
        queue = self.queues[scale] if use_queue and hasattr(self, "queues") and scale in self.queues else None
        shared = {scale: queue.keys().to(z[ids[0]].dtype)} if queue is not None and len(queue) else {}
        options: dict = {"hard_negative_beta": m.hard_negative_beta}
        if shared and m.mask_same_video:
            # keys of the same video in the queue are not negatives
            n_own = next(iter(own.values())).shape[0] if own else 0
            qmask = queue.false_negative_mask(video, mode="video")
            bmask = torch.zeros(len(video), self._columns(video) + n_own, dtype=torch.bool, device=video.device)
            options["false_negative_mask"] = torch.cat([bmask, qmask.to(bmask.device)], dim=1)
        loss, _ = multiscale_info_nce({scale: [z[i] for i in ids]}, tau, weights={scale: 1.0},
                                      extra_negatives=shared, keys_by_scale={scale: [keys[i] for i in ids]},
                                      key_negatives={scale: own}, loss_fn=distributed_info_nce, **options)
        if queue is not None:
            k = keys[ids[1]].detach()
            k_all = gather_with_grad(k) if is_distributed() else k
            vid_all = gather_with_grad(video.float()).long() if is_distributed() else video
            win = batch.get("windows")
            if win is not None:
                win = win[:, ids[1]].to(k.device).float()
                win_all = gather_with_grad(win) if is_distributed() else win
                queue.enqueue(F.normalize(k_all.float(), dim=1), vid_all, win_all[:, 0], win_all[:, 1])
            else:
                zeros = torch.zeros(len(vid_all), device=k.device)
                queue.enqueue(F.normalize(k_all.float(), dim=1), vid_all, zeros, zeros + 1)
        return loss

    @staticmethod
    def _columns(video: torch.Tensor) -> int:
        """In-batch key columns as distributed_info_nce builds them (all ranks' batches)."""
        if is_distributed():
            return len(video) * torch.distributed.get_world_size()
        return len(video)

    def _bank_query(self) -> int:
        """The view the memory bank's loss reads: the first short clip, else the first whole-video view."""
        return self.short_ids[0] if self.short_ids else self.long_ids[0]

    def _bank(self, z, batch, tau, temporal: dict[int, torch.Tensor]) -> torch.Tensor:
        """InstDisc: the stored embedding of the same video is the positive, random stored
        embeddings are negatives; with ``method.temporal_negatives`` (``long_negatives`` when
        the query is a whole-video view) the batch's queries played backwards (or shuffled)
        are negatives too, as the key clips are in the in-batch recipes."""
        m = self.cfg.method
        idx = batch["video"].to(z[0].device)
        qid = self._bank_query()
        q = z[qid]
        pos = self.bank.get(idx).to(q.dtype)
        k = min(m.bank_negatives, self.bank.bank.shape[0] - len(torch.unique(idx)))
        neg, _ = self.bank.sample_negatives(k, exclude_indices=idx)
        neg = neg.to(q.dtype)
        if qid in temporal:
            neg = torch.cat([temporal[qid].to(q.dtype), neg])
        loss = info_nce(q, pos, tau, extra_negatives=neg, hard_negative_beta=m.hard_negative_beta)
        all_views = self.short_ids or self.long_ids
        self.bank.update(idx, torch.stack([z[i].detach() for i in all_views]).mean(0))
        return loss

    def _memory(self, h, z, batch, tau) -> torch.Tensor:
        """The memory reads the short clips in time order; its video embedding must pick out
        the same video's long view among the batch (InfoNCE both ways)."""
        seq = TaskInputs([], h, batch, self.layout).time_ordered(
            self.short_ids + self.neg_ids)
        video = self.projector(self.memory(seq))
        long = z[self.long_ids[0]]
        return 0.5 * (info_nce(video, long, tau) + info_nce(long, video, tau))

    def _global_local(self, tokens, z, batch, tau) -> torch.Tensor:
        """Each short clip (views and intra-video windows) picks out the time slice of the
        long view that covers it, among that view's slices."""
        long = self.long_ids[0]
        tok = self.projector(tokens[long].flatten(0, 1)).reshape(*tokens[long].shape[:2], -1)
        fi = batch["frame_indices"][long].to(tok.device).float()  # (B, T_long)
        s = tok.shape[1]
        alpha = self.cfg.model.alpha
        pad = s * alpha - fi.shape[1]
        if pad > 0:
            fi = torch.cat([fi, fi[:, -1:].expand(-1, pad)], 1)
        slice_t = fi.reshape(fi.shape[0], s, alpha).mean(2)
        clips = self.short_ids + self.neg_ids
        win = batch["windows"].to(tok.device).float()
        clip_t = torch.stack([(win[:, c, 0] + win[:, c, 1] - 1) / 2 for c in clips], 1)
        clip_z = torch.stack([z[c] for c in clips], 1)
        return time_aligned_global_local(tok, slice_t, clip_z, clip_t, tau)

class MemoryVideoEncoder(nn.Module):
    """A video embedding from ``K`` clips: each through the clip encoder, then the memory."""

    def __init__(self, encoder: FastSlowEncoder, memory: ClipMemory):
        super().__init__()
        self.encoder, self.memory = encoder, memory

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, k = clips.shape[:2]
        h = self.encoder(clips.flatten(0, 1)).reshape(b, k, -1)
        return self.memory(h)


class ScaleRouter(nn.Module):
    """Send clips of ``long_frames`` frames to the long-scale encoder, others to the short one
    (evaluation of models trained with ``method.share_scales=false``)."""

    def __init__(self, short: FastSlowEncoder, long: FastSlowEncoder, long_frames: int):
        super().__init__()
        self.short, self.long, self.long_frames = short, long, long_frames
        self.embed_dim = short.embed_dim

    def forward_with_attention(self, x: torch.Tensor):
        return (self.long if x.shape[2] == self.long_frames else self.short).forward_with_attention(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_attention(x)[0]


class SupervisedObjective(nn.Module):
    """Cross-entropy of one linear head per label column on the whole-video views: the ceiling.

    The labels describe whole videos (the order of a video's phases cannot be seen in a
    half-second clip), so only whole-video views are trained on; the config rejects clip
    views for this recipe. Every view of the batch contributes equally.
    """

    needs_labels = True

    def __init__(self, cfg: Config, num_classes: dict[str, int]):
        super().__init__()
        if not num_classes:
            raise ValueError("method.name=supervised needs labelled data (a label column with classes)")
        self.cfg = cfg
        self.encoder = FastSlowEncoder(cfg.model)
        self.columns = list(num_classes)
        self.heads = nn.ModuleList(nn.Linear(self.encoder.embed_dim, n) for n in num_classes.values())

    def evaluation_encoder(self) -> nn.Module:
        return self.encoder

    def compile_encoder(self, compile_fn) -> None:
        """Replace the backbone by ``compile_fn(backbone)`` (``train.compile``)."""
        self.encoder = compile_fn(self.encoder)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        labels = batch["labels"].to(batch["views"][0].device)
        loss, logs = 0.0, {}
        views = batch["views"]
        for v in views:
            h = self.encoder(v)
            for k, (col, head) in enumerate(zip(self.columns, self.heads)):
                term = F.cross_entropy(head(h), labels[:, k], ignore_index=-1)
                loss = loss + term / len(views)
                logs[f"ce_{col}"] = logs.get(f"ce_{col}", 0.0) + float(term.detach()) / len(views)
        logs["loss"] = float(loss.detach())
        return loss, logs


RECIPES = {name: VideoObjective for name in CONTRASTIVE}
RECIPES["supervised"] = SupervisedObjective


def build_objective(cfg: Config, num_classes: dict[str, int] | None = None, num_videos: int = 0) -> nn.Module:
    """The objective module named by ``cfg.method.name``.

    Args:
        cfg: the run config.
        num_classes: label column -> number of classes (the supervised recipe).
        num_videos: training videos (the memory bank).
    """
    if cfg.method.name not in RECIPES:
        raise ValueError(f"unknown method.name {cfg.method.name!r}; choose one of {sorted(RECIPES)}")
    if cfg.method.name == "supervised":
        return SupervisedObjective(cfg, num_classes or {})
    return VideoObjective(cfg, num_videos)
