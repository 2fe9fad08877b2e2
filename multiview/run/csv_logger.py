"""CSV training logs that survive a resume.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts, so a run resumed with
``--ckpt_path last`` would lose the rows logged before it stopped. :class:`ResumableCSVLogger`
keeps them: it reads the old header and appends (rewriting the file atomically with a wider header
when new columns appear, old rows kept). A resumed fit first drops the rows logged at or after the
step it resumes from (:meth:`KeepingWriter.drop_steps_from`): the stopped run logged them after
its checkpoint, and the resumed run logs those steps again.
"""

from __future__ import annotations

import csv
import io

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from multiview.core.io import atomic_write


class KeepingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = sorted(next(csv.reader(f), []))

    def save(self) -> None:
        keys = list(self.metrics_keys)
        try:
            super().save()
        except BaseException:
            self.metrics_keys = keys  # the file still has the old header: the next save rewrites it
            raise

    def drop_steps_from(self, step: int) -> int:
        """Remove the saved rows whose step is ``step`` or later; how many (the file rewritten atomically)."""
        self.metrics = [row for row in self.metrics if not _at_or_after(row.get("step"), step)]
        if not self._fs.isfile(self.metrics_file_path):
            return 0
        rows = self._rows()
        kept = [row for row in rows if not _at_or_after(row.get("step"), step)]
        if len(kept) < len(rows):
            self._rewrite(self.metrics_keys, kept)
        return len(rows) - len(kept)

    def _rows(self) -> list[dict]:
        with open(self.metrics_file_path, newline="") as f:
            return list(csv.DictReader(f))

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        """Rewrite the file with a wider header atomically: a stop mid-rewrite keeps the old rows."""
        self._rewrite(fieldnames, self._rows())

    def _rewrite(self, fieldnames: list[str], rows: list[dict]) -> None:
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.metrics_file_path, lambda f: f.write(text.getvalue().encode()))


def _at_or_after(value: str | None, step: int) -> bool:
    try:
        return int(float(value)) >= step
    except (TypeError, ValueError):
        return False


class ResumableCSVLogger(CSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = KeepingWriter(log_dir=self.log_dir)
        return self._experiment
