"""An audio file of NaN samples is named, skipped and counted, not trained on."""

import numpy as np
import pytest
import soundfile

from multiview.core.errors import UserError
from multiview.data.audio.audio_folder import AudioFolderDataset, read_any

RATE = 8000


def audio_folder(root, bad=np.nan):
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    for c, freq in (("a", 300.0), ("b", 900.0)):
        (root / c).mkdir(parents=True)
        for i in range(6):
            x = 0.3 * np.sin(2 * np.pi * freq * (1 + 0.05 * i) * t) + 0.01 * rng.standard_normal(RATE)
            soundfile.write(root / c / f"{i}.wav", x.astype(np.float32), RATE, subtype="FLOAT")
    x = np.full(RATE, bad, np.float32)
    x[: RATE // 2] = 0.1  # half finite, so the file's peak is finite too
    soundfile.write(root / "a" / "0_bad.wav", x, RATE, subtype="FLOAT")
    return root / "a" / "0_bad.wav"


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_read_any_names_a_file_of_non_finite_samples(tmp_path, bad):
    path = tmp_path / "x.wav"
    soundfile.write(path, np.array([0.1, bad, 0.2] * 100, np.float32), RATE, subtype="FLOAT")
    with pytest.raises(UserError, match=r"x\.wav: 100 of its 300 samples are NaN or infinite"):
        read_any(path)


def test_folder_skips_and_counts_a_nan_file(tmp_path, capsys):
    bad = audio_folder(tmp_path / "clips")
    ds = AudioFolderDataset(tmp_path / "clips", "train", sample_rate=RATE, seconds=1.0)
    assert ds.skipped == 1 and str(bad) not in ds.files and len(ds) == 10
    assert bool(ds.waves.isfinite().all())
    err = capsys.readouterr().err
    assert f"skipped 1 of 11 unreadable files (first: {bad}: 4000 of its 8000 samples are NaN" in err


def test_fit_on_a_folder_with_a_nan_file_trains_and_names_it(tmp_path, capsys):
    from multiview.cli.main import main
    from tests.cli.test_cli import REPO

    bad = audio_folder(tmp_path / "clips")
    code = main(["fit", "--config", str(REPO / "recipes" / "simclr_fsdd.yaml"), "--data.path", str(tmp_path / "clips"),
                 "--data.batch_size", "4", "--trainer.max_epochs", "1", "--trainer.callbacks", "[]",
                 "--trainer.default_root_dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert "lower --model.lr" not in err and f"(first: {bad}: " in err


def test_a_non_finite_loss_on_non_finite_inputs_blames_the_data():
    from types import SimpleNamespace

    import torch

    from multiview.run.checkpoints import NonFiniteWeights
    from multiview.run.finite import StopOnNonFinite

    trainer = SimpleNamespace(global_step=3, current_epoch=0, checkpoint_callbacks=[])
    stop = StopOnNonFinite()
    for audio, blamed in ((torch.tensor([[0.1, float("nan")]]), True), (torch.ones(1, 2), False)):
        stop.on_train_batch_start(trainer, None, {"audio": audio, "index": torch.tensor([7])}, 0)
        with pytest.raises(NonFiniteWeights) as e:
            stop.on_before_backward(trainer, None, torch.tensor(float("nan")))
        assert ("the batch's audio hold NaN or inf values" in str(e.value)) == blamed
        assert ("lower --model.lr" in str(e.value)) != blamed and "samples [7]" in str(e.value)
