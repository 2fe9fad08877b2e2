"""What a run leaves for the researcher: TensorBoard events, a quiet terminal, `multiview runs`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = str(REPO / "recipes" / "quickstart.yaml")
TINY = ["--trainer.max_epochs", "1", "--trainer.log_every_n_steps", "1", "--trainer.enable_progress_bar", "false",
        "--data.n_clips", "24", "--data.val_clips", "8", "--data.clips_per_video", "2", "--data.batch_size", "8",
        "--data.num_workers", "0"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The quickstart, shrunk, through the console entry point in a subprocess."""
    run = tmp_path_factory.mktemp("runs") / "quickstart" / "20260101-120000"
    r = subprocess.run([sys.executable, "-m", "multiview.cli.main", "fit", "--config", QUICKSTART,
                        "--trainer.default_root_dir", str(run), *TINY], capture_output=True, text=True,
                       timeout=900, env=os.environ.copy(), stdin=subprocess.DEVNULL, cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    return run, r


def test_tensorboard_events_hold_loss_lr_report_and_image(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = tiny_run
    assert list(run.glob("events.out.tfevents.*")) and (run / "metrics.csv").exists()
    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    scalars, images = events.Tags()["scalars"], events.Tags()["images"]
    losses = [e.value for e in events.Scalars("train/loss")]
    assert len(losses) == 4 and all(0 < v < 20 for v in losses)  # (24 - 8 val) clips x 2 / batch 8
    lr = [t for t in scalars if t.startswith("lr-")]
    assert lr and events.Scalars(lr[0])[0].value == pytest.approx(0.002)  # the recipe's lr
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("retrieval/frame_to_audio/R@1", "retrieval/random_init/audio_to_frame/R@5"):
        assert events.Scalars(key)[-1].value == pytest.approx(metrics[key])
    assert "report/retrieval" in images
    image = events.Images("report/retrieval")[-1]
    from PIL import Image

    with Image.open(run / "retrieval.png") as png:
        assert (image.width, image.height) == png.size


def test_fit_terminal_shows_no_lightning_noise(tiny_run):
    _, r = tiny_run
    text = r.stdout + r.stderr
    for noise in ("Tip:", "litlogger", "GPU available", "TPU available", "_pytree", "deprecated", "Seed set"):
        assert noise not in text, noise
    assert " report:\n" in r.stdout and "run folder:" in r.stdout


def test_quiet_hides_lightning_info_and_deprecations_only_when_asked():
    code = ("import sys, warnings; from multiview.cli.terminal import quiet_third_party; "
            "from lightning.pytorch.utilities.rank_zero import rank_zero_info; "
            "sys.argv[1] == 'quiet' and quiet_third_party(); "
            "rank_zero_info('GPU available: False, used: False'); "
            "warnings.warn('`isinstance(treespec, LeafSpec)` is deprecated', FutureWarning); "
            "warnings.warn('a user setting looks wrong', UserWarning)")
    runs = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, cwd=REPO,
                                 timeout=120)
            for mode in ("quiet", "verbose")}
    quiet, verbose = (runs[m].stdout + runs[m].stderr for m in ("quiet", "verbose"))
    assert "GPU available" in verbose and "LeafSpec" in verbose
    assert "GPU available" not in quiet and "LeafSpec" not in quiet and "user setting looks wrong" in quiet


def test_verbose_flag_anywhere_or_env(monkeypatch):
    from multiview.cli.terminal import take_verbose

    monkeypatch.delenv("MULTIVIEW_VERBOSE", raising=False)
    assert take_verbose(["fit", "--verbose", "-c", "x"]) == (["fit", "-c", "x"], True)
    assert take_verbose(["--verbose", "runs"]) == (["runs"], True)
    assert take_verbose(["fit"]) == (["fit"], False)
    monkeypatch.setenv("MULTIVIEW_VERBOSE", "1")
    assert take_verbose(["fit"]) == (["fit"], True)


def fit_in_process(run: Path, monkeypatch, fail_at: int | None = None, error=KeyboardInterrupt, extra=()):
    """A tiny quickstart fit through ``multiview.cli.main.main``; training raises ``error`` at ``fail_at``."""
    from multiview.cli.main import main
    from multiview.methods.cmc import CMC

    if fail_at is not None:
        step = CMC.training_step

        def failing(self, batch, batch_idx):
            if self.global_step == fail_at:
                raise error("stopped by the test")
            return step(self, batch, batch_idx)

        monkeypatch.setattr(CMC, "training_step", failing)
    return main(["fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(run), *TINY, *extra])


@pytest.mark.slow
def test_runs_lists_finished_resumable_interrupted_then_compares(tiny_run, monkeypatch, capsys, tmp_path):
    from multiview.cli.main import main

    finished, _ = tiny_run
    root = finished.parent.parent
    stopped = root / "quickstart" / "20260101-130000"
    crashed = root / "cmc_av" / "20260101-140000"
    assert fit_in_process(stopped, monkeypatch, fail_at=2) == 1  # Ctrl-C: graceful stop, exit status 1
    with pytest.raises(RuntimeError, match="stopped by the test"):
        fit_in_process(crashed, monkeypatch, fail_at=1, error=RuntimeError)
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["runs", str(root)]) == 0
    out = capsys.readouterr().out
    print(out)
    rows = {line.split()[-1]: line.split() for line in out.splitlines()[2:]}
    assert rows["quickstart/20260101-120000"][:4] == ["quickstart", "CMC", "SyntheticAV", "2026-01-01"]
    assert rows["quickstart/20260101-120000"][5:7] == ["finished", "retrieval/frame_to_audio/R@1"]
    assert rows["quickstart/20260101-130000"][5:7] == ["resumable", "-"]
    assert rows["cmc_av/20260101-140000"][5:7] == ["interrupted", "-"]

    # resume to the end, on another data order, so the two finished runs differ
    assert fit_in_process(stopped, monkeypatch, extra=["--ckpt_path", "last", "--seed_everything", "1"]) == 0
    capsys.readouterr()
    chart = tmp_path / "compare.png"
    assert main(["runs", "compare", str(finished), str(stopped), "--out", str(chart)]) == 0
    out = capsys.readouterr().out
    print(out)
    import json

    a, b = (json.loads((r / "metrics.json").read_text()) for r in (finished, stopped))
    import re

    from multiview.eval.core.bootstrap import format_interval

    key = "retrieval/frame_to_audio/R@1"
    line = next(ln for ln in out.splitlines() if ln.startswith(f"{key} "))
    shown = [format_interval(m[key], m[f"{key}_lo"], m[f"{key}_hi"]) for m in (a, b)]  # 0.594 [0.47, 0.71]
    assert re.findall(r"\S+ \[\S+, \S+\]", line) == shown
    assert "paired on 8 shared queries" in out  # the same held-out clips: paired
    assert chart.stat().st_size > 5000
    assert main(["runs", "compare", str(crashed), str(finished)]) == 2  # a run without metrics shares none
