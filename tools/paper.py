"""Regenerate the paper: execute the notebooks with papermill, then build ``figures/results.md``.

Repository machinery, not part of the ``vcl_core`` package (nothing here is needed to run a
notebook or to use the library): ``python tools/paper.py notebooks`` (what ``make figures``
calls) runs every notebook in :data:`NOTEBOOKS` in
order, full-size or with ``--smoke``, prints one progress line per notebook with its wall
time, and rebuilds the results table from ``figures/results/*.json`` — generated, never typed
by hand. :func:`sync_notebooks` regenerates the paired ``.ipynb`` files from their jupytext
percent sources with deterministic cell ids and no outputs.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
FIGURE_DIR = ROOT / "figures"

#: per notebook: design axis, the claim or question it tests, its figures (runtimes are measured:
#: ``figures/runtimes.json``, written by ``make figures``)
NOTEBOOK_INFO = {
    "00_quickstart": ("end to end", "Pretraining beats random initialisation on both temporal factors.",
                      ["00_quickstart"]),
    "01_benchmark": ("benchmark", "No stride aliases the drift; appearance and an untrained encoder are at chance on the "
                     "temporal factors; labels teach every factor to an encoder whose embedding keeps time.",
                     ["01_benchmark_gallery", "01_benchmark_aliasing", "01_benchmark_floor_ceiling",
                      "01_benchmark_encoder", "01_benchmark_curves"]),
    "02_pair_definition": ("pair definitions", "Clips from different moments (neighbours, CVRL; independent clips, the "
                           "default) teach more about time than two views of one segment; so does a negative from "
                           "another window of the same video (TCLR); three clips beat two (rho-BYOL); TSN's jitter of the "
                           "whole-video views helps.",
                           ["02_pair_definition", "02_timeline", "02_cvrl_gap"]),
    "03_momentum_vs_memory_bank": ("negatives", "A MoCo queue or a memory bank (more negatives) beats in-batch "
                                   "negatives; without negatives (BYOL) the recipe falls below them. Controls: no "
                                   "fast-stream contrast; a bank with its clips played backwards as negatives. Batch "
                                   "and queue size, hard negatives, a temperature schedule and a learned temperature "
                                   "at three seeds.",
                                   ["03_momentum_vs_memory_bank"]),
    "04_clip_lengths_multiscale": ("temporal scales", "Multi-scale contrast learns the long-term factor better "
                                   "than either scale alone; cross-scale alignment on top of it, clip-order "
                                   "prediction, 2 s clips, future prediction, a clip memory and four other "
                                   "predictive tasks, three seeds.",
                                   ["04_clip_lengths_multiscale"]),
    "05_fast_slow_fusion": ("encoder", "Two pathways beat the slow one alone on motion and the fast one alone on "
                            "shape and order. Gating, cross-attention and standardised input against concatenation, "
                            "and temporal attention pooling against the time pool, three seeds.",
                            ["05_fast_slow_fusion", "05_temporal_attention"]),
    "06_augmentation_robustness": ("augmentation", "Camera-motion augmentation buys invariance to camera shake, "
                                   "lighting augmentation to lighting drift, speed augmentation to a 2x frame rate, "
                                   "frame dropping to dropped frames; shuffling as an augmentation destroys order; flips and "
                                   "reversal as augmentations lose motion. Every variant at three seeds.",
                                   ["06_augmentation_robustness"]),
    "07_evaluation_suite": ("evaluation", "Every protocol on the main recipes, each number with its protocol.",
                            ["07_evaluation_suite"]),
    "08_efficiency": ("efficiency", "Sharing one backbone across scales, and bf16 training, cost no accuracy. "
                      "Heads, batch size, checkpointing, cache, clip length.", ["08_efficiency"]),
    "09_default_recipe": ("default recipe", "`vcl pretrain` uses the best of the strongest candidates, or the "
                          "simplest one the seeds cannot tell from it. Three seeds each.", ["09_default_recipe"]),
}
#: the notebooks, in execution order (later ones reuse runs cached by earlier ones)
NOTEBOOKS = list(NOTEBOOK_INFO)
#: a GitHub repository address wherever notebooks write one (Colab badge, pip install cell)
_GITHUB = re.compile(r"(colab\.research\.google\.com/github/|git\+https://github\.com/)[\w.-]+/[\w.-]+")


def repository_url() -> str:
    """The repository's address, from ``[project.urls] Repository`` in ``pyproject.toml``."""
    m = re.search(r'^Repository\s*=\s*"https://github\.com/([\w.-]+/[\w.-]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    if not m:
        raise ValueError("pyproject.toml lacks [project.urls] Repository = \"https://github.com/<owner>/<name>\"")
    return f"https://github.com/{m.group(1)}"


def colab_url(name: str) -> str:
    """Open notebook ``name`` on Colab from the repository's main branch."""
    return f"https://colab.research.google.com/github/{repository_url().removeprefix('https://github.com/')}" \
           f"/blob/main/notebooks/{name}.ipynb"


#: a notebook header's runtime paragraph, up to the blank comment line that ends it
_RUNTIME = re.compile(r"^# \*\*Runtime\.\*\*.*?\n(?=#?\s*\n)", re.M | re.S)


def training_runs(name: str, results_dir: str | Path | None = None) -> dict[str, float]:
    """``{run directory: training wall minutes}`` of every run notebook ``name`` used at its
    last full-size execution (``training_minutes`` in its results JSON, what it costs from an
    empty ``runs/`` whoever trained them); empty if it did not record them."""
    path = Path(results_dir or FIGURE_DIR / "results") / f"{name}.json"
    return (json.loads(path.read_text()).get("training_minutes") or {}) if path.exists() else {}


def training_record(name: str, results_dir: str | Path | None = None) -> tuple[int, float] | None:
    """``(runs, minutes)`` of :func:`training_runs`, summed; ``None`` if none were recorded."""
    runs = training_runs(name, results_dir)
    return (len(runs), sum(runs.values())) if runs else None


def _training_words(name: str) -> str:
    rec = training_record(name)
    return f"; its {rec[0]} runs trained for {rec[1] / 60:.1f} h (one thread each)" if rec else ""


def runtime_header(name: str) -> str:
    """The ``**Runtime.**`` paragraph of notebook ``name``, from ``figures/runtimes.json`` and
    the training minutes its results JSON recorded."""
    rt = read_runtimes()
    minutes = rt.get("minutes", {}).get(name)
    measured = (f"{_minutes(minutes)} min on {rt.get('machine', 'a CPU').split(',')[0]} inside `make figures` "
                f"({jobs_of(rt, name)} notebook(s) at a time; runs already in `runs/` are loaded, "
                "not retrained)" if minutes is not None else "not measured yet")
    words = (f"**Runtime.** {measured}{_training_words(name)}; about a minute with `SMOKE = True`. Generated "
             "from `figures/runtimes.json`, which `make figures` writes, and the notebook's results.").split()
    lines, line = [], "#"
    for w in words:  # wrap at 100 columns like the rest of the header
        if len(line) + 1 + len(w) > 100:
            lines.append(line)
            line = "#"
        line += " " + w
    return "\n".join(lines + [line]) + "\n"


def _stamp(src: str, name: str) -> str:
    """``src`` with the repository address in its Colab badge and install cell set to
    :func:`repository_url`, and its runtime paragraph set to :func:`runtime_header`."""
    repo = repository_url().removeprefix("https://github.com/")
    src = _GITHUB.sub(lambda m: m.group(1) + repo, src)
    return _RUNTIME.sub(lambda m: runtime_header(name), src, count=1)


def sync_notebooks(names: list[str] | None = None, check: bool = False) -> list[str]:
    """Write ``notebooks/NN.ipynb`` from ``notebooks/NN.py`` (jupytext percent format).

    Cell ids are ``cell-<n>`` and outputs are empty, so the same source always gives the same
    bytes; the repository address in the Colab badge and the install cell (from the package
    metadata, :func:`repository_url`) and the runtime paragraph (from ``figures/runtimes.json``)
    are rewritten in the ``.py`` first. With ``check=True`` nothing is written
    and the names of stale pairs are returned.
    """
    import jupytext
    import nbformat

    stale = []
    for name in names or NOTEBOOKS:
        src = NOTEBOOK_DIR / f"{name}.py"
        text = src.read_text()
        if _stamp(text, name) != text:
            stale.append(name)
            if check:
                continue
            src.write_text(_stamp(text, name))
        nb = jupytext.read(src)
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nb.metadata.pop("jupytext", None)
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell-{i}"
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        text = nbformat.writes(nb) + "\n"
        dst = NOTEBOOK_DIR / f"{name}.ipynb"
        if not dst.exists() or dst.read_text() != text:
            stale += [] if name in stale else [name]
            if not check:
                dst.write_text(text)
    return stale


def _execute(name: str, params: dict, out_dir: str) -> float:
    """Execute one notebook with papermill (a top-level function, so worker processes can run it)."""
    import papermill as pm

    t0 = time.time()
    pm.execute_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"), str(Path(out_dir) / f"{name}.ipynb"),
                        parameters=params, kernel_name="python3", cwd=str(NOTEBOOK_DIR), progress_bar=False)
    return time.time() - t0


def run_notebooks(data: str, smoke: bool = False, only: list[str] | None = None, runs: str | None = None,
                  figures: str | None = None, out_dir: str | Path = ROOT / "build" / "notebooks",
                  log=None, jobs: int = 1) -> dict[str, float]:
    """Execute notebooks with papermill; returns wall seconds per notebook.

    Args:
        data: dataset directory passed to every notebook as ``DATA``.
        smoke: pass ``SMOKE=True`` (tiny runs).
        only: names or number prefixes (``["04", "05_fast_slow_fusion"]``) to run.
        runs, figures: ``RUNS`` and ``FIGURES`` parameters (default: ``runs/`` and ``figures/``).
        out_dir: where executed copies (with outputs) are written; never committed.
        jobs: notebooks executed side by side. Each kernel gets ``cores // jobs`` torch threads
            (``OMP_NUM_THREADS``, unless already set); runs two notebooks share (the default
            recipe) are trained once, under a lock (:func:`vcl_core.experiment.run_lock`).
            On a 2-core CPU, two one-thread jobs train 1.66x faster than one two-thread job
            (0.83 s vs 0.69 s per step each, the ``synthetic`` preset).
    """
    log = log or (lambda msg: print(msg, flush=True))
    names = [n for n in NOTEBOOKS if not only or any(n == o or n.startswith(o) for o in only)]
    if only and not names:
        raise ValueError(f"--only {only} matches no notebook; choose from {NOTEBOOKS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"SMOKE": smoke, "DATA": str(Path(data).resolve()),
              "RUNS": str(Path(runs or ROOT / "runs").resolve()),
              "FIGURES": str(Path(figures or FIGURE_DIR).resolve())}
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    times = {}
    total0 = time.time()
    if jobs == 1:
        for i, name in enumerate(names, 1):
            log(f"[{i}/{len(names)}] {name} ...")
            times[name] = _execute(name, params, str(out_dir))
            log(f"[{i}/{len(names)}] {name} done in {times[name] / 60:.1f} min")
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
        log(f"{len(names)} notebooks, {jobs} at a time, {os.environ['OMP_NUM_THREADS']} torch thread(s) each")
        failed = {}
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_execute, name, params, str(out_dir)): name for name in names}
            for i, fut in enumerate(as_completed(futures), 1):
                name = futures[fut]
                try:
                    times[name] = fut.result()
                except Exception as err:  # the others keep running; all failures are raised at the end
                    failed[name] = err
                    log(f"[{i}/{len(names)}] {name} FAILED: {str(err).strip().splitlines()[-1] if str(err).strip() else err!r}")
                    continue
                log(f"[{i}/{len(names)}] {name} done in {times[name] / 60:.1f} min")
        if failed:
            raise RuntimeError(f"{len(failed)} notebook(s) failed: {', '.join(failed)} (executed copies with the "
                               f"error are in {out_dir}); the others finished") from next(iter(failed.values()))
    log(f"all {len(names)} notebooks in {(time.time() - total0) / 60:.1f} min")
    return times


def _fmt(mean: float, std: float, n: int) -> str:
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if n > 1 else f"{100 * mean:.1f}"


def results_table(results_dir: str | Path = FIGURE_DIR / "results") -> str:
    """The Markdown results table built from every notebook's metrics JSON.

    One row per (notebook, variant, protocol), one column per factor: linear-probe top-1 in %
    as mean ± std over seeds. Floors and ceilings are rows like any other (the notebooks name
    them ``random init`` and ``supervised``).
    """
    files = sorted(Path(results_dir).glob("*.json"))
    lines = ["<!-- generated by `make figures` (tools/paper.py) from figures/results/*.json; do not edit -->",
             "# Results", "",
             "Linear-probe top-1 accuracy (%) on the synthetic benchmark's test split, mean ± std over seeds "
             "(n = number of seeds). `whole` = one view spanning the video (the model's video-level "
             "embedding); `clips` = the average of short clips. Chance: shape 25, motion 25, order 16.7.", ""]
    for f in files:
        data = json.loads(f.read_text())
        rows = [r for r in data.get("rows", []) if r["metric"] == "linear_top1"]
        if not rows:
            continue
        factors = list(dict.fromkeys(r["factor"] for r in rows))
        lines += [f"## {data['notebook']}" + (" (smoke run)" if data.get("smoke") else ""), "",
                  "| variant | protocol | " + " | ".join(factors) + " | n |",
                  "|---|---|" + "---|" * len(factors) + "---|"]
        keyed = {}
        for r in rows:
            keyed.setdefault((r["variant"], r["protocol"]), {})[r["factor"]] = r
        for (variant, protocol), cells in keyed.items():
            n = max(c["n"] for c in cells.values())
            vals = [(_fmt(cells[fa]["mean"], cells[fa]["std"], cells[fa]["n"]) if fa in cells else "–")
                    for fa in factors]
            lines.append(f"| {variant} | {protocol} | " + " | ".join(vals) + f" | {n} |")
        if data.get("conclusion"):
            lines += ["", f"*{data['conclusion']}*"]
        draws = data.get("benchmark_draws") or {}
        if len(draws) > 1:
            lines += ["", f"Its {sum(draws.values())} runs were trained on {len(draws)} draws of the benchmark "
                      "(runs per draw: " + ", ".join(f"`{d}` {n}" for d, n in draws.items()) + "): read across "
                      "draws, a difference also holds the draws' own difference."]
        lines.append("")
    return "\n".join(lines)


RUNTIMES = FIGURE_DIR / "runtimes.json"


def default_jobs() -> int:
    """Notebooks to run side by side on this machine, picked from its core count. On a small
    CPU one per core (one-thread kernels train faster together than one multi-thread kernel
    alone), on a larger one one per two cores. With a CUDA device too: a run of this encoder
    leaves the GPU mostly idle (its step waits on its loader and on small kernels), so the runs
    share it side by side. Measured on an H200 with 16 cores (bench/RESULTS.md, "GPU path"):
    6 reference runs side by side trained at 490 clips/s each, 3 at 520, so 6 do twice the work
    of 3. At most 6, the most measured there."""
    cores = os.cpu_count() or 1
    try:
        import torch

        if torch.cuda.is_available():
            return max(1, min(6, cores // 2))
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return max(1, min(8, cores if cores <= 2 else cores // 2))


def machine() -> str:
    """What the runtimes were measured on, in words."""
    import platform

    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover
        pass
    return f"{os.cpu_count()} CPU cores, {platform.machine()}, {gpu}"


def _minutes(m: float) -> str:
    return f"{m:.1f}" if m < 1 else f"{m:.0f}"


def jobs_of(runtimes: dict, name: str) -> int:
    """How many notebooks shared the machine when ``name``'s minutes were measured (files
    written before this was kept per notebook hold one number for all)."""
    jobs = runtimes.get("jobs", 1)
    return int(jobs.get(name, 1) if isinstance(jobs, dict) else jobs)


def record_runtimes(times: dict[str, float], jobs: int, path: str | Path = RUNTIMES) -> Path:
    """Merge the wall minutes of full-size notebook runs into ``figures/runtimes.json`` (what the
    README's runtime column shows). With ``jobs > 1`` notebooks shared the cores and runs trained
    by an earlier notebook are loaded, not retrained, so a notebook run alone takes longer."""
    path = Path(path)
    old = json.loads(path.read_text()) if path.exists() else {}
    minutes = {**old.get("minutes", {}), **{k: round(v / 60, 1) for k, v in times.items()}}
    per_job = {**{k: jobs_of(old, k) for k in old.get("minutes", {})}, **{k: jobs for k in times}}
    data = {**old, "machine": machine(),  # a hand-written "note" stays
            "jobs": {k: per_job[k] for k in NOTEBOOKS if k in minutes},
            "minutes": {k: minutes[k] for k in NOTEBOOKS if k in minutes}}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def read_runtimes(path: str | Path = RUNTIMES) -> dict:
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


def notebook_table() -> str:
    """The README's table of notebooks (axis, question, runtime, Colab badge, JupyterLab link)."""
    lines = ["| notebook | design axis | question | CPU (2 cores, measured) | GPU | open |", "|---|---|---|---|---|---|"]
    runtimes = read_runtimes()
    for name, (axis, claim, _) in NOTEBOOK_INFO.items():
        cpu = f"{_minutes(runtimes['minutes'][name])} min" if name in runtimes.get("minutes", {}) else "not run yet"
        rec = training_record(name)
        cpu += f" (+ {rec[0]} runs: {rec[1] / 60:.1f} h of one-thread training)" if rec else ""
        lines.append(f"| [`{name}`](notebooks/{name}.ipynb) | {axis} | {claim} | {cpu} | not measured | "
                     f"[![Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(name)}) "
                     f"[JupyterLab](notebooks/{name}.py) |")
    return "\n".join(lines)


def gallery(results_dir: str | Path = FIGURE_DIR / "results") -> str:
    """The README's figure gallery: each figure with the claim it tests and the measured
    answer (the conclusion the notebook printed, from its JSON)."""
    out = []
    for name, (axis, claim, figures) in NOTEBOOK_INFO.items():
        path = Path(results_dir) / f"{name}.json"
        answer = json.loads(path.read_text())["conclusion"] if path.exists() else "(not run yet: `make figures`)"
        out += [f"### {name} · {axis}", "", f"**Tested:** {claim}", ""]
        out += [f"![{name}](figures/{fig}.png)" for fig in figures]
        out += ["", f"**Measured:** {answer}", ""]
    return "\n".join(out).rstrip() + "\n"


def replace_block(text: str, marker: str, content: str) -> str:
    """Replace what stands between ``<!-- marker:start -->`` and ``<!-- marker:end -->``."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"markers {start} ... {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


def _default_is(overrides: list[str] | None) -> bool:
    """Whether ``overrides`` on the reference recipe give the code's current default config."""
    from vcl_core.experiment import REFERENCE, Experiment, config_hash

    if overrides is None:
        return False
    exp = Experiment(data="data/synth-small")
    try:
        return config_hash(exp.config(REFERENCE + list(overrides), 0)) == config_hash(exp.config([], 0))
    except (KeyError, TypeError, ValueError):  # written for keys the config no longer has
        return False


def default_recipe_note(results_dir: str | Path = FIGURE_DIR / "results") -> str:
    """Which recipe ``vcl pretrain`` uses and why, from notebook 09's head-to-head: the best
    candidate, or the simplest one the seeds cannot tell from it (its ``chosen_variant``,
    :func:`vcl_core.experiment.choose_default`; results written before that rule have only a
    best, which is then the pick)."""
    path = Path(results_dir) / "09_default_recipe.json"
    if not path.exists():
        return "(not run yet: `make figures`)"
    res = json.loads(path.read_text())
    score, default, best = res["score"], res["default_variant"], res["best_variant"]
    chosen = res.get("chosen_variant", best)
    if "candidates" in res and not _default_is(res["candidates"].get(chosen)):
        return (f"**Notebook 09 ran on an earlier default** and picked {chosen} among {len(score)} candidates; "
                "the default has changed since (see above), so its ranking no longer describes `vcl pretrain`. "
                "`make figures` reruns it.")
    top = "; ".join(f"{v} {100 * x['mean']:.1f} ± {100 * x['std']:.1f}" for v, x in list(score.items())[:5])
    n = max(r["n"] for r in res["rows"])
    if default != chosen:
        used = default or "a recipe outside the candidates"
        lead = f"**The default is not notebook 09's pick:** `vcl pretrain` uses {used}, the head-to-head picks {chosen}"
    elif chosen == best:
        lead = f"`vcl pretrain` uses **{default}**, the best of {len(score)} candidates in notebook 09"
    else:
        lead = (f"`vcl pretrain` uses **{default}**, the simplest of {len(score)} candidates in notebook 09 that the "
                f"seeds cannot tell from the best ({best}), so the added complexity is not worth it")
    what = "(shape + motion + order) / 3" if "chosen_variant" in res else "(motion + order) / 2"
    gain = score[chosen]["mean"] - score["reference"]["mean"]
    return (f"{lead} ({n} seeds each, score = {what}, linear probe on the whole-video view). Top five "
            f"(%): {top}. The pick is {100 * gain:.1f} points above the reference recipe that notebooks 01-08 vary "
            f"around, {'more than' if gain > score[chosen]['std'] else 'within'} its seed-to-seed spread: "
            + ("a measured gain." if gain > score[chosen]["std"] else
               "the ranking is by the mean and the difference is not settled at this budget."))


def quickstart_note(results_dir: str | Path = FIGURE_DIR / "results", runtimes: str | Path = RUNTIMES) -> str:
    """What ``make figures`` costs and what the quick-start figure shows, from the measured
    runtimes and notebook 00's JSON."""
    measured = read_runtimes(runtimes)
    rt = measured.get("minutes", {})
    path = Path(results_dir) / "00_quickstart.json"
    if not rt or not path.exists():
        return "(not measured yet: `make figures`)"
    rows = {(r["variant"], r["factor"]): r for r in json.loads(path.read_text())["rows"]
            if r["protocol"] == "whole" and r["metric"] == "linear_top1_seen"}
    cell = lambda v, f: f"{100 * rows[(v, f)]['mean']:.1f} ± {100 * rows[(v, f)]['std']:.1f}"  # noqa: E731
    seeds = rows[("pretrained", "order")]["n"]
    # "beats" = the pretrained mean clears the random-init mean by more than both stds together
    beats = {f: rows[("pretrained", f)]["mean"] - rows[("random init", f)]["mean"]
             > rows[("pretrained", f)]["std"] + rows[("random init", f)]["std"] for f in ("motion", "order")}
    named = {"order": "the order of the phases (long-term)", "motion": "the direction of sub-second motion"}
    learned = [named[f] for f in ("order", "motion") if beats[f]]
    missed = [named[f] for f in ("order", "motion") if not beats[f]]
    verdict = ("At this budget pretraining clearly beats random initialisation on "
               + (" and ".join(learned) if learned else "neither temporal factor")
               + (f", not on {' or '.join(missed)}" if learned and missed else "") + ".")
    where = measured.get("machine", "2 CPU cores")
    trained, runs = [], {}
    for n in rt:
        if got := training_runs(n, results_dir):
            trained.append(n)
            runs.update(got)  # a run two notebooks share is trained once
    live = [n for n in rt if n not in trained]  # executed with their training: their minutes include it
    jobs = sorted({jobs_of(measured, n) for n in live}) or [1]
    live_wall = sum(rt[n] / jobs_of(measured, n) for n in live)
    ran = (f"notebook(s) {', '.join(n[:2] for n in live)} took {' and '.join(f'{rt[n]:.0f}' for n in live)} "
           f"minutes with their training when last timed ({where}, {' or '.join(map(str, jobs))} at a time (`JOBS`), about "
           f"{live_wall:.0f} minutes of wall time)" if live else "")
    if runs:
        hours, names = sum(runs.values()) / 60, ", ".join(n[:2] for n in trained)
        listed = (f"the {len(runs)} runs of notebook(s) {names} trained for {hours:.1f} h of one-thread time (recorded "
                  f"in their JSON, a run they share counted once), about {hours / 2:.0f} h of wall time with two runs "
                  f"side by side. With `RECORDS=figures/runs` (below) those runs are read from their committed records "
                  f"and notebook(s) {names} execute in {sum(rt[n] for n in trained):.1f} minutes together")
        training = f"`make figures` trains every run from a clean clone: {ran}{'; ' if ran else ''}{listed}. "
    else:
        training = f"`make figures` trains every run from a clean clone: {ran}. "
    return (training +
            "Each notebook's share is "
            f"in the table of notebooks. The quick-start figure shows (linear probe on the whole-video view, "
            "test videos whose (shape, motion) combination occurs in training, "
            f"{seeds} seeds, %): order: pretrained {cell('pretrained', 'order')}, random init "
            f"{cell('random init', 'order')} (chance 16.7); motion: pretrained {cell('pretrained', 'motion')}, random "
            f"init {cell('random init', 'motion')} (chance 25). {verdict} [PAPER.md](PAPER.md) discusses it.")


def render_docs(readme: str | Path = ROOT / "README.md", paper: str | Path = ROOT / "PAPER.md",
                check: bool = False) -> list[str]:
    """Regenerate the generated blocks of README.md and PAPER.md from NOTEBOOK_INFO and the
    JSON; with ``check=True`` write nothing and return the files that are out of date."""
    stale = []
    for path in (readme, paper):
        path = Path(path)
        old = text = path.read_text()
        if "<!-- notebooks:start -->" in text:
            text = replace_block(text, "notebooks", notebook_table())
        if "<!-- gallery:start -->" in text:
            text = replace_block(text, "gallery", gallery())
        if "<!-- quickstart:start -->" in text:
            text = replace_block(text, "quickstart", quickstart_note())
        if "<!-- default-recipe:start -->" in text:
            text = replace_block(text, "default-recipe", default_recipe_note())
        if text != old:
            stale.append(path.name)
            if not check:
                path.write_text(text)
    return stale


def write_results_table(results_dir: str | Path = FIGURE_DIR / "results",
                        out: str | Path = FIGURE_DIR / "results.md") -> Path:
    """Regenerate ``figures/results.md`` from the JSON files."""
    Path(out).write_text(results_table(results_dir))
    return Path(out)


def main(data: str, smoke: bool = False, only: list[str] | None = None, jobs: int = 1, records: str = "") -> int:
    """What ``make figures`` does: sync pairs, run notebooks, rebuild the results table.
    ``records``: a directory of run records (:mod:`vcl_core.experiment`) the notebooks read runs
    missing from ``runs/`` from, and record the runs they use in."""
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if records:
        os.environ["VCL_RECORDS"] = str(Path(records).resolve())  # the notebooks' kernels inherit it
    sync_notebooks()
    times = run_notebooks(data, smoke=smoke, only=only, jobs=jobs)
    if not smoke:
        record_runtimes(times, jobs)
        sync_notebooks()  # the headers' runtimes
    path = write_results_table()
    render_docs()
    print(f"wrote {path.relative_to(ROOT)}, figures/*.png|svg and the generated parts of README.md and PAPER.md")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """``python tools/paper.py notebooks|sync ...`` (the Makefile's ``figures`` and ``sync``)."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="tools/paper.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("notebooks", help="execute the notebooks with papermill and rebuild figures/results.md")
    s.add_argument("--data", required=True, help="benchmark directory (see `vcl synth`)")
    s.add_argument("--smoke", action="store_true", help="tiny runs (what CI does)")
    s.add_argument("--only", nargs="*", default=None, help="notebook names or number prefixes")
    s.add_argument("--jobs", type=int, default=0,
                   help="notebooks run side by side, cores/jobs torch threads each (0 = picked from the machine: "
                        "1 per core up to 2 cores and 1 per 2 cores beyond, at most 8; with a GPU 1 per 2 "
                        "cores, at most 6, sharing it)")
    s.add_argument("--records", default="",
                   help="directory of run records (figures/runs: the paper's): runs not in runs/ are read from "
                        "their records instead of trained, and every run used is recorded there")
    s = sub.add_parser("sync", help="regenerate notebooks/*.ipynb from their .py sources")
    s.add_argument("--check", action="store_true", help="only report stale pairs (exit 1 if any)")
    a = p.parse_args(argv)
    if a.cmd == "notebooks":
        return main(a.data, smoke=a.smoke, only=a.only, jobs=a.jobs or default_jobs(), records=a.records)
    stale = sync_notebooks(check=a.check)
    if a.check and stale:
        print(f"stale .ipynb pairs (run `make sync`): {', '.join(stale)}", file=sys.stderr)
        return 1
    print("notebook pairs are up to date" if not stale else f"regenerated {', '.join(stale)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
