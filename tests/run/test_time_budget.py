"""A fit bounded only by --trainer.max_time gets a warmup-cosine schedule that ends at the budget."""

import time

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from multiview.core.errors import UserError
from multiview.methods.base import Method
from multiview.run.time_budget import FitScheduleToTime


class Tiny(Method):
    def __init__(self, seconds_per_step: float):
        super().__init__(lr=0.1, warmup_fraction=0.1)
        self.seconds_per_step = seconds_per_step
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        time.sleep(self.seconds_per_step)
        return self.layer(batch[0]).pow(2).mean()


class RecordLR(Callback):
    def __init__(self):
        self.lrs = []

    def on_train_batch_end(self, trainer, *args):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def fit(tmp_path, seconds_per_step=0.01, **limits):
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 4)), batch_size=8)
    model, lrs = Tiny(seconds_per_step), RecordLR()
    trainer = L.Trainer(default_root_dir=tmp_path,
                        callbacks=[FitScheduleToTime(), lrs, ModelCheckpoint(save_last=True)],
                        logger=False, enable_progress_bar=False, enable_model_summary=False, **limits)
    t0 = time.monotonic()
    trainer.fit(model, data)
    return trainer, model, lrs.lrs, time.monotonic() - t0


def test_schedule_ends_at_the_time_budget(tmp_path):
    trainer, model, lrs, seconds = fit(tmp_path, max_time={"seconds": 3}, max_epochs=-1)
    steps = trainer.global_step
    assert steps == model.schedule_steps  # stopped by the fitted schedule, not cut off by the timer
    assert 2.4 < seconds < 3.5 and steps > 100
    peak = max(lrs)
    assert lrs.index(peak) < 0.3 * steps and peak > 0.09  # warmed up, then decayed
    assert lrs[-1] < 0.01 * peak  # the cosine has run out at the budget
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]
    assert [v for k, v in saved.items() if k.startswith("FitScheduleToTime")] == [{"schedule_steps": steps}]


def test_a_slower_step_gets_fewer_steps(tmp_path):
    fast, *_ = fit(tmp_path / "fast", 0.005, max_time={"seconds": 2}, max_epochs=-1)
    slow, *_ = fit(tmp_path / "slow", 0.02, max_time={"seconds": 2}, max_epochs=-1)
    assert 2 < fast.global_step / slow.global_step < 5


def test_an_epoch_bound_fit_keeps_its_schedule(tmp_path):
    trainer, model, lrs, _ = fit(tmp_path, 0.0, max_time={"seconds": 60}, max_epochs=3)
    assert model.schedule_steps is None and model.total_steps() == trainer.global_step == 24
    assert lrs[-1] < 0.01 * max(lrs)


def test_a_fit_without_an_end_says_which_options_end_it(tmp_path):
    with pytest.raises(UserError, match="max_epochs, --trainer.max_steps or --trainer.max_time"):
        fit(tmp_path, 0.0, max_epochs=-1)


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            trainer.should_stop = True


def test_a_resumed_fit_keeps_its_schedule_and_the_time_already_spent(tmp_path):
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 4)), batch_size=8)

    def trainer(*callbacks):
        return L.Trainer(default_root_dir=tmp_path, max_time={"seconds": 4}, max_epochs=-1, logger=False,
                         callbacks=[FitScheduleToTime(), ModelCheckpoint(save_last=True), *callbacks],
                         enable_progress_bar=False, enable_model_summary=False)

    first = Tiny(0.01)
    trainer(StopAt(150)).fit(first, data)
    saved = first.schedule_steps
    assert first.global_step == 150 and saved > 200  # 4 s of 0.01 s steps: at most 400, fewer on a loaded machine
    resumed, t0 = Tiny(0.01), time.monotonic()
    t = trainer()
    t.fit(resumed, data, ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"), weights_only=True)
    assert t.global_step == resumed.schedule_steps and abs(resumed.schedule_steps - saved) < 0.2 * saved
    assert time.monotonic() - t0 < 4 - 0.6  # the 1.5 s of the first part count against the budget
