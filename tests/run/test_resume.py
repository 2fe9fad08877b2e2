"""A run stopped after N/2 steps and resumed from its last.ckpt (Lightning's ``ckpt_path=``) ends
with the weights of an unbroken run of N steps: every view is drawn from (seed, global step, sample
index) (:mod:`multiview.views.seeding`), the sampler's order from (seed, epoch), and the schedule
and momentum from the step. Checked for a SimCLR recipe on real CIFAR-10 images, and for the
quickstart's CMC on the synthetic world with frames augmented by :class:`BatchAugment`."""

import csv
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from multiview.cli.trainer import SaveOnInterrupt
from multiview.data.image.images import ImageFolderData
from multiview.data.video.synthetic import SyntheticAV
from multiview.methods.cmc import CMC
from multiview.methods.instdisc import InstanceDiscrimination
from multiview.methods.simclr import SimCLR
from multiview.run.csv_logger import ResumableCSVLogger
from multiview.views.frames import BatchAugment

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


class InterruptAt(Callback):
    """Stops the fit after ``step`` optimizer steps, as a preempted job is stopped (SaveOnInterrupt
    writes last.ckpt)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def fit(root, make_model, make_data, max_epochs, ckpt_path=None, interrupt_at=None, callbacks=()):
    L.seed_everything(0)
    model, data = make_model(), make_data()
    callbacks = [*callbacks, ModelCheckpoint(dirpath=root / "checkpoints", save_last=True), SaveOnInterrupt()]
    if interrupt_at is not None:
        callbacks.append(InterruptAt(interrupt_at))
    logger = ResumableCSVLogger(save_dir=root, name="", version="")
    trainer = L.Trainer(max_epochs=max_epochs, default_root_dir=root, callbacks=callbacks, logger=logger,
                        log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0, deterministic=True, accelerator="cpu")
    if interrupt_at is None:
        trainer.fit(model, data, ckpt_path=ckpt_path, weights_only=True)
    else:
        with pytest.raises(SystemExit):  # Lightning exits after a graceful shutdown
            trainer.fit(model, data, ckpt_path=ckpt_path, weights_only=True)
    return trainer, model


def straight_and_resumed(root, make_model, make_data, max_epochs, stop, callbacks=()):
    """``(unbroken run, run stopped at ``stop`` and resumed, max abs weight difference)``."""
    _, straight = fit(root / "straight", make_model, make_data, max_epochs, callbacks=callbacks)
    trainer, _ = fit(root / "stopped", make_model, make_data, max_epochs, interrupt_at=stop, callbacks=callbacks)
    assert trainer.interrupted and (root / "stopped" / "checkpoints" / "last.ckpt").exists()
    trainer, resumed = fit(root / "stopped", make_model, make_data, max_epochs, ckpt_path="last",
                           callbacks=callbacks)
    a, b = straight.state_dict(), resumed.state_dict()
    assert list(a) == list(b)
    diff = max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in a)
    print(f"max abs weight difference, straight vs resumed at step {stop}: {diff:.3g}")
    return trainer, straight, diff


@pytest.mark.slow
def test_simclr_recipe_stopped_and_resumed_ends_with_the_unbroken_weights(shared_data, tmp_path):
    recipe = yaml.safe_load((RECIPES / "simclr_cifar10.yaml").read_text())
    args = {**recipe["model"]["init_args"], "encoder": {"name": "small_resnet", "width": 4}, "proj_dim": 16}
    data = {**recipe["data"]["init_args"], "path": str(shared_data / "images" / "cifar10-jpg.tar"),
            "batch_size": 16, "train_limit": 64, "test_limit": 16}
    decoded = ImageFolderData(**data)
    decoded.setup()  # decoded once; each fit gets a fresh data module (its own sampler) on these images

    def make_data():
        dm = ImageFolderData(**data)
        dm.train_set, dm.train_plain, dm.test_set = decoded.train_set, decoded.train_plain, decoded.test_set
        return dm

    trainer, straight, diff = straight_and_resumed(tmp_path, lambda: SimCLR(**args), make_data,
                                                   max_epochs=3, stop=6)  # 4 batches an epoch: stop inside epoch 2
    assert trainer.global_step == 12 and straight.view_name == "image"
    assert diff <= 1e-6, diff


@pytest.mark.slow
def test_quickstart_with_batch_augment_stopped_and_resumed_ends_with_the_unbroken_weights(tmp_path):
    def model():
        return CMC(views=["frame", "audio"], encoders={"frame": {"width": 8}, "audio": {"width": 8}},
                   proj_dim=16, lr=1e-3)

    def data():
        return SyntheticAV(n_clips=21, val_clips=5, duration=2.0, clips_per_video=2, batch_size=8, num_workers=0)

    trainer, _, diff = straight_and_resumed(tmp_path, model, data, max_epochs=2, stop=6,  # inside epoch 2
                                            callbacks=[BatchAugment()])
    assert trainer.global_step == 8
    assert diff <= 1e-6, diff
    steps = {run: sorted({int(row["step"]) for row in csv.DictReader(open(tmp_path / run / "metrics.csv"))})
             for run in ("straight", "stopped")}
    # rows from before the stop are kept; only the interrupted step's row, not yet logged, is missing
    assert set(steps["stopped"]) <= set(steps["straight"]) and len(steps["straight"]) == 8
    assert set(steps["straight"]) - set(steps["stopped"]) == {5}


def test_batch_augment_changes_the_frames_a_fit_trains_on():
    """The resume test above is not vacuous: the callback does move the frames."""
    batch = {"frame": torch.rand(4, 3, 16, 16)}
    before = batch["frame"].clone()

    class T:
        global_step, global_rank = 0, 0

    BatchAugment().on_train_batch_start(T(), None, batch, 0)
    assert not torch.equal(before, batch["frame"])


@pytest.mark.slow
def test_instance_discrimination_stopped_and_resumed_draws_the_same_negatives(shared_data, tmp_path):
    """Memory-bank negatives come from torch's global generator, seeded from the step by the base
    (:func:`multiview.views.seeding.seed_step`): the resumed run ends with the unbroken weights."""
    data = {"path": str(shared_data / "images" / "cifar10-jpg.tar"), "size": 32, "batch_size": 16,
            "train_limit": 64, "test_limit": 16, "num_workers": 0}
    decoded = ImageFolderData(**data)
    decoded.setup()

    def make_data():
        dm = ImageFolderData(**data)
        dm.train_set, dm.train_plain, dm.test_set = decoded.train_set, decoded.train_plain, decoded.test_set
        return dm

    def make_model():
        return InstanceDiscrimination(encoder={"name": "small_resnet", "width": 4}, dim=16, nce_k=32)

    trainer, _, diff = straight_and_resumed(tmp_path, make_model, make_data, max_epochs=2, stop=6)
    assert trainer.global_step == 8
    assert diff <= 1e-6, diff
