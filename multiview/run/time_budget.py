"""A learning-rate schedule that ends when ``--trainer.max_time`` does.

When a fit is bounded by wall clock alone (``--trainer.max_time`` with ``max_epochs -1`` and no
``max_steps``), the number of steps is not known in advance, so a schedule over steps would
either stop short of the budget or be cut off in the middle. :class:`FitScheduleToTime` measures
the step rate as training goes and keeps the method's ``schedule_steps`` (the length of its
warmup-cosine schedule, :meth:`multiview.methods.base.Method.total_steps`) at the steps that fit
in the time left; training stops at that step, a moment before the budget. A resumed run carries
on from the schedule length and elapsed time its checkpoint saved.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer


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
