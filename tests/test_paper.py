"""Guards of the reproducible paper: README, make figures and figures/ agree."""
import re
import shutil

import pytest

from paper import NOTEBOOKS, ROOT, results_table


def test_every_notebook_is_in_the_readme_with_a_colab_badge():
    readme = (ROOT / "README.md").read_text()
    for name in NOTEBOOKS:
        assert f"notebooks/{name}.ipynb" in readme, f"README does not link {name}"
        assert f"colab.research.google.com/github/vcl-core/vcl_core/blob/main/notebooks/{name}.ipynb" in readme


def test_every_figure_the_readme_shows_exists():
    readme = (ROOT / "README.md").read_text()
    figures = re.findall(r"\((figures/[^)]+\.(?:png|svg))\)", readme)
    assert figures, "the README shows no figure"
    missing = [f for f in figures if not (ROOT / f).exists()]
    assert not missing, f"README references missing figures: {missing} (run make figures)"


def test_make_figures_runs_every_notebook():
    makefile = (ROOT / "Makefile").read_text()
    assert "tools/paper.py notebooks" in makefile  # which runs paper.NOTEBOOKS, all of them
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("index", ["", "https://download.pytorch.org/whl/cpu"])
def test_make_installs_torch_from_the_index_asked_for_and_nothing_else_from_it(tmp_path, index):
    import subprocess

    out = subprocess.run(["make", "-n", "-B", "venv", f"VENV={tmp_path / 'v'}", f"TORCH_INDEX={index}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    pips = [line for line in out.splitlines() if "pip install" in line and "--upgrade pip" not in line]
    torch_line = next(line for line in pips if '"torch==' in line)
    assert ("--index-url" in torch_line) == bool(index) and (index in torch_line)
    assert all("--index-url" not in line for line in pips if line != torch_line)  # ruff and the package: PyPI


def test_results_table_lists_every_notebook_that_has_results():
    results = sorted((ROOT / "figures" / "results").glob("*.json"))
    table = results_table()
    for f in results:
        assert f"## {f.stem}" in table


def test_results_table_says_when_a_notebook_mixed_draws_of_the_benchmark(tmp_path):
    import json

    row = {"variant": "a", "protocol": "whole", "factor": "order", "metric": "linear_top1", "mean": 0.9, "std": 0.0,
           "n": 1}
    for name, draws in (("one", {"aaa": 3}), ("two", {"aaa": 2, "bbb": 1})):
        (tmp_path / f"{name}.json").write_text(json.dumps({"notebook": name, "rows": [row], "benchmark_draws": draws}))
    one, two = results_table(tmp_path).split("## two")
    assert "draws of the benchmark" not in one
    assert "Its 3 runs were trained on 2 draws of the benchmark (runs per draw: `aaa` 2, `bbb` 1)" in two


def test_generated_parts_of_readme_and_paper_are_up_to_date():
    from paper import render_docs

    assert render_docs(check=True) == [], "README.md / PAPER.md are stale: run `make figures`"


def test_the_readme_copy_a_module_snippet_runs():
    import re

    import torch

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Copy a module", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope = {"clip_a": torch.randn(2, 3, 8, 32, 32), "clip_b": torch.randn(2, 3, 8, 32, 32)}
    exec(code, scope)  # noqa: S102 - the README's own example
    assert torch.isfinite(scope["loss"]) and scope["loss"].ndim == 0


def test_runtimes_are_merged_in_notebook_order(tmp_path):
    from paper import read_runtimes, record_runtimes

    path = tmp_path / "runtimes.json"
    record_runtimes({"02_pair_definition": 600.0}, jobs=2, path=path)
    record_runtimes({"00_quickstart": 90.0, "02_pair_definition": 300.0}, jobs=1, path=path)
    data = read_runtimes(path)
    assert list(data["minutes"]) == ["00_quickstart", "02_pair_definition"]
    assert data["minutes"] == {"00_quickstart": 1.5, "02_pair_definition": 5.0}
    assert data["jobs"] == {"00_quickstart": 1, "02_pair_definition": 1}
    # one notebook rerun alone keeps the others' number of notebooks at a time (and a hand-written note)
    path.write_text(path.read_text().replace('"jobs": {', '"note": "n", "jobs": {').replace(
        '"00_quickstart": 1,', '"00_quickstart": 2,'))
    record_runtimes({"02_pair_definition": 6.0}, jobs=1, path=path)
    data = read_runtimes(path)
    assert data["jobs"] == {"00_quickstart": 2, "02_pair_definition": 1} and data["note"] == "n"
    assert data["minutes"] == {"00_quickstart": 1.5, "02_pair_definition": 0.1}


def test_quickstart_note_reads_the_measured_numbers(tmp_path):
    import json

    from paper import quickstart_note, record_runtimes

    assert quickstart_note(tmp_path, tmp_path / "none.json").startswith("(not measured yet")
    rows = [{"variant": v, "protocol": "whole", "factor": f, "metric": "linear_top1_seen", "mean": m, "std": 0.01, "n": 3}
            for v, f, m in [("pretrained", "order", 0.3), ("random init", "order", 0.17),
                            ("pretrained", "motion", 0.5), ("random init", "motion", 0.25)]]
    (tmp_path / "00_quickstart.json").write_text(json.dumps({"rows": rows}))
    record_runtimes({"00_quickstart": 600, "01_benchmark": 1200}, jobs=2, path=tmp_path / "rt.json")
    note = quickstart_note(tmp_path, tmp_path / "rt.json")
    assert "notebook(s) 00, 01 took 10 and 20 minutes with their training" in note
    assert "2 at a time (`JOBS`), about 15 minutes of wall time" in note and "one-thread time" not in note
    # a notebook executed from records of runs trained beforehand: its minutes are not its training's, whose
    # one-thread hours are said apart, with the wall time a clean clone would spend on them
    (tmp_path / "01_benchmark.json").write_text(json.dumps({"training_minutes": {"a-1": 60.0, "b-2": 30.0}}))
    record_runtimes({"01_benchmark": 30}, jobs=1, path=tmp_path / "rt.json")  # seconds
    note = quickstart_note(tmp_path, tmp_path / "rt.json")
    assert "notebook(s) 00 took 10 minutes with their training" in note and "about 5 minutes of wall time" in note
    assert "the 2 runs of notebook(s) 01 trained for 1.5 h of one-thread time" in note
    assert "about 1 h of wall time with two runs side by side" in note
    assert "notebook(s) 01 execute in 0.5 minutes together" in note
    # a run two notebooks share (the reference recipe appears in most) is trained once
    (tmp_path / "00_quickstart.json").write_text(json.dumps({"rows": rows, "training_minutes": {"b-2": 30.0, "c-3": 6.0}}))
    note = quickstart_note(tmp_path, tmp_path / "rt.json")
    assert "the 3 runs of notebook(s) 00, 01 trained for 1.6 h of one-thread time" in note
    assert "took" not in note  # every notebook read its runs from records
    assert "order: pretrained 30.0 ± 1.0, random init 17.0 ± 1.0" in note and "motion: pretrained 50.0" in note
    assert "beats random initialisation on the order of the phases (long-term) and the direction" in note


def test_the_default_recipe_is_the_best_candidate_of_notebook_09():
    """Issue 5: `vcl pretrain` with no --config uses the recipe the head-to-head picks (issue 13:
    the simplest candidate the seeds cannot tell from the best). Notebook 09 records which
    candidate has the same full config as the code's default."""
    import json

    path = ROOT / "figures" / "results" / "09_default_recipe.json"
    if not path.exists():
        pytest.skip("notebook 09 has not been run (make figures)")
    res = json.loads(path.read_text())
    assert res["default_variant"] is not None, "the code's default is not one of notebook 09's candidates"
    pick = res.get("chosen_variant", res["best_variant"])
    assert res["default_variant"] == pick, f"notebook 09 picks {pick!r} but vcl pretrain runs {res['default_variant']!r}"
    # the code has not moved away since: the winner's overrides on the reference recipe give
    # the same full config as no overrides at all
    from vcl_core.experiment import REFERENCE, Experiment, config_hash

    exp = Experiment(data="data/synth-small")
    winner = exp.config(REFERENCE + res["candidates"][pick], 0)
    assert config_hash(winner) == config_hash(exp.config([], 0)), "the default changed after notebook 09 ran"


def test_default_recipe_note_reads_notebook_09(tmp_path):
    import json

    from paper import default_recipe_note

    assert default_recipe_note(tmp_path).startswith("(not run yet")
    rows = [{"variant": "reference", "protocol": "whole", "factor": "motion", "metric": "linear_top1",
             "mean": 0.2, "std": 0.01, "n": 4}]
    res = {"rows": rows, "default_variant": "b", "best_variant": "b",
           "score": {"b": {"mean": 0.30, "std": 0.02}, "reference": {"mean": 0.25, "std": 0.01}}}
    (tmp_path / "09_default_recipe.json").write_text(json.dumps(res))
    note = default_recipe_note(tmp_path)
    assert note.startswith("`vcl pretrain` uses **b**, the best of 2 candidates") and "4 seeds each" in note
    assert "5.0 points above the reference" in note and "a measured gain" in note
    res.update(default_variant="reference", score={"b": {"mean": 0.26, "std": 0.05}, "reference": {"mean": 0.25, "std": 0.01}})
    (tmp_path / "09_default_recipe.json").write_text(json.dumps(res))
    note = default_recipe_note(tmp_path)
    assert note.startswith("**The default is not notebook 09's pick") and "not settled" in note
    # the rule's pick: the simpler candidate the seeds cannot tell from the best
    res.update(chosen_variant="reference")
    (tmp_path / "09_default_recipe.json").write_text(json.dumps(res))
    note = default_recipe_note(tmp_path)
    assert note.startswith("`vcl pretrain` uses **reference**, the simplest of 2 candidates") and "(b)" in note
    assert "(shape + motion + order) / 3" in note and "0.0 points above the reference" in note


def test_default_recipe_note_says_when_notebook_09_predates_the_default(tmp_path):
    """A head-to-head whose winner is no longer the code's default must not be quoted as the reason
    for the default."""
    import json

    from vcl_core.experiment import REFERENCE
    from paper import default_recipe_note

    old = {"rows": [{"n": 4}], "default_variant": "b", "best_variant": "b",
           "candidates": {"b": ["method.aux.gap=0.5", "data.policy=cvrl"]},
           "score": {"b": {"mean": 0.3, "std": 0.02}, "reference": {"mean": 0.25, "std": 0.01}}}
    (tmp_path / "09_default_recipe.json").write_text(json.dumps(old))
    assert default_recipe_note(tmp_path).startswith("**Notebook 09 ran on an earlier default**")
    # undo the reference's overrides: the candidate is then the default again
    undo = {"data.policy=same": "data.policy=rho", "method.aux.gap=0": "method.aux.gap=0"}
    old["candidates"]["b"] = [undo[o] for o in REFERENCE]
    (tmp_path / "09_default_recipe.json").write_text(json.dumps(old))
    assert default_recipe_note(tmp_path).startswith("`vcl pretrain` uses **b**")


def test_the_repository_address_is_written_once():
    """Colab badges, install cells, the README table and the citation all carry the address in
    pyproject.toml's [project.urls]; the notebooks' copies are rewritten from it."""
    import paper

    url = paper.repository_url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url)
    texts = [(ROOT / "README.md").read_text()] + [p.read_text() for p in (ROOT / "notebooks").glob("*.py")]
    found = {m for t in texts for m in re.findall(r"(?:colab\.research\.google\.com/github|github\.com)/([\w.-]+/[\w.-]+)", t)}
    assert found == {url.removeprefix("https://github.com/")}, found
    src = ('# [![Open In Colab](x.svg)](https://colab.research.google.com/github/someone/else/blob/main/notebooks/a.ipynb)\n'
           '    # %pip install -q "vcl_core[notebooks] @ git+https://github.com/someone/else"\n')
    stamped = paper._stamp(src, "00_quickstart")
    assert "someone/else" not in stamped and stamped.count(url.removeprefix("https://github.com/")) == 2
    assert paper.colab_url("00_quickstart").endswith("/blob/main/notebooks/00_quickstart.ipynb")


def test_notebook_headers_carry_the_measured_runtime():
    import paper

    minutes = paper.read_runtimes().get("minutes", {})
    for name in NOTEBOOKS:
        header = paper.runtime_header(name)
        src = (ROOT / "notebooks" / f"{name}.py").read_text()
        assert header in src, f"{name}: run `make sync`"
        want = f"{paper._minutes(minutes[name])} min on" if name in minutes else "not measured yet"
        assert want in header.replace("\n# ", " "), (name, header)
        rec = paper.training_record(name)
        if rec:
            assert f"its {rec[0]} runs trained for {rec[1] / 60:.1f} h" in header.replace("\n# ", " "), (name, header)


def test_training_minutes_are_read_from_the_results(tmp_path):
    import json

    import paper

    (tmp_path / "05_fast_slow_fusion.json").write_text(json.dumps({"training_minutes": {"a-1": 30.0, "b-2": 42.0}}))
    (tmp_path / "02_pair_definition.json").write_text(json.dumps({"rows": []}))
    assert paper.training_record("05_fast_slow_fusion", tmp_path) == (2, 72.0)
    assert paper.training_record("02_pair_definition", tmp_path) is None
    assert paper.training_record("03_momentum_vs_memory_bank", tmp_path) is None


def test_the_committed_run_records_are_found_by_the_current_code():
    """A config option or evaluation default that changed without care would orphan the
    paper's records (figures/runs/): `make figures RECORDS=figures/runs` would then retrain
    those runs silently. Each record must still be named by its config's hash, and its
    evaluation made with what that config evaluates with today."""
    import json

    from vcl_core.experiment import record_hash
    from vcl_core.train.config import config_from_dict

    paths = sorted((ROOT / "figures" / "runs").glob("*.json"))
    assert paths, "no run records committed in figures/runs/"
    for path in paths:
        rec = json.loads(path.read_text())
        cfg = config_from_dict(rec["config"])
        assert path.stem.endswith("-" + record_hash(cfg)), f"{path.name} is not named by its config's hash"
        for key, res in rec["evals"].items():
            assert res["meta"]["eval"] == cfg.to_dict()["eval"], f"{path.name}: {key} was evaluated otherwise"


def test_every_run_a_committed_figure_used_has_its_record():
    """`make figures RECORDS=figures/runs` in a clean clone rebuilds a notebook from records
    alone only if every run its committed results used was recorded; one that was trained
    before records existed, or whose record was not committed, would be retrained for hours."""
    import json

    recorded = {json.loads(p.read_text())["run"] for p in (ROOT / "figures" / "runs").glob("*.json")}
    for path in sorted((ROOT / "figures" / "results").glob("*.json")):
        used = json.loads(path.read_text()).get("training_minutes", {})
        missing = sorted(set(used) - recorded)
        assert not missing, f"{path.name} used runs with no record in figures/runs/: {missing}"


@pytest.mark.parametrize("cores, cuda, want", [(2, False, 2), (1, False, 1), (16, False, 8), (64, False, 8),
                                               (16, True, 6), (8, True, 4), (2, True, 1)])
def test_jobs_are_picked_from_the_core_count_and_the_gpu(monkeypatch, cores, cuda, want):
    import os

    import torch

    import paper

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert paper.default_jobs() == want
