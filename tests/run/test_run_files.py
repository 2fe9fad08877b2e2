"""Run folders are never shared, metrics.csv survives a stop mid-rewrite, outputs follow the umask,
a checkpoint with NaN weights never replaces a finite one, and a fit with no training batch stops
in one line instead of succeeding with nothing trained."""

import csv
import os
import threading

import pytest
import torch

from multiview.cli.main import main as cli_main
from multiview.core.io import atomic_write, save_tensors
from multiview.run.checkpoints import AtomicCheckpointIO, NonFiniteWeights
from multiview.run.csv_logger import KeepingWriter
from multiview.run.folders import config_name, new_run_folder


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    made, barrier = [], threading.Barrier(8)

    def start():
        barrier.wait()
        made.append(new_run_folder(tmp_path / "quickstart", stamp="20260101-000000"))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8 and all(p.is_dir() for p in made)
    assert sorted(p.name for p in made)[:2] == ["20260101-000000", "20260101-000000-2"]


def test_a_resume_keeps_the_first_config(tmp_path):
    assert config_name(tmp_path, resuming=False) == "config.yaml"
    (tmp_path / "config.yaml").write_text("first")
    assert config_name(tmp_path, resuming=True) == "config-resume-1.yaml"
    (tmp_path / "config-resume-1.yaml").write_text("second")
    assert config_name(tmp_path, resuming=True) == "config-resume-2.yaml"


def test_metrics_csv_keeps_its_rows_when_a_rewrite_is_stopped(tmp_path, monkeypatch):
    writer = KeepingWriter(log_dir=str(tmp_path))
    writer.log_metrics({"train/loss": 1.0}, step=0)
    writer.save()
    before = (tmp_path / "metrics.csv").read_text()
    writer.log_metrics({"train/loss": 0.5, "val/loss": 0.7}, step=1)  # a new column: the file is rewritten

    def stopped(self, rows):
        raise KeyboardInterrupt

    monkeypatch.setattr(csv.DictWriter, "writerows", stopped)
    with pytest.raises(KeyboardInterrupt):
        writer.save()
    assert (tmp_path / "metrics.csv").read_text() == before
    monkeypatch.undo()
    writer.save()
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [r["step"] for r in rows] == ["0", "1"] and rows[1]["val/loss"] == "0.7"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "out.json", lambda f: f.write(b"{}"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_non_finite_weights_never_replace_a_checkpoint(tmp_path):
    io = AtomicCheckpointIO()
    good = {"state_dict": {"w": torch.ones(3)}, "global_step": 1}
    io.save_checkpoint(good, tmp_path / "last.ckpt")
    bad = {"state_dict": {"w": torch.tensor([1.0, float("nan"), 2.0])}, "global_step": 2}
    with pytest.raises(NonFiniteWeights, match="'w' is not finite"):
        io.save_checkpoint(bad, tmp_path / "last.ckpt")
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["global_step"] == 1
    assert os.listdir(tmp_path) == ["last.ckpt"]  # nothing half-written left behind


def test_checkpoint_write_is_in_the_target_folder(tmp_path, monkeypatch):
    """The temporary file lives next to the target (same filesystem), never in the system temp folder."""
    seen = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (seen.append((a, b)), real(a, b)))
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(1)}}, tmp_path / "ck" / "last.ckpt")
    assert len(seen) == 1 and os.path.dirname(seen[0][0]) == str(tmp_path / "ck")
    save_tensors(tmp_path / "plain.pt", {"w": torch.ones(1)})


def test_a_fit_whose_batch_exceeds_the_training_set_stops_before_training(tmp_path, capsys):
    from PIL import Image

    for split, n in ("train", 6), ("test", 2):
        for c in "ab":
            folder = tmp_path / "images" / split / c
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (8, 8), (40 * i, 0, 200 if c == "a" else 0)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    code = cli_main(["fit", "--model", "multiview.methods.simclr.SimCLR", "--model.encoder.width", "4",
                     "--data", "multiview.data.image.images.ImageFolderData", "--data.path", str(tmp_path / "images"),
                     "--data.size", "8", "--data.batch_size", "16", "--data.train_limit", "10",
                     "--trainer.max_epochs", "1", "--trainer.accelerator", "cpu",
                     "--trainer.default_root_dir", str(run)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("multiview:")]
    assert code == 2 and err == ["multiview: error: data.batch_size 16 exceeds the 10 training samples "
                                 "(data.train_limit 10): no training batch"], err
    assert not (run / "checkpoints").exists() and "run folder:" not in capsys.readouterr().out
