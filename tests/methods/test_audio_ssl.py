"""Self-supervised learning on sounds: the waveform views, the audio folder as training data, and
SimCLR on two crops of FSDD clips, which must beat its own random init on held-out speakers."""

import numpy as np
import pytest
import soundfile as sf
import torch

from multiview.data.audio.datamodule import AudioFolderData
from multiview.methods.dino import DINO
from multiview.methods.simclr import SimCLR
from multiview.views.augment import AudioAugment, generator


def test_a_crop_at_speed_one_is_a_slice_and_speed_reads_faster():
    ramp = torch.arange(100.0).repeat(4, 1)
    plain = AudioAugment(crop=0.3, speed=(1.0, 1.0), gain_db=0.0, mix=0.0)
    out = plain(ramp, generator(0, 0))
    assert out.shape == (4, 30)
    assert torch.allclose(out[:, 1:] - out[:, :-1], torch.ones(4, 29), atol=1e-4)
    assert out.min() >= 0 and out.max() <= 99
    assert not torch.equal(out[:, 0], out[:, 0].roll(1))  # starts differ by row
    fast = AudioAugment(crop=0.3, speed=(1.5, 1.5), gain_db=0.0, mix=0.0)(ramp, generator(0, 0))
    assert torch.allclose(fast[:, 1:] - fast[:, :-1], torch.full((4, 29), 1.5), atol=1e-4)


def test_gain_scales_within_its_decibels_and_views_are_seeded():
    ramp = torch.arange(50.0).repeat(8, 1)
    aug = AudioAugment(crop=0.5, speed=(1.0, 1.0), gain_db=6.0, mix=0.0)
    out = aug(ramp, generator(3, 7))
    slope = (out[:, 1:] - out[:, :-1]).mean(1)
    assert torch.all(slope >= 10 ** (-6 / 20) - 1e-4) and torch.all(slope <= 10 ** (6 / 20) + 1e-4)
    assert slope.std() > 0.01  # one gain per clip
    assert torch.equal(out, aug(ramp, generator(3, 7))) and not torch.equal(out, aug(ramp, generator(3, 8)))


def test_mixing_takes_at_most_its_share_of_another_clip():
    levels = torch.arange(1.0, 9.0)
    wave = levels.view(-1, 1).repeat(1, 40)
    out = AudioAugment(crop=0.5, speed=(1.0, 1.0), gain_db=0.0, mix=0.3)(wave, generator(0, 1))
    assert torch.allclose(out, out[:, :1].expand_as(out), atol=1e-5)  # constant clips stay constant
    moved = 0
    for r, value in enumerate(out[:, 0]):
        shares = (value - levels[r]) / (levels - levels[r])
        shares[r] = 0.0 if torch.isclose(value, levels[r]) else float("nan")
        assert torch.any((shares >= -1e-5) & (shares <= 0.3 + 1e-5)), (r, float(value))
        moved += not torch.isclose(value, levels[r])
    assert moved >= 4


def test_bad_augment_values_are_refused():
    for bad in ({"crop": 0.0}, {"speed": (1.2, 1.1)}, {"mix": 1.0}):
        with pytest.raises(ValueError, match="augment"):
            AudioAugment(**bad)


def test_an_audio_encoder_pools_any_length_and_dino_refuses_sounds():
    model = SimCLR(encoder={"width": 4, "n_mels": 16}, view="audio", sample_rate=8000, proj_dim=8)
    for n in (4000, 8000, 12345):
        assert model.encoder.features(torch.randn(2, n))["pool"].shape == (2, model.encoder.out_dim)
    with pytest.raises(ValueError, match="model.view"):
        DINO(view="audio")


def write_speakers(root, speakers=("ann", "bob", "cat", "dan"), digits=3, takes=2, rate=8000):
    rng = np.random.default_rng(0)
    for s in speakers:
        for d in range(digits):
            for t in range(takes):
                tone = np.sin(2 * np.pi * (300 + 200 * d) * np.arange(rate // 2) / rate)
                wave = (0.3 * tone + 0.01 * rng.standard_normal(rate // 2)).astype("float32")
                sf.write(root / f"{d}_{s}_{t}.wav", wave, rate, subtype="PCM_16")


def test_audio_folder_data_trains_on_the_training_speakers_only(tmp_path):
    write_speakers(tmp_path)
    dm = AudioFolderData(str(tmp_path), sample_rate=8000, seconds=0.75, batch_size=2)
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (6, 6, 12)
    assert set(dm.train_set.base.speakers) == {"ann"} and set(dm.test_set.base.speakers) == {"cat", "dan"}
    batch = next(iter(dm.train_dataloader()))
    assert batch["audio"].shape == (2, 6000) and batch["audio"].dtype == torch.float32
    train, test = dm.feature_loaders()
    assert sum(len(b["label"]) for b in train) == 6 and sum(len(b["label"]) for b in test) == 12


@pytest.mark.slow
def test_simclr_on_fsdd_beats_its_random_init_on_held_out_speakers(shared_data, tmp_path):
    import json

    import lightning as L

    from multiview.eval.reports.probe import ProbeReport

    L.seed_everything(0)
    dm = AudioFolderData(str(shared_data / "audio" / "fsdd.tar"), sample_rate=8000, batch_size=128)
    model = SimCLR(encoder={"width": 8, "n_mels": 40}, view="audio", sample_rate=8000, temperature=0.2, lr=0.003)
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, limit_val_batches=0, callbacks=[ProbeReport()],
                        default_root_dir=tmp_path)
    trainer.fit(model, dm)
    figures = json.loads((tmp_path / "metrics.json").read_text())
    assert figures["probe/top1"] > figures["probe/random_init/top1"] + 0.15, figures


def test_a_run_at_another_sample_rate_loads_for_evaluation(tmp_path):
    """The CLI links data.sample_rate into the model and leaves it out of the model's saved config."""
    import yaml

    from multiview.eval.core.checkpoint import load_model

    encoder = {"name": "logmel_resnet", "width": 4, "n_mels": 16}
    model = SimCLR(encoder=encoder, view="audio", sample_rate=8000, proj_dim=8)
    (tmp_path / "checkpoints").mkdir()
    torch.save({"state_dict": model.state_dict()}, tmp_path / "checkpoints" / "last.ckpt")
    cfg = {"model": {"class_path": "multiview.methods.simclr.SimCLR",
                     "init_args": {"encoder": encoder, "view": "audio", "proj_dim": 8}},
           "data": {"class_path": "multiview.data.audio.datamodule.AudioFolderData",
                    "init_args": {"path": "x", "sample_rate": 8000}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    loaded = load_model(tmp_path)
    assert loaded.encoder.logmel.mel.sample_rate == 8000
    assert torch.equal(loaded.encoder.logmel.mel.mel_scale.fb, model.encoder.logmel.mel.mel_scale.fb)
