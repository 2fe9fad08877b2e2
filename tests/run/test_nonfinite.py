"""A diverging run stops at the first non-finite loss with one line, and keeps finite checkpoints."""

from pathlib import Path

import torch

from multiview.cli.main import main as cli_main
from multiview.run.finite import sample_indices

REPO = Path(__file__).resolve().parents[2]


def test_diverging_quickstart_stops_with_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    code = cli_main(["fit", "--config", str(REPO / "recipes" / "quickstart.yaml"), "--model.lr", "1e30",
                     "--data.n_clips", "24", "--data.val_clips", "8", "--data.clips_per_video", "2",
                     "--data.batch_size", "8", "--data.num_workers", "0", "--trainer.max_epochs", "2",
                     "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(run)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("multiview:")]
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("multiview: error: step ")
    assert "the training loss is nan" in err[0] or "the training loss is inf" in err[0]
    assert "on samples [" in err[0]
    assert not (run / "metrics.json").exists()  # no report from NaN embeddings
    saved = list((run / "checkpoints").glob("*.ckpt")) if (run / "checkpoints").exists() else []
    assert ("keep the last finite weights" in err[0]) == bool(saved), (err[0], saved)  # said only when true
    assert bool(saved) or "no checkpoint had been written yet" in err[0]
    for ckpt in (run / "checkpoints").glob("*.ckpt") if (run / "checkpoints").exists() else []:
        state = torch.load(ckpt, weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_sample_indices_are_named():
    assert sample_indices({"index": torch.arange(3)}) == "samples [0, 1, 2]"
    assert sample_indices({"index": torch.arange(40)}).endswith("15, ...]")
    assert sample_indices({"x": 1}) == "batch without sample indices"
