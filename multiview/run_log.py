"""CSV training logs that survive a resume.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts, so a run resumed with
``--ckpt_path last`` would lose the rows logged before it stopped. :class:`ResumableCSVLogger`
keeps them: it reads the old header and appends (rewriting the file with a wider header when new
columns appear, old rows kept).
"""

from __future__ import annotations

import csv

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class KeepingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = sorted(next(csv.reader(f), []))


class ResumableCSVLogger(CSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = KeepingWriter(log_dir=self.log_dir)
        return self._experiment
