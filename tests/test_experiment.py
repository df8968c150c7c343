"""The notebooks' run cache: runs are keyed by their full config, shared across names, and
trained once even when two notebooks ask for the same run at the same time."""
import threading
import time

import pytest

from vcl_core.experiment import METRIC, Experiment, config_hash, run_lock, summarize, verdict
from vcl_core.train import evaluate_run
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
def test_results_record_the_training_minutes_of_every_run_used_trained_now_or_found(tiny_bench, tmp_path,
                                                                                     monkeypatch):
    import json

    from vcl_core import experiment
    from vcl_core.experiment import save_results

    monkeypatch.setattr(experiment, "USED_RUNS", {})
    exp = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path), smoke=True, verbose=False)
    df = exp.sweep({"a": ["train.steps=2"]}, [0, 1])
    runs = {p.name: json.loads((p / "summary.json").read_text())["wall_s"] / 60
            for p in tmp_path.iterdir() if not p.name.startswith(".")}
    assert len(runs) == 2
    saved = json.loads(save_results(tmp_path / "r.json", "nb", df, True, "").read_text())
    assert saved["training_minutes"] == pytest.approx(runs, abs=0.01)
    # another process (the next notebook) that finds them trained records the same minutes
    monkeypatch.setattr(experiment, "USED_RUNS", {})
    exp.sweep({"b": ["train.steps=2"]}, [1])
    again = json.loads(save_results(tmp_path / "r2.json", "nb", df, True, "").read_text())
    name = exp.run_dir("b", ["train.steps=2"], 1).name
    assert again["training_minutes"] == {name: pytest.approx(runs[name], abs=0.01)}


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


def _table(values: dict[str, list[float]], factor: str = "motion"):
    import pandas as pd

    return pd.DataFrame([{"variant": v, "seed": i, "protocol": "whole", "factor": factor, "metric": METRIC,
                          "value": x} for v, xs in values.items() for i, x in enumerate(xs)])


def test_verdict_separates_only_beyond_the_seed_spread():
    df = _table({"a": [0.90, 0.92, 0.94], "b": [0.70, 0.72, 0.74], "c": [0.86, 0.89, 0.92], "d": [0.30, 0.32, 0.34]})
    floor = summarize(_table({"random init": [0.30, 0.33, 0.36], "supervised": [0.97, 0.98, 0.99]}), METRIC)
    v = verdict(df, "a", "b", "motion", floor)
    assert (v.answer, v.learned) == ("better", True)
    assert abs(v.mean_a - 0.92) < 1e-9 and abs(v.std_a - 0.02) < 1e-9
    assert "beyond the seed spread" in str(v) and "+20.0 points" in str(v)
    assert verdict(df, "b", "a", "motion").answer == "worse"
    tie = verdict(df, "a", "c", "motion", floor)  # 0.92 +- 0.02 vs 0.89 +- 0.03: the intervals touch
    assert (tie.answer, tie.learned) == ("tie", True) and "both above the random-init floor" in str(tie)
    low = verdict(df, "d", "d", "motion", floor)  # at the floor: a tie that answers nothing
    assert (low.answer, low.learned) == ("tie", False) and "no answer" in str(low)
    assert verdict(df, "a", "c", "motion").learned is None
    other = df.assign(metric="top1 under lighting")
    assert str(verdict(other, "a", "b", "motion", metric="top1 under lighting")).startswith(
        "motion (top1 under lighting): a 92.0 ± 2.0 vs b 72.0 ± 2.0")
    with pytest.raises(KeyError, match="'e'"):
        verdict(df, "a", "e", "motion")


def test_saved_results_keep_the_claims(tmp_path):
    import json

    from vcl_core.experiment import save_results

    df = _table({"a": [0.90, 0.92, 0.94], "b": [0.70, 0.72, 0.74]})
    v = verdict(df, "a", "b", "motion")
    saved = json.loads(save_results(tmp_path / "r.json", "nb", df, False, "text", [v]).read_text())
    assert saved["claims"] == [{"a": "a", "b": "b", "factor": "motion", "mean_a": v.mean_a, "std_a": v.std_a,
                                "mean_b": v.mean_b, "std_b": v.std_b, "answer": "better", "learned": None,
                                "metric": METRIC, "text": str(v)}]


def test_factor_bars_draw_the_floor_band_and_the_ceiling_line():
    import matplotlib

    matplotlib.use("Agg")
    from vcl_core.viz import factor_bars

    df = _table({"a": [0.6, 0.7]})
    bounds = summarize(_table({"random init": [0.30, 0.40], "supervised": [0.95, 0.97]}), METRIC)
    ax = factor_bars(df, metric=METRIC, bounds=bounds)
    labels = ax.get_legend_handles_labels()[1]
    assert "random init (floor)" in labels and "supervised (ceiling)" in labels
    ceiling = [c for c in ax.collections if c.get_label() == "supervised (ceiling)"][0]
    assert abs(ceiling.get_segments()[0][0][1] - 0.96) < 1e-9
    band = [c for c in ax.collections if c.get_label() == "random init (floor)"][0]
    ys = band.get_paths()[0].vertices[:, 1]
    assert abs(ys.min() - (0.35 - 0.0707107)) < 1e-6 and abs(ys.max() - (0.35 + 0.0707107)) < 1e-6


def test_bounds_are_read_from_notebook_01_results_when_there(tmp_path):
    from vcl_core.experiment import NotebookContext, save_results

    ctx = NotebookContext("unused", str(tmp_path / "runs"), tmp_path, [0, 1, 2], False, {})
    df = _table({"random init": [0.30, 0.40], "supervised": [0.95, 0.97], "default recipe": [0.8, 0.9]})
    save_results(ctx.results_path("01_benchmark"), "01_benchmark", df, False, "")
    b = ctx.bounds().set_index(["variant", "factor"])
    assert sorted(b.index) == [("random init", "motion"), ("supervised", "motion")]  # no training happened
    assert abs(b.loc[("supervised", "motion"), "mean"] - 0.96) < 1e-9
    assert abs(b.loc[("random init", "motion"), "std"] - 0.0707107) < 1e-6


def test_the_default_is_the_simplest_candidate_the_seeds_cannot_tell_from_the_best():
    import pandas as pd

    from vcl_core.experiment import choose_default

    scores = pd.DataFrame({"mean": [0.80, 0.86, 0.90, 0.70], "std": [0.01, 0.03, 0.02, 0.01]},
                          index=["reference", "one change", "two changes", "worse"])
    order = ["reference", "worse", "one change", "two changes"]
    assert choose_default(scores, order) == ("two changes", "one change")  # 0.86 + 0.03 >= 0.90 - 0.02
    assert choose_default(scores.assign(std=0.0), order) == ("two changes", "two changes")
    assert choose_default(scores.assign(std=0.06), order) == ("two changes", "reference")
    with pytest.raises(ValueError, match="every candidate once"):
        choose_default(scores, order[:3])


@pytest.mark.slow
def test_weights_asked_for_beside_a_record_are_the_recorded_run_trained_once(tiny_bench, tmp_path):
    import torch

    from vcl_core.train import load_run

    records = tmp_path / "records"
    first = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "a"), smoke=True, verbose=False,
                       record_dir=str(records))
    first.run("default", [], 0)
    other = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "b"), smoke=True, verbose=False,
                       record_dir=str(records))
    other.run("default", [], 0)
    assert not list((tmp_path / "b").glob("*/checkpoints"))  # the record answers the evaluation ...
    out = other.trained("default", [], 0)  # ... but not for the weights
    ckpt = out / "checkpoints" / "last.ckpt"
    stamp = ckpt.stat().st_mtime_ns
    (_, want), (_, got) = load_run(first.run_dir("default", [], 0)), load_run(out)
    assert list(want.state_dict()) == list(got.state_dict())
    for k, v in want.state_dict().items():
        torch.testing.assert_close(got.state_dict()[k], v, rtol=0, atol=0, msg=k)
    assert other.trained("default", [], 0) == out and ckpt.stat().st_mtime_ns == stamp  # not trained again


@pytest.mark.slow
def test_a_curve_asked_of_a_record_without_its_snapshots_trains_the_run_for_them(tiny_bench, tmp_path):
    """Notebook 01 draws learning curves of runs that other notebooks recorded with their final
    evaluation only; from those records alone (a clean clone with `RECORDS=figures/runs`) the
    snapshots' evaluations must come from training the run, not from an error."""
    import json

    records = tmp_path / "records"
    first = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "a"), smoke=True, verbose=False,
                       record_dir=str(records))
    first.run("default", [], 0)  # recorded without its step-3 snapshot's evaluation
    want = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "a"), smoke=True, verbose=False).curve(
        "default", [], 0)
    (path,) = records.glob("*.json")
    assert set(json.loads(path.read_text())["evals"]) == {"probes"}

    # another notebook, which names the same config otherwise (01's "default recipe" is 09's default)
    other = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "b"), smoke=True, verbose=False,
                       record_dir=str(records))
    got = other.curve("default recipe", [], 0)
    assert list((tmp_path / "b").glob("*/checkpoints/last.ckpt"))  # trained for the snapshot's weights
    assert {r["step"] for r in got} == {3, 6}
    def numbers(rows):  # every evaluation, not the training's wall time (the end is this training's too)
        return [{k: v for k, v in r.items() if k not in ("variant", "wall_s")} for r in rows]

    assert numbers(got) == numbers(want)  # the same run: training is deterministic on CPU
    assert list(records.glob("*.json")) == [path]  # one record per config, whatever the variant's name ...
    saved = json.loads(path.read_text())
    assert set(saved["evals"]) == {"probes", "probes-step3"}  # ... and it gained the step ...
    assert saved["run"] == other.run_dir("default recipe", [], 0).name  # ... from the run the notebook counts


@pytest.mark.slow
def test_a_curve_retrained_on_another_draw_is_one_training_and_the_record_keeps_each_evaluations_draw(
        tiny_bench, tmp_path):
    """A record made on an earlier draw of the benchmark (its final evaluation, and a wider one
    another notebook asked for) gains a curve trained on this draw: the curve's end must come from
    that training, not from the record, and the older evaluation it does not replace must still
    say which draw it came from (it would otherwise be counted as this draw's)."""
    import json

    from vcl_core import experiment
    from vcl_core.experiment import data_digest

    records = tmp_path / "records"
    first = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "a"), smoke=True, verbose=False,
                       record_dir=str(records))
    first.run("default", [], 0)
    first.run("default", [], 0, ("probes", "diagnostics"))
    (path,) = records.glob("*.json")
    rec = json.loads(path.read_text())
    for ev in rec["evals"].values():  # as written before evaluations carried their own draw
        ev["meta"].pop("data_digest", None)
    rec["data_digest"] = "0123456789ab"  # the earlier draw
    path.write_text(json.dumps(rec))

    other = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "b"), smoke=True, verbose=False,
                       record_dir=str(records))
    cfg = other.config([], 0)
    experiment.USED_DRAWS.clear()
    other.curve("default", [], 0)
    assert set(experiment.USED_DRAWS.values()) == {data_digest(cfg)}  # the end too: one training, this draw
    saved = json.loads(path.read_text())
    assert saved["data_digest"] == data_digest(cfg)
    draws = {k: ev["meta"]["data_digest"] for k, ev in saved["evals"].items()}
    assert draws == {"probes": data_digest(cfg), "probes-step3": data_digest(cfg), "probes-diagnostics": "0123456789ab"}

    clean = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "c"), smoke=True, verbose=False,
                       record_dir=str(records))
    assert clean.from_record(cfg, "probes-diagnostics")[2] == "0123456789ab"  # read back with its own draw
    assert clean.from_record(cfg, "probes")[2] == data_digest(cfg)


@pytest.mark.slow
def test_a_run_missing_from_runs_is_read_from_its_record_and_a_new_evaluation_trains_it(tiny_bench, tmp_path,
                                                                                        monkeypatch, capsys):
    import json

    from vcl_core import experiment
    from vcl_core.experiment import data_digest, notebook_setup, save_results

    records = tmp_path / "records"
    exp = Experiment(data=str(tiny_bench), runs_dir=str(tmp_path / "runs"), smoke=True, verbose=False,
                     record_dir=str(records))
    trained = exp.curve("default", [], 0)  # the smoke budget: 6 steps, a snapshot at step 3
    run = exp.run_dir("default", [], 0)
    (path,) = records.glob("*.json")
    saved = json.loads(path.read_text())
    assert saved["run"] == run.name
    assert set(saved["evals"]) == {"probes", "probes-step3"}
    assert saved["summary"]["status"] == "complete" and saved["config"]["train"]["seed"] == 0
    assert saved["config"]["data"]["root"] == tiny_bench.name  # no path of the machine that trained it
    assert saved["data_digest"] == data_digest(exp.config([], 0))

    # another checkout: the benchmark and runs/ elsewhere
    (tmp_path / "checkout").mkdir()
    moved = tmp_path / "checkout" / tiny_bench.name
    moved.symlink_to(tiny_bench, target_is_directory=True)
    empty = tmp_path / "checkout" / "runs"
    again = Experiment(data=str(moved), runs_dir=str(empty), smoke=True, verbose=False, record_dir=str(records))
    assert again.run_dir("default", [], 0).name != run.name  # runs/ names hash the benchmark's full path
    assert data_digest(again.config([], 0)) == saved["data_digest"]  # the same files
    assert again.curve("default", [], 0) == trained  # every number, from the record ...
    assert not list(empty.glob("*/checkpoints"))  # ... without training

    # an evaluation of more blocks answers for fewer, as evaluating those blocks alone would
    exp.run("default", [], 0, ("probes", "robustness", "diagnostics"))
    narrow = again.run("default", [], 0, ("probes", "robustness"))
    assert not list(empty.glob("*/checkpoints"))  # from the record
    alone = evaluate_run(run, blocks=("probes", "robustness"), device="cpu")

    def timeless(res):
        return {**res, "meta": {k: v for k, v in res["meta"].items() if k != "seconds"}}

    assert timeless(json.loads(json.dumps(alone))) == timeless({k: v for k, v in narrow.items() if k != "summary"})
    assert set(narrow["meta"]["seconds"]) == set(alone["meta"]["seconds"])
    # so does one cached in the run's directory, and the record keeps only the evaluation made
    local = exp.run("default", [], 0, ("probes", "robustness"))
    assert timeless({k: v for k, v in local.items() if k != "summary"}) == timeless(json.loads(json.dumps(alone)))
    assert local["summary"] == narrow["summary"]
    assert not (run / "eval-probes-robustness.json").exists()  # not evaluated again
    assert set(json.loads(path.read_text())["evals"]) == {"probes", "probes-step3", "probes-robustness-diagnostics"}

    # evaluated otherwise, the record has no answer: the run is trained
    other = Experiment(data=str(moved), runs_dir=str(empty), smoke=True, verbose=False, record_dir=str(records),
                       base=["eval.whole_frames=8"])
    assert other.run("default", [], 0)["meta"]["eval"]["whole_frames"] == 8
    assert (other.run_dir("default", [], 0) / "checkpoints" / "last.ckpt").exists()
    assert [p.name for p in records.glob("*.json")] == [path.name]  # the same run, the same record

    # a benchmark with one file changed is another benchmark
    import shutil

    changed = tmp_path / "changed" / tiny_bench.name
    shutil.copytree(tiny_bench, changed)
    video = next((changed / "videos").iterdir())
    video.write_bytes(video.read_bytes()[:-1] + b"x")
    assert data_digest(Experiment(data=str(changed), smoke=True).config([], 0)) != saved["data_digest"]

    # a notebook there reads the record all the same, and its results count the two draws it mixed
    monkeypatch.setattr(experiment, "USED_RUNS", {})
    monkeypatch.setattr(experiment, "USED_DRAWS", {})
    mixed = Experiment(data=str(changed), runs_dir=str(tmp_path / "runs2"), smoke=True, record_dir=str(records),
                       base=["eval.whole_frames=8"])  # the evaluation the record holds now
    capsys.readouterr()
    df = mixed.sweep({"default": [], "shorter": ["train.steps=2"]}, [0])
    printed = [line for line in capsys.readouterr().out.splitlines() if "seed 0:" in line]
    assert ["recorded, on another draw" in line for line in printed] == [True, False], printed
    draws = json.loads(save_results(tmp_path / "r.json", "nb", df, True, "").read_text())["benchmark_draws"]
    assert draws == {saved["data_digest"]: 1, data_digest(mixed.config([], 0)): 1}

    # notebooks find the records through $VCL_RECORDS (what `make figures RECORDS=...` sets)
    monkeypatch.setenv("VCL_RECORDS", str(records))
    ctx = notebook_setup(str(tiny_bench), str(empty), str(tmp_path / "figures"), smoke=True)
    assert ctx.experiment().record_dir == str(records)
