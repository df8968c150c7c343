"""The ``vcl`` command.

::

    vcl synth    --out DIR [--preset tiny|small|paper] [--seed N]
    vcl pretrain --data DIR --out RUN_DIR [--config NAME_OR_YAML] [--max-minutes M] [--resume] [key=value ...]
    vcl evaluate --checkpoint RUN_DIR [--data DIR] [--json PATH] [eval.key=value ...]
    vcl config   [NAME_OR_YAML] [key=value ...]      print the resolved config
    vcl check-data DIR [--min-frames N] [--json PATH] [--cache-dir DIR | --no-record] [--workers N]
"""
from __future__ import annotations

import argparse
import json
import sys


def _synth(a) -> int:
    from .data.synthetic import generate

    labels = generate(a.out, a.preset, a.seed, progress=not a.quiet)
    print(f"wrote the {a.preset!r} benchmark (seed {a.seed}) to {labels.parent}")
    return 0


def _pretrain(a) -> int:
    from .train import load_config, pretrain

    overrides = list(a.overrides) + [f"data.root={a.data}"]
    if a.max_minutes is not None:
        overrides.append(f"train.max_minutes={a.max_minutes}")
    cfg = load_config(a.config, overrides)
    res = pretrain(cfg, a.out, resume=a.resume, progress=not a.quiet)
    if res.summary.get("status") == "complete" and not a.quiet:
        print(f"run directory: {res.out_dir} (evaluate with `vcl evaluate --checkpoint {res.out_dir}`)")
    return 0


def _evaluate(a) -> int:
    from pathlib import Path

    from .train import evaluate_run, load_config

    eval_cfg = None
    if a.overrides:
        other = [o for o in a.overrides if not o.startswith("eval.")]
        if other:
            raise ValueError(f"vcl evaluate: only eval.* settings can be changed ({', '.join(other)} "
                             "belongs to the training; pretrain another run for it)")
        eval_cfg = load_config(str(Path(a.checkpoint) / "config.yaml"), a.overrides).eval
    res = evaluate_run(a.checkpoint, a.data, a.json, eval_cfg=eval_cfg)
    proto = res["meta"]["video_embedding"]
    print(f"{'label':<12} {'linear':>7} {'kNN':>7} {'R@1':>7} {'R@5':>7} {'chance':>7}   (protocol: {proto})")
    for col, m in res["tasks"].items():
        print(f"{col:<12} {m['linear_top1']:7.3f} {m['knn_top1']:7.3f} {m['retrieval_r1']:7.3f} "
              f"{m['retrieval_r5']:7.3f} {res['chance'][col]:7.3f}")
    for p, cols in res["protocols"].items():
        if p != proto:
            print(f"  {p}: " + ", ".join(f"{c} linear {m['linear_top1']:.3f}" for c, m in cols.items()))
    if res["meta"]["skipped_videos"]:
        print(f"skipped {len(res['meta']['skipped_videos'])} unreadable videos")
    if a.json:
        print(f"wrote {a.json}")
    return 0


def _config(a) -> int:
    import yaml

    from .train import list_presets, load_config

    if a.list:
        print("\n".join(list_presets()))
        return 0
    print(yaml.safe_dump(load_config(a.config, a.overrides).to_dict(), sort_keys=False), end="")
    return 0


def _check_data(a) -> int:
    import os
    from pathlib import Path

    from .data.check import check_dataset, quiet_decoders

    cache_dir = None
    if not a.no_record:
        cache_dir = Path(a.cache_dir or os.environ.get("VCL_CACHE", "") or Path(a.dir) / ".vcl_cache")
    with quiet_decoders():
        report = check_dataset(a.dir, a.min_frames, a.backend, cache_dir, a.workers)
    print(report.format())
    if cache_dir is not None:
        print(f"\nrecorded probes in {cache_dir / 'probes'}: training opens the fallback files with PyAV "
              "directly and skips the unusable ones")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(report.to_dict(), indent=2))
        print(f"wrote {a.json}")
    if not report.usable:
        print(f"vcl check-data: no usable video under {a.dir}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vcl", description="contrastive video representation learning (vcl_core)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write the synthetic benchmark")
    s.add_argument("--out", required=True)
    s.add_argument("--preset", default="small", choices=["tiny", "small", "paper"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=_synth)

    s = sub.add_parser("pretrain", help="self-supervised pretraining")
    s.add_argument("--data", required=True, help="dataset directory (labels.csv, UCF101/HMDB51 splits or class folders)")
    s.add_argument("--out", required=True, help="run directory")
    s.add_argument("--config", default=None, help="preset name or YAML file (see `vcl config --list`)")
    s.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget; fractions allowed")
    s.add_argument("--resume", action="store_true", help="continue the unfinished run in --out")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("overrides", nargs="*", help="section.key=value")
    s.set_defaults(fn=_pretrain)

    s = sub.add_parser("evaluate", help="frozen-feature evaluation of a run")
    s.add_argument("--checkpoint", required=True, help="run directory written by `vcl pretrain`")
    s.add_argument("--data", default=None, help="dataset directory (default: the pretraining data)")
    s.add_argument("--json", default=None, help="write the results here")
    s.add_argument("overrides", nargs="*", help="eval.key=value (e.g. eval.whole_frames=16)")
    s.set_defaults(fn=_evaluate)


    s = sub.add_parser("config", help="print a resolved config")
    s.add_argument("config", nargs="?", default=None)
    s.add_argument("overrides", nargs="*")
    s.add_argument("--list", action="store_true", help="list the shipped presets")
    s.set_defaults(fn=_config)

    s = sub.add_parser("check-data", help="list the videos that cannot be used, and why")
    s.add_argument("dir", help="dataset directory (any layout `vcl pretrain` reads, or a folder of videos)")
    s.add_argument("--min-frames", type=int, default=1,
                   help="videos with fewer frames are too short (the longest view's span)")
    s.add_argument("--json", default=None, help="write the full report here")
    s.add_argument("--backend", default="auto", choices=["auto", "decord", "pyav"])
    s.add_argument("--cache-dir", default=None,
                   help="frame-cache directory whose probes/ to fill (default: $VCL_CACHE or DIR/.vcl_cache)")
    s.add_argument("--no-record", action="store_true", help="do not record the probes for training")
    s.add_argument("--workers", type=int, default=0, help="check in this many processes")
    s.set_defaults(fn=_check_data)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # key=value overrides may stand between options: `--out R a.b=1 --resume c=2`
        bad = [e for e in extra if e.startswith("-") or "=" not in e]
        if bad or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
        args.overrides = list(args.overrides) + extra
    try:
        return args.fn(args)
    except (FileNotFoundError, FileExistsError, KeyError, ValueError, TypeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"vcl {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
