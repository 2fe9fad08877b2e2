"""Fault injection for training runs: tiny recipes, a method that pauses where a test wants to
kill it, and a child entry point (``python -m tests.faults fit ...``) that can stall a checkpoint
write halfway through, so a test can SIGKILL it with a torn temporary file on disk.

``MULTIVIEW_TEST_PAUSE=KIND:N:MARKER`` (KIND ``step`` or ``val``) makes the method touch MARKER at
global step N (or validation batch N of the first validation) and wait there until the run is
asked to stop or killed. ``MULTIVIEW_TEST_PAUSE_SAVE=N:MARKER`` makes the N-th write of
``last.ckpt`` write half its bytes, fsync, touch MARKER and sleep.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from multiview.methods.cmc import CMC
from multiview.methods.word2vec import Word2Vec

ROOT = Path(__file__).resolve().parents[1]
PAUSE, PAUSE_SAVE = "MULTIVIEW_TEST_PAUSE", "MULTIVIEW_TEST_PAUSE_SAVE"


def pause_here(kind: str, value: int, trainer) -> None:
    spec = os.environ.get(PAUSE, "")
    if not spec:
        return
    want, n, marker = spec.split(":", 2)
    if want != kind or int(n) != value or Path(marker).exists():
        return
    Path(marker).touch()
    from multiview.run import status

    deadline = time.time() + 120
    while not trainer.received_sigterm and status.stopped_by() is None and time.time() < deadline:
        time.sleep(0.02)


class QuietCMC(CMC):
    """CMC pausing on request (recipes name no end-of-fit report)."""

    def on_train_batch_end(self, outputs, batch, batch_idx):
        pause_here("step", self.trainer.global_step, self.trainer)

    def validation_step(self, batch, batch_idx):
        if self.current_epoch == 0:
            pause_here("val", batch_idx, self.trainer)
        return super().validation_step(batch, batch_idx)


class QuietWord2Vec(Word2Vec):
    """word2vec pausing on request after chunk N of epoch 0 (it makes no optimizer steps)."""

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.current_epoch == 0:
            pause_here("step", batch_idx + 1, self.trainer)


def cmc_recipe(path: Path, epochs: int = 3, workers: int = 0, **model) -> Path:
    recipe = {
        "seed_everything": 0,
        "trainer": {"max_epochs": epochs, "accelerator": "cpu", "devices": 1, "log_every_n_steps": 1,
                    "num_sanity_val_steps": 0, "enable_progress_bar": False, "enable_model_summary": False,
                    "deterministic": True},
        "model": {"class_path": "tests.faults.QuietCMC",
                  "init_args": {"views": ["frame", "audio"],
                                "encoders": {"frame": {"width": 8}, "audio": {"width": 8}}, "proj_dim": 16,
                                "lr": 1e-3, **model}},
        "data": {"class_path": "multiview.data.video.synthetic.SyntheticAV",
                 "init_args": {"n_clips": 32, "val_clips": 12, "duration": 2.0, "clips_per_video": 2,
                               "batch_size": 8, "num_workers": workers}},
    }
    path.write_text(yaml.safe_dump(recipe))
    return path


def word2vec_recipe(path: Path, epochs: int = 2, workers: int = 1) -> Path:
    recipe = {
        "seed_everything": 0,
        "trainer": {"max_epochs": epochs, "accelerator": "cpu", "devices": 1, "log_every_n_steps": 1,
                    "num_sanity_val_steps": 0, "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"class_path": "tests.faults.QuietWord2Vec",
                  "init_args": {"dim": 16, "window": 3, "negative": 3, "workers": workers}},
        "data": {"class_path": "multiview.data.text.corpus.TextCorpusDataModule",
                 "init_args": {"corpus": "lee", "min_count": 5, "batch_words": 4096}},
    }
    path.write_text(yaml.safe_dump(recipe))
    return path


def start_fit(recipe: Path, run: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    """``multiview fit`` in a child process, in its own session (process group = its pid)."""
    cmd = [sys.executable, "-m", "tests.faults", "fit", "--config", str(recipe),
           "--trainer.default_root_dir", str(run), *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 400) -> None:
    deadline = time.time() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the fit ended (exit {proc.returncode}) before {marker.name}:\n{proc.stdout.read()}")
        if time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"{marker.name} never appeared:\n{proc.stdout.read()}")
        time.sleep(0.1)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"the fit did not exit within {timeout:.0f} s of the signal:\n{out[-3000:]}") from None
    return proc.returncode, out


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def _stall_last_checkpoint_writes(n: int, marker: Path) -> None:
    real = torch.save
    count = [0]

    def save(obj, f, *args, **kwargs):
        fd = f.fileno() if hasattr(f, "fileno") and not isinstance(f, io.BytesIO) else None
        target = os.readlink(f"/proc/self/fd/{fd}") if fd is not None else ""
        if os.path.basename(target).startswith(".last.ckpt."):
            count[0] += 1
            if count[0] == n:
                buffer = io.BytesIO()
                real(obj, buffer, *args, **kwargs)
                data = buffer.getvalue()
                f.write(data[: len(data) // 2])
                f.flush()
                os.fsync(fd)
                marker.touch()
                time.sleep(600)
        return real(obj, f, *args, **kwargs)

    torch.save = save


if __name__ == "__main__":
    if os.environ.get(PAUSE_SAVE):
        n, marker = os.environ[PAUSE_SAVE].split(":", 1)
        _stall_last_checkpoint_writes(int(n), Path(marker))
    from multiview.cli.main import main

    sys.exit(main(sys.argv[1:]))
