"""Run logs: ``metrics.csv`` always, TensorBoard event files when ``tensorboard`` is installed."""
from __future__ import annotations

import csv
from pathlib import Path

BASE_FIELDS = ["step", "epoch", "loss", "lr", "clips_per_s", "data_s", "step_s", "bad_clips", "elapsed_s"]


class MetricsLogger:
    """Append one row per logged step to ``<run>/metrics.csv`` (and TensorBoard if available).

    The columns are fixed by the first row written (the base fields plus whatever the
    objective logs). On resume, rows logged after the checkpoint's step are dropped, so the
    file of a resumed run equals that of an uninterrupted one.

    Args:
        run_dir: the run directory.
        resume_step: the step of the checkpoint being resumed, or ``None`` for a fresh run.
        tensorboard: also write TensorBoard events under ``<run>/tb`` when the package exists.
    """

    def __init__(self, run_dir: str | Path, resume_step: int | None = None, tensorboard: bool = True):
        self.path = Path(run_dir) / "metrics.csv"
        self.fields: list[str] | None = None
        self.rows: list[dict] = []
        if resume_step is not None and self.path.exists():
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f)
                self.fields = reader.fieldnames
                self.rows = [r for r in reader if int(r["step"]) <= resume_step]
        self._file = None
        self._writer = None
        if self.fields:
            self._open()
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(run_dir) / "tb"))
            except Exception:  # tensorboard not installed: the CSV is the log
                self.tb = None

    def _open(self) -> None:
        self._file = open(self.path, "w", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=self.fields, extrasaction="ignore")
        self._writer.writeheader()
        self._writer.writerows(self.rows)
        self._file.flush()

    def log(self, row: dict) -> None:
        """Write one row (numbers are rounded to 5 significant decimals)."""
        row = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
        if self.fields is None:
            self.fields = BASE_FIELDS + sorted(k for k in row if k not in BASE_FIELDS)
            self._open()
        self._writer.writerow(row)
        self._file.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.tb is not None:
            self.tb.close()
