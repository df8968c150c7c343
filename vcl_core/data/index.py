"""Dataset indices: one list of :class:`VideoRecord` from whatever layout the videos come in.

Formats, detected in this order by :func:`load_index` with ``format="auto"``:

``csv``
    a ``labels.csv`` or ``index.csv`` (or the only ``*.csv``) in the root with a ``path``
    column; optional ``video_id``, ``split``, ``group`` columns; columns named ``meta_*`` are
    kept as metadata; every other column is a label column.
``ucf101``
    ``classInd.txt`` with ``trainlist0N.txt``/``testlist0N.txt`` (in the root, ``splits/`` or
    ``ucfTrainTestlist/``); the label column is ``label`` and groups come from ``_gXX_``.
``hmdb51``
    ``<class>_test_split<N>.txt`` files (1 = train, 2 = test, 0 = unused); label ``label``.
``folder``
    ``<root>/<class>/<video>`` (or ``<root>/<train|test>/<class>/<video>``); label ``label``.

Data without split information gets a deterministic split by group (or by video when there
are no groups), and :attr:`VideoIndex.split_note` says so.
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .decode import VIDEO_EXTENSIONS

RESERVED = ("path", "video_id", "split", "group")
FORMATS = ("auto", "csv", "ucf101", "hmdb51", "folder")
_GROUP_RE = re.compile(r"_g(\d+)_c\d+", re.IGNORECASE)


@dataclass(frozen=True)
class VideoRecord:
    """One video of a dataset.

    Attributes:
        path: absolute path of the file.
        video_id: unique name (file stem unless the index gives one).
        labels: label column -> class name (strings; may be empty for unlabelled data).
        split: ``"train"``, ``"test"`` or ``None`` when the source gives none.
        group: videos sharing a group (UCF101 ``gXX``) never straddle train and test.
        meta: extra ``meta_*`` columns.
    """

    path: str
    video_id: str
    labels: dict = field(default_factory=dict)
    split: str | None = None
    group: str | None = None
    meta: dict = field(default_factory=dict)


@dataclass
class VideoIndex:
    """The records of a dataset and what was found about them."""

    root: str
    records: list[VideoRecord]
    label_columns: list[str]
    format: str
    split_note: str = ""

    def split(self, name: str | None) -> list[VideoRecord]:
        """Records of one split (``None`` = all)."""
        return [r for r in self.records if name is None or r.split == name]

    def classes(self, column: str) -> list[str]:
        """Sorted class names of a label column."""
        return sorted({r.labels[column] for r in self.records if r.labels.get(column, "") != ""})

    def __len__(self) -> int:
        return len(self.records)


def _is_video(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS


def _group_of(name: str) -> str | None:
    m = _GROUP_RE.search(name)
    return f"g{int(m.group(1)):02d}" if m else None


def _find(root: Path, names: list[str]) -> Path | None:
    for sub in ("", "splits", "ucfTrainTestlist", "testTrainMulti_7030_splits", "annotations"):
        for n in names:
            p = root / sub / n
            if p.is_file():
                return p
    return None


def _csv_file(root: Path) -> Path | None:
    for n in ("labels.csv", "index.csv"):
        if (root / n).is_file():
            return root / n
    found = [p for p in root.glob("*.csv") if "path" in _header(p)]
    return found[0] if len(found) == 1 else None


def _header(p: Path) -> list[str]:
    with open(p, newline="") as f:
        return next(csv.reader(f), [])


def _read_csv(root: Path, csv_path: Path) -> tuple[list[VideoRecord], list[str]]:
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        if "path" not in cols:
            raise ValueError(f"{csv_path} has no 'path' column (columns: {cols})")
        label_cols = [c for c in cols if c not in RESERVED and not c.startswith("meta_")]
        records = []
        for row in reader:
            p = Path(row["path"])
            p = p if p.is_absolute() else csv_path.parent / p
            split = (row.get("split") or "").strip().lower() or None
            if split == "val":
                split = "test"
            records.append(VideoRecord(
                path=str(p), video_id=row.get("video_id") or p.stem,
                labels={c: row[c] for c in label_cols}, split=split,
                group=row.get("group") or _group_of(p.name),
                meta={c: row[c] for c in cols if c.startswith("meta_")}))
    return records, label_cols


def _resolve(root: Path, rel: str) -> Path:
    for base in (root, root / "videos", root / "UCF-101", root / "UCF101", root / "hmdb51"):
        if (base / rel).exists():
            return base / rel
    return root / rel  # missing files are reported by check-data / skipped in training


def _read_ucf(root: Path, fold: int) -> list[VideoRecord]:
    class_ind = _find(root, ["classInd.txt"])
    train = _find(root, [f"trainlist0{fold}.txt"])
    test = _find(root, [f"testlist0{fold}.txt"])
    if not (class_ind and train and test):
        raise ValueError(f"{root}: UCF101 layout needs classInd.txt, trainlist0{fold}.txt and "
                         f"testlist0{fold}.txt (in the root, splits/ or ucfTrainTestlist/)")
    records = []
    for split, listfile in (("train", train), ("test", test)):
        for line in listfile.read_text().split("\n"):
            line = line.strip()
            if not line:
                continue
            rel = line.split()[0]
            cls = rel.split("/")[0] if "/" in rel else rel.split("_")[1]
            p = _resolve(root, rel)
            records.append(VideoRecord(str(p), Path(rel).stem, {"label": cls}, split, _group_of(rel)))
    return records


def _read_hmdb(root: Path, fold: int) -> list[VideoRecord]:
    files = sorted(root.rglob(f"*_test_split{fold}.txt"))
    records = []
    for f in files:
        cls = f.name[: -len(f"_test_split{fold}.txt")]
        for line in f.read_text().split("\n"):
            parts = line.split()
            if len(parts) != 2 or parts[1] == "0":
                continue
            split = "train" if parts[1] == "1" else "test"
            p = _resolve(root, f"{cls}/{parts[0]}")
            records.append(VideoRecord(str(p), Path(parts[0]).stem, {"label": cls}, split, None))
    return records


def _read_folder(root: Path) -> list[VideoRecord]:
    records = []
    split_dirs = [d for d in ("train", "test", "val") if (root / d).is_dir()]
    tops = [(root / d, "test" if d == "val" else d) for d in split_dirs] or [(root, None)]
    for top, split in tops:
        for cls_dir in sorted(d for d in top.iterdir() if d.is_dir()):
            for p in sorted(cls_dir.iterdir()):
                if _is_video(p):
                    records.append(VideoRecord(str(p), p.stem, {"label": cls_dir.name}, split, _group_of(p.name)))
    return records


def detect_format(root: str | Path) -> str:
    """Name the layout of ``root`` (see the module docstring); raises if none matches."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    if _csv_file(root):
        return "csv"
    if _find(root, ["classInd.txt"]) and _find(root, ["trainlist01.txt"]):
        return "ucf101"
    if next(root.rglob("*_test_split1.txt"), None):
        return "hmdb51"
    if any(_is_video(p) for p in root.glob("*/*")) or any(_is_video(p) for p in root.glob("*/*/*")):
        return "folder"
    raise ValueError(
        f"cannot tell the layout of {root}: expected a labels.csv with a 'path' column, UCF101 "
        "split files (classInd.txt, trainlist01.txt), HMDB51 split files, or one folder of videos "
        "per class. Run `vcl synth --out DIR` for the synthetic benchmark.")


def assign_splits(records: list[VideoRecord], test_fraction: float = 0.25, seed: int = 0) -> list[VideoRecord]:
    """Give records without a split a deterministic one, by group (or video id) hash."""
    out = []
    for r in records:
        if r.split in ("train", "test"):
            out.append(r)
            continue
        key = f"{seed}:{r.group or r.video_id}".encode()
        u = int.from_bytes(hashlib.sha1(key).digest()[:8], "big") / 2**64
        out.append(VideoRecord(r.path, r.video_id, r.labels, "test" if u < test_fraction else "train",
                               r.group, r.meta))
    return out


def load_index(root: str | Path, format: str = "auto", fold: int = 1,
               test_fraction: float = 0.25, split_seed: int = 0) -> VideoIndex:
    """Build the :class:`VideoIndex` of a dataset directory.

    Args:
        root: the dataset directory.
        format: one of ``auto``, ``csv``, ``ucf101``, ``hmdb51``, ``folder``.
        fold: which official split (1-3) for UCF101/HMDB51.
        test_fraction, split_seed: for data without splits (see :func:`assign_splits`).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: unknown format, or no videos found.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown index format {format!r}; choose one of {FORMATS}")
    rootp = Path(root).resolve()
    fmt = detect_format(rootp) if format == "auto" else format
    if fmt == "csv":
        csv_path = _csv_file(rootp)
        if csv_path is None:
            raise ValueError(f"{rootp}: no labels.csv/index.csv with a 'path' column")
        records, label_cols = _read_csv(rootp, csv_path)
    elif fmt == "ucf101":
        records, label_cols = _read_ucf(rootp, fold), ["label"]
    elif fmt == "hmdb51":
        records, label_cols = _read_hmdb(rootp, fold), ["label"]
    else:
        records, label_cols = _read_folder(rootp), ["label"]
    if not records:
        raise ValueError(f"{rootp}: the {fmt} index lists no videos")
    note = ""
    missing = sum(r.split not in ("train", "test") for r in records)
    if missing:
        records = assign_splits(records, test_fraction, split_seed)
        by = "group" if any(r.group for r in records) else "video"
        note = (f"{missing} of {len(records)} videos had no split: assigned a deterministic "
                f"{1 - test_fraction:.0%}/{test_fraction:.0%} train/test split by {by} (seed {split_seed})")
    return VideoIndex(str(rootp), records, label_cols, fmt, note)
