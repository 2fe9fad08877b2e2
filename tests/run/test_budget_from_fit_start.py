"""``--trainer.max_time`` counts from the fit's start, and a report skipped for time leaves a finished run."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from types import SimpleNamespace

from lightning.pytorch.callbacks import Timer

from multiview.cli.main import main
from multiview.run import time_budget
from multiview.run.time_budget import SKIPPED, ReportsInBudget


class Report:
    name = "retrieval"

    def compute(self, *a):
        return {}

    def on_fit_end(self, trainer, module):
        raise AssertionError("a report whose turn comes after the budget must not run")

    def _not_computed(self, run_dir, why):
        (run_dir / "metrics.json").write_text(json.dumps({"not_computed": {self.name: why}}))


def test_setup_time_counts_and_a_skipped_report_leaves_a_finished_run(tmp_path, capsys, monkeypatch):
    timer, report, budget = Timer(duration=timedelta(seconds=20)), Report(), ReportsInBudget()
    trainer = SimpleNamespace(callbacks=[timer, report, budget], is_global_zero=True, interrupted=False,
                              default_root_dir=str(tmp_path), strategy=SimpleNamespace(broadcast=lambda x, src: x))
    monkeypatch.setattr(time_budget, "FIT_START", [time.monotonic() - 8.0])  # 8 s of setup and data
    budget.setup(trainer, None, "fit")
    budget.on_train_start(trainer, None)
    assert budget.deadline <= time.monotonic() + 12.0 + 0.5  # 20 s from the start, not from training
    assert timer._duration <= 20.0 - 8.0 - budget.share * 20.0 + 0.5
    assert "8 s went to setup and data" in capsys.readouterr().err
    budget.deadline = time.monotonic() - 1.0  # the budget is spent when the report's turn comes
    report.on_fit_end(trainer, None)
    (tmp_path / "config.yaml").write_text("model: {class_path: multiview.methods.cmc.CMC}\n")
    capsys.readouterr()
    assert main(["runs", str(tmp_path)]) == 0
    row = next(ln for ln in capsys.readouterr().out.splitlines() if "CMC" in ln)
    assert "finished" in row and f"(retrieval: {SKIPPED})" in row and "resumable" not in row


def test_a_budget_setup_already_spent_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    timer, budget = Timer(duration=timedelta(seconds=10)), ReportsInBudget()
    trainer = SimpleNamespace(callbacks=[timer, Report(), budget], is_global_zero=True, interrupted=False,
                              default_root_dir=str(tmp_path), strategy=SimpleNamespace(broadcast=lambda x, src: x))
    monkeypatch.setattr(time_budget, "FIT_START", [time.monotonic() - 12.0])
    budget.on_train_start(trainer, None)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot hold training and the reports" in err[0] and "12 s went to setup" in err[0]
    assert timer._duration == 0
