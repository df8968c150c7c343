"""The notebooks' run cache: runs are keyed by their full config, shared across names, and
trained once even when two notebooks ask for the same run at the same time."""
import threading
import time

import pytest

from vcl_core.experiment import Experiment, config_hash, run_lock
from paper import run_notebooks


def test_run_lock_serialises_holders(tmp_path):
    events = []
    held = threading.Event()

    def first():
        with run_lock(tmp_path, "abc"):
            events.append("first in")
            held.set()
            time.sleep(0.4)
            events.append("first out")

    def second():
        held.wait()
        with run_lock(tmp_path, "abc"):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert events == ["first in", "first out", "second in"]


def test_other_keys_do_not_wait(tmp_path):
    entered = threading.Event()

    def other():
        with run_lock(tmp_path, "b"):
            entered.set()

    with run_lock(tmp_path, "a"):
        t = threading.Thread(target=other)
        t.start()
        # "b" is taken while "a" is still held (the timeout only guards against a deadlock)
        assert entered.wait(timeout=60)
    t.join()


def test_same_config_under_two_names_is_one_run(tiny_bench, tmp_path):
    exp = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path), smoke=True, verbose=False)
    a = exp.run_dir("default", [], 0)
    assert a.name == f"default-{config_hash(exp.config([], 0))}"
    a.mkdir(parents=True)
    assert exp.run_dir("same segment", [], 0) == a  # found by its hash
    assert exp.run_dir("default", [], 1) != a  # another seed is another run


def test_an_option_added_later_keeps_the_hash_of_runs_from_before_it_at_its_old_value():
    """A run cached before ``temporal.background_p`` existed had no such key in its config; the
    option at 0 computes what that run computed, so it must find the same directory."""
    import hashlib
    import json

    from vcl_core.experiment import HASHED_ONLY_IF_CHANGED
    from vcl_core.train import load_config

    cfg = load_config("synthetic", ["model.input_norm=none"])  # the encoder of the runs before input_norm
    before = cfg.to_dict()
    before["train"].pop("compile")
    before.pop("eval")
    for section, key in HASHED_ONLY_IF_CHANGED:
        del before[section][key]
    assert config_hash(cfg) == hashlib.sha1(json.dumps(before, sort_keys=True).encode()).hexdigest()[:10]
    for changed in ("temporal.background_p=0.5", "temporal.foreground_frac=0.3", "model.input_norm=clip"):
        assert config_hash(load_config("synthetic", ["model.input_norm=none", changed])) != config_hash(cfg)


def test_evaluation_settings_are_not_part_of_a_run():
    from vcl_core.train import load_config

    cfg = load_config("synthetic")
    assert config_hash(load_config("synthetic", ["eval.whole_frames=16", "eval.probe_wd=0.01"])) == config_hash(cfg)
    assert config_hash(load_config("synthetic", ["train.seed=1"])) != config_hash(cfg)
    # a time budget belongs to one invocation: the run it starts is resumed without it
    assert config_hash(load_config("synthetic", ["train.max_minutes=30"])) == config_hash(cfg)


@pytest.mark.slow
def test_a_new_evaluation_setting_reevaluates_the_cached_run_without_training_it_again(tiny_bench, tmp_path):
    first = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path), smoke=True, verbose=False,
                       base=["eval.whole_frames=16"])
    res16 = first.run("default", ["train.steps=2"], 0)
    run = first.run_dir("default", ["train.steps=2"], 0)
    ckpt_time = (run / "checkpoints" / "last.ckpt").stat().st_mtime
    assert res16["meta"]["eval"]["whole_frames"] == 16

    other = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path), smoke=True, verbose=False,
                       base=["eval.whole_frames=8"])
    assert other.run_dir("default", ["train.steps=2"], 0) == run  # the same run ...
    res8 = other.run("default", ["train.steps=2"], 0)
    assert (run / "checkpoints" / "last.ckpt").stat().st_mtime == ckpt_time  # ... not trained again
    assert res8["meta"]["whole_frames"] == 8 and res8["meta"]["eval"]["whole_frames"] == 8  # ... read anew
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [run.name]
    # asked again with the same settings, the cached evaluation comes back unchanged
    assert other.run("default", ["train.steps=2"], 0)["meta"]["seconds"] == res8["meta"]["seconds"]


@pytest.mark.slow
def test_two_jobs_asking_for_one_run_train_it_once(tiny_bench, tmp_path):
    exp = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path), smoke=True, verbose=False)
    results = [None, None]

    def job(i, name):
        results[i] = exp.run(name, ["train.steps=12"], 0)

    threads = [threading.Thread(target=job, args=(i, n)) for i, n in enumerate(["default", "same segment"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1
    steps = [line.split(",")[0] for line in (runs[0] / "metrics.csv").read_text().splitlines()[1:]]
    assert len(steps) == len(set(steps)), "two jobs wrote the same steps: the run was trained twice"
    assert results[0]["tasks"] == results[1]["tasks"]


def test_bad_jobs_and_unknown_notebooks_are_refused(tmp_path):
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        run_notebooks(str(tmp_path), only=["00"], jobs=0, out_dir=tmp_path)
    with pytest.raises(ValueError, match="matches no notebook"):
        run_notebooks(str(tmp_path), only=["99_nothing"], out_dir=tmp_path)
