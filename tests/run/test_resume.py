"""A run interrupted mid-epoch and resumed from last.ckpt ends exactly where an uninterrupted run ends."""

import csv

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from multiview.data.video.synthetic import SyntheticAV
from multiview.methods.cmc import CMC
from multiview.run.csv_logger import ResumableCSVLogger
from multiview.cli.trainer import SaveOnInterrupt


class InterruptAt(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def fit(root, ckpt_path=None, interrupt_at=None):
    L.seed_everything(0)
    model = CMC(views=["frame", "audio"], encoders={"frame": {"width": 8}, "audio": {"width": 8}}, proj_dim=16, lr=1e-3)
    data = SyntheticAV(n_clips=20, val_clips=4, duration=2.0, clips_per_video=2, batch_size=8, num_workers=0)
    callbacks = [ModelCheckpoint(dirpath=root / "checkpoints", save_last=True), SaveOnInterrupt()]
    if interrupt_at is not None:
        callbacks.append(InterruptAt(interrupt_at))
    logger = ResumableCSVLogger(save_dir=root, name="", version="")
    trainer = L.Trainer(max_epochs=2, default_root_dir=root, callbacks=callbacks, logger=logger, log_every_n_steps=1,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0, deterministic=True)
    if interrupt_at is None:
        trainer.fit(model, data, ckpt_path=ckpt_path, weights_only=True)
    else:
        with pytest.raises(SystemExit):  # Lightning exits after a graceful shutdown
            trainer.fit(model, data, ckpt_path=ckpt_path, weights_only=True)
    return trainer, model


@pytest.mark.slow
def test_interrupted_run_resumes_exactly(tmp_path):
    _, straight = fit(tmp_path / "straight")
    trainer, _ = fit(tmp_path / "stopped", interrupt_at=6)  # 4 batches an epoch: stop inside epoch 2
    assert trainer.interrupted and (tmp_path / "stopped" / "checkpoints" / "last.ckpt").exists()
    trainer, resumed = fit(tmp_path / "stopped", ckpt_path="last")
    assert trainer.global_step == 8
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), name
    steps = {run: sorted({int(row["step"]) for row in csv.DictReader(open(tmp_path / run / "metrics.csv"))})
             for run in ("straight", "stopped")}
    # rows from before the stop are kept; only the interrupted step's row, not yet logged, is missing
    assert set(steps["stopped"]) <= set(steps["straight"]) and len(steps["straight"]) == 8
    assert set(steps["straight"]) - set(steps["stopped"]) == {5}
