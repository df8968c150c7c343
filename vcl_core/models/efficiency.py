"""Efficiency helpers that live outside the architecture config.

The switches inside the model are fields of :class:`~vcl_core.models.fastslow.FastSlowConfig`
(``checkpoint`` = activation checkpointing per stage, ``drop_path``). The one here acts on
any built model (synchronised BatchNorm for DDP is a training concern:
:func:`vcl_core.train.syncbn.convert_sync_batchnorm`):

* :func:`maybe_compile`: ``torch.compile`` with a warned fallback to eager execution.

Two need no helper because PyTorch's own call is the whole story (both are tested against
the float32 / contiguous model in ``tests/models/test_efficiency.py``):

* ``channels_last_3d``: ``model.to(memory_format=torch.channels_last_3d)`` and the same for
  the input (``x.contiguous(memory_format=torch.channels_last_3d)``); faster 3D convolutions
  with oneDNN/cuDNN, same results within float tolerance.
* mixed precision: ``with torch.autocast(device_type, dtype=torch.bfloat16):``; bf16 works on
  CPU and recent GPUs, float16 needs a gradient scaler. Temporal-attention softmaxes are
  computed in float32 either way.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn


def maybe_compile(model: nn.Module, enabled: bool = True, *, example_input: torch.Tensor | None = None,
                  **compile_kwargs) -> nn.Module:
    """``torch.compile(model)`` where it works, else ``model`` itself with a warning.

    ``torch.compile`` is lazy: it can fail on the first call (no C++ compiler for the CPU
    backend, an unsupported Python, a graph break that errors). Pass ``example_input`` to
    compile eagerly on it (one forward under ``torch.no_grad``) and fall back on any error
    then, rather than in the middle of training. The compiled module shares parameters with
    ``model``; its ``state_dict`` keys start with ``_orig_mod.``, so save ``model`` itself.
    The example forward runs in the model's current mode; buffers it changes (BatchNorm
    running statistics) are restored afterwards.

    Args:
        model: the module to compile.
        enabled: ``False`` returns ``model`` unchanged (a config switch).
        example_input: a batch to compile on now, e.g. ``(2, 3, T, H, W)`` clips.
        compile_kwargs: passed to ``torch.compile`` (``mode=``, ``dynamic=``, ``backend=``).

    Returns:
        The compiled module, or ``model`` when disabled or compilation failed.
    """
    if not enabled:
        return model
    if not hasattr(torch, "compile"):
        warnings.warn("torch.compile is not available in this PyTorch; running eagerly", stacklevel=2)
        return model
    try:
        compiled = torch.compile(model, **compile_kwargs)
        if example_input is not None:
            buffers = [(b, b.detach().clone()) for b in model.buffers()]
            try:
                with torch.no_grad():
                    compiled(example_input)
            finally:
                with torch.no_grad():
                    for b, saved in buffers:
                        b.copy_(saved)
    except Exception as err:  # noqa: BLE001 - any compiler failure means: run eagerly, and say why
        warnings.warn(f"torch.compile failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                      "running eagerly", stacklevel=2)
        return model
    return compiled
