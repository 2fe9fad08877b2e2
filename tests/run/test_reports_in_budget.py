"""``--trainer.max_time`` bounds a fit with its end-of-fit reports: the CMC folder recipe on the 11
GRID videos, bounded by 30 s alone, says before training how the budget is shared, shows the
retrieval report's progress and ends within the budget (plus seconds of slack for the last
step, the process's exit and a machine shared with other tests), the report computed."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUDGET, SLACK = 30, 12


def test_time_bounded_fit_keeps_room_for_its_reports(shared_data, tmp_path):
    run = tmp_path / "run"
    args = ["--config", "recipes/cmc_av_folder.yaml", "--data.index", str(shared_data / "av" / "grid"),
            "--data.frame_size", "32", "--data.clips_per_video", "2", "--data.batch_size", "4",
            "--data.val_fraction", "0.3", "--trainer.max_epochs", "-1", "--trainer.max_time", f"00:00:00:{BUDGET}",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "multiview.cli", "fit", *args], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines, started = [], None
    for line in proc.stderr:
        lines.append(line)
        if started is None and line.startswith("time budget"):
            started = time.monotonic()
    proc.wait(timeout=600)
    ended = time.monotonic()
    text = "".join(lines)
    assert proc.returncode == 0, text[-2000:]
    assert started is not None, text[-2000:]
    assert "retrieval report: computing" in text and "retrieval report: done in" in text
    assert ended - started <= BUDGET + SLACK, text[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert any(key.startswith("retrieval/") for key in metrics)
