"""Predictive auxiliary tasks: one object each, found by name; a new task is one file.

What each task's target means is tested with its loss in tests/losses/test_loss_pretext.py;
here: the registry, the config's view of it, and a task written outside the package."""
import pytest
import torch

from vcl_core.data import collate_views, load_index
from vcl_core.train import build_objective, load_config
from vcl_core.train.loop import build_train_dataset
from vcl_core.train.tasks import TASKS, AuxTask, TaskInputs, register

from recipes import RECIPES


def _objective(tiny_bench, tiny_overrides, overrides):
    cfg = load_config("synthetic", tiny_overrides + [f"data.root={tiny_bench}", *overrides])
    ds = build_train_dataset(cfg, load_index(tiny_bench).split("train"), ())
    torch.manual_seed(0)
    return cfg, build_objective(cfg), collate_views([ds[(0, i)] for i in range(6)])


def test_the_eight_tasks_are_registered_in_a_fixed_order():
    assert list(TASKS) == ["order", "speed", "gap", "future", "motion", "camera", "pseudo_motion", "reconstruct"]


def test_every_task_trains_its_head_and_the_encoder(tiny_bench, tiny_overrides):
    cfg, obj, batch = _objective(tiny_bench, tiny_overrides, RECIPES["auxiliaries"])
    assert list(obj.tasks) == list(TASKS)  # every task on, built in registration order
    loss, logs = obj(batch)
    for name in TASKS:
        assert torch.isfinite(torch.tensor(logs[f"loss_{name}"])), name
    loss.backward()
    for name, task in obj.tasks.items():
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in task.parameters()), name


def test_zero_weight_is_the_same_config_as_no_task():
    assert load_config("synthetic", ["method.aux.gap=0"]) == load_config("synthetic")
    assert load_config("synthetic", ["data.policy=cvrl", "method.aux.gap=0.5"]).method.aux == {"pseudo_motion": 3.0,
                                                                                                "gap": 0.5}
    assert load_config("synthetic", ["method.aux.pseudo_motion=0"]).method.aux == {}


def test_the_default_trains_pseudo_motion_and_the_published_recipes_do_not():
    from vcl_core.train.config import RECIPE_PRESETS

    assert load_config("synthetic").method.aux == {"pseudo_motion": 3.0}
    for name in RECIPE_PRESETS:
        if name != "vcl":
            assert load_config("synthetic", [f"method={name}"]).method.aux == {}, name


def test_random_targets_are_drawn_per_video_whatever_the_batch():
    """A task's draws for a video depend on that video's sample seed only, so two processes
    that split a batch draw what one process draws for the whole batch."""
    views = [torch.zeros(3, 3, 2, 4, 4)]

    def inputs(seeds):
        return TaskInputs(views=views[:1] * 1, h={}, batch={"sample_seed": torch.tensor(seeds)}, layout=None)

    whole = inputs([11, 12, 13]).uniform(5)
    assert whole.shape == (3, 5) and ((whole >= 0) & (whole < 1)).all()
    torch.testing.assert_close(inputs([13, 11]).uniform(5), whole[[2, 0]], rtol=0, atol=0)
    assert not torch.equal(whole[0], whole[1])


@pytest.mark.parametrize("overrides, message", [
    (["method.aux.colour=1"], "no such task; choose order, speed"),
    (["method.aux.motion=-1"], "must be >= 0"),
    (["data.policy=same", "method.aux.gap=1"], r"method\.aux\.gap needs two clip views at a gap"),
    (["method.aux=3"], "expected a mapping"),
    (["method.aux_gap=0.5"], r"method\.aux_gap is now method\.aux\.gap"),
])
def test_bad_task_options_are_named(overrides, message):
    with pytest.raises((ValueError, TypeError, KeyError), match=message):
        load_config("synthetic", overrides)


def test_a_task_written_outside_the_package_trains(tiny_bench, tiny_overrides):
    """The whole recipe for a new task: a class with a head and a loss, registered by name."""

    @register
    class Brightness(AuxTask):
        """Regress the clip's mean brightness (a target the clip itself provides)."""
        name = "brightness_test"

        def __init__(self, cfg, dim):
            super().__init__(cfg, dim)
            self.head = torch.nn.Linear(dim, 1)

        def forward(self, x: TaskInputs) -> torch.Tensor:
            v = x.first_view
            return torch.nn.functional.mse_loss(self.head(x.h[v]).squeeze(1), x.views[v].float().mean((1, 2, 3, 4)))

    try:
        cfg, obj, batch = _objective(tiny_bench, tiny_overrides, ["method.aux.brightness_test=0.5"])
        loss, logs = obj(batch)
        assert "loss_brightness_test" in logs and logs["loss_brightness_test"] > 0
        loss.backward()
        assert obj.tasks["brightness_test"].head.weight.grad.abs().sum() > 0
    finally:
        del TASKS["brightness_test"]


def test_camera_targets_are_of_order_one(tiny_bench, tiny_overrides):
    """Camera velocities are hundredths of the frame per frame; regressed as they are, the loss
    and its gradients are ~1e-4 and the task teaches nothing (it did, before the scale)."""
    cfg, obj, batch = _objective(tiny_bench, tiny_overrides, ["temporal.camera_p=1", "method.aux.camera=1"])
    task = obj.tasks["camera"]
    pan = task.scale * batch["camera"][:, obj.layout.short[0], :2]
    assert 0.2 < float(pan.abs().max()) <= 100 * cfg.temporal.camera_pan
    _, logs = obj(batch)
    assert logs["loss_camera"] > 0.05
