"""A folder recipe's run resumes from its folder alone, and a fit's terminal is quiet.

The ambient-sound folder recipe on the 11 GRID videos is stopped inside its first epoch and
resumed twice, with the recipe and with no ``--config`` at all: no data argument is repeated, the
run's own settings win over the recipe's, options typed on the command line win over both.
Lightning's "dataloader is not resumable" warning is not shown: the sampler restores its position
exactly (``tests/run/test_resume.py`` shows the resumed weights equal the unbroken run's)."""

import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from multiview.cli.trainer import worker_processes

ROOT = Path(__file__).resolve().parents[2]
NOISE = ("configure_optimizers", "IterableDataset", "log_every_n_steps", "worker processes", "not resumable",
         "exists and is not empty", "Warning")


def fit(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "multiview.cli", "fit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def quiet(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(word in line for word in NOISE)]


def test_folder_recipe_resumes_from_the_run_folder_alone_and_quietly(shared_data, tmp_path):
    run, recipe = tmp_path / "run", "recipes/ambient_sound_folder.yaml"
    tiny = ["--data.frame_size", "32", "--data.clips_per_video", "1", "--data.batch_size", "4",
            "--data.val_clips", "3", "--model.n_clusters", "2", "--model.n_components", "2",
            "--model.encoder", "{name: small_resnet, width: 8}", "--trainer.callbacks=[]",
            "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false"]
    first = fit("--config", recipe, "--data.index", str(shared_data / "av" / "grid"), *tiny,
                "--trainer.max_steps", "1", "--trainer.default_root_dir", str(run))
    assert quiet(first.stderr) == []
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["init_args"]["num_workers"] == min(4, worker_processes())  # the recipe asks for 4

    second = fit("--config", recipe, "--trainer.default_root_dir", str(run), "--ckpt_path", "last",
                 "--trainer.max_steps", "2")
    assert quiet(second.stderr) == []
    resumed = yaml.safe_load((run / "config-resume-1.yaml").read_text())
    assert resumed["data"]["init_args"]["index"] == str(shared_data / "av" / "grid")
    assert resumed["data"]["init_args"]["frame_size"] == 32  # the run's, not the recipe's 128
    assert resumed["trainer"]["max_steps"] == 2  # the command line's, not the run's 1

    fit("--trainer.default_root_dir", str(run), "--ckpt_path", "last", "--trainer.max_steps", "3")
    again = yaml.safe_load((run / "config-resume-2.yaml").read_text())
    assert again["data"]["init_args"]["frame_size"] == 32 and again["trainer"]["max_steps"] == 3
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3


def test_word2vec_fit_prints_no_lightning_warning(tmp_path):
    done = fit("--config", "recipes/word2vec_text.yaml", "--trainer.max_epochs", "1",
               "--trainer.limit_train_batches", "2", "--model.dim", "10", "--trainer.callbacks=[]",
               "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path / "run"))
    assert quiet(done.stderr) == []
