"""Training: typed configs, recipes (objectives), the Fabric loop, checkpoints, run loading."""
from .config import Config, config_from_dict, list_presets, load_config, sampling_config, save_config
from .loop import RunResult, Trainer, pretrain
from .objective import RECIPES, build_objective
from .runs import evaluate_run, load_run

__all__ = ["Config", "config_from_dict", "list_presets", "load_config", "sampling_config", "save_config",
           "RunResult", "Trainer", "pretrain", "RECIPES", "build_objective", "evaluate_run", "load_run"]
