"""Overrides of every recipe and option the objective branches on (used by the objective tests
and by the golden-loss table that guards refactors).

Every row but the default and ``auxiliaries`` switches the default's pseudo-motion task off:
each row tests its own branch, and its golden losses stay those it was written with."""

_RECIPES = {
    "simclr": ["method.name=simclr", "method.global_local=0"],
    "cvrl": ["method.name=cvrl", "data.policy=cvrl", "data.long_views=0", "method.global_local=0"],
    "moco": ["method.name=moco", "method.queue_size=16"],
    "bank": ["method.name=bank", "method.fast_contrast=0", "method.long_negatives=none"],
    "byol": ["method.name=byol", "method.fast_contrast=0", "method.temporal_negatives=none",
             "method.long_negatives=none", "method.global_local=0"],
    "tclr": ["method.name=tclr", "data.intra_negatives=2", "data.stride=1", "method.global_local=1.0",
             "method.temporal_negatives=none", "method.long_negatives=none"],
    "vcl": ["method.name=vcl", "method.global_local=1.0", "method.queue_size=16"],
    "memory": ["method.memory=gru", "data.policy=rho", "data.num_views=3", "method.memory_tbptt=1"],
    "separate scales": ["method.share_scales=false"],
    "auxiliaries": ["data.intra_negatives=1", "data.policy=cvrl", "method.aux.order=1", "method.aux.future=1",
                    "method.aux.gap=1", "method.aux.motion=1", "method.aux.camera=1", "temporal.speeds=[1,2]",
                    "method.aux.speed=1", "method.aux.pseudo_motion=1", "method.aux.reconstruct=1"],
    "schedules": ["method.temperature_schedule=cosine", "method.temperature_end=0.2", "method.hard_negative_beta=0.5"],
    "learned temperature": ["method.temperature_schedule=learned"],
    "supervised": ["method.name=supervised", "method.temporal_negatives=none", "method.long_negatives=none",
                   "method.fast_contrast=0", "data.num_views=0"],
    "global-local and gap": ["method.global_local=1.0", "data.policy=cvrl", "method.aux.gap=0.5"],
}
RECIPES = {"vcl (default)": [],
           **{k: v if k == "auxiliaries" else ["method.aux.pseudo_motion=0", *v] for k, v in _RECIPES.items()}}
