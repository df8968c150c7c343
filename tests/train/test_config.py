import pytest
import yaml

from vcl_core.train.config import (Config, config_from_dict, list_presets, load_config, parse_overrides,
                                   save_config)


def test_every_preset_loads_and_validates():
    assert "synthetic" in list_presets()
    for name in list_presets():
        assert isinstance(load_config(name), Config)


def test_overrides_are_typed():
    cfg = load_config("synthetic", ["model.fusion=gate", "optim.lr=0.01", "model.widths=[8, 16, 32]",
                                    "train.max_minutes=0.5", "augment.crop_scale=[0.3, 0.9]", "optim.weight_decay=1e-4"])
    assert cfg.optim.weight_decay == 1e-4  # YAML 1.1 reads 1e-4 as a string; still a number here
    assert cfg.model.fusion == "gate" and cfg.optim.lr == 0.01
    assert cfg.model.widths == (8, 16, 32) and cfg.train.max_minutes == 0.5
    assert cfg.augment.crop_scale == (0.3, 0.9)
    assert parse_overrides(["a.b=1", "a.c=x", "d=true"]) == {"a": {"b": 1, "c": "x"}, "d": True}


def test_unknown_keys_are_named_with_suggestions():
    with pytest.raises(KeyError, match=r"model\.fusoin.*did you mean model\.fusion"):
        load_config(None, ["model.fusoin=gate"])
    with pytest.raises(KeyError, match="modle"):
        load_config(None, ["modle.fusion=gate"])


def test_wrong_types_and_values_are_named():
    with pytest.raises(TypeError, match="train.steps"):
        load_config(None, ["train.steps=many"])
    with pytest.raises(ValueError, match="fusion"):
        load_config(None, ["model.fusion=sum"])
    with pytest.raises(ValueError, match="override"):
        load_config(None, ["model.fusion"])


def test_impossible_combinations_name_their_keys():
    with pytest.raises(ValueError, match="train.batch_size"):
        load_config(None, ["train.batch_size=1"])
    with pytest.raises(ValueError, match=r"data.num_frames=2 < model.alpha=4"):
        load_config(None, ["data.num_frames=2"])
    with pytest.raises(ValueError, match="num_views"):
        load_config(None, ["data.num_views=1", "data.long_views=0"])
    with pytest.raises(ValueError, match="data.long_jitter='tsn': choose segment or shared"):
        load_config(None, ["data.long_jitter=tsn"])
    with pytest.raises(ValueError, match="data.augment_on='gpu': choose loader or batch"):
        load_config(None, ["data.augment_on=gpu"])
    # the default jitter is fine for clip-only recipes (notebook 04 trains them)
    assert load_config(None, ["data.long_views=0", "method.global_local=0"]).data.long_views == 0


def test_missing_preset_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a YAML file nor a preset"):
        load_config("no-such-preset")
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  steps: 3\n")
    assert load_config(str(p)).train.steps == 3


def test_recipe_presets_are_shorthands_that_later_overrides_refine():
    from vcl_core.train.config import RECIPE_PRESETS

    for name, overrides in RECIPE_PRESETS.items():
        cfg = load_config("synthetic", [f"method={name}"])
        assert cfg == load_config("synthetic", overrides) and cfg.method.name == name
    moco = load_config("synthetic", ["method=moco", "method.queue_size=64"])
    assert moco.method.queue_size == 64 and moco.method.temporal_negatives == "none"
    with pytest.raises(ValueError, match="method='mocov9'.*one of simclr, cvrl"):
        load_config("synthetic", ["method=mocov9"])


@pytest.mark.parametrize("overrides", [[], ["method.aux.pseudo_motion=0"], ["method=simclr"],
                                       ["data.policy=cvrl", "method.aux.gap=0.5"]])
def test_a_saved_config_loads_as_itself(overrides, tmp_path):
    """A run's config.yaml states its task weights whole: ``aux: {}`` is no task, not the
    default's tasks (a command-line ``method.aux.gap=0.5`` adds to them)."""
    cfg = load_config("synthetic", overrides)
    assert config_from_dict(cfg.to_dict()) == cfg
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(str(tmp_path / "config.yaml")) == cfg
    assert load_config(str(tmp_path / "config.yaml"), ["method.aux.order=1", "data.intra_negatives=1"]).method.aux \
        == {**cfg.method.aux, "order": 1.0}



def test_a_run_saved_before_an_option_existed_loads_with_its_old_value(tmp_path):
    """A run directory written before ``model.input_norm`` existed was trained on raw input:
    its config loads with ``none`` (the default), and a saved config as itself."""
    cfg = load_config("synthetic", ["model.input_norm=clip"])
    old = cfg.to_dict()
    del old["model"]["input_norm"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    assert config_from_dict(yaml.safe_load((tmp_path / "config.yaml").read_text())) == load_config("synthetic", ["model.input_norm=none"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(str(tmp_path / "config.yaml")) == cfg
