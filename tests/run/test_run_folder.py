"""A run folder is one run: a second fit into it is refused while the first holds its lock (released
when the first is killed), a moved run resumes into its own ``last.ckpt``, and a resumed run's
``metrics.csv`` has each step once."""

from __future__ import annotations

import csv
import os
import signal
from collections import Counter

import pytest
import torch

from multiview.cli.main import main as cli_main
from multiview.run.lock import RunFolderLock
from tests.faults import PAUSE, cmc_recipe, finish, start_fit, wait_for


def fit(recipe, run, *extra):
    return cli_main(["fit", "--config", str(recipe), "--trainer.default_root_dir", str(run), *extra])


def saved(path):
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt["epoch"], ckpt["global_step"]


def error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("multiview: error:")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
def test_a_moved_run_resumes_into_its_own_last_checkpoint(tmp_path):
    """Moved, the resumed run wrote last-v1.ckpt and left last.ckpt at the first epoch, which eval
    and export then read; with a saved config it even wrote back into the old folder."""
    recipe = cmc_recipe(tmp_path / "tiny.yaml", epochs=1)
    first, moved = tmp_path / "first", tmp_path / "elsewhere" / "moved"
    assert fit(recipe, first) == 0
    assert saved(first / "checkpoints" / "last.ckpt") == (0, 5)
    moved.parent.mkdir()
    first.rename(moved)
    assert fit(recipe, moved, "--ckpt_path", "last", "--trainer.max_epochs", "2") == 0
    ckpts = moved / "checkpoints"
    assert saved(ckpts / "last.ckpt") == (1, 10)
    assert not list(ckpts.glob("last-v*.ckpt")) and not first.exists()


@pytest.mark.slow
def test_a_resumed_run_logs_each_step_once(tmp_path):
    """Killed after its checkpoint at step 5 had logged step 5, the resumed fit logged step 5 again."""
    recipe = cmc_recipe(tmp_path / "tiny.yaml", epochs=2)
    run, marker = tmp_path / "run", tmp_path / "paused"
    proc = start_fit(recipe, run, {PAUSE: f"step:7:{marker}"})
    wait_for(marker, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc)
    assert saved(run / "checkpoints" / "last.ckpt") == (0, 5)
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert max(int(r["step"]) for r in rows if r["train/loss"]) >= 5  # logged past the checkpoint
    assert fit(recipe, run, "--ckpt_path", "last") == 0
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    for column in ("train/loss", "lr-AdamW", "val/loss"):
        steps = Counter(int(r["step"]) for r in rows if r[column])
        assert steps and max(steps.values()) == 1, (column, steps)
    assert sorted(int(r["step"]) for r in rows if r["train/loss"]) == list(range(10))


@pytest.mark.slow
def test_a_second_fit_into_a_run_folder_is_refused_until_the_first_ends(tmp_path, capsys):
    recipe = cmc_recipe(tmp_path / "tiny.yaml", epochs=2)
    run, marker = tmp_path / "run", tmp_path / "paused"
    proc = start_fit(recipe, run, {PAUSE: f"step:2:{marker}"})
    try:
        wait_for(marker, proc)
        before = sorted(p.name for p in run.rglob("*"))
        assert fit(recipe, run) == 2
        line = error_line(capsys)
        assert f"{run}: another fit (pid {proc.pid}) is writing this run folder" in line
        assert fit(recipe, run, "--ckpt_path", "last") == 2  # a resume too: it would sweep the first's files
        assert sorted(p.name for p in run.rglob("*")) == before  # the refused fits wrote nothing
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        finish(proc)
    RunFolderLock(run).acquire().release()  # the kernel dropped the killed fit's lock


def test_the_lock_is_released_when_a_fit_ends_or_fails(tmp_path):
    first = RunFolderLock(tmp_path).acquire()
    with pytest.raises(ValueError, match=f"pid {os.getpid()}"):
        RunFolderLock(tmp_path).acquire()
    first.on_exception(None, None, RuntimeError("a failed fit"))
    again = RunFolderLock(tmp_path).acquire()
    again.teardown(None, None, "fit")
    RunFolderLock(tmp_path).acquire().release()
