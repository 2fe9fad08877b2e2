"""Rotation prediction (Gidaris et al. 2018): rotations and loss against loops, a short real run
that learns the task, and the recipe's ProbeReport end to end against the same encoder at random
init (``multiview.eval.core.embed.random_init``)."""

import json
import math

import lightning as L
import pytest
import torch

from multiview.eval.reports import ProbeReport
from multiview.methods.rotation import Rotation
from multiview.objectives.rotation import rotate_all, rotation_loss
from tests.pretext_training import cifar, train_steps


def test_rotations_match_a_pixel_loop():
    x = torch.arange(2 * 2 * 3 * 3, dtype=torch.float).view(2, 2, 3, 3)
    rotated, target = rotate_all(x)
    assert target.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    for k in range(4):
        for b in range(2):
            ref = x[b].clone()
            for _ in range(k):  # one counter-clockwise quarter turn: out[i][j] = in[j][W - 1 - i]
                ref = torch.stack([torch.stack([torch.stack([ref[c, j, 2 - i] for j in range(3)])
                                                for i in range(3)]) for c in range(2)])
            assert torch.equal(rotated[k * 2 + b], ref)


def test_rotation_loss_matches_a_loop():
    torch.manual_seed(0)
    logits, target = torch.randn(12, 4), torch.randint(4, (12,))
    ref = 0.0
    for row, y in zip(logits.tolist(), target.tolist()):
        ref -= row[y] - math.log(sum(math.exp(v) for v in row))
    assert float(rotation_loss(logits, target)) == pytest.approx(ref / 12, rel=1e-5)
    with pytest.raises(ValueError, match="square"):
        rotate_all(torch.zeros(1, 3, 4, 5))


def test_encoder_is_named_by_the_batch_key():
    model = Rotation(encoder={"width": 8})
    model.losses({"frame": torch.rand(2, 3, 16, 16)}, 0)
    assert list(model.encoders()) == ["frame"]
    assert list(Rotation(encoder={"width": 8}, view="image").encoders()) == ["image"]
    with pytest.raises(ValueError, match="model.view"):
        Rotation(view="audio")


def test_training_crops_follow_the_step_and_leave_held_out_batches_alone():
    """model.augment (the recipes' crop and flip): the same crops for the same step (a resumed run's),
    none in eval mode or without model.augment; an identity crop gives the images back."""
    x = torch.rand(4, 3, 16, 16)
    model = Rotation(encoder={"width": 8}, augment={"seed": 3})
    first = model.crops(model, x)
    assert first.shape == x.shape and not torch.allclose(first, x)
    assert torch.equal(model.crops(model, x), first)
    model.eval()
    assert model.crops(model, x) is x
    plain = Rotation(encoder={"width": 8}, augment={"scale": [1.0, 1.0], "ratio": [1.0, 1.0], "flip": 0.0})
    assert torch.allclose(plain.crops(plain, x), x, atol=1e-5)
    bare = Rotation(encoder={"width": 8})
    assert bare.training and bare.crops(bare, x) is x
    with pytest.raises(ValueError, match="model.augment"):
        Rotation(augment={"zoom": 2})


@pytest.mark.slow
def test_short_run_learns_rotations_on_cifar(shared_data):
    dm = cifar(shared_data, train=1024, test=256)
    before, after = train_steps(Rotation(encoder={"width": 16}), dm, epochs=3)
    assert after > max(0.4, before + 0.1), (before, after)


@pytest.mark.slow
def test_probe_report_beats_random_init_on_cifar(shared_data, tmp_path):
    """The recipe's end-of-fit report, end to end: trained vs the same encoder at random init."""
    dm = cifar(shared_data, train=1000, test=500, batch_size=100)
    model = Rotation(encoder={"width": 16})  # crops (model.augment) slow 20 steps down: 0.22 against 0.29
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=1, default_root_dir=tmp_path, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, num_sanity_val_steps=0,
                        limit_val_batches=1, callbacks=[ProbeReport()])
    trainer.fit(model, datamodule=dm)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["probe/n_train"] + metrics["probe/n_val"] == 1000 and metrics["probe/n_test"] == 500
    assert metrics["probe/top1"] > metrics["probe/random_init/top1"] + 0.02, metrics
