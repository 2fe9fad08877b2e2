"""A learning-rate schedule that ends when ``--trainer.max_time`` does.

When a fit is bounded by wall clock alone (``--trainer.max_time`` with ``max_epochs -1`` and no
``max_steps``), the number of steps is not known in advance, so a schedule over steps would
either stop short of the budget or be cut off in the middle. :class:`FitScheduleToTime` measures
the step rate as training goes and keeps the method's ``schedule_steps`` (the length of its
warmup-cosine schedule, :meth:`multiview.methods.base.Method.total_steps`) at the steps that fit
in the time left; training stops at that step, a moment before the budget. A resumed run carries
on from the schedule length and elapsed time its checkpoint saved. :class:`ReportsInBudget` keeps
part of the budget for the end-of-fit reports and shows their progress.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer

SKIPPED = "skipped, time budget"  # a report's ``not_computed`` note when the budget was spent before its turn
FIT_START: list[float] = []  # when the command began (time.monotonic), set by the CLI: the budget counts from it


def mark_fit_start() -> None:
    """Start the user's wall clock: ``--trainer.max_time`` covers setup and data time too."""
    FIT_START[:] = [time.monotonic()]


class FitScheduleToTime(Callback):
    """Fit the schedule's length to the time budget of a fit bounded only by ``max_time``.

    Args:
        every: re-measure the step rate every this many steps.
        skip: steps left out of the rate (the first ones pay for allocation and warm caches).
        margin: share of the time left kept free, for the last step and the final checkpoint.
    """

    def __init__(self, every: int = 20, skip: int = 2, margin: float = 0.02):
        self.every, self.skip, self.margin = every, skip, margin
        self.schedule_steps: int | None = None
        self.timer: Timer | None = None  # Lightning's, present when max_time is set; None: inactive
        self._first = 0
        self._mark: tuple[int, float] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        bounded_by_time_alone = trainer.max_steps == -1 and trainer.max_epochs == -1
        self.timer = (timer if stage == "fit" and bounded_by_time_alone and hasattr(pl_module, "schedule_steps")
                      else None)
        if self.timer is not None:
            # until the rate is measured: a schedule long enough that the warmup has barely begun
            pl_module.schedule_steps = 1000

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.timer is None:
            return
        # a resumed run starts from the length its checkpoint saved
        start = self.schedule_steps or pl_module.schedule_steps
        pl_module.schedule_steps = self.schedule_steps = max(start, trainer.global_step + 1)
        self._first, self._mark = trainer.global_step, None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self.timer is None:
            return
        step = trainer.global_step
        if self._mark is None:
            if step - self._first >= self.skip:
                self._mark = (step, self.timer.time_elapsed())
            return
        done = step - self._mark[0]
        if done > 0 and (done == self.every // 4 or done % self.every == 0):
            per_step = (self.timer.time_elapsed() - self._mark[1]) / done
            left = max(0.0, self.timer.time_remaining()) * (1 - self.margin)
            steps = step + max(1, math.floor(left / max(per_step, 1e-9)))
            # every process follows rank 0's count, so that all stop at the same step
            self.schedule_steps = pl_module.schedule_steps = trainer.strategy.broadcast(steps, src=0)
        if step >= self.schedule_steps:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"schedule_steps": self.schedule_steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.schedule_steps = state_dict.get("schedule_steps")


def end_of_fit_reports(trainer: L.Trainer) -> list[Callback]:
    """The trainer's end-of-fit reports (:class:`multiview.eval.reports.base.Report`: a ``compute``)."""
    return [c for c in trainer.callbacks if callable(getattr(c, "compute", None)) and hasattr(c, "name")]


class ReportsInBudget(Callback):
    """``--trainer.max_time`` bounds the whole fit, its end-of-fit reports included.

    A fit with reports and a time budget first keeps ``share`` of it for them (Lightning's Timer is
    shortened; :class:`FitScheduleToTime` fits the schedule to what is left) and says so before
    training starts. The first validation, a pass over the held-out set, measures what a report
    costs: each is taken as ``passes`` such passes (the trained encoder, the random-init baseline,
    figures and plots), plus one for the validation after the last step, and the training share is
    set again from that. Each report prints a line
    when it starts and how long it took; a report whose turn comes after the budget is spent is
    skipped with one line.

    Args:
        share: share of ``max_time`` kept for the reports until the held-out pass is measured.
        passes: held-out passes a report is taken to cost.
        most: largest share of ``max_time`` the reports may keep.
    """

    def __init__(self, share: float = 0.25, passes: float = 3.0, most: float = 0.8):
        self.share, self.passes, self.most = share, passes, most
        self.deadline: float | None = None
        self.timer: Timer | None = None
        self.budget = self.spent = 0.0
        self._val_start: float | None = None
        self._measured = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or not trainer.is_global_zero:
            return
        for report in end_of_fit_reports(trainer):
            if not getattr(report.on_fit_end, "_in_budget", False):
                report.on_fit_end = self._timed(report, report.on_fit_end)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        reports = end_of_fit_reports(trainer)
        if timer is None or timer._duration is None or not reports or self.deadline is not None:
            return
        self.timer, self.budget = timer, timer._duration
        start = FIT_START[0] if FIT_START else time.monotonic()
        self.spent = time.monotonic() - start  # setup and data time, before training began
        self.deadline = start + self.budget
        names = ", ".join(r.name for r in reports)
        self._keep(trainer, self.share * self.budget, f"time budget {self.budget:.0f} s (--trainer.max_time): ",
                   f"for the end-of-fit reports ({names}) until a held-out pass is timed")

    def _keep(self, trainer: L.Trainer, kept: float, head: str, tail: str) -> None:
        kept = min(kept, self.most * self.budget)
        self.timer._duration = max(0.0, self.budget - kept - self.spent)  # Lightning's Timer counts from training
        if trainer.is_global_zero and self.timer._duration <= 0:
            print(f"time budget {self.budget:.0f} s (--trainer.max_time) cannot hold training and the reports: "
                  f"{self.spent:.0f} s went to setup and data, the reports are estimated at {kept:.0f} s "
                  "(raise --trainer.max_time)", file=sys.stderr, flush=True)
        elif trainer.is_global_zero:
            print(f"{head}training stops at {self.spent + self.timer._duration:.0f} s ({self.spent:.0f} s went to "
                  f"setup and data), {kept:.0f} s are kept {tail}",
                  file=sys.stderr, flush=True)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.timer is not None and not self._measured and not trainer.sanity_checking:
            self._val_start = time.monotonic()

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._val_start is None or self._measured:
            return
        self._measured, seconds = True, time.monotonic() - self._val_start
        # and one more: the validation that follows the last training step
        kept = (self.passes * len(end_of_fit_reports(trainer)) + 1) * seconds
        kept = trainer.strategy.broadcast(kept, src=0)  # every process stops at the same time
        self._keep(trainer, kept, f"a held-out pass took {seconds:.1f} s: ", "for the end-of-fit reports")

    def _timed(self, report: Callback, on_fit_end):
        def run(trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            if trainer.interrupted or not trainer.is_global_zero:
                return on_fit_end(trainer, pl_module)
            left = None if self.deadline is None else self.deadline - time.monotonic()
            if left is not None and left <= 0:
                print(f"{report.name} report: skipped, the time budget is spent "
                      "(multiview eval computes it from the run folder)", file=sys.stderr, flush=True)
                note = getattr(report, "_not_computed", None)
                if callable(note):  # the run is finished, its report skipped: not a run to resume
                    note(Path(trainer.default_root_dir), SKIPPED)
                return None
            print(f"{report.name} report: computing" + (f" ({left:.0f} s of the budget left)" if left else "")
                  + " ...", file=sys.stderr, flush=True)
            start = time.monotonic()
            on_fit_end(trainer, pl_module)
            print(f"{report.name} report: done in {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
            return None

        run._in_budget = True
        return run
