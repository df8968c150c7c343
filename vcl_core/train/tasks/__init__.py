"""Predictive auxiliary tasks, each one file: a head, a target that costs no labels, a loss.

Switch one on with a weight: ``method.aux.gap=0.5`` (``vcl pretrain ... method.aux.gap=0.5``).
To add a task, write ``tasks/<name>.py`` with an :class:`AuxTask` subclass decorated with
:func:`register` (see ``motion.py``, the shortest), add its import below, and test it; the
objective, the config check and the logs (``loss_<name>``) pick it up by name.
"""
from .base import TASKS, AuxTask, TaskInputs, build_tasks, register, video_uniform

# registration order = the order heads are created in (keeps runs reproducible across versions)
from . import order, speed, gap, future, motion, camera, pseudo_motion, reconstruct  # noqa: E402, F401, I001

__all__ = ["TASKS", "AuxTask", "TaskInputs", "build_tasks", "register", "video_uniform"]
