"""Experiments as the notebooks run them: config variants x seeds -> cached runs -> tidy tables.

A notebook describes a design axis as named variants, each a list of ``key=value``
overrides on one preset, and calls :meth:`Experiment.sweep`. Every (variant, seed) is a normal
run directory under ``runs/`` named by a hash of its full config (seed included), so a run
that another notebook (or an earlier execution) already trained, under whatever name, is
loaded instead of trained again, and a run interrupted half-way resumes. Results come back as a tidy ``pandas.DataFrame`` with one
row per (variant, seed, protocol, factor, metric).

With a *records* directory (``$VCL_RECORDS``, ``make figures RECORDS=figures/runs``) every run
also leaves a small JSON there: its config, training summary, evaluations and a digest of the
benchmark files (:func:`data_digest`), without the
weights. A run that ``runs/`` does not hold but a record does is read from the record instead
of trained: the paper's committed records re-render every figure in minutes, and a sweep too
long for one sitting can be trained over several, keeping only the records in between.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from contextlib import contextmanager
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .eval.schema import BLOCKS, records
from .train import evaluate_run, load_config, pretrain
from .train.config import Config, config_from_dict, run_identity
from .train.loop import snapshot_name

#: overrides that shrink any run to seconds, for ``SMOKE = True`` (CI executes every notebook so);
#: a budget already below ``train.steps`` here (the random-init floor's 0) is kept
SMOKE_OVERRIDES = ["train.steps=6", "train.snapshots=[3]", "train.batch_size=8", "model.widths=[8,16,32]",
                   "eval.probe_epochs=20", "train.log_every=1"]


#: The number every figure reports: the linear probe on whole-video embeddings, scored on the
#: test videos whose (shape, motion) combination training saw (notebook 01; the unseen
#: combinations test generalisation and are reported next to it).
METRIC = "linear_top1_seen"


@dataclass
class NotebookContext:
    """What every notebook resolves first: paths, seeds and chance levels."""

    data: str
    runs: str
    figures: Path
    seeds: list[int]
    smoke: bool
    chance: dict[str, float]
    records: str = ""
    _bounds: dict = field(default_factory=dict, repr=False)

    def experiment(self, **kw) -> Experiment:
        return Experiment(data=self.data, runs_dir=self.runs, smoke=self.smoke, record_dir=self.records, **kw)

    def results_path(self, notebook: str) -> Path:
        return self.figures / "results" / f"{notebook}.json"

    def bounds(self, metric: str = METRIC, protocol: str = "whole"):
        """The floor (random init) and ceiling (supervised) every figure is drawn against: mean
        and std over seeds, per factor (a :func:`summarize` table).

        They are notebook 01's runs of the default encoder (:data:`BOUNDS`), read from the
        results it wrote (``<figures>/results/01_benchmark.json``) when they are there, else
        trained here through the run cache (on Colab, and in smoke runs).
        """
        key = (metric, protocol)
        if key not in self._bounds:
            path = self.results_path("01_benchmark")
            saved = json.loads(path.read_text()) if path.exists() else {}
            rows = [r for r in saved.get("rows", []) if r["variant"] in BOUNDS and r["metric"] == metric
                    and r["protocol"] == protocol]
            if rows and saved.get("smoke") == self.smoke:
                import pandas as pd

                table = pd.DataFrame(rows).rename(columns={"n": "count"})[["variant", "factor", "mean", "std", "count"]]
            else:
                table = summarize(self.experiment().sweep(BOUNDS, self.seeds), metric, protocol)
            self._bounds[key] = table
        return self._bounds[key]


def notebook_setup(data: str = "", runs: str = "", figures: str = "", smoke: bool = False,
                   seeds: int = 3) -> NotebookContext:
    """Resolve a notebook's parameters: empty paths fall back to ``$VCL_DATA``, ``$VCL_RUNS``,
    ``$VCL_FIGURES`` and then to the repository's ``data/synth-small`` (``synth-tiny`` in smoke
    mode), ``runs/`` and ``figures/``; the benchmark is generated when missing (Colab). Run
    records (see the module docstring) are used when ``$VCL_RECORDS`` names their directory."""
    from .data import load_index
    from .data.synthetic import generate
    from .viz import set_theme

    preset = "tiny" if smoke else "small"
    data = data or os.environ.get("VCL_DATA", "") or str(Path("..") / "data" / f"synth-{preset}")
    runs = runs or os.environ.get("VCL_RUNS", "") or str(Path("..") / "runs")
    fig = Path(figures or os.environ.get("VCL_FIGURES", "") or Path("..") / "figures")
    if not (Path(data) / "labels.csv").exists():
        generate(data, preset, seed=0)
    index = load_index(data)
    chance = {c: 1.0 / max(1, len(index.classes(c))) for c in index.label_columns}
    set_theme()
    return NotebookContext(data, runs, fig, list(range(1 if smoke else seeds)), smoke, chance,
                           os.environ.get("VCL_RECORDS", ""))


def compare(df, factors=("shape", "motion", "order"), protocol: str = "whole", metric: str = METRIC) -> str:
    """One sentence per factor ranking the variants by mean (± std over seeds), best first."""
    t = summarize(df, metric, protocol)
    parts = []
    for f in factors:
        sub = t[t.factor == f].sort_values("mean", ascending=False)
        if not len(sub):
            continue
        ranked = ", ".join(f"{r.variant} {100 * r['mean']:.1f}±{100 * r['std']:.1f}" for _, r in sub.iterrows())
        parts.append(f"{f}: {ranked}")
    return "; ".join(parts)


def best(df, factor: str, protocol: str = "whole", metric: str = "linear_top1") -> str:
    """The variant with the highest mean on ``factor``."""
    t = summarize(df, metric, protocol)
    sub = t[t.factor == factor]
    return str(sub.loc[sub["mean"].idxmax(), "variant"])


#: The reference recipe that notebooks 01-08 vary one design choice at a time around: the
#: project's first default (same-segment positives, no predictive auxiliary; everything else as
#: today's default). The keys where today's default differs are pinned here, so the ablations
#: stay comparable with each other, and their cached runs valid, when the default moves.
#: Notebook 09 puts the strongest single changes head to head with more seeds and picks the
#: default that ``vcl pretrain`` uses.
REFERENCE = ["data.policy=same", "method.aux.gap=0"]

#: The supervised ceiling: the default encoder and data, trained with the labels of every
#: factor on whole-video views only (labels describe whole videos), every self-supervised
#: option off. Notebooks draw it next to the recipes they compare.
CEILING = ["method=supervised", "train.steps=3000", "train.snapshots=[250,500,1000,2000]"]

#: The floor: the same encoder before any training.
RANDOM_INIT = ["train.steps=0"]

#: floor and ceiling, as every figure draws them (:meth:`NotebookContext.bounds`)
BOUNDS = {"random init": RANDOM_INIT, "supervised": CEILING}


@dataclass(frozen=True)
class Verdict:
    """The answer to "is ``a`` better than ``b`` on ``factor``?" in one sentence (``str()``).

    ``answer`` is ``"better"`` or ``"worse"`` when the two ``mean +- std`` intervals over seeds
    do not overlap (``|mean_a - mean_b| > std_a + std_b``), else ``"tie"``. ``learned`` says
    whether both cleared the random-init floor (``mean - std > floor mean + floor std`` for
    each; ``None`` when no floor was given): a tie between variants that did not is no answer. With one seed the std is 0, so any
    difference counts: use several seeds.
    """

    a: str
    b: str
    factor: str
    mean_a: float
    std_a: float
    mean_b: float
    std_b: float
    answer: str
    learned: bool | None
    metric: str = METRIC

    def __str__(self) -> str:
        def pm(m, s):
            return f"{100 * m:.1f} ± {100 * s:.1f}"

        d = 100 * (self.mean_a - self.mean_b)
        what = self.factor if self.metric == METRIC else f"{self.factor} ({self.metric})"
        head = (f"{what}: {self.a} {pm(self.mean_a, self.std_a)} vs {self.b} {pm(self.mean_b, self.std_b)} "
                f"({d:+.1f} points)")
        if self.answer != "tie":
            return f"{head}, {self.answer}, beyond the seed spread"
        floor = {None: "", True: ", both above the random-init floor",
                 False: ", and not both above the random-init floor: no answer"}[self.learned]
        return f"{head}, a tie within the seed spread{floor}"


def verdict(df, a: str, b: str, factor: str, floor=None, metric: str = METRIC, protocol: str = "whole") -> Verdict:
    """Compare variants ``a`` and ``b`` of a :meth:`Experiment.sweep` table on one factor (see
    :class:`Verdict`). ``floor``: :meth:`NotebookContext.bounds`, to say whether both learned.

    Raises:
        KeyError: a variant or factor that is not in ``df``.
    """
    t = summarize(df, metric, protocol).set_index(["variant", "factor"])
    for v in (a, b):
        if (v, factor) not in t.index:
            raise KeyError(f"no {metric} ({protocol}) for variant {v!r}, factor {factor!r}")
    (ma, sa), (mb, sb) = (tuple(t.loc[(v, factor), ["mean", "std"]]) for v in (a, b))
    answer = "tie" if abs(ma - mb) <= sa + sb else ("better" if ma > mb else "worse")
    learned = None
    if floor is not None:
        f = floor.set_index(["variant", "factor"]).loc[("random init", factor)]
        learned = bool(min(ma - sa, mb - sb) > f["mean"] + f["std"])
    return Verdict(a, b, factor, float(ma), float(sa), float(mb), float(sb), answer, learned, metric)



def choose_default(scores, simplest_first: Sequence[str]) -> tuple[str, str]:
    """Notebook 09's rule: ``(best, chosen)`` from per-candidate scores.

    ``scores`` has one row per candidate (index) with ``mean`` and ``std`` over seeds.
    ``best`` has the highest mean; ``chosen`` is the first candidate of ``simplest_first``
    whose ``mean + std`` reaches the best's ``mean - std`` (the two are not told apart by the
    seeds), so a more complex recipe becomes the default only when it wins beyond the spread.

    Raises:
        ValueError: ``simplest_first`` does not list every candidate exactly once.
    """
    if sorted(simplest_first) != sorted(scores.index):
        raise ValueError(f"simplest_first must list every candidate once: {list(simplest_first)} vs {list(scores.index)}")
    best = str(scores["mean"].idxmax())
    bar = scores.loc[best, "mean"] - scores.loc[best, "std"]
    chosen = next(v for v in simplest_first if scores.loc[v, "mean"] + scores.loc[v, "std"] >= bar)
    return best, str(chosen)

#: the runs this process has used (run directory name -> its training wall minutes, from its
#: summary): what a notebook costs from an empty ``runs/``, however many of its runs were found
#: already trained. :func:`save_results` writes it into the notebook's JSON.
USED_RUNS: dict[str, float] = {}

#: the benchmark draw (:func:`data_digest`) each of those runs was trained on: the current
#: benchmark's for a run trained or found in ``runs/``, the record's for a run read from its
#: record. :func:`save_results` counts them, so a notebook that mixes draws says so.
USED_DRAWS: dict[str, str] = {}

#: options added after runs were cached, with the value that reproduces what came before: left
#: out of the hash at that value, so a new option does not orphan the runs trained before it
HASHED_ONLY_IF_CHANGED = {("temporal", "background_p"): 0.0, ("temporal", "foreground_frac"): 0.4,
                          ("model", "input_norm"): "none", ("method", "patch_negatives"): 0,
                          ("data", "augment_on"): "loader"}


def config_hash(cfg: Config) -> str:
    """A short stable hash of a run's :func:`~vcl_core.train.config.run_identity` (the run
    directory's name suffix); a cached evaluation is checked against the eval settings instead
    (:func:`cached_eval`)."""
    d = run_identity(cfg)
    for (section, key), value in HASHED_ONLY_IF_CHANGED.items():
        if d[section].get(key) == value:
            d[section].pop(key)
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def record_hash(cfg: Config) -> str:
    """:func:`config_hash` with the benchmark directory reduced to its name: a run's record is
    found from any checkout (``runs/`` names hash the full path, which is this machine's)."""
    from dataclasses import replace

    return config_hash(replace(cfg, data=replace(cfg.data, root=Path(cfg.data.root).name)))


_DIGESTS: dict[tuple, str] = {}


def data_digest(cfg: Config) -> str:
    """A short digest of the videos a run of ``cfg`` reads (each listed file's name, size and
    first and last 64 KiB, in index order; computed once per dataset and process): which draw
    of the benchmark a record was trained on, or whether two datasets are the same files."""
    from .data import load_index

    d = cfg.data
    key = (str(Path(d.root).resolve()), d.format, d.fold)
    if key not in _DIGESTS:
        h = hashlib.sha1()
        for r in load_index(d.root, d.format, d.fold).records:
            path = Path(r.path)
            size = path.stat().st_size
            h.update(f"{path.name}:{size}:".encode())
            with open(path, "rb") as f:
                h.update(f.read(65536))
                if size > 131072:
                    f.seek(-65536, os.SEEK_END)
                    h.update(f.read())
        _DIGESTS[key] = h.hexdigest()[:12]
    return _DIGESTS[key]


def cached_eval(path: Path, checkpoint: Path, cfg: Config) -> dict | None:
    """The evaluation cached at ``path`` if it is newer than ``checkpoint`` and was made with
    ``cfg.eval``; else ``None``. An evaluation written before ``meta.eval`` existed was made with
    the eval section of the run's own ``config.yaml``."""
    if not path.exists() or path.stat().st_mtime < checkpoint.stat().st_mtime:
        return None
    results = json.loads(path.read_text())
    made_with = results["meta"].get("eval")
    if made_with is None:
        saved = yaml.safe_load((checkpoint.parent.parent / "config.yaml").read_text())
        made_with = config_from_dict(saved).to_dict()["eval"]
    return results if made_with == cfg.to_dict()["eval"] else None


def select_blocks(results: dict, blocks: Sequence[str]) -> dict:
    """An evaluation's results restricted to ``blocks``: what evaluating those blocks alone
    writes. Blocks are computed one after another from the same cached features and probes
    (fine-tuning works on a copy of the encoder), so none changes another's numbers."""
    kept = [b for b in results["meta"]["blocks"] if b in blocks]
    out = {k: v for k, v in results.items() if k in ("schema", *kept)}
    out.update({k: results[k] if "probes" in kept else {} for k in ("tasks", "protocols", "chance")})
    meta = results["meta"]
    out["meta"] = {**meta, "blocks": kept,
                   "blocks_not_requested": [b for b in BLOCKS if b not in kept and b not in meta["blocks_skipped"]],
                   "seconds": {k: v for k, v in meta["seconds"].items() if k.removesuffix("_encoding") in kept}}
    out["records"] = records(out)
    return out


def answer(evals: dict[str, dict], blocks: Sequence[str]) -> tuple[str, dict] | None:
    """Which of ``evals`` (``{"probes-robustness": results, ...}``, all made with the wanted eval
    settings) answers a request for ``blocks``, and its answer: the evaluation of exactly those
    blocks, else the narrowest one of more blocks restricted to them (:func:`select_blocks`);
    ``None`` when none does."""
    key = "-".join(blocks)
    if key in evals:
        return key, evals[key]
    wider = sorted((k for k in evals if set(blocks) <= set(k.split("-")) <= set(BLOCKS)), key=len)
    return (wider[0], select_blocks(evals[wider[0]], blocks)) if wider else None


@contextmanager
def run_lock(runs_dir: str | Path, key: str):
    """Hold ``<runs_dir>/.locks/<key>.lock`` exclusively (blocking until it is free).

    Notebooks executed side by side (``make figures JOBS=2``) share runs, the default
    recipe above all; whoever takes the lock first trains, the other waits and then loads the
    finished run. Without ``fcntl`` (Windows) there is no lock: run one notebook at a time.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(runs_dir) / ".locks" / f"{key}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass
class Experiment:
    """Runs of one notebook.

    Args:
        data: dataset directory.
        runs_dir: where run directories live (shared by all notebooks).
        preset: the config preset every variant starts from.
        smoke: apply :data:`SMOKE_OVERRIDES` (tiny runs for CI).
        base: overrides applied to every variant before its own.
        verbose: print one line per run.
        record_dir: directory of run records ("" = none): every run used writes its record there,
            and a run missing from ``runs_dir`` is read from its record instead of trained.
    """

    data: str
    runs_dir: str = "runs"
    preset: str = "synthetic"
    smoke: bool = False
    base: list[str] = field(default_factory=list)
    verbose: bool = True
    record_dir: str = ""

    def config(self, overrides: list[str], seed: int) -> Config:
        """The full config of one (variant, seed)."""
        ov = list(self.base) + list(overrides)
        if self.smoke:
            steps = load_config(self.preset, ov).train.steps
            ov += SMOKE_OVERRIDES + ([f"train.steps={steps}"] if steps < 6 else [])
        return load_config(self.preset, ov + [f"data.root={self.data}", f"train.seed={seed}"])

    def run_dir(self, name: str, overrides: list[str], seed: int) -> Path:
        """``runs/<name>-<hash>``; a run with the same full config under another name (the
        default recipe appears in most notebooks) is found by its hash and reused."""
        h = config_hash(self.config(overrides, seed))
        found = sorted(Path(self.runs_dir).glob(f"*-{h}"))
        if found:
            return found[0]
        slug = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")[:40] or "run"
        return Path(self.runs_dir) / f"{slug}-{h}"

    def run(self, name: str, overrides: list[str], seed: int, blocks: tuple[str, ...] = ("probes",)) -> dict:
        """Pretrain (or load) one run and evaluate it (or load its evaluation).

        ``blocks`` are the evaluation blocks (:mod:`vcl_core.eval.schema`); their results are
        cached in the run directory as ``eval-<blocks>.json`` (and in its record, with
        :attr:`record_dir`). A cached evaluation of more blocks answers for fewer
        (:func:`answer`).
        """
        cfg = self.config(overrides, seed)
        t0 = time.time()
        key = "-".join(blocks)
        replayed = self.from_record(cfg, key)
        if replayed is not None:
            results, run_name, draw = replayed
        else:
            with run_lock(self.runs_dir, config_hash(cfg)):
                out = self.run_dir(name, overrides, seed)  # after the lock: another job may have made it
                res = pretrain(cfg, out, resume=True, progress=False)
                last = out / "checkpoints" / "last.ckpt"
                cached = {k: r for p in out.glob("eval-*.json")  # not the snapshots' (eval-probes-step500)
                          if set((k := p.stem.removeprefix("eval-")).split("-")) <= set(BLOCKS)
                          and (r := cached_eval(p, last, cfg)) is not None}
                found = answer(cached, blocks)
                if found is None:
                    cached[key] = evaluate_run(out, json_path=out / f"eval-{key}.json", blocks=tuple(blocks),
                                               eval_cfg=cfg.eval)
                    found = key, cached[key]
            used, results = found
            results = {**results, "summary": res.summary}
            run_name, draw = out.name, data_digest(cfg)
            self.write_record(out, cfg, used, {**cached[used], "summary": res.summary})
        USED_RUNS[run_name] = round(float(results["summary"].get("wall_s") or 0.0) / 60, 2)
        USED_DRAWS[run_name] = draw
        if self.verbose:
            main = results["tasks"]
            other = ", on another draw of the benchmark" if draw != data_digest(cfg) else ""
            print(f"  {name:<22} seed {seed}: " + "  ".join(f"{k} {v['linear_top1']:.3f}" for k, v in main.items())
                  + f"   ({time.time() - t0:.0f} s{', recorded' if replayed else ''}{other})", flush=True)
        return results

    def trained(self, name: str, overrides: list[str], seed: int) -> Path:
        """The run directory of (variant, seed) with its trained checkpoint, for what needs the
        weights themselves rather than their evaluation (a record holds only evaluations):
        trains the run when ``runs_dir`` does not hold it finished (resuming a partial one)."""
        cfg = self.config(overrides, seed)
        with run_lock(self.runs_dir, config_hash(cfg)):
            out = self.run_dir(name, overrides, seed)
            pretrain(cfg, out, resume=True, progress=False)
        return out

    def from_record(self, cfg: Config, key: str) -> tuple[dict, str, str] | None:
        """``(results, run name, benchmark draw it was trained on)`` of the run of ``cfg`` from
        its record, evaluated as ``key`` with ``cfg.eval``, when :attr:`record_dir` has it and
        ``runs_dir`` does not hold the run (a run there, finished or not, is always used
        instead); else ``None``. The record is used even if the benchmark here is another draw
        (:func:`data_digest`): that is counted in the notebook's results (:data:`USED_DRAWS`), from
        the evaluation's own ``meta.data_digest`` (a record retrained on another draw keeps its
        older evaluations, each with the draw it was made on; see :meth:`write_record`)."""
        if not self.record_dir:
            return None
        if any(Path(self.runs_dir).glob(f"*-{config_hash(cfg)}/checkpoints/last.ckpt")):
            return None
        found = sorted(Path(self.record_dir).glob(f"*-{record_hash(cfg)}.json"))
        if not found:
            return None
        rec = json.loads(found[0].read_text())
        wanted = cfg.to_dict()["eval"]
        hit = answer({k: r for k, r in rec["evals"].items() if r["meta"].get("eval") == wanted}, key.split("-"))
        if hit is None:
            return None
        res = hit[1]
        meta = {k: v for k, v in res["meta"].items() if k != "data_digest"}  # as evaluating it here returns it
        return {**res, "meta": meta, "summary": rec["summary"]}, rec["run"], res["meta"].get("data_digest",
                                                                                              rec["data_digest"])

    def write_record(self, out: Path, cfg: Config, key: str, results: dict) -> Path | None:
        """Add the evaluation ``key`` of the run in ``out`` to its record (written atomically);
        nothing without :attr:`record_dir`. One record per config: a run that another notebook
        recorded under another variant name adds to that record (:meth:`from_record` reads the
        first file of the config's hash, so a second one would hide evaluations).

        Every evaluation carries the benchmark draw it was made on (``meta.data_digest``); the
        record's ``run`` (the name notebooks count it by), ``data_digest`` and ``summary`` are those
        of the latest training. A run trained again on another draw (a clean clone's benchmark, a
        curve's snapshots) so keeps the older evaluations it does not replace, each still saying
        which draw it came from."""
        if not self.record_dir:
            return None
        found = sorted(Path(self.record_dir).glob(f"*-{record_hash(cfg)}.json"))
        path = found[0] if found else Path(self.record_dir) / f"{out.name.rsplit('-', 1)[0]}-{record_hash(cfg)}.json"
        rec = json.loads(path.read_text()) if path.exists() else {"run": out.name, "evals": {}}
        rec["config"] = {k: v for k, v in cfg.to_dict().items() if k != "eval"}
        rec["config"]["data"] = {**rec["config"]["data"], "root": Path(cfg.data.root).name}  # not this machine's path
        draw = data_digest(cfg)
        for older in rec["evals"].values():  # written before evaluations carried their own draw
            older["meta"].setdefault("data_digest", rec["data_digest"])
        rec["run"], rec["data_digest"] = out.name, draw
        rec["summary"] = results.get("summary", rec.get("summary", {}))
        evaluation = {k: v for k, v in results.items() if k != "summary"}
        rec["evals"][key] = {**evaluation, "meta": {**evaluation["meta"], "data_digest": draw}}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(rec, indent=1) + "\n")
        os.replace(tmp, path)
        return path

    def curve(self, name: str, overrides: list[str], seed: int, blocks: tuple[str, ...] = ("probes",)) -> list[dict]:
        """Tidy rows of one run evaluated at each of its ``train.snapshots`` and at its end, with
        a ``step`` column: the learning curve. Evaluations are cached like :meth:`run`'s.

        A run read from a record that holds its final evaluation but not a snapshot's (a record
        written by :meth:`run`, which evaluates the end only) is trained for its snapshots'
        weights, as :meth:`trained` does, and the snapshots' evaluations join the record. Its end
        is then evaluated from that training too, so one curve is one training, on one draw of the
        benchmark, whatever draw the record's evaluations came from."""
        cfg = self.config(overrides, seed)
        snapshots = [f"{'-'.join(blocks)}-step{s}" for s in cfg.train.snapshots if s < cfg.train.steps]
        if any(self.from_record(cfg, key) is None for key in snapshots):
            self.trained(name, overrides, seed)  # a run in runs_dir is read before any record
        final = self.run(name, overrides, seed, blocks)
        out = self.run_dir(name, overrides, seed)
        rows = tidy(final, variant=name, seed=seed, step=cfg.train.steps)
        for step in cfg.train.snapshots:
            if step >= cfg.train.steps:  # the end point, or never reached
                continue
            key = f"{'-'.join(blocks)}-step{step}"
            replayed = self.from_record(cfg, key)
            if replayed is not None:
                res = {k: v for k, v in replayed[0].items() if k != "summary"}  # as evaluated below
            else:
                if not (out / "checkpoints" / snapshot_name(step)).exists():  # finished before snapshots were asked
                    raise FileNotFoundError(f"{out} finished without a step-{step} checkpoint (trained before "
                                            f"train.snapshots asked for it) and no record has its step-{step} "
                                            "evaluation: delete the run directory to train it again")
                path = out / f"eval-{key}.json"
                res = cached_eval(path, out / "checkpoints" / snapshot_name(step), cfg)
                if res is None:
                    res = evaluate_run(out, json_path=path, blocks=tuple(blocks), step=step, eval_cfg=cfg.eval)
                self.write_record(out, cfg, key, res)
            rows += tidy(res, variant=name, seed=seed, step=step)
        return rows

    def curves(self, variants: dict[str, list[str]], seeds: list[int], blocks: tuple[str, ...] = ("probes",)):
        """:meth:`curve` for every variant and seed, as one tidy ``pandas.DataFrame``."""
        import pandas as pd

        return pd.DataFrame([r for name, ov in variants.items() for seed in seeds
                             for r in self.curve(name, ov, seed, blocks)])

    def sweep(self, variants: dict[str, list[str]], seeds: list[int], blocks: tuple[str, ...] = ("probes",)):
        """Run every variant for every seed; return the tidy results table.

        Columns: ``variant, seed, protocol, factor, metric, value`` plus ``wall_s`` (training
        time of the run, for cost plots).
        """
        import pandas as pd

        rows = []
        for name, overrides in variants.items():
            for seed in seeds:
                rows += tidy(self.run(name, overrides, seed, blocks), variant=name, seed=seed)
        return pd.DataFrame(rows)


    def records(self, variants: dict[str, list[str]], seeds: list[int], blocks: tuple[str, ...]):
        """Like :meth:`sweep`, but every number of every requested evaluation block, as the
        tidy rows of :func:`vcl_core.eval.schema.records` plus ``variant`` and ``seed``."""
        import pandas as pd

        rows = []
        for name, overrides in variants.items():
            for seed in seeds:
                rows += [{"variant": name, "seed": seed, **r} for r in records(self.run(name, overrides, seed, blocks))]
        return pd.DataFrame(rows)


def evaluate_baseline(encoder, cfg: Config, **keys) -> list[dict]:
    """Evaluate an encoder that is not a run (e.g. an appearance-only baseline) with the data,
    views and probes of ``cfg``; returns tidy rows labelled with ``keys``."""
    from .data import load_index, make_source
    from .eval import evaluate_encoder

    d, e = cfg.data, cfg.eval
    index = load_index(d.root, d.format, d.fold)
    source = make_source(d.root, d.short_side, d.cache, d.cache_dir, d.backend)
    res = evaluate_encoder(encoder, index, source, num_frames=d.num_frames, stride=d.stride,
                           crop_size=cfg.augment.crop_size, **e.encoder_kwargs(), blocks=("probes",))
    return tidy(res, seed=0, **keys)


def tidy(results: dict, **keys) -> list[dict]:
    """Flatten a results dict (see :mod:`vcl_core.eval.suite`) into rows."""
    wall = results.get("summary", {}).get("wall_s")
    rows = []
    for protocol, cols in results["protocols"].items():
        for factor, metrics in cols.items():
            for metric, value in metrics.items():
                rows.append({**keys, "protocol": protocol, "factor": factor, "metric": metric, "value": value,
                             "wall_s": wall})
    return rows


def summarize(df, metric: str = "linear_top1", protocol: str = "whole", by=("variant", "factor")):
    """Mean, std and count over seeds of one metric under one protocol."""
    sel = df[(df.metric == metric) & (df.protocol == protocol)]
    out = sel.groupby(list(by), sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    return out.fillna({"std": 0.0})


def save_results(path: str | Path, notebook: str, df, smoke: bool, conclusion: str,
                 claims: Sequence[Verdict] = (), **extra) -> Path:
    """Write a notebook's metrics JSON (the results table and tests read these files).

    The file holds the mean/std/n over seeds of every (variant, protocol, factor, metric), the
    conclusion text the notebook printed, its tested ``claims`` (each :class:`Verdict`'s fields
    and sentence), ``training_minutes`` (every run this process used, :data:`USED_RUNS`, with
    its training wall minutes: the notebook's cost from an empty ``runs/``, whether or not they
    were trained now), ``benchmark_draws`` (how many of those runs were trained on each draw
    of the benchmark, :data:`USED_DRAWS`: more than one means records from another draw were
    mixed in) and any ``extra`` numbers.
    """
    rows = []
    if df is not None and len(df):
        g = df.groupby(["variant", "protocol", "factor", "metric"], sort=False)["value"]
        for (variant, protocol, factor, metric), s in g:
            rows.append({"variant": variant, "protocol": protocol, "factor": factor, "metric": metric,
                         "mean": float(s.mean()), "std": float(s.std(ddof=1)) if len(s) > 1 else 0.0,
                         "n": int(len(s))})
    payload = {"notebook": notebook, "smoke": smoke, "rows": rows, "conclusion": conclusion,
               **({"claims": [{**asdict(v), "text": str(v)} for v in claims]} if claims else {}),
               **({"training_minutes": dict(sorted(USED_RUNS.items()))} if USED_RUNS else {}),
               **({"benchmark_draws": dict(Counter(USED_DRAWS.values()).most_common())} if USED_DRAWS else {}),
               **extra}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    return path
